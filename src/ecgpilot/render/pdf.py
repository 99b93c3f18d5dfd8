"""The ECG report as an A4 landscape PDF at true scale (1 mm of grid = 1 mm of paper).

Vector drawing with reportlab: header (patient, acquisition date, measurements with units
and the QTc formula, the reading and its urgency, model and rules versions, the doctor's
validation or a "not validated" banner) above the 3 × 4 + II tracing at 25 mm/s, 10 mm/mV.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from ecgpilot.errors import ConfigError
from ecgpilot.record import ECGRecord
from ecgpilot.render import calibration_path, paper_layout

__all__ = ["report_pdf", "PAGE_MM", "GRID_ORIGIN_MM", "ROW_HEIGHT_MM"]

#: A4 landscape, mm.
PAGE_MM = (297.0, 210.0)
ROW_HEIGHT_MM = 35.0
#: Bottom-left corner of the grid on the page (mm from the page's bottom-left corner).
GRID_ORIGIN_MM = (18.5, 8.0)
_GRID_MAX_MM = 4 * ROW_HEIGHT_MM

_TXT = {
    "fr": {"title": "ECG 12 dérivations", "patient": "Patient", "born": "né(e) le", "sex": "sexe",
           "ins": "INS", "acq": "Acquisition", "unknown": "inconnu(e)", "hr": "FC", "axis": "Axes P/QRS/T",
           "reading": "Lecture", "urgency": "Urgence", "versions": "Versions", "model": "modèle IA",
           "rules": "règles", "no_ai": "sans IA", "doctor": "Conclusion du médecin",
           "signed": "validé par {name} le {when}",
           "unsigned": "NON VALIDÉ — proposition de l'IA, à confirmer par le médecin",
           "levels": {"emergency": "URGENCE", "soon": "avis cardiologique rapide",
                      "routine": "suivi habituel", "normal": "normal"},
           "paper": "25 mm/s · 10 mm/mV", "more": "… et {n} autre(s) constat(s)"},
    "en": {"title": "12-lead ECG", "patient": "Patient", "born": "born", "sex": "sex",
           "ins": "INS", "acq": "Acquired", "unknown": "unknown", "hr": "HR", "axis": "Axes P/QRS/T",
           "reading": "Reading", "urgency": "Urgency", "versions": "Versions", "model": "AI model",
           "rules": "rules", "no_ai": "no AI", "doctor": "Doctor's conclusion",
           "signed": "validated by {name} on {when}",
           "unsigned": "NOT VALIDATED — AI proposal, to be confirmed by the doctor",
           "levels": {"emergency": "EMERGENCY", "soon": "cardiology advice soon",
                      "routine": "usual follow-up", "normal": "normal"},
           "paper": "25 mm/s · 10 mm/mV", "more": "… and {n} more finding(s)"},
}
_LEVEL_COLOUR = {"emergency": (0.75, 0.0, 0.0), "soon": (0.8, 0.4, 0.0), "routine": (0.1, 0.3, 0.6),
                 "normal": (0.1, 0.45, 0.1)}


def _latin(text: str) -> str:
    """Text safe for the standard PDF fonts (WinAnsi): replace the few symbols outside it."""
    for a, b in (("≥", ">="), ("≤", "<="), ("≈", "~"), ("−", "-"), ("µ", "u")):
        text = text.replace(a, b)
    return text.encode("cp1252", "replace").decode("cp1252")


def _patient(record: ECGRecord, report: dict[str, Any] | None) -> dict[str, Any]:
    p = dict(record.patient.to_dict())
    p.update({k: v for k, v in ((report or {}).get("patient") or {}).items() if v is not None})
    return p


def _fmt_date(x: Any) -> str | None:
    if x is None:
        return None
    if isinstance(x, datetime):
        return x.strftime("%d/%m/%Y %H:%M")
    if isinstance(x, date):
        return x.strftime("%d/%m/%Y")
    s = str(x)
    try:
        d = datetime.fromisoformat(s)
        return d.strftime("%d/%m/%Y %H:%M") if ("T" in s or " " in s) else d.strftime("%d/%m/%Y")
    except ValueError:
        return s


def _v(m: dict[str, Any], key: str, unit: str) -> str:
    return "—" if m.get(key) is None else f"{m[key]:.0f} {unit}"


def report_pdf(record: ECGRecord, analysis: dict, interpretation: dict, *, report: dict | None = None,
               lang: str = "fr") -> bytes:
    """One A4 landscape page (bytes of a PDF): header and the ECG at true scale.

    ``report`` (optional, from the web app) may hold ``patient`` (``family_name``,
    ``given_name``, ``birth_date``, ``sex``, ``ins``), ``final_statements`` (list of str),
    ``conclusion`` (str), ``doctor`` (name, or a dict with ``name``) and ``signed_at``
    (ISO date-time). Without ``signed_at`` the page carries a "not validated" banner.
    """
    if lang not in _TXT:
        raise ConfigError(f"Unknown language {lang!r}; accepted: {', '.join(_TXT)}.")
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    t = _TXT[lang]
    buf = io.BytesIO()
    page_w, page_h = landscape(A4)
    c = canvas.Canvas(buf, pagesize=(page_w, page_h), pageCompression=1)
    c.setTitle(_latin(t["title"]))
    c.setCreator("ecgpilot")

    paper = paper_layout(record, speed_mm_s=25, gain_mm_mv=10, layout="3x4+II", row_height_mm=ROW_HEIGHT_MM)
    if paper.height_mm > _GRID_MAX_MM:   # rhythm strips of a few-lead record: shorter rows
        n_rows = round(paper.height_mm / ROW_HEIGHT_MM)
        row = max(15.0, 5.0 * (_GRID_MAX_MM / n_rows // 5))
        paper = paper_layout(record, speed_mm_s=25, gain_mm_mv=10, layout="3x4+II", row_height_mm=row)
    ox, oy = GRID_ORIGIN_MM
    top = oy + paper.height_mm                       # grid top, mm from page bottom

    # --- grid (1 mm minor, 5 mm major lines) ---------------------------------------------
    c.setLineWidth(0.12)
    c.setStrokeColorRGB(0.96, 0.72, 0.72)
    nx, ny = int(round(paper.width_mm)), int(round(paper.height_mm))
    for i in range(nx + 1):
        if i % 5:
            c.line((ox + i) * mm, oy * mm, (ox + i) * mm, top * mm)
    for j in range(ny + 1):
        if j % 5:
            c.line(ox * mm, (oy + j) * mm, (ox + paper.width_mm) * mm, (oy + j) * mm)
    c.setLineWidth(0.4)
    c.setStrokeColorRGB(0.88, 0.40, 0.40)
    for i in range(0, nx + 1, 5):
        c.line((ox + i) * mm, oy * mm, (ox + i) * mm, top * mm)
    for j in range(0, ny + 1, 5):
        c.line(ox * mm, (oy + j) * mm, (ox + paper.width_mm) * mm, (oy + j) * mm)

    # --- traces -------------------------------------------------------------------------
    def path(points: list[tuple[float, float]]) -> None:
        p = c.beginPath()
        x0, y0 = points[0]
        p.moveTo((ox + x0) * mm, (top - y0) * mm)
        for x, y in points[1:]:
            p.lineTo((ox + x) * mm, (top - y) * mm)
        c.drawPath(p, stroke=1, fill=0)

    c.setStrokeColorRGB(0, 0, 0)
    c.setLineWidth(0.6)
    c.setLineJoin(1)
    for base in paper.calibrations:
        path(calibration_path(0.0, base, 25.0, 10.0))
    c.setFont("Helvetica-Bold", 8)
    for tr in paper.traces:
        c.setFillColorRGB(0, 0, 0)
        c.drawString((ox + tr.x0_mm + 1) * mm, (top - tr.baseline_mm + 9) * mm,
                     tr.lead + (" (absent)" if tr.missing else ""))
        if tr.x0_mm > 10.5:
            c.line((ox + tr.x0_mm) * mm, (top - tr.baseline_mm - 3) * mm, (ox + tr.x0_mm) * mm,
                   (top - tr.baseline_mm + 3) * mm)
        if tr.x.size > 1:
            path(list(zip(tr.x.tolist(), tr.y.tolist())))

    # --- header -------------------------------------------------------------------------
    y = PAGE_MM[1] - 10.0
    left = ox

    def line(text: str, size: float = 8, bold: bool = False, x: float = left, dy: float = 4.2,
             colour: tuple[float, float, float] = (0, 0, 0)) -> None:
        nonlocal y
        c.setFillColorRGB(*colour)
        c.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        c.drawString(x * mm, y * mm, _latin(text))
        y -= dy

    pat = _patient(record, report)
    name = " ".join(s for s in (pat.get("family_name"), pat.get("given_name")) if s) or t["unknown"]
    born = _fmt_date(pat.get("birth_date")) or t["unknown"]
    sex = pat.get("sex") or t["unknown"]
    ins = pat.get("ins")
    acq = _fmt_date(record.start_time) or t["unknown"]
    line(f"{t['title']} — {t['paper']}", size=12, bold=True, dy=5.5)
    line(f"{t['patient']} : {name}   {t['born']} {born}   {t['sex']} {sex}" + (f"   {t['ins']} {ins}" if ins else "")
         + f"   |   {t['acq']} : {acq}", size=9)
    m = analysis.get("measurements") or {}
    formula = (m.get("qtc_formula") or "fridericia").capitalize()
    axes = "/".join("—" if m.get(k) is None else f"{m[k]:.0f}" for k in ("p_axis_deg", "qrs_axis_deg", "t_axis_deg"))
    line(f"{t['hr']} {_v(m, 'heart_rate_bpm', '/min')}   PR {_v(m, 'pr_ms', 'ms')}   QRS {_v(m, 'qrs_ms', 'ms')}   "
         f"QT {_v(m, 'qt_ms', 'ms')}   QTc ({formula}) {_v(m, 'qtc_ms', 'ms')}   {t['axis']} {axes}°", size=9)
    urg = interpretation.get("urgency") or {}
    level = urg.get("level", "routine")
    line(f"{t['urgency']} : {urg.get('text') or t['levels'].get(level, level)}",
         size=10, bold=True, colour=_LEVEL_COLOUR.get(level, (0, 0, 0)), dy=4.6)
    sts = [s for s in interpretation.get("statements", []) if s.get("category") != "quality" or s.get("urgency") != "normal"]
    shown = sts[:5]
    line(f"{t['reading']} :", size=8, bold=True, dy=3.6)
    for s in shown:
        conf = "" if s.get("confidence") is None else f" [{s['confidence']:.2f}]"
        line(f"• {s['text']}{conf}", size=8, x=left + 3, dy=3.5)
    if len(sts) > len(shown):
        line(t["more"].format(n=len(sts) - len(shown)), size=8, x=left + 3, dy=3.5)
    ai = analysis.get("ai") or {}
    model = ai.get("model_version") or t["no_ai"]
    line(f"{t['versions']} : ecgpilot {analysis.get('ecgpilot_version', '?')} · {t['model']} {model} · "
         f"{t['rules']} {interpretation.get('rules_version', '?')}", size=7, colour=(0.3, 0.3, 0.3))

    # right column: doctor's conclusion or the "not validated" banner
    rx = 190.0
    ry = PAGE_MM[1] - 17.0
    rep = report or {}
    doctor = rep.get("doctor")
    doctor_name = doctor.get("name") if isinstance(doctor, dict) else doctor
    if rep.get("signed_at"):
        c.setFillColorRGB(0.1, 0.35, 0.1)
        c.setFont("Helvetica-Bold", 9)
        c.drawString(rx * mm, ry * mm, _latin(t["doctor"]))
        c.setFont("Helvetica", 8)
        c.setFillColorRGB(0, 0, 0)
        yy = ry - 4.2
        from reportlab.lib.utils import simpleSplit

        items = list(rep.get("final_statements") or []) + ([rep["conclusion"]] if rep.get("conclusion") else [])
        lines = [ln for s in items for ln in simpleSplit(_latin(f"• {s}"), "Helvetica", 8, 88 * mm)]
        max_lines = int((ry - 4.2 - (top + 6)) // 3.6)      # stop above the grid
        if len(lines) > max_lines:
            lines = lines[: max_lines - 1] + ["…"]
        for ln in lines:
            c.drawString((rx + 2) * mm, yy * mm, ln)
            yy -= 3.6
        c.setFont("Helvetica-Oblique", 8)
        c.drawString(rx * mm, (yy - 1) * mm, _latin(t["signed"].format(name=doctor_name or t["unknown"],
                                                                    when=_fmt_date(rep["signed_at"]))))
    else:
        c.setFillColorRGB(0.75, 0.0, 0.0)
        c.rect((rx - 2) * mm, (ry - 9) * mm, 92 * mm, 13 * mm, stroke=0, fill=1)
        c.setFillColorRGB(1, 1, 1)
        c.setFont("Helvetica-Bold", 8.5)
        words = _latin(t["unsigned"]).split(" — ")
        c.drawString(rx * mm, (ry - 0.5) * mm, words[0])
        c.setFont("Helvetica", 8)
        c.drawString(rx * mm, (ry - 5.5) * mm, words[1] if len(words) > 1 else "")
    c.showPage()
    c.save()
    return buf.getvalue()
