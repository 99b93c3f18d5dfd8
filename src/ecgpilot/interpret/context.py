"""The typed context every rule reads, and the finding every rule returns.

:func:`build_context` turns the analysis document (``docs/analysis-schema.md``) into a
:class:`Context`: patient traits, quality, global measurements, the per-lead matrix, the rhythm
read from the tracing and the AI statements. Rules never read the raw document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecgpilot import messages
from ecgpilot.interpret.catalogue import AI_MAP, CONTIGUOUS, LEAD_ORDER

__all__ = ["AIStatement", "Context", "Finding", "build_context", "contiguous_leads", "lead_order"]


def contiguous_leads(leads: set[str]) -> list[str]:
    """The leads of ``leads`` that have a contiguous neighbour (:data:`CONTIGUOUS`) also in ``leads``."""
    found = {x for a, b in CONTIGUOUS if a in leads and b in leads for x in (a, b)}
    return sorted(found, key=lead_order)


def lead_order(name: str) -> tuple[int, str]:
    """Sort key: standard lead order, other leads after."""
    return (LEAD_ORDER.index(name) if name in LEAD_ORDER else len(LEAD_ORDER), name)


@dataclass(frozen=True)
class AIStatement:
    """One classifier statement: calibrated probability, whether it passed its operating point."""

    code: str
    probability: float
    present: bool
    threshold: float | None
    description: str


@dataclass
class Finding:
    """What a rule proposes: a catalogue statement id with its evidence.

    ``source`` is ``'measurement'``, ``'ai'`` or ``'ai+measurement'``; ``evidence`` items are
    ``{"kind", "name", "value", "text"}``; ``leads`` are the leads the finding rests on (empty:
    the whole tracing); ``detail`` is appended to the statement text; ``note`` explains a mimic,
    a quality caveat or why the measurements do not support an AI statement.
    """

    id: str
    rule: str
    citation: str
    source: str = "measurement"
    evidence: list[dict[str, Any]] = field(default_factory=list)
    leads: list[str] = field(default_factory=list)
    confidence: float | None = None
    detail: str | None = None
    note: str | None = None
    status: str = "finding"          # finding | ai_only
    urgency: str | None = None       # None: the catalogue's


@dataclass(frozen=True)
class Context:
    """Everything the rules may read, typed; values that could not be measured are None."""

    lang: str
    th: Mapping[str, float]
    sex: str                        # 'M' | 'F' | 'U'
    age: float | None
    verdict: str | None
    critical_leads: frozenset[str]
    quality_reasons: tuple[dict[str, Any], ...]
    measured: bool
    hr: float | None
    rr: float | None
    rr_sd: float | None
    n_beats: int
    pr: float | None
    p_dur: float | None
    qrs: float | None
    qt: float | None
    qtc: float | None
    qtc_formula: str
    qt_reliable: bool
    axis: float | None
    pacing: bool
    leads: Mapping[str, Mapping[str, Any]]
    rhythm: Mapping[str, Any]
    ai: Mapping[str, AIStatement]
    ai_ok: bool
    amplitudes_reliable: bool = True
    ectopy: Mapping[str, Any] = field(default_factory=dict)

    # --- helpers -----------------------------------------------------------------------
    def v(self, lead: str, key: str) -> float | None:
        """A matrix value (µV or ms) of one lead, None when absent or not measured."""
        x = (self.leads.get(lead) or {}).get(key)
        return None if x is None or isinstance(x, bool) else float(x)

    @property
    def child(self) -> bool:
        """Under 16 years (adult criteria do not apply)."""
        return self.age is not None and self.age < 16

    @property
    def rr_cv(self) -> float | None:
        return self.rr_sd / self.rr if self.rr and self.rr_sd is not None else None

    @property
    def irregular(self) -> bool:
        """Irregularly irregular: a high RR coefficient of variation *and*, when the tracing gives it, a high
        successive-difference index (sinus arrhythmia or a few noise beats raise the first alone)."""
        cv = self.rr_cv
        succ = (self.rhythm or {}).get("rr_irregularity")
        return (cv is not None and cv > self.th["rr_irregular_cv"] and self.n_beats >= 4
                and (succ is None or succ >= self.th["rr_irregular_successive"]))

    @property
    def one_lead(self) -> bool:
        """A one-lead recording (a handheld recorder): intervals cannot be measured across leads (AHA 2007
        part II measures PR, QRS and QT from the earliest onset to the latest offset in any lead)."""
        return len(self.leads) == 1

    @property
    def wide(self) -> bool:
        return self.qrs is not None and self.qrs >= self.th["qrs_wide"]

    def ai_present(self, *codes: str) -> list[AIStatement]:
        """The AI statements among ``codes`` that passed their operating point."""
        return [self.ai[c] for c in codes if c in self.ai and self.ai[c].present]

    def contiguous(self, leads: set[str]) -> list[str]:
        """The leads of ``leads`` that have a contiguous neighbour also in ``leads``."""
        return contiguous_leads(leads)

    def ev(self, name: str, value: Any, text: str) -> dict[str, Any]:
        return {"kind": "measurement", "name": name, "value": value, "text": text}

    def ev_lead(self, lead: str, key: str, label: str) -> dict[str, Any]:
        """Evidence of one matrix value, e.g. ``ST J V2 +2.1 mm``."""
        x = self.v(lead, key)
        if key.endswith("_uv") and x is not None:
            text = f"{label} {lead} {x / 100:+.1f} mm"
        else:
            text = f"{label} {lead} {x:.0f} ms" if x is not None else f"{label} {lead}"
        return {"kind": "measurement", "name": f"lead_matrix.{lead}.{key}", "value": x, "text": text}

    def ai_label(self, s: AIStatement) -> str:
        """The AI statement's label in the reading's language."""
        if self.lang != "fr":
            return s.description
        from ecgpilot.interpret.catalogue import AI_LABELS_FR, STATEMENTS

        sid = AI_MAP.get(s.code)
        return AI_LABELS_FR.get(s.code) or (STATEMENTS[sid][2] if sid else s.description)

    def ev_ai(self, s: AIStatement) -> dict[str, Any]:
        """Evidence of one AI statement: its label and calibrated probability."""
        return {"kind": "ai", "code": s.code, "value": round(s.probability, 3),
                "text": self.say("evidence.ai_probability", label=self.ai_label(s), p=s.probability)}

    def say(self, key: str, /, **fields: Any) -> str:
        """The catalogue text ``reading.<key>`` in the reading's language, formatted with ``fields``
        (e.g. ``ctx.say("evidence.rate", hr=72)``: ``'fréquence 72/min'``)."""
        return messages.text(f"reading.{key}", self.lang, **fields)


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def _ai_statements(ai: Any, crit: float) -> dict[str, AIStatement]:
    """Classifier statements by code. An emergency code counts as present from calibrated
    probability ``crit`` (a rare code's F1 threshold can be degenerate), the others by ``present``."""
    from ecgpilot.interpret.catalogue import STATEMENTS

    out: dict[str, AIStatement] = {}
    if not isinstance(ai, dict):
        return out
    for s in ai.get("statements") or []:
        code = s.get("code")
        if not code:
            continue
        p = s.get("calibrated_probability", s.get("probability"))
        p = 0.0 if p is None else float(p)
        sid = AI_MAP.get(code)
        critical = sid is not None and STATEMENTS[sid][1] == "emergency"
        present = p >= crit if critical else bool(s.get("present"))
        prev = out.get(code)
        if prev is None or p > prev.probability:
            out[code] = AIStatement(code, p, present, _num(s.get("threshold")), s.get("description") or code)
    return out


def build_context(analysis: Mapping[str, Any], lang: str, th: Mapping[str, float]) -> Context:
    """The rules' context from an analysis document."""
    quality = analysis.get("quality") or {}
    m = analysis.get("measurements") or {}
    patient = ((analysis.get("record") or {}).get("patient") or {})
    sex = patient.get("sex") or "U"
    age = _num(patient.get("age_years"))
    ai = analysis.get("ai")
    critical = set(quality.get("critical_leads") or [])
    if not critical:   # older quality objects: the leads named by a critical reason
        critical = {r["lead"] for r in quality.get("reasons") or [] if r.get("lead") and r.get("severity") == "critical"}
    lm = m.get("lead_matrix") or {}
    qrs = _num(m.get("qrs_ms"))   # the QRS the measurement table shows: one value for table and statements
    return Context(
        lang=lang, th=th, sex=sex if sex in ("M", "F") else "U", age=age,
        verdict=quality.get("verdict"), critical_leads=frozenset(critical),
        quality_reasons=tuple(quality.get("reasons") or []),
        measured=bool(m) and m.get("heart_rate_bpm") is not None,
        hr=_num(m.get("heart_rate_bpm")), rr=_num(m.get("rr_ms")), rr_sd=_num(m.get("rr_sd_ms")),
        n_beats=int(m.get("n_beats") or 0), pr=_num(m.get("pr_ms")), p_dur=_num(m.get("p_duration_ms")),
        qrs=qrs, qt=_num(m.get("qt_ms")), qtc=_num(m.get("qtc_ms")),
        qtc_formula=m.get("qtc_formula") or "fridericia", qt_reliable=m.get("qt_reliable", True) is not False,
        axis=_num(m.get("qrs_axis_deg")), pacing=bool(m.get("pacing_spikes")),
        leads=lm.get("leads") or {}, rhythm=m.get("rhythm") or {},
        ai=_ai_statements(ai, th["ai_critical_probability"]),
        ai_ok=isinstance(ai, dict) and "statements" in ai,
        amplitudes_reliable=quality.get("amplitudes_reliable", True) is not False,
        ectopy=m.get("ectopy") or {},
    )
