"""Web app speed: upload → reading on screen for one ECG, and sustained analyses per second.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_web.py [--n 40] [--http]

"upload to screen" = POST of the file (reading, analysis with the AI when a model is
installed, interpretation, storage) + GET of the study page (tracing SVG, measurements,
proposal), for a GE MUSE XML and a LUDB WFDB pair (.hea + .dat). In process with
FastAPI's TestClient by default; ``--http`` goes through uvicorn on a loopback port.
Sustained rate: ``--n`` LUDB records uploaded one after another through the API.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ecgpilot.paths import shared_data_dir  # noqa: E402


def _client(app, http: bool):  # noqa: ANN001, ANN202
    import httpx
    from fastapi.testclient import TestClient

    if not http:
        return TestClient(app), None
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60), srv


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="LUDB records for the sustained rate")
    ap.add_argument("--repeat", type=int, default=10, help="repeats of the upload-to-screen timing")
    ap.add_argument("--http", action="store_true", help="through uvicorn instead of in process")
    ap.add_argument("--no-ai", action="store_true")
    args = ap.parse_args()
    data = shared_data_dir()
    if data is None:
        print("shared data not found ($ECGPILOT_DATA or ../shared/data)")
        return 1
    import _web

    from ecgpilot.web import Settings, create_app

    tmp = Path(tempfile.mkdtemp())
    app = create_app(Settings(data_dir=tmp, secret_key="bench", use_ai=not args.no_ai))
    with app.state.sessions() as db:
        from ecgpilot.store import add_user

        add_user(db, "bench@x.fr", _web.PASSWORD, practice="B")
        db.commit()
    token = _web.token_for(app, "bench@x.fr")
    client, srv = _client(app, args.http)
    _web.login(client, "bench@x.fr")
    auth = {"Authorization": f"Bearer {token}"}

    muse = data / "format-samples/ge-muse-xml/perottelab-introecg/MUSE_20200923_093504_79000_example.xml"
    ludb = [(data / f"ludb/data/{i}.hea", data / f"ludb/data/{i}.dat") for i in range(1, 201)]
    cases = {"GE MUSE XML": [muse], "LUDB WFDB (.hea+.dat)": list(ludb[0])}
    print(f"# web benchmark — {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{'uvicorn HTTP' if args.http else 'in-process TestClient'}, AI {'off' if args.no_ai else 'on'}")
    ai_state = None
    for label, files in cases.items():
        times, post_t = [], []
        for k in range(args.repeat + 1):
            body = [("files", (p.name, p.read_bytes())) for p in files]
            t0 = time.perf_counter()
            r = client.post("/api/v1/studies", files=body, headers=auth)
            t1 = time.perf_counter()
            sid = r.json()[0]["id"]
            html = client.get(f"/studies/{sid}")
            t2 = time.perf_counter()
            assert html.status_code == 200 and "<svg" in html.text, html.text[:300]
            # the same file again would open this study (no new analysis): archive it, untimed
            client.post(f"/api/v1/studies/{sid}/archive", json={"reason": "benchmark"}, headers=auth)
            if k:  # first run is the warm-up (imports, model load)
                times.append(t2 - t0)
                post_t.append(t1 - t0)
            if ai_state is None:
                ai = client.get(f"/api/v1/studies/{sid}", headers=auth).json()["analysis"].get("ai")
                ai_state = "none" if ai is None else ("error: " + ai["error"][:80] if "error" in ai else ai.get("model_version"))
        times.sort()
        print(f"upload→screen {label}: median {statistics.median(times) * 1000:.0f} ms, "
              f"p90 {times[int(0.9 * (len(times) - 1))] * 1000:.0f} ms (of which upload+analysis "
              f"{statistics.median(post_t) * 1000:.0f} ms), n={len(times)}")
    print(f"AI in the analysis: {ai_state}")
    n = min(args.n, len(ludb))
    t0 = time.perf_counter()
    for hea, dat in ludb[:n]:
        r = client.post("/api/v1/studies", files=[("files", (p.name, p.read_bytes())) for p in (hea, dat)], headers=auth)
        assert r.status_code == 201
    dt = time.perf_counter() - t0
    print(f"sustained: {n} LUDB uploads in {dt:.1f} s = {n / dt:.1f} analyses/s (one worker, sequential)")
    if srv is not None:
        srv.should_exit = True
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
