"""The project's zero-phase filters and resampler against SciPy's own functions (the
reference): same values, whatever the axis, length and memory layout."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from ecgpilot.signal import filters


def _reference(kind: str, cutoff: tuple[float, ...], fs: float, x: np.ndarray, axis: int) -> np.ndarray:
    nyq = fs / 2.0
    wn = [c / nyq for c in cutoff]
    if kind == "bandpass" and wn[1] >= 0.99:
        kind, wn = "highpass", [wn[0]]
    sos = sps.butter(2, wn if len(wn) > 1 else wn[0], btype=kind, output="sos")
    padlen = min(3 * (2 * len(sos) + 1), x.shape[axis] - 1)
    return sps.sosfiltfilt(sos, x, axis=axis, padlen=padlen) if padlen >= 1 else np.array(x, dtype=float)


@pytest.mark.parametrize("shape,axis", [((12, 5000), -1), ((5000, 12), 0), ((3, 12, 601), -1),
                                        ((12, 40, 7), 1), ((9,), -1), ((4, 2), -1), ((3, 1), -1)])
def test_zero_phase_filters_equal_scipy(shape, axis):
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(size=shape).cumsum(axis=axis) * 100.0
    cases = [(filters.bandpass(x, 500.0, 0.5, 40.0, axis=axis), ("bandpass", (0.5, 40.0), 500.0)),
             (filters.lowpass(x, 500.0, 15.0, axis=axis), ("lowpass", (15.0,), 500.0)),
             (filters.highpass(x, 100.0, 0.5, axis=axis), ("highpass", (0.5,), 100.0)),
             (filters.bandpass(x, 100.0, 0.5, 60.0, axis=axis), ("bandpass", (0.5, 47.5), 100.0))]
    for got, (kind, cutoff, fs) in cases:
        ref = _reference(kind, cutoff, fs, x, axis)
        assert got.shape == x.shape
        np.testing.assert_array_equal(got, ref, err_msg=f"{kind} {cutoff} on {shape} axis {axis}")


def test_filters_leave_the_input_alone():
    x = np.arange(50.0)[None, :].repeat(2, axis=0)
    before = x.copy()
    filters.bandpass(x, 100.0, 0.5, 40.0)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("up,down,shape,axis", [(5, 1, (12, 1000), -1), (1, 5, (12, 5000), -1),
                                                (2, 5, (12, 2500), 1), (4, 5, (3, 1000), -1),
                                                (10, 2, (1000, 3), 0), (3, 3, (2, 10), -1)])
def test_resample_poly_equals_scipy(up, down, shape, axis):
    x = np.random.default_rng(up * 10 + down).normal(size=shape)
    got = filters.resample_poly(x, up, down, axis=axis)
    np.testing.assert_array_equal(got, sps.resample_poly(x, up, down, axis=axis))
