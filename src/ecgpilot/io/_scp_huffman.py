"""SCP-ECG section 2 and the decompression of the lead data: Huffman tables (the default table
19999 or custom ones, within the :mod:`ecgpilot.io._limits` budgets), Huffman decoding and
first/second differences. Used by :mod:`ecgpilot.io.scp`."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError
from ecgpilot.io._limits import (
    MAX_HUFFMAN_CODES,
    MAX_HUFFMAN_PREFIX_BITS,
    MAX_HUFFMAN_TABLES,
)


@dataclass(frozen=True)
class HuffmanCode:
    """One entry of a section 2 Huffman table."""

    prefix_bits: int
    total_bits: int
    mode: int  # 1: a value; 0: switch to table `value`
    value: int
    code: int  # prefix bits, most significant first


def default_huffman_table() -> list[HuffmanCode]:
    """The standard's default table (table 19999)."""
    codes = [HuffmanCode(1, 1, 1, 0, 0b0)]
    for k in range(1, 9):
        ones = (1 << (k + 1)) - 2  # k+1 bits: k ones then 0
        codes.append(HuffmanCode(k + 2, k + 2, 1, k, ones << 1))        # ...0 → +k
        codes.append(HuffmanCode(k + 2, k + 2, 1, -k, (ones << 1) | 1))  # ...1 → -k
    codes.append(HuffmanCode(10, 18, 1, 0, 0b1111111110))  # then an 8-bit value
    codes.append(HuffmanCode(10, 26, 1, 0, 0b1111111111))  # then a 16-bit value
    return codes


def _huffman_tables(data: bytes) -> list[list[HuffmanCode]]:
    """Section 2's tables, within :data:`MAX_HUFFMAN_TABLES`, :data:`MAX_HUFFMAN_CODES` (over all
    tables) and :data:`MAX_HUFFMAN_PREFIX_BITS`, checked before they are built."""
    n = struct.unpack_from("<H", data, 0)[0]
    if n == 19999:
        return [default_huffman_table()]
    if not 1 <= n <= MAX_HUFFMAN_TABLES:
        raise CorruptFileError(f"section 2 declares {n} Huffman tables; ecgpilot accepts 1 to {MAX_HUFFMAN_TABLES} "
                               "(MAX_HUFFMAN_TABLES) or 19999 (the default table).")
    tables: list[Any] = []
    off, total = 2, 0
    for _ in range(n):
        count = struct.unpack_from("<H", data, off)[0]
        off += 2
        total += count
        if total > MAX_HUFFMAN_CODES or off + 9 * count > len(data):
            raise CorruptFileError(
                f"section 2 declares {total} Huffman codes in {len(tables) + 1} table(s) "
                + (f"({len(data)} bytes cannot hold them)." if total <= MAX_HUFFMAN_CODES
                   else f"; ecgpilot accepts at most {MAX_HUFFMAN_CODES} (MAX_HUFFMAN_CODES)."))
        table = []
        for _ in range(count):
            pb, tb, mode, value, code = struct.unpack_from("<BBBhI", data, off)
            off += 9
            if not 1 <= pb <= 32 or tb < pb or (mode == 1 and tb - pb > 32):
                raise CorruptFileError(f"section 2 Huffman code with {pb} prefix bits and {tb} total bits "
                                       "is invalid (prefix 1..32 bits, total >= prefix).")
            if pb > MAX_HUFFMAN_PREFIX_BITS or (mode == 1 and tb - pb > 24):
                raise CorruptFileError(
                    f"section 2 Huffman code with {pb} prefix bits and {tb - pb} value bits: ecgpilot accepts at "
                    f"most {MAX_HUFFMAN_PREFIX_BITS} prefix bits (MAX_HUFFMAN_PREFIX_BITS; the default table's "
                    "longest is 10) and 24 value bits.")
            # The base code is stored bit-reversed: its least significant bit comes first.
            rev = int(format(code & ((1 << pb) - 1), f"0{pb}b")[::-1], 2)
            table.append(HuffmanCode(pb, tb, mode, value, rev))
        tables.append(table)
    return tables


def _bit_windows(data: bytes, width: int) -> tuple[list[int], int]:
    """For every bit position, the integer formed by the next ``width`` bits (zeros past the end)."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(np.int64)
    nbits = bits.size
    padded = np.concatenate((bits, np.zeros(width, dtype=np.int64)))
    win = np.zeros(nbits, dtype=np.int64)
    for j in range(width):
        win |= padded[j: j + nbits] << (width - 1 - j)
    return win.tolist(), nbits


def _lookup(table: list[HuffmanCode], prefix: int) -> list[HuffmanCode | None]:
    """The entry of every ``prefix``-bit value (at most 2**MAX_HUFFMAN_PREFIX_BITS entries)."""
    entries: list[HuffmanCode | None] = [None] * (1 << prefix)
    for c in table:
        first = c.code << (prefix - c.prefix_bits)
        entries[first: first + (1 << (prefix - c.prefix_bits))] = [c] * (1 << (prefix - c.prefix_bits))
    return entries


def huffman_decode(data: bytes, n: int, tables: list[list[HuffmanCode]]) -> NDArray[np.int64]:
    """Decode ``n`` integers from an SCP Huffman-coded byte string (most significant bit first).

    One lookup list per table, indexed by the next ``prefix`` bits (the longest code prefix, at
    most :data:`MAX_HUFFMAN_PREFIX_BITS`) and built when the stream first uses that table; every
    step decodes a sample or switches table by consuming at least one bit, so the work is bounded
    by ``n`` and the bits of ``data``.
    """
    if n > 8 * len(data):  # every code takes at least one bit
        raise CorruptFileError(f"Huffman data of {len(data)} bytes cannot hold {n} samples (at most one per bit).")
    prefix = max((c.prefix_bits for t in tables for c in t), default=1)
    width = max([prefix] + [c.total_bits - c.prefix_bits for t in tables for c in t if c.mode == 1])
    if prefix > MAX_HUFFMAN_PREFIX_BITS or width > 24:  # pragma: no cover - refused by _huffman_tables
        raise CorruptFileError(f"Huffman codes of {prefix} prefix bits / {width} bits are beyond the budget.")
    lookup: list[list[HuffmanCode | None] | None] = [None] * len(tables)
    win, nbits = _bit_windows(data, width)
    shift = width - prefix
    out = np.empty(n, dtype=np.int64)
    pos, k, cur = 0, 0, 0
    entries = lookup[0] = _lookup(tables[0], prefix)
    while k < n:
        if pos >= nbits:
            raise CorruptFileError(f"Huffman stream ended after {k} of {n} samples (truncated lead data).")
        hit = entries[win[pos] >> shift]
        if hit is None:
            raise CorruptFileError(f"invalid Huffman code at bit {pos} (sample {k}).")
        pos += hit.prefix_bits
        if hit.mode == 0:
            if not 1 <= hit.value <= len(tables):
                raise CorruptFileError(f"Huffman code switches to table {hit.value}; section 2 has {len(tables)}.")
            cur = hit.value - 1
            if lookup[cur] is None:
                lookup[cur] = _lookup(tables[cur], prefix)
            entries = lookup[cur]  # type: ignore[assignment]
            continue
        extra = hit.total_bits - hit.prefix_bits
        if pos + extra > nbits:
            raise CorruptFileError(f"Huffman stream ended after {k} of {n} samples (truncated lead data).")
        if extra:
            v = win[pos] >> (width - extra)
            pos += extra
            out[k] = v - (1 << extra) if v >= 1 << (extra - 1) else v
        else:
            out[k] = hit.value
        k += 1
    return out


def _undo_differences(d: NDArray[np.int64], order: int) -> NDArray[np.int64]:
    if order == 0:
        return d
    if order == 1:
        return np.cumsum(d)
    # second differences: x0 = d0, x1 = d1, x[n] = d[n] + 2 x[n-1] - x[n-2]; the first
    # differences e[n] = x[n] - x[n-1] then obey e1 = d1 - d0, e[n] = d[n] + e[n-1].
    if len(d) < 2:
        return d.copy()
    e = np.cumsum(np.concatenate(([d[1] - d[0]], d[2:])))
    return np.concatenate(([d[0]], d[0] + np.cumsum(e)))
