"""The study page a phone downloads (issue 22: under 150 KB without losing the true-scale
tracing): real 12-lead files uploaded by a GP, the page's bytes counted, and its inline tracing
compared with the full-resolution paper layout the PDF draws."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from ecgpilot.io import read_ecg
from ecgpilot.render import paper_layout

from _web import csrf_of, login, make_app
from conftest import data_file

NS = {"s": "http://www.w3.org/2000/svg"}
GOAL_BYTES = 150_000
FILES = {
    "muse-500hz": ("format-samples", "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml"),
    "dicom-1000hz": ("format-samples", "dicom", "waveform_ecg.dcm"),
    # 60 s of one lead, drawn as 6 strips: 1 500 mm of trace, the longest page (0.5-mm columns)
    "cinc2017-60s-single-lead": ("cinc2017-subset", "A00105.hea"),
}


def _study_page(tmp_path, path) -> bytes:  # noqa: ANN001
    c = TestClient(make_app(tmp_path))
    login(c, "a@x.fr")
    parts = [path] + [path.with_suffix(s) for s in (".mat", ".dat") if path.suffix == ".hea" and path.with_suffix(s).exists()]
    r = c.post("/upload", data={"csrf": csrf_of(c.get("/").text)},
               files=[("files", (p.name, p.read_bytes())) for p in parts], follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    page = c.get(r.headers["location"])
    assert page.status_code == 200
    return page.content


def _points(el) -> np.ndarray:  # noqa: ANN001
    return np.array([[float(v) for v in p.split(",")] for p in el.get("points").split()])


@pytest.mark.parametrize("name", list(FILES))
def test_study_page_of_a_real_file_is_under_150_kb_and_keeps_the_tracing(name, tmp_path) -> None:  # noqa: ANN001
    path = data_file(*FILES[name])
    html = _study_page(tmp_path, path)
    assert len(html) < GOAL_BYTES, f"{name}: study page {len(html)} bytes"
    svg = etree.fromstring(re.search(rb"<svg.*?</svg>", html, re.S).group(0))
    # true scale unchanged: 25 mm/s, 10 mm/mV, the user unit is the millimetre
    assert svg.get("data-mm-per-s") == "25" and svg.get("data-mm-per-mv") == "10"
    assert svg.get("width") == f"{float(svg.get('viewBox').split()[2]):g}mm"
    rec = read_ecg(path)
    paper = paper_layout(rec)                                 # every sample, as the PDF draws them
    drawn = svg.xpath("//s:polyline[@class='trace']", namespaces=NS)
    full = [t for t in paper.traces if t.x.size]
    assert [el.get("data-lead") for el in drawn] == [t.lead for t in full]
    n_samples = sum(t.x.size for t in full)
    n_drawn = 0
    for el, tr in zip(drawn, full):
        p = _points(el)
        n_drawn += len(p)
        # the tallest and deepest deflections (R and S/Q peaks) at their own amplitude, on a sample
        # of the signal (a flat top of several equal samples keeps one of them)
        for k in (int(np.argmin(p[:, 1])), int(np.argmax(p[:, 1]))):
            near = np.abs(tr.x - p[k, 0]) < 0.006
            assert near.any() and abs(tr.y[near][0] - p[k, 1]) < 0.006, (tr.lead, p[k])
        assert p[:, 1].min() == pytest.approx(tr.y.min(), abs=0.006), tr.lead
        assert p[:, 1].max() == pytest.approx(tr.y.max(), abs=0.006), tr.lead
        # every 1 mm of paper (40 ms): the drawn extremes are the signal's, within 0.01 mm
        # (a CSS pixel at true size is 0.26 mm)
        for lo in np.arange(np.floor(tr.x[0]), tr.x[-1], 1.0):
            sig = tr.y[(tr.x + 1e-6 >= lo) & (tr.x + 1e-6 < lo + 1.0)]
            got = p[(p[:, 0] + 0.006 >= lo) & (p[:, 0] + 0.006 < lo + 1.0), 1]      # drawn at 0.01 mm
            if sig.size:
                assert got.min() == pytest.approx(sig.min(), abs=0.006) and got.max() == pytest.approx(sig.max(), abs=0.006)
    assert n_drawn < n_samples / 2                            # 2 points per 0.25 mm (0.5 mm on long pages)
