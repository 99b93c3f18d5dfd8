"""Web pages a practice uses: weight (bytes, gzip) and server time of the worklist, the study page
(with the cart's reading; with the previous ECG), the model card and the admin page; upload →
reading and sign → PDF times. In process (TestClient), SQLite in a temp folder, AI as installed.

Writes ``benchmarks/results/web_pages.md``. Run:
``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_web_pages.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
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


def _variant(content: bytes, k: int) -> bytes:
    """The MUSE file with another acquisition year (a different file of the same patient)."""
    return content.replace(b"<AcquisitionDate>09-22-2020</AcquisitionDate>",
                           f"<AcquisitionDate>09-22-{2021 + k}</AcquisitionDate>".encode())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import _web
    from fastapi.testclient import TestClient

    from ecgpilot.store import add_user
    from ecgpilot.web import Settings, create_app

    data = shared_data_dir()
    content = (data / MUSE).read_bytes()
    app = create_app(Settings(data_dir=Path(tempfile.mkdtemp()), secret_key="bench"))
    with app.state.sessions() as db:
        add_user(db, "gp@x.fr", _web.PASSWORD, name="Dr GP", practice="P")
        add_user(db, "adm@x.fr", _web.PASSWORD, name="Admin", role="admin", practice="P")
        db.commit()
    c = TestClient(app)
    _web.login(c, "gp@x.fr")
    rows: dict[str, list[tuple[float, int, int]]] = {}
    timings: dict[str, list[float]] = {"upload → reading (POST /upload + GET study)": [], "sign → PDF (sign + GET report.pdf)": []}

    def page(label: str, url: str, client: TestClient = c) -> str:
        t0 = time.perf_counter()
        r = client.get(url)
        dt = time.perf_counter() - t0
        assert r.status_code == 200, (url, r.status_code)
        rows.setdefault(label, []).append((dt, len(r.content), len(gzip.compress(r.content))))
        return r.text

    # first ECG (warm-up), signed: the later ones have a previous ECG
    url = c.post("/upload", data={"csrf": _web.csrf_of(c.get("/").text)}, files=[("files", ("m.xml", content))],
                 follow_redirects=False).headers["location"]
    html = c.get(url).text
    ids = re.findall(r'class="statement d-pending[^"]*" data-id="([^"]+)"', html)
    form = {"csrf": _web.csrf_of(html), "urgency": "routine", "then_sign": "1", **{f"decision_{i}": "confirmed" for i in ids}}
    c.post(url + "/draft", data=form)
    for k in range(args.repeat):
        csrf = _web.csrf_of(c.get("/").text)
        t0 = time.perf_counter()
        r = c.post("/upload", data={"csrf": csrf}, files=[("files", (f"m{k}.xml", _variant(content, k)))], follow_redirects=False)
        study = r.headers["location"]
        html = page("study page (to read, cart's reading, previous ECG)", study)
        timings["upload → reading (POST /upload + GET study)"].append(time.perf_counter() - t0)
        for img in re.findall(r'<img src="(/studies/\d+/tracing\.svg)"', html)[:1]:
            page("previous ECG tracing (image, loaded lazily)", img)
        page("worklist", "/")
        page("model card (GP)", "/model-card")
        ids = re.findall(r'class="statement d-pending[^"]*" data-id="([^"]+)"', html)
        form = {"csrf": _web.csrf_of(html), "urgency": "routine", "then_sign": "1", **{f"decision_{i}": "confirmed" for i in ids}}
        t0 = time.perf_counter()
        c.post(study + "/draft", data=form)
        pdf = c.get(study + "/report.pdf")
        timings["sign → PDF (sign + GET report.pdf)"].append(time.perf_counter() - t0)
        assert pdf.content.startswith(b"%PDF")
        page("study page (signed)", study)
    adm = TestClient(app)
    _web.login(adm, "adm@x.fr")
    for _ in range(args.repeat):
        page("admin: accounts and practices", "/admin/users", adm)
    lines = ["# Web pages: weight and time", "",
             f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs shared with other jobs, in process (TestClient), AI on, GE MUSE file "
             f"(10 s, 12 leads), median of {args.repeat}. Command: `OMP_NUM_THREADS=1 .venv/bin/python "
             "benchmarks/bench_web_pages.py`.", "",
             "| page | HTML KB | gzip KB | server time ms |", "|---|---:|---:|---:|"]
    for label, vals in rows.items():
        lines.append(f"| {label} | {statistics.median(v[1] for v in vals) / 1024:.0f} | "
                     f"{statistics.median(v[2] for v in vals) / 1024:.0f} | {statistics.median(v[0] for v in vals) * 1000:.0f} |")
    lines += ["", "| flow | median ms | max ms |", "|---|---:|---:|"]
    for label, vals in timings.items():
        lines.append(f"| {label} | {statistics.median(vals) * 1000:.0f} | {max(vals) * 1000:.0f} |")
    lines += ["", "The study page inlines the true-scale SVG tracing (most of its weight); the previous ECG's "
              "tracing is an image loaded lazily, not part of the page's HTML."]
    out = "\n".join(lines) + "\n"
    (HERE / "results" / "web_pages.md").write_text(out, encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
