"""The typed contract of the analysis document and the reading (``ecgpilot.schema``).

Every document the pipeline produces on real files of every format validates, in French and
English, refused (not interpretable) records included; the published JSON Schema is the one the
models generate; an unknown key or an out-of-range value is refused, so the check can fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from ecgpilot.analysis import analyze_file, analyze_record
from ecgpilot.errors import ReadError
from ecgpilot.interpret import interpret
from ecgpilot.schema import json_schema, validate_analysis, validate_reading

ROOT = Path(__file__).resolve().parents[1]
SKIP_SUFFIXES = {".txt", ".md", ".dat", ".pdf", ".png", ".jpg"}


def _sample_files(shared: Path) -> list[Path]:
    return [p for p in sorted((shared / "format-samples").rglob("*"))
            if p.is_file() and p.suffix.lower() not in SKIP_SUFFIXES]


def test_every_format_sample_validates(shared_data):
    checked = 0
    for p in _sample_files(shared_data):
        try:
            doc = analyze_file(p)
        except ReadError:
            continue  # not an ECG file (or a sample kept to be refused): tested by the readers
        for lang in ("fr", "en"):
            doc["reading"] = interpret(doc, lang=lang)
            model = validate_analysis(doc)
            assert model.reading.lang == lang
        checked += 1
    assert checked >= 10, checked


def test_ludb_documents_validate_and_keep_their_values(shared_data):
    from ecgpilot.datasets.ludb import ludb_root, read_ludb

    if ludb_root() is None:
        pytest.skip("LUDB is not in the shared data")
    for n in (1, 24, 88, 150):
        doc = analyze_record(read_ludb(n))
        reading = interpret(doc, lang="en")
        model = validate_analysis({**doc, "reading": reading})
        # the model carries the document's own numbers, not defaults
        assert model.measurements is not None and model.measurements.qrs_ms == doc["measurements"]["qrs_ms"]
        v1 = doc["measurements"]["lead_matrix"]["leads"]["V1"]
        assert model.measurements.lead_matrix.leads["V1"].st_j_uv == v1["st_j_uv"]
        assert model.reading.urgency.level == reading["urgency"]["level"]


def test_refused_recording_validates_with_null_measurements(shared_data):
    """Phone ECGs the CinC 2011 annotators judged unacceptable: the refused ones validate too."""
    if not (shared_data / "cinc2011-quality" / "signals.npy.xz").exists():
        pytest.skip("the CinC 2011 quality set is not in the shared data")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_quality_cinc2011 import load_cinc2011

    data = load_cinc2011()
    refused = 0
    for row in [i for i in range(len(data.record)) if not data.acceptable[i]][:12]:
        doc = analyze_record(data.ecg(row))
        doc["reading"] = interpret(doc, lang="fr")
        model = validate_analysis(doc)
        if doc["quality"]["verdict"] == "not_interpretable":
            assert model.measurements is None and model.ai is None
            refused += 1
    assert refused >= 5, refused


def test_unknown_key_and_bad_values_are_refused(shared_data):
    from ecgpilot.datasets.ludb import ludb_root, read_ludb

    if ludb_root() is None:
        pytest.skip("LUDB is not in the shared data")
    doc = analyze_record(read_ludb(1), use_ai=False)
    validate_analysis(doc)
    with pytest.raises(ValidationError, match="surprise"):
        validate_analysis({**doc, "surprise": 1})
    bad = json.loads(json.dumps(doc))
    bad["measurements"]["qrs_axis_deg"] = 400.0
    with pytest.raises(ValidationError, match="qrs_axis_deg"):
        validate_analysis(bad)
    reading = interpret(doc, lang="fr")
    reading["urgency"]["level"] = "urgent"
    with pytest.raises(ValidationError, match="level"):
        validate_reading(reading)


def test_published_json_schema_is_generated_from_the_models():
    published = json.loads((ROOT / "docs" / "analysis.schema.json").read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(json_schema())), (
        "docs/analysis.schema.json is stale: run `python -m ecgpilot.schema > docs/analysis.schema.json`")


def test_cli_json_output_validates(shared_data):
    hea = shared_data / "ludb" / "data" / "1.hea"
    if not hea.exists():
        pytest.skip("LUDB is not in the shared data")
    out = subprocess.run([sys.executable, "-m", "ecgpilot.cli", "analyze", str(hea), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    validate_analysis(json.loads(out.stdout))


def test_published_report_schema_is_generated_from_the_models():
    from ecgpilot.schema import report_json_schema

    published = json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(report_json_schema())), (
        "docs/report.schema.json is stale: run `python -m ecgpilot.schema report > docs/report.schema.json`")


def test_signed_report_and_draft_validate(tmp_path, shared_data):
    """Upload a real MUSE file, decide every statement through the API, sign: the draft and the signed content
    are the documented Draft and Report, and they say what the doctor decided."""
    from _web import make_app, token_for
    from fastapi.testclient import TestClient

    from ecgpilot.schema import Draft, Report

    path = shared_data / "format-samples" / "ge-muse-xml" / "perottelab-introecg" / "MUSE_20200923_093504_79000_example.xml"
    app = make_app(tmp_path)
    auth = {"Authorization": f"Bearer {token_for(app, 'a@x.fr')}"}
    with TestClient(app) as c:
        sid = c.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))], headers=auth).json()[0]["id"]
        draft = Draft.model_validate(c.get(f"/api/v1/studies/{sid}", headers=auth).json()["draft"])
        assert draft.statements, "the MUSE sample gets statements"
        first, rest = draft.statements[0], draft.statements[1:]
        changes = [{"id": first.id, "decision": "rejected"}] + [{"id": s.id, "decision": "confirmed"} for s in rest]
        r = c.patch(f"/api/v1/studies/{sid}/statements", headers=auth,
                    json={"changes": changes, "add": ["Contrôle dans 1 an"], "urgency": "routine"})
        assert r.status_code == 200, r.text
        signed = c.post(f"/api/v1/studies/{sid}/sign", headers=auth)
        assert signed.status_code == 201, signed.text
    report = Report.model_validate(signed.json()["content"])
    assert report.study_id == sid and report.version == 1 and report.urgency == "routine"
    assert report.statements == [s.text for s in rest] + ["Contrôle dans 1 an"]
    assert {d.id: d.decision for d in report.decisions}[first.id] == "rejected"
    assert report.file_sha256 == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
