"""Turn any ECGRecord into the classifier's input (pure numpy/scipy)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import ModelError
from ecgpilot.record import ECGRecord
from ecgpilot.signal.filters import resample_poly

__all__ = ["ModelInput", "model_input", "windows", "FEATURE_MIN_FRACTION"]

FEATURE_MIN_FRACTION = 0.9  # a model with record features needs ≥ 90 % of its training duration (9 s of 10)


class ModelInput(NamedTuple):
    """What the classifier reads from one record."""

    windows: NDArray[np.float32]           # (n_windows, 12, window), normalised
    features: NDArray[np.float32] | None   # raw whole-record features, or None for a model without them
    info: dict[str, Any]                   # what was done (rate, leads used / missing / derived)


def resample(x: NDArray, fs_in: float, fs_out: float) -> NDArray:
    """Polyphase resampling along the last axis (anti-aliasing FIR included)."""
    if abs(fs_in - fs_out) < 1e-9:
        return x
    frac = Fraction(fs_out / fs_in).limit_denominator(1000)
    return resample_poly(x, frac.numerator, frac.denominator, axis=-1)


def windows(x: NDArray, window: int, stride: int) -> NDArray:
    """(leads, T) → (n_windows, leads, window), last window flush with the end."""
    T = x.shape[-1]
    starts = list(range(0, T - window + 1, stride))
    if starts[-1] != T - window:
        starts.append(T - window)
    return np.stack([x[:, s: s + window] for s in starts])


def model_input(record: ECGRecord, spec: dict[str, Any]) -> ModelInput:
    """Normalised windows ``(n_windows, 12, window)``, the record features when ``spec`` has
    ``features``, and a description of what was done.

    Resamples to ``spec['fs']``, derives III/aVR/aVL/aVF from I and II when missing, keeps
    the first ``spec['duration_s']`` seconds, and zero-fills at most one other missing lead
    (the features are computed on that same µV signal, the missing lead at zero).
    Raises :class:`ModelError` when the record cannot be classified faithfully.
    """
    leads: list[str] = list(spec["leads"])
    fs = float(spec["fs"])
    window = int(spec["window"])
    rec = record.with_derived_leads()
    present = [name for name in leads if name in rec.leads]
    missing = [name for name in leads if name not in rec.leads]
    if len(missing) > 1:
        raise ModelError(
            f"The classifier needs the 12 standard leads (at most one missing); this recording has "
            f"{', '.join(rec.leads)} and lacks {', '.join(missing)}. The AI reading is not available "
            "for it; the measurements and the doctor's reading still are."
        )
    min_s = window / fs
    if spec.get("features"):  # whole-record features were learnt on 10-s recordings only
        min_s = max(min_s, FEATURE_MIN_FRACTION * float(spec.get("duration_s", 10.0)))
    if rec.duration < min_s:
        raise ModelError(
            f"The recording lasts {rec.duration:.2f} s; the classifier needs at least {min_s:.1f} s"
            + (" (its whole-record rhythm and beat features were learnt on 10-s ECGs)" if spec.get("features") else "")
            + ". The AI reading is not available for it; the measurements and the doctor's reading still are."
        )
    x = np.zeros((len(leads), rec.n_samples), dtype=np.float64)
    for k, name in enumerate(leads):
        if name in rec.leads:
            x[k] = rec.lead(name)
    x = resample(x, rec.fs, fs)
    n_keep = int(round(float(spec.get("duration_s", 10.0)) * fs))
    x = x[:, :n_keep]
    feats = None
    if spec.get("features"):
        from ecgpilot.model.features import LEADS12, model_features

        if tuple(leads) != LEADS12:
            raise ModelError(f"this model's leads {leads} are not in the order the features expect {list(LEADS12)}.")
        feats = model_features(x, fs, spec["features"]["names"])
        if "valid" in spec["features"]["names"] and feats[list(spec["features"]["names"]).index("valid")] == 0:
            raise ModelError(
                "Fewer than 4 heartbeats were detected in this recording, so the classifier's rhythm "
                "features cannot be computed (a case never seen in training). The AI reading is not "
                "available for it; check the tracing and the signal quality."
            )
    x = (x - float(spec["mean"])) / float(spec["scale"])
    for name in missing:
        x[leads.index(name)] = 0.0
    info = {"fs": fs, "leads_used": present, "leads_missing": missing,
            "duration_used_s": round(x.shape[1] / fs, 3), "resampled_from_hz": rec.fs,
            "derived_leads": list(rec.source.extra.get("derived_leads", []))}
    return ModelInput(windows(x.astype(np.float32), window, int(spec["stride"])), feats, info)
