"""The ECG as an SVG image on standard paper, in millimetre user units (1 unit = 1 mm)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from ecgpilot import messages
from ecgpilot.record import ECGRecord
from ecgpilot.render import CAL_WIDTH_MM, Paper, calibration_path, paper_layout
from ecgpilot.render.matrix import StMark, ischaemia_leads, st_marks

__all__ = ["ecg_svg", "screen_points", "SCREEN_COLUMN_MM", "GRID_MINOR", "GRID_MAJOR", "TRACE", "ST_MARK"]

GRID_MINOR = "#f2a7a7"
GRID_MAJOR = "#e06666"
TRACE = "#000000"
#: Colour of the measured ST points (J, J+60, J+80).
ST_MARK = "#c2185b"
_MARGIN = 5.0
_HEADER = 10.0


#: Width (mm) of the columns a trace is reduced to on screen: a quarter of the small square, about
#: one CSS pixel at true size (25.4 / 96 = 0.26 mm). 10 ms at 25 mm/s, 5 ms at 50 mm/s.
SCREEN_COLUMN_MM = 0.25
#: Recordings drawn on more than this much paper (a 12-lead page draws about 1 000 mm of trace; a 60-s
#: single-lead recording 1 500 mm) use columns of :data:`LONG_COLUMN_MM`, so that no study page passes
#: ~150 KB; 0.5 mm columns still hold every 1-mm extreme (they tile each millimetre).
LONG_PAPER_MM = 1200.0
LONG_COLUMN_MM = 0.5


def screen_points(x: np.ndarray, y: np.ndarray, column_mm: float | None = SCREEN_COLUMN_MM) -> np.ndarray:
    """Indices of the samples of a trace (x increasing, mm) drawn on screen: in every column of
    ``column_mm`` of the paper, the lowest and the highest point, in time order, plus the first and
    last samples. The drawn envelope is that of the signal at that width, so a QRS peak, a notch's
    extremes or a pacing spike of one sample are kept at their own time and amplitude; only the path
    between a column's two extremes is straightened. ``None``: every sample (a 500 Hz record at
    25 mm/s has 20 samples a millimetre, 1000 Hz has 40; this keeps at most 8)."""
    n = x.size
    if column_mm is None or n <= 2:
        return np.arange(n)
    col = np.floor(x / column_mm + 1e-6).astype(np.int64)   # 34.99999999 mm is in the column from 35
    order = np.lexsort((y, col))             # by column, then by y within the column
    starts = np.flatnonzero(np.r_[True, col[order][1:] != col[order][:-1]])
    ends = np.r_[starts[1:] - 1, n - 1]
    return np.unique(np.r_[order[starts], order[ends], 0, n - 1])


def _pts(x: np.ndarray, y: np.ndarray) -> str:
    """SVG points at 0.01 mm, without trailing zeros ("123.4,56" for 123.40, 56.00)."""
    return " ".join(f"{a:g},{b:g}" for a, b in zip(np.round(x, 2).tolist(), np.round(y, 2).tolist()))


def _measure_line(analysis: dict[str, Any], lang: str = "fr") -> str:
    m = analysis.get("measurements") or {}
    w = messages.section("tracing", lang)

    def v(key: str, unit: str) -> str:
        return "—" if m.get(key) is None else f"{m[key]:.0f} {unit}"

    formula = (m.get("qtc_formula") or "fridericia").capitalize()
    return (f"{w['hr']} {v('heart_rate_bpm', '/min')}  PR {v('pr_ms', 'ms')}  QRS {v('qrs_ms', 'ms')}  "
            f"QT {v('qt_ms', 'ms')}  QTc ({formula}) {v('qtc_ms', 'ms')}  {w['axis']} {v('qrs_axis_deg', '°')}")


def _st_symbol(point: str, x: float, y: float, attrs: str = "") -> str:
    """J: filled dot; J+60: open circle; J+80: filled square (legible in black and white too)."""
    if point == "j":
        return f'<circle{attrs} cx="{x:.2f}" cy="{y:.2f}" r="0.4" fill="{ST_MARK}"/>'
    if point == "j60":
        return (f'<circle{attrs} cx="{x:.2f}" cy="{y:.2f}" r="0.35" fill="#ffffff" stroke="{ST_MARK}" '
                'stroke-width="0.15"/>')
    return f'<rect{attrs} x="{x - 0.3:.2f}" y="{y - 0.3:.2f}" width="0.6" height="0.6" fill="{ST_MARK}"/>'


def _st_marks_svg(marks: list[StMark]) -> list[str]:
    out = ['<g id="st-marks">']
    for m in marks:
        attrs = (f' class="st-mark" data-lead="{escape(m.lead)}" data-point="{m.point}" data-beat="{m.beat}" '
                 f'data-st-uv="{m.st_uv:g}"')
        out.append(_st_symbol(m.point, m.x_mm, m.y_mm, attrs))
    out.append("</g>")
    return out


def _st_legend(x: float, y: float, leads: list[str], lang: str) -> list[str]:
    """Legend of the ST marks on the header line: text, the three symbols, the marked leads."""
    title = messages.text("tracing.st_legend", lang)
    out = ['<g id="st-legend" font-family="Helvetica, Arial, sans-serif" font-size="3">',
           f'<text x="{x:.2f}" y="{y:.2f}">{escape(title)}</text>']
    cx = x + 0.52 * 3 * len(title) + 2
    for point, label in (("j", "J"), ("j60", "J+60"), ("j80", "J+80")):
        out.append(_st_symbol(point, cx, y - 1.0))
        out.append(f'<text x="{cx + 1.2:.2f}" y="{y:.2f}">{label}</text>')
        cx += 1.2 + 0.6 * 3 * len(label) + 2
    out.append(f'<text x="{cx:.2f}" y="{y:.2f}">— {escape(", ".join(leads))}</text>')
    out.append("</g>")
    return out


def _row_of(paper: Paper, baseline_mm: float) -> int:
    """Index of the row whose baseline is ``baseline_mm``."""
    return min(range(len(paper.calibrations)), key=lambda k: abs(paper.calibrations[k] - baseline_mm))


def _row_clips(paper: Paper) -> list[str]:
    """One clip rectangle per row (60 % of the row above its baseline, 40 % below), in the grid's
    coordinates: a large complex stays in its own row instead of running over its neighbours."""
    pitch = paper.height_mm / max(1, len(paper.calibrations))
    return [f'<clipPath id="row-{k}" clipPathUnits="userSpaceOnUse"><rect x="0" y="{base - 0.6 * pitch:.2f}" '
            f'width="{paper.width_mm:g}" height="{pitch:.2f}"/></clipPath>' for k, base in enumerate(paper.calibrations)]


def ecg_svg(record: ECGRecord, *, analysis: dict | None = None, speed_mm_s: float = 25,
            gain_mm_mv: float = 10, layout: str = "3x4+II", reading: dict | None = None,
            lang: str = "fr", column_mm: float | None = SCREEN_COLUMN_MM) -> str:
    """Standard ECG paper as an SVG document whose user unit is the millimetre.

    1-mm and 5-mm grids (two pattern-filled rects), the 3 × 4 layout plus a lead II
    rhythm strip (``layout='3x4+II'``; ``'3x4'`` without it; ``'rhythm'`` strips only),
    a 1 mV calibration pulse at the start of each row and lead labels. Missing leads are
    labelled "absent"; single-lead records are drawn as rhythm strips. With ``analysis``
    the measurements are printed above the grid and the detected beats ticked on the
    rhythm strip. With ``analysis`` carrying ``measurements.lead_matrix`` and ``reading`` (the
    output of :func:`ecgpilot.interpret.interpret`), the J, J+60 and J+80 points of every beat
    of the leads an ischaemia statement rests on are marked at the measured ST level
    (:func:`ecgpilot.render.matrix.st_marks`), with a legend in ``lang`` (fr, en). Each trace is
    clipped to its row; the root carries ``data-mm-per-s`` and ``data-mm-per-mv`` (the caliper's scale).
    Speed must be 25 or 50 mm/s and gain 5, 10 or 20 mm/mV (``ConfigError``).

    The image is for the screen: each trace keeps, per ``column_mm`` of paper (:data:`LONG_COLUMN_MM`
    when the traces span more than :data:`LONG_PAPER_MM`), its lowest and highest sample
    (:func:`screen_points`; ``None`` draws every sample), at 0.01 mm. The paper scale
    is unchanged; the PDF (:mod:`ecgpilot.render.pdf`) draws every sample.
    """
    messages.check_lang(lang)
    paper = paper_layout(record, speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv, layout=layout)
    if column_mm is not None and sum(float(tr.x[-1] - tr.x[0]) for tr in paper.traces if tr.x.size) > LONG_PAPER_MM:
        column_mm = max(column_mm, LONG_COLUMN_MM)
    gx, gy = _MARGIN, _MARGIN + _HEADER
    w = paper.width_mm + 2 * _MARGIN
    h = paper.height_mm + _HEADER + 2 * _MARGIN
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}mm" height="{h:g}mm" viewBox="0 0 {w:g} {h:g}" '
        f'data-mm-per-s="{paper.speed_mm_s:g}" data-mm-per-mv="{paper.gain_mm_mv:g}">',
        "<defs>",
        *_row_clips(paper),
        f'<pattern id="grid1mm" x="{gx:g}" y="{gy:g}" width="1" height="1" patternUnits="userSpaceOnUse">'
        f'<path d="M 1 0 L 0 0 0 1" fill="none" stroke="{GRID_MINOR}" stroke-width="0.1"/></pattern>',
        f'<pattern id="grid5mm" x="{gx:g}" y="{gy:g}" width="5" height="5" patternUnits="userSpaceOnUse">'
        f'<path d="M 5 0 L 0 0 0 5" fill="none" stroke="{GRID_MAJOR}" stroke-width="0.25"/></pattern>',
        "</defs>",
        f'<rect width="{w:g}" height="{h:g}" fill="#ffffff"/>',
        f'<rect id="minor-grid" x="{gx:g}" y="{gy:g}" width="{paper.width_mm:g}" height="{paper.height_mm:g}" '
        'fill="url(#grid1mm)"/>',
        f'<rect id="major-grid" x="{gx:g}" y="{gy:g}" width="{paper.width_mm:g}" height="{paper.height_mm:g}" '
        f'fill="url(#grid5mm)" stroke="{GRID_MAJOR}" stroke-width="0.15"/>',
    ]
    info = f"{paper.speed_mm_s:g} mm/s   {paper.gain_mm_mv:g} mm/mV   {record.fs:g} Hz"
    out.append(f'<text x="{gx:g}" y="{_MARGIN + 4:g}" font-family="Helvetica, Arial, sans-serif" '
               f'font-size="3">{escape(info)}</text>')
    if analysis is not None:
        out.append(f'<text x="{gx:g}" y="{_MARGIN + 8.5:g}" font-family="Helvetica, Arial, sans-serif" '
                   f'font-size="3">{escape(_measure_line(analysis, lang))}</text>')
    marks = st_marks(paper, analysis, reading) if analysis is not None and reading is not None else []
    if marks:
        out.extend(_st_legend(gx + 80.0, _MARGIN + 4, [n for n in ischaemia_leads(reading)
                                                          if any(m.lead == n for m in marks)], lang))
    out.append(f'<g id="ecg" transform="translate({gx:g},{gy:g})" font-family="Helvetica, Arial, sans-serif" '
               'font-size="3.5">')
    for k, base in enumerate(paper.calibrations):
        pts = calibration_path(0.0, base, paper.speed_mm_s, paper.gain_mm_mv)
        out.append(f'<polyline class="calibration" points="{" ".join(f"{a:.2f},{b:.2f}" for a, b in pts)}" '
                   f'fill="none" stroke="{TRACE}" stroke-width="0.25"/>')
    for tr in paper.traces:
        label_y = tr.baseline_mm - 0.6 * paper.gain_mm_mv - 2 if paper.gain_mm_mv <= 10 else tr.baseline_mm - 10
        label = tr.lead + (" (absent)" if tr.missing else "")
        out.append(f'<text class="lead-label" x="{tr.x0_mm + 1:.2f}" y="{label_y:.2f}">{escape(label)}</text>')
        if tr.x0_mm > 10.5:   # column separator
            out.append(f'<line class="separator" x1="{tr.x0_mm:.2f}" y1="{tr.baseline_mm - 3:.2f}" '
                       f'x2="{tr.x0_mm:.2f}" y2="{tr.baseline_mm + 3:.2f}" stroke="{TRACE}" stroke-width="0.25"/>')
        if tr.x.size:
            keep = screen_points(tr.x, tr.y, column_mm)
            out.append(f'<polyline class="trace" data-lead="{escape(tr.lead)}" data-t0="{tr.t0_s:g}" '
                       f'clip-path="url(#row-{_row_of(paper, tr.baseline_mm)})" '
                       f'points="{_pts(tr.x[keep], tr.y[keep])}" fill="none" stroke="{TRACE}" stroke-width="0.3" '
                       'stroke-linejoin="round"/>')
    if analysis is not None and paper.rhythm_baseline_mm is not None:
        beats = (analysis.get("measurements") or {}).get("beats_s") or []
        y = paper.rhythm_baseline_mm + paper.gain_mm_mv * 0.8
        for b in beats:
            x = CAL_WIDTH_MM + float(b) * paper.speed_mm_s
            if x <= paper.width_mm:
                out.append(f'<line class="beat" x1="{x:.2f}" y1="{y:.2f}" x2="{x:.2f}" y2="{y + 2:.2f}" '
                           'stroke="#1f4e9c" stroke-width="0.3"/>')
    if marks:
        out.extend(_st_marks_svg(marks))
    out.append("</g></svg>")
    return "\n".join(out)
