"""The per-lead measurement matrix as carts print it, and the measured ST points on the paper.

Pure functions over the analysis document (``measurements.lead_matrix``, schema
``ecgpilot.analysis/2``), the reading (``ecgpilot.interpret``) and a laid-out
:class:`~ecgpilot.render.Paper`; the web page, :mod:`ecgpilot.render.svg` and
:mod:`ecgpilot.render.pdf` only display what they return.

* :func:`matrix_rows`: one row per measured lead (I, II, III, aVR, aVL, aVF, V1–V6 order),
  cells formatted, ST cells flagged when ≥ :data:`ST_HIGH_UV` or ≤ :data:`ST_LOW_UV`, and the
  statements of the reading that rest on the lead.
* :func:`st_marks`: for the leads an ischaemia statement rests on (category ``ischaemia`` or
  evidence named ``st_*``), the J, J+60 and J+80 points of every beat drawn on the paper, at
  the measured level: the beat's own PR-segment level on the drawn trace + ``st_*_uv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecgpilot.leads import STANDARD_12
from ecgpilot.render import Paper

__all__ = ["MATRIX_COLUMNS", "ST_POINTS", "ST_HIGH_UV", "ST_LOW_UV", "PR_WINDOW_MS", "PR_GAP_MS", "Cell",
           "MatrixRow", "StMark", "lead_matrix", "st_flag", "statement_leads", "ischaemia_leads", "matrix_rows",
           "st_marks"]

#: (key in ``lead_matrix.leads.<lead>``, column label, kind): ``uv`` amplitude, ``ms`` duration, ``st`` ST level.
MATRIX_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("p_pos_uv", "P+", "uv"), ("p_neg_uv", "P−", "uv"),
    ("q_uv", "Q", "uv"), ("q_ms", "Q ms", "ms"),
    ("r_uv", "R", "uv"), ("r_ms", "R ms", "ms"),
    ("s_uv", "S", "uv"), ("s_ms", "S ms", "ms"),
    ("rp_uv", "R′", "uv"), ("rp_ms", "R′ ms", "ms"),
    ("st_j_uv", "ST J", "st"), ("st_60_uv", "ST J+60", "st"), ("st_80_uv", "ST J+80", "st"),
    ("t_pos_uv", "T+", "uv"), ("t_neg_uv", "T−", "uv"),
)
#: (key in ``lead_matrix.points_ms``, ST value key, label) of the marked ST points.
ST_POINTS: tuple[tuple[str, str, str], ...] = (("j", "st_j_uv", "J"), ("j60", "st_60_uv", "J+60"),
                                               ("j80", "st_80_uv", "J+80"))
#: ST levels shown as notable: elevation from +100 µV (1 mm), depression from −50 µV (0.5 mm).
ST_HIGH_UV = 100.0
ST_LOW_UV = -50.0
#: The PR-segment window whose mean level anchors the ST marks on each beat: :data:`PR_WINDOW_MS`
#: ms ending :data:`PR_GAP_MS` ms before QRS onset, as the matrix's own baseline
#: (``ecgpilot.signal.leadmatrix.BASELINE_MS`` / ``BASELINE_GAP_MS``).
PR_WINDOW_MS = 16.0
PR_GAP_MS = 4.0


@dataclass(frozen=True)
class Cell:
    """One displayed value: its text (``—`` when not measured), number, kind and ST flag."""

    key: str
    text: str
    value: float | None
    kind: str
    flag: str | None = None          # "high" (≥ ST_HIGH_UV) or "low" (≤ ST_LOW_UV), ST cells only

    @property
    def mm(self) -> str | None:
        """An ST level in mm at 10 mm/mV (µV / 100), signed, one decimal; ``None`` otherwise."""
        if self.kind != "st" or self.value is None:
            return None
        return f"{self.value / 100:+.1f} mm"


@dataclass(frozen=True)
class MatrixRow:
    """One lead of the matrix, with the reading's statements that rest on it."""

    lead: str
    cells: list[Cell]
    findings: list[str] = field(default_factory=list)     # texts of the statements naming the lead
    quality: list[str] = field(default_factory=list)      # texts of the quality statements naming it

    @property
    def flagged(self) -> bool:
        return bool(self.findings)


@dataclass(frozen=True)
class StMark:
    """A measured ST point on the paper (mm, y downwards, from the grid's top-left corner)."""

    lead: str
    point: str          # "j", "j60" or "j80"
    beat: int           # index in measurements.beats_s
    t_s: float          # time of the point in the recording
    x_mm: float
    y_mm: float
    st_uv: float


def lead_matrix(analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    """``measurements.lead_matrix`` of an analysis document, or ``None`` when not measured."""
    lm = ((analysis or {}).get("measurements") or {}).get("lead_matrix")
    return lm if isinstance(lm, dict) and lm.get("leads") else None


def st_flag(value_uv: float | None) -> str | None:
    """``"high"`` for an ST level ≥ +100 µV, ``"low"`` for ≤ −50 µV, else ``None``."""
    if value_uv is None:
        return None
    if value_uv >= ST_HIGH_UV:
        return "high"
    if value_uv <= ST_LOW_UV:
        return "low"
    return None


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{float(value):.0f}".replace("-", "−")


def _ordered(names: Any) -> list[str]:
    rank = {n: k for k, n in enumerate(STANDARD_12)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def statement_leads(interpretation: dict[str, Any] | None, *, quality: bool = False) -> dict[str, list[str]]:
    """Lead → texts of the reading's statements resting on it: the findings, or with
    ``quality`` only the quality statements (a noisy lead is not a finding)."""
    out: dict[str, list[str]] = {}
    for s in (interpretation or {}).get("statements") or []:
        if (s.get("category") == "quality") != quality:
            continue
        for lead in s.get("leads") or []:
            out.setdefault(lead, []).append(str(s.get("text") or s.get("id") or ""))
    return out


def _is_ischaemia(statement: dict[str, Any]) -> bool:
    if statement.get("category") == "ischaemia":
        return True
    return any(str(e.get("name") or "").startswith("st_") for e in statement.get("evidence") or [])


def ischaemia_leads(interpretation: dict[str, Any] | None) -> list[str]:
    """Leads an ischaemia statement of the reading rests on (category ``ischaemia`` or evidence
    named ``st_*``), in the standard order: the leads whose ST points are marked."""
    leads = {lead for s in (interpretation or {}).get("statements") or [] if _is_ischaemia(s)
             for lead in s.get("leads") or []}
    return _ordered(leads)


def matrix_rows(analysis: dict[str, Any] | None, interpretation: dict[str, Any] | None = None) -> list[MatrixRow]:
    """The matrix as rows of formatted cells (empty list when the analysis has no matrix)."""
    lm = lead_matrix(analysis)
    if lm is None:
        return []
    found = statement_leads(interpretation)
    noisy = statement_leads(interpretation, quality=True)
    rows = []
    for lead in _ordered(lm["leads"]):
        vals = lm["leads"][lead] or {}
        cells = [Cell(key, _fmt(vals.get(key)), None if vals.get(key) is None else float(vals[key]), kind,
                      st_flag(vals.get(key)) if kind == "st" else None)
                 for key, _label, kind in MATRIX_COLUMNS]
        rows.append(MatrixRow(lead, cells, found.get(lead, []), noisy.get(lead, [])))
    return rows


def st_marks(paper: Paper, analysis: dict[str, Any] | None, interpretation: dict[str, Any] | None,
             leads: list[str] | None = None) -> list[StMark]:
    """The J, J+60, J+80 points of every beat on the traces of the marked leads (``leads``, by
    default :func:`ischaemia_leads` of the reading), at the level the matrix measured.

    The beats are those the matrix's median beat is made of (``lead_matrix.beats_s``, else
    ``measurements.beats_s``). A point's x is the beat's time + ``points_ms``; its y is the
    mean of the drawn trace over the beat's PR window (:data:`PR_WINDOW_MS` ms ending
    :data:`PR_GAP_MS` ms before QRS onset), raised by the lead's ``st_*_uv`` at the paper's
    gain. A beat is marked on a trace only when its PR window and its last ST point both lie
    on that trace; a value or point that was not measured (``None``) is not marked.
    """
    lm = lead_matrix(analysis)
    if lm is None:
        return []
    pts = lm.get("points_ms") or {}
    beats = lm.get("beats_s") or ((analysis or {}).get("measurements") or {}).get("beats_s") or []
    wanted = set(ischaemia_leads(interpretation) if leads is None else leads)
    q_on = pts.get("qrs_on")
    if not beats or not wanted or q_on is None:
        return []
    last_ms = max(float(pts.get(p) or 0.0) for p, _key, _label in ST_POINTS)
    marks: list[StMark] = []
    for tr in paper.traces:
        vals = lm["leads"].get(tr.lead) or {}
        if tr.lead not in wanted or tr.missing or tr.x.size < 2 or not vals:
            continue
        t = tr.t0_s + (tr.x - tr.x0_mm) / paper.speed_mm_s        # time of each drawn sample
        dt = float(t[1] - t[0])
        for k, b in enumerate(beats):
            pr1 = float(b) + (float(q_on) - PR_GAP_MS) / 1000.0
            pr0 = pr1 - PR_WINDOW_MS / 1000.0
            if pr0 < t[0] - dt / 2 or float(b) + last_ms / 1000.0 > t[-1] + dt / 2:
                continue
            sel = (t >= pr0 - dt / 2) & (t <= pr1 + dt / 2)
            if not sel.any():
                continue
            pr_y = float(np.mean(tr.y[sel]))
            for point, key, _label in ST_POINTS:
                ms, st = pts.get(point), vals.get(key)
                if ms is None or st is None:
                    continue
                tp = float(b) + float(ms) / 1000.0
                marks.append(StMark(tr.lead, point, k, tp, tr.x0_mm + (tp - tr.t0_s) * paper.speed_mm_s,
                                    pr_y - float(st) / 1000.0 * paper.gain_mm_mv, float(st)))
    return marks
