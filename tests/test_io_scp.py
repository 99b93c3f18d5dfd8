"""SCP-ECG reader: exact decode of the compliant example, clear refusals of the others."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest

from conformance import check_reader_file
from conftest import data_file
from ecgpilot import CorruptFileError, UnsupportedFormatError, detect_format, read_ecg
from ecgpilot.io.scp import _undo_differences, crc_ccitt, default_huffman_table, huffman_decode

FS = "format-samples"


def test_compliant_example_decodes_exactly_like_its_dicom_twin() -> None:
    """Example.scp and Example.dcm (ECG Toolkit) hold the same recording: the DICOM raw
    int16 × ChannelSensitivity, decoded here with pydicom only, must equal our SCP decode."""
    rec = check_reader_file(
        data_file(FS, "ecgtoolkit-examples", "Example.scp"), fmt="scp", fs=500.0, n_samples=5000,
        leads=("I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "III", "aVR", "aVL", "aVF"),
        known_samples={("V2", 0): 137.5, ("V6", 1): -17.5},
    )
    ds = pydicom.dcmread(data_file(FS, "ecgtoolkit-examples", "Example.dcm"))
    wf = ds.WaveformSequence[0]
    raw = np.frombuffer(wf.WaveformData, dtype="<i2").reshape(-1, wf.NumberOfWaveformChannels)
    for k, ch in enumerate(wf.ChannelDefinitionSequence):
        name = ch.ChannelSourceSequence[0].CodeMeaning.replace("Lead ", "")
        assert ch.ChannelSensitivityUnitsSequence[0].CodeValue == "uV"
        ref = raw[:, k] * float(ch.ChannelSensitivity)
        np.testing.assert_array_equal(rec.lead(name), ref.astype(np.float32), err_msg=name)


def test_compliant_example_metadata() -> None:
    rec = read_ecg(data_file(FS, "ecgtoolkit-examples", "Example.scp"))
    assert rec.patient.patient_id == "SBJ-123"
    assert rec.patient.family_name == "Clark"
    assert rec.patient.sex == "M"
    assert str(rec.patient.birth_date) == "1953-05-08"
    assert rec.start_time is not None and rec.start_time.isoformat() == "2002-11-22T09:10:00"
    assert rec.source.device == "ELI250"
    assert rec.source.extra["difference_encoding"] == 2
    assert rec.source.extra["amplitude_unit_nV"] == 2500


def test_raw_8_lead_demo_matches_its_readme() -> None:
    """demo.scp (ECG Viewer): README says 8 leads, 10,000 samples at 1 kHz, 183 nV units,
    raw 16-bit values. Check a value against the raw bytes decoded here by hand."""
    path = data_file(FS, "contec-ecg90a", "demo.scp")
    rec = check_reader_file(path, fmt="scp", fs=1000.0, n_samples=10000,
                            leads=("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"))
    buf = path.read_bytes()
    # section 6 of this file: header at byte index 387 (1-based), 16-byte section header,
    # 6 bytes of parameters, 8 × 2-byte lengths, then lead I raw int16.
    start = 387 - 1 + 16 + 6 + 16
    first = np.frombuffer(buf[start: start + 10], dtype="<i2") * 0.183
    np.testing.assert_allclose(rec.lead("I")[:5], first, atol=1e-3)
    assert rec.source.extra["zero_based_sample_numbers"] is True


def test_raw_8_lead_demo_metadata() -> None:
    """Values printed in the file's section 1 (visible with `strings`: Patient, Demo, 12-678-QW)."""
    rec = read_ecg(data_file(FS, "contec-ecg90a", "demo.scp"))
    p = rec.patient
    assert (p.patient_id, p.family_name, p.given_name) == ("12-678-QW", "Patient", "Demo")
    assert str(p.birth_date) == "1957-06-24" and p.sex == "M"
    assert (p.height_cm, p.weight_kg) == (187.0, 82.0)
    assert rec.start_time is not None and rec.start_time.isoformat() == "2004-06-24T16:52:16"
    assert rec.source.manufacturer is None  # tag 14 holds a control byte there, not a name


@pytest.mark.parametrize("name", ["62.SCP", "63.SCP"])
def test_noncompliant_handheld_files_are_refused_with_the_reason(name: str) -> None:
    path = data_file(FS, "scp-ecg", "healforce-pc80b", name)
    assert detect_format(path) == "scp"
    with pytest.raises(CorruptFileError, match="not EN 1064 compliant"):
        read_ecg(path)


def test_converter_file_with_overflowed_lengths_is_refused() -> None:
    with pytest.raises(CorruptFileError, match="declares 37855 samples.*non-compliant converter"):
        read_ecg(data_file(FS, "contec-ecg90a", "0000050.ECG.scp"))


def test_corrupted_byte_is_caught_by_crc(tmp_path: Path) -> None:
    buf = bytearray(data_file(FS, "ecgtoolkit-examples", "Example.scp").read_bytes())
    buf[20000] ^= 0x10
    bad = tmp_path / "bad.scp"
    bad.write_bytes(bytes(buf))
    with pytest.raises(CorruptFileError, match="CRC mismatch"):
        read_ecg(bad)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    buf = data_file(FS, "ecgtoolkit-examples", "Example.scp").read_bytes()
    bad = tmp_path / "cut.scp"
    bad.write_bytes(buf[:20000])
    with pytest.raises(CorruptFileError, match="record length field says 34144 bytes but the file has 20000"):
        read_ecg(bad)


def test_crc_ccitt_check_value() -> None:
    # The standard check value of CRC-16/CCITT-FALSE for "123456789".
    assert crc_ccitt(b"123456789") == 0x29B1


def test_default_huffman_table_round_trip() -> None:
    """Encode values by hand with the standard's default table and decode them."""
    def enc(v: int) -> str:
        if v == 0:
            return "0"
        if -8 <= v <= 8:
            k = abs(v)
            return "1" * k + "0" + ("0" if v > 0 else "1")
        if -128 <= v <= 127:
            return "1111111110" + format(v & 0xFF, "08b")
        return "1111111111" + format(v & 0xFFFF, "016b")

    values = [0, 1, -1, 5, -8, 8, 9, -100, 127, -128, 1000, -32768, 0, 3]
    bits = "".join(enc(v) for v in values)
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    out = huffman_decode(data, len(values), [default_huffman_table()])
    assert out.tolist() == values
    with pytest.raises(CorruptFileError, match="ended after"):
        huffman_decode(data[:2], len(values), [default_huffman_table()])


def test_difference_decoding() -> None:
    x = np.array([3, 7, 2, -5, 10, 11, 0], dtype=np.int64)
    d1 = np.concatenate(([x[0]], np.diff(x)))
    d2 = np.concatenate(([x[0], x[1]], x[2:] - 2 * x[1:-1] + x[:-2]))
    assert _undo_differences(d1, 1).tolist() == x.tolist()
    assert _undo_differences(d2, 2).tolist() == x.tolist()


def test_random_bytes_are_not_taken_for_scp(tmp_path: Path) -> None:
    p = tmp_path / "noise.scp"
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedFormatError):
        detect_format(p)


# --- real-data cross-checks of sections 3 and 5 -------------------------------------------------


def test_lead_codes_match_the_dicom_twins_scpecg_codes() -> None:
    """Example.dcm codes its channels with the legacy SCPECG scheme "5.6.3-9-<SCP lead code>",
    an independent source for the standard's lead code table."""
    from ecgpilot.io.scp import lead_name

    rec = read_ecg(data_file(FS, "ecgtoolkit-examples", "Example.scp"))
    ds = pydicom.dcmread(data_file(FS, "ecgtoolkit-examples", "Example.dcm"))
    dicom = {}
    for ch in ds.WaveformSequence[0].ChannelDefinitionSequence:
        item = ch.ChannelSourceSequence[0]
        assert item.CodingSchemeDesignator == "SCPECG"
        dicom[int(item.CodeValue.rsplit("-", 1)[1])] = item.CodeMeaning.replace("Lead ", "")
    codes = rec.source.extra["scp_lead_codes"]
    assert sorted(codes) == sorted(dicom)
    for code, name in zip(codes, rec.leads):
        assert lead_name(code) == dicom[code] == name


def test_reference_beat_section_5_matches_the_dicom_median_beat() -> None:
    """Section 5 (Huffman, second differences) against the DICOM MEDIAN BEAT group (raw int16 ×
    sensitivity); the DICOM beat has one trailing padding sample (-32768) after the 599 real ones."""
    from ecgpilot.io.scp import reference_beats

    names, fs, beats = reference_beats(data_file(FS, "ecgtoolkit-examples", "Example.scp"))
    assert fs == 500.0 and beats.shape == (12, 599)  # section 4: 1198 ms at 2 ms
    ds = pydicom.dcmread(data_file(FS, "ecgtoolkit-examples", "Example.dcm"))
    wf = ds.WaveformSequence[1]
    assert wf.MultiplexGroupLabel == "MEDIAN BEAT"
    raw = np.frombuffer(wf.WaveformData, dtype="<i2").reshape(-1, wf.NumberOfWaveformChannels)
    assert (raw[599:] == -32768).all()
    for k, ch in enumerate(wf.ChannelDefinitionSequence):
        name = ch.ChannelSourceSequence[0].CodeMeaning.replace("Lead ", "")
        ref = raw[:599, k] * float(ch.ChannelSensitivity)
        np.testing.assert_array_equal(beats[names.index(name)], ref.astype(np.float32), err_msg=name)


def test_refused_converter_file_really_is_cut_its_csv_twin_shows() -> None:
    """0000050.ECG.csv (same recording, raw integers, one row a sample) has the 37,855 samples that
    section 3 declares; section 6 holds only the first 32,767 of each lead, byte for byte."""
    csv = np.loadtxt(data_file(FS, "contec-ecg90a", "0000050.ECG.csv"), delimiter=",", usecols=range(6))
    assert csv.shape == (37855, 6)
    buf = data_file(FS, "contec-ecg90a", "0000050.ECG.scp").read_bytes()
    from ecgpilot.io.scp import _body, _sections

    path = data_file(FS, "contec-ecg90a", "0000050.ECG.scp")
    s6 = _body(buf, _sections(buf, path)[6])
    lengths = np.frombuffer(s6[6:30], dtype="<u2")
    assert (lengths == 65534).all()
    off = 30
    for k in range(6):  # I, II, III, aVR, aVL, aVF in both files
        stored = np.frombuffer(s6[off: off + 65534], dtype="<i2")
        off += 65534
        np.testing.assert_array_equal(stored, csv[:32767, k])


# --- synthetic files: reference-beat subtraction, bimodal compression, lead table ---------------


def _enc(v: int) -> str:
    """One value with the standard's default Huffman table."""
    if v == 0:
        return "0"
    if -8 <= v <= 8:
        return "1" * abs(v) + "0" + ("0" if v > 0 else "1")
    if -128 <= v <= 127:
        return "1111111110" + format(v & 0xFF, "08b")
    return "1111111111" + format(v & 0xFFFF, "016b")


def _huffman(values: np.ndarray, order: int) -> bytes:
    x = values.astype(np.int64)
    if order == 1:
        d = np.concatenate((x[:1], np.diff(x)))
    elif order == 2:
        d = np.concatenate((x[:2], x[2:] - 2 * x[1:-1] + x[:-2]))
    else:
        d = x
    bits = "".join(_enc(int(v)) for v in d)
    bits += "0" * (-len(bits) % 16)  # even byte count
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def _section(sid: int, body: bytes) -> bytes:
    if len(body) % 2:
        body += b"\x00"
    rest = struct.pack("<HIBB6s", sid, 16 + len(body), 20, 20, b"SCPECG" if sid == 0 else b"") + body
    return struct.pack("<H", crc_ccitt(rest)) + rest


def _record(bodies: dict[int, bytes]) -> bytes:
    """A complete SCP-ECG record: CRC, length, section 0 pointers (sections 0..11), sections."""
    sections, pos = {}, 6 + 16 + 12 * 10
    for sid in sorted(bodies):
        sections[sid] = _section(sid, bodies[sid])
    pointers, at = b"", pos
    for sid in range(12):
        if sid == 0:
            pointers += struct.pack("<HII", 0, 16 + 120, 7)
        elif sid in sections:
            pointers += struct.pack("<HII", sid, len(sections[sid]), at + 1)
            at += len(sections[sid])
        else:
            pointers += struct.pack("<HII", sid, 0, 0)
    data = _section(0, pointers) + b"".join(sections[s] for s in sorted(sections))
    size = 6 + len(data)
    rest = struct.pack("<I", size) + data
    return struct.pack("<H", crc_ccitt(rest)) + rest


def _synthetic(n: int = 2500, fid: tuple[int, ...] = (301, 1101, 1901)) -> tuple[np.ndarray, np.ndarray]:
    """Integer rhythm (3 leads) built from a reference beat at the given fiducials + slow wander."""
    t = np.arange(300)
    beat = np.stack([np.round(800 * np.exp(-((t - 100) / 8.0) ** 2) - 150 * np.exp(-((t - 112) / 5.0) ** 2)
                              + 120 * np.exp(-((t - 220) / 25.0) ** 2)) * s for s in (1, 0.6, -0.4)])
    i = np.arange(n)
    rhythm = np.stack([np.round(40 * np.sin(2 * np.pi * i / 900 + k)) for k in range(3)])
    for f in fid:  # fiducial f (1-based) sits on beat sample 101 (1-based)
        rhythm[:, f - 101: f - 101 + 300] += beat
    return rhythm.astype(np.int64), beat.astype(np.int64)


def _s3(codes: tuple[int, ...], n: int, subtraction: bool) -> bytes:
    body = struct.pack("<BB", len(codes), (1 if subtraction else 0) | 0x04 | (len(codes) << 3))
    return body + b"".join(struct.pack("<IIB", 1, n, c) for c in codes)


def _s4(zones: list[tuple[int, int, int, int]], protected: list[tuple[int, int]]) -> bytes:
    body = struct.pack("<HHH", 600, 101, len(zones))
    body += b"".join(struct.pack("<HIII", *z) for z in zones)
    return body + b"".join(struct.pack("<II", *p) for p in protected)


def _s56(leads: list[np.ndarray], interval: int, order: int, bimodal: int = 0) -> bytes:
    data = [_huffman(x, order) for x in leads]
    head = struct.pack("<HHBB", 2500, interval, order, bimodal) + b"".join(struct.pack("<H", len(d)) for d in data)
    return head + b"".join(data)


def test_reference_beat_subtraction_is_undone_exactly(tmp_path: Path) -> None:
    rhythm, beat = _synthetic()
    fids = (301, 1101, 1901)
    zones = [(0, f - 60, f, f + 90) for f in fids[:2]] + [(1, fids[2] - 60, fids[2], fids[2] + 90)]
    residual = rhythm.copy()
    for btype, zs, f, ze in zones:
        if btype == 0:  # rhythm sample s (1-based) pairs with beat sample s - f + 101
            residual[:, zs - 1: ze] -= beat[:, zs - f + 100: ze - f + 101]
    assert np.abs(residual[:, fids[0] - 61: fids[0] + 90]).max() <= 45  # the QRS is gone: wander only
    codes = (1, 2, 65)  # I, II, -aVR
    raw = _record({
        1: b"\x02\x04\x00ABC\x00\xff\x00\x00", 2: struct.pack("<H", 19999),
        3: _s3(codes, 2500, True), 4: _s4(zones, [(f - 60, f + 90) for f in fids]),
        5: _s56(list(beat), 2000, 1), 6: _s56(list(residual), 2000, 2),
    })
    p = tmp_path / "refbeat.bin"
    p.write_bytes(raw)
    assert detect_format(p) == "scp"
    rec = read_ecg(p)
    assert rec.leads == ("I", "II", "aVR") and rec.fs == 500.0 and rec.patient.patient_id == "ABC"
    assert rec.source.extra["reference_beat_subtraction"] is True
    np.testing.assert_array_equal(rec.signal[:2], (rhythm[:2] * 2.5).astype(np.float32))
    np.testing.assert_array_equal(rec.signal[2], (-rhythm[2] * 2.5).astype(np.float32))  # -aVR inverted


def test_bimodal_compression_is_exact_in_protected_zones_and_close_elsewhere(tmp_path: Path) -> None:
    """Residual decimated by 2 (block means) outside the protected zones, full rate inside them."""
    rhythm, beat = _synthetic()
    fids = (301, 1101, 1901)
    zones = [(0, f - 60, f, f + 90) for f in fids]
    protected = [(f - 60, f + 91) for f in fids]  # the QRS subtraction zones are protected
    residual = rhythm.copy()
    for _, zs, f, ze in zones:
        residual[:, zs - 1: ze] -= beat[:, zs - f + 100: ze - f + 101]
    stored, p = [[] for _ in range(3)], 1
    inside = np.zeros(2500, dtype=bool)
    for a, b in protected:
        inside[a - 1: b] = True
    while p <= 2500:
        if inside[p - 1]:
            width = 1
        else:
            width = 1 if p == 2500 or inside[p] else 2
        for k in range(3):
            stored[k].append(int(np.round(residual[k, p - 1: p - 1 + width].mean())))
        p += width
    raw = _record({
        2: struct.pack("<H", 19999), 3: _s3((1, 2, 21), 2500, True), 4: _s4(zones, protected),
        5: _s56(list(beat), 2000, 2), 6: _s56([np.array(s) for s in stored], 4000, 2, bimodal=1),
    })
    path = tmp_path / "bimodal.scp"
    path.write_bytes(raw)
    rec = read_ecg(path)
    assert rec.fs == 500.0 and rec.n_samples == 2500  # the full (section 5) rate is restored
    assert rec.leads == ("I", "II") and rec.source.extra["dropped_leads"] == ["LA"]
    truth = rhythm[:2] * 2.5
    np.testing.assert_array_equal(rec.signal[:, inside], truth[:, inside].astype(np.float32))
    err = np.abs(rec.signal - truth)
    # Outside them the slow residual is interpolated between block centres: off by at most the
    # rounding of the stored block means (one 2.5 µV unit); placing samples at block starts gives 7.5.
    assert err.max() <= 2.5, err.max()


def test_custom_huffman_table_with_bit_reversed_codes() -> None:
    """Section 2 stores base codes bit-reversed; the standard's default table written that way
    (0→0, +1→1, -1→5, +2→3, -2→11, +3→7, -3→23, …, 8-bit escape 511, 16-bit escape 1023)
    must decode like table 19999."""
    from ecgpilot.io.scp import _huffman_tables

    entries = [(1, 1, 1, 0, 0)]
    for k in range(1, 9):
        entries += [(k + 2, k + 2, 1, k, (1 << k) - 1), (k + 2, k + 2, 1, -k, (1 << k) - 1 + (1 << (k + 1)))]
    entries += [(10, 18, 1, 0, 511), (10, 26, 1, 0, 1023)]
    assert entries[2][4] == 5 and entries[4][4] == 11 and entries[6][4] == 23
    body = struct.pack("<HH", 1, len(entries)) + b"".join(struct.pack("<BBBhI", *e) for e in entries)
    values = np.array([0, 3, -3, 8, -8, 100, -2000, 1, -1], dtype=np.int64)
    data = _huffman(values, 0)
    custom = huffman_decode(data, len(values), _huffman_tables(body))
    assert custom.tolist() == values.tolist()


def test_section_crc_mismatch_is_caught_even_when_the_record_crc_is_fixed(tmp_path: Path) -> None:
    buf = bytearray(data_file(FS, "ecgtoolkit-examples", "Example.scp").read_bytes())
    buf[20000] ^= 0x10  # inside section 6
    buf[0:2] = struct.pack("<H", crc_ccitt(bytes(buf[2:])))
    bad = tmp_path / "bad6.scp"
    bad.write_bytes(bytes(buf))
    with pytest.raises(CorruptFileError, match="section 6 CRC mismatch"):
        read_ecg(bad)


def test_lead_code_outside_the_table_is_refused(tmp_path: Path) -> None:
    rhythm, _ = _synthetic()
    raw = _record({2: struct.pack("<H", 19999), 3: _s3((1, 200), 2500, False),
                   6: _s56([rhythm[0], rhythm[1]], 2000, 2)})
    p = tmp_path / "code.scp"
    p.write_bytes(raw)
    with pytest.raises(CorruptFileError, match="lead code 200"):
        read_ecg(p)


def test_huffman_table_switch_persists_until_switched_back() -> None:
    """Two custom tables, one bit codes: table 1 '0' → 1, '1' → go to table 2;
    table 2 '0' → 5, '1' → back to table 1. Bits 0 1 0 0 1 0 decode to 1, 5, 5, 1."""
    from ecgpilot.io.scp import _huffman_tables

    t1 = [(1, 1, 1, 1, 0), (1, 1, 0, 2, 1)]
    t2 = [(1, 1, 1, 5, 0), (1, 1, 0, 1, 1)]
    body = struct.pack("<H", 2)
    for t in (t1, t2):
        body += struct.pack("<H", len(t)) + b"".join(struct.pack("<BBBhI", *e) for e in t)
    data = bytes([0b01001000])
    assert huffman_decode(data, 4, _huffman_tables(body)).tolist() == [1, 5, 5, 1]


def test_corrupted_fields_with_valid_crcs_raise_only_read_errors(tmp_path: Path) -> None:
    """Random bytes written into the first fields of sections 1-6, CRCs recomputed so the damage
    gets past the checksums: the reader returns a record or raises an ecgpilot error, nothing else."""
    from ecgpilot import ECGPilotError
    from ecgpilot.io.scp import _sections

    path = data_file(FS, "ecgtoolkit-examples", "Example.scp")
    src = path.read_bytes()
    sec = _sections(src, path)
    rng = np.random.default_rng(7)
    target = tmp_path / "fuzz.scp"
    for _ in range(20):
        buf = bytearray(src)
        s = sec[int(rng.choice([1, 2, 3, 4, 5, 6]))]
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(s.start + 16, min(s.start + s.length, s.start + 80)))
            buf[i] = int(rng.integers(0, 256))
        buf[s.start: s.start + 2] = struct.pack("<H", crc_ccitt(bytes(buf[s.start + 2: s.start + s.length])))
        buf[0:2] = struct.pack("<H", crc_ccitt(bytes(buf[2:])))
        target.write_bytes(bytes(buf))
        try:
            read_ecg(target)
        except ECGPilotError:
            pass


def test_section_1_units_are_converted(tmp_path: Path) -> None:
    """Age 18 months, height 70 inches, weight 176 pounds (unit codes 2, 2, 3 of the standard)."""
    rhythm, _ = _synthetic()
    tags = (struct.pack("<BHHB", 4, 3, 18, 2) + struct.pack("<BHHB", 6, 3, 70, 2)
            + struct.pack("<BHHB", 7, 3, 176, 3) + struct.pack("<BHB", 8, 1, 2) + b"\xff\x00\x00")
    raw = _record({1: tags, 2: struct.pack("<H", 19999), 3: _s3((1,), 2500, False),
                   6: _s56([rhythm[0]], 2000, 2)})
    p = tmp_path / "units.scp"
    p.write_bytes(raw)
    rec = read_ecg(p)
    assert rec.patient.age_years == pytest.approx(1.5)
    assert rec.patient.height_cm == pytest.approx(177.8)
    assert rec.patient.weight_kg == pytest.approx(176 * 0.45359237, abs=1e-3)
    assert rec.patient.sex == "F"
    np.testing.assert_array_equal(rec.signal[0], (rhythm[0] * 2.5).astype(np.float32))


def test_section_7_measurements_match_the_dicom_twins_annotations() -> None:
    """Example.dcm carries the same device measurements as Waveform Annotations
    (PR, QRS, QT in ms; P, QRS, T axes): section 7 must give the same numbers."""
    rec = read_ecg(data_file(FS, "ecgtoolkit-examples", "Example.scp"))
    ds = pydicom.dcmread(data_file(FS, "ecgtoolkit-examples", "Example.dcm"))
    dicom = {a.ConceptNameCodeSequence[0].CodeMeaning: float(a.NumericValue)
             for a in ds.WaveformAnnotationSequence if "NumericValue" in a}
    m = rec.source.device_measurements
    assert m["pr_ms"] == dicom["PR Interval"] == 148
    assert m["qrs_ms"] == dicom["QRS Duration"]
    assert m["qt_ms"] == dicom["QT Interval"]
    assert (m["p_axis_deg"], m["qrs_axis_deg"], m["t_axis_deg"]) == (
        dicom["P Axis"], dicom["QRS Axis"], dicom["T Axis"])
    assert "heart_rate_bpm" not in m  # the file leaves the RR interval "not computed" (29999)


def test_section_8_statements(tmp_path: Path) -> None:
    rhythm, _ = _synthetic()
    texts = [b"Sinus rhythm\x00", b"Left axis\r\ndeviation\x00"]
    s8 = struct.pack("<BHBBBBBB", 0, 2024, 5, 17, 10, 30, 0, len(texts))
    s8 += b"".join(struct.pack("<BH", i + 1, len(t)) + t for i, t in enumerate(texts))
    raw = _record({2: struct.pack("<H", 19999), 3: _s3((1,), 2500, False),
                   6: _s56([rhythm[0]], 2000, 2), 8: s8})
    p = tmp_path / "statements.scp"
    p.write_bytes(raw)
    assert read_ecg(p).source.device_statements == ("Sinus rhythm", "Left axis deviation")
