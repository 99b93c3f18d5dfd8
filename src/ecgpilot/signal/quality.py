"""Signal quality: per-lead problems, the leads a reading can rest on, and a verdict a doctor can act on.

Per lead (signal in µV; the numbers are the named thresholds below). *Critical* reasons make the
lead unusable; it is then listed in ``critical_leads``. A lead *without signal* (``flat``,
``disconnected``, ``implausible_amplitude``) carries no ECG at all.

* ``flat`` (critical, no signal) – electrode off: more than half of the 1-s windows move less
  than :data:`FLAT_UV` µV peak to peak;
* ``implausible_amplitude`` (critical, no signal) – the 0.5–40 Hz signal spans more than
  :data:`MAX_PLAUSIBLE_UV` µV (0.5–99.5 percentiles) in at least half of the leads: a wrong unit
  or gain in the file, not an ECG;
* ``disconnected`` (critical, no signal) – the same amplitude test failed by a minority of the
  leads: giant deflections of an electrode that comes off or a cable that is pulled;
* ``saturated`` – clipping at the amplifier's limit: share of samples sitting on the
  lead's extreme value in runs ≥ :data:`SAT_RUN_MS` ms (warning > :data:`SAT_WARN`,
  critical > :data:`SAT_CRIT`);
* ``powerline`` – 50/60 Hz interference: RMS of the ±1 Hz band around the mains
  frequency divided by the lead's amplitude (0.5–99.5 percentile range of the
  0.5–40 Hz signal); warning > :data:`LINE_WARN`, critical > :data:`LINE_CRIT`;
* ``muscle_noise`` – EMG: RMS of the 25–45 Hz band outside the QRS complexes
  (±80 ms around each beat), divided by the amplitude; warning > :data:`EMG_WARN`,
  critical > :data:`EMG_CRIT`;
* ``baseline_wander`` – peak-to-peak of the < 0.5 Hz component divided by the amplitude;
  warning > :data:`WANDER_WARN`;
* ``inconsistent_beats`` (critical) – the lead does not show a repeated ECG: for each beat
  (±250 ms of the 0.5–40 Hz signal) the better of its correlation with the lead's median beat
  and its k-th best correlation with the other beats, k = max(2, :data:`REPEAT_SHARE` × their
  number) (so that a second morphology seen often enough, e.g. ventricular ectopics or pacing,
  counts as repeated); the median over the beats (``beat_consistency``) is below
  :data:`CONSISTENCY_MIN`.

Record level (the verdict), in this order:

* ``too_few_beats`` – fewer than :data:`MIN_BEATS` QRS complexes (or fewer than one per 2 s);
* ``too_few_leads`` – fewer than half of the leads are usable;
* ``leads_off`` – in a record of at least :data:`LEADS_OFF_MIN_LEADS` leads, at least
  :data:`MAX_LEADS_WITHOUT_SIGNAL` lead(s) carry no signal (flat or disconnected): an incomplete
  12-lead ECG is recorded again rather than read (a lead off hides the territory it looks at);
* ``unusable_leads`` – at least :data:`MAX_CRITICAL_LEADS` leads are unusable (any critical
  reason): too little of the tracing is reliable.

Only one of ``too_few_leads`` / ``leads_off`` / ``unusable_leads`` is given (the first that
applies). A record whose six chest leads all lack signal while its six limb leads have it is a
limb-lead (6-lead) recording in a 12-lead container (e.g. the Contec ECG90A EDF export): it gets the
warning ``limb_leads_only`` and the two lead-count rules look at its limb leads only. Every lead counts alike: a 12-lead ECG is read on all its leads, none is optional
(``leads_off`` exists because a missing V3 or V4 can hide an anterior ST elevation).

Any of these makes the record ``not_interpretable``. Otherwise the verdict is ``usable`` when a
warning or a critical lead remains (the reading then rests on the other leads; a record may be
``usable`` with ``critical_leads``), and ``good`` otherwise. The quality object adds to the
reasons and per-lead numbers ``critical_leads`` (sorted names) and a record-level
``message_fr`` / ``message_en`` telling the doctor what to do. A limb-lead reversal check (LA/RA:
P and QRS negative in I with a positive QRS in aVR) runs on the median beats after delineation.

The record-level thresholds and the ``inconsistent_beats`` test were tuned on a seeded,
stratified half of the PhysioNet/CinC Challenge 2011 set (phone ECGs judged acceptable or
not by its annotators) and checked on the other half and on clinical ECGs (LUDB, PTB-XL):
``benchmarks/bench_quality_cinc2011.py``, ``benchmarks/results/quality_cinc2011.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgpilot import messages
from ecgpilot.errors import NotInterpretableError
from ecgpilot.record import ECGRecord
from ecgpilot.signal.filters import bandpass, lowpass

__all__ = [
    "Reason", "lead_metrics", "assess_quality", "limb_consistency_reasons", "refresh_advice", "quality_from_metrics", "leads_without_signal",
    "reversal_reasons", "require_interpretable", "GOOD", "USABLE", "NOT_INTERPRETABLE",
]

GOOD, USABLE, NOT_INTERPRETABLE = "good", "usable", "not_interpretable"

FLAT_UV = 20.0
SAT_RUN_MS = 8.0
SAT_WARN = 0.01
SAT_CRIT = 0.20
LINE_WARN = 0.05
LINE_CRIT = 0.50
EMG_WARN = 0.035
EMG_CRIT = 0.30
WANDER_WARN = 1.5
CONSISTENCY_MIN = 0.60
CONSISTENCY_HALF_S = 0.25  # beat window ±250 ms
SECOND_MORPHOLOGY_BEATS = 4  # the nearest-neighbour test needs this many beats in the lead
REPEAT_SHARE = 0.2  # ... and a beat must resemble max(2, this share) of the other beats
MIN_BEATS = 3
MAX_PLAUSIBLE_UV = 25_000.0  # 25 mV peak to peak: twice the largest of 52,000 PTB-XL leads (13 mV)
MAX_LEADS_WITHOUT_SIGNAL = 1  # this many flat/disconnected leads: record again ...
LEADS_OFF_MIN_LEADS = 8  # ... in a record of at least this many leads (a 12-lead ECG, not a Holter strip)
MAX_CRITICAL_LEADS = 3  # this many unusable leads (any critical reason): record again
LIMB = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL = ("V1", "V2", "V3", "V4", "V5", "V6")

_NO_SIGNAL = ("flat", "disconnected", "implausible_amplitude")


@dataclass(frozen=True)
class Reason:
    """One quality finding (French message first, then English)."""

    code: str
    lead: str | None
    severity: str  # "warning" | "critical"
    message_fr: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _runs_at_extremes(x: NDArray[np.float64], min_run: int) -> float:
    """Share of samples on the lead's max or min value in runs of ≥ ``min_run`` samples."""
    rng = float(x.max() - x.min())
    if rng <= 0:
        return 1.0
    tol = max(1e-4 * rng, 1e-3)  # clipped samples repeat the same value
    total = 0
    for mask in (x >= x.max() - tol, x <= x.min() + tol):
        edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        lengths = ends - starts
        total += int(lengths[lengths >= min_run].sum())
    return total / len(x)


def _line_rms(x: NDArray[np.float64], fs: float) -> float | None:
    """RMS (µV) of the strongest mains component (50 or 60 Hz ±1 Hz); None below 125 Hz sampling."""
    if fs / 2 < 62:
        return None
    n = x.shape[-1]
    spec = np.fft.rfft(x - x.mean())
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    power = np.abs(spec) ** 2
    best = 0.0
    for f0 in (50.0, 60.0):
        band = (freqs >= f0 - 1) & (freqs <= f0 + 1)
        best = max(best, float(np.sqrt(2.0 * power[band].sum()) / n))
    return best


def _beat_consistency(ecg: NDArray[np.float64], fs: float, beats: NDArray[np.int64] | None) -> float | None:
    """Median over the beats of max(correlation with the median beat, k-th best correlation
    with the other beats); ``None`` with fewer than :data:`MIN_BEATS` beats inside the lead."""
    if beats is None or len(beats) < MIN_BEATS:
        return None
    n = ecg.size
    h = int(CONSISTENCY_HALF_S * fs)
    b = np.asarray(beats)
    b = b[(b - h >= 0) & (b + h < n)]
    if b.size < 2:
        return None
    seg = ecg[b[:, None] + np.arange(-h, h + 1)[None, :]]
    med = np.median(seg, axis=0)
    sc = seg - seg.mean(1, keepdims=True)
    mc = med - med.mean()
    norms = np.linalg.norm(sc, axis=1)
    den = norms * np.linalg.norm(mc)
    corr = np.where(den > 0, sc @ mc / np.where(den > 0, den, 1.0), 0.0)
    if b.size >= SECOND_MORPHOLOGY_BEATS:
        dd = norms[:, None] * norms[None, :]
        cc = np.where(dd > 0, (sc @ sc.T) / np.where(dd > 0, dd, 1.0), 0.0)
        np.fill_diagonal(cc, -1.0)
        k = max(2, int(np.ceil(REPEAT_SHARE * (b.size - 1))))
        repeated = np.partition(cc, -k, axis=1)[:, -k]  # the k-th best match among the other beats
        corr = np.maximum(corr, repeated)
    return float(np.median(corr))


def lead_metrics(x: NDArray, fs: float, beats: NDArray[np.int64] | None = None) -> dict[str, Any]:
    """Quality numbers for one lead (µV); see the module docstring for their meaning."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    ecg = bandpass(x, fs, 0.5, 40.0)
    lo, hi = np.percentile(ecg, [0.5, 99.5])
    amplitude = float(hi - lo)
    win = max(int(fs), 1)
    nw = max(n // win, 1)
    w = x[: nw * win].reshape(nw, -1) if n >= win else x[None, :]
    flat_share = float(np.mean(np.ptp(w, axis=1) < FLAT_UV))
    sat = _runs_at_extremes(x, max(int(round(SAT_RUN_MS * fs / 1000)), 2))
    line = _line_rms(x, fs)
    consistency = _beat_consistency(ecg, fs, beats)
    scale = max(amplitude, 1.0)
    hf = bandpass(x, fs, 25.0, 45.0) if fs / 2 > 30 else None
    emg = None
    if hf is not None:
        mask = np.ones(n, dtype=bool)
        if beats is not None and len(beats):
            half = int(0.08 * fs)
            idx = (np.asarray(beats)[:, None] + np.arange(-half, half + 1)[None, :]).ravel()
            mask[np.clip(idx, 0, n - 1)] = False
        emg = float(np.sqrt(np.mean(hf[mask] ** 2))) / scale if mask.any() else None
    wander = float(np.ptp(lowpass(x, fs, 0.5))) / scale
    return {
        "amplitude_uv": round(amplitude, 1),
        "flat": flat_share >= 0.5,
        "flat_share": round(flat_share, 3),
        "saturated": sat > SAT_WARN,
        "saturation_share": round(sat, 4),
        "powerline": None if line is None else round(line / scale, 4),
        "powerline_uv": None if line is None else round(line, 1),
        "muscle_noise": None if emg is None else round(emg, 4),
        "baseline_wander": round(wander, 3),
        "beat_consistency": None if consistency is None else round(consistency, 3),
    }


def _reason(code: str, lead: str | None, severity: str, key: str | None = None, **kw: Any) -> Reason:
    fr, en = (messages.text(f"quality.reason.{key or code}", lg, lead=lead, **kw) for lg in ("fr", "en"))
    return Reason(code, lead, severity, fr, en)


def _lead_reasons(name: str, m: dict[str, Any], unit_problem: bool = False) -> tuple[list[Reason], bool]:
    """Reasons for one lead and whether the lead stays usable (``unit_problem``: at least half
    of the record's leads have an implausible amplitude)."""
    out: list[Reason] = []
    usable = True
    if m["flat"]:
        return [_reason("flat", name, "critical")], False
    if m["amplitude_uv"] > MAX_PLAUSIBLE_UV:
        code = "implausible_amplitude" if unit_problem else "disconnected"
        return [_reason(code, name, "critical", mv=m["amplitude_uv"] / 1000)], False
    if m["saturated"]:
        crit = m["saturation_share"] > SAT_CRIT
        usable &= not crit
        out.append(_reason("saturated", name, "critical" if crit else "warning", pct=100 * m["saturation_share"]))
    if m["powerline"] is not None and m["powerline"] > LINE_WARN:
        crit = m["powerline"] > LINE_CRIT
        usable &= not crit
        out.append(_reason("powerline", name, "critical" if crit else "warning", uv=m["powerline_uv"]))
    if m["muscle_noise"] is not None and m["muscle_noise"] > EMG_WARN:
        crit = m["muscle_noise"] > EMG_CRIT
        usable &= not crit
        out.append(_reason("muscle_noise", name, "critical" if crit else "warning"))
    if m["baseline_wander"] > WANDER_WARN:
        out.append(_reason("baseline_wander", name, "warning"))
    if m["beat_consistency"] is not None and m["beat_consistency"] < CONSISTENCY_MIN:
        usable = False
        out.append(_reason("inconsistent_beats", name, "critical", key="inconsistent"))
    return out, usable


def _summary(verdict: str, critical_leads: list[str], no_signal: list[str]) -> tuple[str, str]:
    """The record-level advice (French, English)."""
    return _summary_in("fr", verdict, critical_leads, no_signal), _summary_in("en", verdict, critical_leads, no_signal)


def _summary_in(lang: str, verdict: str, critical_leads: list[str], no_signal: list[str]) -> str:
    def say(key: str, **fields: Any) -> str:
        return messages.text(f"quality.summary.{key}", lang, **fields)

    if verdict == NOT_INTERPRETABLE:
        text = say("not_interpretable")
        if no_signal:
            text += say("not_interpretable_leads", leads=", ".join(no_signal))
        return text + say("not_interpretable_advice")
    if critical_leads:
        return say("critical_leads", leads=", ".join(critical_leads))
    return say("usable") if verdict == USABLE else say("good")


def quality_from_metrics(leads: dict[str, dict[str, Any]], n_beats: int, duration_s: float) -> dict[str, Any]:
    """The ``quality`` object from per-lead metrics (:func:`lead_metrics`) and the beat count."""
    names = list(leads)
    n_leads = len(names)
    unit_problem = sum(m["amplitude_uv"] > MAX_PLAUSIBLE_UV for m in leads.values()) * 2 >= max(n_leads, 1)
    out_leads: dict[str, Any] = {}
    reasons: list[Reason] = []
    critical_leads: list[str] = []
    no_signal: list[str] = []
    for name in names:
        m = dict(leads[name])
        r, ok = _lead_reasons(name, m, unit_problem)
        m["usable"] = ok
        out_leads[name] = m
        reasons += r
        if not ok:
            critical_leads.append(name)
        if any(x.code in _NO_SIGNAL for x in r):
            no_signal.append(name)
    n_usable = n_leads - len(critical_leads)
    record: list[Reason] = []
    notes: list[Reason] = []
    absent: set[str] = set()
    if set(PRECORDIAL) <= set(no_signal) and set(LIMB) <= set(names) and not set(LIMB) & set(no_signal):
        absent = set(PRECORDIAL)  # a limb-lead (6-lead) recording in a 12-lead container
        notes.append(_reason("limb_leads_only", None, "warning"))
    off = [n for n in no_signal if n not in absent]
    bad = [n for n in critical_leads if n not in absent]
    expected = duration_s / 2.0  # fewer than 1 beat per 2 s (30 bpm) is not a usable ECG
    if n_beats < min(MIN_BEATS, max(expected, 2)):
        record.append(_reason("too_few_beats", None, "critical", n=MIN_BEATS))
    min_leads = max(1, int(np.ceil(n_leads / 2)))
    if n_usable < min_leads:
        record.append(_reason("too_few_leads", None, "critical", k=n_usable, n=n_leads))
    else:
        if n_leads - len(absent) >= LEADS_OFF_MIN_LEADS and len(off) >= MAX_LEADS_WITHOUT_SIGNAL:
            record.append(_reason("leads_off", None, "critical", leads=", ".join(off)))
        elif len(bad) >= MAX_CRITICAL_LEADS:
            record.append(_reason("unusable_leads", None, "critical", k=len(bad), leads=", ".join(bad)))
    reasons = record + notes + reasons
    verdict = NOT_INTERPRETABLE if record else (USABLE if reasons else GOOD)
    fr, en = _summary(verdict, sorted(critical_leads), off)
    return {
        "verdict": verdict,
        "interpretable": verdict != NOT_INTERPRETABLE,
        "reasons": [r.to_dict() for r in reasons],
        "leads": out_leads,
        "critical_leads": sorted(critical_leads),
        "message_fr": fr,
        "message_en": en,
    }


def assess_quality(record: ECGRecord, beats: NDArray[np.int64] | None = None) -> dict[str, Any]:
    """The ``quality`` object of the analysis schema: verdict, reasons, per-lead numbers,
    ``critical_leads`` and the record-level advice (``message_fr`` / ``message_en``)."""
    if beats is None:
        from ecgpilot.signal.beats import record_beats

        beats = record_beats(record)
    leads = {name: lead_metrics(record.signal[i], record.fs, beats) for i, name in enumerate(record.leads)}
    return quality_from_metrics(leads, len(beats), record.duration)


def leads_without_signal(quality: dict[str, Any]) -> list[str]:
    """The leads of a ``quality`` object that carry no ECG: flat, or an implausible amplitude."""
    return [name for name, m in quality["leads"].items()
            if m["flat"] or m["amplitude_uv"] > MAX_PLAUSIBLE_UV]


def reversal_reasons(leads: tuple[str, ...], p_area: dict[str, float] | None, qrs_area: dict[str, float]) -> list[Reason]:
    """LA/RA reversal check on net areas of the median beat (P may be None when absent).

    Flags when QRS in I is negative and QRS in aVR positive, and the P wave (when present)
    is negative in I. Without a P wave the pattern is not flagged (too many true causes).
    """
    if "I" not in qrs_area or "aVR" not in qrs_area or p_area is None or "I" not in p_area:
        return []
    if qrs_area["I"] < 0 and qrs_area["aVR"] > 0 and p_area["I"] < 0 and p_area.get("aVR", 1.0) > 0:
        return [_reason("limb_lead_reversal", "I", "warning")]
    return []


def require_interpretable(quality: dict[str, Any]) -> None:
    """Raise :class:`NotInterpretableError` (with the French reasons) when the verdict says so."""
    if quality.get("verdict") == NOT_INTERPRETABLE:
        msgs = [r["message_fr"] for r in quality["reasons"] if r["severity"] == "critical"]
        raise NotInterpretableError(
            "ECG non interprétable / ECG not interpretable: " + " ".join(msgs)
            + " Record the ECG again with good electrode contact.",
            reasons=msgs,
        )


#: Einthoven's law (III = II − I) holds within this share of |II| on a real recording (measured: LUDB ADC
#: values 0–2.5 %, its header-scaled values 39–76 %; PTB-XL rows 0 % by construction).
EINTHOVEN_MAX = 0.15


def limb_consistency_reasons(record: ECGRecord) -> list[Reason]:
    """A warning when the file's own I, II and III break Einthoven's law (per-lead gains that are not
    physical: the amplitudes, hence the voltage criteria, cannot be trusted). Needs the three leads
    stored in the file (not derived)."""
    if not all(x in record.leads for x in ("I", "II", "III")):
        return []
    x = bandpass(record.signal.astype(np.float64), record.fs, 0.5, 40.0)
    i, ii, iii = (x[record.leads.index(n)] for n in ("I", "II", "III"))
    scale = float(np.median(np.abs(ii))) + 1e-9
    err = float(np.median(np.abs(i + iii - ii))) / scale
    if scale < FLAT_UV / 4 or err <= EINTHOVEN_MAX:
        return []
    return [_reason("limb_gain_inconsistent", None, "warning", pct=100 * err)]


def refresh_advice(quality: dict[str, Any]) -> None:
    """Recompute ``message_fr`` / ``message_en`` after reasons were added to a quality object."""
    if "critical_leads" in quality:
        quality["message_fr"], quality["message_en"] = _summary(
            quality["verdict"], quality["critical_leads"], leads_without_signal(quality))
