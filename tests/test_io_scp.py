"""SCP-ECG reader: exact decode of the compliant example, clear refusals of the others."""

from __future__ import annotations

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
