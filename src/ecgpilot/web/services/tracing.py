"""Reading a stored study again: the recording (cached by file hash), its tracing as SVG, the paper settings."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ecgpilot.errors import ECGPilotError
from ecgpilot.record import ECGRecord
from ecgpilot.store import files as filestore
from ecgpilot.store.models import Study

__all__ = ["study_record", "tracing_svg", "paper_settings"]

# ------------------------------------------------------------------ rendering -------

@functools.lru_cache(maxsize=16)
def _read_cached(path: str, sha: str) -> ECGRecord:
    from ecgpilot.io import read_ecg

    return read_ecg(path)


def study_record(data_dir: Path, study: Study) -> ECGRecord | None:
    """The stored recording read again (``None`` when unreadable)."""
    if study.status == "unreadable":
        return None
    try:
        return _read_cached(str(filestore.stored_path(data_dir, study.file_sha256, study.file_name)), study.file_sha256)
    except ECGPilotError:
        return None


def tracing_svg(record: ECGRecord, analysis: dict[str, Any] | None, *, reading: dict[str, Any] | None = None,
                lang: str = "fr", speed_mm_s: float = 25, gain_mm_mv: float = 10) -> str:
    """The ECG paper SVG (``ecgpilot.render.svg``) at ``speed_mm_s`` (25, 50) and ``gain_mm_mv``
    (5, 10, 20); with ``reading`` the measured ST points of the leads an ischaemia statement rests
    on are marked, legend in ``lang``."""
    from ecgpilot.render.svg import ecg_svg

    svg = ecg_svg(record, analysis=analysis, reading=reading, lang=lang, speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv)
    return svg[svg.index("<svg"):] if "<svg" in svg else svg


def paper_settings(speed: str | None, gain: str | None) -> tuple[float, float]:
    """(speed mm/s, gain mm/mV) from the page's ``?speed=``/``?gain=``; the standard 25 and 10 otherwise."""
    from ecgpilot.render import GAINS, SPEEDS

    def pick(raw: str | None, allowed: tuple[float, ...], default: float) -> float:
        try:
            value = float(raw) if raw else default
        except ValueError:
            return default
        return value if value in allowed else default

    return pick(speed, SPEEDS, 25.0), pick(gain, GAINS, 10.0)
