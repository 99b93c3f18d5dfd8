"""Locust users for ``bench_scale.py``: GPs who upload a 12-lead ECG and read it back.

Each simulated GP (one account, one practice, its own API token and login cookie) loops without
pause: ``POST /api/v1/studies`` of the next real file (a GE MUSE / Philips / DICOM / SCP / HL7 aECG
sample, or a LUDB ``.hea`` + ``.dat`` pair), then ``GET /api/v1/studies/{id}`` (the analysis as JSON),
``GET /studies/{id}`` (the study page: tracing, measurements, proposal) and ``GET /api/v1/studies``
(the worklist); each request on a new connection unless ``ECGPILOT_BENCH_CLOSE=0``. An upload counts as an
analysis only when it made a new study (201, not ``uploaded_again``); anything else is a failure in locust's
statistics.

Set by ``bench_scale.py`` (not meant to be run by hand): ``ECGPILOT_BENCH_ACCOUNTS`` (JSON list of
``{"email", "password", "token"}``) and ``ECGPILOT_BENCH_FILES`` (JSON list of file groups, each a list
of paths sent in one request).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from pathlib import Path

from locust import task
from locust.contrib.fasthttp import FastHttpUser

ACCOUNTS = json.loads(os.environ.get("ECGPILOT_BENCH_ACCOUNTS", "[]"))
GROUPS = [[Path(p) for p in g] for g in json.loads(os.environ.get("ECGPILOT_BENCH_FILES", "[]"))]
# "Connection: close" on every request (default): each request on a new connection, so the kernel spreads
# them over the workers as a reverse proxy would; with keep-alive each GP stays on the worker it first met
CLOSE = {"Connection": "close"} if os.environ.get("ECGPILOT_BENCH_CLOSE", "1") == "1" else {}
_next_account = itertools.count()


def _multipart(paths: list[Path]) -> tuple[bytes, str]:
    """One ``multipart/form-data`` body with the files under the field ``files`` (built once)."""
    boundary = uuid.uuid4().hex
    parts = []
    for p in paths:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{p.name}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + p.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


BODIES = [_multipart(g) for g in GROUPS]


class GP(FastHttpUser):
    network_timeout = 120.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        n = next(_next_account)
        acc = ACCOUNTS[n % len(ACCOUNTS)]
        self.auth = {"Authorization": f"Bearer {acc['token']}", **CLOSE}
        # each GP walks the files from its own offset; one practice per GP, so no upload is a duplicate
        # as long as a GP sends fewer uploads than there are files
        self.order = itertools.cycle(list(range(n * 37 % len(BODIES), len(BODIES))) + list(range(n * 37 % len(BODIES))))
        page = self.client.get("/login", name="login page", headers=CLOSE)
        m = re.search(r'name="csrf" value="([^"]+)"', page.text or "")
        self.client.post("/login", data={"csrf": m.group(1) if m else "", "email": acc["email"],
                                         "password": acc["password"]}, name="login", allow_redirects=False, headers=CLOSE)

    @task
    def upload_and_read(self) -> None:
        body, ctype = BODIES[next(self.order)]
        with self.client.post("/api/v1/studies", data=body, headers={**self.auth, "Content-Type": ctype},
                              name="upload (analysis)", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"status {r.status_code}")
                return
            studies = r.json()
            if not studies or any(s.get("uploaded_again") for s in studies):
                r.failure("not a new analysis (duplicate upload)")
                return
        sid = studies[0]["id"]
        self.client.get(f"/api/v1/studies/{sid}", headers=self.auth, name="read: GET /api/v1/studies/{id}")
        self.client.get(f"/studies/{sid}", name="read: GET /studies/{id} (page)", headers=CLOSE)
        self.client.get("/api/v1/studies", headers=self.auth, name="read: GET /api/v1/studies (worklist)")
