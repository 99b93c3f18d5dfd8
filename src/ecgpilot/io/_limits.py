"""The budgets every reader works within, and the checks that enforce them.

A reader checks a budget *before* it allocates or loops on what a file declares (a sample count, a
table size, a decoded length), so a hostile file is refused fast and in bounded memory with a
:class:`~ecgpilot.errors.CorruptFileError` (or :class:`~ecgpilot.errors.ReadError` for a file too
big to read) naming the limit and the value.

After decoding, :func:`check_plausible` refuses what no ECG amplifier produces (the rule is in its
docstring; every sample file of ``format-samples`` and every LUDB / PTB-XL record passes it, see
``benchmarks/results/fuzz.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError, ReadError

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_XML_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_SAMPLES",
    "MAX_HUFFMAN_TABLES",
    "MAX_HUFFMAN_CODES",
    "MAX_HUFFMAN_PREFIX_BITS",
    "MAX_LZW_SLACK_BYTES",
    "MAX_SAMPLES_PER_COMPRESSED_BYTE",
    "MAX_CSV_CELL_CHARS",
    "MAX_ABS_UV",
    "MAX_TYPICAL_UV",
    "MAX_SHARE_BEYOND_TYPICAL",
    "MIN_SAMPLES",
    "MIN_DURATION_S",
    "check_size",
    "read_bounded",
    "check_samples",
    "check_plausible",
]

#: Largest file any reader opens (a 24-h 12-lead Holter at 250 Hz in 16 bits is ~520 MB: such
#: files are out of scope; a resting ECG is tens of kB to a few MB; the web upload limit is 20 MB).
MAX_FILE_BYTES = 256 * 2**20
#: Largest XML document parsed into a tree (lxml holds about 5-10 bytes of memory per file byte).
MAX_XML_BYTES = 64 * 2**20
#: Largest WFDB header (``.hea``) read as text.
MAX_HEADER_BYTES = 1 * 2**20
#: Most sample values (leads x samples per lead) a record may declare, checked before the samples are
#: decoded or allocated: 12 leads x 11 min at 1 kHz, or 2 leads x 4.4 h at 250 Hz (MIT-BIH: 1.3 M);
#: 64 MB as float64, and a few seconds for the slowest decoder (SCP Huffman, ~0.5 µs a sample).
MAX_SAMPLES = 8_000_000
#: SCP-ECG section 2: most Huffman tables, most codes over all tables, longest code prefix (bits).
#: The standard's default table has 19 codes of at most 10 prefix bits; JPEG and DEFLATE cap their
#: codes at 16 and 15 bits.
MAX_HUFFMAN_TABLES = 64
MAX_HUFFMAN_CODES = 4096
MAX_HUFFMAN_PREFIX_BITS = 16
#: Philips XLI: an LZW chunk may decode to at most ``2 x samples`` bytes plus this slack (one entry),
#: and may declare at most this many samples per byte of the chunk (a flat lead of a real file: 20;
#: SCP Huffman codes hold at most 8 per byte by construction, 32 with bimodal compression).
MAX_LZW_SLACK_BYTES = 1024
MAX_SAMPLES_PER_COMPRESSED_BYTE = 64
#: CSV: longest header cell (a lead name with its unit, e.g. ``V1 (mV)``).
MAX_CSV_CELL_CHARS = 64

#: No sample of a lead may lie further than this from the lead's median (1 V: beyond the input
#: range of any ECG amplifier, DC offset included; the largest real excursion seen, a phone ECG of
#: CinC 2011 saturating at its 16-bit rail, is 181 mV).
MAX_ABS_UV = 1_000_000.0
#: ... and not *every* lead may have more than :data:`MAX_SHARE_BEYOND_TYPICAL` of its samples
#: further than this (50 mV: the largest QRS is ~10 mV). A lead off or saturated goes beyond in
#: some leads (up to 11 of 12 in CinC 2011, up to 51 % of a lead's samples); a wrong gain, unit or
#: scale for the whole file does it in all of them.
MAX_TYPICAL_UV = 50_000.0
MAX_SHARE_BEYOND_TYPICAL = 0.01
#: Shortest recording read: fewer samples, or a shorter duration, is not an ECG (the shortest real
#: file in ``format-samples``, the FDA minimal aECG example, holds 13 samples = 26 ms; the quality
#: gate then refuses anything without two beats).
MIN_SAMPLES = 10
MIN_DURATION_S = 0.02


def check_size(path: Path, limit: int = MAX_FILE_BYTES, what: str = "file") -> int:
    """The size of ``path`` in bytes; :class:`ReadError` when it exceeds ``limit``."""
    size = path.stat().st_size
    if size > limit:
        raise ReadError(
            f"{path.name!r}: the {what} holds {size:,} bytes, more than the {limit:,} bytes "
            "ecgpilot reads for one ECG (MAX_FILE_BYTES). Export a shorter recording."
        )
    return size


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES, what: str = "file") -> bytes:
    """The bytes of ``path`` after :func:`check_size` (a file growing meanwhile is cut at the limit)."""
    check_size(path, limit, what)
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ReadError(f"{path.name!r}: the {what} grew beyond {limit:,} bytes while being read.")
    return data


def check_samples(n_leads: int, n_samples: int, where: str, limit: int = MAX_SAMPLES) -> None:
    """Refuse a declared ``n_leads x n_samples`` beyond :data:`MAX_SAMPLES` (``where`` names the file)."""
    total = int(n_leads) * int(n_samples)
    if total > limit:
        raise CorruptFileError(
            f"{where}: {n_leads} lead(s) x {n_samples:,} samples = {total:,} values, more than the "
            f"{limit:,} ecgpilot decodes for one recording (MAX_SAMPLES); the file is damaged or "
            "not a resting ECG."
        )


def _amplitude_problem(signal: NDArray[np.float32], leads: tuple[str, ...]) -> str | None:
    shares: list[float] = []
    for name, row in zip(leads, signal):
        dev = np.abs(row.astype(np.float64) - np.median(row))
        worst = float(dev.max())
        if worst > MAX_ABS_UV:
            return (f"lead {name} reaches {worst:.3g} µV from its baseline, beyond the {MAX_ABS_UV:.0f} µV "
                    "(1 V, MAX_ABS_UV) no ECG amplifier exceeds")
        shares.append(float(np.count_nonzero(dev > MAX_TYPICAL_UV)) / dev.size)
    if shares and min(shares) > MAX_SHARE_BEYOND_TYPICAL:
        k = int(np.argmin(shares))
        return (f"every lead has more than {MAX_SHARE_BEYOND_TYPICAL:.0%} of its samples beyond {MAX_TYPICAL_UV:.0f} µV "
                f"(50 mV, MAX_TYPICAL_UV) from its baseline (the least, lead {leads[k]}: {shares[k]:.1%})")
    return None


def check_plausible(signal: NDArray[np.float32], fs: float, leads: tuple[str, ...], where: str) -> None:
    """Refuse a decoded recording no ECG amplifier produces.

    The rule, per lead, on the deviation from the lead's median (so a DC offset is allowed):

    * no sample beyond :data:`MAX_ABS_UV` (1 V);
    * not every lead with more than :data:`MAX_SHARE_BEYOND_TYPICAL` (1 %) of its samples beyond
      :data:`MAX_TYPICAL_UV` (50 mV);

    and the record holds at least :data:`MIN_SAMPLES` samples and :data:`MIN_DURATION_S` seconds.
    A failure is a wrong gain, unit or scale field, or a decoder fed corrupt data.
    """
    n = int(signal.shape[-1])
    if n < MIN_SAMPLES or n / fs < MIN_DURATION_S:
        raise CorruptFileError(
            f"{where}: the recording holds {n} sample(s) ({n / fs:.3g} s at {fs:g} Hz); at least "
            f"{MIN_SAMPLES} samples and {MIN_DURATION_S:g} s (MIN_SAMPLES, MIN_DURATION_S) are needed. "
            "The file is truncated or damaged; export the whole recording."
        )
    problem = _amplitude_problem(signal, leads)
    if problem is not None:
        raise CorruptFileError(
            f"{where}: {problem}. The file's gain, unit or scale fields, or its compressed samples, "
            "are wrong: export it again."
        )
