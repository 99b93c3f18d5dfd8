"""The serving install (``[web]`` only: no pandas, statsmodels or matplotlib, which come with the ``[pilot]``
extra) uploads and reads ECGs and runs the pilot's protocol pages; the analysis page says which extra it
lacks instead of failing. Run in a fresh interpreter where importing those packages fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import data_file

SCRIPT = textwrap.dedent('''
    import sys
    for name in ("pandas", "statsmodels", "matplotlib"):
        sys.modules[name] = None            # import raises ImportError, as without the [pilot] extra
    sys.path.insert(0, {tests!r})
    from datetime import date
    from fastapi.testclient import TestClient
    from sqlalchemy import select
    from _web import PASSWORD, csrf_of, login, make_app, token_for
    from ecgpilot.store import add_user
    from ecgpilot.store.pilot import PilotProtocol

    app = make_app(__import__("pathlib").Path({tmp!r}))
    with app.state.sessions() as db:
        add_user(db, "admin@x.fr", PASSWORD, name="Admin", role="admin", practice="A")
        db.commit()
    path = __import__("pathlib").Path({muse!r})
    with TestClient(app) as c:
        r = c.post("/api/v1/studies", files=[("files", (path.name, path.read_bytes()))],
                   headers={{"Authorization": "Bearer " + token_for(app, "a@x.fr")}})
        assert r.status_code == 201 and r.json()[0]["status"] == "to_read", r.text
        login(c, "admin@x.fr")
        page = c.get("/pilot")
        assert page.status_code == 200, page.text
        month = date.today().replace(day=1)
        start = f"{{month.year + (month.month + 1) // 12:04d}}-{{(month.month + 1) % 12 + 1:02d}}"
        r = c.post("/pilot/protocol", data={{"csrf": csrf_of(page.text), "name": "P", "design": "stepped_wedge",
                                             "start_month": start, "period_months": "1", "n_periods": "3",
                                             "baseline_months": "0"}}, follow_redirects=False)
        assert r.status_code == 303, r.text
        with app.state.sessions() as db:
            pid = db.scalar(select(PilotProtocol.id))
        r = c.post(f"/pilot/{{pid}}/randomise", data={{"csrf": csrf_of(c.get("/pilot").text), "seed": "12"}},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        assert c.get("/pilot").status_code == 200
    with TestClient(app) as c:   # the evaluator reads the analyses
        login(c, "e@x.fr")
        page = c.get(f"/pilot/{{pid}}/indicators")
        assert page.status_code == 200 and "[pilot] extra" in page.text and "pandas" in page.text, page.text[-2000:]
    loaded = [m for m in ("pandas", "statsmodels", "matplotlib") if sys.modules.get(m) is not None]
    assert not loaded, loaded
    print("LEAN-OK")
''')


def test_serving_install_without_the_pilot_extra(tmp_path: Path) -> None:
    muse = data_file("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
    code = SCRIPT.format(tests=str(Path(__file__).parent), tmp=str(tmp_path), muse=str(muse))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "LEAN-OK" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
