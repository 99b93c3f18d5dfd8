"""Micro-costing, cost-effectiveness and budget impact, with a versioned, editable tariff table.

Unit costs are inputs (:class:`Tariffs`): the defaults below carry their source and date; a value
marked ``assumption=True`` is not a published fee and must be checked by the health economist
before any conclusion. The evaluator edits a JSON copy (:meth:`Tariffs.to_dict` / :meth:`Tariffs.from_dict`).

* Cost of one ECG's pathway (insurer's perspective, 30 days): ECG act (+ AI price per ECG in the AI arm)
  + tele-expertise acts (requesting and requested doctor) + cardiology consultation when seen
  + emergency visit + hospital stay.
* Per arm: cost per ECG read, per correctly referred patient (referred and an abnormal final diagnosis),
  per new diagnosis; ICER = Δ cost per ECG / Δ new diagnoses per ECG with a percentile bootstrap CI
  (``scipy.stats.bootstrap``) and the replicates for the cost-effect plane.
* Budget impact over 1–5 years for N GPs with an uptake curve, and a one-way sensitivity analysis (tornado).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats

from ecgpilot.errors import ConfigError

__all__ = ["UnitCost", "Tariffs", "DEFAULT_TARIFFS", "UPTAKE_SCENARIOS", "pathway_cost", "arm_costs", "icer_bootstrap",
           "BudgetInputs", "budget_impact", "one_way_sensitivity", "ABNORMAL_DIAGNOSES"]

ABNORMAL_DIAGNOSES = ("af_flutter", "conduction", "lvh", "ischaemia", "other_arrhythmia", "other")


@dataclass(frozen=True)
class UnitCost:
    """One unit cost in euros, with where it comes from."""

    code: str
    label: str
    eur: float
    source: str
    assumption: bool = False


@dataclass(frozen=True)
class Tariffs:
    """A versioned tariff table. ``ai_pricing``: ``per_ecg`` (``ai_price`` € per ECG) or ``per_gp_year`` (a subscription)."""

    version: str
    as_of: str
    items: Mapping[str, UnitCost]
    ai_pricing: str = "per_ecg"

    def __post_init__(self) -> None:
        if self.ai_pricing not in ("per_ecg", "per_gp_year"):
            raise ConfigError(f"ai_pricing {self.ai_pricing!r} is not known; accepted: per_ecg, per_gp_year.")
        missing = [c for c in REQUIRED_CODES if c not in self.items]
        if missing:
            raise ConfigError(f"the tariff table lacks {missing}; it needs {', '.join(REQUIRED_CODES)}.")
        for c, u in self.items.items():
            if not (isinstance(u.eur, (int, float)) and 0 <= u.eur <= 1e6):
                raise ConfigError(f"tariff {c!r}: {u.eur!r} € is not a cost from 0 to 1,000,000.")

    def eur(self, code: str) -> float:
        return float(self.items[code].eur)

    def with_value(self, code: str, eur: float) -> Tariffs:
        """A copy with one unit cost changed (sensitivity analysis, evaluator's edit)."""
        if code not in self.items:
            raise ConfigError(f"tariff {code!r} is not known; accepted: {', '.join(self.items)}.")
        items = dict(self.items)
        items[code] = replace(items[code], eur=float(eur))
        return replace(self, items=items)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "as_of": self.as_of, "ai_pricing": self.ai_pricing,
                "items": {c: asdict(u) for c, u in self.items.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tariffs:
        try:
            items = {c: UnitCost(**u) for c, u in d["items"].items()}
            return cls(str(d["version"]), str(d["as_of"]), items, str(d.get("ai_pricing", "per_ecg")))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"tariff table: {exc}; expected version, as_of, ai_pricing and items "
                              "{code: {code, label, eur, source, assumption}}.") from None


REQUIRED_CODES = ("DEQP003", "TE_REQUESTING", "TE_REQUESTED", "CARDIO_CONSULT", "ED_VISIT", "HOSPITAL_STAY", "AI_PRICE")

DEFAULT_TARIFFS = Tariffs("default-2025", "2025-01-01", {
    "DEQP003": UnitCost("DEQP003", "ECG sur au moins 12 dérivations (CCAM DEQP003)", 14.26,
                        "CCAM, Assurance Maladie (ameli.fr, CCAM en ligne), acte DEQP003, tarif secteur 1; "
                        "check the CCAM version in force"),
    "TE_REQUESTING": UnitCost("TE_REQUESTING", "Téléexpertise, médecin requérant (RQD)", 10.0,
                              "Convention médicale, avenant 9 (2022): acte RQD; value to confirm against the current NGAP", True),
    "TE_REQUESTED": UnitCost("TE_REQUESTED", "Téléexpertise, médecin requis (TE2)", 20.0,
                             "Convention médicale, avenant 9 (2022): acte TE2; value to confirm against the current NGAP", True),
    "CARDIO_CONSULT": UnitCost("CARDIO_CONSULT", "Consultation de cardiologue (CSC, ECG inclus)", 47.73,
                               "NGAP, CSC; revalued by the 2024 convention: value to confirm", True),
    "ED_VISIT": UnitCost("ED_VISIT", "Passage aux urgences sans hospitalisation", 250.0,
                         "Assumption (order of magnitude of the mean cost of an emergency visit); to be replaced "
                         "by the ATIH/ENC value chosen by the committee", True),
    "HOSPITAL_STAY": UnitCost("HOSPITAL_STAY", "Séjour hospitalier de cardiologie (moyenne)", 3000.0,
                              "Assumption (mean GHS tariff of a short cardiology stay); to be replaced by the "
                              "ATIH tariffs of the stays observed", True),
    "AI_PRICE": UnitCost("AI_PRICE", "Prix de l'aide IA (par ECG, ou par médecin et par an)", 1.0,
                         "Pilot parameter: pricing is one of the pilot's questions (no public price)", True),
})

UPTAKE_SCENARIOS: dict[str, tuple[float, ...]] = {
    "slow": (0.05, 0.10, 0.20, 0.30, 0.40),
    "medium": (0.10, 0.25, 0.40, 0.55, 0.65),
    "fast": (0.20, 0.45, 0.65, 0.80, 0.90),
}


def pathway_cost(row: Mapping[str, Any], tariffs: Tariffs) -> float:
    """30-day cost of one ECG's pathway. Row keys: ``arm``, ``tele_expertise``, ``seen_by_cardiologist``,
    ``emergency``, ``hospitalised`` (missing or ``None`` = no cost)."""
    c = tariffs.eur("DEQP003")
    if row.get("arm") == "ai_on" and tariffs.ai_pricing == "per_ecg":
        c += tariffs.eur("AI_PRICE")
    if row.get("tele_expertise"):
        c += tariffs.eur("TE_REQUESTING") + tariffs.eur("TE_REQUESTED")
    if row.get("seen_by_cardiologist"):
        c += tariffs.eur("CARDIO_CONSULT")
    if row.get("emergency"):
        c += tariffs.eur("ED_VISIT")
    if row.get("hospitalised"):
        c += tariffs.eur("HOSPITAL_STAY")
    return c


def _correctly_referred(r: Mapping[str, Any]) -> bool:
    return bool(r.get("referred")) and r.get("diagnosis") in ABNORMAL_DIAGNOSES


def arm_costs(rows: Iterable[Mapping[str, Any]], tariffs: Tariffs) -> dict[str, dict[str, Any]]:
    """Per arm: number of ECGs, total and mean cost per ECG, cost per correctly referred patient and per new
    diagnosis (``None`` when there is none)."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by.setdefault(str(r["arm"]), []).append(r)
    out = {}
    for arm, rs in sorted(by.items()):
        total = sum(pathway_cost(r, tariffs) for r in rs)
        ref = sum(1 for r in rs if _correctly_referred(r))
        new = sum(1 for r in rs if r.get("new_diagnosis"))
        out[arm] = {"n_ecg": len(rs), "total_eur": total, "per_ecg_eur": total / len(rs) if rs else None,
                    "correctly_referred": ref, "per_correct_referral_eur": total / ref if ref else None,
                    "new_diagnoses": new, "per_new_diagnosis_eur": total / new if new else None}
    return out


def icer_bootstrap(rows: Iterable[Mapping[str, Any]], tariffs: Tariffs, *, n_resamples: int = 2000,
                   seed: int = 0, cluster: str = "practice") -> dict[str, Any]:
    """ICER of AI on vs off: (mean cost per ECG on − off) / (new-diagnosis rate on − off), in € per additional
    new diagnosis, with percentile 95% bootstrap CIs (``scipy.stats.bootstrap``).

    The bootstrap resamples **clusters** (the row key ``cluster``, the practice: ECGs of a practice are not
    independent, and in a stepped wedge a practice contributes to both arms), each with all its ECGs; rows
    without that key are their own cluster. ``replicates``: the (Δ effect, Δ cost) pairs for the cost-effect
    plane. The ICER's CI is only meaningful when the Δ effect interval excludes 0 (``icer_ci_meaningful``).
    """
    sums: dict[Any, list[float]] = {}   # cluster → [cost on, effect on, n on, cost off, effect off, n off]
    for i, r in enumerate(rows):
        if r.get("arm") not in ("ai_on", "ai_off"):
            continue
        k = r.get(cluster, ("row", i))
        acc = sums.setdefault(k, [0.0] * 6)
        j = 0 if r["arm"] == "ai_on" else 3
        acc[j] += pathway_cost(r, tariffs)
        acc[j + 1] += 1.0 if r.get("new_diagnosis") else 0.0
        acc[j + 2] += 1.0
    m = np.array(list(sums.values())).reshape(-1, 6)
    for a, j in (("ai_on", 2), ("ai_off", 5)):
        if m[:, j].sum() < 2:
            raise ConfigError(f"arm {a} has {int(m[:, j].sum())} ECG(s); at least 2 per arm are needed for the ICER.")
    if len(m) < 2:
        raise ConfigError(f"{len(m)} cluster(s): the bootstrap needs at least 2.")

    def stat(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        t = m[idx.astype(int)].sum(axis=-2)            # (..., 6)
        with np.errstate(divide="ignore", invalid="ignore"):
            de = t[..., 1] / t[..., 2] - t[..., 4] / t[..., 5]
            dc = t[..., 0] / t[..., 2] - t[..., 3] / t[..., 5]
        return np.stack([de, dc])

    idx = np.arange(len(m), dtype=float)
    res = stats.bootstrap((idx,), stat, vectorized=True, n_resamples=n_resamples, method="percentile", rng=seed,
                          batch=200)
    de, dc = (float(v) for v in stat(idx))
    dist = res.bootstrap_distribution   # (2, n_resamples)
    dist = dist[:, np.isfinite(dist).all(axis=0)]   # a resample without one arm has no difference
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = dist[1] / dist[0]
    finite = ratios[np.isfinite(ratios)]
    e_lo, e_hi = (float(v) for v in np.percentile(dist[0], [2.5, 97.5]))
    c_lo, c_hi = (float(v) for v in np.percentile(dist[1], [2.5, 97.5]))
    return {
        "delta_cost_per_ecg": dc, "delta_cost_ci": [c_lo, c_hi],
        "delta_effect": de, "delta_effect_ci": [e_lo, e_hi],
        "icer": dc / de if de != 0 else None,
        "icer_ci": [float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))] if len(finite) else None,
        "icer_ci_meaningful": bool(e_lo > 0 or e_hi < 0),
        "quadrants": {"more_effective_more_costly": float(np.mean((dist[0] > 0) & (dist[1] > 0))),
                      "more_effective_less_costly": float(np.mean((dist[0] > 0) & (dist[1] <= 0))),
                      "less_effective_more_costly": float(np.mean((dist[0] <= 0) & (dist[1] > 0))),
                      "less_effective_less_costly": float(np.mean((dist[0] <= 0) & (dist[1] <= 0)))},
        "replicates": dist.T.tolist(), "n_resamples": n_resamples, "seed": seed, "clusters": int(len(m)),
        "resampled_unit": cluster,
    }


@dataclass(frozen=True)
class BudgetInputs:
    """Inputs of the budget-impact projection (insurer's perspective, euros, undiscounted).

    ``ecg_per_gp_month``: baseline volume; ``effect_per_gp_month``: extra ECGs per GP-month with the AI (the
    measured effect); ``downstream_per_ecg_on``/``_off``: mean pathway cost per ECG beyond the ECG act and the
    AI price (tele-expertise, consultations, emergencies, stays) in each arm.
    """

    n_gps: int = 50_000        # assumption: order of magnitude of the GPs in private practice in France
    uptake: tuple[float, ...] = UPTAKE_SCENARIOS["medium"]
    ecg_per_gp_month: float = 28 / 12   # ~28 ECGs per GP per year (CNAM's rationale for the pilot, Nov 2024)
    effect_per_gp_month: float = 0.5   # placeholder: replaced by the measured effect
    downstream_per_ecg_on: float = 20.0
    downstream_per_ecg_off: float = 20.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (1 <= len(self.uptake) <= 5) or any(not 0 <= u <= 1 for u in self.uptake):
            raise ConfigError(f"uptake {list(self.uptake)} must give 1 to 5 yearly fractions, each from 0 to 1.")
        if self.n_gps < 0:
            raise ConfigError(f"n_gps {self.n_gps} must be ≥ 0.")


def budget_impact(inputs: BudgetInputs, tariffs: Tariffs) -> list[dict[str, float]]:
    """Yearly incremental cost to the insurer of the roll-out vs no AI: for each year, GPs using the AI,
    extra ECGs, cost of the extra ECG acts, AI price, change of downstream costs, total."""
    rows = []
    for y, u in enumerate(inputs.uptake, start=1):
        users = inputs.n_gps * u
        ecgs_with_ai = users * 12 * (inputs.ecg_per_gp_month + inputs.effect_per_gp_month)
        extra = users * 12 * inputs.effect_per_gp_month
        acts = extra * tariffs.eur("DEQP003")
        ai = ecgs_with_ai * tariffs.eur("AI_PRICE") if tariffs.ai_pricing == "per_ecg" else users * tariffs.eur("AI_PRICE")
        downstream = (ecgs_with_ai * inputs.downstream_per_ecg_on
                      - users * 12 * inputs.ecg_per_gp_month * inputs.downstream_per_ecg_off)
        rows.append({"year": y, "uptake": u, "gps_using": users, "extra_ecgs": extra, "ecg_acts_eur": acts,
                     "ai_eur": ai, "downstream_eur": downstream, "total_eur": acts + ai + downstream})
    return rows


def one_way_sensitivity(base: Mapping[str, float], ranges: Mapping[str, tuple[float, float]],
                        fn: Callable[[Mapping[str, float]], float]) -> list[dict[str, Any]]:
    """Deterministic one-way sensitivity: each parameter at its low then high value, the others at base.
    Returns rows sorted by swing (largest first) — the tornado's bars."""
    unknown = sorted(set(ranges) - set(base))
    if unknown:
        raise ConfigError(f"sensitivity ranges for unknown parameters {unknown}; accepted: {', '.join(sorted(base))}.")
    y0 = float(fn(base))
    rows = []
    for name, (lo, hi) in ranges.items():
        ylo = float(fn({**base, name: lo}))
        yhi = float(fn({**base, name: hi}))
        rows.append({"parameter": name, "base_value": float(base[name]), "low_value": float(lo), "high_value": float(hi),
                     "base": y0, "at_low": ylo, "at_high": yhi, "swing": abs(yhi - ylo)})
    return sorted(rows, key=lambda r: -r["swing"])


def budget_total(params: Mapping[str, float], tariffs: Tariffs, uptake: Sequence[float], n_gps: int) -> float:
    """Total budget impact over the horizon for a flat parameter dict (for :func:`one_way_sensitivity`):
    keys ``effect_per_gp_month``, ``ecg_per_gp_month``, ``downstream_per_ecg_on``, ``downstream_per_ecg_off``,
    and any tariff code (e.g. ``AI_PRICE``, ``DEQP003``)."""
    t = tariffs
    for code in t.items:
        if code in params:
            t = t.with_value(code, params[code])
    inputs = BudgetInputs(n_gps=n_gps, uptake=tuple(uptake), ecg_per_gp_month=params["ecg_per_gp_month"],
                          effect_per_gp_month=params["effect_per_gp_month"],
                          downstream_per_ecg_on=params["downstream_per_ecg_on"],
                          downstream_per_ecg_off=params["downstream_per_ecg_off"])
    return sum(r["total_eur"] for r in budget_impact(inputs, t))


__all__ += ["budget_total", "REQUIRED_CODES"]
