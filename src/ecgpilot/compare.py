"""Two readings side by side: the cart's own against ecgpilot's, and this ECG against the patient's
previous one. Pure: analysis documents and readings in, rows and changes out (no I/O, no database).

* :func:`device_comparison`: the device's global measurements and statements (``record.source``
  of the analysis document) next to ecgpilot's, each difference checked against a per-record
  tolerance taken from IEC 60601-2-25 (the SD limits of the CSE test: P 15, PR 10, QRS 10, QT 30 ms;
  QTc as QT) and, where the standard gives none, a stated choice (rate 5 bpm or 10 %, axes 20°).
* :func:`serial_changes`: what changed since an earlier ECG of the same patient: new or resolved
  rhythm and conduction statements, a new bundle branch block, QRS/QT/QTc/PR/axis/rate deltas, new ST
  elevation or depression in two contiguous leads (``measurements.lead_matrix``, J point, against
  the PR segment), new pathological Q waves.
* :func:`raised_urgency`: a new LBBB or a new ST elevation raises the proposal to ``emergency``
  (4th universal definition of MI, Thygesen et al. 2018: new ST elevation at J in two contiguous
  leads; ESC 2023 ACS: LBBB with suspected ischaemia is managed as STEMI; ACC/AHA 2004: new LBBB).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ecgpilot import messages
from ecgpilot.interpret import LEVELS, THRESHOLDS, level_rank, st_elevation_leads
from ecgpilot.interpret.catalogue import CONTIGUOUS, LEAD_ORDER, STATEMENTS, statement_text

__all__ = ["DEVICE_ROWS", "SERIAL_DELTAS", "device_comparison", "device_lines", "serial_changes", "raised_urgency", "reading_ids"]

#: (key in ecgpilot's measurements, key in the device's, unit, tolerance, relative tolerance); each
#: measurement's label is the catalogue's ``compare.label.<key>``
DEVICE_ROWS: tuple[tuple[str, str, str, float, float], ...] = (
    ("heart_rate_bpm", "heart_rate_bpm", "/min", 5.0, 0.10),
    ("p_duration_ms", "p_ms", "ms", 15.0, 0.0),
    ("pr_ms", "pr_ms", "ms", 10.0, 0.0),
    ("qrs_ms", "qrs_ms", "ms", 10.0, 0.0),
    ("qt_ms", "qt_ms", "ms", 30.0, 0.0),
    ("qtc_bazett_ms", "qtc_ms", "ms", 30.0, 0.0),
    ("qtc_fridericia_ms", "qtc_fridericia_ms", "ms", 30.0, 0.0),
    ("p_axis_deg", "p_axis_deg", "°", 20.0, 0.0),
    ("qrs_axis_deg", "qrs_axis_deg", "°", 20.0, 0.0),
    ("t_axis_deg", "t_axis_deg", "°", 20.0, 0.0),
)

#: (measurement, unit, notable change) for the serial comparison (label: ``compare.label.<measurement>``)
SERIAL_DELTAS: tuple[tuple[str, str, float], ...] = (
    ("heart_rate_bpm", "/min", 20.0), ("pr_ms", "ms", 40.0), ("qrs_ms", "ms", 20.0),
    ("qt_ms", "ms", 40.0), ("qtc_ms", "ms", 40.0), ("qrs_axis_deg", "°", 45.0),
)

_Q_LIMIT_UV = -100.0     # a Q of at least 0.1 mV ...
_Q_MS = 30.0             # ... and 30 ms (20 ms in V2-V3), or a QS complex (4th UDMI, prior MI)
_ST_DELTA_UV = 100.0     # a new ST elevation must also have risen by 1 mm since the previous ECG
_ST_DEPRESSION_UV = -50.0


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _angle_diff(a: float, b: float) -> float:
    return (a - b + 180.0) % 360.0 - 180.0


def _label(key: str, lang: str) -> str:
    """The short label of the measurement ``key`` in ``lang`` (``FC`` / ``HR``)."""
    return messages.text(f"compare.label.{key}", lang)


def device_comparison(analysis: Mapping[str, Any] | None, lang: str = "fr") -> dict[str, Any] | None:
    """The cart's reading beside ecgpilot's, or ``None`` when the file carries none.

    Returns ``{"manufacturer", "device", "statements", "rows", "n_beyond"}``; each row has
    ``label, unit, ours, device, delta, tolerance, beyond`` (``beyond``: the difference is larger
    than the tolerance)."""
    if not analysis:
        return None
    src = ((analysis.get("record") or {}).get("source")) or {}
    dev = src.get("device_measurements") or {}
    statements = [str(s) for s in (src.get("device_statements") or []) if str(s).strip()]
    if not dev and not statements:
        return None
    ours = analysis.get("measurements") or {}
    rows = []
    for key, dkey, unit, tol, rel in DEVICE_ROWS:
        d, o = _num(dev.get(dkey)), _num(ours.get(key))
        if d is None:
            continue
        delta = None if o is None else (_angle_diff(o, d) if unit == "°" else o - d)
        limit = max(tol, rel * abs(d))
        rows.append({"key": key, "label": _label(key, lang), "unit": unit, "ours": o, "device": d, "delta": delta,
                     "tolerance": limit, "beyond": delta is not None and abs(delta) > limit})
    return {"manufacturer": src.get("manufacturer"), "device": src.get("device"), "statements": statements,
            "rows": rows, "n_beyond": sum(r["beyond"] for r in rows)}


def device_lines(analysis: Mapping[str, Any] | None, lang: str = "fr") -> list[str]:
    """The cart's reading as short printable lines (for the PDF): who, its statements, and the
    measurements that differ from ecgpilot's beyond tolerance. Empty when the file carries none."""
    cart = device_comparison(analysis, lang)
    if cart is None:
        return []
    who = " ".join(x for x in (cart["manufacturer"], cart["device"]) if x) or messages.text("compare.device", lang)
    lines = [messages.text("compare.device_reading", lang, who=who, statements="; ".join(cart["statements"]) or "—")]
    beyond = [f"{r['label']} {r['ours']:.0f} / {r['device']:.0f} {r['unit']}" for r in cart["rows"] if r["beyond"]]
    if beyond:
        lines.append(messages.text("compare.beyond_tolerance", lang, rows=", ".join(beyond)))
    return lines


def reading_ids(reading: Mapping[str, Any] | None) -> set[str]:
    """The statement ids a reading retains: interpret's ``findings``, or a signed report's
    confirmed/edited statements (``decisions``)."""
    if not reading:
        return set()
    if "decisions" in reading:
        return {s["id"] for s in reading["decisions"] if s.get("decision") in ("confirmed", "edited") and s.get("id")}
    return {s["id"] for s in reading.get("statements", []) if s.get("status", "finding") == "finding"}


def _statement_text(sid: str, lang: str) -> str:
    return statement_text(sid, lang) if sid in STATEMENTS else sid


def _leads(analysis: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return (((analysis.get("measurements") or {}).get("lead_matrix")) or {}).get("leads") or {}


def _pathological_q(lead: str, m: Mapping[str, Any]) -> bool:
    q_uv, q_ms, r_uv = _num(m.get("q_uv")), _num(m.get("q_ms")), _num(m.get("r_uv"))
    if q_uv is None or q_ms is None or lead == "aVR" or q_uv >= 0:
        return False
    qs = (r_uv or 0.0) <= 0.0
    if lead in ("V2", "V3"):
        return qs or q_ms >= 20.0
    return qs or (q_ms >= _Q_MS and q_uv <= _Q_LIMIT_UV)


def _v2v3_limit(analysis: Mapping[str, Any]) -> float:
    """The 4th-UDMI V2-V3 limit for the patient: women 1.5 mm, men under 40 2.5 mm, else 2 mm."""
    patient = ((analysis.get("record") or {}).get("patient")) or {}
    sex, age = patient.get("sex"), _num(patient.get("age_years"))
    if sex == "F":
        return THRESHOLDS["stemi_v2v3_f_uv"]
    if sex == "M":
        return THRESHOLDS["stemi_v2v3_m_young_uv"] if age is not None and age < 40 else THRESHOLDS["stemi_v2v3_m_uv"]
    return THRESHOLDS["stemi_v2v3_u_uv"]


def _change(kind: str, text: str, *, leads: Iterable[str] = (), raise_to: str | None = None,
            reason: str | None = None, notable: bool = True, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "text": text, "leads": sorted(leads, key=LEAD_ORDER.index) if leads else [],
            "raise_to": raise_to, "reason": reason, "notable": notable, **extra}


def serial_changes(previous: Mapping[str, Any], previous_reading: Mapping[str, Any] | None,
                   current: Mapping[str, Any], current_reading: Mapping[str, Any] | None,
                   lang: str = "fr") -> list[dict[str, Any]]:
    """What changed from ``previous`` to ``current`` (analysis documents; readings as interpret gives
    them or a signed report's content). Each change: ``kind`` (``new``/``resolved`` statement,
    ``delta``, ``st_elevation``, ``st_depression``, ``q_waves``), ``text`` in ``lang``, ``leads``,
    ``notable``, and ``raise_to``/``reason`` when it raises the urgency."""
    out: list[dict[str, Any]] = []
    before, now = reading_ids(previous_reading), reading_ids(current_reading)
    watched = {sid for sid, e in STATEMENTS.items() if e[0] in ("rhythm", "conduction")}
    for sid in sorted((now - before) & watched, key=list(STATEMENTS).index):
        text = _statement_text(sid, lang)
        if sid == "lbbb":
            out.append(_change("new", messages.text("compare.new", lang, statement=text), statement=sid,
                               raise_to="emergency", reason=messages.text("compare.reason.new_lbbb", lang)))
        else:
            out.append(_change("new", messages.text("compare.new", lang, statement=text), statement=sid,
                               notable=sid not in ("sinus_rhythm",)))
    for sid in sorted((before - now) & watched, key=list(STATEMENTS).index):
        out.append(_change("resolved", messages.text("compare.resolved", lang, statement=_statement_text(sid, lang)),
                           statement=sid, notable=sid != "sinus_rhythm"))
    pm, cm = previous.get("measurements") or {}, current.get("measurements") or {}
    for key, unit, notable in SERIAL_DELTAS:
        a, b = _num(pm.get(key)), _num(cm.get(key))
        if a is None or b is None:
            continue
        d = _angle_diff(b, a) if unit == "°" else b - a
        out.append(_change("delta", f"{_label(key, lang)} {a:.0f} → {b:.0f} {unit} ({d:+.0f})", key=key,
                           before=a, after=b, delta=d, notable=abs(d) >= notable))
    pl, cl = _leads(previous), _leads(current)
    common = [lead for lead in LEAD_ORDER if lead in pl and lead in cl]
    limit, limit_v2v3 = THRESHOLDS["stemi_uv"], _v2v3_limit(current)
    risen: dict[str, float | None] = {}
    for lead in common:
        a, b = _num(pl[lead].get("st_j_uv")), _num(cl[lead].get("st_j_uv"))
        lim = limit_v2v3 if lead in ("V2", "V3") else limit
        ok = a is not None and b is not None and b >= lim and a < lim and b - a >= _ST_DELTA_UV
        risen[lead] = b if ok else None
    up = st_elevation_leads(risen, limit, limit_v2v3) if risen else []
    if up and "lbbb" not in now and "paced_rhythm" not in now:
        values = ", ".join(f"{lead} {_num(pl[lead].get('st_j_uv')):+.0f} → {_num(cl[lead].get('st_j_uv')):+.0f} µV"
                           for lead in up)
        out.append(_change("st_elevation", messages.text("compare.st_elevation", lang, values=values),
                           leads=up, raise_to="emergency", reason=messages.text("compare.reason.new_st_elevation", lang)))
    down = []
    for lead in common:
        a, b = _num(pl[lead].get("st_j_uv")), _num(cl[lead].get("st_j_uv"))
        if lead != "aVR" and a is not None and b is not None and b <= _ST_DEPRESSION_UV < a and b - a <= _ST_DEPRESSION_UV:
            down.append(lead)
    down = sorted({x for p, q in CONTIGUOUS if p in down and q in down for x in (p, q)}, key=LEAD_ORDER.index)
    if down:
        values = ", ".join(f"{lead} {_num(pl[lead].get('st_j_uv')):+.0f} → {_num(cl[lead].get('st_j_uv')):+.0f} µV"
                           for lead in down)
        out.append(_change("st_depression", messages.text("compare.st_depression", lang, values=values), leads=down))
    new_q = [lead for lead in common if _pathological_q(lead, cl[lead]) and not _pathological_q(lead, pl[lead])]
    if new_q:
        out.append(_change("q_waves", messages.text("compare.q_waves", lang, leads=", ".join(new_q)), leads=new_q))
    return out


def raised_urgency(level: str | None, changes: Iterable[Mapping[str, Any]]) -> tuple[str | None, list[str]]:
    """The proposal's level after the changes that raise it, and their reasons (empty when none raises it)."""
    reasons, best = [], level
    for c in changes:
        target = c.get("raise_to")
        if target in LEVELS and (best is None or level_rank(target) > level_rank(best)):
            best = target
        if target in LEVELS and (level is None or level_rank(target) > level_rank(level)):
            reasons.append(str(c.get("reason")))
    return best, reasons
