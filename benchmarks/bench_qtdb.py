"""P/QRS/T boundaries beat by beat on the QT Database (two-lead Holter, 250 Hz) vs its cardiologists.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_qtdb.py [--split tuning|report|all] [--legacy] [--neurokit] [--best-lead]

Data: ``../shared/data/qtdb`` (52 records, ``.q1c``: P, QRS and T onset/peak/offset on ~30 beats
per record, marked by cardiologists looking at both leads at once).

**Split** (fixed): the 52 record names sorted as in ``RECORDS``; even positions (0, 2, ...;
``sel114``, ``sel123``, ...) are the *tuning* half, odd positions the *report* half.

**Ours, per annotated beat:** the product's pipeline on the 10-s window centred on the annotated
QRS peak (as if that beat were in a 10-s resting ECG): beat detection, median beat of the two
leads, global boundaries. Each boundary is mapped to the annotated beat through the dominant beat
of the window nearest to it (within 150 ms): beat position + (boundary − median-beat fiducial).
With ``--per-beat`` (:func:`ecgpilot.signal.delineate.beat_boundaries`), QRS onset/offset and
T end are then searched again on that beat's own samples near the global boundary (tried on the
tuning half: no better than the mapped median-beat boundaries, so not the default). A beat that is not a dominant beat of its window (ectopic, or no detection) is *not
detected*.

``--best-lead`` adds Martínez et al.'s own protocol, for a like-for-like comparison with their table:
each lead delineated alone, every mark scored on the lead closer to the annotation (optimistic by
construction; the product never does it).

**Score** (as in the literature): per boundary, ours − cardiologist in ms over the annotated beats
that we detected; mean and SD pooled over beats, and the mean of the per-record SDs; detection
share = detected / annotated.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import wfdb

from ecgpilot.paths import shared_data_dir

KEYS = ("p_on", "p_peak", "p_off", "qrs_on", "qrs_off", "t_peak", "t_off")
#: durations of each annotated beat: our reported QRS duration (``qrs_ms``) and QT (T end − QRS onset)
DURATIONS = {"qrs_ms": ("qrs_on", "qrs_off"), "qt_ms": ("qrs_on", "t_off")}
MAIN_KEYS = ("p_on", "p_off", "qrs_on", "qrs_off", "t_peak", "t_off", "qrs_ms", "qt_ms")
#: Martínez et al., IEEE TBME 51(4) 2004, wavelet delineator on QTDB (mean ± SD in ms).
MARTINEZ_2004 = {"p_on": (2.0, 14.8), "qrs_on": (4.6, 7.7), "qrs_off": (0.8, 8.7), "t_off": (-1.6, 18.1)}
WINDOW_S = 10.0
BEAT_LABELS = frozenset("NLRBAaJSVrFejnE/fQ?")
MATCH_S = 0.15


def qtdb_dir() -> Path | None:
    data = shared_data_dir()
    if data is None or not (data / "qtdb" / "RECORDS").exists():
        return None
    return data / "qtdb"


def all_records(root: Path | None = None) -> list[str]:
    root = root or qtdb_dir()
    assert root is not None
    return [r.strip() for r in (root / "RECORDS").read_text().split() if r.strip()]


def split(name: str, root: Path | None = None) -> list[str]:
    """``tuning`` (even positions in RECORDS), ``report`` (odd positions) or ``all``."""
    recs = all_records(root)
    return {"tuning": recs[0::2], "report": recs[1::2], "all": recs}[name]


def load(name: str, root: Path | None = None) -> tuple[np.ndarray, float, tuple[str, ...]]:
    """Signal (leads × samples, µV), sampling rate and lead names (as in the header)."""
    root = root or qtdb_dir()
    rec = wfdb.rdrecord(str(root / name))
    x = np.nan_to_num(rec.p_signal.T.astype(np.float64) * 1000.0)
    return x, float(rec.fs), tuple(rec.sig_name)


def annotated_beats(name: str, root: Path | None = None) -> list[dict[str, int | None]]:
    """The ``.q1c`` beats: per annotated QRS, its P and T (record samples; None when not marked).

    Waves are read as ``(`` onset, peak symbol(s) (``p``, ``t``, or the beat label of a QRS), ``)`` offset (the T often has no onset mark);
    a beat's P is the P wave just before its QRS, its T the T wave just after it."""
    root = root or qtdb_dir()
    ann = wfdb.rdann(str(root / name), "q1c")
    waves: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for s, t in zip(ann.symbol, ann.sample):
        t = int(t)
        if s == "(":
            cur = {"on": t, "peaks": [], "kind": None, "off": None}
            waves.append(cur)
        elif s in ("p", "t", "u") or s in BEAT_LABELS:
            s = s if s in ("p", "t", "u") else "N"  # a QRS carries its beat label (N, A, V, ...)
            if cur is None or cur["off"] is not None or (cur["kind"] not in (None, s)):
                cur = {"on": None, "peaks": [], "kind": None, "off": None}
                waves.append(cur)
            cur["kind"] = s
            cur["peaks"].append(t)
        elif s == ")":
            if cur is not None and cur["off"] is None:
                cur["off"] = t
            cur = None
    out = []
    for i, w in enumerate(waves):
        if w["kind"] != "N":
            continue
        peak = w["peaks"][0]
        beat: dict[str, int | None] = dict.fromkeys(KEYS)
        beat["qrs_peak"] = peak
        beat["qrs_on"], beat["qrs_off"] = w["on"], w["off"]
        if i > 0 and waves[i - 1]["kind"] == "p" and peak - waves[i - 1]["peaks"][0] < 0.5 * 250:
            p = waves[i - 1]
            beat["p_on"], beat["p_peak"], beat["p_off"] = p["on"], p["peaks"][0], p["off"]
        if i + 1 < len(waves) and waves[i + 1]["kind"] == "t":
            t = waves[i + 1]
            beat["t_peak"], beat["t_off"] = t["peaks"][0], t["off"]
        out.append(beat)
    return out


def ours(x: np.ndarray, fs: float, leads: tuple[str, ...], beats: list[dict[str, int | None]],
         legacy: bool = False, per_beat: bool = False) -> list[dict[str, Any]]:
    """Our boundaries (record samples) for each annotated beat (see the module docstring).
    ``legacy``: the delineation before 2026-12-05; ``per_beat``: with the per-beat refinement."""
    from ecgpilot.signal.beats import detect_beats
    from ecgpilot.signal.measure import measure_detail

    half = int(round(WINDOW_S / 2 * fs))
    out = []
    for b in beats:
        c = int(b["qrs_peak"])
        a, e = max(c - half, 0), min(c + half, x.shape[1])
        win = x[:, a:e]
        got: dict[str, Any] = dict.fromkeys(KEYS)
        got["measurements"] = None
        det = detect_beats(win, fs)
        if det.size >= 2:
            kw = {"legacy_delineation": True} if legacy else {}
            m, mb, bd = measure_detail(win, fs, leads, det, **kw)
            got["measurements"] = m
            if mb is not None and bd is not None:
                up = mb.fs / fs
                pos = mb.beats / up
                k = int(np.argmin(np.abs(pos - (c - a))))
                if abs(pos[k] - (c - a)) <= MATCH_S * fs and bd.qrs_found:
                    vals = {"p_on": bd.p_on, "p_off": bd.p_off, "qrs_on": bd.qrs_on, "qrs_off": bd.qrs_off,
                            "t_peak": bd.t_peak, "t_off": bd.t_off}
                    if per_beat and not legacy:
                        from ecgpilot.signal.delineate import beat_boundaries

                        pb = beat_boundaries(mb, bd)
                        for key, arr in pb.items():
                            if key in vals and arr[k] >= 0:
                                vals[key] = int(arr[k])
                    p_peak = None
                    if bd.p_on is not None and bd.p_off is not None:
                        seg = np.sqrt((mb.signal[:, bd.p_on:bd.p_off + 1] ** 2).mean(axis=0))
                        p_peak = bd.p_on + int(np.argmax(seg))
                    vals["p_peak"] = p_peak
                    for key, v in vals.items():
                        if v is not None:
                            got[key] = a + (mb.beats[k] + (v - mb.fiducial)) / up
        out.append(got)
    return out


def neurokit(x: np.ndarray, fs: float, leads: tuple[str, ...], beats: list[dict[str, int | None]],
             mode: str = "global") -> list[dict[str, Any]]:
    """NeuroKit2 DWT on each lead of the annotated span (±10 s); R peaks from ``ecg_peaks`` on the
    first lead. ``mode``: ``lead0`` first lead only, ``global`` earliest onset / latest offset of the
    two leads (the annotators looked at both), ``median`` their mean."""
    import neurokit2 as nk

    fsi = int(fs)
    a = max(int(min(b["qrs_peak"] for b in beats)) - 10 * fsi, 0)
    e = min(int(max(b["qrs_peak"] for b in beats)) + 10 * fsi, x.shape[1])
    names = {"p_on": "ECG_P_Onsets", "p_peak": "ECG_P_Peaks", "p_off": "ECG_P_Offsets", "qrs_on": "ECG_R_Onsets",
             "qrs_off": "ECG_R_Offsets", "t_peak": "ECG_T_Peaks", "t_off": "ECG_T_Offsets"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean0 = nk.ecg_clean(x[0, a:e], sampling_rate=fsi)
        _, info = nk.ecg_peaks(clean0, sampling_rate=fsi)
        rpk = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
        table: dict[str, list[np.ndarray]] = {k: [] for k in names}
        for li in (range(1) if mode == "lead0" else range(x.shape[0])):
            xc = nk.ecg_clean(x[li, a:e], sampling_rate=fsi)
            try:
                _, waves = nk.ecg_delineate(xc, rpk, sampling_rate=fsi, method="dwt")
            except Exception:  # neurokit raises on some leads; the lead is then skipped
                continue
            for k, nm in names.items():
                v = np.asarray(waves.get(nm, [np.nan] * len(rpk)), dtype=float)
                if v.size == len(rpk):
                    table[k].append(v)
    arr = {k: np.vstack(v) if v else np.full((1, len(rpk)), np.nan) for k, v in table.items()}
    out = []
    for b in beats:
        got: dict[str, Any] = dict.fromkeys(KEYS)
        if rpk.size:
            j = int(np.argmin(np.abs(rpk + a - int(b["qrs_peak"]))))
            if abs(rpk[j] + a - int(b["qrs_peak"])) <= MATCH_S * fs:
                for k in names:
                    col = arr[k][:, j]
                    col = col[np.isfinite(col)]
                    if col.size:
                        if mode == "global":
                            v = col.min() if k.endswith("_on") else col.max() if k.endswith("_off") else np.median(col)
                        else:
                            v = float(np.mean(col))
                        got[k] = a + float(v)
        out.append(got)
    return out


def evaluate(records: list[str], method: Callable[..., list[dict[str, Any]]], **kw: Any) -> dict[str, Any]:
    """Errors (ms) per boundary over the annotated beats of ``records``."""
    per: dict[str, list[tuple[str, int, float | None]]] = {k: [] for k in (*KEYS, *DURATIONS)}
    rows = []
    t0 = time.perf_counter()
    for name in records:
        x, fs, leads = load(name)
        beats = annotated_beats(name)
        got = method(x, fs, leads, beats, **kw)
        for i, (b, g) in enumerate(zip(beats, got)):
            rows.append((name, i, b, g, fs))
            for k in KEYS:
                if b.get(k) is None:
                    continue
                err = None if g.get(k) is None else (float(g[k]) - float(b[k])) * 1000.0 / fs
                per[k].append((name, i, err))
            for k, (a, z) in DURATIONS.items():
                if b.get(a) is None or b.get(z) is None:
                    continue
                ref = (float(b[z]) - float(b[a])) * 1000.0 / fs
                m = g.get("measurements")
                if k == "qrs_ms" and m is not None:  # ours: the reported QRS duration (beat by beat)
                    val = None if m.get("qrs_ms") is None or g.get("qrs_on") is None else float(m["qrs_ms"])
                else:
                    val = None if g.get(a) is None or g.get(z) is None else (float(g[z]) - float(g[a])) * 1000.0 / fs
                per[k].append((name, i, None if val is None else val - ref))
    return {"errors": per, "rows": rows, "seconds": time.perf_counter() - t0}


def single_lead(x: np.ndarray, fs: float, leads: tuple[str, ...], beats: list[dict[str, int | None]],
                lead: int = 0) -> list[dict[str, Any]]:
    """:func:`ours` on one lead of the record alone (a single-lead delineation)."""
    return ours(x[lead:lead + 1], fs, (leads[lead],), beats)


def best_lead(records: list[str]) -> dict[str, Any]:
    """Martínez et al.'s QTDB protocol, for a like-for-like comparison with their table: a single-lead
    delineation of each lead, and for every annotated boundary the lead whose mark is *closest to the
    cardiologist's* (the annotation chooses the lead, so this is optimistic by construction; the
    product never does it). Detected when either lead gives the boundary."""
    runs = [evaluate(records, single_lead, lead=i) for i in (0, 1)]
    per: dict[str, list[tuple[str, int, float | None]]] = {}
    for k in runs[0]["errors"]:
        rows = []
        for (r, i, e0), (r1, i1, e1) in zip(runs[0]["errors"][k], runs[1]["errors"][k]):
            assert (r, i) == (r1, i1)
            got = [e for e in (e0, e1) if e is not None]
            rows.append((r, i, min(got, key=abs) if got else None))
        per[k] = rows
    return {"errors": per, "rows": runs[0]["rows"], "seconds": runs[0]["seconds"] + runs[1]["seconds"]}


def stats(errs: list[tuple[str, int, float | None]]) -> dict[str, Any]:
    """Mean, pooled SD, mean of per-record SDs, n, detection share, share of |error| > 40 ms."""
    v = np.array([e for _, _, e in errs if e is not None], dtype=float)
    by: dict[str, list[float]] = {}
    for r, _, e in errs:
        if e is not None:
            by.setdefault(r, []).append(e)
    rec_sd = [float(np.std(a, ddof=1)) for a in by.values() if len(a) >= 2]
    return {
        "n_annot": len(errs), "n": int(v.size), "detected": v.size / max(len(errs), 1),
        "mean": float(v.mean()) if v.size else float("nan"),
        "sd": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        "sd_rec": float(np.mean(rec_sd)) if rec_sd else float("nan"),
        "gt40": float(np.mean(np.abs(v) > 40)) if v.size else float("nan"),
    }


def reliability(res: dict[str, Any], limit_ms: float = 40.0) -> str:
    """How ``qt_reliable`` (of each beat's 10-s window) sorts the beats by T-end error."""
    flag, err = [], []
    for _, _, b, g, fs in res["rows"]:
        m = g.get("measurements")
        if b.get("t_off") is None or g.get("t_off") is None or m is None or m.get("qt_ms") is None:
            continue
        flag.append(not m["qt_reliable"])
        err.append((float(g["t_off"]) - float(b["t_off"])) * 1000.0 / fs)
    f, e = np.array(flag), np.array(err)
    bad = np.abs(e) > limit_ms
    # "very long QTc" (>= 500 ms, Fridericia) on a window: is it the cardiologists' too, and is it flagged?
    alarms = false = false_flagged = 0
    for _, _, b, g, fs in res["rows"]:
        m = g.get("measurements")
        if m is None or m.get("qtc_ms") is None or m["qtc_ms"] < 500 or b.get("t_off") is None or b.get("qrs_on") is None:
            continue
        alarms += 1
        ref = (b["t_off"] - b["qrs_on"]) * 1000.0 / fs / np.cbrt(m["rr_ms"] / 1000.0)
        if ref < 480:
            false += 1
            false_flagged += not m["qt_reliable"]
    return (f"qt_reliable false on {100 * f.mean():.1f} % of {f.size} beats; on {100 * f[bad].mean():.1f} % of the "
            f"{bad.sum()} beats with |T end error| > {limit_ms:.0f} ms and {100 * f[~bad].mean():.1f} % of the others; "
            f"T end error of the beats kept reliable: {e[~f].mean():.1f} ± {e[~f].std(ddof=1):.1f} ms "
            f"(> {limit_ms:.0f} ms: {100 * np.mean(np.abs(e[~f]) > limit_ms):.1f} %), of those flagged: "
            f"{e[f].mean():.1f} ± {e[f].std(ddof=1):.1f} ms\n"
            f"QTc >= 500 ms on {alarms} beats' windows; the cardiologists' QTc of the beat < 480 ms on {false} "
            f"of them, of which {false_flagged} flagged (qt_reliable false)")


def table(title: str, res: dict[str, Any], keys: tuple[str, ...] = MAIN_KEYS) -> str:
    lines = [f"\n{title}  ({res['seconds']:.0f} s)",
             f"{'boundary':<9}{'n annot':>8}{'n':>6}{'det %':>7}{'mean':>8}{'SD':>7}{'SD/rec':>8}{'>40ms %':>9}{'   Martinez 2004':>18}"]
    for k in keys:
        s = stats(res["errors"][k])
        mz = MARTINEZ_2004.get(k)
        lines.append(f"{k:<9}{s['n_annot']:>8}{s['n']:>6}{100 * s['detected']:>7.1f}{s['mean']:>8.1f}{s['sd']:>7.1f}"
                     f"{s['sd_rec']:>8.1f}{100 * s['gt40']:>9.1f}" + (f"{mz[0]:>11.1f} ± {mz[1]:.1f}" if mz else ""))
    return "\n".join(lines)


def ludb_compare(records: list[int]) -> str:
    """LUDB intervals vs the cardiologists (``bench_measurements``), delineation before and now,
    non-paced records, and how often ``qt_reliable`` is false."""
    import bench_measurements as bm

    from ecgpilot.signal.beats import record_beats
    from ecgpilot.signal.measure import measure_detail

    def method(legacy: bool) -> Callable[[Any], dict[str, Any]]:
        def run(rec: Any) -> dict[str, Any]:
            rec = rec.with_derived_leads()
            return measure_detail(rec.signal, rec.fs, rec.leads, record_beats(rec), legacy_delineation=legacy)[0]
        return run

    paced = bm.paced_records()
    recs = [r for r in records if r not in paced]
    lines = [f"\nLUDB records {records[0]}-{records[-1]} without paced ECGs ({len(recs)}): measured - reference, mean / SD (ms)",
             f"{'delineation':<12}" + "".join(f"{k:>16}" for k in bm.IEC_LIMITS)]
    lines.append(f"{'IEC limit':<12}" + "".join(f"{f'{a} / {b}':>16}" for a, b in bm.IEC_LIMITS.values()))
    for tag, legacy in (("before", True), ("now", False)):
        res = bm.evaluate(recs, method(legacy))
        cells = [f"{st['mean']:.1f} / {st['sd']:.1f}" for st in res["stats"].values()]
        lines.append(f"{tag:<12}" + "".join(f"{c:>16}" for c in cells))
        if not legacy:
            got = [g for _, _, g in res["per_record"] if g.get("qt_ms") is not None]
            flagged = [n for n, _, g in res["per_record"] if g.get("qt_ms") is not None and not g["qt_reliable"]]
            lines.append(f"qt_reliable false on {len(flagged)} of {len(got)} records: {flagged}")
    return "\n".join(lines)


def ptbxl_check(n: int = 600, fold: int = 9, seed: int = 0) -> str:
    """How often ``qt_reliable`` is false on ``n`` random PTB-XL records of ``fold`` (100 Hz, no
    reference T end there): NORM-only records vs the others, and among QTc >= 500 ms."""
    from ecgpilot.datasets.ptbxl import load_ptbxl
    from ecgpilot.model.features import LEADS12
    from ecgpilot.signal.beats import detect_beats
    from ecgpilot.signal.measure import measure_detail

    d = load_ptbxl()
    sel = np.random.default_rng(seed).choice(np.nonzero(d.fold == fold)[0], n, replace=False)
    res: dict[str, list[tuple[bool, float]]] = {"NORM only": [], "other": []}
    for i in sel:
        x = np.asarray(d.signals[i], dtype=np.float64).T
        m = measure_detail(x, 100.0, LEADS12, detect_beats(x, 100.0))[0]
        if m["qt_ms"] is not None:
            res["NORM only" if d.labels["super_class"][i] == ["NORM"] else "other"].append((m["qt_reliable"], m["qtc_ms"]))
    lines = [f"\nPTB-XL fold {fold}, {n} random records (seed {seed}), qt_reliable false:"]
    for k, v in res.items():
        f = np.array([not a for a, _ in v])
        q = np.array([c for _, c in v])
        lines.append(f"  {k}: {100 * f.mean():.1f} % of {len(v)}; QTc >= 500 ms on {(q >= 500).sum()}, "
                     f"of which flagged {(f & (q >= 500)).sum()}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="tuning", choices=("tuning", "report", "all"))
    ap.add_argument("--legacy", action="store_true", help="the delineation before 2026-12-05")
    ap.add_argument("--per-beat", action="store_true", help="refine QRS on/off and T end on each beat")
    ap.add_argument("--neurokit", nargs="*", choices=("lead0", "global", "median"), help="also NeuroKit2 DWT")
    ap.add_argument("--neurokit-only", action="store_true", help="skip ours")
    ap.add_argument("--ludb", default=None, help="also LUDB before/now on a record range, e.g. 101-200")
    ap.add_argument("--ptbxl", type=int, default=0, help="also qt_reliable on N random PTB-XL fold-9 records")
    ap.add_argument("--worst", type=int, default=0, help="print the N worst beats of T end")
    ap.add_argument("--best-lead", action="store_true",
                    help="also Martinez et al.'s protocol: single-lead delineation, the lead closest to the annotation")
    args = ap.parse_args()
    recs = split(args.split)
    label = f"QTDB {args.split} half ({len(recs)} records)" if args.split != "all" else "QTDB all 52 records"
    if not args.neurokit_only:
        res = evaluate(recs, ours, legacy=args.legacy, per_beat=args.per_beat)
        tag = "legacy (before)" if args.legacy else ("per-beat refined" if args.per_beat else "now")
        print(table(f"ecgpilot {tag} on {label}", res))
        if not args.legacy:
            print(reliability(res))
        if args.worst:
            w = sorted((abs(e), r, i, e) for r, i, e in res["errors"]["t_off"] if e is not None)[::-1][: args.worst]
            print("worst T end:", [(r, i, round(e)) for _, r, i, e in w])
    if args.best_lead:
        print(table(f"ecgpilot single-lead, best of the two leads per boundary (Martinez protocol) on {label}",
                    best_lead(recs)))
        for i in (0, 1):
            print(table(f"ecgpilot single-lead, lead {i} only, on {label}", evaluate(recs, single_lead, lead=i)))
    if args.ludb:
        a, _, z = args.ludb.partition("-")
        print(ludb_compare(list(range(int(a), int(z or a) + 1))))
    if args.ptbxl:
        print(ptbxl_check(args.ptbxl))
    if args.neurokit is not None:
        for mode in args.neurokit or ["global"]:
            print(table(f"NeuroKit2 DWT ({mode}) on {label}", evaluate(recs, neurokit, mode=mode)))


if __name__ == "__main__":
    main()
