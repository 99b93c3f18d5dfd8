"""Global interval and axis measurements on LUDB vs the cardiologists' annotations.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_measurements.py [--neurokit] [--records 1-100]

Reference intervals (per record), built from LUDB's per-lead annotations:
for every beat annotated in the record, QRS complexes of all leads are grouped by time
(onsets within 80 ms); the global QRS onset is the **second earliest** onset across leads
and the offset the **second latest** offset (the strict earliest/latest, ``--rank 0``, lets
one outlying lead annotation decide; LUDB's per-lead marks scatter by ±20 ms); the P wave
of that beat is the annotated P ending before the QRS onset (same rule), the T wave the
annotated T between this QRS and the next one (second latest offset). A record's reference is the median over its beats (beats with
fewer than 6 annotated leads are ignored). No reference P/PR when no P is annotated
(AF, flutter). Measured minus reference, mean and SD over records, vs IEC 60601-2-25.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import wfdb

from ecgpilot.leads import STANDARD_12
from ecgpilot.paths import shared_data_dir
from ecgpilot.record import ECGRecord, SourceInfo

LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
IEC_LIMITS = {"p_duration_ms": (10, 15), "pr_ms": (10, 10), "qrs_ms": (10, 10), "qt_ms": (25, 30)}
MIN_LEADS = 6
REF_RANK = 1


def ludb_dir() -> Path | None:
    data = shared_data_dir()
    if data is None or not (data / "ludb" / "data" / "1.hea").exists():
        return None
    return data / "ludb" / "data"


AMPLITUDES = "header"


def load_record(n: int, root: Path | None = None) -> ECGRecord:
    """LUDB record ``n`` as an ECGRecord: WFDB physical mV × 1000 → µV with the header gains
    (``AMPLITUDES = "header"``: every lead spans 1 mV), or the true amplitudes from the ADC values
    (``"true"``, :func:`ecgpilot.datasets.ludb.read_ludb`)."""
    if AMPLITUDES == "true":
        from ecgpilot.datasets.ludb import read_ludb

        return read_ludb(n)
    root = root or ludb_dir()
    rec = wfdb.rdrecord(str(root / str(n)))
    return ECGRecord(
        signal=(rec.p_signal.T * 1000.0).astype(np.float32),
        fs=float(rec.fs),
        leads=tuple(rec.sig_name),
        source=SourceInfo(format="wfdb", path=str(root / f"{n}.hea")),
    )


def _waves(path: str, lead: str) -> list[tuple[str, int, int, int]]:
    ann = wfdb.rdann(path, lead)
    out = []
    sym, smp = ann.symbol, ann.sample
    for k, s in enumerate(sym):
        if s in ("p", "N", "t") and 0 < k < len(sym) - 1 and sym[k - 1] == "(" and sym[k + 1] == ")":
            out.append((s, int(smp[k - 1]), int(smp[k]), int(smp[k + 1])))
    return out


def _early(values: list[int], rank: int) -> int:
    v = sorted(values)
    return v[min(rank, len(v) - 1)]


def _late(values: list[int], rank: int) -> int:
    v = sorted(values, reverse=True)
    return v[min(rank, len(v) - 1)]


def reference(n: int, root: Path | None = None, rank: int = REF_RANK) -> dict[str, float | None]:
    """Reference global intervals (ms) of LUDB record ``n`` (see module docstring).

    ``rank`` 0 takes the strict earliest onset / latest offset across leads, 1 the
    second earliest / second latest (one outlying lead annotation ignored).
    """
    root = root or ludb_dir()
    path = str(root / str(n))
    fs = 500.0
    per_lead = [_waves(path, lead) for lead in LUDB_LEADS]
    qrs = sorted((on, off, li) for li, w in enumerate(per_lead) for s, on, pk, off in w if s == "N")
    groups: list[list[tuple[int, int, int]]] = []
    for item in qrs:
        if groups and item[0] - groups[-1][0][0] <= 0.08 * fs:
            groups[-1].append(item)
        else:
            groups.append([item])
    vals: dict[str, list[float]] = {"p_duration_ms": [], "pr_ms": [], "qrs_ms": [], "qt_ms": []}
    starts = [min(x[0] for x in g) for g in groups] + [10**9]
    for gi, g in enumerate(groups):
        if len({li for _, _, li in g}) < MIN_LEADS:
            continue
        on = _early([x[0] for x in g], rank)
        off = _late([x[1] for x in g], rank)
        nxt = starts[gi + 1]
        vals["qrs_ms"].append((off - on) / fs * 1000)
        ps = [(a, b) for w in per_lead for s, a, _, b in w if s == "p" and on - 0.45 * fs < b <= on + 0.01 * fs]
        if len(ps) >= MIN_LEADS:
            p_on, p_off = _early([a for a, _ in ps], rank), _late([b for _, b in ps], rank)
            vals["p_duration_ms"].append((p_off - p_on) / fs * 1000)
            vals["pr_ms"].append((on - p_on) / fs * 1000)
        ts = [b for w in per_lead for s, a, _, b in w if s == "t" and off - 0.04 * fs <= a and b < nxt]
        if len(ts) >= MIN_LEADS:
            vals["qt_ms"].append((_late(ts, rank) - on) / fs * 1000)
    return {k: (float(np.median(v)) if v else None) for k, v in vals.items()}


def ludb_table() -> list[dict[str, str]]:
    root = ludb_dir()
    assert root is not None
    with open(root.parent / "ludb.csv", newline="") as f:
        return list(csv.DictReader(f))


def axis_category(deg: float | None) -> str | None:
    """Categories of LUDB's axis labels (Russian convention): left deviation < 0 ≤ horizontal
    < 30 ≤ normal < 70 ≤ vertical ≤ 90 < right deviation (≤ 180; −180..−90 counted right)."""
    if deg is None:
        return None
    if deg <= -90:
        return "right axis deviation"
    if deg < 0:
        return "left axis deviation"
    if deg < 30:
        return "horizontal"
    if deg < 70:
        return "normal"
    if deg <= 90:
        return "vertical"
    if deg <= 180:
        return "right axis deviation"
    return None


def ours(rec: ECGRecord) -> dict[str, Any]:
    from ecgpilot.signal.measure import measure

    return measure(rec)


def neurokit(rec: ECGRecord, mode: str = "median") -> dict[str, Any]:
    """NeuroKit2 (``ecg_clean`` + ``ecg_peaks`` on lead II, DWT ``ecg_delineate``).

    ``mode``: ``"lead2"`` delineates lead II only; ``"median"`` delineates the 12 leads
    and takes per beat the median across leads of each boundary; ``"global"`` takes the
    earliest onset / latest offset across leads (the reference's rule, but NeuroKit's
    spurious per-lead boundaries then dominate). Intervals: median over beats.
    """
    import warnings

    import neurokit2 as nk

    fs = int(rec.fs)
    clean = nk.ecg_clean(rec.lead("II").astype(float), sampling_rate=fs)
    _, info = nk.ecg_peaks(clean, sampling_rate=fs)
    rpeaks = np.asarray(info["ECG_R_Peaks"])
    keys = ("ECG_P_Onsets", "ECG_P_Offsets", "ECG_R_Onsets", "ECG_R_Offsets", "ECG_T_Offsets")
    table: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for name in (("II",) if mode == "lead2" else STANDARD_12):
        x = nk.ecg_clean(rec.lead(name).astype(float), sampling_rate=fs)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, waves = nk.ecg_delineate(x, rpeaks, sampling_rate=fs, method="dwt")
        except Exception:  # neurokit raises on some leads; the lead is then skipped
            continue
        for k in keys:
            v = np.asarray(waves.get(k, [np.nan] * len(rpeaks)), dtype=float)
            if v.size == len(rpeaks):
                table[k].append(v)
    arr = {k: np.vstack(v) if v else np.full((1, len(rpeaks)), np.nan) for k, v in table.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = np.nanmin if mode == "global" else np.nanmedian
        last = np.nanmax if mode == "global" else np.nanmedian
        p_on, p_off = first(arr["ECG_P_Onsets"], 0), last(arr["ECG_P_Offsets"], 0)
        q_on, q_off = first(arr["ECG_R_Onsets"], 0), last(arr["ECG_R_Offsets"], 0)
        t_off = last(arr["ECG_T_Offsets"], 0)
        to = 1000 / fs

        def med(v: np.ndarray) -> float | None:
            return float(np.nanmedian(v)) if np.isfinite(v).any() else None

        return {
            "p_duration_ms": med((p_off - p_on) * to),
            "pr_ms": med((q_on - p_on) * to),
            "qrs_ms": med((q_off - q_on) * to),
            "qt_ms": med((t_off - q_on) * to),
        }


def evaluate(records: list[int], method: Callable[[ECGRecord], dict[str, Any]], rank: int = REF_RANK) -> dict[str, Any]:
    rows = {int(r["ID"]): r for r in ludb_table()}
    diffs: dict[str, list[float]] = {k: [] for k in IEC_LIMITS}
    missing = {k: 0 for k in IEC_LIMITS}
    extra = {k: 0 for k in IEC_LIMITS}
    axis_ok = axis_n = axis_near = 0
    axis_by_label: dict[str, list[float]] = {}
    order = ["left axis deviation", "horizontal", "normal", "vertical", "right axis deviation"]
    per_record = []
    t0 = time.perf_counter()
    for n in records:
        rec = load_record(n)
        ref = reference(n, rank=rank)
        got = method(rec)
        per_record.append((n, ref, got))
        for k in IEC_LIMITS:
            if ref[k] is not None and got.get(k) is not None:
                diffs[k].append(got[k] - ref[k])
            elif ref[k] is not None:
                missing[k] += 1
            elif got.get(k) is not None:
                extra[k] += 1
        label = rows[n]["Electric axis of the heart"].replace("Electric axis of the heart:", "").strip()
        if label and got.get("qrs_axis_deg") is not None:
            cat = axis_category(got["qrs_axis_deg"])
            axis_n += 1
            axis_ok += cat == label
            axis_near += cat in order and abs(order.index(cat) - order.index(label)) <= 1
            axis_by_label.setdefault(label, []).append(got["qrs_axis_deg"])
    elapsed = time.perf_counter() - t0
    stats = {
        k: {
            "n": len(v),
            "mean": float(np.mean(v)) if v else None,
            "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
            "mean_abs": float(np.mean(np.abs(v))) if v else None,
            "missing": missing[k],
            "extra": extra[k],
        }
        for k, v in diffs.items()
    }
    return {"stats": stats, "axis_agreement": (axis_ok, axis_n), "axis_near": axis_near,
            "axis_by_label": axis_by_label, "seconds": elapsed, "per_record": per_record}


def paced_records() -> set[int]:
    """LUDB records with a pacemaker (column 'Cardiac pacing' names pacing)."""
    return {int(r["ID"]) for r in ludb_table() if "pacing" in r["Cardiac pacing"].lower()}


def _parse_range(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def print_stats(title: str, res: dict[str, Any]) -> None:
    print(f"\n{title}  ({res['seconds']:.1f} s)")
    print(f"{'measure':<14}{'n':>4}{'mean':>8}{'SD':>8}{'|d|':>7}{'IEC':>9}  pass  missing  extra")
    for k, s in res["stats"].items():
        lim = IEC_LIMITS[k]
        ok = s["mean"] is not None and abs(s["mean"]) <= lim[0] and s["sd"] is not None and s["sd"] <= lim[1]
        mean = f"{s['mean']:8.1f}" if s["mean"] is not None else "       -"
        sd = f"{s['sd']:8.1f}" if s["sd"] is not None else "       -"
        ma = f"{s['mean_abs']:7.1f}" if s["mean_abs"] is not None else "      -"
        print(f"{k:<14}{s['n']:>4}{mean}{sd}{ma}{lim[0]:>5}/{lim[1]:<3}  {'yes' if ok else 'NO ':<4}  {s['missing']:>7}  {s['extra']:>5}")
    ok, n = res["axis_agreement"]
    if n:
        print(f"QRS axis category agreement with LUDB labels: {ok}/{n} = {100 * ok / n:.1f} % "
              f"(same or neighbouring category: {100 * res['axis_near'] / n:.1f} %)")
        for label, v in sorted(res["axis_by_label"].items(), key=lambda kv: np.median(kv[1])):
            print(f"    LUDB '{label}': n={len(v)}, our QRS axis median {np.median(v):.0f}° "
                  f"(IQR {np.percentile(v, 25):.0f}..{np.percentile(v, 75):.0f}°)")


MUSE_KEYS = ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg")


def compare_muse() -> None:
    """Our measurements vs GE 12SL's (``device_measurements``) on the MUSE XML samples.

    GE's ``qtc_ms`` is Bazett, so it is compared with our ``qtc_bazett_ms``.
    """
    from ecgpilot.io import read_ecg
    from ecgpilot.signal.measure import measure

    data = shared_data_dir()
    files = sorted((data / "format-samples" / "ge-muse-xml").rglob("*.xml")) if data else []
    diffs: dict[str, list[float]] = {k: [] for k in MUSE_KEYS}
    print("\nGE 12SL (MUSE XML samples) vs ecgpilot: GE / ours")
    print("file".ljust(40) + "".join(k.replace("_ms", "").replace("_deg", "").replace("_bpm", "")[:9].rjust(12) for k in MUSE_KEYS))
    for f in files:
        rec = read_ecg(f)
        dev = rec.source.device_measurements
        got = measure(rec)
        cells = []
        for k in MUSE_KEYS:
            ours = got["qtc_bazett_ms"] if k == "qtc_ms" else got[k]
            ge = dev.get(k)
            cells.append(f"{'-' if ge is None else f'{ge:g}'}/{'-' if ours is None else f'{ours:g}'}".rjust(12))
            if ge is not None and ours is not None:
                d = ours - ge
                if k.endswith("_deg"):
                    d = (d + 180) % 360 - 180
                diffs[k].append(d)
        print(f.name[:39].ljust(40) + "".join(cells))
    print("mean diff".ljust(40) + "".join(f"{np.mean(v):12.1f}" if v else "           -" for v in diffs.values()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", default="1-200", help="range, e.g. 1-100")
    ap.add_argument("--neurokit", nargs="*", choices=("lead2", "median", "global"),
                    help="also run NeuroKit2 DWT (modes: lead2, median, global; default lead2 median)")
    ap.add_argument("--rank", type=int, default=REF_RANK, help="0: strict earliest/latest reference")
    ap.add_argument("--no-paced", action="store_true", help="leave out the paced ECGs (as the CSE set does)")
    ap.add_argument("--worst", type=int, default=0, help="print the N worst records per measure")
    ap.add_argument("--muse", action="store_true", help="also compare with GE 12SL on the MUSE samples")
    ap.add_argument("--amplitudes", choices=("header", "true"), default="header",
                    help="LUDB amplitudes: the header gains (each lead 1 mV peak to peak) or the true ones")
    args = ap.parse_args()
    global AMPLITUDES
    AMPLITUDES = args.amplitudes
    if args.muse:
        compare_muse()
    records = _parse_range(args.records)
    if args.no_paced:
        records = [r for r in records if r not in paced_records()]
    label = (f"LUDB records {args.records}" + (" without paced ECGs" if args.no_paced else "")
             + f", {args.amplitudes} amplitudes")
    res = evaluate(records, ours, args.rank)
    print_stats(f"ecgpilot on {label}", res)
    if args.worst:
        for k in IEC_LIMITS:
            errs = [(abs(g[k] - r[k]), n, r[k], g[k]) for n, r, g in res["per_record"] if r[k] is not None and g.get(k) is not None]
            print(k, [(n, round(rv), round(gv)) for _, n, rv, gv in sorted(errs, reverse=True)[: args.worst]])
    if args.neurokit is not None:
        from functools import partial

        for mode in args.neurokit or ["lead2", "median"]:
            res_nk = evaluate(records, partial(neurokit, mode=mode), args.rank)
            print_stats(f"NeuroKit2 DWT ({mode}) on {label}", res_nk)


if __name__ == "__main__":
    main()
