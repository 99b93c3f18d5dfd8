"""SCP-ECG (EN 1064 / ISO 11073-91064) reader, written from the standard's description.

Supported: record and per-section CRC-CCITT (a mismatch is a ``CorruptFileError``), section 0
(pointers), 1 (patient/acquisition/device tags), 2 (Huffman tables, default table 19999 or
custom ones), 3 (lead definitions, the standard's lead code table), 4 (QRS locations:
subtraction and protected zones), 5 (reference beat), 6 (rhythm: raw, first or second
differences, bimodal compression). Reconstruction reverses, in order: Huffman coding,
differences, bimodal decimation (linear interpolation outside protected zones) and
reference-beat subtraction. Files that break the standard's layout (some handheld devices'
"SCP" files, converters overflowing 16-bit byte counts) are refused with the reason.

This module is the reader; the sections are parsed in :mod:`ecgpilot.io._scp_sections` (layout, leads,
QRS locations, streams), :mod:`ecgpilot.io._scp_huffman` (section 2, decompression) and
:mod:`ecgpilot.io._scp_info` (sections 1, 7 and 8).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ecgpilot.errors import CorruptFileError, UnsupportedFormatError
from ecgpilot.io._limits import check_samples, read_bounded
from ecgpilot.io._scp_huffman import (
    HuffmanCode as HuffmanCode,
    _huffman_tables,
    _undo_differences as _undo_differences,
    default_huffman_table as default_huffman_table,
    huffman_decode as huffman_decode,
)
from ecgpilot.io._scp_info import (
    _header,
    _patient_and_device,
    global_measurements,
    interpretation_statements,
)
from ecgpilot.io._scp_sections import (
    QRSLocations as QRSLocations,
    _add_reference_beat,
    _bimodal_positions,
    _body,
    _canonical,
    _decode_leads,
    _fail,
    _lead_definitions,
    _Leads,
    _qrs_locations,
    _Section,
    _sections,
    _stream,
    _Stream,
    crc_ccitt as crc_ccitt,
    lead_name,
)
from ecgpilot.record import ECGRecord, SourceInfo

FORMAT = "scp"
DESCRIPTION = "SCP-ECG (EN 1064) file"


def sniff(head: bytes, path: Path) -> bool:
    """SCP: section 0 starts at byte 6 with ID 0, a plausible length and version."""
    if len(head) < 22:
        return False
    if head[16:22] == b"SCPECG":
        return True
    sid, slen = struct.unpack_from("<HI", head, 8)
    # Version 1.x files may leave the reserved bytes empty: require the pointer layout.
    return sid == 0 and 16 < slen < 4096 and (slen - 16) % 10 == 0 and 10 <= head[14] <= 40


def _values(xs: list[int] | tuple[int, ...]) -> str:
    u = sorted(set(xs))
    return str(u[0]) if len(u) == 1 else str(u)


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
