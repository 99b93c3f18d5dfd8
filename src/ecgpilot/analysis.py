"""The analysis pipeline: file → quality verdict → measurements → (optional) AI reading.

Produces the document described in ``docs/analysis-schema.md``. When the quality verdict
is ``not_interpretable`` the measurements are ``null`` (the pipeline refuses to measure
noise); callers wanting an exception use :func:`ecgpilot.signal.quality.require_interpretable`.

``ai`` is ``null`` when ``use_ai`` is false, when the classifier package is not installed or
when the ECG is not interpretable, and ``{"error": "<message>"}`` when the classifier refused
the record (``ModelError``). A limb-lead reversal found on the median beats is added to the
quality reasons (and turns a ``good`` verdict into ``usable``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from ecgpilot import messages
from ecgpilot.errors import ModelError
from ecgpilot.record import ECGRecord

__all__ = ["SCHEMA", "analyze_record", "analyze_file", "format_text"]

SCHEMA = "ecgpilot.analysis/2"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("ecgpilot")
    except Exception:  # not installed (source checkout)
        return "0.0.0"


def _ai(record: ECGRecord, quality: dict[str, Any]) -> dict[str, Any] | None:
    """The classifier's reading; leads that carry no ECG (flat, or an implausible amplitude) are
    given to it as missing, never as a signal."""
    try:
        from ecgpilot.model import classify
    except ImportError:
        return None
    from ecgpilot.signal.quality import leads_without_signal

    dead = [name for name in leads_without_signal(quality) if name in record.leads]
    try:
        out = classify(record.pick([n for n in record.leads if n not in dead]) if dead else record)
    except ModelError as exc:
        return {"error": str(exc) + (f" (leads without signal, not given to the classifier: {', '.join(dead)})"
                                     if dead else "")}
    if dead:
        out["input"]["leads_without_signal"] = dead
    return out


def analyze_record(record: ECGRecord, *, use_ai: bool = True) -> dict[str, Any]:
    """Quality, measurements and AI reading of one record, as the analysis document."""
    from ecgpilot.signal.beats import record_beats
    from ecgpilot.signal.leadmatrix import lead_matrix
    from ecgpilot.signal.measure import measure_detail, net_areas
    from ecgpilot.signal.ectopy import ectopy_summary
    from ecgpilot.signal.rhythm import rhythm_features
    from ecgpilot.signal.quality import USABLE, GOOD, assess_quality, limb_consistency_reasons, refresh_advice, reversal_reasons

    rec = record.with_derived_leads()
    beats = record_beats(rec)
    quality = assess_quality(rec, beats)
    gains = limb_consistency_reasons(record)   # on the file's own leads, before any is derived
    if gains:
        quality["reasons"] += [r.to_dict() for r in gains]
        quality["amplitudes_reliable"] = False
        if quality["verdict"] == GOOD:
            quality["verdict"] = USABLE
    measurements = None
    if quality["interpretable"]:
        measurements, mb, bd = measure_detail(rec.signal, rec.fs, rec.leads, beats)
        measurements["lead_matrix"] = None
        measurements["rhythm"] = rhythm_features(rec.signal, rec.fs, rec.leads, beats)
        measurements["ectopy"] = ectopy_summary(rec.signal, rec.fs, beats)
        if mb is not None and bd is not None:
            measurements["lead_matrix"] = lead_matrix(rec.signal, rec.fs, mb, bd, measurements.get("qrs_ms"))
            extra = reversal_reasons(rec.leads, net_areas(mb, bd, "p"), net_areas(mb, bd, "qrs") or {})
            if extra:
                quality["reasons"] += [r.to_dict() for r in extra]
                if quality["verdict"] == GOOD:
                    quality["verdict"] = USABLE
    refresh_advice(quality)
    return {
        "schema": SCHEMA,
        "ecgpilot_version": _version(),
        "file": None,
        "record": record.summary(),
        "quality": quality,
        "measurements": measurements,
        "ai": _ai(record, quality) if use_ai and quality["interpretable"] else None,
    }


def _sha256(path: Path) -> str:
    """SHA-256 of the file; for a WFDB header, of the header then its ``.dat``/``.mat``
    signal files (same stem), so that the hash identifies the signal too."""
    parts = [path]
    if path.suffix.lower() == ".hea":
        parts += [q for q in (path.with_suffix(".dat"), path.with_suffix(".mat")) if q.exists()]
    h = hashlib.sha256()
    for part in parts:
        with part.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def analyze_file(path: str | Path, *, use_ai: bool = True) -> dict[str, Any]:
    """Read any supported ECG file and analyse it (see :func:`analyze_record`)."""
    from ecgpilot.io import read_ecg, resolve_path

    p = resolve_path(path)   # also a WFDB record name without extension
    record = read_ecg(p)
    doc = analyze_record(record, use_ai=use_ai)
    doc["file"] = {"name": p.name, "sha256": _sha256(p), "format": record.source.format}
    return doc


def _v(x: Any, unit: str, na: str) -> str:
    return na if x is None else f"{x:g} {unit}"


def format_text(doc: dict[str, Any], lang: str = "fr", ai_labels: Mapping[str, str] | None = None) -> str:
    """A readable summary of an analysis document, in French (``'fr'``) or English (``'en'``).

    ``ai_labels`` names the classifier's codes in ``lang`` (the model's descriptions are English);
    the GP's reading (statements, urgency) is formatted by :func:`ecgpilot.interpret.format_reading`."""
    t = messages.section("analysis", messages.check_lang(lang))
    rec = doc["record"]
    name = (doc.get("file") or {}).get("name") or rec.get("source", {}).get("path") or "-"
    lines = [f"{t['title']} : {name}" if lang == "fr" else f"{t['title']}: {name}",
             f"  {rec['format']} · {len(rec['leads'])} {t['lead'] if len(rec['leads']) == 1 else t['leads']} · {rec['fs']:g} Hz · {rec['duration_s']:g} s"]
    q = doc["quality"]
    lines.append(f"{t['quality']} : {t[q['verdict']]}" if lang == "fr" else f"{t['quality']}: {t[q['verdict']]}")
    msg = "message_fr" if lang == "fr" else "message_en"
    for r in q["reasons"]:
        mark = "!!" if r["severity"] == "critical" else " !"
        lines.append(f"  {mark} {r[msg]}")
    m = doc.get("measurements")
    if m is None:
        lines.append(t["refused"])
    else:
        na = t["na"]
        sep = " :" if lang == "fr" else ":"
        lines.append(f"{t['hr']}{sep} {_v(m['heart_rate_bpm'], 'bpm', na)} ({m['n_beats']} {t['beats']}, "
                     f"{t['rr']} {_v(m['rr_ms'], 'ms', na)} ± {_v(m['rr_sd_ms'], 'ms', na)})")
        p_na = t["absent"] if m["pr_ms"] is None else na
        lines.append(f"{t['p']}{sep} {_v(m['p_duration_ms'], 'ms', p_na)}   {t['pr']}{sep} {_v(m['pr_ms'], 'ms', p_na)}")
        lines.append(f"{t['qrs']}{sep} {_v(m['qrs_ms'], 'ms', na)}   {t['qt']}{sep} {_v(m['qt_ms'], 'ms', na)}")
        formula = t["formula"].get(m.get("qtc_formula") or "fridericia", m.get("qtc_formula"))
        lines.append(f"{t['qtc']} ({formula}){sep} {_v(m['qtc_ms'], 'ms', na)}   "
                     f"[{t['also']} {_v(m['qtc_bazett_ms'], 'ms', na)}]")
        ax = " / ".join(na if m[k] is None else f"{m[k]:g}°" for k in ("p_axis_deg", "qrs_axis_deg", "t_axis_deg"))
        lines.append(f"{t['axes']}{sep} {ax}")
        if m.get("pacing_spikes"):
            lines.append(t["paced"])
    ai = doc.get("ai")
    if isinstance(ai, dict):
        if "error" in ai:
            # the classifier's own message is in English
            detail = ai["error"] if lang == "en" else messages.text("analysis.ai_error_detail", lang)
            lines.append(f"{t['ai_error']}{' :' if lang == 'fr' else ':'} {detail}")
        else:
            names = ai_labels or {}
            best: dict[str, float] = {}   # one entry per name (NORM is both a super-class and a sub-class)
            for s in ai.get("statements", []):
                if s.get("present"):
                    label = names.get(s.get("code")) or s.get("description") or s.get("code")
                    best[label] = max(best.get(label, 0.0), float(s.get("probability", 0)))
            items = ", ".join(f"{label} ({100 * p:.0f} %)" for label, p in best.items())
            lines.append(f"{t['ai']}{' :' if lang == 'fr' else ':'} {items or '-'}")
    lines.append(t["note"])
    return "\n".join(lines)
