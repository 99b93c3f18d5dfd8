"""GE MUSE XML reader: real exports checked against values the files carry themselves."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from scipy.signal import butter, filtfilt, find_peaks

from conformance import check_reader_file, check_record
from conftest import data_file
from ecgpilot import read_ecg
from ecgpilot.errors import CorruptFileError
from ecgpilot.io import detect_format, muse
from ecgpilot.leads import STANDARD_12

MUSE_DIR = ("format-samples", "ge-muse-xml")
PEROTTE = (*MUSE_DIR, "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")
FILES = [PEROTTE] + [(*MUSE_DIR, "braveheart", f"example{k}.xml") for k in range(1, 5)]
IDS = [parts[-1] for parts in FILES]


def _rhythm_lead_by_hand(path: Path, lead: str) -> np.ndarray:
    """Decode one Rhythm lead without the reader: regex, base64, struct (µV)."""
    text = path.read_text(encoding="latin-1")
    rhythm = text[text.index("<WaveformType>Rhythm</WaveformType>") :]
    block = re.search(
        rf"<LeadAmplitudeUnitsPerBit>([\d.]+)</LeadAmplitudeUnitsPerBit>.*?"
        rf"<LeadID>{lead}</LeadID>.*?<WaveFormData>(.*?)</WaveFormData>",
        rhythm,
        re.S,
    )
    assert block is not None
    per_bit = float(block.group(1))
    raw = base64.b64decode("".join(block.group(2).split()))
    counts = struct.unpack(f"<{len(raw) // 2}h", raw)
    return np.array(counts, dtype=np.float64) * per_bit


# -- real files -----------------------------------------------------------------------


@pytest.mark.parametrize("parts", FILES, ids=IDS)
def test_conformance_and_hand_decoded_samples(parts: tuple[str, ...]) -> None:
    path = data_file(*parts)
    known = {}
    for lead, idx in (("I", 0), ("II", 1234), ("V1", 2500), ("V6", 4999)):
        known[(lead, idx)] = float(_rhythm_lead_by_hand(path, lead)[idx])
    rec = check_reader_file(
        path, fmt="muse", fs=500.0, n_samples=5000, leads=STANDARD_12, known_samples=known, atol_uv=0.01
    )
    assert rec.source.extra["derived_leads"] == ["III", "aVR", "aVL", "aVF"]
    assert rec.source.extra["crc_checked"] == 8


@pytest.mark.parametrize("parts", FILES, ids=IDS)
def test_derived_limb_leads_follow_einthoven(parts: tuple[str, ...]) -> None:
    rec = read_ecg(data_file(*parts))
    i, ii = rec.lead("I").astype(float), rec.lead("II").astype(float)
    np.testing.assert_allclose(rec.lead("III"), ii - i, atol=1e-3)
    np.testing.assert_allclose(rec.lead("aVR"), -(i + ii) / 2, atol=1e-3)
    np.testing.assert_allclose(rec.lead("aVL"), i - ii / 2, atol=1e-3)
    np.testing.assert_allclose(rec.lead("aVF"), ii - i / 2, atol=1e-3)


def test_amplitudes_match_ge_r_wave_measurements() -> None:
    """GE's own per-beat R amplitudes (µV above QRS onset) confirm the µV scale.

    ``IntervalMeasurements`` gives each beat's offset in the rhythm strip and
    ``AmplitudeMeasurements`` its R peak, start (Q onset) and duration.
    """
    path = data_file(*PEROTTE)
    rec = read_ecg(path)
    root = etree.parse(str(path)).getroot()
    offsets = {
        int(m.findtext("IntervalMeasurementBeatNumber")) + 1: int(m.findtext("IntervalMeasurementBeatOffset"))
        for m in root.iterfind("IntervalMeasurements/MeasuredInterval")
    }
    checked = 0
    for m in root.iterfind("AmplitudeMeasurements/MeasuredAmplitude"):
        lead = m.findtext("AmplitudeMeasurementLeadID")
        if m.findtext("AmplitudeMeasurementWaveID") != "IE_R" or lead not in ("I", "II", "III", "V4", "V5", "V6"):
            continue
        beat = int(m.findtext("AmplitudeMeasurementBeatID"))
        onset = offsets[beat] + int(m.findtext("AmplitudeMeasurementStart"))
        width = int(m.findtext("AmplitudeMeasurementDuration")) // 2
        x = rec.lead(lead)
        amplitude = float(x[onset : onset + width + 1].max() - x[onset])
        expected = float(m.findtext("AmplitudeMeasurementPeak"))
        assert abs(amplitude - expected) <= 5.0, (lead, beat, amplitude, expected)
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("parts", FILES, ids=IDS)
def test_ge_heart_rate_matches_r_peak_count(parts: tuple[str, ...]) -> None:
    rec = read_ecg(data_file(*parts))
    b, a = butter(2, [5, 25], btype="band", fs=rec.fs)
    energy = np.abs(filtfilt(b, a, rec.signal.astype(np.float64), axis=1)).sum(axis=0)
    peaks, _ = find_peaks(energy, distance=int(0.25 * rec.fs), height=0.3 * np.percentile(energy, 99.5))
    rate = 60.0 * rec.fs * (len(peaks) - 1) / (peaks[-1] - peaks[0])
    assert abs(rate - rec.source.device_measurements["heart_rate_bpm"]) <= 5.0


def test_metadata_measurements_statements() -> None:
    rec = read_ecg(data_file(*PEROTTE))
    assert rec.start_time == datetime(2020, 9, 22, 9, 3, 32)
    assert rec.source.device == "MAC55"
    assert rec.source.manufacturer == "GE Healthcare"
    p = rec.patient
    assert (p.patient_id, p.family_name, p.given_name) == ("201700237", "MUSE", "TESTONE")
    assert (p.birth_date, p.sex, p.age_years) == (date(1980, 6, 10), "M", 40.0)
    assert (p.height_cm, p.weight_kg) == (180.0, 93.0)
    m = rec.source.device_measurements
    expected = {
        "heart_rate_bpm": 56, "atrial_rate_bpm": 56, "pr_ms": 330, "qrs_ms": 94, "qt_ms": 434,
        "qtc_ms": 418, "p_axis_deg": 6, "qrs_axis_deg": -22, "t_axis_deg": 2,
        "p_onset_sample": 46, "p_offset_sample": 95, "q_onset_sample": 211,
        "q_offset_sample": 258, "t_offset_sample": 428, "measurement_sample_rate_hz": 500,
    }  # fmt: skip
    assert {k: m[k] for k in expected} == expected
    # QTc is Bazett: QT / sqrt(RR in s), RR from the ventricular rate.
    assert m["qtc_ms"] == pytest.approx(m["qt_ms"] / np.sqrt(60.0 / m["heart_rate_bpm"]), abs=3)
    assert rec.source.device_statements == (
        "Sinus bradycardia",
        "with sinus arrhythmia",
        "with 1st degree A-V block",
        "Otherwise normal ECG",
        "Confirmed by Garg, Ruchira M.D.",
    )


def test_files_without_demographics_still_read() -> None:
    rec = read_ecg(data_file(*MUSE_DIR, "braveheart", "example1.xml"))
    assert rec.start_time is None and rec.patient.patient_id is None
    assert rec.source.device_measurements["qrs_ms"] == 96
    assert rec.source.device_statements == ()


# -- broken copies ----------------------------------------------------------------------


def _broken_copy(tmp_path: Path, edit) -> Path:
    text = data_file(*PEROTTE).read_text(encoding="latin-1")
    out = tmp_path / "broken.xml"
    out.write_text(edit(text), encoding="latin-1")
    return out


def _rhythm_start(text: str) -> int:
    return text.index("<WaveformType>Rhythm</WaveformType>")


def test_crc_mismatch_is_reported(tmp_path: Path) -> None:
    def flip(text: str) -> str:
        k = text.index("<WaveFormData>", _rhythm_start(text)) + len("<WaveFormData>") + 40
        return text[:k] + ("B" if text[k] != "B" else "C") + text[k + 1 :]

    with pytest.raises(CorruptFileError, match="CRC"):
        read_ecg(_broken_copy(tmp_path, flip))


def test_truncated_xml_is_corrupt(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, lambda t: t[: len(t) // 2])
    assert detect_format(path) == "muse"
    with pytest.raises(CorruptFileError, match="well-formed"):
        read_ecg(path)


def test_missing_rhythm_waveform(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, lambda t: t.replace("<WaveformType>Rhythm<", "<WaveformType>Median<"))
    with pytest.raises(CorruptFileError, match="no Rhythm"):
        read_ecg(path)


def test_bad_base64(tmp_path: Path) -> None:
    def spoil(text: str) -> str:
        k = text.index("<WaveFormData>", _rhythm_start(text)) + len("<WaveFormData>")
        return text[:k] + "@@!!" + text[k:]

    with pytest.raises(CorruptFileError, match="base64"):
        read_ecg(_broken_copy(tmp_path, spoil))


def test_utf16_copy_is_detected_and_identical(tmp_path: Path) -> None:
    src = data_file(*PEROTTE)
    text = src.read_text(encoding="latin-1").replace('encoding="ISO-8859-1"', 'encoding="UTF-16"')
    out = tmp_path / "utf16.dat"
    out.write_bytes(text.encode("utf-16"))
    assert detect_format(out) == "muse"
    np.testing.assert_array_equal(read_ecg(out).signal, read_ecg(src).signal)


# -- synthetic file (no shared data needed) ---------------------------------------------


def _synthetic_muse(
    path: Path, leads: dict[str, np.ndarray], per_bit: float, *, crc: bool = True, units: str = "MICROVOLTS"
) -> None:
    blocks = []
    for name, counts in leads.items():
        raw = counts.astype("<i2").tobytes()
        crc_tag = f"<LeadDataCRC32>{zlib.crc32(raw)}</LeadDataCRC32>" if crc else ""
        blocks.append(
            "<LeadData><LeadByteCountTotal>{n}</LeadByteCountTotal>"
            "<LeadSampleCountTotal>{s}</LeadSampleCountTotal>"
            "<LeadAmplitudeUnitsPerBit>{pb}</LeadAmplitudeUnitsPerBit>"
            "<LeadAmplitudeUnits>{units}</LeadAmplitudeUnits><LeadID>{name}</LeadID>"
            "<LeadSampleSize>2</LeadSampleSize>{crc}<WaveFormData>{b64}</WaveFormData></LeadData>".format(
                n=len(raw), s=counts.size, pb=per_bit, name=name, crc=crc_tag, units=units,
                b64=base64.encodebytes(raw).decode("ascii"),
            )
        )  # fmt: skip
    xml = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE RestingECG SYSTEM "restecg.dtd">\n'
        "<RestingECG><TestDemographics><AcquisitionDevice>SYNTH</AcquisitionDevice>"
        "<AcquisitionDate>01-31-2024</AcquisitionDate><AcquisitionTime>13:45:00</AcquisitionTime>"
        "</TestDemographics><RestingECGMeasurements><VentricularRate>60</VentricularRate>"
        "</RestingECGMeasurements><Waveform><WaveformType>Median</WaveformType></Waveform>"
        "<Waveform><WaveformType>Rhythm</WaveformType><SampleBase>250</SampleBase>"
        "<SampleExponent>0</SampleExponent>" + "".join(blocks) + "</Waveform></RestingECG>"
    )
    path.write_text(xml, encoding="latin-1")


def test_synthetic_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 1000
    t = np.arange(n) / 250.0
    names = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    counts = {
        name: np.round(200 * np.sin(2 * np.pi * (1 + k) * t) + rng.normal(0, 3, n)).astype(np.int16)
        for k, name in enumerate(names)
    }
    path = tmp_path / "synthetic.xml"
    _synthetic_muse(path, counts, per_bit=4.88)
    assert muse.sniff(path.read_bytes()[:4096], path)
    rec = read_ecg(path)
    check_record(rec, fs=250.0, n_samples=n, leads=STANDARD_12, fmt="muse")
    for name in names:
        np.testing.assert_allclose(rec.lead(name), counts[name] * 4.88, atol=1e-3)
    assert rec.start_time == datetime(2024, 1, 31, 13, 45)
    assert rec.source.device == "SYNTH"
    assert rec.source.device_measurements == {"heart_rate_bpm": 60.0}


def test_synthetic_without_crc_in_millivolts(tmp_path: Path) -> None:
    counts = {name: np.arange(-50, 50, dtype=np.int16) * (k + 1) for k, name in enumerate(("I", "II", "V1"))}
    path = tmp_path / "mv.xml"
    _synthetic_muse(path, counts, per_bit=0.005, crc=False, units="MILLIVOLTS")
    rec = read_ecg(path)
    assert rec.leads == ("I", "II", "III", "aVR", "aVL", "aVF", "V1")
    np.testing.assert_allclose(rec.lead("V1"), counts["V1"] * 5.0, atol=1e-3)  # 0.005 mV = 5 µV
    assert rec.source.extra["crc_checked"] == 0


def test_sniff_rejects_other_xml() -> None:
    assert not muse.sniff(b'<?xml version="1.0"?>\n<restingecgdata/>', Path("x.xml"))
    assert not muse.sniff(b"\x00\x01binary", Path("x.xml"))
    assert muse.sniff(b"\xef\xbb\xbf<!-- c -->\n<RestingECG>", Path("x.bin"))
