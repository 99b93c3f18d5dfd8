"""SCP-ECG (EN 1064 / ISO 11073-91064) reader, written from the standard's description.

Supported: record and per-section CRC-CCITT (a mismatch is a ``CorruptFileError``), section 0
(pointers), 1 (patient/acquisition/device tags), 2 (Huffman tables, default table 19999 or
custom ones), 3 (lead definitions, the standard's lead code table), 4 (QRS locations:
subtraction and protected zones), 5 (reference beat), 6 (rhythm: raw, first or second
differences, bimodal compression). Reconstruction reverses, in order: Huffman coding,
differences, bimodal decimation (linear interpolation outside protected zones) and
reference-beat subtraction. Files that break the standard's layout (some handheld devices'
"SCP" files, converters overflowing 16-bit byte counts) are refused with the reason.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import (
    MAX_HUFFMAN_CODES,
    MAX_HUFFMAN_PREFIX_BITS,
    MAX_HUFFMAN_TABLES,
    check_samples,
    read_bounded,
)
from ecgpilot.io._patient import complete_patient
from ecgpilot.leads import canonical_lead
from ecgpilot.record import ECGRecord, PatientInfo, SourceInfo

FORMAT = "scp"
DESCRIPTION = "SCP-ECG (EN 1064) file"

#: The standard's lead code table (section 3), codes 0..184, in order. A leading "d" marks a
#: derived lead; "-aVR" is the inverted aVR of the Cabrera display.
_LEAD_TABLE = (
    "unspecified I II V1 V2 V3 V4 V5 V6 V7 V2R V3R V4R V5R V6R V7R X Y Z CC5 CM5 LA RA LL "
    "fI fE fC fA fM fF fH dI dII dV1 dV2 dV3 dV4 dV5 dV6 dV7 dV2R dV3R dV4R dV5R dV6R dV7R "
    "dX dY dZ dCC5 dCM5 dLA dRA dLL dfI dfE dfC dfA dfM dfF dfH III aVR aVL aVF -aVR V8 V9 "
    "V8R V9R D A J Defib Extern A1 A2 A3 A4 dV8 dV9 dV8R dV9R dD dA dJ Chest V VR VL VF MCL "
    "MCL1 MCL2 MCL3 MCL4 MCL5 MCL6 CC CC1 CC2 CC3 CC4 CC6 CC7 CM CM1 CM2 CM3 CM4 CM6 dIII "
    "daVR daVL daVF d-aVR dChest dV dVR dVL dVF CM7 CH5 CS5 CB5 CR5 ML AB1 AB2 AB3 AB4 ES AS "
    "AI S dDefib dExtern dA1 dA2 dA3 dA4 dMCL1 dMCL2 dMCL3 dMCL4 dMCL5 dMCL6 RL CV5RL CV6LL "
    "CV6LU V10 dMCL dCC dCC1 dCC2 dCC3 dCC4 dCC6 dCC7 dCM dCM1 dCM2 dCM3 dCM4 dCM6 dCM7 dCH5 "
    "dCS5 dCB5 dCR5 dML dAB1 dAB2 dAB3 dAB4 dES dAS dAI dS dRL dCV5RL dCV6LL dCV6LU dV10"
).split()

_SEX: dict[int, Literal["M", "F", "U"]] = {1: "M", 2: "F", 0: "U", 9: "U"}


def crc_ccitt(data: bytes) -> int:
    """CRC-CCITT as EN 1064 specifies: polynomial 0x1021, initial value 0xFFFF, no reflection
    (CRC-16/CCITT-FALSE; the standard library's ``binascii.crc_hqx`` computes exactly this)."""
    return binascii.crc_hqx(data, 0xFFFF)


def sniff(head: bytes, path: Path) -> bool:
    """SCP: section 0 starts at byte 6 with ID 0, a plausible length and version."""
    if len(head) < 22:
        return False
    if head[16:22] == b"SCPECG":
        return True
    sid, slen = struct.unpack_from("<HI", head, 8)
    # Version 1.x files may leave the reserved bytes empty: require the pointer layout.
    return sid == 0 and 16 < slen < 4096 and (slen - 16) % 10 == 0 and 10 <= head[14] <= 40


@dataclass(frozen=True)
class _Section:
    sid: int
    start: int  # 0-based offset of the section header
    length: int


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


def _fail(path: Path, why: str) -> CorruptFileError:
    return CorruptFileError(f"{path.name!r} is not a readable SCP-ECG file: {why}")


def _sections(buf: bytes, path: Path) -> dict[int, _Section]:
    if len(buf) < 6 + 16:
        raise _fail(path, f"only {len(buf)} bytes, shorter than the record header.")
    crc, size = struct.unpack_from("<HI", buf, 0)
    if size != len(buf):
        zero_based = struct.unpack_from("<HII", buf, 22)[2] == 6  # section 0 pointed to at byte 6, not 7
        raise _fail(
            path,
            f"the record length field says {size} bytes but the file has {len(buf)} "
            + ("and its section pointers count bytes from 0 (the standard counts from 1): "
               if zero_based else "(truncated, padded, or ")
            + "not EN 1064 compliant"
            + ("" if zero_based else ")")
            + ". Some handheld devices write non-standard 'SCP' files; export a standard SCP-ECG "
            "or another format (PDF is not a signal) from the device software.",
        )
    if crc_ccitt(buf[2:]) != crc:
        raise _fail(path, "record CRC mismatch: the file is corrupted.")
    sid0, len0 = struct.unpack_from("<HI", buf, 8)
    if sid0 != 0:
        raise _fail(path, f"section 0 expected at byte 6, found section {sid0}.")
    sections: dict[int, _Section] = {}
    for off in range(6 + 16, min(6 + len0, len(buf) - 9), 10):
        sid, length, index = struct.unpack_from("<HII", buf, off)
        if length == 0 or index == 0:
            continue
        start = index - 1
        if start < 0 or start + length > len(buf) or length < 16:
            raise _fail(path, f"section {sid} pointer (byte {index}, {length} bytes) is outside the file.")
        hid, hlen = struct.unpack_from("<HI", buf, start + 2)
        if hid != sid or hlen != length:
            raise _fail(path, f"section {sid}'s header says id {hid}, length {hlen}: pointers are inconsistent.")
        scrc = struct.unpack_from("<H", buf, start)[0]
        if crc_ccitt(buf[start + 2: start + length]) != scrc:
            raise _fail(path, f"section {sid} CRC mismatch: the file is corrupted.")
        sections[sid] = _Section(sid, start, length)
    for need in (3, 6):
        if need not in sections:
            raise _fail(path, f"section {need} ({'lead definitions' if need == 3 else 'rhythm data'}) is missing.")
    return sections


def _body(buf: bytes, s: _Section) -> bytes:
    return buf[s.start + 16: s.start + s.length]


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


def _text(value: bytes) -> str | None:
    s = value.split(b"\x00", 1)[0].decode("latin-1")
    s = "".join(ch for ch in s if ch.isprintable()).strip()  # some writers leave control bytes
    return s or None


def _header(data: bytes) -> dict[int, bytes]:
    tags: dict[int, bytes] = {}
    off = 0
    while off + 3 <= len(data):
        tag, length = struct.unpack_from("<BH", data, off)
        off += 3
        if tag == 255:
            break
        tags.setdefault(tag, data[off: off + length])
        off += length
    return tags


# Section 1 unit codes (tags 4, 6, 7) -> factor to years / cm / kg; 0 = unspecified, taken as
# the usual unit.
_AGE_YEARS = {0: 1.0, 1: 1.0, 2: 1 / 12, 3: 7 / 365.25, 4: 1 / 365.25, 5: 1 / 8766}
_HEIGHT_CM = {0: 1.0, 1: 1.0, 2: 2.54, 3: 0.1}
_WEIGHT_KG = {0: 1.0, 1: 1.0, 2: 0.001, 3: 0.45359237, 4: 0.028349523}


def _quantity(raw: bytes | None, units: dict[int, float]) -> float | None:
    """A 16-bit value followed by a unit code; None when absent, zero or in an unknown unit."""
    if raw is None or len(raw) < 3:
        return None
    value, unit = struct.unpack_from("<HB", raw)
    return round(value * units[unit], 3) if value and unit in units else None


def _patient_and_device(tags: dict[int, bytes]) -> tuple[PatientInfo, datetime | None, dict[str, Any]]:
    birth = None
    if 5 in tags and len(tags[5]) >= 4:
        y, m, d = struct.unpack_from("<HBB", tags[5])
        if y and m and d:
            try:
                birth = date(y, m, d)
            except ValueError:
                birth = None
    age = _quantity(tags.get(4), _AGE_YEARS)
    sex = _SEX.get(tags[8][0]) if 8 in tags and tags[8] else None
    height = _quantity(tags.get(6), _HEIGHT_CM)
    weight = _quantity(tags.get(7), _WEIGHT_KG)
    patient = PatientInfo(
        patient_id=_text(tags[2]) if 2 in tags else None,
        family_name=_text(tags[0]) if 0 in tags else None,
        given_name=_text(tags[1]) if 1 in tags else None,
        birth_date=birth, sex=sex, age_years=age,
        height_cm=height, weight_kg=weight,
    )
    start = None
    acquired: date | None = None
    if 25 in tags and len(tags[25]) >= 4:
        y, m, d = struct.unpack_from("<HBB", tags[25])
        try:
            acquired = date(y, m, d)
        except ValueError:
            acquired = None
    if acquired is not None and 26 in tags and len(tags[26]) >= 3:
        hh, mm, ss = struct.unpack_from("<BBB", tags[26])
        try:
            start = datetime(acquired.year, acquired.month, acquired.day, hh, mm, ss)
        except ValueError:
            start = None
    patient = complete_patient(patient, acquired)  # tag 4 age, else from tag 5 birth date
    device: dict[str, Any] = {}
    if 14 in tags and len(tags[14]) >= 18:
        t = tags[14]
        device["model"] = _text(t[8:14])
        # After 35 fixed bytes: the analysing program revision (1 length byte + text), then
        # null-terminated strings: serial number, system software, SCP software, manufacturer.
        if len(t) > 35:
            n_rev = t[35]
            strings = [_text(x) for x in t[36 + n_rev:].split(b"\x00")]
            if len(strings) >= 4:
                device["serial"] = strings[0]
                device["manufacturer"] = strings[3]
    return patient, start, device



def _values(xs: list[int] | tuple[int, ...]) -> str:
    u = sorted(set(xs))
    return str(u[0]) if len(u) == 1 else str(u)


def lead_name(code: int) -> str:
    """The standard's name for an SCP lead code (section 3), e.g. 61 -> ``'III'``."""
    if not 0 <= code < len(_LEAD_TABLE):
        raise CorruptFileError(f"SCP lead code {code} is outside the standard's table (0..{len(_LEAD_TABLE) - 1}).")
    return _LEAD_TABLE[code]


def _canonical(code: int) -> tuple[str | None, float]:
    """(canonical lead name or None when ecgpilot has no such lead, sign)."""
    name = lead_name(code)
    sign = 1.0
    if name.startswith("d"):
        name = name[1:]  # a derived lead is still that lead
    if name.startswith("-"):
        name, sign = name[1:], -1.0
    try:
        return canonical_lead(name), sign
    except RecordError:
        return None, sign


@dataclass(frozen=True)
class QRSLocations:
    """Section 4: reference-beat subtraction zones and protected zones (1-based sample numbers)."""

    reference_length_ms: int
    reference_fiducial: int  # sample number of the fiducial point inside the reference beat
    zones: tuple[tuple[int, int, int, int], ...]  # (beat type, start, fiducial, end)
    protected: tuple[tuple[int, int], ...]  # (start, end)


def _qrs_locations(data: bytes, path: Path) -> QRSLocations:
    if len(data) < 6:
        raise _fail(path, "section 4 is shorter than its 6-byte header.")
    length_ms, fid, n = struct.unpack_from("<HHH", data, 0)
    if 6 + 14 * n > len(data):
        raise _fail(path, f"section 4 declares {n} QRS complexes but holds {len(data) - 6} bytes.")
    zones = tuple(struct.unpack_from("<HIII", data, 6 + 14 * k) for k in range(n))
    off = 6 + 14 * n
    protected = tuple(struct.unpack_from("<II", data, off + 8 * k) for k in range(n)) if off + 8 * n <= len(data) else ()
    return QRSLocations(length_ms, fid, zones, protected)


def _bimodal_positions(start: int, end: int, protected: tuple[tuple[int, int], ...], rate: int) -> NDArray[np.float64]:
    """Full-rate positions of the samples stored with bimodal compression.

    Inside a protected zone every sample is stored; elsewhere one sample stands for a block of
    ``rate`` samples (cut short at a protected zone or the lead end) and is placed at the block centre.
    """
    zones = sorted((a, b) for a, b in protected if b >= a)
    pos: list[float] = []
    p, zi = start, 0
    while p <= end:
        while zi < len(zones) and zones[zi][1] < p:
            zi += 1
        if zi < len(zones) and zones[zi][0] <= p:
            pos.append(float(p))
            p += 1
        else:
            nxt = zones[zi][0] if zi < len(zones) else end + 1
            width = min(rate, nxt - p)
            pos.append(p + (width - 1) / 2.0)
            p += width
    return np.asarray(pos)


@dataclass(frozen=True)
class _Stream:
    """Header of section 5 or 6: amplitude unit, sample interval, encoding, byte counts."""

    avm_nv: int
    interval_us: int
    diff: int
    bimodal: int
    lengths: tuple[int, ...]
    offset: int


def _stream(data: bytes, n_leads: int, sid: int, path: Path) -> _Stream:
    if len(data) < 6 + 2 * n_leads:
        raise _fail(path, f"section {sid} is too short for its header ({n_leads} leads).")
    avm, interval, diff, bimodal = struct.unpack_from("<HHBB", data, 0)
    lengths = struct.unpack_from(f"<{n_leads}H", data, 6)
    if avm == 0 or interval == 0:
        raise _fail(path, f"section {sid} amplitude unit {avm} nV / sample interval {interval} µs must be > 0.")
    if diff not in (0, 1, 2):
        raise _fail(path, f"section {sid} difference encoding {diff} (accepted: 0, 1, 2).")
    off = 6 + 2 * n_leads
    if off + sum(lengths) > len(data):
        raise _fail(path, f"section {sid} lead data run past the end of the section (truncated).")
    return _Stream(avm, interval, diff, bimodal if sid == 6 else 0, lengths, off)


def _decode_leads(data: bytes, st: _Stream, counts: list[int], tables: list[list[HuffmanCode]] | None,
                  names: list[str], path: Path) -> list[NDArray[np.float64]]:
    """Decode each lead's integers (Huffman or raw 16-bit), undo differences, scale to µV."""
    out, off = [], st.offset
    for k, (ln, n) in enumerate(zip(st.lengths, counts)):
        chunk = data[off: off + ln]
        off += ln
        if tables is not None:
            d = huffman_decode(chunk, n, tables)
        else:
            if ln < 2 * n:
                raise _fail(path, f"lead {names[k]} has {ln} bytes for {n} 16-bit samples (truncated).")
            d = np.frombuffer(chunk[: 2 * n], dtype="<i2").astype(np.int64)
        out.append(np.asarray(_undo_differences(d, st.diff) * (st.avm_nv / 1000.0), dtype=np.float64))
    return out


@dataclass(frozen=True)
class _Leads:
    codes: list[int]
    spans: list[tuple[int, int]]
    subtraction: bool


def _lead_definitions(data: bytes, path: Path) -> _Leads:
    n_leads, flags = data[0], data[1]
    if n_leads == 0:
        raise _fail(path, "section 3 declares 0 leads.")
    if len(data) < 2 + 9 * n_leads:
        raise _fail(path, f"section 3 declares {n_leads} leads but holds {len(data) - 2} bytes.")
    codes, spans = [], []
    for k in range(n_leads):
        start, end, code = struct.unpack_from("<IIB", data, 2 + 9 * k)
        lead_name(code)
        if end < start:
            raise _fail(path, f"lead {k + 1} ends (sample {end}) before it starts (sample {start}).")
        codes.append(code)
        spans.append((start, end))
    return _Leads(codes, spans, bool(flags & 0x01))


def reference_beats(path: Path) -> tuple[tuple[str, ...], float, NDArray[np.float32]]:
    """Section 5 (reference beat, one per lead): lead names as the standard spells them, fs, µV."""
    buf = read_bounded(Path(path))
    sec = _sections(buf, Path(path))
    if 5 not in sec:
        raise UnsupportedFormatError(f"{Path(path).name!r} has no section 5 (reference beat).")
    leads = _lead_definitions(_body(buf, sec[3]), Path(path))
    beats, st = _reference_beats(buf, sec, leads, Path(path))
    return tuple(lead_name(c) for c in leads.codes), 1e6 / st.interval_us, np.asarray(beats, dtype=np.float32)


def _reference_beats(buf: bytes, sec: dict[int, _Section], leads: _Leads,
                     path: Path) -> tuple[list[NDArray[np.float64]], _Stream]:
    s5 = _body(buf, sec[5])
    st = _stream(s5, len(leads.codes), 5, path)
    length_ms = _qrs_locations(_body(buf, sec[4]), path).reference_length_ms if 4 in sec else 0
    tables = _huffman_tables(_body(buf, sec[2])) if 2 in sec else None
    if length_ms:
        n = int(round(length_ms * 1000 / st.interval_us))
    elif tables is None:
        n = min(st.lengths) // 2
    else:
        raise _fail(path, "section 5 is Huffman coded but section 4 gives no reference beat length.")
    names = [lead_name(c) for c in leads.codes]
    return _decode_leads(s5, st, [n] * len(leads.codes), tables, names, path), st


def read(path: Path) -> ECGRecord:
    """Read an SCP-ECG file (signal in µV).

    Reverses, in order: Huffman coding (section 2), first/second differences, bimodal
    compression (linear interpolation outside the protected zones of section 4) and
    reference-beat subtraction (section 5 beat added back in the section 4 zones).
    """
    path = Path(path)
    try:
        return _read(path)
    except struct.error as exc:  # a field runs past the end of its section
        raise _fail(path, f"a section is shorter than its own fields say ({exc}).") from exc
    except CorruptFileError as exc:  # from a helper that does not know the file's name
        if repr(path.name) in str(exc):
            raise
        raise _fail(path, str(exc)) from exc


def _read(path: Path) -> ECGRecord:
    buf = read_bounded(path)
    sec = _sections(buf, path)
    leads = _lead_definitions(_body(buf, sec[3]), path)
    n_leads = len(leads.codes)
    names = [lead_name(c) for c in leads.codes]
    s6 = _body(buf, sec[6])
    st = _stream(s6, n_leads, 6, path)
    tables = _huffman_tables(_body(buf, sec[2])) if 2 in sec else None
    spans = list(leads.spans)

    zero_based = False
    if tables is None and not st.bimodal and spans[0][0] == 0 and all(
        ln == 2 * (e - s) for ln, (s, e) in zip(st.lengths, spans)
    ):
        # EN 1064 numbers samples from 1; some writers use 0 with an exclusive end.
        spans = [(s + 1, e) for s, e in spans]
        zero_based = True
    n_full = [e - s + 1 for s, e in spans]
    if tables is None and not st.bimodal and any(ln != 2 * n for ln, n in zip(st.lengths, n_full)):
        raise _fail(
            path,
            f"section 3 declares {_values(n_full)} samples per lead but section 6 stores "
            f"{_values(st.lengths)} bytes per lead, not 2 bytes a sample"
            + (" (its 16-bit length fields cannot hold more than 65535 bytes: the file was written by a "
               "non-compliant converter and the recording is cut)." if max(st.lengths) >= 65534
               else " (inconsistent or truncated lead data)."),
        )

    check_samples(n_leads, max(n_full), f"{path.name!r} (SCP-ECG section 3)")
    rate_max = 4 if st.bimodal else 1
    for k, n in enumerate(n_full):  # every stored sample takes at least one bit
        if n > 8 * rate_max * st.lengths[k]:
            raise _fail(path, f"lead {names[k]} declares {n} samples but its {st.lengths[k]} bytes "
                              "cannot hold them (corrupted section 3 or 6).")
    qrs = _qrs_locations(_body(buf, sec[4]), path) if 4 in sec else None
    fs_interval = st.interval_us
    positions: list[NDArray[np.float64]] | None = None
    if st.bimodal:
        if qrs is None or 5 not in sec:
            raise _fail(path, "bimodal compression is flagged but section 4 or 5 is missing.")
        interval5 = struct.unpack_from("<H", _body(buf, sec[5]), 2)[0]
        if interval5 == 0 or st.interval_us % interval5 or not 1 <= st.interval_us // interval5 <= 4:
            raise _fail(path, f"bimodal compression needs a section 6 interval ({st.interval_us} µs) that is "
                              f"1 to 4 times the section 5 interval ({interval5} µs).")
        rate = st.interval_us // interval5
        fs_interval = interval5
        positions = [_bimodal_positions(s, e, qrs.protected, rate) for s, e in spans]
        counts = [len(p) for p in positions]
    else:
        counts = n_full
    decoded = _decode_leads(s6, st, counts, tables, names, path)
    if positions is not None:
        decoded = [np.interp(np.arange(s, e + 1), pos, d) for (s, e), pos, d in zip(spans, positions, decoded)]

    if leads.subtraction:
        if qrs is None or 5 not in sec:
            raise _fail(path, "reference-beat subtraction is flagged but section 4 or 5 is missing.")
        beats, st5 = _reference_beats(buf, sec, leads, path)
        if st5.interval_us != fs_interval:
            raise UnsupportedFormatError(
                f"{path.name!r}: reference beat sampled every {st5.interval_us} µs but rhythm every "
                f"{fs_interval} µs without bimodal compression; ecgpilot cannot add them back.")
        for k, ((s, _e), beat) in enumerate(zip(spans, beats)):
            decoded[k] = _add_reference_beat(decoded[k], s, beat, qrs)

    length = {len(d) for d in decoded}
    first = {s for s, _ in spans}
    if len(length) != 1 or len(first) != 1:
        raise UnsupportedFormatError(
            f"{path.name!r}: leads of different lengths or start samples ({sorted(length)} samples from "
            f"{sorted(first)}) are not supported.")

    keep, canon, dropped = [], [], []
    for k, code in enumerate(leads.codes):
        name, sign = _canonical(code)
        if name is None or name in canon:
            dropped.append(names[k])
            continue
        keep.append(decoded[k] * sign)
        canon.append(name)
    if not keep:
        raise UnsupportedFormatError(
            f"{path.name!r}: none of its leads ({', '.join(names)}) is a lead ecgpilot knows "
            "(12-lead, V7-V9, V3R-V6R, X/Y/Z).")

    tags = _header(_body(buf, sec[1])) if 1 in sec else {}
    patient, start, device = _patient_and_device(tags)
    source = SourceInfo(
        format=FORMAT, path=str(path), manufacturer=device.get("manufacturer"), device=device.get("model"),
        description=DESCRIPTION,
        device_measurements=global_measurements(_body(buf, sec[7])) if 7 in sec else {},
        device_statements=interpretation_statements(_body(buf, sec[8])) if 8 in sec else (),
        extra={"scp_version": buf[sec[3].start + 8], "amplitude_unit_nV": st.avm_nv,
               "difference_encoding": st.diff, "huffman": tables is not None, "sections": sorted(sec),
               "bimodal": bool(st.bimodal), "reference_beat_subtraction": leads.subtraction,
               "zero_based_sample_numbers": zero_based, "dropped_leads": dropped,
               "scp_lead_codes": leads.codes, "crc": "verified"},
    )
    return ECGRecord(signal=np.stack(keep), fs=1e6 / fs_interval, leads=tuple(canon), start_time=start,
                     source=source, patient=patient)


def global_measurements(data: bytes) -> dict[str, float]:
    """Section 7, first measurement block (the reference beat): intervals in ms, axes in degrees.

    Fiducials are stored in ms from the start of the reference beat; 29999 marks "not computed"
    and an axis of 999 "undetermined". PR, QRS and QT are differences of those fiducials.
    """
    if len(data) < 22:
        return {}
    rr, pp = struct.unpack_from("<HH", data, 2)
    p_on, p_off, q_on, q_off, t_off = struct.unpack_from("<5H", data, 6)
    axes = struct.unpack_from("<3h", data, 16)
    out: dict[str, float] = {}

    def ok(*v: int) -> bool:
        return all(0 <= x < 29999 for x in v)

    if ok(rr) and rr > 0:
        out["heart_rate_bpm"] = round(60000.0 / rr, 1)
        out["rr_ms"] = float(rr)
    if ok(pp) and pp > 0:
        out["atrial_rate_bpm"] = round(60000.0 / pp, 1)
    if ok(p_on, q_on) and q_on > p_on:
        out["pr_ms"] = float(q_on - p_on)
    if ok(q_on, q_off) and q_off > q_on:
        out["qrs_ms"] = float(q_off - q_on)
    if ok(q_on, t_off) and t_off > q_on:
        out["qt_ms"] = float(t_off - q_on)
    for key, value in zip(("p_axis_deg", "qrs_axis_deg", "t_axis_deg"), axes):
        if -180 <= value <= 360:
            out[key] = float(value)
    return out


def interpretation_statements(data: bytes) -> tuple[str, ...]:
    """Section 8: the device's interpretation statements, in their stored order.

    Layout: report type (1 byte), date (4), time (3), statement count (1), then per statement a
    sequence number (1), a byte length (2) and null-terminated text (lines may be split by CR/LF).
    """
    if len(data) < 9:
        return ()
    count, off, out = data[8], 9, []
    for _ in range(count):
        if off + 3 > len(data):
            break
        length = struct.unpack_from("<H", data, off + 1)[0]
        text = _text(data[off + 3: off + 3 + length].replace(b"\r", b" ").replace(b"\n", b" "))
        if text:
            out.append(" ".join(text.split()))
        off += 3 + length
    return tuple(out)


def _add_reference_beat(residual: NDArray[np.float64], lead_start: int, beat: NDArray[np.float64],
                        qrs: QRSLocations) -> NDArray[np.float64]:
    """Add the reference beat back over every type-0 subtraction zone (sample numbers are 1-based)."""
    out = residual.copy()
    for beat_type, zs, fid, ze in qrs.zones:
        if beat_type != 0:
            continue
        i0 = zs - lead_start  # 0-based index in the lead
        m0 = qrs.reference_fiducial - fid + zs - 1  # 0-based index in the reference beat
        n = min(ze - zs + 1, len(beat) - m0, len(out) - i0)
        if i0 < 0 or m0 < 0 or n <= 0:
            continue
        out[i0: i0 + n] += beat[m0: m0 + n]
    return out
