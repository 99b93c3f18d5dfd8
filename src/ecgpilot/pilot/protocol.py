"""The pilot protocol: arms, unit of allocation, stepped-wedge or parallel cluster design, outcomes;
the seeded stratified randomisation; the protocol hash; "is the AI on for this practice at this date".

All pure: a :class:`Protocol` is a frozen value, its canonical JSON and SHA-256 identify it; the
allocation maps a practice id to the period from which the AI reading is on.

Stepped wedge (Hussey & Hughes 2007, Contemp Clin Trials 28:182–191): ``n_periods`` periods of
``period_months`` months from ``start_month``; period 0 is all control, and ``n_periods - 1``
sequences cross over to AI-on at the start of periods 1, 2, …, ``n_periods - 1`` (every practice is on in the
last period). Parallel cluster design: half the practices on from period 0, half never
(``crossover_period`` ``None``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np

from ecgpilot.errors import ConfigError

__all__ = ["DESIGNS", "ARMS", "Outcome", "Protocol", "Practice", "DEFAULT_OUTCOMES", "canonical_json",
           "protocol_sha256", "allocation_sha256", "registration_sha256", "randomise", "ai_on", "period_of",
           "month_index", "month_str", "arm_of", "schedule"]

DESIGNS = ("stepped_wedge", "parallel")
ARMS = ("ai_on", "ai_off")
OUTCOME_KINDS = ("primary", "secondary")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_index(month: str) -> int:
    """Months since year 0 of a ``YYYY-MM`` string (so that differences count months)."""
    m = _MONTH.match(month or "")
    if not m:
        raise ConfigError(f"month {month!r} is not of the form YYYY-MM (e.g. 2026-03).")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def month_str(index: int) -> str:
    """Inverse of :func:`month_index`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Outcome:
    """One outcome written in the protocol."""

    name: str
    kind: str          # primary | secondary
    definition: str
    analysis: str = ""


DEFAULT_OUTCOMES: tuple[Outcome, ...] = (
    Outcome("ecg_per_gp_month", "primary",
            "Number of 12-lead ECGs (CCAM DEQP003) performed per GP per calendar month (insurer's extract; "
            "the app's studies where the extract is missing).",
            "Linear mixed model: period fixed effects, AI-on indicator, random practice intercept (Hussey & Hughes 2007); "
            "secondary: Poisson GLM with cluster-robust SE (rate ratio)."),
    Outcome("referral_rate", "secondary", "Share of signed ECGs followed by a referral to a cardiologist within 30 days.",
            "Proportion per arm, Wilson 95% CI."),
    Outcome("tele_expertise_rate", "secondary", "Share of signed ECGs with a tele-expertise request; turnaround.",
            "Proportion per arm, Wilson 95% CI; median turnaround."),
    Outcome("time_to_cardiology_days", "secondary", "Days from the ECG to the cardiology visit (follow-up).",
            "Median and IQR per arm."),
    Outcome("emergency_rate", "secondary", "Share of ECGs followed by an emergency transfer.", "Proportion per arm, Wilson 95% CI."),
    Outcome("new_diagnosis_rate", "secondary", "Share of ECGs leading to a new ECG-detected diagnosis (AF, conduction "
            "disease, LVH, …) at 30 days.", "Proportion per arm, Wilson 95% CI."),
    Outcome("ai_performance", "secondary", "Sensitivity and PPV of the AI urgency against cardiologists' over-reads "
            "and against the 30-day diagnosis.", "Per urgency level, Wilson 95% CI; monthly p-chart for drift."),
    Outcome("cost_per_ecg", "secondary", "Micro-costed cost per ECG read and per pathway; ICER; budget impact.",
            "Bootstrap 95% CI (percentile); one-way sensitivity analysis."),
)


@dataclass(frozen=True)
class Protocol:
    """A pilot protocol. ``strata_by`` names the practice attribute the randomisation is stratified on."""

    name: str
    design: str = "stepped_wedge"
    start_month: str = "2027-01"
    period_months: int = 3
    n_periods: int = 5
    unit: str = "practice"
    arms: tuple[str, ...] = ARMS
    strata_by: str = "size"
    baseline_months: int = 12
    followup_days: int = 30
    outcomes: tuple[Outcome, ...] = DEFAULT_OUTCOMES
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 200:
            raise ConfigError(f"protocol name {self.name!r} must have 1 to 200 characters.")
        if self.design not in DESIGNS:
            raise ConfigError(f"design {self.design!r} is not known; accepted: {', '.join(DESIGNS)}.")
        month_index(self.start_month)
        if not (isinstance(self.period_months, int) and 1 <= self.period_months <= 24):
            raise ConfigError(f"period_months {self.period_months!r} must be an integer from 1 to 24.")
        lo = 3 if self.design == "stepped_wedge" else 1
        if not (isinstance(self.n_periods, int) and lo <= self.n_periods <= 24):
            raise ConfigError(f"n_periods {self.n_periods!r} must be an integer from {lo} to 24 for a {self.design} design.")
        if self.unit != "practice":
            raise ConfigError(f"unit of allocation {self.unit!r} is not supported; accepted: practice.")
        if tuple(self.arms) != ARMS:
            raise ConfigError(f"arms {list(self.arms)!r} must be {list(ARMS)!r}.")
        if not (isinstance(self.baseline_months, int) and 0 <= self.baseline_months <= 60):
            raise ConfigError(f"baseline_months {self.baseline_months!r} must be an integer from 0 to 60.")
        if not (isinstance(self.followup_days, int) and 7 <= self.followup_days <= 365):
            raise ConfigError(f"followup_days {self.followup_days!r} must be an integer from 7 to 365.")
        kinds = [o.kind for o in self.outcomes]
        for o in self.outcomes:
            if o.kind not in OUTCOME_KINDS:
                raise ConfigError(f"outcome {o.name!r}: kind {o.kind!r} is not known; accepted: {', '.join(OUTCOME_KINDS)}.")
        if kinds.count("primary") != 1:
            raise ConfigError(f"a protocol has exactly one primary outcome; got {kinds.count('primary')}.")

    # ---------------------------------------------------------------- periods ----
    @property
    def n_sequences(self) -> int:
        """Number of allocation sequences (stepped wedge: n_periods - 1; parallel: 2)."""
        return self.n_periods - 1 if self.design == "stepped_wedge" else 2

    @property
    def end_month(self) -> str:
        """The last month of the last period."""
        return month_str(month_index(self.start_month) + self.n_periods * self.period_months - 1)

    @property
    def start_date(self) -> date:
        y, m = self.start_month.split("-")
        return date(int(y), int(m), 1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["arms"] = list(self.arms)
        d["outcomes"] = [asdict(o) for o in self.outcomes]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Protocol:
        """Build (and validate) a protocol from its dict (JSON) form; unknown keys are refused."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"protocol keys {unknown} are not known; accepted: {', '.join(sorted(known))}.")
        kw = dict(d)
        if "outcomes" in kw:
            try:
                kw["outcomes"] = tuple(Outcome(**o) for o in kw["outcomes"])
            except TypeError as exc:
                raise ConfigError(f"protocol outcomes: {exc}; each outcome has name, kind, definition, analysis.") from None
        if "arms" in kw:
            kw["arms"] = tuple(kw["arms"])
        return cls(**kw)


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8: the bytes that are hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def protocol_sha256(protocol: Protocol) -> str:
    """SHA-256 of the protocol's canonical JSON."""
    return hashlib.sha256(canonical_json(protocol.to_dict()).encode()).hexdigest()


def allocation_sha256(allocation: Mapping[int, int | None], strata: Mapping[int, str], seed: int) -> str:
    """SHA-256 of the allocation (practice → stratum, crossover period) and the seed that drew it."""
    body = {"seed": seed, "allocation": [[int(p), strata[p], allocation[p]] for p in sorted(allocation)]}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def registration_sha256(protocol_hash: str, allocation_hash: str) -> str:
    """The hash published at registration: protocol and allocation together."""
    return hashlib.sha256(f"{protocol_hash}:{allocation_hash}".encode()).hexdigest()


@dataclass(frozen=True)
class Practice:
    """A unit of allocation for the randomisation: its id and its stratum (e.g. ``"small"``, ``"Bretagne"``)."""

    id: int
    stratum: str


def randomise(protocol: Protocol, practices: Sequence[Practice], seed: int) -> dict[int, int | None]:
    """Seeded, stratified allocation of practices to sequences; returns practice id → crossover period.

    Within each stratum (strata in sorted order, practices sorted by id, then shuffled with
    ``numpy.random.default_rng(seed)``), practices are dealt to the sequences in a random order of the
    sequences, continuing where the previous stratum stopped: every stratum spreads over the sequences
    (counts differ by at most one) and so do the totals. The same seed and practices give the same
    allocation. Stepped wedge: sequence ``s`` (1…n_periods-1) turns the AI on at period ``s``. Parallel:
    period 0 (AI on throughout) or ``None`` (control).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed {seed!r} must be a non-negative integer.")
    ids = [p.id for p in practices]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ConfigError(f"practices {dup} are listed more than once.")
    k = protocol.n_sequences
    if len(practices) < k:
        raise ConfigError(f"{len(practices)} practices cannot fill the {k} sequences of a {protocol.design} design "
                          f"with {protocol.n_periods} periods; add practices or use fewer periods.")
    rng = np.random.default_rng(seed)
    sequences: list[int | None] = list(range(1, protocol.n_periods)) if protocol.design == "stepped_wedge" else [0, None]
    order = [sequences[i] for i in rng.permutation(k)]
    by_stratum: dict[str, list[int]] = {}
    for p in sorted(practices, key=lambda p: p.id):
        by_stratum.setdefault(p.stratum, []).append(p.id)
    out: dict[int, int | None] = {}
    pos = 0
    for stratum in sorted(by_stratum):
        members = [by_stratum[stratum][i] for i in rng.permutation(len(by_stratum[stratum]))]
        for pid in members:
            out[pid] = order[pos % k]
            pos += 1
    return out


def period_of(protocol: Protocol, when: date | str) -> int | None:
    """The protocol period (0-based) of a date or ``YYYY-MM`` month; ``-1`` before the start, ``None`` after the end."""
    idx = month_index(when) if isinstance(when, str) else when.year * 12 + when.month - 1
    k = (idx - month_index(protocol.start_month))
    if k < 0:
        return -1
    p = k // protocol.period_months
    return p if p < protocol.n_periods else None


def ai_on(protocol: Protocol, allocation: Mapping[int, int | None], practice_id: int, when: date | str) -> bool | None:
    """Whether the AI reading is on for ``practice_id`` at ``when`` as the protocol and allocation say.

    ``None`` when the protocol does not govern that practice (not allocated): the instance switch decides.
    Before the first period: off (baseline). After the last period: the state of the last period.
    """
    if practice_id not in allocation:
        return None
    crossover = allocation[practice_id]
    p = period_of(protocol, when)
    if p == -1:
        return False
    if p is None:
        p = protocol.n_periods - 1
    return crossover is not None and p >= crossover


def arm_of(protocol: Protocol, allocation: Mapping[int, int | None], practice_id: int, when: date | str) -> str | None:
    """``"ai_on"`` / ``"ai_off"`` (or ``None`` outside the pilot) for a practice at a date."""
    on = ai_on(protocol, allocation, practice_id, when)
    return None if on is None else ("ai_on" if on else "ai_off")


def schedule(protocol: Protocol, allocation: Mapping[int, int | None]) -> dict[int, list[bool]]:
    """Practice id → AI on in each period (the stepped-wedge diagram's rows)."""
    return {pid: [c is not None and p >= c for p in range(protocol.n_periods)] for pid, c in sorted(allocation.items())}
