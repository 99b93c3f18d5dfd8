"""SCP-ECG record layout: CRC-CCITT, the section pointers (section 0), the lead definitions
(section 3, the standard's lead code table), the QRS locations (section 4), the section 5/6 stream
headers and lead decoding, bimodal positions and the reference beat added back. Used by
:mod:`ecgpilot.io.scp`."""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError, RecordError
from ecgpilot.io._scp_huffman import HuffmanCode, _undo_differences, huffman_decode
from ecgpilot.leads import canonical_lead


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


def crc_ccitt(data: bytes) -> int:
    """CRC-CCITT as EN 1064 specifies: polynomial 0x1021, initial value 0xFFFF, no reflection
    (CRC-16/CCITT-FALSE; the standard library's ``binascii.crc_hqx`` computes exactly this)."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True)
class _Section:
    sid: int
    start: int  # 0-based offset of the section header
    length: int


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
