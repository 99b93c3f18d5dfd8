"""Whole-record rhythm features: hand-built rhythms with known intervals, and LUDB's annotated beats."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import data_file
from ecgpilot.model.features import RHYTHM_NAMES, model_features_batch, rhythm_features

N_FEATURES = len(RHYTHM_NAMES)

FS = 100.0


def _ecg(beat_times_s: list[float], odd: set[int] = frozenset(), seconds: float = 10.0) -> np.ndarray:
    """12 leads (µV) with a QRS-like biphasic complex at each beat time; beats in ``odd`` inverted
    and twice as wide (a ventricular-looking beat)."""
    t = np.arange(int(seconds * FS)) / FS
    x = np.zeros((12, t.size))
    gains = np.linspace(0.5, 1.5, 12)[:, None]
    for k, b in enumerate(beat_times_s):
        w = 0.02 if k not in odd else 0.04
        sign = 1.0 if k not in odd else -1.0
        wave = sign * 1000.0 * (np.exp(-((t - b) / w) ** 2) - 0.3 * np.exp(-((t - b - 2.5 * w) / w) ** 2))
        x += gains * wave[None, :]
    return x + np.random.default_rng(0).normal(0, 5.0, x.shape)


def _f(x: np.ndarray) -> dict[str, float]:
    v = rhythm_features(x, FS)
    assert v.shape == (N_FEATURES,) and v.dtype == np.float32 and np.all(np.isfinite(v))
    return dict(zip(RHYTHM_NAMES, map(float, v)))


def test_regular_rhythm_at_75_bpm() -> None:
    f = _f(_ecg(list(np.arange(0.4, 10.0, 0.8))))
    assert f["valid"] == 1.0
    assert f["hr_median_100"] == pytest.approx(0.75, abs=0.01)
    assert f["hr_mean_100"] == pytest.approx(0.75, abs=0.01)
    assert f["rr_cv"] < 0.02 and f["irregular_frac"] == 0.0 and f["premature_frac"] == 0.0
    assert f["shape_corr_mean"] > 0.98 and f["odd_beat_frac"] == 0.0
    assert f["n_beats_10"] == pytest.approx(1.2, abs=0.05)


def test_bigeminy_pattern() -> None:
    """Short-long alternation (0.5 s / 1.0 s): negative lag-1 autocorrelation, every difference flips."""
    times, t, k = [], 0.3, 0
    while t < 9.8:
        times.append(t)
        t += 0.5 if k % 2 == 0 else 1.0
        k += 1
    odd = set(range(1, len(times), 2))  # the premature beats are the odd-shaped ones
    f = _f(_ecg(times, odd))
    assert f["ac1"] < -0.8 and f["ac2"] > 0.8
    assert f["sign_alternation"] > 0.9
    assert f["premature_frac"] == pytest.approx(0.5, abs=0.1)
    assert f["irregular_frac"] > 0.9
    assert f["shape_corr_min"] < 0.5 and f["odd_beat_frac"] == pytest.approx(len(odd) / len(times), abs=0.15)


def test_sinus_arrhythmia_is_smooth() -> None:
    """RR slowly rising and falling (respiratory): large RR spread, positive lag-1 autocorrelation."""
    times, t = [], 0.3
    while t < 9.8:
        times.append(t)
        t += 0.8 + 0.2 * np.sin(2 * np.pi * t / 5.0)
    f = _f(_ecg(times))
    assert f["rr_cv"] > 0.1 and f["ac1"] > 0.3
    assert f["odd_beat_frac"] == 0.0


@pytest.mark.parametrize("x", [np.zeros((12, 1000)), np.zeros((12, 50)), np.zeros(1000)])
def test_no_beats_gives_invalid_zeros(x: np.ndarray) -> None:
    v = rhythm_features(x, FS)
    assert v.shape == (N_FEATURES,) and not v.any()


def test_batch_matches_single() -> None:
    xs = np.stack([_ecg(list(np.arange(0.4, 10.0, r))) for r in (0.6, 0.8, 1.1)])
    np.testing.assert_array_equal(model_features_batch(xs, FS, RHYTHM_NAMES),
                                  np.stack([rhythm_features(x, FS) for x in xs]))
    assert model_features_batch(xs[:0], FS, RHYTHM_NAMES).shape == (0, N_FEATURES)


@pytest.mark.parametrize("n", [1, 8, 101, 150])
def test_rate_matches_ludb_annotations(n: int) -> None:
    """At 100 Hz (as the classifier reads it), the median-RR rate agrees with LUDB's annotated
    QRS complexes on lead II within 2 bpm (records: sinus, bradycardia, AF)."""
    wfdb = pytest.importorskip("wfdb")
    from scipy.signal import resample_poly

    hea = data_file("ludb", "data", f"{n}.hea")
    w = wfdb.rdrecord(str(hea.with_suffix("")))
    ann = wfdb.rdann(str(hea.with_suffix("")), "ii")
    ref = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym == "N"], dtype=float)
    hr_ref = 60.0 / np.median(np.diff(ref) / w.fs)
    x = resample_poly(w.p_signal.T * 1000.0, 1, 5, axis=1)
    f = _f(x)
    assert 100 * f["hr_median_100"] == pytest.approx(hr_ref, abs=2.0)


def _beat_ecg(st_mV: dict[int, float], t_mV: float = 0.3, seconds: float = 10.0) -> np.ndarray:
    """12 leads at 100 Hz (µV): P, QRS, an ST segment raised by ``st_mV[lead]`` from the J point
    to the T wave, and a T wave of ``t_mV``; one beat every 0.8 s."""
    t = np.arange(int(seconds * FS)) / FS
    x = np.zeros((12, t.size))
    for b in np.arange(0.5, seconds - 0.5, 0.8):
        p = 0.12 * np.exp(-((t - (b - 0.16)) / 0.025) ** 2)
        qrs = 1.2 * np.exp(-((t - b) / 0.012) ** 2) - 0.3 * np.exp(-((t - b - 0.03) / 0.01) ** 2)
        tw = t_mV * np.exp(-((t - (b + 0.28)) / 0.05) ** 2)
        plateau = ((t > b + 0.05) & (t < b + 0.26)).astype(float)
        plateau = np.convolve(plateau, np.ones(3) / 3, mode="same")
        for k in range(12):
            x[k] += 1000.0 * (p + qrs + tw + st_mV.get(k, 0.0) * plateau)
    return x + np.random.default_rng(1).normal(0, 3.0, x.shape)


def test_beat_features_see_st_elevation_where_it_is() -> None:
    from ecgpilot.model.features import BEAT_NAMES, LEADS12, beat_features

    raised = {7: 0.25, 8: 0.25, 9: 0.2}  # V2, V3, V4
    f = dict(zip(BEAT_NAMES, map(float, beat_features(_beat_ecg(raised), FS))))
    assert f["beat_valid"] == 1.0 and f["p_found"] == 1.0
    for k, lead in enumerate(LEADS12):
        want = raised.get(k, 0.0)
        assert f[f"st60_{lead}_mV"] == pytest.approx(want, abs=0.06), lead
    assert f["t_amp_II_mV"] == pytest.approx(0.3, abs=0.08)
    assert 0.6 < f["r_amp_I_mV"] < 1.4 and f["s_amp_I_mV"] < 0.0
    assert f["p_amp_II_mV"] == pytest.approx(0.12, abs=0.05)


def test_model_features_selects_by_name_and_refuses_unknown() -> None:
    from ecgpilot.errors import ModelError
    from ecgpilot.model.features import FEATURE_NAMES, model_features

    x = _beat_ecg({})
    full = model_features(x, FS, FEATURE_NAMES)
    assert full.shape == (len(FEATURE_NAMES),)
    picked = model_features(x, FS, ["qrs_100ms", "hr_median_100"])
    np.testing.assert_array_equal(picked, full[[FEATURE_NAMES.index("qrs_100ms"), FEATURE_NAMES.index("hr_median_100")]])
    np.testing.assert_array_equal(model_features(x, FS, list(RHYTHM_NAMES)), rhythm_features(x, FS))
    assert picked[1] == pytest.approx(0.75, abs=0.01)
    with pytest.raises(ModelError, match="unknown classifier feature"):
        model_features(x, FS, ["qrs_100ms", "heart_shape_index"])
