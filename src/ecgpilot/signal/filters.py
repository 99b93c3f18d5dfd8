"""Zero-phase filters used by quality, beat detection and delineation (pure functions)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import signal as sps

__all__ = ["bandpass", "highpass", "lowpass", "moving_average"]


@lru_cache(maxsize=64)
def _sos(kind: str, cutoff: tuple[float, ...], fs: float, order: int) -> NDArray[np.float64]:
    nyq = fs / 2.0
    wn = [c / nyq for c in cutoff]
    if kind == "bandpass" and wn[1] >= 0.99:
        kind, wn = "highpass", [wn[0]]
    return sps.butter(order, wn if len(wn) > 1 else wn[0], btype=kind, output="sos")


def _apply(sos: NDArray[np.float64], x: NDArray, axis: int) -> NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[axis]
    padlen = min(3 * (2 * len(sos) + 1), n - 1)
    if padlen < 1:
        return x.copy()
    return sps.sosfiltfilt(sos, x, axis=axis, padlen=padlen)


def bandpass(x: NDArray, fs: float, low: float, high: float, order: int = 2, axis: int = -1) -> NDArray[np.float64]:
    """Zero-phase Butterworth band-pass ``low``–``high`` Hz along ``axis``.

    ``high`` is clipped below Nyquist; when it is at or above it the filter is a high-pass.
    """
    high = min(high, 0.95 * fs / 2.0)
    return _apply(_sos("bandpass", (low, high), float(fs), order), x, axis)


def highpass(x: NDArray, fs: float, cutoff: float, order: int = 2, axis: int = -1) -> NDArray[np.float64]:
    """Zero-phase Butterworth high-pass at ``cutoff`` Hz (baseline wander removal)."""
    return _apply(_sos("highpass", (cutoff,), float(fs), order), x, axis)


def lowpass(x: NDArray, fs: float, cutoff: float, order: int = 2, axis: int = -1) -> NDArray[np.float64]:
    """Zero-phase Butterworth low-pass at ``cutoff`` Hz (clipped below Nyquist)."""
    cutoff = min(cutoff, 0.95 * fs / 2.0)
    return _apply(_sos("lowpass", (cutoff,), float(fs), order), x, axis)


def moving_average(x: NDArray, width: int, axis: int = -1) -> NDArray[np.float64]:
    """Centred moving average over ``width`` samples (edges use the available samples)."""
    from scipy.ndimage import uniform_filter1d

    width = max(int(width), 1)
    return uniform_filter1d(np.asarray(x, dtype=np.float64), width, axis=axis, mode="nearest")
