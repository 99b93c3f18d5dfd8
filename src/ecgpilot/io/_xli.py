"""Philips XLI waveform decompression (Sierra ECG XML 1.03 / 1.04 ``parsedwaveforms``).

XLI stores each lead as one chunk::

    int32 LE  n_bytes     size of the compressed payload that follows the header
    int16 LE  (unused)    observed as 1
    int16 LE  first       seed of the predictor (see :func:`undo_prediction`)
    n_bytes   payload     LZW stream, 10-bit codes, most significant bit first

The LZW output holds the 16-bit residuals split into planes: all high bytes
first, then all low bytes. The residuals are those of a second-order (linear
extrapolation) predictor, offset by 64. This is our own implementation, written
after reading the format's public description and the sierra-ecg-tools reference
reader (MIT); it is checked against a Philips-converted copy of a real file.
"""

from __future__ import annotations

import struct

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError
from ecgpilot.io._limits import MAX_LZW_SLACK_BYTES, MAX_SAMPLES_PER_COMPRESSED_BYTE

__all__ = ["lzw_decode", "unpack_planes", "undo_prediction", "decode_xli"]

CODE_BITS = 10
HEADER = struct.Struct("<ihh")


def lzw_decode(data: bytes, code_bits: int = CODE_BITS, max_out: int | None = None) -> bytes:
    """Decode an LZW stream of fixed-width codes (MSB first, 256 literal codes).

    New dictionary entries take codes 256 .. ``2**code_bits - 2``; the table then
    stops growing. A code above that (all ones) ends the stream, as does running
    out of whole codes. Raises :class:`CorruptFileError` on a code that refers to
    an entry not yet defined, and as soon as the output exceeds ``max_out`` bytes
    (a chunk of longest-entry codes expands ~800 times: the caller bounds it by
    what its samples need).
    """
    if not 1 <= code_bits <= 16:
        raise CorruptFileError(f"LZW code width {code_bits} bits is not supported (1 to 16).")
    max_code = (1 << code_bits) - 2
    table: list[bytes] = [bytes([i]) for i in range(256)]
    out = bytearray()
    prev: bytes | None = None
    acc = 0  # bit accumulator
    n_acc = 0  # number of valid bits in acc
    mask = (1 << code_bits) - 1
    for byte in data:
        acc = (acc << 8) | byte
        n_acc += 8
        if n_acc < code_bits:
            continue
        n_acc -= code_bits
        code = (acc >> n_acc) & mask
        acc &= (1 << n_acc) - 1
        if code > max_code:
            break
        if code < len(table):
            entry = table[code]
        elif code == len(table) and prev is not None:
            entry = prev + prev[:1]  # the "cScSc" case: code defined by this very step
        else:
            raise CorruptFileError(
                f"XLI/LZW stream refers to undefined code {code} (dictionary has "
                f"{len(table)} entries); the compressed waveform is corrupt."
            )
        out += entry
        if max_out is not None and len(out) > max_out:
            raise CorruptFileError(
                f"XLI/LZW chunk decodes to more than {max_out:,} bytes, the most its samples need "
                "(2 bytes a sample + MAX_LZW_SLACK_BYTES); the compressed waveform is corrupt or hostile."
            )
        if prev is not None and len(table) <= max_code:
            table.append(prev + entry[:1])
        prev = entry
    return bytes(out)


def unpack_planes(raw: bytes, n: int) -> NDArray[np.int16]:
    """The first ``n`` int16 values of a buffer holding all high bytes, then all low bytes."""
    half = len(raw) // 2
    if half < n:
        raise CorruptFileError(
            f"XLI chunk decompressed to {len(raw)} bytes; {2 * n} are needed for "
            f"{n} samples. The compressed waveform is truncated."
        )
    planes = np.frombuffer(raw, dtype=np.uint8, count=2 * half)
    high = planes[:n].astype(np.uint16)
    low = planes[half : half + n].astype(np.uint16)
    return ((high << 8) | low).view(np.int16)


def undo_prediction(residuals: NDArray[np.int16], first: int) -> NDArray[np.int64]:
    """Invert the XLI predictor.

    ``x[0]`` and ``x[1]`` are stored as is; for ``i >= 2``
    ``x[i] = 2 x[i-1] - x[i-2] - e[i]`` where ``e[2] = first`` and
    ``e[i] = residuals[i-1] - 64`` for ``i >= 3``: the second difference of the
    signal is ``-e``, so two cumulative sums rebuild it.
    """
    r = np.asarray(residuals, dtype=np.int64)
    n = r.size
    if n <= 2:
        return r.copy()
    e = np.empty(n - 2, dtype=np.int64)
    e[0] = first
    e[1:] = r[2:-1] - 64
    slope = (r[1] - r[0]) - np.cumsum(e)  # first differences x[i] - x[i-1], i >= 2
    out = np.empty(n, dtype=np.int64)
    out[:2] = r[:2]
    out[2:] = r[1] + np.cumsum(slope)
    return out


def decode_xli(payload: bytes, n_samples: int, max_leads: int | None = None) -> list[NDArray[np.int64]]:
    """Split an XLI payload into chunks and decode each into ``n_samples`` integers.

    Returns one array (raw ADC counts) per chunk, i.e. per stored lead, in file order;
    with ``max_leads``, the first ``max_leads`` chunks only (the rest is not decoded).
    """
    leads: list[NDArray[np.int64]] = []
    offset = 0
    while offset < len(payload) and (max_leads is None or len(leads) < max_leads):
        if offset + HEADER.size > len(payload):
            raise CorruptFileError(
                f"XLI data ends inside a chunk header at byte {offset} of {len(payload)}; "
                "the waveform is truncated."
            )
        size, _, first = HEADER.unpack_from(payload, offset)
        offset += HEADER.size
        if size < 0 or offset + size > len(payload):
            raise CorruptFileError(
                f"XLI chunk {len(leads) + 1} announces {size} bytes but only "
                f"{len(payload) - offset} remain; the waveform is truncated."
            )
        if n_samples > MAX_SAMPLES_PER_COMPRESSED_BYTE * size:
            raise CorruptFileError(
                f"XLI chunk {len(leads) + 1} would expand {size} bytes into {n_samples:,} samples, more than "
                f"{MAX_SAMPLES_PER_COMPRESSED_BYTE} a byte (MAX_SAMPLES_PER_COMPRESSED_BYTE); the sample count or "
                "the compressed waveform is corrupt."
            )
        raw = lzw_decode(payload[offset : offset + size], max_out=2 * n_samples + MAX_LZW_SLACK_BYTES)
        offset += size
        leads.append(undo_prediction(unpack_planes(raw, n_samples), first))
    return leads
