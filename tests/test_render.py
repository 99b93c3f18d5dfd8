"""ECG paper geometry: SVG parsed with lxml, PDF checked by its page box and by rasterising
it with pdftoppm at a known resolution and measuring the grid pitch in pixels."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
import wfdb
from lxml import etree

from ecgpilot.errors import ConfigError
from ecgpilot.leads import STANDARD_12
from ecgpilot.record import ECGRecord
from ecgpilot.render.pdf import GRID_ORIGIN_MM, PAGE_MM, report_pdf
from ecgpilot.render.svg import SCREEN_COLUMN_MM, ecg_svg, screen_points

from conftest import data_file

NS = {"s": "http://www.w3.org/2000/svg"}
FS = 500.0


def spike_record(leads=STANDARD_12, amplitude_uv: float = 1500.0, seconds: float = 10.0) -> ECGRecord:
    """Zero signal with one 1-sample spike of known amplitude at t = 1.0 s on every lead."""
    sig = np.zeros((len(leads), int(seconds * FS)), dtype=np.float32)
    sig[:, int(1.0 * FS)] = amplitude_uv
    return ECGRecord(signal=sig, fs=FS, leads=tuple(leads))


def points(el) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in el.get("points").split()])


def parse(svg: str):
    return etree.fromstring(svg.encode())


def traces(root, lead: str | None = None):
    q = "//s:polyline[@class='trace']" + (f"[@data-lead='{lead}']" if lead else "")
    return root.xpath(q, namespaces=NS)


def test_svg_user_unit_is_the_millimetre_and_grids_are_1_and_5_mm():
    root = parse(ecg_svg(spike_record()))
    w, h = root.get("width"), root.get("height")
    vb = [float(v) for v in root.get("viewBox").split()]
    assert w == f"{vb[2]:g}mm" and h == f"{vb[3]:g}mm"
    pats = {p.get("id"): p for p in root.xpath("//s:pattern", namespaces=NS)}
    assert (float(pats["grid1mm"].get("width")), float(pats["grid1mm"].get("height"))) == (1.0, 1.0)
    assert (float(pats["grid5mm"].get("width")), float(pats["grid5mm"].get("height"))) == (5.0, 5.0)
    assert not root.xpath("//s:pattern//s:pattern", namespaces=NS)       # not nested
    rects = root.xpath("//s:rect[@fill='url(#grid1mm)' or @fill='url(#grid5mm)']", namespaces=NS)
    assert len(rects) == 2


@pytest.mark.parametrize("speed, seconds", [(25, 10.0), (50, 5.0)])
def test_rhythm_strip_length_matches_speed(speed, seconds):
    root = parse(ecg_svg(spike_record(), speed_mm_s=speed))
    strip = [t for t in traces(root, "II") if float(np.ptp(points(t)[:, 0])) > 100]
    assert len(strip) == 1
    x = points(strip[0])[:, 0]
    # from the first to the last sample: duration shown minus one sample period
    assert np.ptp(x) == pytest.approx((seconds - 1 / FS) * speed, abs=0.02)
    col = [t for t in traces(root, "I")]
    assert np.ptp(points(col[0])[:, 0]) == pytest.approx((62.5 / speed - 1 / FS) * speed, abs=0.02)


@pytest.mark.parametrize("gain", [5, 10, 20])
def test_calibration_pulse_is_1_mv_tall_and_spike_maps_to_gain(gain):
    root = parse(ecg_svg(spike_record(amplitude_uv=1500.0), gain_mm_mv=gain))
    cals = root.xpath("//s:polyline[@class='calibration']", namespaces=NS)
    assert len(cals) == 4                                   # 3 rows + rhythm strip
    for c in cals:
        p = points(c)
        assert np.ptp(p[:, 1]) == pytest.approx(gain, abs=0.01)
        assert np.diff(np.unique(p[:, 0])).max() == pytest.approx(5.0, abs=0.01)   # 200 ms at 25 mm/s
    ii = points(traces(root, "II")[0])
    assert (ii[:, 1].max() - ii[:, 1].min()) == pytest.approx(1.5 * gain, abs=0.01)
    # the spike is at 1.0 s: 25 mm right of the column start
    k = int(np.argmin(ii[:, 1]))
    assert ii[k, 0] - ii[0, 0] == pytest.approx(25.0, abs=0.01)


def test_real_r_peak_height_in_mm(shared_data):
    hea = data_file("ludb", "data", "1.hea")
    w = wfdb.rdrecord(str(hea.with_suffix("")))
    ii_mv = w.p_signal[:, w.sig_name.index("ii")]                 # mV, straight from the file
    rec = ECGRecord(signal=w.p_signal.T * 1000.0, fs=w.fs, leads=tuple(w.sig_name))
    root = parse(ecg_svg(rec, column_mm=None))                    # every sample
    strip = [t for t in traces(root, "II") if np.ptp(points(t)[:, 0]) > 100][0]
    y = points(strip)[:, 1]
    r = int(np.argmax(ii_mv))
    # height above the trace's baseline (the lead median) at 10 mm/mV
    assert y[0] - y[r] == pytest.approx((ii_mv[r] - ii_mv[0]) * 10.0, abs=0.02)
    assert float(np.median(y)) - y[r] == pytest.approx((ii_mv[r] - np.median(ii_mv)) * 10.0, abs=0.05)
    # the screen image (two points per 0.25 mm column) keeps the same R peak, at its own time
    screen = [t for t in traces(parse(ecg_svg(rec)), "II") if np.ptp(points(t)[:, 0]) > 100][0]
    p = points(screen)
    assert len(p) < len(y) / 2
    k = int(np.argmin(p[:, 1]))
    assert p[k, 1] == pytest.approx(y[r], abs=0.006) and p[k, 0] == pytest.approx(10.0 + r / w.fs * 25.0, abs=0.006)
    assert p[0, 1] == pytest.approx(y[0], abs=0.006)


def test_missing_leads_are_labelled_and_single_lead_is_a_rhythm_strip():
    leads = [n for n in STANDARD_12 if n not in ("V4",)]
    root = parse(ecg_svg(spike_record(leads)))
    labels = [t.text for t in root.xpath("//s:text[@class='lead-label']", namespaces=NS)]
    assert "V4 (absent)" in labels and not traces(root, "V4")
    one = parse(ecg_svg(spike_record(("II",), seconds=25.0)))
    strips = traces(one, "II")
    assert len(strips) == 3                                      # 25 s in 10-s strips
    assert [float(s.get("data-t0")) for s in strips] == [0.0, 10.0, 20.0]


@pytest.mark.parametrize("kw, msg", [({"speed_mm_s": 30}, "25 or 50"), ({"gain_mm_mv": 7}, "5, 10 or 20"),
                                     ({"layout": "6x2"}, "3x4\\+II")])
def test_bad_settings_are_refused(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        ecg_svg(spike_record(), **kw)


def _interp():
    return {"rules_version": "t", "urgency": {"level": "soon", "text": "Avis cardiologique rapide recommandé",
                                              "reasons": []},
            "statements": [{"id": "lvh", "category": "hypertrophy", "text": "Hypertrophie ventriculaire gauche",
                            "confidence": 0.8, "urgency": "soon"}]}


def _analysis():
    return {"ecgpilot_version": "0.1.0", "measurements": {"heart_rate_bpm": 72.0, "pr_ms": 160.0, "qrs_ms": 90.0,
                                                         "qt_ms": 380.0, "qtc_ms": 405.0, "qtc_formula": "fridericia"},
            "ai": {"model_version": "ptbxl-test"}}


def test_pdf_is_a4_landscape_and_true_scale(tmp_path):
    pdf = report_pdf(spike_record(), _analysis(), _interp())
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box and float(box.group(1)) == pytest.approx(841.89, abs=0.01) and float(box.group(2)) == pytest.approx(595.28, abs=0.01)
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    (tmp_path / "r.pdf").write_bytes(pdf)
    dpi = 254                                                   # 10 px per mm
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-singlefile", str(tmp_path / "r.pdf"),
                    str(tmp_path / "r")], check=True)
    data = (tmp_path / "r.pgm").read_bytes()
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    width, height = int(m.group(1)), int(m.group(2))
    img = np.frombuffer(data[m.end():], dtype=np.uint8).reshape(height, width)
    assert abs(width - PAGE_MM[0] * 10) <= 1 and abs(height - PAGE_MM[1] * 10) <= 1   # pdftoppm rounds up
    # a pixel row 1.5 mm above the grid bottom crosses every vertical grid line
    row = img[height - round((GRID_ORIGIN_MM[1] + 1.5) * 10)]
    x0 = round(GRID_ORIGIN_MM[0] * 10)
    seg = row[x0 - 5: x0 + 2600].astype(int)
    dark = np.flatnonzero(seg < 240)
    groups = np.split(dark, np.flatnonzero(np.diff(dark) > 1) + 1)
    centres = np.array([g.mean() for g in groups if g.size])
    pitch = np.diff(centres)
    assert np.median(pitch) == pytest.approx(10.0, abs=0.3)     # 1-mm grid = 10 px at 254 dpi
    majors = np.array([g.mean() for g in groups if g.size and seg[g].min() < 170])
    assert np.median(np.diff(majors)) == pytest.approx(50.0, abs=0.5)   # 5-mm grid = 50 px


def _text(pdf: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    (tmp_path / "t.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(tmp_path / "t.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_pdf_header_unsigned_banner_and_signed_report(tmp_path):
    rec = spike_record()
    txt = _text(report_pdf(rec, _analysis(), _interp(), report={"patient": {"family_name": "DUPONT",
                "given_name": "Marie", "birth_date": "1960-03-04", "sex": "F", "ins": "260037512345678"}}), tmp_path)
    for s in ("DUPONT Marie", "04/03/1960", "INS 260037512345678", "QTc (Fridericia) 405 ms", "PR 160 ms",
              "NON VALIDÉ", "Hypertrophie ventriculaire gauche", "ptbxl-test", "règles t"):
        assert s in txt, s
    signed = _text(report_pdf(rec, _analysis(), _interp(), lang="en",
                              report={"doctor": "Dr Martin", "signed_at": "2026-11-22T10:30:00",
                                      "final_statements": ["Sinus rhythm, LVH"]}), tmp_path)
    assert "NOT VALIDATED" not in signed and "NON VALIDÉ" not in signed
    assert "validated by Dr Martin on 22/11/2026 10:30" in signed and "Sinus rhythm, LVH" in signed
    with pytest.raises(ConfigError, match="fr, en"):
        report_pdf(rec, _analysis(), _interp(), lang="it")


@pytest.mark.parametrize("leads, seconds, n_strips", [(("II",), 60.0, 6), (("V1", "V5"), 10.0, 2)])
def test_pdf_few_leads_are_rhythm_strips_on_the_page(leads, seconds, n_strips, tmp_path):
    rec = spike_record(leads, seconds=seconds)
    txt = _text(report_pdf(rec, _analysis(), _interp()), tmp_path)
    # one lead: 60 s in six 10-s strips (rows shortened to fit); two chest leads: two strips
    found = re.findall(r"^\s*(II|V1|V5)\s*$", txt, flags=re.M)
    assert len(found) == n_strips


def test_pdf_limb_leads_only_keep_the_3x4_layout(tmp_path):
    txt = _text(report_pdf(spike_record(("I", "II")), _analysis(), _interp()), tmp_path)
    for name in ("aVF", "V1 (absent)", "V6 (absent)"):      # III, aVR, aVL, aVF derived from I and II
        assert name in txt


def test_pdf_long_doctor_statements_are_wrapped_not_cut(tmp_path):
    long = "Rythme sinusal régulier, bloc de branche droit complet avec hémibloc antérieur gauche (bloc bifasciculaire)"
    txt = _text(report_pdf(spike_record(), _analysis(), _interp(),
                           report={"doctor": "Dr Martin", "signed_at": "2026-11-22T10:30:00", "final_statements": [long]}),
                tmp_path)
    flat = " ".join(txt.split())
    assert "(bloc bifasciculaire)" in flat


@pytest.mark.parametrize("gain", [5, 10, 20])
def test_svg_each_lead_is_clipped_to_its_row_and_states_its_scale(gain):
    root = parse(ecg_svg(spike_record(amplitude_uv=2500.0), gain_mm_mv=gain, speed_mm_s=50))
    assert root.get("data-mm-per-mv") == str(gain) and root.get("data-mm-per-s") == "50"
    clips = {c.get("id"): c[0] for c in root.xpath("//s:clipPath", namespaces=NS)}
    assert len(clips) == 4
    for tr in traces(root):
        rect = clips[re.match(r"url\(#(row-\d)\)", tr.get("clip-path")).group(1)]
        top, height = float(rect.get("y")), float(rect.get("height"))
        base = np.median(points(tr)[:, 1])                  # the flat baseline of the trace
        assert top < base < top + height                    # its own row
    lead_ii = traces(root, "II")[0]                          # the spike at 1 s is in the first column
    row = clips[re.match(r"url\(#(row-\d)\)", lead_ii.get("clip-path")).group(1)]
    assert (points(lead_ii)[:, 1].min() < float(row.get("y"))) == (gain >= 10)   # 2.5 mV overruns at 10-20 mm/mV


def test_screen_points_keep_each_columns_extremes_in_time_order():
    rng = np.random.default_rng(22)
    x = np.arange(2000) * 0.05 + 10.0                       # 500 Hz at 25 mm/s
    y = rng.normal(50.0, 0.2, x.size)
    y[777] = 20.0                                            # a one-sample spike (pacing artefact)
    y[1300] = 80.0
    keep = screen_points(x, y)
    assert np.all(np.diff(keep) > 0) and keep[0] == 0 and keep[-1] == x.size - 1
    assert 777 in keep and 1300 in keep
    col = np.floor(x / SCREEN_COLUMN_MM + 1e-6).astype(int)
    for c in np.unique(col):                                 # each column: its min and max, at most 2 + the ends
        inside = np.flatnonzero(col == c)
        kept = np.intersect1d(keep, inside)
        assert y[kept].min() == y[inside].min() and y[kept].max() == y[inside].max()
        assert len(np.setdiff1d(kept, [0, x.size - 1])) <= 2
    assert np.array_equal(screen_points(x, y, None), np.arange(x.size))
    assert np.array_equal(screen_points(x[:2], y[:2]), [0, 1])


def test_screen_svg_keeps_a_one_sample_spike_at_1000_hz():
    fs, sig = 1000.0, np.zeros((12, 10000), dtype=np.float32)
    sig[:, 1000] = 1500.0                                   # one sample, 1 ms
    sig[:, 6001] = -800.0
    root = parse(ecg_svg(ECGRecord(signal=sig, fs=fs, leads=STANDARD_12)))
    strip = [t for t in traces(root, "II") if np.ptp(points(t)[:, 0]) > 100][0]
    p = points(strip)
    base = float(np.median(p[:, 1]))
    top, bottom = int(np.argmin(p[:, 1])), int(np.argmax(p[:, 1]))
    assert base - p[top, 1] == pytest.approx(15.0, abs=0.01) and p[top, 0] == pytest.approx(10.0 + 25.0, abs=0.01)
    assert p[bottom, 1] - base == pytest.approx(8.0, abs=0.01) and p[bottom, 0] == pytest.approx(10.0 + 6.001 * 25, abs=0.01)
    assert len(p) <= 2 * 250 / SCREEN_COLUMN_MM + 2          # 2 points a column, not 40 samples a mm


def test_pdf_traces_are_clipped_to_their_row_and_the_scale_is_printed(tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    rec = spike_record(amplitude_uv=5000.0)
    pdf = report_pdf(rec, {"measurements": {}}, {"statements": []}, gain_mm_mv=20,
                     report={"doctor": "Dr Martin", "signed_at": "2026-11-22T10:30:00", "final_statements": ["x"]})
    assert "50 mm/s" not in _text(pdf, tmp_path) and "25 mm/s · 20 mm/mV" in _text(pdf, tmp_path)
    (tmp_path / "c.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "254", "-gray", "-singlefile", str(tmp_path / "c.pdf"), str(tmp_path / "c")], check=True)
    data = (tmp_path / "c.pgm").read_bytes()
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    width, height = int(m.group(1)), int(m.group(2))
    img = np.frombuffer(data[m.end():], dtype=np.uint8).reshape(height, width)
    from ecgpilot.render.pdf import ROW_HEIGHT_MM

    top_mm = GRID_ORIGIN_MM[1] + 4 * ROW_HEIGHT_MM              # grid top, from the page bottom
    x = round((GRID_ORIGIN_MM[0] + 10 + 1.0 * 25) * 10)          # the spike of the first column's leads (t = 1 s)
    above = img[height - round((top_mm + 8) * 10): height - round((top_mm + 0.5) * 10), x - 15: x + 15]
    inside = img[height - round((top_mm - 1) * 10): height - round((top_mm - 20) * 10), x - 15: x + 15]
    assert above.min() > 100                                    # nothing black above the grid: lead I is clipped
    assert inside.min() < 60                                    # but drawn up to its row's top


def test_pdf_signature_time_in_french_local_time(tmp_path):
    rep = {"doctor": "Dr Martin", "signed_at": "2026-07-01T08:30:00+00:00", "final_statements": ["x"]}
    text = _text(report_pdf(spike_record(), _analysis(), _interp(), report=rep), tmp_path)
    assert "validé par Dr Martin le 01/07/2026 10:30" in text          # UTC+2 in summer
    rep["signed_at"] = "2026-12-05T04:12:00+00:00"
    assert "le 05/12/2026 05:12" in _text(report_pdf(spike_record(), _analysis(), _interp(), report=rep), tmp_path)


def test_the_measurement_line_follows_the_language():
    """The line above the tracing is written in the page's language (it was French on English pages)."""
    from ecgpilot.analysis import analyze_record

    t = np.arange(5000) / 500.0
    sig = np.stack([800.0 * np.exp(-((t % 0.8) - 0.2) ** 2 / 0.0002) for _ in STANDARD_12]).astype(np.float32)
    rec = ECGRecord(signal=sig, fs=500.0, leads=STANDARD_12)
    doc = analyze_record(rec, use_ai=False)
    fr, en = ecg_svg(rec, analysis=doc, lang="fr"), ecg_svg(rec, analysis=doc, lang="en")
    assert "FC " in fr and "Axe QRS" in fr and "HR " not in fr
    assert "HR " in en and "QRS axis" in en and "Axe QRS" not in en
    with pytest.raises(ConfigError, match="Unknown language 'de'; accepted: fr, en"):
        ecg_svg(rec, analysis=doc, lang="de")
