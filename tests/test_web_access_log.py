"""Request ids and the access log: one record per request with the route template only (no ids, no query,
no patient data), the request id echoed or replaced, JSON lines that parse."""

from __future__ import annotations

import json
import logging

import pytest
from _web import login, make_app
from fastapi.testclient import TestClient

from ecgpilot.errors import ConfigError
from ecgpilot.web.access_log import JsonFormatter, configure_logging


def test_access_records_carry_the_route_not_the_ids(tmp_path, caplog) -> None:  # noqa: ANN001
    client = TestClient(make_app(tmp_path))
    login(client, "a@x.fr")
    with caplog.at_level(logging.INFO, logger="ecgpilot.access"):
        r = client.get("/studies/4242?lang=en&q=DUPONT", headers={"X-Request-ID": "req-abcdef12"})
    assert r.status_code == 404 and r.headers["X-Request-ID"] == "req-abcdef12"
    recs = [x.access for x in caplog.records if x.name == "ecgpilot.access"]
    assert recs and recs[-1]["route"] == "/studies/{study_id}" and recs[-1]["status"] == 404
    assert recs[-1]["request_id"] == "req-abcdef12"
    text = " ".join(x.getMessage() + json.dumps(x.access) for x in caplog.records if x.name == "ecgpilot.access")
    assert "4242" not in text and "DUPONT" not in text and "a@x.fr" not in text


def test_an_unsafe_request_id_is_replaced(tmp_path) -> None:  # noqa: ANN001
    client = TestClient(make_app(tmp_path))
    r = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    rid = r.headers["X-Request-ID"]
    assert rid != "<script>alert(1)</script>" and len(rid) == 32 and rid.isalnum()
    assert client.get("/healthz").headers["X-Request-ID"] != rid      # a new id per request


def test_json_lines_parse_and_unknown_formats_are_refused() -> None:
    rec = logging.LogRecord("ecgpilot.access", logging.INFO, __file__, 1, "GET %s", ("/healthz",), None)
    rec.access = {"request_id": "r1234567", "method": "GET", "route": "/healthz", "status": 200, "ms": 1.0}
    out = json.loads(JsonFormatter().format(rec))
    assert out["route"] == "/healthz" and out["request_id"] == "r1234567" and out["level"] == "INFO"
    with pytest.raises(ConfigError, match="text or json"):
        configure_logging("xml")
