"""Study page weight as a phone downloads it: a GP logs in (TestClient, SQLite in a temp folder,
AI as installed), uploads a real 12-lead file, GETs the study page; the HTML bytes, the inline SVG
tracing's bytes, the gzip size and the bytes actually sent when the browser accepts gzip are counted.

Files: the GE MUSE file of ``bench_web_pages`` (500 Hz), the 1000 Hz DICOM waveform, a Philips
Sierra XML (500 Hz) and the 100 Hz HL7 aECG. ``--every-sample`` draws every sample on the page (the
tracing as it was before the screen reduction, ``ecg_svg(column_mm=None)``) for the comparison. Run:
``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_page_weight.py [--every-sample] [--no-ai]``.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from ecgpilot.paths import shared_data_dir  # noqa: E402

FILES = (
    "format-samples/ge-muse-xml/perottelab-introecg/MUSE_20200923_093504_79000_example.xml",
    "format-samples/dicom/waveform_ecg.dcm",
    "format-samples/philips-sierra-xml/1_04/3191723_ZZDEMOPTONLY_1-04_orig.xml",
    "format-samples/hl7-aecg/liryc-hl7v3-aecg/hl7aecg_example.xml",
)


def study_page(client, content: bytes, name: str) -> tuple[str, int]:  # noqa: ANN001
    """(the study page's HTML, bytes sent with Accept-Encoding: gzip) after uploading ``content``."""
    import _web

    r = client.post("/upload", data={"csrf": _web.csrf_of(client.get("/").text)}, files=[("files", (name, content))],
                    follow_redirects=False)
    url = r.headers["location"]
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as resp:
        assert resp.status_code == 200, (url, resp.status_code)
        html = resp.read().decode("utf-8")
        sent = resp.num_bytes_downloaded
    return html, sent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every-sample", action="store_true", help="draw every sample (no screen reduction)")
    ap.add_argument("--no-ai", action="store_true", help="without the classifier")
    args = ap.parse_args()
    import _web
    from fastapi.testclient import TestClient

    from ecgpilot.render import svg as svg_module
    from ecgpilot.store import add_user
    from ecgpilot.web import Settings, create_app

    if args.every_sample:   # the web layer imports ecg_svg from the module at each call
        svg_module.ecg_svg = functools.partial(svg_module.ecg_svg, column_mm=None)
    data = shared_data_dir()
    app = create_app(Settings(data_dir=Path(tempfile.mkdtemp()), secret_key="bench", use_ai=not args.no_ai))
    with app.state.sessions() as db:
        add_user(db, "gp@x.fr", _web.PASSWORD, name="Dr GP", practice="P")
        db.commit()
    c = TestClient(app)
    _web.login(c, "gp@x.fr")
    print("| file | HTML KB | of which SVG KB | gzip KB | sent KB (Accept-Encoding: gzip) |")
    print("|---|---:|---:|---:|---:|")
    for rel in FILES:
        path = data / rel
        if not path.exists():
            print(f"| {rel} | absent | | | |")
            continue
        html, sent = study_page(c, path.read_bytes(), path.name)
        m = re.search(r"<svg.*?</svg>", html, re.S)
        svg = len(m.group(0).encode()) if m else 0
        raw = html.encode()
        print(f"| {Path(rel).name} | {len(raw) / 1024:.0f} | {svg / 1024:.0f} | "
              f"{len(gzip.compress(raw)) / 1024:.0f} | {sent / 1024:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
