"""The 30-day care pathway: the GP's follow-up form (validation) and the indicators per arm.

Every proportion comes with its Wilson 95% CI (``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``).
AI performance per urgency level: sensitivity and PPV of "the AI says at least this urgent" against the
reference (the cardiologist's over-read, or the urgency implied by the 30-day diagnosis). Drift: a p-chart
per month (centre p̄ = Σk/Σn, limits p̄ ± 3·√(p̄(1−p̄)/nₘ)), a month outside its limits is flagged.
Pure functions: plain rows (dicts) in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from statistics import median
from typing import Any

from scipy.stats import binomtest

from ecgpilot import messages
from ecgpilot.errors import ConfigError

__all__ = ["DIAGNOSES", "REFERRAL_KINDS", "URGENCY_LEVELS", "NEW_DIAGNOSIS_CODES", "Proportion", "proportion",
           "validate_followup", "arm_indicators", "urgency_performance", "p_chart", "subgroup_agreement"]

#: Final diagnosis at 30 days: a short list (+ free text); ``{code: {"fr": …, "en": …}}``, a read-only
#: view of the message catalogue's ``pilot.diagnosis`` section.
DIAGNOSES = messages.Bilingual("pilot.diagnosis")
NEW_DIAGNOSIS_CODES = ("af_flutter", "conduction", "lvh", "ischaemia", "other_arrhythmia")
REFERRAL_KINDS = ("consultation", "tele_expertise", "emergency")
URGENCY_LEVELS = ("emergency", "repeat_now", "soon", "routine", "normal")   # most urgent first (web.services)
_BOOL_FIELDS = ("referred", "emergency", "hospitalised", "new_diagnosis", "treatment_changed")


@dataclass(frozen=True)
class Proportion:
    """k of n, with the Wilson 95% CI (``None`` when n = 0)."""

    k: int
    n: int
    p: float | None
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def proportion(k: int, n: int) -> Proportion:
    """``k``/``n`` with the Wilson score 95% interval (scipy)."""
    if n < 0 or k < 0 or k > n:
        raise ConfigError(f"a proportion needs 0 ≤ k ≤ n; got k={k}, n={n}.")
    if n == 0:
        return Proportion(0, 0, None, None, None)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return Proportion(k, n, k / n, float(ci.low), float(ci.high))


def _bool(name: str, v: Any) -> bool | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "oui", "on"):
        return True
    if s in ("0", "false", "no", "non", "off"):
        return False
    raise ConfigError(f"follow-up field {name!r}: {v!r} is not accepted; accepted: yes/no (oui/non, true/false) or empty.")


def validate_followup(form: Mapping[str, Any], *, ecg_date: date, today: date) -> dict[str, Any]:
    """Check a follow-up form; returns the clean values (every field optional, ``None`` when empty).

    ``seen_on`` must fall between the ECG and today; a referral kind or a visit date implies ``referred``.
    """
    known = set(_BOOL_FIELDS) | {"referral_kind", "seen_on", "diagnosis", "diagnosis_text"}
    unknown = sorted(set(form) - known)
    if unknown:
        raise ConfigError(f"follow-up fields {unknown} are not known; accepted: {', '.join(sorted(known))}.")
    out: dict[str, Any] = {k: _bool(k, form.get(k)) for k in _BOOL_FIELDS}
    kind = (form.get("referral_kind") or "").strip() or None
    if kind is not None and kind not in REFERRAL_KINDS:
        raise ConfigError(f"referral_kind {kind!r} is not known; accepted: {', '.join(REFERRAL_KINDS)} or empty.")
    out["referral_kind"] = kind
    seen = form.get("seen_on")
    if isinstance(seen, str):
        seen = seen.strip() or None
        if seen is not None:
            try:
                seen = date.fromisoformat(seen)
            except ValueError:
                raise ConfigError(f"seen_on {form.get('seen_on')!r} is not a date; accepted: YYYY-MM-DD or empty.") from None
    if seen is not None and not (ecg_date <= seen <= today):
        raise ConfigError(f"seen_on {seen.isoformat()} must fall between the ECG ({ecg_date.isoformat()}) and today "
                          f"({today.isoformat()}).")
    out["seen_on"] = seen
    dx = (form.get("diagnosis") or "").strip() or None
    if dx is not None and dx not in DIAGNOSES:
        raise ConfigError(f"diagnosis {dx!r} is not known; accepted: {', '.join(DIAGNOSES)} or empty.")
    out["diagnosis"] = dx
    text = (form.get("diagnosis_text") or "").strip() or None
    if text is not None and len(text) > 500:
        raise ConfigError(f"diagnosis_text has {len(text)} characters; at most 500 (no patient identity).")
    out["diagnosis_text"] = text
    if out["referred"] is False and (kind is not None or seen is not None):
        raise ConfigError("referred is 'no' but a referral kind or a cardiology visit date is given; correct one of them.")
    if out["referred"] is None and (kind is not None or seen is not None):
        out["referred"] = True
    return out


def _rate(rows: Sequence[Mapping[str, Any]], field: str) -> Proportion:
    known = [r[field] for r in rows if r.get(field) is not None]
    return proportion(sum(1 for v in known if v), len(known))


def arm_indicators(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Indicators per arm from one row per signed ECG.

    Row keys: ``arm`` (ai_on/ai_off), ``followed_up`` (bool), the follow-up fields (``referred``, ``referral_kind``,
    ``emergency``, ``hospitalised``, ``new_diagnosis``, ``treatment_changed``, ``days_to_cardiology``), and from the
    app ``tele_expertise`` (bool), ``te_turnaround_h`` (float or None), ``decision`` (accepted/modified/None),
    ``model_version``. Rates are over the ECGs whose field is known (an optional field left empty is not a "no").
    """
    by_arm: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_arm.setdefault(str(r["arm"]), []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for arm, rs in sorted(by_arm.items()):
        fu = [r for r in rs if r.get("followed_up")]
        days = [float(r["days_to_cardiology"]) for r in fu if r.get("days_to_cardiology") is not None]
        te_h = [float(r["te_turnaround_h"]) for r in rs if r.get("te_turnaround_h") is not None]
        decisions: dict[str, int] = {}
        versions: dict[str, int] = {}
        for r in rs:
            if r.get("decision"):
                decisions[str(r["decision"])] = decisions.get(str(r["decision"]), 0) + 1
            if r.get("model_version"):
                versions[str(r["model_version"])] = versions.get(str(r["model_version"]), 0) + 1
        out[arm] = {
            "n_ecg": len(rs),
            "followup_completion": proportion(len(fu), len(rs)),
            "referral": _rate(fu, "referred"),
            "tele_expertise": proportion(sum(1 for r in rs if r.get("tele_expertise")), len(rs)),
            "te_turnaround_h_median": median(te_h) if te_h else None,
            "emergency": _rate(fu, "emergency"),
            "hospitalised": _rate(fu, "hospitalised"),
            "new_diagnosis": _rate(fu, "new_diagnosis"),
            "treatment_changed": _rate(fu, "treatment_changed"),
            "days_to_cardiology_median": median(days) if days else None,
            "days_to_cardiology_n": len(days),
            "decisions": decisions,
            "model_versions": versions,
        }
    return out


def urgency_performance(pairs: Iterable[tuple[str | None, str | None]],
                        levels: Sequence[str] = URGENCY_LEVELS) -> dict[str, dict[str, Proportion]]:
    """Per urgency level L (except the least urgent): sensitivity and PPV of "AI ≥ L" for "reference ≥ L".

    ``pairs``: (AI urgency, reference urgency); pairs with an unknown level are left out.
    """
    rank = {lvl: i for i, lvl in enumerate(levels)}   # 0 = most urgent
    ok = [(rank[a], rank[r]) for a, r in pairs if a in rank and r in rank]
    out: dict[str, dict[str, Proportion]] = {}
    for lvl in levels[:-1]:
        t = rank[lvl]
        tp = sum(1 for a, r in ok if a <= t and r <= t)
        pos_ref = sum(1 for _, r in ok if r <= t)
        pos_ai = sum(1 for a, _ in ok if a <= t)
        out[lvl] = {"sensitivity": proportion(tp, pos_ref), "ppv": proportion(tp, pos_ai)}
    return out


def p_chart(counts: Mapping[str, tuple[int, int]], sigmas: float = 3.0) -> list[dict[str, Any]]:
    """Monthly p-chart: ``counts`` month → (k, n). Each month gets p, the centre line p̄ = Σk/Σn, its
    control limits p̄ ± sigmas·√(p̄(1−p̄)/n) clipped to [0, 1], and ``out_of_control``."""
    tot_k = sum(k for k, _ in counts.values())
    tot_n = sum(n for _, n in counts.values())
    if tot_n == 0:
        return []
    pbar = tot_k / tot_n
    out = []
    for month in sorted(counts):
        k, n = counts[month]
        if n == 0:
            continue
        half = sigmas * math.sqrt(pbar * (1 - pbar) / n)
        lo, hi = max(0.0, pbar - half), min(1.0, pbar + half)
        p = k / n
        out.append({"month": month, "k": k, "n": n, "p": p, "centre": pbar, "lcl": lo, "ucl": hi,
                    "out_of_control": bool(p < lo or p > hi)})
    return out


def subgroup_agreement(rows: Iterable[Mapping[str, Any]], by: str) -> dict[str, Proportion]:
    """Agreement of the doctor's (or over-reader's) urgency with the AI's, per value of ``by``
    (e.g. month, practice, age band, sex, device). Row keys: ``by``, ``ai_urgency``, ``ref_urgency``."""
    groups: dict[str, list[bool]] = {}
    for r in rows:
        a, ref = r.get("ai_urgency"), r.get("ref_urgency")
        if a in URGENCY_LEVELS and ref in URGENCY_LEVELS:
            groups.setdefault(str(r.get(by)), []).append(a == ref)
    return {g: proportion(sum(v), len(v)) for g, v in sorted(groups.items())}
