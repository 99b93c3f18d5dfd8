"""Fuzzing campaign over every reader, and the hostile-file measurements (issue 23).

Each case is a real sample file of ``format-samples`` (a LUDB record for WFDB, a CSV written from a
real record for CSV) after one seeded, bounded mutation: bit flips, byte insertions or deletions,
a 2/4-byte integer overwritten with an extreme value (length-field tampering), a number in the text
replaced by an extreme one, truncation, or a duplicated chunk. Each case runs ``read_ecg`` in a
forked child with a memory cap (``RLIMIT_AS``: the parent's address space + ``--mem-cap-mb``) and a
time cap (killed after ``--time-cap``), and is classified:

* ``refused``: one of ecgpilot's :class:`~ecgpilot.errors.ReadError` (a clean refusal);
* ``valid``: a record that passes the plausibility rule below;
* ``foreign``: any other exception (the contract of ``read_ecg`` is broken);
* ``hang``: killed at the time cap;
* ``memory``: a ``MemoryError`` (even wrapped in a refusal), a child killed by a signal, or a peak
  RSS growth beyond ``--rss-budget-mb``;
* ``absurd``: a "valid" record no amplifier produces: a sample beyond 1 V from its lead's median,
  every lead with more than 1 % of its samples beyond 50 mV, non-finite values, fewer than 10
  samples or 20 ms (computed here, independently of ``ecgpilot.io._limits``).

The goal is 0 foreign, 0 hang, 0 memory, 0 absurd. ``tests/test_fuzz_readers.py`` runs a short
budget; this script runs the long one and writes ``benchmarks/results/fuzz.md``:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fuzz.py --cases 300 --hostile --real --write

``--hostile`` measures every file of ``../shared/data/hostile`` (time, peak RSS growth, outcome).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ecgpilot.paths import shared_data_dir
from ecgpilot.datasets.ptbxl import decode_packed

RESULTS = Path(__file__).resolve().parent / "results" / "fuzz.md"
FS = "format-samples"

#: Seed files per format (paths under the shared data). WFDB cases copy the .hea and the .dat;
#: the CSV seed is written from a real record at run time (see :func:`_csv_seed`).
SEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "dicom": ((FS, "dicom", "waveform_ecg.dcm"), (FS, "ecgtoolkit-examples", "Example.dcm")),
    "scp": ((FS, "ecgtoolkit-examples", "Example.scp"), (FS, "contec-ecg90a", "demo.scp")),
    "edf": ((FS, "contec-ecg90a", "0000050.ECG.edf"),),
    "hl7aecg": ((FS, "hl7-aecg", "fda-aecg-python", "Example aECG.xml"),
                (FS, "hl7-aecg", "liryc-hl7v3-aecg", "hl7aecg_example.xml"),
                (FS, "hl7-aecg", "fda-aecg-python", "minimum_aecg.xml")),
    "muse": ((FS, "ge-muse-xml", "braveheart", "example1.xml"),
             (FS, "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")),
    "sierra": ((FS, "philips-sierra-xml", "1_04", "3191723_ZZDEMOPTONLY_1-04_orig.xml"),
               (FS, "philips-sierra-xml", "1_03", "129DYPRG.XML"),
               (FS, "philips-sierra-xml", "1_04_01", "2020-5-18_15-48-11.xml")),
    "wfdb": (("ludb", "data", "1.hea"),),
    "csv": (("<generated>", "ludb-1.csv"),),
}
MUTATIONS = ("bitflip", "insert", "delete", "int_field", "text_number", "text_token", "long_run", "truncate",
             "dup_chunk")
EXTREME_INTS = (0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000)
EXTREME_NUMBERS = (b"0", b"-1", b"1e30", b"-1e30", b"99999999999", b"4294967295", b"1e-30", b"nan", b"65535")
_DIGITS = re.compile(rb"\d+(\.\d+)?")
#: Replacement tokens of ``text_token``: extreme counts, WFDB frame sizes and gains, units, empty and long text.
EXTREME_TOKENS = (b"16x100000", b"212x99999", b"0", b"-1", b"1e308", b"99999999999/mV", b"1e-300(0)/mV", b"kV",
                  b"", b"x" * 10_000, b"1" * 10_000, b"(" * 10_000, b"NaN", b"inf")
#: Bytes repeated by ``long_run`` (10^4 to 10^5 times): separators, brackets, spaces, digits, markup.
RUN_BYTES = (b" ", b"(", b",", b";", b"0", b"<a>", b"\t", b"#", b"=", b"\x00", b"9.", b"e")
_TOKEN = re.compile(rb"[^\s<>\"=,;/]+")
OUTCOMES = ("refused", "valid", "foreign", "hang", "memory", "absurd")
_PLAUSIBILITY = re.compile(r"MAX_ABS_UV|MAX_TYPICAL_UV|MIN_SAMPLES")
BAD = ("foreign", "hang", "memory", "absurd")


@dataclass
class Result:
    """One case's outcome, time and peak RSS growth."""

    fmt: str
    case: int
    seed_file: str
    mutation: str
    outcome: str
    seconds: float
    rss_mb: float
    detail: str


# -- mutations -----------------------------------------------------------------------------


def mutate(data: bytes, rng: np.random.Generator, kind: str) -> tuple[bytes, str]:
    """``data`` after one bounded mutation of ``kind``, and a line describing it."""
    buf = bytearray(data)
    n = len(buf)
    if kind == "bitflip":
        where = sorted(int(x) for x in rng.integers(0, n, int(rng.integers(1, 9))))
        for p in where:
            buf[p] ^= 1 << int(rng.integers(0, 8))
        return bytes(buf), f"bitflip @{where}"
    if kind == "insert":
        edits = []
        for _ in range(int(rng.integers(1, 5))):
            p, b = int(rng.integers(0, len(buf) + 1)), int(rng.integers(0, 256))
            buf[p:p] = bytes([b])
            edits.append((p, b))
        return bytes(buf), f"insert {edits}"
    if kind == "delete":
        where = []
        for _ in range(int(rng.integers(1, 5))):
            p = int(rng.integers(0, len(buf)))
            del buf[p]
            where.append(p)
        return bytes(buf), f"delete @{where}"
    if kind == "int_field":
        width = int(rng.choice([2, 4]))
        # length fields live near the start of binary headers: favour the first 4 KiB
        hi = min(n - width, 4096) if rng.random() < 0.7 else n - width
        p = int(rng.integers(0, max(hi, 1)))
        value = int(rng.choice(EXTREME_INTS)) & ((1 << (8 * width)) - 1)
        buf[p:p + width] = value.to_bytes(width, "little")
        return bytes(buf), f"int_field @{p} = {value:#x} ({width} bytes)"
    if kind == "text_number":
        spans = [m.span() for m in _DIGITS.finditer(data)]
        if not spans:
            return mutate(data, rng, "bitflip")
        edits = []
        for k in sorted(rng.choice(len(spans), size=min(len(spans), int(rng.integers(1, 4))), replace=False))[::-1]:
            p, q = spans[int(k)]
            new = bytes(rng.choice(EXTREME_NUMBERS))
            edits.append(f"@{p}: {data[p:q][:20]!r} -> {new!r}")
            buf[p:q] = new
        return bytes(buf), "text_number " + "; ".join(edits[::-1])
    if kind == "text_token":
        spans = [m.span() for m in _TOKEN.finditer(data[: 1 << 20])]
        if not spans:
            return mutate(data, rng, "insert")
        p, q = spans[int(rng.integers(0, len(spans)))]
        new = bytes(rng.choice(np.array(EXTREME_TOKENS, dtype=object)))
        buf[p:q] = new
        return bytes(buf), f"text_token @{p}: {data[p:q][:20]!r} -> {new[:20]!r} ({len(new)} bytes)"
    if kind == "long_run":
        p = int(rng.integers(0, n + 1))
        unit = bytes(rng.choice(np.array(RUN_BYTES, dtype=object)))
        count = int(rng.integers(10_000, 100_001)) // len(unit)
        buf[p:p] = unit * count
        return bytes(buf), f"long_run @{p}: {unit!r} x {count}"
    if kind == "truncate":
        cut = int(rng.integers(1, n))
        return bytes(buf[:cut]), f"truncate to {cut} of {n}"
    if kind == "dup_chunk":
        p = int(rng.integers(0, n))
        size = int(rng.integers(1, min(65536, n - p) + 1))
        at = int(rng.integers(0, n))
        buf[at:at] = buf[p:p + size]
        return bytes(buf), f"dup_chunk [{p}:{p + size}] at {at}"
    raise ValueError(f"unknown mutation {kind!r}; accepted: {', '.join(MUTATIONS)}")


def fix_scp_crcs(data: bytes) -> bytes:
    """``data`` with the record length, the record CRC and every section CRC that section 0 points
    to recomputed, so that a mutation reaches the SCP decoders instead of the CRC check."""
    import struct

    from ecgpilot.io.scp import crc_ccitt

    buf = bytearray(data)
    if len(buf) < 22:
        return data
    _, len0 = struct.unpack_from("<HI", buf, 8)
    for off in range(22, min(6 + len0, len(buf) - 9), 10):
        _, length, index = struct.unpack_from("<HII", buf, off)
        start = index - 1
        if length >= 16 and 0 <= start and start + length <= len(buf):
            struct.pack_into("<H", buf, start, crc_ccitt(bytes(buf[start + 2: start + length])))
    struct.pack_into("<I", buf, 2, len(buf))
    struct.pack_into("<H", buf, 0, crc_ccitt(bytes(buf[2:])))
    return bytes(buf)


def _csv_seed(root: Path, folder: Path) -> Path:
    """A CSV table (``# fs=``, ``# units=uV``, time column, 12 leads, 4 s) written from LUDB record 1."""
    from ecgpilot.io import read_ecg

    rec = read_ecg(root / "ludb" / "data" / "1.hea")
    n = int(4 * rec.fs)
    lines = [f"# fs={rec.fs:g}", "# units=uV", "time_s," + ",".join(rec.leads)]
    for k in range(n):
        lines.append(f"{k / rec.fs:.4f}," + ",".join(f"{v:.1f}" for v in rec.signal[:, k]))
    path = folder / "ludb-1.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_case(root: Path, fmt: str, case: int, seed: int, folder: Path, csv_seed: Path | None) -> tuple[Path, str, str]:
    """Write case ``case`` of ``fmt`` into ``folder``: (path to read, seed file, mutation)."""
    rng = np.random.default_rng([seed, list(SEEDS).index(fmt), case])
    parts = SEEDS[fmt][int(rng.integers(0, len(SEEDS[fmt])))]
    kind = MUTATIONS[int(rng.integers(0, len(MUTATIONS)))]
    case_dir = folder / f"{fmt}-{case:05d}"
    case_dir.mkdir()
    if fmt == "wfdb":
        src_hea = root.joinpath(*parts)
        hea, dat = case_dir / src_hea.name, case_dir / src_hea.with_suffix(".dat").name
        shutil.copyfile(src_hea, hea)
        shutil.copyfile(src_hea.with_suffix(".dat"), dat)
        target = hea if rng.random() < 0.5 else dat
        data, how = mutate(target.read_bytes(), rng, kind)
        target.write_bytes(data)
        return hea, "/".join(parts), f"{target.suffix}: {how}"
    src = csv_seed if fmt == "csv" else root.joinpath(*parts)
    assert src is not None
    data, how = mutate(src.read_bytes(), rng, kind)
    if fmt == "scp" and rng.random() < 0.75:  # get past the CRCs to the decoders
        data, how = fix_scp_crcs(data), how + " + CRCs fixed"
    out = case_dir / src.name
    out.write_bytes(data)
    return out, "/".join(parts), how


# -- one case in a capped child ------------------------------------------------------------


def _absurd(rec: object) -> str | None:
    """Why a returned record is no ECG (independent of ecgpilot.io._limits), or None."""
    sig = np.asarray(rec.signal, dtype=np.float64)  # type: ignore[attr-defined]
    fs = float(rec.fs)  # type: ignore[attr-defined]
    if not np.isfinite(sig).all():
        return "non-finite samples"
    if sig.shape[1] < 10 or sig.shape[1] / fs < 0.02:
        return f"{sig.shape[1]} samples at {fs:g} Hz"
    dev = np.abs(sig - np.median(sig, axis=1, keepdims=True))
    if dev.max() > 1e6:
        return f"sample {dev.max():.3g} µV from the median"
    share = (dev > 5e4).mean(axis=1).min()
    if share > 0.01:
        return f"every lead has {share:.1%} or more of its samples beyond 50 mV"
    return None


def _child(path: Path, mem_cap: int, fd: int) -> None:
    """Run read_ecg(path) under RLIMIT_AS and send (outcome, detail, rss growth in kB) on ``fd``."""
    from ecgpilot.errors import ReadError
    from ecgpilot.io import READERS, read_ecg, reader_module

    warnings.simplefilter("ignore")
    for name in READERS:  # imports (and the readers' lazily imported libraries) before the caps
        reader_module(name)
    import pydicom  # noqa: F401
    status = Path("/proc/self/status")

    def field(name: str) -> int:
        for line in status.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
        return 0

    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current one
    except OSError:
        pass
    base_rss = field("VmRSS")
    limit = field("VmSize") * 1024 + mem_cap
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        rec = read_ecg(path)
        why = _absurd(rec)
        outcome, detail = ("absurd", why) if why else ("valid", f"{rec.n_leads} leads x {rec.n_samples} at {rec.fs:g} Hz")
    except MemoryError as exc:
        outcome, detail = "memory", f"MemoryError: {exc}"
    except ReadError as exc:
        chain, cause = [], exc.__cause__
        while cause is not None and len(chain) < 10:
            chain.append(cause)
            cause = cause.__cause__
        if any(isinstance(c, MemoryError) for c in chain):
            outcome, detail = "memory", f"MemoryError wrapped in {type(exc).__name__}: {exc}"
        else:
            outcome, detail = "refused", f"{type(exc).__name__}: {exc}"
    except BaseException as exc:  # noqa: BLE001 - what we are looking for
        outcome, detail = "foreign", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    grown = max(field("VmHWM") - base_rss, 0)
    payload = pickle.dumps((outcome, str(detail)[:400], grown))
    os.write(fd, payload)


def run_case(path: Path, time_cap: float = 10.0, mem_cap_mb: int = 1024) -> tuple[str, str, float, float]:
    """(outcome, detail, seconds, peak RSS growth in MB) of ``read_ecg(path)`` in a capped child."""
    r, w = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            _child(path, mem_cap_mb * 2**20, w)
        finally:
            os._exit(0)
    os.close(w)
    chunks: list[bytes] = []
    deadline = t0 + time_cap
    killed = False
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            part = os.read(r, 1 << 16)
            if not part:
                break
            chunks.append(part)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    seconds = time.perf_counter() - t0
    if killed:
        return "hang", f"killed after {time_cap:g} s", seconds, float("nan")
    if not chunks:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        return "memory", f"child died without an answer (signal {sig}, status {status})", seconds, float("nan")
    outcome, detail, grown_kb = pickle.loads(b"".join(chunks))
    return outcome, detail, seconds, grown_kb / 1024.0


# -- campaigns -----------------------------------------------------------------------------


def campaign(cases: int, seed: int = 23, formats: tuple[str, ...] = tuple(SEEDS), time_cap: float = 10.0,
             mem_cap_mb: int = 1024, rss_budget_mb: float = 200.0) -> list[Result]:
    """``cases`` fuzz cases per format, each classified (see the module docstring)."""
    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data (../shared/data or $ECGPILOT_DATA) is not available")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="ecgpilot-fuzz-") as tmp:
        folder = Path(tmp)
        csv_seed = _csv_seed(root, folder) if "csv" in formats else None
        for fmt in formats:
            for case in range(cases):
                path, seed_file, how = make_case(root, fmt, case, seed, folder, csv_seed)
                outcome, detail, seconds, rss = run_case(path, time_cap, mem_cap_mb)
                if outcome in ("refused", "valid") and rss > rss_budget_mb:
                    outcome, detail = "memory", f"peak RSS grew {rss:.0f} MB (> {rss_budget_mb:g}); {detail}"
                results.append(Result(fmt, case, seed_file, how, outcome, round(seconds, 3), round(rss, 1), detail))
                shutil.rmtree(path.parent, ignore_errors=True)
    return results


def hostile(time_cap: float = 20.0, mem_cap_mb: int = 1024) -> list[Result]:
    """Every file of ``hostile/`` (listed in its INDEX.tsv), read in a capped child."""
    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data (../shared/data or $ECGPILOT_DATA) is not available")
    out = []
    for k, row in enumerate(hostile_index(root / "hostile")):
        outcome, detail, seconds, rss = run_case(root / "hostile" / row[0], time_cap, mem_cap_mb)
        out.append(Result("hostile", k, row[0], row[1], outcome, round(seconds, 3), round(rss, 1), detail))
    return out


def hostile_index(folder: Path) -> list[list[str]]:
    """Rows of ``INDEX.tsv`` (file name, mutation, seed, detail), files that exist only."""
    rows = [line.split("\t") for line in (folder / "INDEX.tsv").read_text().splitlines() if line.strip()]
    return [r for r in rows if (folder / r[0]).is_file()]


@dataclass
class RealCheck:
    """The plausibility rule on one real data set: records read, refused, and the extremes seen."""

    dataset: str
    records: int
    refused: int
    max_dev_uv: float
    max_share_one_lead: float
    max_share_all_leads: float
    shortest_s: float
    note: str = ""


def _real_stats(name: str, signals: list[np.ndarray] | np.ndarray, fs: float | list[float],
                refused: int = 0, note: str = "") -> RealCheck:
    """Extremes of the rule's quantities over ``signals`` (each (leads, samples), µV) and the rule's verdicts."""
    from ecgpilot.errors import CorruptFileError
    from ecgpilot.io._limits import check_plausible

    fss = fs if isinstance(fs, list) else [fs] * len(signals)
    dev_max = share_one = share_all = 0.0
    shortest = float("inf")
    for x, f in zip(signals, fss):
        x = np.asarray(x, dtype=np.float32)
        dev = np.abs(x.astype(np.float64) - np.median(x, axis=1, keepdims=True))
        share = (dev > 5e4).mean(axis=1)
        dev_max, share_one = max(dev_max, float(dev.max())), max(share_one, float(share.max()))
        share_all, shortest = max(share_all, float(share.min())), min(shortest, x.shape[1] / f)
        try:
            check_plausible(x, f, tuple(f"L{k}" for k in range(x.shape[0])), name)
        except CorruptFileError:
            refused += 1
    return RealCheck(name, len(signals), refused, dev_max, share_one, share_all, shortest, note)


def real_data() -> list[RealCheck]:
    """The plausibility rule on every format sample that reads, LUDB, PTB-XL, CinC 2011, CinC 2017, QTDB."""
    import lzma

    from ecgpilot.errors import ECGPilotError
    from ecgpilot.io import read_ecg
    from ecgpilot.io._limits import check_plausible

    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data (../shared/data or $ECGPILOT_DATA) is not available")
    out: list[RealCheck] = []

    def through_read_ecg(name: str, paths: list[Path], note: str = "") -> None:
        sigs, fss, refused = [], [], 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for p in paths:
                try:
                    rec = read_ecg(p)
                except ECGPilotError as exc:
                    refused += int(any(k in str(exc) for k in ("MAX_ABS_UV", "MAX_TYPICAL_UV", "MIN_SAMPLES")))
                    continue
                sigs.append(rec.signal)
                fss.append(rec.fs)
        read = f"{len(sigs)} of {len(paths)} files read"
        out.append(_real_stats(name, sigs, fss, refused, f"{read}; {note}" if note else read))

    samples = [p for p in sorted((root / FS).rglob("*")) if p.is_file()]
    through_read_ecg("format-samples", samples, "the others are not ECG files or are refused for their layout")
    through_read_ecg("LUDB", sorted((root / "ludb" / "data").glob("*.hea")))
    through_read_ecg("QTDB subset", sorted((root / "qtdb").glob("*.hea")))
    through_read_ecg("CinC 2017 subset", sorted((root / "cinc2017-subset").glob("*.hea")), "single lead")
    with lzma.open(root / "cinc2011-quality" / "signals.npy.xz") as f:
        c11 = np.load(f).astype(np.float32) * 5.0  # 5 µV per unit (SOURCE.txt)
    out.append(_real_stats("CinC 2011 subset", c11, 500.0, note="phone ECGs, many with leads off"))
    del c11
    with lzma.open(root / "ptbxl" / "signals100.npy.xz") as f:
        p = np.load(f)  # (12, N, 1000) int16, packed (see ../shared/data/README.md)
    refused = 0
    dev_max = share_one = share_all = 0.0
    n = p.shape[1]
    for a in range(0, n, 2000):  # decode a block of records at a time
        x = decode_packed(p[:, a:a + 2000]).astype(np.float32).transpose(0, 2, 1)  # (records, 12, 1000) µV
        dev = np.abs(x - np.median(x, axis=2, keepdims=True))
        share = (dev > 5e4).mean(axis=2)
        dev_max = max(dev_max, float(dev.max()))
        share_one, share_all = max(share_one, float(share.max())), max(share_all, float(share.min(axis=1).max()))
        for rec in x:
            try:
                check_plausible(rec, 100.0, tuple(f"L{k}" for k in range(12)), "ptbxl")
            except ECGPilotError:
                refused += 1
    out.append(RealCheck("PTB-XL", n, refused, dev_max, share_one, share_all, 10.0, "100 Hz, every record"))
    return out


#: The issue's goal for each hostile file: a clean refusal within this time and peak RSS growth.
HOSTILE_GOAL_S = 1.0
HOSTILE_GOAL_MB = 200.0


def hostile_over_goal(results: list[Result]) -> list[str]:
    """Names of the hostile files not refused cleanly within :data:`HOSTILE_GOAL_S` and :data:`HOSTILE_GOAL_MB`."""
    return [r.seed_file for r in results
            if r.outcome != "refused" or r.seconds > HOSTILE_GOAL_S or not r.rss_mb <= HOSTILE_GOAL_MB]


def summary(results: list[Result]) -> dict[str, dict[str, int]]:
    """Counts per format and outcome."""
    table: dict[str, Counter[str]] = {}
    for r in results:
        table.setdefault(r.fmt, Counter())[r.outcome] += 1
    return {fmt: {o: int(c[o]) for o in OUTCOMES} for fmt, c in table.items()}


def _markdown(results: list[Result], hostile_results: list[Result], real: list[RealCheck],
              args: argparse.Namespace, wall: float) -> str:
    counts = summary(results)
    lines = [
        "# Reader fuzzing and hostile files (issue 23)",
        "",
        f"Reproduce: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fuzz.py --cases {args.cases} "
        f"--seed {args.seed}{' --hostile' if args.hostile else ''}{' --real' if args.real else ''} --write` ({wall:.0f} s wall on the shared 2-core machine).",
        "",
        f"Each case: one seeded mutation of a real sample (see the script's docstring), `read_ecg` in a forked child "
        f"with RLIMIT_AS = parent + {args.mem_cap_mb} MB and a {args.time_cap:g} s time cap; a peak RSS growth above "
        f"{args.rss_budget_mb:g} MB counts as a memory blow-up. Goal: 0 foreign, 0 hang, 0 memory, 0 absurd.",
        "",
        "| format | cases | " + " | ".join(OUTCOMES) + " | slowest (s) | max RSS growth (MB) |",
        "|---|---|" + "---|" * len(OUTCOMES) + "---|---|",
    ]
    for fmt, c in counts.items():
        rs = [r for r in results if r.fmt == fmt]
        rss = [r.rss_mb for r in rs if np.isfinite(r.rss_mb)]
        lines.append(f"| {fmt} | {len(rs)} | " + " | ".join(str(c[o]) for o in OUTCOMES)
                     + f" | {max(r.seconds for r in rs):.2f} | {max(rss) if rss else float('nan'):.0f} |")
    total = Counter(r.outcome for r in results)
    lines.append(f"| **all** | {len(results)} | " + " | ".join(f"**{total[o]}**" for o in OUTCOMES) + " | | |")
    rule = Counter(r.fmt for r in results if r.outcome == "refused" and _PLAUSIBILITY.search(r.detail))
    lines += ["", "Refusals by read_ecg's plausibility rule (a sample beyond 1 V, every lead 1 % beyond 50 mV, or fewer than "
              "10 samples / 20 ms), i.e. files that decoded but would have been absurd: "
              + ", ".join(f"{fmt} {rule[fmt]}" for fmt in counts) + f"; total {sum(rule.values())}."]
    by_mut = Counter((r.mutation.split()[0].rstrip(":"), r.outcome) for r in results)
    lines += ["", "Outcomes per mutation:", "", "| mutation | " + " | ".join(OUTCOMES) + " |",
              "|---|" + "---|" * len(OUTCOMES)]
    for m in sorted({k[0] for k in by_mut}):
        lines.append(f"| {m} | " + " | ".join(str(by_mut[(m, o)]) for o in OUTCOMES) + " |")
    bad = [r for r in results if r.outcome in BAD]
    lines += ["", f"Cases not clean: {len(bad)}." + (" (format, case, seed file, mutation, outcome, detail)" if bad else "")]
    for r in bad[:50]:
        lines.append(f"- {r.fmt} #{r.case} {r.seed_file} — {r.mutation} — **{r.outcome}** — {r.detail[:200]}")
    if real:
        lines += ["", "## The plausibility rule on real data", "",
                  "`read_ecg` refuses a sample beyond 1 V from its lead's median, every lead with more than 1 % of its "
                  "samples beyond 50 mV from its median, and fewer than 10 samples or 20 ms "
                  "(`ecgpilot.io._limits.check_plausible`). Real recordings it must keep:", "",
                  "| data set | records | refused by the rule | max deviation (µV) | max share > 50 mV, one lead "
                  "| max share > 50 mV, least lead | shortest (s) | note |", "|---|---|---|---|---|---|---|---|"]
        for c in real:
            lines.append(f"| {c.dataset} | {c.records} | {c.refused} | {c.max_dev_uv:,.0f} | {c.max_share_one_lead:.1%} "
                         f"| {c.max_share_all_leads:.1%} | {c.shortest_s:.3g} | {c.note} |")
    if hostile_results:
        over = hostile_over_goal(hostile_results)
        lines += ["", "## Hostile files (`../shared/data/hostile`)", "",
                  f"Within the goal: {len(hostile_results) - len(over)} of {len(hostile_results)}"
                  + (f"; over: {', '.join(over)}." if over else "."), "",
                  f"Goal (issue 23): a clean refusal in < 1 s and < 200 MB each. Time = fork to answer (import excluded), "
                  "RSS = peak growth of the reading child.", "",
                  "| file | outcome | time (s) | RSS growth (MB) | message |", "|---|---|---|---|---|"]
        for r in hostile_results:
            lines.append(f"| {r.seed_file} | {r.outcome} | {r.seconds:.2f} | {r.rss_mb:.0f} | {r.detail[:160]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="cases per format")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--formats", default=",".join(SEEDS), help="comma-separated formats")
    parser.add_argument("--time-cap", type=float, default=10.0, help="seconds before a case counts as a hang")
    parser.add_argument("--mem-cap-mb", type=int, default=1024, help="RLIMIT_AS above the parent's address space")
    parser.add_argument("--rss-budget-mb", type=float, default=200.0, help="peak RSS growth counted as a blow-up")
    parser.add_argument("--hostile", action="store_true", help="also measure the hostile files")
    parser.add_argument("--real", action="store_true", help="check the plausibility rule on the real data sets")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (for the tests)")
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(RESULTS.parents[2])}")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    formats = tuple(f for f in args.formats.split(",") if f)
    results = campaign(args.cases, args.seed, formats, args.time_cap, args.mem_cap_mb, args.rss_budget_mb) \
        if args.cases > 0 else []
    hostile_results = hostile(max(args.time_cap, 20.0), args.mem_cap_mb) if args.hostile else []
    real = real_data() if args.real else []
    wall = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"results": [asdict(r) for r in results], "hostile": [asdict(r) for r in hostile_results],
                          "summary": summary(results)}))
        return 0
    text = _markdown(results, hostile_results, real, args, wall)
    print(text)
    if args.write:
        RESULTS.write_text(text)
    over = hostile_over_goal(hostile_results)
    bad = [r for r in results if r.outcome in BAD]
    if over or bad:
        print(f"FAILED: {len(bad)} fuzz case(s) not clean; hostile files over the goal "
              f"({HOSTILE_GOAL_S:g} s, {HOSTILE_GOAL_MB:g} MB): {over}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
