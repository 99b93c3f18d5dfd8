"""Zero-phase filters used by quality, beat detection and delineation (pure functions)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import signal as sps

__all__ = ["bandpass", "highpass", "lowpass", "moving_average", "resample_poly"]


@lru_cache(maxsize=64)
def _sos(kind: str, cutoff: tuple[float, ...], fs: float, order: int) -> NDArray[np.float64]:
    nyq = fs / 2.0
    wn = [c / nyq for c in cutoff]
    if kind == "bandpass" and wn[1] >= 0.99:
        kind, wn = "highpass", [wn[0]]
    return sps.butter(order, wn if len(wn) > 1 else wn[0], btype=kind, output="sos")


@lru_cache(maxsize=64)
def _sos_zi(kind: str, cutoff: tuple[float, ...], fs: float, order: int) -> NDArray[np.float64]:
    zi = sps.sosfilt_zi(_sos(kind, cutoff, fs, order))
    zi.setflags(write=False)  # shared by every call: never modified
    return zi


def _apply(key: tuple[str, tuple[float, ...], float, int], x: NDArray, axis: int) -> NDArray[np.float64]:
    """Forward-backward ``sosfilt`` with odd extension and steady-state initial conditions
    (what ``scipy.signal.sosfiltfilt`` does, with the filter's ``zi`` cached)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[axis]
    sos = _sos(*key)
    padlen = min(3 * (2 * len(sos) + 1), n - 1)
    if padlen < 1:
        return x.copy()
    v = np.moveaxis(x, axis, -1)
    ext = np.concatenate((2 * v[..., :1] - v[..., padlen:0:-1], v,
                          2 * v[..., -1:] - v[..., -2:-(padlen + 2):-1]), axis=-1)
    zi = _sos_zi(*key).reshape((len(sos),) + (1,) * (v.ndim - 1) + (2,))
    y, _ = sps.sosfilt(sos, ext, axis=-1, zi=zi * ext[..., :1])
    y, _ = sps.sosfilt(sos, y[..., ::-1], axis=-1, zi=zi * y[..., -1:])
    return np.moveaxis(y[..., ::-1][..., padlen:-padlen], -1, axis)


def bandpass(x: NDArray, fs: float, low: float, high: float, order: int = 2, axis: int = -1) -> NDArray[np.float64]:
    """Zero-phase Butterworth band-pass ``low``–``high`` Hz along ``axis``.

    ``high`` is clipped below Nyquist; when it is at or above it the filter is a high-pass.
    """
    high = min(high, 0.95 * fs / 2.0)
    return _apply(("bandpass", (low, high), float(fs), order), x, axis)


def highpass(x: NDArray, fs: float, cutoff: float, order: int = 2, axis: int = -1) -> NDArray[np.float64]:
    """Zero-phase Butterworth high-pass at ``cutoff`` Hz (baseline wander removal)."""
    return _apply(("highpass", (cutoff,), float(fs), order), x, axis)


def lowpass(x: NDArray, fs: float, cutoff: float, order: int = 2, axis: int = -1) -> NDArray[np.float64]:
    """Zero-phase Butterworth low-pass at ``cutoff`` Hz (clipped below Nyquist)."""
    cutoff = min(cutoff, 0.95 * fs / 2.0)
    return _apply(("lowpass", (cutoff,), float(fs), order), x, axis)


def moving_average(x: NDArray, width: int, axis: int = -1) -> NDArray[np.float64]:
    """Centred moving average over ``width`` samples (edges use the available samples)."""
    from scipy.ndimage import uniform_filter1d

    width = max(int(width), 1)
    return uniform_filter1d(np.asarray(x, dtype=np.float64), width, axis=axis, mode="nearest")


@lru_cache(maxsize=32)
def _polyphase_fir(up: int, down: int) -> NDArray[np.float64]:
    rate = max(up, down)
    h = sps.firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))
    h.setflags(write=False)  # shared by every call (resample_poly works on a copy)
    return h


def resample_poly(x: NDArray, up: int, down: int, axis: int = -1) -> NDArray[np.float64]:
    """Polyphase resampling by ``up / down`` along ``axis``: ``scipy.signal.resample_poly``
    with its default Kaiser-window FIR, designed once per ratio."""
    g = math.gcd(int(up), int(down))
    up, down = int(up) // g, int(down) // g
    x = np.asarray(x, dtype=np.float64)
    if up == down == 1:
        return x.copy()
    return sps.resample_poly(x, up, down, axis=axis, window=_polyphase_fir(up, down))
