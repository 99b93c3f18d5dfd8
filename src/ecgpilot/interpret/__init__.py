"""The GP's reading: a registry of small, named, cited rules over a typed context, one coherent
statement list, and the urgency.

``interpret(analysis)`` turns the analysis document (``docs/analysis-schema.md``: quality,
measurements with the per-lead matrix and the rhythm read from the tracing, AI statements) into
statements, each with its category, confidence, evidence, the leads it rests on, the rule and its
source, and an overall urgency level:

* ``emergency``: send now (STEMI by the 4th universal definition and its equivalents, complete or
  Mobitz II AV block, rate > 130 or < 40, wide-complex tachycardia, reliable QTc ≥ 500 ms...);
* ``repeat_now``: an emergency finding on leads of poor quality: repeat the recording now;
* ``soon``: see a cardiologist soon (AF/flutter, LBBB, LVH, Q-wave infarction, Wellens...);
* ``routine``: minor findings, AI-only statements, or a tracing to record again;
* ``normal``: sinus rhythm, measurements in range, no abnormal statement.

Steps: :func:`~ecgpilot.interpret.context.build_context`, every rule of
:data:`~ecgpilot.interpret.rules.RULES` in order, :func:`~ecgpilot.interpret.resolve.resolve`
(mutually exclusive statements), the quality gate, the paediatric cap, then the texts. The rules are
documented in ``docs/rules.md`` and versioned by :data:`RULES_VERSION`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecgpilot import messages
from ecgpilot.errors import ConfigError
from ecgpilot.interpret.catalogue import AI_MAP, CATEGORIES, STATEMENT_KINDS, STATEMENTS, statement_text
from ecgpilot.interpret.context import Context, Finding, build_context, contiguous_leads, lead_order
from ecgpilot.interpret.resolve import quality_gate, resolve
from ecgpilot.interpret.rules import RULES

__all__ = ["RULES_VERSION", "LEVELS", "LANGS", "THRESHOLDS", "interpret", "level_rank", "st_elevation_leads", "RULES",
           "format_reading", "ai_labels"]

#: Version of the rule set (bump on any change of a rule or threshold; see docs/rules.md).
RULES_VERSION = "2026.12.6"

#: Urgency levels, least to most urgent.
LEVELS: tuple[str, ...] = ("normal", "routine", "soon", "repeat_now", "emergency")
LANGS: tuple[str, ...] = messages.LANGS

#: Numeric limits of the rules (ms, bpm, degrees, µV). Guideline limits are the guideline's (see
#: docs/rules.md); the rate emergencies were tuned on PTB-XL fold 9 in 2026-11.
THRESHOLDS: dict[str, float] = {
    "hr_very_slow": 40.0,       # < : emergency
    "pvc_ai_support": 0.05,     # a beat of another shape is a PVC when the AI gives PVC at least this calibrated
                                # probability (PTB-XL fold 9: tracing alone sens 0.974 / spec 0.958, with it 0.965 / 0.974)
    "hr_slow": 60.0,            # < : (sinus) bradycardia, AHA 2007 part II
    "hr_marked_slow": 50.0,     # < : marked sinus bradycardia
    "hr_fast": 100.0,           # > : tachycardia
    "hr_very_fast": 130.0,      # > : emergency (PTB-XL fold 9; NEWS2 scores ≥ 131 /min highest)
    "hr_wide_fast": 120.0,      # > with QRS ≥ qrs_wide, no P before each QRS: wide-complex tachycardia
    "pr_long": 200.0,           # > : 1st-degree AV block
    "pr_short": 120.0,          # < with QRS ≥ qrs_delta: possible pre-excitation
    "qrs_delta": 110.0,
    "qrs_wide": 120.0,          # ≥ : complete bundle branch block / wide QRS (AHA 2009 part III)
    "qrs_very_wide": 160.0,     # ≥ without RBBB: secondary ST-T, the STEMI criteria give way to Sgarbossa
    "qrs_incomplete": 110.0,    # 110–119 ms: incomplete bundle branch block (AHA 2009 part III)
    "qrs_ivcd": 110.0,
    "rprime_min_uv": 100.0,     # R′ in V1/V2 counted for the RBBB shape from 1 mm          # > without a block shape: nonspecific IVCD (AHA 2009 part III)
    "qrs_normal_ref": 100.0,    # QTc judged as QTc − (QRS − this) when the QRS is wide
    "qtc_long_m": 450.0, "qtc_long_f": 460.0, "qtc_long_u": 470.0,   # > : long QTc (AHA 2009 part IV)
    "qtc_very_long": 500.0,     # ≥ : emergency when the T end is reliable
    "rr_irregular_cv": 0.12,    # RR SD / mean RR above which the rhythm is called irregular ...
    "rr_irregular_successive": 0.05,  # ... with a median |ΔRR| / median RR at least this (beat to beat), 2026.12.4
    "axis_left": -30.0, "axis_right": 90.0,
    "stemi_uv": 100.0,               # J-point elevation, leads other than V2-V3 (4th UDMI 2018)
    "stemi_v2v3_m_uv": 200.0,        # V2-V3, men ≥ 40 y
    "stemi_v2v3_m_young_uv": 250.0,  # V2-V3, men < 40 y
    "stemi_v2v3_f_uv": 150.0,        # V2-V3, women
    "stemi_v2v3_u_uv": 200.0,        # V2-V3, sex unknown: the men ≥ 40 y limit, chosen on PTB-XL fold 9 (FP 84 → 47 of 2180, STE found 0/3 either way)
    "avr_depressed_leads": 6.0,      # ST depression ≥ 1 mm in ≥ this many leads with STE in aVR (4th UDMI)
    "sokolow_lyon_uv": 3500.0,       # S V1 + R V5/V6 > (ESC/ESH 2018)
    "cornell_m_uv": 2800.0, "cornell_f_uv": 2000.0,   # R aVL + S V3 > (ESC/ESH 2018)
    "ravl_uv": 1100.0,               # R aVL ≥ (ESC/ESH 2018)
    "rvh_r_v1_uv": 700.0,            # R V1 ≥ with right axis (AHA 2009 part V)
    "low_voltage_limb_uv": 500.0, "low_voltage_precordial_uv": 1000.0,   # (AHA 2009 part V)
    # AI: an emergency code counts from this calibrated probability, whatever its F1 threshold;
    # statements below their operating point are listed as "also considered" from also_considered.
    "ai_critical_probability": 0.5,
    "also_considered": 0.2,
}

_RANK = {lv: i for i, lv in enumerate(LEVELS)}

def level_rank(level: str) -> int:
    """0 (normal) to 4 (emergency)."""
    return _RANK[level]


def st_elevation_leads(st_uv: Mapping[str, float | None], limit_uv: float, limit_v2v3_uv: float) -> list[str]:
    """Leads of the contiguous pairs whose ST elevation both reach the limit (V2/V3: their own)."""
    return contiguous_leads({x for x, v in st_uv.items()
                             if v is not None and v >= (limit_v2v3_uv if x in ("V2", "V3") else limit_uv)})


def _merge(found: dict[str, Finding], f: Finding) -> None:
    """Add a finding; a second finding of the same statement merges into the first."""
    old = found.get(f.id)
    if old is None:
        found[f.id] = f
        return
    if old.status == "ai_only" and f.status == "finding":
        found[f.id] = f
        f.evidence = f.evidence + [e for e in old.evidence if e not in f.evidence]
        return
    if f.status == "ai_only" and old.status == "finding":
        return
    if old.source != f.source:
        old.source = "ai+measurement"
    old.evidence += [e for e in f.evidence if e not in old.evidence]
    old.leads = sorted(set(old.leads) | set(f.leads), key=lead_order)
    if f.confidence is not None:
        old.confidence = max(old.confidence or 0.0, f.confidence)


def _run_rules(ctx: Context) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    for rule in RULES:
        for f in rule(ctx, found):
            _merge(found, f)
    return found


def _also_considered(ctx: Context, found: Mapping[str, Finding], th: Mapping[str, float]) -> list[dict[str, Any]]:
    """AI statements below their operating point but with some probability, not already in the reading."""
    out = []
    for code, s in sorted(ctx.ai.items(), key=lambda kv: -kv[1].probability):
        sid = AI_MAP.get(code)
        if s.present or sid is None or sid in found or s.probability < th["also_considered"]:
            continue
        out.append({"code": code, "statement_id": sid, "text": statement_text(sid, ctx.lang),
                    "probability": round(s.probability, 3),
                    "threshold": None if s.threshold is None else round(s.threshold, 3)})
    return out


def _statement(ctx: Context, f: Finding, t: Mapping[str, Any], urgency: str) -> dict[str, Any]:
    cat = STATEMENT_KINDS[f.id][0]
    text = statement_text(f.id, ctx.lang)
    if f.id == "possible_on_poor_tracing" and f.note is not None and f.note in STATEMENT_KINDS:
        base = statement_text(f.note, ctx.lang)
        if ctx.lang != "fr":   # the statement follows "Possible" in English
            base = base[0].lower() + base[1:]
        text = ctx.say("text.possible_finding", statement=base, repeat=t["repeat"])
    elif f.detail:
        text += f" ({f.detail})"
    if f.status == "ai_only":
        text += f" — {t['ai_only']}" + (f" ({f.note})" if f.note else "")
    elif f.note and f.id != "possible_on_poor_tracing":
        text += f" — {f.note}"
    return {"id": f.id, "category": cat, "text": text,
            "confidence": None if f.confidence is None else round(float(f.confidence), 3),
            "source": f.source, "evidence": f.evidence, "leads": sorted(f.leads, key=lead_order), "urgency": urgency,
            "rule": f.rule, "citation": f.citation, "status": f.status,
            **({"replaces": f.note} if f.id == "possible_on_poor_tracing" else {})}


def _cap(level: str, top: str) -> str:
    return level if level_rank(level) <= level_rank(top) else top


def interpret(analysis: dict[str, Any], *, lang: str = "fr",
              thresholds: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The reading of one analysis document: statements with evidence, urgency and a summary.

    ``lang`` is ``'fr'`` (default) or ``'en'``. ``thresholds`` overrides some of
    :data:`THRESHOLDS` (for tuning and benchmarks only; the defaults are the versioned rules).
    """
    if lang not in LANGS:
        raise ConfigError(f"Unknown language {lang!r}; accepted: {', '.join(LANGS)}.")
    unknown = sorted(set(thresholds or {}) - set(THRESHOLDS))
    if unknown:
        raise ConfigError(f"Unknown rule threshold(s) {', '.join(unknown)}; accepted: {', '.join(THRESHOLDS)}.")
    th = {**THRESHOLDS, **(thresholds or {})}
    t = messages.section("reading.text", lang)
    ctx = build_context(analysis, lang, th)

    found = resolve(_run_rules(ctx))
    urgency = {sid: f.urgency or STATEMENT_KINDS[sid][1] for sid, f in found.items()}
    for f in quality_gate(ctx, found, urgency):
        found[f"possible_on_poor_tracing:{f.note}"] = f
        urgency[f"possible_on_poor_tracing:{f.note}"] = "repeat_now"
    for sid, f in found.items():
        if f.status == "ai_only":
            urgency[sid] = _cap(urgency[sid], "routine")
        if ctx.child:
            urgency[sid] = _cap(urgency[sid], "routine")
    statements = [_statement(ctx, f, t, urgency[sid]) for sid, f in found.items()]

    # --- normal ECG ------------------------------------------------------------------------
    sinus = any(s["id"] in ("sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia") and s["status"] == "finding"
                for s in statements)
    abnormal = [s for s in statements if s["urgency"] != "normal" and s["status"] == "finding"]
    norm = ctx.ai.get("NORM")
    clear = not abnormal and sinus and ctx.measured and not ctx.child   # nothing abnormal in what was read
    if clear and not ctx.one_lead:
        ev = [ctx.ev("heart_rate_bpm", ctx.hr, ctx.say("evidence.rate", hr=ctx.hr))]
        if norm is not None and norm.present:
            f = Finding("normal_ecg", "normal_ecg", "No criterion met, AI 'NORM' at its operating point",
                        source="ai+measurement", evidence=[ctx.ev_ai(norm)] + ev, confidence=norm.probability)
            statements.append(_statement(ctx, f, t, "normal"))
        elif not ctx.ai_ok:
            f = Finding("normal_ecg", "normal_ecg", "No criterion met", evidence=ev)
            statements.append(_statement(ctx, f, t, "normal"))
    if ctx.one_lead and ctx.measured:
        f = Finding("one_lead", "one_lead", "AHA/ACCF/HRS recommendations part II (Kligfield et al. 2007): "
                    "intervals measured across simultaneous leads")
        statements.append(_statement(ctx, f, t, "normal"))
    if ctx.child:
        f = Finding("paediatric", "paediatric", "Adult ECG criteria (AHA 2009) do not apply under 16 years; "
                    "paediatric norms (Rijnbeek et al. 2001)",
                    evidence=[ctx.ev("record.patient.age_years", ctx.age, ctx.say("evidence.age", age=ctx.age))])
        statements.append(_statement(ctx, f, t, "routine"))

    # --- quality: statements of their own, never hiding a critical finding ----------------------
    msg = "message_fr" if lang == "fr" else "message_en"
    for q in ctx.quality_reasons:
        sid = f"quality_{q.get('code')}" + (f"_{q['lead']}" if q.get("lead") else "")
        statements.append({"id": sid, "category": "quality", "text": q.get(msg) or q.get("code"), "confidence": None,
                           "source": "measurement",
                           "evidence": [{"kind": "quality", "name": q.get("code"), "value": q.get("severity"),
                                         "text": q.get(msg) or ""}],
                           "leads": [q["lead"]] if q.get("lead") else [],
                           "urgency": "routine" if q.get("severity") == "critical" else "normal",
                           "rule": "quality", "citation": "ecgpilot quality gate", "status": "finding"})
    quality = analysis.get("quality") or {}
    if ctx.verdict == "not_interpretable" or quality.get("interpretable") is False:
        f = Finding("repeat_recording", "quality", "ecgpilot quality gate",
                    evidence=[{"kind": "quality", "name": "verdict", "value": ctx.verdict, "text": ctx.verdict or ""}])
        statements.append(_statement(ctx, f, t, "routine"))
    elif not ctx.measured:
        f = Finding("not_measured", "quality", "ecgpilot measurements",
                    evidence=[ctx.ev("heart_rate_bpm", ctx.hr, "heart_rate_bpm = null")])
        statements.append(_statement(ctx, f, t, "routine"))
    if ctx.verdict in ("usable", "not_interpretable"):
        for s in statements:
            if s["category"] != "quality" and level_rank(s["urgency"]) >= level_rank("soon") \
                    and s["urgency"] != "repeat_now":
                s["text"] += f" — {t['caveat']}"

    statements.sort(key=lambda s: (-level_rank(s["urgency"]), s["status"] != "finding",
                                   CATEGORIES.index(s["category"])))
    counted = [s for s in statements if s["status"] == "finding"]   # AI-only statements raise nothing
    level = max((s["urgency"] for s in counted), key=level_rank, default="normal")
    if level == "normal" and not any(s["id"] == "normal_ecg" for s in statements):
        # one lead in sinus rhythm with no finding: nothing abnormal in what one lead can read (no "normal ECG")
        level = "routine" if (not ctx.measured or not ctx.ai_ok or ctx.child) and not (ctx.one_lead and clear) \
            else "normal"
    reasons = [{"statement_id": s["id"], "text": s["text"]} for s in counted
               if s["urgency"] == level and (s["category"] != "quality" or s["id"] in
                                             ("repeat_recording", "not_measured", "possible_on_poor_tracing"))]
    first: dict[str, dict[str, Any]] = {}
    for r in reasons:  # one reason per statement, the first
        first.setdefault(r["statement_id"], r)
    reasons = list(first.values())
    return {
        "rules_version": RULES_VERSION,
        "lang": lang,
        "statements": statements,
        "also_considered": _also_considered(ctx, found, th),
        "urgency": {"level": level, "reasons": reasons, "text": t["levels"][level]},
        "patient": {"sex": ctx.sex, "age_years": ctx.age, "adult_criteria": not ctx.child},
        "summary": _summary(statements, level, ctx.ai_ok, t, lang),
    }


def _summary(statements: list[dict[str, Any]], level: str, ai_ok: bool, t: Mapping[str, Any], lang: str) -> str:
    main = [s["text"] for s in statements if s["category"] != "quality" and s["urgency"] != "normal"
            and s["status"] == "finding"]
    normal = [s["text"] for s in statements if s["category"] != "quality" and s["urgency"] == "normal"]
    poor = [s["text"] for s in statements if s["id"] == "possible_on_poor_tracing"]
    quality = [s["text"] for s in statements if s["category"] == "quality" and s["urgency"] != "normal"
               and s["id"] != "possible_on_poor_tracing"]
    parts = [f"{t['levels'][level]}."]
    sep = " : " if lang == "fr" else ": "
    body = poor + main + normal
    if body or not quality:
        parts.append(t["reading"] + sep + ("; ".join(body) if body else t["none"]) + ".")
    if quality:
        parts.append(" ".join(q if q.endswith(".") else q + "." for q in quality))
    if not ai_ok:
        parts.append(t["ai_unavailable"])
    parts.append(t["check"])
    return " ".join(parts)


def ai_labels(lang: str) -> dict[str, str]:
    """The classifier's codes named in ``lang`` ('fr': the reading's French texts; 'en': empty, the
    model's own English descriptions are used)."""
    if lang != "fr":
        return {}
    from ecgpilot.interpret.catalogue import AI_LABELS_FR

    out = {code: statement_text(sid, "fr") for code, sid in AI_MAP.items()}
    out.update(AI_LABELS_FR)
    return out


def format_reading(reading: Mapping[str, Any]) -> str:
    """The reading as text, in its own language: urgency and its reasons, then each statement with
    its evidence and leads, then what the AI also considered."""
    t = messages.section("reading.format", reading.get("lang", "fr"))
    sep = " : " if reading.get("lang", "fr") == "fr" else ": "
    u = reading["urgency"]
    lines = [f"{t['title']} ({t['rules']} {reading['rules_version']})",
             f"{t['urgency']}{sep}{t['levels'][u['level']]} — {u['text']}"]
    for r in u["reasons"]:
        lines.append(f"  {t['reason']}{sep}{r['text']}")
    for s in reading["statements"]:
        if s["category"] == "quality" and s["urgency"] == "normal":
            continue
        mark = {"emergency": "!!!", "repeat_now": "!!!", "soon": " !!", "routine": "  !"}.get(s["urgency"], "   ")
        leads = f" [{', '.join(s['leads'])}]" if s.get("leads") else ""
        lines.append(f"{mark} {s['text']}{leads}")
        ev = "; ".join(e["text"] for e in s.get("evidence", []) if e.get("text"))
        if ev:
            lines.append(f"      {t['evidence']}{sep}{ev}")
    if reading.get("also_considered"):
        items = ", ".join(f"{a['text']} ({a['probability']:.2f})" for a in reading["also_considered"])
        lines.append(f"{t['also']}{sep}{items}")
    lines.append(reading["summary"].split(". ")[-1] if reading.get("summary") else "")
    return "\n".join(x for x in lines if x)
