"""The ECG report as an A4 landscape PDF at true scale (1 mm of grid = 1 mm of paper).

Vector drawing with reportlab: header (patient, acquisition date, measurements with units
and the QTc formula, the reading and its urgency, model and rules versions, the doctor's
validation or a "not validated" banner) above the 3 × 4 + II tracing at 25 mm/s, 10 mm/mV.
When the analysis carries the per-lead matrix (``measurements.lead_matrix``) it is printed
between the header and the grid, cart style (two blocks of six leads, small font), the grid
rows are then :data:`MATRIX_ROW_HEIGHT_MM` apart instead of :data:`ROW_HEIGHT_MM`, and the
measured ST points of the leads an ischaemia statement rests on are marked on the tracing.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from ecgpilot.errors import ConfigError
from ecgpilot.record import ECGRecord
from ecgpilot.render import calibration_path, paper_layout
from ecgpilot.render.matrix import MATRIX_COLUMNS, MatrixRow, ischaemia_leads, matrix_rows, st_marks

__all__ = ["report_pdf", "PAGE_MM", "GRID_ORIGIN_MM", "ROW_HEIGHT_MM", "MATRIX_ROW_HEIGHT_MM"]

#: A4 landscape, mm.
PAGE_MM = (297.0, 210.0)
ROW_HEIGHT_MM = 35.0
#: Row pitch of the grid when the per-lead matrix is printed above it (room for the table).
MATRIX_ROW_HEIGHT_MM = 30.0
#: Bottom-left corner of the grid on the page (mm from the page's bottom-left corner).
GRID_ORIGIN_MM = (18.5, 8.0)
_MATRIX_PITCH_MM = 2.5          # line pitch of the matrix table
_MATRIX_FONT = 5.5              # pt
_MATRIX_ST_COLOUR = {"high": (0.75, 0.0, 0.0), "low": (0.05, 0.25, 0.7)}
_ST_MARK_RGB = (0.76, 0.09, 0.36)

_TXT = {
    "fr": {"title": "ECG 12 dérivations", "patient": "Patient", "born": "né(e) le", "sex": "sexe",
           "ins": "INS", "acq": "Acquisition", "unknown": "inconnu(e)", "hr": "FC", "axis": "Axes P/QRS/T",
           "reading": "Lecture", "urgency": "Urgence", "versions": "Versions", "model": "modèle IA",
           "rules": "règles", "no_ai": "sans IA", "doctor": "Conclusion du médecin",
           "signed": "validé par {name} le {when}",
           "unsigned": "NON VALIDÉ — proposition de l'IA, à confirmer par le médecin",
           "levels": {"emergency": "URGENCE", "repeat_now": "REFAIRE L'ECG MAINTENANT", "soon": "avis cardiologique rapide",
                      "routine": "suivi habituel", "normal": "normal"},
           "paper": "25 mm/s · 10 mm/mV", "more": "… et {n} autre(s) constat(s)",
           "matrix": "Mesures par dérivation — amplitudes en µV (niveau PR), durées en ms ; ST : 100 µV = 1 mm",
           "lead": "Dér.", "st_legend": "points ST mesurés (niveau PR + ST)"},
    "en": {"title": "12-lead ECG", "patient": "Patient", "born": "born", "sex": "sex",
           "ins": "INS", "acq": "Acquired", "unknown": "unknown", "hr": "HR", "axis": "Axes P/QRS/T",
           "reading": "Reading", "urgency": "Urgency", "versions": "Versions", "model": "AI model",
           "rules": "rules", "no_ai": "no AI", "doctor": "Doctor's conclusion",
           "signed": "validated by {name} on {when}",
           "unsigned": "NOT VALIDATED — AI proposal, to be confirmed by the doctor",
           "levels": {"emergency": "EMERGENCY", "repeat_now": "REPEAT THE ECG NOW", "soon": "cardiology advice soon",
                      "routine": "usual follow-up", "normal": "normal"},
           "paper": "25 mm/s · 10 mm/mV", "more": "… and {n} more finding(s)",
           "matrix": "Per-lead measurements — amplitudes in µV (PR level), durations in ms; ST: 100 µV = 1 mm",
           "lead": "Lead", "st_legend": "measured ST points (PR level + ST)"},
}
_LEVEL_COLOUR = {"emergency": (0.75, 0.0, 0.0), "repeat_now": (0.75, 0.0, 0.0), "soon": (0.8, 0.4, 0.0), "routine": (0.1, 0.3, 0.6),
                 "normal": (0.1, 0.45, 0.1)}


def _latin(text: str) -> str:
    """Text safe for the standard PDF fonts (WinAnsi): replace the few symbols outside it."""
    for a, b in (("≥", ">="), ("≤", "<="), ("≈", "~"), ("−", "-"), ("µ", "u"), ("′", "'")):
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

    rows = matrix_rows(analysis, interpretation)
    row_h = MATRIX_ROW_HEIGHT_MM if rows else ROW_HEIGHT_MM
    grid_max = 4 * row_h
    paper = paper_layout(record, speed_mm_s=25, gain_mm_mv=10, layout="3x4+II", row_height_mm=row_h)
    if paper.height_mm > grid_max:   # rhythm strips of a few-lead record: shorter rows
        n_rows = round(paper.height_mm / row_h)
        row = max(15.0, 5.0 * (grid_max / n_rows // 5))
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
    marks = st_marks(paper, analysis, interpretation)
    _draw_st_marks(c, [(ox + m.x_mm, top - m.y_mm, m.point) for m in marks])
    above = top                                      # lowest y (mm) the header may reach
    if rows:
        marked = [n for n in ischaemia_leads(interpretation) if any(m.lead == n for m in marks)]
        above = _draw_matrix(c, rows, ox, top + 1.2, paper.width_mm, t, marked)

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
        max_lines = int((ry - 4.2 - (above + 6)) // 3.6)    # stop above the matrix or the grid
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


def _draw_st_marks(c: Any, marks: list[tuple[float, float, str]]) -> None:
    """ST points at page positions (mm): J filled dot, J+60 open circle, J+80 filled square."""
    from reportlab.lib.units import mm

    c.setStrokeColorRGB(*_ST_MARK_RGB)
    c.setFillColorRGB(*_ST_MARK_RGB)
    c.setLineWidth(0.35)
    for x, y, point in marks:
        if point == "j":
            c.circle(x * mm, y * mm, 0.4 * mm, stroke=0, fill=1)
        elif point == "j60":
            c.setFillColorRGB(1, 1, 1)
            c.circle(x * mm, y * mm, 0.35 * mm, stroke=1, fill=1)
            c.setFillColorRGB(*_ST_MARK_RGB)
        else:
            c.rect((x - 0.3) * mm, (y - 0.3) * mm, 0.6 * mm, 0.6 * mm, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    c.setStrokeColorRGB(0, 0, 0)


def _draw_matrix(c: Any, rows: list[MatrixRow], x0: float, bottom: float, width: float, t: dict[str, Any],
                 marked: list[str]) -> float:
    """The matrix in two blocks of six leads (limb | chest) above ``bottom`` (mm from the page's
    bottom), ``width`` mm wide from ``x0``; returns the top (mm) of what it drew."""
    from reportlab.lib.units import mm

    gap = 6.0
    lead_w = 7.0
    block_w = (width - gap) / 2
    weight = {"uv": 1.0, "ms": 0.72, "st": 1.13}              # ms values have 3 digits, ST labels are long
    unit = (block_w - lead_w) / sum(weight[kind] for _k, _l, kind in MATRIX_COLUMNS)
    right_of = [lead_w + sum(weight[kind] * unit for _k, _l, kind in MATRIX_COLUMNS[: j + 1]) - 0.6
                for j in range(len(MATRIX_COLUMNS))]               # right edge (mm) of each value
    blocks = [rows[:6], rows[6:12]] if len(rows) > 6 else [rows]
    n_lines = max(len(b) for b in blocks) + 1                 # header + leads
    pitch = _MATRIX_PITCH_MM
    head_y = bottom + (n_lines - 1) * pitch
    title_y = head_y + pitch + 0.8
    c.setFillColorRGB(0, 0, 0)
    c.setFont("Helvetica-Bold", 6.5)
    c.drawString(x0 * mm, title_y * mm, _latin(t["matrix"]))
    if marked:                                                 # legend of the ST marks, right-aligned
        legend = _latin(f"{t['st_legend']} : {', '.join(marked)}")
        c.setFont("Helvetica", 6)
        right = x0 + width
        c.drawRightString(right * mm, title_y * mm, legend)
        lx = right - c.stringWidth(legend, "Helvetica", 6) / mm - 2.0
        for point, label in (("j80", "J+80"), ("j60", "J+60"), ("j", "J")):
            lx -= c.stringWidth(label, "Helvetica", 6) / mm
            c.drawString(lx * mm, title_y * mm, label)
            lx -= 1.2
            _draw_st_marks(c, [(lx, title_y + 0.8, point)])
            lx -= 2.0
    for k, block in enumerate(blocks):
        bx = x0 + k * (block_w + gap)
        c.setFont("Helvetica-Bold", _MATRIX_FONT)
        c.setFillColorRGB(0, 0, 0)
        c.drawString(bx * mm, head_y * mm, _latin(t["lead"]))
        for j, (_key, label, _kind) in enumerate(MATRIX_COLUMNS):
            c.drawRightString((bx + right_of[j]) * mm, head_y * mm, _latin(label))
        c.setLineWidth(0.2)
        c.line(bx * mm, (head_y - 0.8) * mm, (bx + block_w) * mm, (head_y - 0.8) * mm)
        for i, row in enumerate(block):
            y = head_y - (i + 1) * pitch
            if row.flagged:                                     # a lead a finding rests on
                c.setFillColorRGB(1.0, 0.94, 0.7)
                c.rect(bx * mm, (y - 0.7) * mm, block_w * mm, pitch * mm, stroke=0, fill=1)
            c.setFillColorRGB(0, 0, 0)
            c.setFont("Helvetica-Bold" if row.flagged else "Helvetica", _MATRIX_FONT)
            c.drawString(bx * mm, y * mm, row.lead)
            for j, cell in enumerate(row.cells):
                c.setFillColorRGB(*_MATRIX_ST_COLOUR.get(cell.flag or "", (0, 0, 0)))
                c.setFont("Helvetica-Bold" if cell.flag else "Helvetica", _MATRIX_FONT)
                c.drawRightString((bx + right_of[j]) * mm, y * mm, _latin(cell.text))
    c.setFillColorRGB(0, 0, 0)
    return title_y + 2.0
