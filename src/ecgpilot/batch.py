"""Batch analysis: many ECG files → one table row each, on local processes or a Ray cluster.

Use case: re-read an archive with a new model (or rules) version, then compare the two runs record
by record before a release (:func:`compare_runs`, ``ecgpilot compare-models``).

* :func:`analyze_one` is the job of one file: the same :func:`~ecgpilot.analysis.analyze_file` and
  :func:`~ecgpilot.interpret.interpret` as ``ecgpilot analyze FILE``, flattened into one row
  (:data:`COLUMNS`). It never raises: a file that cannot be read or analysed becomes a row with
  its error (``ok`` False, ``error_type``, ``error``).
* :func:`run_batch` runs :func:`analyze_one` over the files, in this process (``jobs=1``), on
  ``jobs`` local processes (:class:`concurrent.futures.ProcessPoolExecutor`) or as Ray tasks
  (``engine="ray"``, the ``[scale]`` extra), and returns the rows in the order of the files.
* :func:`write_parquet` / :func:`read_parquet` store the rows (pyarrow, the ``[batch]`` extra).

Nothing here needs the web app or PyTorch.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TextIO

from ecgpilot.errors import ConfigError, ECGPilotError

__all__ = [
    "BATCH_SCHEMA",
    "COLUMNS",
    "ENGINES",
    "MEASUREMENTS",
    "ECG_SUFFIXES",
    "expand_paths",
    "analyze_one",
    "run_batch",
    "write_parquet",
    "read_parquet",
    "compare_runs",
    "format_comparison",
    "write_comparison_csv",
    "Progress",
]

BATCH_SCHEMA = "ecgpilot.batch/1"
ENGINES: tuple[str, ...] = ("local", "ray")

#: Whole-record measurements copied into their own columns (None when not measured).
MEASUREMENTS: tuple[str, ...] = (
    "heart_rate_bpm", "rr_ms", "n_beats", "p_duration_ms", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms",
    "qtc_bazett_ms", "qtc_fridericia_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg",
)

#: Suffixes searched for in a folder given to :func:`expand_paths` (a WFDB record by its ``.hea``).
ECG_SUFFIXES: tuple[str, ...] = (".hea", ".dcm", ".scp", ".edf", ".xml", ".csv")

#: Column name → type (``str``, ``float``, ``bool``, ``int``, ``list``: a list of strings). Every
#: row has every column; a value missing for a file (an error row, no AI...) is None.
COLUMNS: dict[str, str] = {
    "file": "str", "name": "str", "sha256": "str", "format": "str",
    "ok": "bool", "error_type": "str", "error": "str",
    "quality_verdict": "str", "interpretable": "bool", "rhythm_guess": "str",
    **{m: "float" for m in MEASUREMENTS},
    "lead_matrix_json": "str",
    "statements": "list", "statements_text": "list", "urgency": "str", "urgency_text": "str",
    "ai_present": "list", "ai_probabilities_json": "str", "ai_error": "str",
    "model_version": "str", "model_sha256": "str", "rules_version": "str", "ecgpilot_version": "str",
    "lang": "str", "seconds": "float", "batch_schema": "str",
}


def expand_paths(paths: Iterable[str | Path]) -> list[str]:
    """Files to analyse, in the order given: a file or WFDB record name as is, a folder searched
    recursively (sorted) for :data:`ECG_SUFFIXES`. Duplicates are kept once."""
    out: list[str] = []
    seen: set[str] = set()
    for item in paths:
        p = Path(item)
        found = (sorted(str(q) for q in p.rglob("*") if q.suffix.lower() in ECG_SUFFIXES and q.is_file()
                        and not q.name.startswith("."))
                 if p.is_dir() else [str(item)])
        for f in found:
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out


def _empty_row(path: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(file=str(path), name=Path(path).name, ok=False, statements=[], statements_text=[], ai_present=[],
               batch_schema=BATCH_SCHEMA)
    return row


def _file_sha256(path: str) -> str | None:
    """The hash :func:`~ecgpilot.analysis.analyze_file` gives (header + signal for WFDB), or None."""
    from ecgpilot.analysis import _sha256
    from ecgpilot.io import resolve_path

    try:
        return _sha256(resolve_path(path))
    except (OSError, ECGPilotError):
        return None


def _fill(row: dict[str, Any], doc: dict[str, Any]) -> None:
    """Copy an analysis document with its reading into ``row``."""
    row["sha256"] = doc["file"]["sha256"]
    row["format"] = doc["file"]["format"]
    row["name"] = doc["file"]["name"]
    row["ecgpilot_version"] = doc.get("ecgpilot_version")
    quality = doc.get("quality") or {}
    row["quality_verdict"] = quality.get("verdict")
    row["interpretable"] = quality.get("interpretable")
    meas = doc.get("measurements") or {}
    for m in MEASUREMENTS:
        v = meas.get(m)
        row[m] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    row["rhythm_guess"] = (meas.get("rhythm") or {}).get("rhythm_guess")
    if meas.get("lead_matrix") is not None:
        row["lead_matrix_json"] = json.dumps(meas["lead_matrix"], ensure_ascii=False, sort_keys=True)
    reading = doc.get("reading") or {}
    row["rules_version"] = reading.get("rules_version")
    row["statements"] = [str(s["id"]) for s in reading.get("statements", [])]
    row["statements_text"] = [str(s.get("text", "")) for s in reading.get("statements", [])]
    urgency = reading.get("urgency") or {}
    row["urgency"] = urgency.get("level")
    row["urgency_text"] = urgency.get("text")
    ai = doc.get("ai")
    if ai:
        if "error" in ai:
            row["ai_error"] = str(ai["error"])
        row["model_version"] = ai.get("model_version")
        row["model_sha256"] = ai.get("model_sha256")
        stmts = ai.get("statements") or []
        row["ai_present"] = [f"{s['task']}:{s['code']}" for s in stmts if s.get("present")]
        row["ai_probabilities_json"] = json.dumps(
            {f"{s['task']}:{s['code']}": s.get("calibrated_probability", s.get("probability")) for s in stmts},
            sort_keys=True) if stmts else None


def analyze_one(path: str, use_ai: bool = True, lang: str = "fr") -> dict[str, Any]:
    """One row of :data:`COLUMNS` for one file; never raises (an error becomes the row's ``error``)."""
    from ecgpilot.analysis import analyze_file
    from ecgpilot.interpret import interpret

    t0 = time.perf_counter()
    row = _empty_row(path)
    row["lang"] = lang
    try:
        doc = analyze_file(Path(path), use_ai=use_ai)
        doc["reading"] = interpret(doc, lang=lang)   # the same reading as `ecgpilot analyze FILE`
        _fill(row, doc)
        row["ok"] = True
    except Exception as exc:  # noqa: BLE001 - a batch never stops on one file: the error is the row
        row["ok"] = False
        row["error_type"] = type(exc).__name__
        row["error"] = str(exc) or type(exc).__name__
        row["sha256"] = _file_sha256(path)
    row["seconds"] = round(time.perf_counter() - t0, 4)
    return row


class Progress:
    """A progress bar on a text stream (stderr): ``[#####.....] 50/100 files, 2 errors, 3.1 files/s``.

    On a terminal it redraws one line; elsewhere (a log) it prints a line at every tenth of the work.
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.done, self.errors, self.width = total, 0, 0, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self._last_tenth = -1

    def update(self, ok: bool) -> None:
        """Count one finished file and redraw."""
        self.done += 1
        self.errors += 0 if ok else 1
        tenth = (10 * self.done) // max(self.total, 1)
        if self.tty or tenth != self._last_tenth or self.done == self.total:
            self._last_tenth = tenth
            self._draw()

    def _draw(self) -> None:
        elapsed = time.perf_counter() - self.t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        filled = (self.width * self.done) // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        text = (f"[{bar}] {self.done}/{self.total} files, {self.errors} error{'s' if self.errors != 1 else ''}, "
                f"{rate:.2f} files/s, {elapsed:.0f} s elapsed, ~{left:.0f} s left")
        end = "\n" if not self.tty or self.done == self.total else ""
        self.stream.write(("\r" if self.tty else "") + text + end)
        self.stream.flush()


def _worker_init() -> None:
    """Each worker process computes on one thread (the parallelism is the processes)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def run_batch(paths: Sequence[str], *, use_ai: bool = True, lang: str = "fr", jobs: int = 1,
              engine: str = "local", ray_address: str | None = None,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Rows of :func:`analyze_one` for ``paths``, in their order.

    ``engine`` ``"local"``: ``jobs`` = 1 runs in this process, more on that many worker processes.
    ``"ray"``: one Ray task per file on the cluster at ``ray_address`` (or ``$RAY_ADDRESS``), else on
    a local Ray instance of ``jobs`` CPUs started here; the files must be readable by the workers.
    ``on_row`` is called in this process as each row arrives (e.g. :meth:`Progress.update`).
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r} is not known; accepted: {', '.join(ENGINES)}.")
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs {jobs!r} must be a whole number of at least 1.")
    if lang not in ("fr", "en"):
        raise ConfigError(f"lang {lang!r} is not known; accepted: fr, en.")
    paths = [str(p) for p in paths]
    rows: list[dict[str, Any] | None] = [None] * len(paths)

    def got(i: int, row: dict[str, Any]) -> None:
        rows[i] = row
        if on_row is not None:
            on_row(row)

    if engine == "ray":
        _run_ray(paths, use_ai, lang, jobs, ray_address, got)
    elif jobs == 1 or len(paths) <= 1:
        for i, p in enumerate(paths):
            got(i, analyze_one(p, use_ai, lang))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), initializer=_worker_init) as pool:
            futures = {pool.submit(analyze_one, p, use_ai, lang): i for i, p in enumerate(paths)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    row = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died (killed, out of memory)
                    row = _worker_lost(paths[i], lang, exc)
                got(i, row)
    return [r for r in rows if r is not None]


def _worker_lost(path: str, lang: str, exc: BaseException) -> dict[str, Any]:
    """The error row of a file whose worker process or Ray task died before returning its row."""
    row = _empty_row(path)
    row.update(lang=lang, error_type=type(exc).__name__, sha256=_file_sha256(path),
               error=f"the worker analysing this file stopped before returning a result: {exc or type(exc).__name__}")
    return row


def _run_ray(paths: list[str], use_ai: bool, lang: str, jobs: int, address: str | None,
             got: Callable[[int, dict[str, Any]], None]) -> None:
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray, which is not installed. Install the extra with: "
                          "pip install '.[scale]' (or use the default --engine local with --jobs N).") from None
    started = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": jobs}
        ray.init(**kwargs, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}})
        started = True
    try:
        task = ray.remote(num_cpus=1)(analyze_one)
        pending = {task.remote(p, use_ai, lang): i for i, p in enumerate(paths)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    row = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a task whose worker died, or a lost node
                    row = _worker_lost(paths[i], lang, exc)
                got(i, row)
    finally:
        if started:
            ray.shutdown()


# -- Parquet ------------------------------------------------------------------------------------

def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ConfigError("Parquet output needs pyarrow, which is not installed. Install the extra with: "
                          "pip install '.[batch]'") from None
    return pyarrow


def _schema(pa: Any) -> Any:
    types = {"str": pa.string(), "float": pa.float64(), "bool": pa.bool_(), "int": pa.int64(),
             "list": pa.list_(pa.string())}
    return pa.schema([(name, types[kind]) for name, kind in COLUMNS.items()],
                     metadata={"ecgpilot.batch_schema": BATCH_SCHEMA})


def write_parquet(rows: Sequence[dict[str, Any]], out: str | Path) -> Path:
    """Write ``rows`` (of :func:`analyze_one`) to a Parquet file with the :data:`COLUMNS` schema."""
    pa = _pyarrow()
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise ConfigError(f"output {str(out)!r} must end in .parquet (the batch table is written as Parquet).")
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([{k: r.get(k) for k in COLUMNS} for r in rows], schema=_schema(pa))
    tmp = out.with_name(out.name + ".part")
    pa.parquet.write_table(table, tmp)
    os.replace(tmp, out)
    return out


def read_parquet(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a batch Parquet file (as written by :func:`write_parquet`)."""
    pa = _pyarrow()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"batch result {str(p)!r} does not exist; give a .parquet file written by "
                          "'ecgpilot analyze PATHS... --out FILE.parquet'.")
    try:
        table = pa.parquet.read_table(p)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise ConfigError(f"{str(p)!r} is not a readable Parquet file: {exc}") from None
    missing = [c for c in ("sha256", "file", "urgency", "statements") if c not in table.column_names]
    if missing:
        raise ConfigError(f"{str(p)!r} lacks the batch column(s) {', '.join(missing)}: it was not written by "
                          "'ecgpilot analyze PATHS... --out'.")
    return table.to_pylist()


# -- Comparing two runs -------------------------------------------------------------------------

def _level_rank(level: str | None) -> int:
    from ecgpilot.interpret import LEVELS

    return LEVELS.index(level) if level in LEVELS else -1


def compare_runs(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Compare two batch runs record by record, matched on ``sha256``.

    Returns ``{"records": [...], "summary": {...}}``: one record per sha256 (``status`` ``matched``,
    ``only_a`` or ``only_b``) with both urgencies, the reading statements added and removed (B
    against A), the AI outputs added and removed, and errors; the summary counts them, with the
    urgency transitions and the statements most often added or removed. Rows without a hash (a file
    that could not be opened) are counted apart as ``unhashed``.
    """
    def index(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {r["sha256"]: r for r in rows if r.get("sha256")}

    ia, ib = index(a), index(b)
    records: list[dict[str, Any]] = []
    transitions: Counter[tuple[str, str]] = Counter()
    added_c: Counter[str] = Counter()
    removed_c: Counter[str] = Counter()
    n = Counter[str]()
    for sha in list(ia) + [s for s in ib if s not in ia]:
        ra, rb = ia.get(sha), ib.get(sha)
        status = "matched" if ra and rb else ("only_a" if ra else "only_b")
        n[status] += 1
        rec: dict[str, Any] = {
            "sha256": sha, "status": status,
            "file_a": ra and ra.get("file"), "file_b": rb and rb.get("file"),
            "urgency_a": ra and ra.get("urgency"), "urgency_b": rb and rb.get("urgency"),
            "error_a": ra and ra.get("error"), "error_b": rb and rb.get("error"),
            "model_version_a": ra and ra.get("model_version"), "model_version_b": rb and rb.get("model_version"),
            "rules_version_a": ra and ra.get("rules_version"), "rules_version_b": rb and rb.get("rules_version"),
            "statements_added": [], "statements_removed": [], "ai_added": [], "ai_removed": [],
            "urgency_change": "", "changed": False,
        }
        if ra and rb:
            sa, sb = list(ra.get("statements") or []), list(rb.get("statements") or [])
            xa, xb = list(ra.get("ai_present") or []), list(rb.get("ai_present") or [])
            rec["statements_added"] = [s for s in sb if s not in sa]
            rec["statements_removed"] = [s for s in sa if s not in sb]
            rec["ai_added"] = [s for s in xb if s not in xa]
            rec["ai_removed"] = [s for s in xa if s not in xb]
            ua, ub = ra.get("urgency"), rb.get("urgency")
            if ua != ub:
                ka, kb = _level_rank(ua), _level_rank(ub)
                rec["urgency_change"] = "raised" if kb > ka else "lowered" if kb < ka else "changed"
                transitions[(str(ua), str(ub))] += 1
                n[f"urgency_{rec['urgency_change']}"] += 1
            if bool(ra.get("ok")) != bool(rb.get("ok")):
                n["error_changed"] += 1
            added_c.update(rec["statements_added"])
            removed_c.update(rec["statements_removed"])
            rec["changed"] = bool(rec["urgency_change"] or rec["statements_added"] or rec["statements_removed"]
                                  or rec["ai_added"] or rec["ai_removed"] or rec["error_a"] != rec["error_b"])
            n["statements_changed"] += bool(rec["statements_added"] or rec["statements_removed"])
            n["ai_changed"] += bool(rec["ai_added"] or rec["ai_removed"])
            n["changed"] += rec["changed"]
        records.append(rec)

    def versions(rows: Sequence[dict[str, Any]], key: str) -> list[str]:
        return sorted({str(r[key]) for r in rows if r.get(key)})

    summary = {
        "rows_a": len(a), "rows_b": len(b),
        "unhashed_a": sum(1 for r in a if not r.get("sha256")), "unhashed_b": sum(1 for r in b if not r.get("sha256")),
        "errors_a": sum(1 for r in a if not r.get("ok")), "errors_b": sum(1 for r in b if not r.get("ok")),
        "matched": n["matched"], "only_a": n["only_a"], "only_b": n["only_b"],
        "changed": n["changed"], "urgency_raised": n["urgency_raised"], "urgency_lowered": n["urgency_lowered"],
        "urgency_changed_other": n["urgency_changed"], "statements_changed": n["statements_changed"],
        "ai_changed": n["ai_changed"], "error_changed": n["error_changed"],
        "urgency_transitions": {f"{x} -> {y}": c for (x, y), c in sorted(transitions.items())},
        "statements_added": dict(added_c.most_common()), "statements_removed": dict(removed_c.most_common()),
        "model_versions_a": versions(a, "model_version"), "model_versions_b": versions(b, "model_version"),
        "rules_versions_a": versions(a, "rules_version"), "rules_versions_b": versions(b, "rules_version"),
    }
    return {"records": records, "summary": summary}


def format_comparison(result: dict[str, Any], *, limit: int = 50) -> str:
    """The comparison as text: the counts, then a table of the changed records (at most ``limit``)."""
    s = result["summary"]
    lines = [
        f"A: {s['rows_a']} rows ({s['errors_a']} errors), model {', '.join(s['model_versions_a']) or '-'}, "
        f"rules {', '.join(s['rules_versions_a']) or '-'}",
        f"B: {s['rows_b']} rows ({s['errors_b']} errors), model {', '.join(s['model_versions_b']) or '-'}, "
        f"rules {', '.join(s['rules_versions_b']) or '-'}",
        f"matched on sha256: {s['matched']}; only in A: {s['only_a']}; only in B: {s['only_b']}; "
        f"without a hash: {s['unhashed_a']} in A, {s['unhashed_b']} in B",
        f"changed records: {s['changed']} (urgency raised {s['urgency_raised']}, lowered {s['urgency_lowered']}; "
        f"statements changed {s['statements_changed']}; AI outputs changed {s['ai_changed']}; "
        f"error status changed {s['error_changed']})",
    ]
    for key, title in (("urgency_transitions", "urgency A -> B"), ("statements_added", "statements added in B"),
                       ("statements_removed", "statements removed in B")):
        if s[key]:
            lines.append(f"{title}: " + ", ".join(f"{k} x{v}" for k, v in s[key].items()))
    changed = [r for r in result["records"] if r["changed"]]
    if changed:
        head = ("file", "urgency A", "urgency B", "added", "removed")
        body = [(Path(str(r["file_b"] or r["file_a"])).name, str(r["urgency_a"]), str(r["urgency_b"]),
                 ", ".join(r["statements_added"] + [f"AI {x}" for x in r["ai_added"]]) or "-",
                 ", ".join(r["statements_removed"] + [f"AI {x}" for x in r["ai_removed"]]) or "-")
                for r in changed[:limit]]
        widths = [min(40, max(len(h), *(len(row[i]) for row in body))) for i, h in enumerate(head)]
        lines.append("")
        lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join((c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(row, widths))
                  for row in body]
        if len(changed) > limit:
            lines.append(f"... and {len(changed) - limit} more changed records (all of them in --out CSV)")
    return "\n".join(lines)


def write_comparison_csv(result: dict[str, Any], out: str | Path) -> Path:
    """One CSV row per record of :func:`compare_runs` (lists joined with ``;``)."""
    import csv

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["sha256", "status", "changed", "file_a", "file_b", "urgency_a", "urgency_b", "urgency_change",
              "statements_added", "statements_removed", "ai_added", "ai_removed", "error_a", "error_b",
              "model_version_a", "model_version_b", "rules_version_a", "rules_version_b"]
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in result["records"]:
            w.writerow({k: ";".join(r[k]) if isinstance(r[k], list) else ("" if r[k] is None else r[k])
                        for k in fields})
    return out
