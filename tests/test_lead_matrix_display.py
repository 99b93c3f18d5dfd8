"""The per-lead measurement matrix on the study page and the PDF, and the measured ST points
marked on the tracing (``ecgpilot.render.matrix``, ``render.svg``, ``render.pdf``, web page)."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from _web import csrf_of, login, make_app
from conftest import data_file
from fastapi.testclient import TestClient
from lxml import etree, html

from ecgpilot.leads import STANDARD_12
from ecgpilot.record import ECGRecord
from ecgpilot.render import CAL_WIDTH_MM
from ecgpilot.render.matrix import PR_GAP_MS, PR_WINDOW_MS, matrix_rows, st_marks
from ecgpilot.render.pdf import GRID_ORIGIN_MM, MATRIX_ROW_HEIGHT_MM, PAGE_MM, report_pdf
from ecgpilot.render.svg import ecg_svg

NS = {"s": "http://www.w3.org/2000/svg"}
FS = 500.0
#: Fiducials (s). 5.03 has its PR window before the V1–V3 column (starts at 5.0 s), 7.4 its
#: J+80 after it (ends at 7.5 s): neither is marked there.
BEATS = [0.4, 1.2, 2.0, 2.8, 3.6, 4.4, 5.03, 5.8, 6.6, 7.4, 8.2, 9.0]
POINTS = {"qrs_on": -42.0, "j": 56.0, "j60": 116.0, "j80": 136.0}
ST_V2 = (200, 150, 120)          # µV at J, J+60, J+80 in V2 (and V3) of the synthetic record


def st_record() -> ECGRecord:
    """12 leads: slow drift (30 µV/s), a 1 mV QRS per beat and, in V2 and V3, an ST segment at
    exactly ST_V2 µV above the PR level at J, J+60 and J+80."""
    t = np.arange(int(10 * FS)) / FS
    sig = np.tile(30.0 * t, (12, 1))
    for b in BEATS:
        on, j = b + POINTS["qrs_on"] / 1000, b + POINTS["j"] / 1000
        qrs = np.where((t > on) & (t < j), 1000.0 * np.sin(np.pi * (t - on) / (j - on)), 0.0)
        sig += qrs
        st_t = [j, b + POINTS["j60"] / 1000, b + POINTS["j80"] / 1000, b + 0.3]
        st = np.where((t >= j) & (t <= b + 0.3), np.interp(t, st_t, [*ST_V2, 0.0]), 0.0)
        for lead in ("V2", "V3"):
            sig[STANDARD_12.index(lead)] += st
    return ECGRecord(signal=sig.astype(np.float32), fs=FS, leads=STANDARD_12)


def lead_values(k: int) -> dict:
    """Distinct values per lead (k = index in I..V6) so that a misplaced cell is caught."""
    v = {"p_pos_uv": 80 + k, "p_neg_uv": -k, "q_uv": -50 - k, "q_ms": 10 + k, "r_uv": 1000 + 10 * k, "r_ms": 30 + k,
         "s_uv": -200 - k, "s_ms": 20 + k, "rp_uv": 0, "rp_ms": 0, "qrs_pp_uv": 1300 + k, "r_peak_time_ms": 35,
         "st_j_uv": 10 + k, "st_60_uv": 20 + k, "st_80_uv": 30 + k, "t_pos_uv": 250 + k, "t_neg_uv": 0}
    return v


def matrix_doc() -> dict:
    """An analysis document extended by hand with ``measurements.lead_matrix`` (schema /2)."""
    leads = {n: lead_values(k) for k, n in enumerate(STANDARD_12)}
    leads["V2"].update(st_j_uv=ST_V2[0], st_60_uv=ST_V2[1], st_80_uv=ST_V2[2])
    leads["V3"].update(st_j_uv=ST_V2[0], st_60_uv=ST_V2[1], st_80_uv=ST_V2[2])
    leads["V5"].update(st_j_uv=-60, st_60_uv=-49)
    leads["aVL"].update(t_neg_uv=None)
    return {"ecgpilot_version": "test", "ai": {"model_version": None},
            "measurements": {"heart_rate_bpm": 75.0, "pr_ms": 160.0, "qrs_ms": 98.0, "qt_ms": 380.0, "qtc_ms": 410.0,
                             "qtc_formula": "fridericia", "beats_s": BEATS,
                             "lead_matrix": {"baseline": "pr_segment", "points_ms": dict(POINTS), "leads": leads}}}


def reading(leads: list[str] = ["V2", "V3"], category: str = "ischaemia", evidence: str = "st_uv.V2") -> dict:  # noqa: B006
    return {"rules_version": "t", "urgency": {"level": "emergency", "text": "URGENCE"},
            "statements": [{"id": "acute_st_elevation", "category": category, "text": "Sus-décalage du segment ST",
                            "confidence": None, "urgency": "emergency", "leads": list(leads),
                            "evidence": [{"kind": "measurement", "name": evidence, "value": 200}]},
                           {"id": "sinus_rhythm", "category": "rhythm", "text": "Rythme sinusal", "leads": [],
                            "evidence": [], "urgency": "normal", "confidence": None},
                           {"id": "noisy_lead", "category": "quality", "text": "Dérivation V6 bruitée", "leads": ["V6"],
                            "evidence": [], "urgency": "normal", "confidence": None}]}


# ------------------------------------------------------------------------- the rows ----

def test_rows_are_in_lead_order_with_values_flags_and_findings() -> None:
    rows = matrix_rows(matrix_doc(), reading())
    assert [r.lead for r in rows] == list(STANDARD_12)
    by = {r.lead: {c.key: c for c in r.cells} for r in rows}
    assert by["aVF"]["r_uv"].text == "1050" and by["aVF"]["q_ms"].text == "15" and by["aVF"]["q_uv"].text == "−55"
    assert by["aVL"]["t_neg_uv"].text == "—" and by["aVL"]["t_neg_uv"].value is None
    assert (by["V2"]["st_j_uv"].flag, by["V2"]["st_60_uv"].flag, by["V2"]["st_80_uv"].flag) == ("high", "high", "high")
    assert by["V2"]["st_j_uv"].mm == "+2.0 mm"
    assert (by["V5"]["st_j_uv"].flag, by["V5"]["st_60_uv"].flag) == ("low", None)      # −60 flagged, −49 not
    assert by["V4"]["st_j_uv"].flag is None and by["V4"]["r_uv"].flag is None
    rows_by = {r.lead: r for r in rows}
    assert rows_by["V2"].findings == ["Sus-décalage du segment ST"] and rows_by["V2"].flagged
    assert not rows_by["V6"].flagged and rows_by["V6"].quality == ["Dérivation V6 bruitée"]
    assert matrix_rows({"measurements": {"lead_matrix": None}}, reading()) == []


# ------------------------------------------------------------------- the ST marks ----

def _marks(svg: str) -> list[dict]:
    root = etree.fromstring(svg.encode())
    out = []
    for el in root.xpath("//s:*[@class='st-mark']", namespaces=NS):
        if el.tag.endswith("circle"):
            x, y = float(el.get("cx")), float(el.get("cy"))
        else:
            x, y = float(el.get("x")) + float(el.get("width")) / 2, float(el.get("y")) + float(el.get("height")) / 2
        out.append({"lead": el.get("data-lead"), "point": el.get("data-point"), "beat": int(el.get("data-beat")),
                    "x": x, "y": y})
    return out


def _trace_y(svg: str, lead: str, x: float) -> float:
    """y (mm) of the drawn trace of ``lead`` at the sample nearest ``x`` (column traces only)."""
    root = etree.fromstring(svg.encode())
    for el in root.xpath(f"//s:polyline[@class='trace'][@data-lead='{lead}']", namespaces=NS):
        p = np.array([[float(v) for v in q.split(",")] for q in el.get("points").split()])
        if p[0, 0] - 0.01 <= x <= p[-1, 0] + 0.01:
            return float(p[np.argmin(np.abs(p[:, 0] - x)), 1])
    raise AssertionError(f"no trace of {lead} at x = {x}")


def test_st_marks_at_beat_time_plus_point_on_the_marked_leads_only() -> None:
    svg = ecg_svg(st_record(), analysis=matrix_doc(), reading=reading())
    marks = _marks(svg)
    assert {m["lead"] for m in marks} == {"V2", "V3"}                # not I, II (rhythm strip), V5…
    v2 = [m for m in marks if m["lead"] == "V2"]
    # V1–V3 column: 5.0–7.5 s, from x = 10 + 2 × 62.5 mm; beats 5.8 and 6.6 only (5.03, 7.4 do not fit)
    x0, t0 = CAL_WIDTH_MM + 2 * 62.5, 5.0
    expected = sorted((k, p, x0 + (BEATS[k] + POINTS[p] / 1000 - t0) * 25.0)
                      for k in (7, 8) for p in ("j", "j60", "j80"))
    got = sorted((m["beat"], m["point"], m["x"]) for m in v2)
    assert [(k, p) for k, p, _ in got] == [(k, p) for k, p, _ in expected]
    assert np.allclose([x for *_, x in got], [x for *_, x in expected], atol=0.011)
    # at the measured level: the synthetic ST is exactly ST_V2 above the PR level, so each mark
    # lies on the trace (drift over 0.2 s: 6 µV = 0.06 mm)
    for m in v2:
        assert m["y"] == pytest.approx(_trace_y(svg, "V2", m["x"]), abs=0.08), m
    j = {m["beat"]: m["y"] for m in v2 if m["point"] == "j"}
    j80 = {m["beat"]: m["y"] for m in v2 if m["point"] == "j80"}
    assert j80[7] - j[7] == pytest.approx((ST_V2[0] - ST_V2[2]) / 1000 * 10, abs=0.03)   # 0.8 mm at 10 mm/mV
    # legend, with the marked leads
    assert re.search(r'<g id="st-legend".*Points ST mesurés.*— V2, V3</text>', svg, re.S)
    assert "Measured ST points" in ecg_svg(st_record(), analysis=matrix_doc(), reading=reading(), lang="en")


def test_marks_follow_the_gain_and_each_beats_own_pr_level() -> None:
    rec = st_record()
    doc = matrix_doc()
    for gain in (5, 20):
        svg = ecg_svg(rec, analysis=doc, reading=reading(["V2"]), gain_mm_mv=gain)
        for m in _marks(svg):
            assert m["y"] == pytest.approx(_trace_y(svg, "V2", m["x"]), abs=0.02 * gain), (gain, m)
    # the PR level is read per beat: a step of +500 µV between two beats moves the marks with it
    sig = rec.signal.copy()
    sig[STANDARD_12.index("V2"), int(6.2 * FS):] += 500.0
    svg = ecg_svg(ECGRecord(signal=sig, fs=FS, leads=STANDARD_12), analysis=doc, reading=reading(["V2"]))
    ys = {m["beat"]: m["y"] for m in _marks(svg) if m["point"] == "j"}
    # 500 µV = 5 mm higher on the page, plus the drift between the two beats (30 µV/s × 0.8 s)
    assert ys[7] - ys[8] == pytest.approx(5.0 + 30 * 0.8 / 1000 * 10, abs=0.03)


def test_which_statements_mark_which_leads() -> None:
    rec, doc = st_record(), matrix_doc()
    # a rhythm statement naming leads marks nothing; an 'other' statement resting on st_* evidence does
    assert not _marks(ecg_svg(rec, analysis=doc, reading=reading(category="rhythm", evidence="rr_cv")))
    other = _marks(ecg_svg(rec, analysis=doc, reading=reading(["II"], category="other")))
    # II: its column (beats 0.4, 1.2, 2.0) and the 10-s rhythm strip (every beat)
    js = [m for m in other if m["point"] == "j"]
    strip = [m for m in js if m["y"] > 3 * 35.0]                      # the 4th row: rhythm strip
    assert sorted(m["beat"] for m in strip) == list(range(len(BEATS)))
    assert sorted(m["beat"] for m in js if m not in strip) == [0, 1, 2]
    # no reading, or no matrix: the tracing is as before
    assert "st-mark" not in ecg_svg(rec, analysis=doc)
    assert "st-mark" not in ecg_svg(rec, analysis={"measurements": {"beats_s": BEATS}}, reading=reading())


def test_marks_skip_unmeasured_points() -> None:
    doc = matrix_doc()
    doc["measurements"]["lead_matrix"]["leads"]["V2"]["st_80_uv"] = None
    doc["measurements"]["lead_matrix"]["points_ms"]["j60"] = None
    from ecgpilot.render import paper_layout

    marks = st_marks(paper_layout(st_record()), doc, reading(["V2"]))
    assert {m.point for m in marks} == {"j"} and marks


# -------------------------------------------------------------------------- the PDF ----

def _words(pdf: bytes, tmp_path, page: int = 1) -> list[tuple[str, float, float, float, float]]:
    """Every word of page ``page`` with its box (mm from the page's top-left corner), via pdftotext -bbox."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    (tmp_path / "m.pdf").write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-bbox", str(tmp_path / "m.pdf"), "-"],
                         check=True, capture_output=True, text=True).stdout
    k = 25.4 / 72
    return [(html.fromstring(m.group(5)).text_content() if m.group(5) else "", float(m.group(1)) * k,
             float(m.group(2)) * k, float(m.group(3)) * k, float(m.group(4)) * k)
            for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
                                 out)]


def _row(words, lead: str, x_min: float = 0.0) -> list[str]:
    """The words on the line of the matrix row ``lead`` (right of ``x_min`` mm), left to right."""
    first = next(w for w in words if w[0] == lead and w[1] >= x_min and w[4] - w[2] < 3)   # small font
    line = [w for w in words if abs(w[2] - first[2]) < 0.5 and w[1] >= first[1]]
    return [w[0] for w in sorted(line, key=lambda w: w[1])]


@pytest.mark.parametrize("lang, title", [("fr", "Mesures par dérivation"), ("en", "Per-lead measurements")])
def test_pdf_prints_the_matrix_between_header_and_grid(lang, title, tmp_path) -> None:
    words = _words(report_pdf(st_record(), matrix_doc(), reading(), lang=lang), tmp_path)
    text = " ".join(w[0] for w in words)
    assert title in text
    grid_top = PAGE_MM[1] - (GRID_ORIGIN_MM[1] + 4 * MATRIX_ROW_HEIGHT_MM)     # mm from the page top
    # V2: 12 + lead 1 on the right block; values in column order (P+ P− Q Q ms R R ms S S ms R′ R′ ms STs T+ T−)
    v2 = _row(words, "V2")
    assert v2[:16] == ["V2", "87", "-7", "-57", "17", "1070", "37", "-207", "27", "0", "0", "200", "150", "120",
                       "257", "0"]
    avl = _row(words, "aVL")
    assert avl[:16] == ["aVL", "84", "-4", "-54", "14", "1040", "34", "-204", "24", "0", "0", "14", "24", "34", "254",
                        "—"]
    # the table lies between the header and the grid, overlapping neither
    table_top = min(w[2] for w in words if w[0] in ("Mesures", "Per-lead"))
    matrix_words = [w for w in words if w[4] - w[2] < 2.4 and w[2] >= table_top - 0.5]    # fonts of 6.5 pt and less
    assert len(matrix_words) > 12 * 16 and max(w[4] for w in matrix_words) < grid_top
    header_bottom = max(w[4] for w in words if w[0] in ("Versions",))
    assert header_bottom < table_top
    # the legend of the ST marks names the marked leads
    assert re.search(r"(points ST mesurés|measured ST points).*V2, V3", text)


def test_pdf_matrix_clears_the_fullest_header_and_the_doctors_conclusion(tmp_path) -> None:
    """Worst case: more statements than the header lists, a signed report with many lines."""
    interp = reading()
    interp["statements"] += [{"id": f"s{k}", "category": "other", "text": f"Constat supplémentaire numéro {k}",
                              "leads": [], "evidence": [], "urgency": "routine", "confidence": 0.5} for k in range(6)]
    report = {"doctor": "Dr Martin", "signed_at": "2026-11-22T10:30:00",
              "final_statements": [f"Conclusion du médecin, ligne {k}" for k in range(20)]}
    pdf = report_pdf(st_record(), matrix_doc(), interp, report=report)
    words = _words(pdf, tmp_path)
    table_top = min(w[2] for w in words if w[0] == "Mesures")
    text = " ".join(w[0] for w in words)
    assert "page 2" in text and "Constat" not in text                  # the AI's list is not printed as findings
    page2 = " ".join(w[0] for w in _words(pdf, tmp_path, page=2))
    assert "ligne 0" in page2 and "ligne 19" in page2                  # the doctor's words are never cut
    header_bottom = max(w[4] for w in words if w[2] < table_top - 0.5)
    assert header_bottom < table_top - 1.0                           # header, conclusion and signature above
    assert "validé" in [w[0] for w in words if w[4] < table_top]      # the signature line is still there


def test_pdf_without_matrix_keeps_the_former_layout(tmp_path) -> None:
    def avr_label_baseline(doc: dict) -> float:
        """mm from the page top of the 'aVR' lead label (drawn 9 mm above its row's baseline)."""
        words = _words(report_pdf(st_record(), doc, reading()), tmp_path)
        return next(w[4] for w in words if w[0] == "aVR" and w[4] - w[2] > 2.5)

    doc = matrix_doc()
    with_matrix = avr_label_baseline(doc)
    doc["measurements"]["lead_matrix"] = None
    without = avr_label_baseline(doc)
    # first row baseline: 0.6 of a row below the grid top; the grid is 4 rows tall above y = 8 mm
    top_35, top_30 = PAGE_MM[1] - GRID_ORIGIN_MM[1] - 4 * 35.0, PAGE_MM[1] - GRID_ORIGIN_MM[1] - 4 * MATRIX_ROW_HEIGHT_MM
    assert without == pytest.approx(top_35 + 0.6 * 35.0 - 9.0, abs=1.0)
    assert with_matrix == pytest.approx(top_30 + 0.6 * MATRIX_ROW_HEIGHT_MM - 9.0, abs=1.0)


# ---------------------------------------------------------------------- the web page ----

def _csv(rec: ECGRecord) -> bytes:
    head = "# fs=500\n# units=uV\n" + ",".join(rec.leads) + "\n"
    return (head + "\n".join(",".join(f"{v:.1f}" for v in row) for row in rec.signal.T)).encode()


@pytest.fixture()
def study(tmp_path):  # noqa: ANN001, ANN201
    """A logged-in client and the URL of a study whose analysis and reading are set by hand."""
    from ecgpilot.store.models import Study

    app = make_app(tmp_path)
    client = TestClient(app)
    login(client, "a@x.fr")
    r = client.post("/upload", data={"csrf": csrf_of(client.get("/").text)},
                    files=[("files", ("st.csv", _csv(st_record())))], follow_redirects=False)
    url = r.headers["location"]
    with app.state.sessions() as db:
        s = db.get(Study, int(url.rsplit("/", 1)[1]))
        doc = dict(s.analysis or {})
        doc["measurements"] = matrix_doc()["measurements"]
        s.analysis, s.interpretation = doc, reading()
        from ecgpilot.web.services.upload import _initial_draft

        s.draft = _initial_draft(s.interpretation)   # the draft proposes this reading (its ST marks are shown)
        db.commit()
    return client, url


def test_study_page_shows_the_matrix_with_flags_and_marks(study) -> None:  # noqa: ANN001
    client, url = study
    page = client.get(url + "?lang=fr").text
    tree = html.fromstring(page)
    assert tree.xpath("//section[@id='lead-matrix-card']/h2")[0].text_content() == "Mesures par dérivation"
    heads = [th.text_content() for th in tree.xpath("//table[@id='lead-matrix']/thead//th")]
    assert heads[:4] == ["Dérivation", "P+", "P−", "Q"] and "ST J+60" in heads
    assert [tr.get("data-lead") for tr in tree.xpath("//table[@id='lead-matrix']/tbody/tr")] == list(STANDARD_12)

    def cell(lead: str, key: str):  # noqa: ANN202
        return tree.xpath(f"//table[@id='lead-matrix']//tr[@data-lead='{lead}']/td[@data-key='{key}']")[0]

    assert cell("aVF", "r_uv").text_content() == "1050" and cell("aVF", "s_ms").text_content() == "25"
    assert cell("V2", "st_j_uv").text_content() == "200" and "st-high" in cell("V2", "st_j_uv").get("class")
    assert cell("V2", "st_j_uv").get("title") == "+2,0 mm"
    assert "st-low" in cell("V5", "st_j_uv").get("class") and "st-low" not in cell("V5", "st_60_uv").get("class")
    assert cell("I", "st_j_uv").text_content() == "10" and "st-" not in cell("I", "st_j_uv").get("class")
    rows = {tr.get("data-lead"): tr for tr in tree.xpath("//table[@id='lead-matrix']/tbody/tr")}
    assert "finding" in rows["V2"].get("class") and "finding" in rows["V3"].get("class")
    assert "finding" not in rows["I"].get("class") and "noisy" in rows["V6"].get("class")
    assert rows["V2"].get("title") == "Sus-décalage du segment ST"
    # the ST points on the tracing of the page
    svg = tree.xpath("//div[@id='tracing']")[0]
    assert {el.get("data-lead") for el in svg.xpath(".//*[@class='st-mark']")} == {"V2", "V3"}
    en = html.fromstring(client.get(url + "?lang=en").text)
    assert en.xpath("//section[@id='lead-matrix-card']/h2")[0].text_content() == "Per-lead measurements"
    assert en.xpath("//table[@id='lead-matrix']/thead//th")[0].text_content() == "Lead"
    assert "Measured ST points" in en.xpath("//g[@id='st-legend']")[0].text_content()


def test_study_pdf_from_the_web_carries_the_matrix(study, tmp_path) -> None:  # noqa: ANN001
    client, url = study
    r = client.get(url + "/report.pdf")
    assert r.status_code == 200
    words = _words(r.content, tmp_path)
    assert "Mesures" in [w[0] for w in words]
    assert _row(words, "V3")[11:14] == ["200", "150", "120"]


def test_pr_window_is_the_matrix_baseline() -> None:
    leadmatrix = pytest.importorskip("ecgpilot.signal.leadmatrix")
    assert (PR_WINDOW_MS, PR_GAP_MS) == (leadmatrix.BASELINE_MS, leadmatrix.BASELINE_GAP_MS)


# ------------------------------------------------------- a real record: LUDB record 7 ----

LUDB7 = ("ludb", "data", "7")


def _fmt(v) -> str:  # noqa: ANN001
    """The matrix value as a cart prints it, written independently of render.matrix."""
    return "—" if v is None else str(int(round(float(v)))).replace("-", "−")


@pytest.fixture(scope="module")
def ludb7():  # noqa: ANN201
    """LUDB record 7 (ST elevation), its record and its analysis (no AI: the values are the signal's)."""
    from ecgpilot.analysis import analyze_file
    from ecgpilot.io import read_ecg

    hea = data_file(*LUDB7[:-1], LUDB7[-1] + ".hea")
    doc = analyze_file(hea, use_ai=False)
    assert doc["measurements"].get("lead_matrix"), "analysis without measurements.lead_matrix"
    return hea, read_ecg(hea), doc


def test_real_record_st_marks_at_the_beats_and_the_pr_level(ludb7) -> None:  # noqa: ANN001
    _hea, rec, doc = ludb7
    lm = doc["measurements"]["lead_matrix"]
    pts = lm["points_ms"]
    svg = ecg_svg(rec, analysis=doc, reading=reading(["V4"]))
    marks = [m for m in _marks(svg) if m["lead"] == "V4"]
    assert {m["lead"] for m in _marks(svg)} == {"V4"}
    # V4: column 4 of the first row (7.5–10 s, x from 10 + 3 × 62.5 mm), beats whose PR window and J+80 fit
    x0, t0, t1 = CAL_WIDTH_MM + 3 * 62.5, 7.5, 10.0 - 1 / rec.fs
    beats = [k for k, b in enumerate(lm["beats_s"])
             if b + (pts["qrs_on"] - PR_GAP_MS - PR_WINDOW_MS) / 1000 >= t0 and b + pts["j80"] / 1000 <= t1]
    assert beats and sorted({m["beat"] for m in marks}) == beats
    sig = rec.lead("V4").astype(float)
    t = np.arange(sig.size) / rec.fs
    ref = float(np.median(sig))
    dt = 1 / rec.fs
    for m in marks:
        b = lm["beats_s"][m["beat"]]
        assert m["x"] == pytest.approx(x0 + (b + pts[m["point"]] / 1000 - t0) * 25.0, abs=0.011)
        win = (t >= b + (pts["qrs_on"] - PR_GAP_MS - PR_WINDOW_MS) / 1000 - dt / 2) & \
              (t <= b + (pts["qrs_on"] - PR_GAP_MS) / 1000 + dt / 2)
        st = lm["leads"]["V4"][{"j": "st_j_uv", "j60": "st_60_uv", "j80": "st_80_uv"}[m["point"]]]
        level = float(sig[win].mean()) + st                         # PR level of this beat + measured ST (µV)
        assert m["y"] == pytest.approx(0.6 * 35.0 - (level - ref) / 1000 * 10.0, abs=0.02), m
    # the measured level (on the median beat, 0.5–150 Hz) meets the drawn (raw) trace
    gaps = [abs(m["y"] - _trace_y(svg, "V4", m["x"])) for m in marks]
    assert float(np.median(gaps)) < 0.3 and max(gaps) < 1.0       # mm; 0.3 mm = 30 µV


def test_real_record_matrix_on_the_pdf(ludb7, tmp_path) -> None:  # noqa: ANN001
    _hea, rec, doc = ludb7
    lm = doc["measurements"]["lead_matrix"]["leads"]
    words = _words(report_pdf(rec, doc, reading(["V4"]), lang="en"), tmp_path)
    keys = ["p_pos_uv", "p_neg_uv", "q_uv", "q_ms", "r_uv", "r_ms", "s_uv", "s_ms", "rp_uv", "rp_ms",
            "st_j_uv", "st_60_uv", "st_80_uv", "t_pos_uv", "t_neg_uv"]
    for lead, x_min in (("aVL", 0.0), ("V4", 140.0)):
        assert _row(words, lead, x_min)[:16] == [lead] + [_fmt(lm[lead][k]).replace("−", "-") for k in keys], lead


def test_real_record_study_page_shows_its_matrix(ludb7, tmp_path) -> None:  # noqa: ANN001
    hea, _rec, doc = ludb7
    client = TestClient(make_app(tmp_path))
    login(client, "a@x.fr")
    r = client.post("/upload", data={"csrf": csrf_of(client.get("/").text)},
                    files=[("files", (hea.name, hea.read_bytes())),
                           ("files", (hea.with_suffix(".dat").name, hea.with_suffix(".dat").read_bytes()))],
                    follow_redirects=False)
    tree = html.fromstring(client.get(r.headers["location"]).text)
    lm = doc["measurements"]["lead_matrix"]["leads"]
    shown = {tr.get("data-lead"): {td.get("data-key"): td for td in tr.xpath("./td")}
             for tr in tree.xpath("//table[@id='lead-matrix']/tbody/tr")}
    assert list(shown) == list(STANDARD_12)
    for lead, cells in shown.items():
        assert {k: td.text_content() for k, td in cells.items()} == {k: _fmt(lm[lead][k]) for k in cells}, lead
    # V4 at J+60 (+111 µV in this record) is flagged; aVL at J+80 (−71 µV) too
    assert lm["V4"]["st_60_uv"] >= 100 and "st-high" in shown["V4"]["st_60_uv"].get("class")
    assert lm["aVL"]["st_80_uv"] <= -50 and "st-low" in shown["aVL"]["st_80_uv"].get("class")
