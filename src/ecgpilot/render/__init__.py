"""The ECG on paper: page layout in millimetres, shared by the SVG and PDF renderers.

:func:`paper_layout` is a pure function that places every trace on standard ECG paper
(x to the right, y **downwards**, in mm from the top-left corner of the grid): the usual
3 × 4 layout (2.5 s per column at 25 mm/s: I/II/III, aVR/aVL/aVF, V1–V3, V4–V6) with a
10-s rhythm strip (lead II), or rhythm strips only for records with few leads. Each row
starts with a 1 mV calibration pulse. :mod:`ecgpilot.render.svg` and
:mod:`ecgpilot.render.pdf` only draw what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import ConfigError
from ecgpilot.record import ECGRecord

__all__ = ["SPEEDS", "GAINS", "LAYOUTS", "Trace", "Paper", "paper_layout", "check_settings"]

SPEEDS: tuple[float, ...] = (25.0, 50.0)          # mm/s
GAINS: tuple[float, ...] = (5.0, 10.0, 20.0)       # mm/mV
LAYOUTS: tuple[str, ...] = ("3x4+II", "3x4", "rhythm")

#: Width of the traced area (mm): 10 s at 25 mm/s, as on standard 12-lead printouts.
TRACE_WIDTH_MM = 250.0
#: Room left of each row for the calibration pulse (mm).
CAL_WIDTH_MM = 10.0
_COLUMNS = (("I", "II", "III"), ("aVR", "aVL", "aVF"), ("V1", "V2", "V3"), ("V4", "V5", "V6"))


@dataclass(frozen=True)
class Trace:
    """One drawn piece of a lead: polyline points (mm) and its label position."""

    lead: str
    x: NDArray[np.float64]          # mm, from the grid's left edge
    y: NDArray[np.float64]          # mm, from the grid's top edge (downwards)
    baseline_mm: float
    x0_mm: float
    t0_s: float                     # time in the recording of the first point
    missing: bool = False


@dataclass(frozen=True)
class Paper:
    """Everything to draw, in mm: grid size, traces, calibration pulses (row baselines)."""

    width_mm: float
    height_mm: float
    speed_mm_s: float
    gain_mm_mv: float
    traces: list[Trace] = field(default_factory=list)
    calibrations: list[float] = field(default_factory=list)   # baselines (mm) of the rows
    rhythm_baseline_mm: float | None = None
    rhythm_t0_s: float = 0.0


def check_settings(speed_mm_s: float, gain_mm_mv: float, layout: str) -> None:
    """Raise :class:`ConfigError` for a paper speed, gain or layout that is not offered."""
    if float(speed_mm_s) not in SPEEDS:
        raise ConfigError(f"Paper speed {speed_mm_s!r} mm/s is not offered; accepted: 25 or 50 mm/s.")
    if float(gain_mm_mv) not in GAINS:
        raise ConfigError(f"Gain {gain_mm_mv!r} mm/mV is not offered; accepted: 5, 10 or 20 mm/mV.")
    if layout not in LAYOUTS:
        raise ConfigError(f"Layout {layout!r} is not known; accepted: {', '.join(LAYOUTS)}.")


def calibration_path(x0: float, baseline: float, speed_mm_s: float, gain_mm_mv: float) -> list[tuple[float, float]]:
    """Points (mm) of a 1 mV, 200 ms calibration pulse starting at ``x0`` on ``baseline``."""
    w = 0.2 * speed_mm_s
    lead_in = (CAL_WIDTH_MM - w) / 2 if w < CAL_WIDTH_MM else 0.0
    top = baseline - gain_mm_mv
    return [(x0, baseline), (x0 + lead_in, baseline), (x0 + lead_in, top), (x0 + lead_in + w, top),
            (x0 + lead_in + w, baseline), (x0 + CAL_WIDTH_MM, baseline)]


def _segment(sig: NDArray[np.float32], fs: float, t0: float, t1: float, x0: float, baseline: float,
             speed: float, gain: float, ref: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    i0 = max(0, int(round(t0 * fs)))
    i1 = min(sig.shape[0], int(round(t1 * fs)))
    if i1 <= i0:
        return np.zeros(0), np.zeros(0)
    t = np.arange(i0, i1) / fs
    x = x0 + (t - t0) * speed
    y = baseline - (sig[i0:i1].astype(np.float64) - ref) / 1000.0 * gain
    return x, y


def paper_layout(record: ECGRecord, *, speed_mm_s: float = 25, gain_mm_mv: float = 10,
                 layout: str = "3x4+II", row_height_mm: float | None = None) -> Paper:
    """Place the record's leads on ECG paper (see the module docstring).

    The baseline of each lead is its median over the recording (the offset is removed so
    that each trace sits on its row); amplitudes are exact: ``gain_mm_mv`` mm per 1000 µV.
    Records with fewer than 6 leads after deriving the limb leads are drawn as rhythm strips.
    """
    check_settings(speed_mm_s, gain_mm_mv, layout)
    speed, gain = float(speed_mm_s), float(gain_mm_mv)
    rec = record.with_derived_leads()
    row_h = float(row_height_mm) if row_height_mm is not None else max(25.0, 3.5 * gain)
    width = CAL_WIDTH_MM + TRACE_WIDTH_MM
    strip_s = TRACE_WIDTH_MM / speed
    ref = {name: float(np.median(rec.signal[k])) for k, name in enumerate(rec.leads)}
    traces: list[Trace] = []
    cals: list[float] = []
    if layout == "rhythm" or rec.n_leads < 6:
        names = list(rec.leads)
        starts = [(n, 0.0) for n in names]
        if len(names) == 1:   # one lead: consecutive strips of the whole recording (at most 6)
            n_strips = int(min(6, max(1, np.ceil(rec.duration / strip_s - 1e-9))))
            starts = [(names[0], k * strip_s) for k in range(n_strips)]
        for r, (name, t0) in enumerate(starts):
            base = r * row_h + row_h * 0.6
            cals.append(base)
            x, y = _segment(rec.lead(name), rec.fs, t0, t0 + strip_s, CAL_WIDTH_MM, base, speed, gain, ref[name])
            traces.append(Trace(name, x, y, base, CAL_WIDTH_MM, t0))
        return Paper(width, len(starts) * row_h, speed, gain, traces, cals)
    col_w = TRACE_WIDTH_MM / 4
    col_s = col_w / speed
    for r in range(3):
        base = r * row_h + row_h * 0.6
        cals.append(base)
        for c, col in enumerate(_COLUMNS):
            name = col[r]
            x0 = CAL_WIDTH_MM + c * col_w
            t0 = c * col_s
            if name not in rec.leads:
                traces.append(Trace(name, np.zeros(0), np.zeros(0), base, x0, t0, missing=True))
                continue
            x, y = _segment(rec.lead(name), rec.fs, t0, t0 + col_s, x0, base, speed, gain, ref[name])
            traces.append(Trace(name, x, y, base, x0, t0))
    rows = 3
    rhythm_base = None
    if layout == "3x4+II":
        name = "II" if "II" in rec.leads else rec.leads[0]
        rhythm_base = 3 * row_h + row_h * 0.6
        cals.append(rhythm_base)
        x, y = _segment(rec.lead(name), rec.fs, 0.0, strip_s, CAL_WIDTH_MM, rhythm_base, speed, gain, ref[name])
        traces.append(Trace(name, x, y, rhythm_base, CAL_WIDTH_MM, 0.0))
        rows = 4
    return Paper(width, rows * row_h, speed, gain, traces, cals, rhythm_base, 0.0)
