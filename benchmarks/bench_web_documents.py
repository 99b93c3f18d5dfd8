"""Signed documents (issue 22 A): the time to sign (the PDF in French, the CDA and the FHIR bundle rendered and
frozen in the file store), to serve a signed PDF (frozen bytes) against drawing a draft PDF, to serve the frozen
CDA and FHIR, the documents' sizes, and ``audit verify`` over the stored documents. In process (TestClient),
SQLite in a temp folder, AI as installed, the GE MUSE example.

Writes ``benchmarks/results/web_documents.md``. Run:
``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_web_documents.py [--n 10]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from ecgpilot.paths import shared_data_dir  # noqa: E402

MUSE = "format-samples/ge-muse-xml/perottelab-introecg/MUSE_20200923_093504_79000_example.xml"


def _ms(samples: list[float]) -> str:
    s = sorted(samples)
    return f"{statistics.median(s) * 1000:.0f} ms (p90 {s[min(len(s) - 1, int(0.9 * len(s)))] * 1000:.0f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    import _web
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from ecgpilot import audit
    from ecgpilot.store import files as filestore
    from ecgpilot.store.models import Practice, User
    from ecgpilot.web import Settings, create_app

    content = (shared_data_dir() / MUSE).read_bytes()
    data_dir = Path(tempfile.mkdtemp())
    app = create_app(Settings(data_dir=data_dir, secret_key="bench"))
    from ecgpilot.store import add_user

    with app.state.sessions() as db:
        gp = add_user(db, "a@x.fr", _web.PASSWORD, name="Dr Paul MARTIN", role="gp", practice="Cabinet du Parc")
        db.flush()
        gp.rpps = "10001234567"
        db.get(Practice, gp.practice_id).org_id = "750000001"
        db.commit()
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {_web.token_for(app, 'a@x.fr')}"
    t_sign, t_draft, t_pdf, t_cda, t_fhir, sizes = [], [], [], [], [], {}
    for k in range(args.n + 1):
        body = content.replace(b"<AcquisitionDate>09-22-2020</AcquisitionDate>",
                               f"<AcquisitionDate>09-22-{1990 + k}</AcquisitionDate>".encode())
        sid = api.post("/api/v1/studies", files=[("files", (f"m{k}.xml", body))]).json()[0]["id"]
        api.patch(f"/api/v1/studies/{sid}/patient", json={"given_names": "Jean"})
        stmts = api.get(f"/api/v1/studies/{sid}").json()["draft"]["statements"]
        changes = [{"id": s["id"], "decision": "confirmed"} for s in stmts]
        api.patch(f"/api/v1/studies/{sid}/statements", json={"changes": changes, "urgency": "routine"})
        t0 = time.perf_counter()
        assert api.get(f"/api/v1/studies/{sid}/report.pdf").status_code == 200
        t1 = time.perf_counter()
        assert api.post(f"/api/v1/studies/{sid}/sign").status_code == 201
        t2 = time.perf_counter()
        pdf = api.get(f"/api/v1/studies/{sid}/report.pdf").content
        t3 = time.perf_counter()
        cda = api.get(f"/api/v1/studies/{sid}/report.cda.xml").content
        t4 = time.perf_counter()
        fhir = api.get(f"/api/v1/studies/{sid}/report.fhir.json").content
        t5 = time.perf_counter()
        if k == 0:      # warm-up
            continue
        t_draft.append(t1 - t0)
        t_sign.append(t2 - t1)
        t_pdf.append(t3 - t2)
        t_cda.append(t4 - t3)
        t_fhir.append(t5 - t4)
        sizes = {"PDF": len(pdf), "CDA (the PDF inside in base64)": len(cda), "FHIR (the PDF inside in base64)": len(fhir)}
    t0 = time.perf_counter()
    docs = audit.verify_documents(app.state.engine, lambda sha: filestore.read_document(data_dir, sha))
    t_verify = time.perf_counter() - t0
    assert docs.ok, docs
    with app.state.sessions() as db:
        assert db.scalar(select(User.id).where(User.email == "a@x.fr"))
    lines = [
        "# Signed documents: sign, serve, verify",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} CPU(s) visible, shared · OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} · "
        f"n = {args.n} signed studies after one warm-up · GE MUSE example (12 leads, 10 s, 500 Hz), AI as installed",
        "",
        "| step | median (p90) |",
        "|---|---|",
        f"| draft PDF, drawn on request | {_ms(t_draft)} |",
        f"| sign: content + PDF (fr) + CDA + FHIR rendered, hashed, stored, audited | {_ms(t_sign)} |",
        f"| signed PDF served (frozen bytes, hash checked) | {_ms(t_pdf)} |",
        f"| signed CDA served (frozen) | {_ms(t_cda)} |",
        f"| signed FHIR served (frozen) | {_ms(t_fhir)} |",
        f"| `audit verify` of the stored documents ({docs.checked} documents) | {t_verify * 1000:.0f} ms |",
        "",
        "| document | bytes |",
        "|---|---|",
        *[f"| {k} | {v:,} |".replace(",", "\u202f") for k, v in sizes.items()],
        "",
        "The times are request times through the app (TestClient): authentication, database, audit entry.",
        "",
    ]
    out = HERE / "results" / "web_documents.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
