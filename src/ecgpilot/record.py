"""The one ECG recording object every reader returns and every step consumes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import RecordError
from ecgpilot.leads import STANDARD_12, canonical_lead

__all__ = ["ECGRecord", "MAX_FS", "MIN_FS", "PatientInfo", "SourceInfo", "UNITS"]

#: Physical unit of :attr:`ECGRecord.signal`: always microvolts.
UNITS = "uV"

Sex = Literal["M", "F", "U"]


@dataclass(frozen=True)
class PatientInfo:
    """Optional patient traits found in a file (all may be ``None``)."""

    patient_id: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    age_years: float | None = None
    height_cm: float | None = None
    weight_kg: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.birth_date is not None:
            d["birth_date"] = self.birth_date.isoformat()
        return d


@dataclass(frozen=True)
class SourceInfo:
    """Where the recording came from.

    ``format`` is the reader's name (``'wfdb'``, ``'scp'``...); ``device_measurements``
    holds the cart's own measurements when the file carries them (e.g. GE 12SL
    ``{'pr_ms': 138, 'qrs_ms': 96, ...}``), used as a cross-check, never as ours.
    """

    format: str = "unknown"
    path: str | None = None
    manufacturer: str | None = None
    device: str | None = None
    description: str | None = None
    device_measurements: dict[str, float] = field(default_factory=dict)
    device_statements: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["device_statements"] = list(self.device_statements)
        return d


MIN_FS = 50.0  # Hz: below this the QRS (10-40 Hz content) cannot be represented
MAX_FS = 100_000.0  # Hz: above the fastest pacemaker-spike acquisitions


@dataclass(frozen=True, eq=False)
class ECGRecord:
    """A multi-lead ECG recording.

    Attributes
    ----------
    signal
        float32 array of shape ``(n_leads, n_samples)`` in **microvolts (µV)**.
    fs
        Sampling rate in Hz, from :data:`MIN_FS` (50) to :data:`MAX_FS` (100 000).
    leads
        Canonical lead names (see :mod:`ecgpilot.leads`), one per row of ``signal``.
    start_time
        Acquisition start, if the file says.
    source, patient
        Provenance/device metadata and optional patient traits.

    The object validates itself on creation: finite samples, positive rate, known
    and unique lead names, and a signal shape consistent with the lead list.
    """

    signal: NDArray[np.float32]
    fs: float
    leads: tuple[str, ...]
    start_time: datetime | None = None
    source: SourceInfo = field(default_factory=SourceInfo)
    patient: PatientInfo = field(default_factory=PatientInfo)

    def __post_init__(self) -> None:
        sig = np.asarray(self.signal)
        if sig.ndim == 1:
            sig = sig[np.newaxis, :]
        if sig.ndim != 2:
            raise RecordError(
                f"signal must have shape (n_leads, n_samples); got {sig.ndim} dimensions {sig.shape}."
            )
        if not np.issubdtype(sig.dtype, np.number) or np.issubdtype(sig.dtype, np.complexfloating):
            raise RecordError(f"signal must be real numbers; got dtype {sig.dtype}.")
        if np.issubdtype(sig.dtype, np.floating) and sig.dtype.itemsize > 4:  # float64 values float32 cannot hold
            big = np.isfinite(sig) & (np.abs(sig) > np.finfo(np.float32).max)
            if big.any():
                raise RecordError(
                    f"signal has {int(big.sum())} samples beyond {np.finfo(np.float32).max:.2g} µV (e.g. "
                    f"{float(sig[big][0]):.3g}): no ECG has such values; check the file's units, gain or scale."
                )
        sig = np.ascontiguousarray(sig, dtype=np.float32)
        try:
            fs = float(self.fs)
        except (TypeError, ValueError):
            raise RecordError(f"fs must be a number in Hz; got {self.fs!r}.") from None
        if not np.isfinite(fs) or fs <= 0:
            raise RecordError(f"fs must be a positive sampling rate in Hz; got {self.fs!r}.")
        if not MIN_FS <= fs <= MAX_FS:
            raise RecordError(
                f"fs = {fs:g} Hz is outside the sampling rates of an ECG ({MIN_FS:g} to {MAX_FS:g} Hz); "
                "check the file's sampling rate or sample-interval field."
            )
        leads = tuple(canonical_lead(name) for name in self.leads)
        if len(leads) != sig.shape[0]:
            raise RecordError(
                f"{len(leads)} lead names for {sig.shape[0]} signal rows; they must match."
            )
        seen: set[str] = set()
        repeated: set[str] = set()
        for n in leads:  # linear: a file may name 10^5 columns
            (repeated if n in seen else seen).add(n)
        dup = sorted(repeated)
        if dup:
            raise RecordError(f"Lead names must be unique; repeated: {', '.join(dup)}.")
        if sig.shape[1] == 0:
            raise RecordError("The recording has no samples (n_samples = 0).")
        bad = ~np.isfinite(sig)
        if bad.any():
            rows = [leads[i] for i in np.flatnonzero(bad.any(axis=1))]
            raise RecordError(
                f"signal has {int(bad.sum())} non-finite samples (NaN/inf) in lead(s) "
                f"{', '.join(rows)}; replace or drop them before building the record."
            )
        sig.setflags(write=False)
        object.__setattr__(self, "signal", sig)
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "leads", leads)

    # -- basic properties -------------------------------------------------
    @property
    def n_leads(self) -> int:
        return int(self.signal.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.n_samples / self.fs

    @property
    def units(self) -> str:
        return UNITS

    def __repr__(self) -> str:
        return (
            f"<ECGRecord {self.source.format} | {self.n_leads} leads "
            f"({', '.join(self.leads[:12])}{'...' if self.n_leads > 12 else ''}) | "
            f"{self.fs:g} Hz | {self.duration:.2f} s>"
        )

    # -- access -----------------------------------------------------------
    def lead(self, name: str) -> NDArray[np.float32]:
        """The samples (µV) of one lead, by name (any accepted spelling)."""
        key = canonical_lead(name)
        if key not in self.leads:
            raise RecordError(
                f"Lead {key!r} is not in this recording; it has: {', '.join(self.leads)}."
            )
        return self.signal[self.leads.index(key)]

    def has_leads(self, names: tuple[str, ...] | list[str]) -> bool:
        return all(canonical_lead(n) in self.leads for n in names)

    def replace(self, **changes: Any) -> ECGRecord:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def pick(self, names: tuple[str, ...] | list[str]) -> ECGRecord:
        """A copy restricted to (and ordered as) the given leads."""
        keys = [canonical_lead(n) for n in names]
        missing = [k for k in keys if k not in self.leads]
        if missing:
            raise RecordError(
                f"Cannot pick missing lead(s) {', '.join(missing)}; recording has {', '.join(self.leads)}."
            )
        rows = [self.leads.index(k) for k in keys]
        return self.replace(signal=self.signal[rows], leads=tuple(keys))

    def crop(self, tmin: float = 0.0, tmax: float | None = None) -> ECGRecord:
        """A copy restricted to ``[tmin, tmax)`` seconds."""
        i0 = int(round(tmin * self.fs))
        i1 = self.n_samples if tmax is None else int(round(tmax * self.fs))
        if not 0 <= i0 < i1 <= self.n_samples:
            raise RecordError(
                f"crop window [{tmin}, {tmax}) s is outside the recording (0 to {self.duration:.3f} s)."
            )
        return self.replace(signal=self.signal[:, i0:i1])

    def with_derived_leads(self) -> ECGRecord:
        """Add III, aVR, aVL, aVF computed from I and II when they are missing.

        Einthoven/Goldberger: III = II − I, aVR = −(I + II)/2, aVL = I − II/2,
        aVF = II − I/2. The result is put in the standard 12-lead order when
        all 12 are then present.
        """
        if not self.has_leads(("I", "II")):
            return self
        i, ii = self.lead("I").astype(np.float64), self.lead("II").astype(np.float64)
        derived = {"III": ii - i, "aVR": -(i + ii) / 2, "aVL": i - ii / 2, "aVF": ii - i / 2}
        rows = {name: self.signal[k] for k, name in enumerate(self.leads)}
        added = False
        for name, values in derived.items():
            if name not in rows:
                rows[name] = values.astype(np.float32)
                added = True
        if not added:
            return self
        order = [n for n in STANDARD_12 if n in rows] + [n for n in self.leads if n not in STANDARD_12]
        extra = dict(self.source.extra)
        extra["derived_leads"] = [n for n in derived if n not in self.leads]
        return self.replace(
            signal=np.stack([rows[n] for n in order]),
            leads=tuple(order),
            source=dataclasses.replace(self.source, extra=extra),
        )

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description of the recording (no samples)."""
        return {
            "format": self.source.format,
            "fs": self.fs,
            "n_samples": self.n_samples,
            "duration_s": round(self.duration, 3),
            "leads": list(self.leads),
            "units": UNITS,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "source": self.source.to_dict(),
            "patient": self.patient.to_dict(),
        }


