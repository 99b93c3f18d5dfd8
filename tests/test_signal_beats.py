"""QRS detection: synthetic beats at known times, and LUDB's annotated QRS complexes."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from ecgpilot.record import ECGRecord
from ecgpilot.signal.beats import detect_beats, record_beats, rr_intervals

from _synth import synthetic_ecg
from conftest import data_file


def _matched(ref: np.ndarray, det: np.ndarray, tol: int) -> int:
    return int(sum(np.any(np.abs(det - r) <= tol) for r in ref))


@pytest.mark.parametrize("fs", [100.0, 250.0, 360.0, 500.0, 1000.0])
@pytest.mark.parametrize("single", [False, True])
def test_detects_every_synthetic_beat(fs, single):
    rec, onsets = synthetic_ecg(fs=fs, rr=0.75, noise_uv=10.0)
    if single:
        rec = rec.pick(["V5"])
    beats = record_beats(rec)
    ref = np.round((onsets + 0.03) * fs).astype(int)  # the R peak is ~30 ms after onset
    assert len(beats) == len(ref)
    assert _matched(ref, beats, int(0.05 * fs)) == len(ref)
    assert np.allclose(rr_intervals(beats, fs), 750.0, atol=1000.0 / fs + 4)


def test_fast_and_slow_rates():
    for rr in (0.35, 1.6):  # 171 and 37.5 bpm
        rec, onsets = synthetic_ecg(rr=rr, qt=min(0.38, rr - 0.02) if rr < 0.4 else 0.42, pr=0.12, noise_uv=5.0)
        assert len(record_beats(rec)) == len(onsets)


def test_flat_or_tiny_input_gives_no_beats():
    assert detect_beats(np.zeros(5000), 500.0).size == 0
    assert detect_beats(np.zeros((12, 100)), 500.0).size == 0


def test_one_artefacted_lead_does_not_break_detection():
    rec, onsets = synthetic_ecg(noise_uv=5.0)
    sig = rec.signal.copy()
    sig[3] += np.random.default_rng(3).normal(0, 3000, sig.shape[1]).astype(np.float32)  # aVR very noisy
    beats = detect_beats(sig, rec.fs)
    assert len(beats) == len(onsets)


@pytest.mark.parametrize("n", [1, 8, 34, 52, 101, 150, 200])
def test_ludb_annotated_qrs(n):
    """Every QRS annotated on LUDB lead II is found (±75 ms) with no extra detections inside
    the annotated span. Records include sinus, AF (101), flutter (52) and paced (34)."""
    hea = data_file("ludb", "data", f"{n}.hea")
    w = wfdb.rdrecord(str(hea.with_suffix("")))
    rec = ECGRecord(signal=w.p_signal.T * 1000.0, fs=w.fs, leads=tuple(w.sig_name))
    ann = wfdb.rdann(str(hea.with_suffix("")), "ii")
    ref = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym == "N"])
    beats = record_beats(rec)
    tol = int(0.075 * rec.fs)
    assert _matched(ref, beats, tol) == len(ref)
    inside = beats[(beats >= ref.min() - tol) & (beats <= ref.max() + tol)]
    assert len(inside) == len(ref)


def test_two_leads_one_noisy_holter_like():
    """With two leads, the noisier one is down-weighted: no false beats from its noise."""
    rec, onsets = synthetic_ecg(fs=360.0, duration=30.0, rr=0.8, noise_uv=5.0)
    two = rec.pick(["II", "V1"])
    sig = two.signal.copy()
    rng = np.random.default_rng(4)
    bursts = np.zeros(sig.shape[1])
    for start in rng.integers(0, sig.shape[1] - 400, 12):  # 12 bursts of 1.1 s muscle-like noise
        bursts[start:start + 400] = 1.0
    sig[1] += (bursts * rng.normal(0, 400, sig.shape[1])).astype(np.float32)
    beats = detect_beats(sig, two.fs)
    ref = np.round((onsets + 0.03) * two.fs).astype(int)
    assert _matched(ref, beats, int(0.075 * two.fs)) >= len(ref) - 1
    assert len(beats) <= len(ref) + 1
