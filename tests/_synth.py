"""Synthetic 12-lead ECGs with exactly known wave boundaries and axes (test helper).

Each wave is a raised-cosine bump of compact support, so its onset and offset are exact.
Every wave has a frontal direction (degrees): the limb leads are the projections of that
vector (Einthoven/Goldberger scaling), the chest leads fixed multiples of it.
"""

from __future__ import annotations

import numpy as np

from ecgpilot.record import ECGRecord

LIMB = {
    "I": (1.0, 0.0), "II": (0.5, np.sqrt(3) / 2), "III": (-0.5, np.sqrt(3) / 2),
    "aVR": (-0.75, -np.sqrt(3) / 4), "aVL": (0.75, -np.sqrt(3) / 4), "aVF": (0.0, np.sqrt(3) / 2),
}
CHEST = {"V1": -0.6, "V2": -0.2, "V3": 0.5, "V4": 1.0, "V5": 1.1, "V6": 0.9}
LEADS = tuple(LIMB) + tuple(CHEST)


def bump(t: np.ndarray, start: float, stop: float) -> np.ndarray:
    """Raised cosine equal to 0 outside [start, stop] and 1 at its middle."""
    u = (t - start) / (stop - start)
    return np.where((u > 0) & (u < 1), 0.5 - 0.5 * np.cos(2 * np.pi * np.clip(u, 0, 1)), 0.0)


def _lead_gain(name: str, axis_deg: float) -> float:
    a = np.radians(axis_deg)
    if name in LIMB:
        px, py = LIMB[name]
        return px * np.cos(a) + py * np.sin(a)
    return CHEST[name]


def synthetic_ecg(
    fs: float = 500.0,
    duration: float = 10.0,
    rr: float | np.ndarray = 0.8,
    pr: float = 0.160,
    p_dur: float = 0.100,
    qrs: float = 0.090,
    qt: float = 0.380,
    p_axis: float = 50.0,
    qrs_axis: float = 40.0,
    t_axis: float = 35.0,
    p_amp: float = 150.0,
    qrs_amp: float = 1200.0,
    t_amp: float = 300.0,
    with_p: bool = True,
    noise_uv: float = 0.0,
    seed: int = 0,
) -> tuple[ECGRecord, np.ndarray]:
    """A 12-lead record and the QRS onset times (s). QRS = up then down (R then S);
    intervals are exact: PR = QRS onset − P onset, QT = T offset − QRS onset."""
    t = np.arange(int(round(duration * fs))) / fs
    rr = np.asarray(rr, dtype=float)
    rrs = rr if rr.ndim else np.full(int(duration / float(rr)) + 2, float(rr))
    onsets = 0.45 + np.concatenate([[0.0], np.cumsum(rrs)])
    onsets = onsets[onsets + qt + 0.05 < duration]
    sig = np.zeros((len(LEADS), t.size))
    t_dur = 0.6 * (qt - qrs)  # T occupies the last 60 % of the ST-T
    for q0 in onsets:
        p = bump(t, q0 - pr, q0 - pr + p_dur) * p_amp if with_p else 0.0 * t
        # R (first 55 %) up, S (last 45 %) down, net positive
        r = bump(t, q0, q0 + 0.55 * qrs) * qrs_amp - bump(t, q0 + 0.55 * qrs, q0 + qrs) * 0.3 * qrs_amp
        tw = bump(t, q0 + qt - t_dur, q0 + qt) * t_amp
        for i, name in enumerate(LEADS):
            sig[i] += _lead_gain(name, p_axis) * p + _lead_gain(name, qrs_axis) * r + _lead_gain(name, t_axis) * tw
    if noise_uv:
        sig += np.random.default_rng(seed).normal(0, noise_uv, sig.shape)
    return ECGRecord(signal=sig.astype(np.float32), fs=fs, leads=LEADS), onsets
