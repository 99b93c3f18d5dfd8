"""The REST API is typed: every operation of ``/api/v1`` declares its 2xx body (a schema, or the media type of
a document), its errors as RFC 9457 problems and the bearer security scheme; and a client generated from
the app's own OpenAPI document by ``openapi-python-client`` works against the real app under uvicorn on
loopback (issue 25 §3): upload a real MUSE file, read the study back as typed objects, get typed errors."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _web import make_app, token_for
from conftest import data_file

MUSE = ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
DOCUMENT_TYPES = {"application/pdf", "application/xml", "application/fhir+json", "text/csv"}
PACKAGE = "ecgpilot_api_client"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_app(tmp_path_factory.mktemp("api-client"))


@pytest.fixture(scope="module")
def spec(app: Any) -> dict[str, Any]:
    return app.openapi()


def _api_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items() if path.startswith("/api/v1/")
            for method, op in item.items()]


def test_every_api_operation_declares_its_body_errors_and_security(spec: dict[str, Any]) -> None:
    ops = _api_operations(spec)
    assert len(ops) >= 29, f"{len(ops)} operations under /api/v1"
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert {"upload", "list_studies", "get_study", "sign", "ask", "answer", "indicators"} <= set(ids)
    schemes = spec["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s.get("type") == "http" and s.get("scheme") == "bearer"]
    assert bearer, schemes
    untyped, undocumented, unsecured = [], [], []
    for path, method, op in ops:
        ok = {c: r for c, r in op["responses"].items() if c.startswith("2")}
        for code, resp in ok.items():
            if code == "204":
                continue
            content = resp.get("content", {})
            js = content.get("application/json", {}).get("schema")
            if not (js and js != {} and (js.get("$ref") or js.get("items", {}).get("$ref") or js.get("anyOf")
                                         or js.get("type") in ("object", "array") and js.get("properties", js.get("items")))
                    or set(content) & DOCUMENT_TYPES):
                untyped.append(f"{method.upper()} {path} {code}: {json.dumps(content)[:120]}")
        for code in ("401", "404" if "{" in path else "401"):
            prob = op["responses"].get(code, {}).get("content", {}).get("application/problem+json", {})
            if prob.get("schema", {}).get("$ref") != "#/components/schemas/Problem":
                undocumented.append(f"{method.upper()} {path} {code}")
        if not any(set(req) & set(bearer) for req in op.get("security", [])):
            unsecured.append(f"{method.upper()} {path}")
    assert not untyped, "2xx bodies without a schema:\n" + "\n".join(untyped)
    assert not undocumented, "errors not documented as problems:\n" + "\n".join(undocumented)
    assert not unsecured, "operations without the bearer scheme:\n" + "\n".join(unsecured)
    assert {"type", "title", "status", "detail", "instance"} <= set(spec["components"]["schemas"]["Problem"]["properties"])


@pytest.fixture(scope="module")
def client_package(spec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    tool = Path(sys.executable).with_name("openapi-python-client")
    if not tool.exists():
        pytest.skip("openapi-python-client is not installed (the [test] extra brings it)")
    out = tmp_path_factory.mktemp("generated")
    (out / "openapi.json").write_text(json.dumps(spec))
    env = {**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run([str(tool), "generate", "--path", str(out / "openapi.json"), "--output-path",
                          str(out / PACKAGE), "--meta", "none"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "WARNING" not in run.stdout, run.stdout[-3000:]   # every schema understood by the generator
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _op(package: Any, tag: str, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.{tag}.{name}")


def test_generated_client_against_the_running_app(app: Any, client_package: Any) -> None:
    from test_web_concurrency import LiveServer

    types = importlib.import_module(f"{PACKAGE}.types")
    models = importlib.import_module(f"{PACKAGE}.models")
    client_mod = importlib.import_module(f"{PACKAGE}.client")
    path = data_file(*MUSE)
    token = token_for(app, "a@x.fr")
    with LiveServer(app) as srv:
        base = f"http://127.0.0.1:{srv.port}"
        client = client_mod.AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)

        body = models.UploadBody(files=[types.File(payload=path.open("rb"), file_name=path.name)])
        uploaded = _op(client_package, "studies", "upload").sync(client=client, body=body)
        assert isinstance(uploaded, list) and len(uploaded) == 1
        summary = uploaded[0]
        assert isinstance(summary, models.StudySummary)
        assert summary.file.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert summary.status == "to_read"

        study = _op(client_package, "studies", "get_study").sync(summary.id, client=client)
        assert isinstance(study, models.StudyDetail)
        assert study.id == summary.id and isinstance(study.row_version, int)
        analysis = study.analysis.to_dict()
        assert analysis["record"]["fs"] == 500 and len(analysis["record"]["leads"]) == 12   # the MUSE file's own header
        assert study.patient.sex in ("M", "F", None)

        worklist = _op(client_package, "studies", "list_studies").sync_detailed(client=client)
        assert worklist.status_code == 200 and [s.id for s in worklist.parsed] == [summary.id]
        assert worklist.headers["X-Total-Count"] == "1"

        missing = _op(client_package, "studies", "get_study").sync_detailed(summary.id + 1000, client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Problem) and missing.parsed.status == 404
        assert str(summary.id + 1000) in missing.parsed.detail

        anonymous = client_mod.Client(base_url=base)
        refused = _op(client_package, "studies", "list_studies").sync_detailed(client=anonymous)
        assert refused.status_code == 401 and isinstance(refused.parsed, models.Problem)
        assert "Bearer" in refused.parsed.detail
