"""WFDB signal files → digital samples, without the ``wfdb`` package.

Storage formats of the WFDB ``signal(5)`` page: 8 (first differences), 16, 61 (big-endian 16),
80 (8-bit offset binary), 160 (16-bit offset binary), 212 (two 12-bit samples in 3 bytes), 24, 32,
310 and 311 (three 10-bit samples in 4 bytes). Samples are laid out frame after frame; a signal
with ``k`` samples per frame is returned as the mean of its ``k`` samples, truncated toward zero,
and a skewed signal is shifted by its skew, its last samples then missing: both as the ``wfdb``
package does (``rdrecord(..., smooth_frames=True)``), so the values are the same sample for sample.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError, UnsupportedFormatError
from ecgpilot.io._wfdb_header import WfdbHeader, WfdbSignal

__all__ = ["FORMATS", "INVALID", "bytes_needed", "read_digital", "decode"]

#: Supported storage formats → the digital value that marks a missing sample (None: format 8 has none).
INVALID: dict[int, int | None] = {
    8: None, 16: -(2**15), 61: -(2**15), 80: -(2**7), 160: -(2**15), 212: -(2**11),
    24: -(2**23), 32: -(2**31), 310: -(2**9), 311: -(2**9),
}
FORMATS = tuple(sorted(INVALID))
_PLAIN: dict[int, str] = {8: "i1", 16: "<i2", 61: ">i2", 80: "u1", 160: "<u2", 32: "<i4"}


def bytes_needed(fmt: int, n: int) -> int:
    """Bytes that hold ``n`` samples (all signals of a file, frame after frame) in format ``fmt``."""
    if fmt == 212:
        return math.ceil(n * 3 / 2)
    if fmt == 310 and n % 3 == 2:
        return 4 * math.ceil(n / 3)  # the 2nd sample of a group ends in the group's 4th byte
    if fmt in (310, 311):
        return math.ceil(n * 4 / 3)
    if fmt == 24:
        return 3 * n
    return n * np.dtype(_PLAIN[fmt]).itemsize


def decode(data: bytes, fmt: int, n: int) -> NDArray[np.int64]:
    """The first ``n`` samples held in ``data`` (at least :func:`bytes_needed` bytes), as int64.

    Format 8 is returned as the stored differences (see :func:`read_digital`)."""
    if fmt in _PLAIN:
        out = np.frombuffer(data, dtype=_PLAIN[fmt], count=n).astype(np.int64)
        if fmt == 80:
            out -= 128
        elif fmt == 160:
            out -= 32768
        return out
    if fmt == 24:
        b = np.frombuffer(data, dtype=np.uint8, count=3 * n).reshape(n, 3).astype(np.int64)
        out = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        out[out >= 2**23] -= 2**24
        return out
    if fmt == 212:
        groups = (n + 1) // 2
        raw = np.frombuffer(data[: bytes_needed(212, n)].ljust(3 * groups, b"\0"), dtype=np.uint8)
        b = raw.reshape(groups, 3).astype(np.int64)
        pairs = np.stack([b[:, 0] | ((b[:, 1] & 0x0F) << 8), b[:, 2] | ((b[:, 1] & 0xF0) << 4)], axis=1)
        out = pairs.reshape(-1)[:n]
        out[out >= 2048] -= 4096
        return out
    if fmt in (310, 311):
        groups = (n + 2) // 3
        raw = np.frombuffer(data[: bytes_needed(fmt, n)].ljust(4 * groups, b"\0"), dtype=np.uint8)
        b = raw.reshape(groups, 4).astype(np.int64)
        if fmt == 310:  # 7 high bits of bytes 0 and 2 + 3 low bits of bytes 1 and 3; 5+5 high bits of 1 and 3
            trio = [(b[:, 0] >> 1) | ((b[:, 1] & 0x07) << 7), (b[:, 2] >> 1) | ((b[:, 3] & 0x07) << 7),
                    (b[:, 1] >> 3) | ((b[:, 3] >> 3) << 5)]
        else:  # 311: 10 bits, then 10, then 10, from the least significant bit of a little-endian word
            trio = [b[:, 0] | ((b[:, 1] & 0x03) << 8), (b[:, 1] >> 2) | ((b[:, 2] & 0x0F) << 6),
                    (b[:, 2] >> 4) | ((b[:, 3] & 0x3F) << 4)]
        out = np.stack(trio, axis=1).reshape(-1)[:n]
        out[out >= 512] -= 1024
        return out
    raise UnsupportedFormatError(f"WFDB storage format {fmt} is not supported; supported: {', '.join(map(str, FORMATS))}.")


def _file_groups(header: WfdbHeader) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(header.signals):
        groups.setdefault(s.file_name, []).append(i)
    return groups


def file_layout(header: WfdbHeader, hea: Path) -> dict[str, tuple[int, int, int]]:
    """Signal file → (format, byte offset, bytes needed for the header's samples), checked.

    The signals of one file must share a format (``signal(5)``); the byte offset is the first
    signal's, as in the ``wfdb`` package."""
    out: dict[str, tuple[int, int, int]] = {}
    for name, idx in _file_groups(header).items():
        sigs = [header.signals[i] for i in idx]
        fmts = sorted({s.fmt for s in sigs})
        unknown = [f for f in fmts if f not in INVALID]
        if unknown:
            raise UnsupportedFormatError(
                f"{hea.name!r}: WFDB storage format {unknown[0]} is not supported; "
                f"supported: {', '.join(map(str, FORMATS))}."
            )
        if len(fmts) > 1:
            raise CorruptFileError(
                f"{hea.name!r}: the signals stored in {name!r} have the formats {fmts}; "
                "the signals of one file share one format."
            )
        frame = sum(s.samples_per_frame for s in sigs)
        out[name] = (fmts[0], sigs[0].byte_offset, sigs[0].byte_offset + bytes_needed(fmts[0], header.n_samples * frame))
    return out


def _read_file(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(size)
    if len(data) < size:
        raise CorruptFileError(f"{path.name!r}: {len(data)} bytes after offset {offset}, {size} needed: the file is truncated.")
    return data


def read_digital(header: WfdbHeader, folder: Path, channels: list[int]) -> tuple[NDArray[np.int64], list[NDArray[np.int64]]]:
    """Digital samples (len(channels), n_samples) of the signals ``channels`` of a record in ``folder``,
    and each one's samples as stored (every sample of every frame, before averaging) for its checksum.

    Missing samples keep the format's invalid value (:data:`INVALID`); the caller refuses them."""
    n = header.n_samples
    out = np.empty((len(channels), n), dtype=np.int64)
    stored: list[NDArray[np.int64]] = [np.empty(0, np.int64)] * len(channels)
    wanted = set(channels)
    for name, idx in _file_groups(header).items():
        if not wanted.intersection(idx):
            continue
        sigs = [header.signals[i] for i in idx]
        fmt, offset = sigs[0].fmt, sigs[0].byte_offset
        spf = [s.samples_per_frame for s in sigs]
        frame = sum(spf)
        flat = decode(_read_file(folder / name, offset, bytes_needed(fmt, n * frame)), fmt, n * frame)
        frames = flat.reshape(n, frame)
        start = 0
        for i, s, k in zip(idx, sigs, spf):
            samples = frames[:, start : start + k]
            start += k
            if i not in wanted:
                continue
            if fmt == 8:  # first differences from the header's initial value
                if s.init_value is None:
                    raise CorruptFileError(
                        f"signal {s.description or i + 1!r} is stored as WFDB format 8 (first differences) "
                        "but its header line gives no initial value."
                    )
                samples = (np.cumsum(samples.reshape(-1)) + s.init_value).reshape(n, k)
            row = channels.index(i)
            stored[row] = samples.reshape(-1).copy()
            values = samples[:, 0].copy() if k == 1 else (samples.sum(axis=1) / k).astype(np.int64)
            if s.skew:
                values[: n - s.skew] = values[s.skew :]
                missing = INVALID[fmt]
                values[max(n - s.skew, 0) :] = 0 if missing is None else missing
            out[row] = values
    return out, stored


def physical(digital: NDArray[np.int64], signals: list[WfdbSignal]) -> NDArray[np.float64]:
    """(digital - baseline) / gain per row, in the header's physical units; missing samples are NaN."""
    p = digital.astype(np.float64)
    for row, s in enumerate(signals):
        p[row] = (p[row] - s.baseline) / s.gain
        bad = INVALID[s.fmt]
        if bad is not None:
            p[row][digital[row] == bad] = np.nan
    return p
