"""PTB-XL at 100 Hz from the packed signals in ``shared/data/ptbxl`` (see its README).

The packed ``signals100.npy.xz`` is decoded once (about a minute, ~1.5 GB of memory) into
an uncompressed int16 cache ``cache_dir()/ptbxl_signals100_uV.npy`` of shape
(n_rows, 1000, 12) in µV, leads in the standard order. A small JSON stamp beside it
records the sha256 of the source file so a changed source invalidates the cache.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import lzma
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import ConfigError, ReadError
from ecgpilot.paths import cache_dir, shared_data_dir

__all__ = ["TASKS", "PTBXL", "load_ptbxl", "decode_packed", "file_sha256"]

#: The four statement groups of ``labels.csv``, in output order.
TASKS: tuple[str, ...] = ("super_class", "sub_class", "form", "rhythm")
#: Short names used in reports.
TASK_NAMES = {"super_class": "superclass", "sub_class": "subclass", "form": "form", "rhythm": "rhythm"}

FS = 100.0
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def decode_packed(packed: NDArray[np.integer]) -> NDArray[np.int16]:
    """Undo the lossless packing of ``signals100.npy.xz``: (12, N, 1000) → (N, 1000, 12) µV."""
    p = packed.astype(np.int32)
    x = p.copy()
    for k in (0, 1, 6, 7, 8, 9, 10, 11):
        x[k] = np.cumsum(p[k], axis=1)
    i, ii = x[0], x[1]
    x[2] += ii - i
    x[3] += -((i + ii) // 2)
    x[4] += i - (ii // 2)
    x[5] += ii - (i // 2)
    return x.transpose(1, 2, 0).astype(np.int16)


@dataclass(frozen=True)
class PTBXL:
    """The labelled PTB-XL records.

    ``signals`` (n, 1000, 12) int16 µV (memory-mapped), ``ecg_id``, ``patient_id`` and
    ``fold`` per record, ``labels[task]`` a list of statement-code lists per record, and
    ``data_sha256`` = sha256 over the packed signals file and labels.csv hashes.
    """

    signals: NDArray[np.int16]
    ecg_id: NDArray[np.int64]
    patient_id: NDArray[np.int64]
    fold: NDArray[np.int64]
    labels: dict[str, list[list[str]]]
    data_sha256: str

    def __len__(self) -> int:
        return int(self.ecg_id.shape[0])

    def statements(self, task: str) -> list[str]:
        """Sorted statement codes present in ``task`` over all records."""
        if task not in TASKS:
            raise ConfigError(f"Unknown PTB-XL task {task!r}; accepted: {', '.join(TASKS)}.")
        return sorted({c for codes in self.labels[task] for c in codes})

    def targets(self, outputs: list[tuple[str, str]]) -> NDArray[np.float32]:
        """Multi-hot matrix (n, len(outputs)) for a list of (task, code) outputs."""
        y = np.zeros((len(self), len(outputs)), dtype=np.float32)
        col = {o: j for j, o in enumerate(outputs)}
        for task in TASKS:
            for i, codes in enumerate(self.labels[task]):
                for c in codes:
                    j = col.get((task, c))
                    if j is not None:
                        y[i, j] = 1.0
        return y

    def folds(self, *folds: int) -> NDArray[np.int64]:
        """Indices of the records in the given strat folds."""
        return np.flatnonzero(np.isin(self.fold, folds))


def _parse_list(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    value = ast.literal_eval(text)
    if not isinstance(value, list):
        raise ReadError(f"labels.csv: expected a list of statement codes, got {text!r}.")
    return [str(v) for v in value]


def _cached_signals(root: Path) -> tuple[NDArray[np.int16], str]:
    src = root / "signals100.npy.xz"
    if not src.exists():
        raise ReadError(f"PTB-XL packed signals not found at {src}.")
    cache = cache_dir() / "ptbxl_signals100_uV.npy"
    stamp = cache.with_suffix(".json")
    st = src.stat()
    key = {"size": st.st_size, "mtime": int(st.st_mtime)}
    if stamp.exists():
        meta = json.loads(stamp.read_text())
        if meta.get("key") == key and cache.exists():
            return np.load(cache, mmap_mode="r"), meta["sha256"]
    digest = file_sha256(src)
    if not (cache.exists() and stamp.exists() and json.loads(stamp.read_text()).get("sha256") == digest):
        with lzma.open(src) as f:
            packed = np.load(f)
        decoded = decode_packed(packed)
        del packed
        # a per-process temporary name: two processes filling the cache at once must not share it
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npy")
        np.save(tmp, decoded)
        tmp.replace(cache)
    tmp_stamp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
    tmp_stamp.write_text(json.dumps({"key": key, "sha256": digest}))
    tmp_stamp.replace(stamp)
    return np.load(cache, mmap_mode="r"), digest


def load_ptbxl(root: Path | None = None) -> PTBXL:
    """Load PTB-XL (labelled rows only) from ``root`` (default ``shared/data/ptbxl``)."""
    if root is None:
        data = shared_data_dir()
        if data is None:
            raise ReadError("Shared data folder not found; set $ECGPILOT_DATA or put it at ../shared/data.")
        root = data / "ptbxl"
    signals, sig_sha = _cached_signals(root)
    with (root / "signals100_rows.csv").open(newline="") as f:
        row_of = {int(r["ecg_id"]): int(r["row"]) for r in csv.DictReader(f)}
    rows, ecg, pat, fold = [], [], [], []
    labels: dict[str, list[list[str]]] = {t: [] for t in TASKS}
    with (root / "labels.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            eid = int(r["ecg_id"])
            if eid not in row_of:
                continue
            rows.append(row_of[eid])
            ecg.append(eid)
            pat.append(int(float(r["patient_id"])))
            fold.append(int(r["strat_fold"]))
            for t in TASKS:
                labels[t].append(_parse_list(r[t]))
    idx = np.asarray(rows)
    if np.all(np.diff(idx) == 1):
        sig = signals[idx[0]: idx[-1] + 1]
    else:
        sig = signals[idx]
    h = hashlib.sha256((sig_sha + file_sha256(root / "labels.csv")).encode()).hexdigest()
    return PTBXL(
        signals=sig,
        ecg_id=np.asarray(ecg, dtype=np.int64),
        patient_id=np.asarray(pat, dtype=np.int64),
        fold=np.asarray(fold, dtype=np.int64),
        labels=labels,
        data_sha256=h,
    )
