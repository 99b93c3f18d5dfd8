"""The ECG report as an A4 landscape PDF at true scale (1 mm of grid = 1 mm of paper).

Vector drawing with reportlab: header (patient with age, acquisition date, practice, doctor and
RPPS, device and filters, measurements with units and the QTc formula; the doctor's conclusion
and urgency, or the draft still to decide; the AI's proposal apart, labelled as such, with what
the doctor changed; model and rules versions) above the 3 × 4 + II tracing at 25 or 50 mm/s and
5, 10 or 20 mm/mV (stated on the page), each lead clipped to its row; a draft is marked across
the tracing. The bytes depend only on the inputs (no creation time in the file).
When the analysis carries the per-lead matrix (``measurements.lead_matrix``) it is printed
between the header and the grid, cart style (two blocks of six leads, small font), the grid
rows are then :data:`MATRIX_ROW_HEIGHT_MM` apart instead of :data:`ROW_HEIGHT_MM`, and the
measured ST points of the leads an ischaemia statement rests on are marked on the tracing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ecgpilot import messages
from ecgpilot.record import ECGRecord
from ecgpilot.render import calibration_path, paper_layout
from ecgpilot.render.matrix import MATRIX_COLUMNS, MatrixRow, ischaemia_leads, matrix_rows, st_marks

__all__ = ["report_pdf", "filter_text", "PAGE_MM", "GRID_ORIGIN_MM", "ROW_HEIGHT_MM", "MATRIX_ROW_HEIGHT_MM"]

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

_LEVEL_COLOUR = {"emergency": (0.75, 0.0, 0.0), "repeat_now": (0.75, 0.0, 0.0), "soon": (0.8, 0.4, 0.0), "routine": (0.1, 0.3, 0.6),
                 "normal": (0.1, 0.45, 0.1)}
_RIGHT_X_MM = 192.0           # left edge of the right column (the AI's proposal, the draft banner)
_LEFT_W_MM = _RIGHT_X_MM - GRID_ORIGIN_MM[0] - 4.0


def _latin(text: str) -> str:
    """Text safe for the standard PDF fonts (WinAnsi): replace the few symbols outside it."""
    for a, b in (("≥", ">="), ("≤", "<="), ("≈", "~"), ("−", "-"), ("µ", "u"), ("′", "'")):
        text = text.replace(a, b)
    return text.encode("cp1252", "replace").decode("cp1252")


def _patient(record: ECGRecord, report: dict[str, Any] | None) -> dict[str, Any]:
    p = dict(record.patient.to_dict())
    p.update({k: v for k, v in ((report or {}).get("patient") or {}).items() if v is not None})
    return p


#: the clock the printout's times are written in (a signature time is stored in UTC)
LOCAL_TZ = "Europe/Paris"


def _fmt_date(x: Any) -> str | None:
    """dd/mm/yyyy [HH:MM]; a time with a zone (e.g. the signature, in UTC) is written in French local time."""
    if x is None:
        return None
    if isinstance(x, datetime):
        if x.tzinfo is not None:
            from zoneinfo import ZoneInfo

            x = x.astimezone(ZoneInfo(LOCAL_TZ))
        return x.strftime("%d/%m/%Y %H:%M")
    if isinstance(x, date):
        return x.strftime("%d/%m/%Y")
    s = str(x)
    try:
        d = datetime.fromisoformat(s)
        return _fmt_date(d) if ("T" in s or " " in s) else d.strftime("%d/%m/%Y")
    except ValueError:
        return s


def _v(m: dict[str, Any], key: str, unit: str) -> str:
    return "—" if m.get(key) is None else f"{m[key]:.0f} {unit}"


def _num(x: float) -> str:
    return f"{x:g}"


def filter_text(extra: dict[str, Any], lang: str = "fr") -> str | None:
    """The acquisition filters the file states (high-pass, low-pass, mains), e.g. ``0.16–150 Hz, secteur 60 Hz``."""
    t = messages.section("pdf", lang)
    hp, lp = extra.get("highpass_hz"), extra.get("lowpass_hz")
    parts = []
    if isinstance(hp, (int, float)) and isinstance(lp, (int, float)):
        parts.append(f"{_num(hp)}–{_num(lp)} Hz")
    elif isinstance(hp, (int, float)):
        parts.append(f"{t['highpass']} {_num(hp)} Hz")
    elif isinstance(lp, (int, float)):
        parts.append(f"{t['lowpass']} {_num(lp)} Hz")
    mains = extra.get("ac_filter")
    if mains and str(mains).strip().upper() not in ("NONE", "0", "FALSE", "OFF"):
        parts.append(f"{t['mains']} {mains} Hz")
    notch = str(extra.get("notch_filtered") or "").strip().lower()
    if notch == "true":
        parts.append(t["mains"])
    return ", ".join(parts) or None


def _age(pat: dict[str, Any], at: Any) -> int | None:
    """Age in whole years: from the birth date at the acquisition (or today), else the file's age."""
    born = pat.get("birth_date")
    if born:
        try:
            b = born if isinstance(born, date) else date.fromisoformat(str(born)[:10])
        except ValueError:
            b = None
        if b is not None:
            when = at.date() if isinstance(at, datetime) else at if isinstance(at, date) else date.today()
            return when.year - b.year - ((when.month, when.day) < (b.month, b.day))
    age = pat.get("age_years")
    return int(age) if isinstance(age, (int, float)) and age >= 0 else None


def _watermark(c: Any, x: float, y: float, w: float, h: float, text: str) -> None:
    """``text`` across the rectangle (mm) along its diagonal, translucent red: the mark of a draft."""
    import math

    from reportlab.lib.units import mm

    c.saveState()
    c.setFillColorRGB(0.8, 0.0, 0.0)
    c.setFillAlpha(0.16)
    c.translate((x + w / 2) * mm, (y + h / 2) * mm)
    c.rotate(math.degrees(math.atan2(h, w)))
    diag = math.hypot(w, h) * mm
    size = 60.0
    width = c.stringWidth(text, "Helvetica-Bold", size)
    size = min(size, size * 0.85 * diag / width)
    c.setFont("Helvetica-Bold", size)
    c.drawCentredString(0, -size / 3, text)
    c.restoreState()


def _fit(c: Any, items: list[tuple[str, str]], width_mm: float, height_mm: float) -> tuple[float, float, list[tuple[str, str]]]:
    """The largest font (8, 7, 6.5, 6 pt) whose wrapped ``items`` (font, text) fit ``height_mm``: (size, pitch, lines)."""
    from reportlab.lib.units import mm
    from reportlab.lib.utils import simpleSplit

    for size, pitch in ((8.0, 3.5), (7.0, 3.0), (6.5, 2.8), (6.0, 2.5)):
        lines = [(font, ln) for font, text in items for ln in simpleSplit(_latin(text), font, size, width_mm * mm)]
        if len(lines) * pitch <= height_mm:
            return size, pitch, lines
    n = max(1, int(height_mm // pitch))
    return size, pitch, lines[: n - 1] + [("Helvetica-Bold", "…")]


def report_pdf(record: ECGRecord, analysis: dict, interpretation: dict, *, report: dict | None = None,
               lang: str = "fr", speed_mm_s: float = 25, gain_mm_mv: float = 10) -> bytes:
    """One A4 landscape page (bytes of a PDF): header and the ECG at true scale.

    ``report`` (optional, from the web app) holds what the doctor decided; it is the conclusion:
    ``patient`` (``family_name``, ``given_name``, ``birth_date``, ``sex``, ``ins``, ``age_years``),
    ``final_statements`` (the kept statements), ``pending_statements`` (draft: still to decide),
    ``urgency`` (the doctor's level) and ``urgency_text``, ``doctor`` (name, or a dict with ``name``),
    ``doctor_rpps``, ``practice``, ``acquired_at`` (when the record has no start time), ``signed_at``
    (ISO date-time), ``ai_review`` (counts: ``proposed``, ``confirmed``, ``edited``, ``rejected``,
    ``pending``, ``added``) and ``device_lines`` (the cart's own reading, printed apart). The AI's proposal is only a separate, labelled block (its urgency and
    what the doctor changed); rejected statements are never printed. Without ``signed_at`` the page
    is a draft: a banner, and "draft" written across the tracing. Without ``report`` the AI's
    statements are printed as a draft still to decide (likewise when ``report`` carries only the patient). The page states the paper speed and gain
    (``speed_mm_s`` 25 | 50, ``gain_mm_mv`` 5 | 10 | 20) and the filters the file gives.
    """
    messages.check_lang(lang)
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    t = messages.section("pdf", lang)
    rep = report or {}
    signed = bool(rep.get("signed_at"))
    buf = io.BytesIO()
    page_w, page_h = landscape(A4)
    c = canvas.Canvas(buf, pagesize=(page_w, page_h), pageCompression=1, invariant=1)
    c.setTitle(_latin(t["title"]))
    c.setCreator("ecgpilot")

    rows = matrix_rows(analysis, interpretation)
    row_h = MATRIX_ROW_HEIGHT_MM if rows else ROW_HEIGHT_MM
    grid_max = 4 * row_h
    paper = paper_layout(record, speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv, layout="3x4+II", row_height_mm=row_h)
    if paper.height_mm > grid_max:   # rhythm strips of a few-lead record: shorter rows
        n_rows = round(paper.height_mm / row_h)
        row = max(15.0, 5.0 * (grid_max / n_rows // 5))
        paper = paper_layout(record, speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv, layout="3x4+II", row_height_mm=row)
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

    # --- traces, each clipped to its row -------------------------------------------------
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
        path(calibration_path(0.0, base, paper.speed_mm_s, paper.gain_mm_mv))
    pitch_h = paper.height_mm / max(1, len(paper.calibrations))
    c.setFont("Helvetica-Bold", 8)
    for tr in paper.traces:
        c.setFillColorRGB(0, 0, 0)
        c.drawString((ox + tr.x0_mm + 1) * mm, (top - tr.baseline_mm + 9) * mm,
                     tr.lead + (" (absent)" if tr.missing else ""))
        if tr.x0_mm > 10.5:
            c.line((ox + tr.x0_mm) * mm, (top - tr.baseline_mm - 3) * mm, (ox + tr.x0_mm) * mm,
                   (top - tr.baseline_mm + 3) * mm)
        if tr.x.size > 1:
            band_top = tr.baseline_mm - 0.6 * pitch_h              # the row: 60 % above its baseline, 40 % below
            c.saveState()
            clip = c.beginPath()
            clip.rect(ox * mm, (top - band_top - pitch_h) * mm, paper.width_mm * mm, pitch_h * mm)
            c.clipPath(clip, stroke=0, fill=0)
            path(list(zip(tr.x.tolist(), tr.y.tolist())))
            c.restoreState()
    marks = st_marks(paper, analysis, interpretation)
    _draw_st_marks(c, [(ox + m.x_mm, top - m.y_mm, m.point) for m in marks])
    if not signed:
        _watermark(c, ox, oy, paper.width_mm, paper.height_mm, _latin(t["watermark"]))
    above = top                                      # lowest y (mm) the header may reach
    if rows:
        marked = [n for n in ischaemia_leads(interpretation) if any(m.lead == n for m in marks)]
        above = _draw_matrix(c, rows, ox, top + 1.2, paper.width_mm, t, marked)

    # --- header, left: the recording, the patient, the practice, the measurements -----------
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
    acquired = record.start_time or rep.get("acquired_at")
    acq = _fmt_date(acquired) or t["unknown"]
    age = _age(pat, acquired if isinstance(acquired, datetime) else None)
    src = record.source
    filters = filter_text(src.extra or {}, lang)
    paper_txt = f"{paper.speed_mm_s:g} mm/s · {paper.gain_mm_mv:g} mm/mV"
    line(f"{t['title']} — {paper_txt}" + (f" — {t['filters']} {filters}" if filters else ""), size=12, bold=True, dy=5.5)
    line(f"{t['patient']} : {name}   {t['born']} {born}" + (f" ({t['age'].format(n=age)})" if age is not None else "")
         + f"   {t['sex']} {sex}" + (f"   {t['ins']} {ins}" if ins else "") + f"   |   {t['acq']} : {acq}", size=9)
    doctor = rep.get("doctor")
    doctor_name = doctor.get("name") if isinstance(doctor, dict) else doctor
    who = [f"{t['practice']} : {rep['practice']}"] if rep.get("practice") else []
    if doctor_name:
        who.append(doctor_name + (f" ({t['rpps']} {rep['doctor_rpps']})" if rep.get("doctor_rpps") else ""))
    device = " ".join(x for x in (src.manufacturer, src.device) if x)
    if device:
        who.append(f"{t['device']} : {device}")
    if who:
        line("   —   ".join(who), size=8)
    m = analysis.get("measurements") or {}
    formula = (m.get("qtc_formula") or "fridericia").capitalize()
    axes = "/".join("—" if m.get(k) is None else f"{m[k]:.0f}" for k in ("p_axis_deg", "qrs_axis_deg", "t_axis_deg"))
    line(f"{t['hr']} {_v(m, 'heart_rate_bpm', '/min')}   PR {_v(m, 'pr_ms', 'ms')}   QRS {_v(m, 'qrs_ms', 'ms')}   "
         f"QT {_v(m, 'qt_ms', 'ms')}   QTc ({formula}) {_v(m, 'qtc_ms', 'ms')}   {t['axis']} {axes}°", size=9, dy=5.0)

    # --- the conclusion: the doctor's (signed), or the draft still to decide ----------------
    ai_urg = (interpretation.get("urgency") or {}).get("level")
    reviewed = signed or any(k in rep for k in ("final_statements", "pending_statements", "urgency"))
    if not reviewed:   # no doctor yet: the AI's findings, all still to decide
        kept: list[str] = []
        pending = [s.get("text", "") + ("" if s.get("confidence") is None else f" [{s['confidence']:.2f}]")
                   for s in interpretation.get("statements", []) if s.get("status", "finding") == "finding"
                   and (s.get("category") != "quality" or s.get("urgency") != "normal")]
        level = ai_urg
    else:
        kept = [str(x) for x in rep.get("final_statements") or []]
        pending = [str(x) for x in rep.get("pending_statements") or []]
        level = rep.get("urgency")
    level_txt = rep.get("urgency_text") or (t["levels"].get(level, level) if level else None)
    if signed:
        when = _fmt_date(rep["signed_at"])
        line(f"{t['doctor']} — " + t["signed"].format(name=doctor_name or t["unknown"], when=when), size=9, bold=True,
             colour=(0.1, 0.35, 0.1), dy=4.6)
        if level_txt:
            line(f"{t['urgency']} : {level_txt}", size=11, bold=True, colour=_LEVEL_COLOUR.get(level or "", (0, 0, 0)), dy=4.8)
    else:
        line(t["draft"], size=9, bold=True, colour=(0.75, 0.0, 0.0), dy=4.6)
        if level_txt:
            line(f"{t['draft_urgency']} : {level_txt}", size=10, bold=True,
                 colour=_LEVEL_COLOUR.get(level or "", (0, 0, 0)), dy=4.8)
    items = [("Helvetica", f"• {s}") for s in kept] + [("Helvetica-Oblique", f"• {s} — {t['pending']}") for s in pending]
    if rep.get("conclusion") and not level_txt:
        items.append(("Helvetica", f"• {rep['conclusion']}"))
    size, pitch, lines = _fit(c, items, _LEFT_W_MM - 3, y - (above + 2.0))
    overflow = bool(lines) and lines[-1] == ("Helvetica-Bold", "…")
    if overflow:   # never cut the doctor's words: the whole conclusion follows on page 2
        lines[-1] = ("Helvetica-Bold", _latin(t["continued"]))
    for font, ln in lines:
        c.setFillColorRGB(0, 0, 0)
        c.setFont(font, size)
        c.drawString((left + 3) * mm, y * mm, ln)
        y -= pitch

    # --- right column: the draft banner, the AI's proposal as such, the versions -------------
    rx = _RIGHT_X_MM
    ry = PAGE_MM[1] - 10.0
    if not signed:
        c.setFillColorRGB(0.75, 0.0, 0.0)
        c.rect((rx - 2) * mm, (ry - 7.5) * mm, 92 * mm, 11 * mm, stroke=0, fill=1)
        c.setFillColorRGB(1, 1, 1)
        c.setFont("Helvetica-Bold", 8.5)
        words = _latin(t["unsigned"]).split(" — ")
        c.drawString(rx * mm, ry * mm, words[0])
        c.setFont("Helvetica", 8)
        c.drawString(rx * mm, (ry - 4.5) * mm, words[1] if len(words) > 1 else "")
        ry -= 12.0

    def right(text: str, size: float = 7.5, bold: bool = False, colour: tuple[float, float, float] = (0.25, 0.25, 0.25),
              dy: float = 3.4) -> None:
        nonlocal ry
        c.setFillColorRGB(*colour)
        c.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        c.drawString(rx * mm, ry * mm, _latin(text))
        ry -= dy

    right(t["ai_block"], size=8, bold=True, dy=3.8)
    if ai_urg:
        right(t["ai_urgency"].format(level=t["levels"].get(ai_urg, ai_urg)))
        if reviewed and level:
            right("  > " + (t["ai_kept"] if level == ai_urg else t["ai_changed"].format(level=level_txt)))
    else:
        right(t["ai_none"])
    review = rep.get("ai_review") or {}
    if review.get("proposed"):
        right(t["ai_review"].format(n=review["proposed"], c=review.get("confirmed", 0), e=review.get("edited", 0),
                                    r=review.get("rejected", 0)))
        if review.get("pending"):
            right("  " + t["ai_pending"].format(n=review["pending"]))
    if review.get("added"):
        right(t["ai_added"].format(n=review["added"]))
    ai = analysis.get("ai") or {}
    model = ai.get("model_version") or t["no_ai"]
    from reportlab.lib.utils import simpleSplit

    versions = _latin(f"{t['versions']} : ecgpilot {analysis.get('ecgpilot_version', '?')} · {t['model']} {model} · "
                      f"{t['rules']} {interpretation.get('rules_version', '?')}")
    for ln in simpleSplit(versions, "Helvetica", 6.5, (PAGE_MM[0] - rx - 6) * mm)[:3]:
        right(ln, size=6.5, colour=(0.4, 0.4, 0.4), dy=2.7)
    cart = [str(x) for x in rep.get("device_lines") or []]   # the cart's own reading, apart as well
    if cart:
        ry -= 1.0
        room = int((ry - (above + 2.0)) // 2.8)
        for k, text in enumerate(cart):
            for ln in simpleSplit(_latin(text), "Helvetica", 6.5, (PAGE_MM[0] - rx - 6) * mm):
                if room <= 0:
                    break
                right(ln, size=6.5, colour=(0.55, 0.25, 0.0) if k else (0.15, 0.15, 0.15), dy=2.8)
                room -= 1
    if overflow:
        c.showPage()
        _continuation(c, t, name, born, acq, items, signed)
    c.showPage()
    c.save()
    return buf.getvalue()


def _continuation(c: Any, t: Mapping[str, Any], name: str, born: str, acq: str, items: list[tuple[str, str]],
                  signed: bool) -> None:
    """Page 2: the whole conclusion when page 1 has no room for it (the doctor's words are never cut)."""
    from reportlab.lib.units import mm
    from reportlab.lib.utils import simpleSplit

    y = PAGE_MM[1] - 15.0
    c.setFont("Helvetica-Bold", 12)
    c.drawString(GRID_ORIGIN_MM[0] * mm, y * mm, _latin(f"{t['title']} — {t['doctor'] if signed else t['draft']}"))
    y -= 6.0
    c.setFont("Helvetica", 9)
    c.drawString(GRID_ORIGIN_MM[0] * mm, y * mm, _latin(f"{t['patient']} : {name}   {t['born']} {born}   |   {t['acq']} : {acq}"))
    y -= 8.0
    for font, text in items:
        for ln in simpleSplit(_latin(text), font, 9, (PAGE_MM[0] - 2 * GRID_ORIGIN_MM[0]) * mm):
            if y < 12.0:
                c.showPage()
                y = PAGE_MM[1] - 15.0
            c.setFont(font, 9)
            c.drawString((GRID_ORIGIN_MM[0] + 3) * mm, y * mm, ln)
            y -= 4.2


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


def _draw_matrix(c: Any, rows: list[MatrixRow], x0: float, bottom: float, width: float, t: Mapping[str, Any],
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
