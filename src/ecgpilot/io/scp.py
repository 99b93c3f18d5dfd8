"""SCP-ECG (EN 1064 / ISO 11073-91064) reader, written from the standard's description.

Supported: sections 0 (pointers), 1 (header tags), 2 (Huffman tables, including the
default table 19999), 3 (lead definitions), 6 (rhythm data: raw, first or second
differences, any Huffman table); CRC-CCITT of the record and of each section is
verified. Refused with a clear reason: bimodal compression and reference-beat
subtraction (section 4/5 residuals), and files that do not follow the standard's
layout (e.g. some handheld devices' "SCP" files).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError, UnsupportedFormatError
from ecgpilot.record import ECGRecord, PatientInfo, SourceInfo

FORMAT = "scp"
DESCRIPTION = "SCP-ECG (EN 1064) file"

#: SCP lead codes (section 3) → canonical names; the standard's table, common part.
LEAD_CODES: dict[int, str] = {
    1: "I", 2: "II", 3: "V1", 4: "V2", 5: "V3", 6: "V4", 7: "V5", 8: "V6",
    9: "V7", 11: "V3R", 12: "V4R", 13: "V5R", 14: "V6R", 61: "III", 62: "aVR",
    63: "aVL", 64: "aVF", 16: "X", 17: "Y", 18: "Z", 86: "V8", 87: "V9",
}

_SEX = {1: "M", 2: "F", 0: "U", 9: "U"}


def crc_ccitt(data: bytes) -> int:
    """CRC-CCITT (polynomial 0x1021, initial 0xFFFF), as EN 1064 specifies."""
    crc = 0xFFFF
    table = _crc_table()
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


_TABLE: list[int] = []


def _crc_table() -> list[int]:
    if not _TABLE:
        for i in range(256):
            c = i << 8
            for _ in range(8):
                c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
            _TABLE.append(c & 0xFFFF)
    return _TABLE


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
        raise _fail(
            path,
            f"the record length field says {size} bytes but the file has {len(buf)} "
            "(truncated, padded, or not EN 1064 compliant: some handheld devices write "
            "non-standard 'SCP' files; export a standard SCP-ECG, PDF-free, from the device software).",
        )
    if crc_ccitt(buf[2:]) != crc:
        raise _fail(path, "record CRC mismatch: the file is corrupted.")
    sid0, len0 = struct.unpack_from("<HI", buf, 8)
    if sid0 != 0:
        raise _fail(path, f"section 0 expected at byte 6, found section {sid0}.")
    sections: dict[int, _Section] = {}
    for off in range(6 + 16, 6 + len0, 10):
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
    n = struct.unpack_from("<H", data, 0)[0]
    if n == 19999:
        return [default_huffman_table()]
    tables, off = [], 2
    for _ in range(n):
        count = struct.unpack_from("<H", data, off)[0]
        off += 2
        table = []
        for _ in range(count):
            pb, tb, mode, value, code = struct.unpack_from("<BBBhI", data, off)
            off += 9
            # The base code is stored with its bits in reverse order.
            rev = int(f"{code:032b}"[::-1][:pb][::-1], 2) if pb else 0
            rev = int(format(rev, f"0{pb}b")[::-1], 2) if pb else 0
            table.append(HuffmanCode(pb, tb, mode, value, rev))
        tables.append(table)
    return tables


def huffman_decode(data: bytes, n: int, tables: list[list[HuffmanCode]]) -> NDArray[np.int64]:
    """Decode ``n`` integers from an SCP Huffman-coded byte string."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    lookup = [{(c.prefix_bits, c.code): c for c in t} for t in tables]
    out = np.empty(n, dtype=np.int64)
    pos, k, cur = 0, 0, 0
    max_len = max(c.prefix_bits for t in tables for c in t)
    nbits = bits.size
    while k < n:
        code, length = 0, 0
        while True:
            if pos >= nbits:
                raise CorruptFileError(f"Huffman stream ended after {k} of {n} samples (truncated lead data).")
            code = (code << 1) | int(bits[pos])
            pos += 1
            length += 1
            hit = lookup[cur].get((length, code))
            if hit is not None:
                break
            if length > max_len:
                raise CorruptFileError(f"invalid Huffman code at bit {pos} (sample {k}).")
        if hit.mode == 0:
            cur = hit.value - 1
            continue
        extra = hit.total_bits - hit.prefix_bits
        if extra:
            if pos + extra > nbits:
                raise CorruptFileError(f"Huffman stream ended inside a literal value at sample {k}.")
            v = 0
            for b in bits[pos: pos + extra]:
                v = (v << 1) | int(b)
            pos += extra
            if v >= 1 << (extra - 1):
                v -= 1 << extra
            out[k] = v
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
    s = value.split(b"\x00", 1)[0].decode("latin-1").strip()
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


def _patient_and_device(tags: dict[int, bytes]) -> tuple[PatientInfo, datetime | None, dict[str, Any]]:
    birth = None
    if 5 in tags and len(tags[5]) >= 4:
        y, m, d = struct.unpack_from("<HBB", tags[5])
        if y and m and d:
            try:
                birth = date(y, m, d)
            except ValueError:
                birth = None
    age = None
    if 4 in tags and len(tags[4]) >= 3:
        v, unit = struct.unpack_from("<HB", tags[4])
        age = float(v) if unit in (0, 1) and v else None
    sex = _SEX.get(tags[8][0]) if 8 in tags and tags[8] else None
    height = struct.unpack_from("<H", tags[6])[0] if 6 in tags and len(tags[6]) >= 2 else None
    weight = struct.unpack_from("<H", tags[7])[0] if 7 in tags and len(tags[7]) >= 2 else None
    patient = PatientInfo(
        patient_id=_text(tags[2]) if 2 in tags else None,
        family_name=_text(tags[0]) if 0 in tags else None,
        given_name=_text(tags[1]) if 1 in tags else None,
        birth_date=birth, sex=sex, age_years=age,
        height_cm=float(height) if height else None, weight_kg=float(weight) if weight else None,
    )
    start = None
    if 25 in tags and 26 in tags and len(tags[25]) >= 4 and len(tags[26]) >= 3:
        y, m, d = struct.unpack_from("<HBB", tags[25])
        hh, mm, ss = struct.unpack_from("<BBB", tags[26])
        try:
            start = datetime(y, m, d, hh, mm, ss)
        except ValueError:
            start = None
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


def read(path: Path) -> ECGRecord:
    """Read an SCP-ECG file (signal in µV)."""
    buf = Path(path).read_bytes()
    sec = _sections(buf, path)
    s3 = _body(buf, sec[3])
    n_leads, flags = s3[0], s3[1]
    if n_leads == 0:
        raise _fail(path, "section 3 declares 0 leads.")
    if flags & 0x01:
        raise UnsupportedFormatError(
            f"{path.name!r} uses SCP-ECG reference-beat subtraction, which ecgpilot does not decode yet; "
            "export the ECG without compression or in another format (DICOM, HL7 aECG)."
        )
    leads, spans = [], []
    for k in range(n_leads):
        start, end, code = struct.unpack_from("<IIB", s3, 2 + 9 * k)
        if code not in LEAD_CODES:
            raise _fail(path, f"lead code {code} in section 3 is not a supported lead.")
        leads.append(LEAD_CODES[code])
        spans.append((start, end))
    n_samples = {e - s + 1 for s, e in spans}
    if len(n_samples) != 1:
        raise UnsupportedFormatError(f"{path.name!r}: leads of different lengths ({sorted(n_samples)}) are not supported.")
    n = n_samples.pop()
    s6 = _body(buf, sec[6])
    avm_nv, interval_us, diff, bimodal = struct.unpack_from("<HHBB", s6, 0)
    lengths = struct.unpack_from(f"<{n_leads}H", s6, 6)
    zero_based = False
    if 2 not in sec and spans[0][0] == 0 and all(ln == 2 * (n - 1) for ln in lengths):
        # EN 1064 numbers samples from 1; some writers use 0 with an exclusive end.
        n -= 1
        zero_based = True
    if 2 not in sec and any(ln != 2 * n for ln in lengths):
        raise _fail(
            path,
            f"section 3 declares {n} samples per lead but section 6 stores {sorted(set(lengths))} bytes "
            f"per lead, not {2 * n} (its 16-bit length fields cannot hold more than 65535 bytes: the "
            "file was written by a non-compliant converter and the recording is cut).",
        )
    if bimodal:
        raise UnsupportedFormatError(f"{path.name!r} uses SCP-ECG bimodal compression, which is not supported.")
    if diff not in (0, 1, 2):
        raise _fail(path, f"section 6 difference encoding {diff} (accepted: 0, 1, 2).")
    if avm_nv == 0 or interval_us == 0:
        raise _fail(path, f"section 6 amplitude unit {avm_nv} nV / sample interval {interval_us} µs must be > 0.")
    off = 6 + 2 * n_leads
    if off + sum(lengths) > len(s6):
        raise _fail(path, "section 6 lead data run past the end of the section (truncated).")
    tables = _huffman_tables(_body(buf, sec[2])) if 2 in sec else None
    sig = np.empty((n_leads, n), dtype=np.float64)
    for k, ln in enumerate(lengths):
        chunk = s6[off: off + ln]
        off += ln
        if tables is not None:
            d = huffman_decode(chunk, n, tables)
        else:
            if ln < 2 * n:
                raise _fail(path, f"lead {leads[k]} has {ln} bytes for {n} 16-bit samples (truncated).")
            d = np.frombuffer(chunk[: 2 * n], dtype="<i2").astype(np.int64)
        sig[k] = _undo_differences(d, diff) * (avm_nv / 1000.0)
    tags = _header(_body(buf, sec[1])) if 1 in sec else {}
    patient, start, device = _patient_and_device(tags)
    source = SourceInfo(
        format=FORMAT, path=str(path), manufacturer=device.get("manufacturer"), device=device.get("model"),
        description=DESCRIPTION,
        extra={"scp_version": buf[sec[3].start + 8], "amplitude_unit_nV": avm_nv, "difference_encoding": diff,
               "huffman": tables is not None, "sections": sorted(sec),
               "zero_based_sample_numbers": zero_based},
    )
    return ECGRecord(signal=sig, fs=1e6 / interval_us, leads=tuple(leads), start_time=start,
                     source=source, patient=patient)
