"""Philips Sierra ECG XML reader and XLI decompression."""

from __future__ import annotations

import base64
import struct
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
from ecgpilot.io import detect_format, sierra
from ecgpilot.io._xli import decode_xli, lzw_decode, undo_prediction
from ecgpilot.leads import STANDARD_12

SIERRA = ("format-samples", "philips-sierra-xml")
ORIG = (*SIERRA, "1_04", "ad4d3d80-d165_1-04_orig.xml")
CONVERTED = (*SIERRA, "1_04", "ad4d3d80-d165_1-04_converted.xml")
FILES = [
    (*SIERRA, "1_03", "129DYPRG.XML"),
    (*SIERRA, "1_03", "repbeats_example.xml"),
    (*SIERRA, "1_04", "3191723_ZZDEMOPTONLY_1-04_orig.xml"),
    ORIG,
    (*SIERRA, "1_04_01", "2020-5-18_15-48-11.xml"),
]
IDS = [parts[-1] for parts in FILES]
HL7 = {"h": "urn:hl7-org:v3"}


def _converted_counts(path: Path) -> dict[str, np.ndarray]:
    """Rhythm leads of the HL7 aECG made from the same recording by another tool."""
    root = etree.parse(str(path)).getroot()
    series = root.find(".//h:component/h:series", HL7)
    out = {}
    for seq in series.iterfind("h:component/h:sequenceSet/h:component/h:sequence", HL7):
        code = seq.find("h:code", HL7).get("code")
        digits = seq.findtext("h:value/h:digits", namespaces=HL7)
        if digits is None:
            continue
        assert seq.find("h:value/h:scale", HL7).get("value") == "5.00"
        assert seq.find("h:value/h:origin", HL7).get("value") == "0"
        lead = code.removeprefix("MDC_ECG_LEAD_").replace("AV", "aV")
        out[lead] = np.array(digits.split(), dtype=np.int64)
    return out


def _parsed_waveforms(path: Path) -> bytes:
    root = etree.parse(str(path)).getroot()
    pw = root.find(".//{*}parsedwaveforms")
    return base64.b64decode("".join(pw.text.split()))


# -- real files -----------------------------------------------------------------------


@pytest.mark.parametrize("parts", FILES, ids=IDS)
def test_conformance_and_limb_lead_consistency(parts: tuple[str, ...]) -> None:
    rec = check_reader_file(data_file(*parts), fmt="sierra", fs=500.0, leads=STANDARD_12)
    assert 10.0 <= rec.duration < 11.0
    # The reconstructed residual leads obey Einthoven / Goldberger to within
    # the integer rounding of the cart (2 counts of 5 µV).
    i, ii = rec.lead("I").astype(float), rec.lead("II").astype(float)
    assert np.max(np.abs(rec.lead("III") - (ii - i))) <= 10.0
    assert np.max(np.abs(rec.lead("aVR") + (i + ii) / 2)) <= 10.0
    assert np.max(np.abs(rec.lead("aVL") - (i - ii / 2))) <= 10.0
    assert np.max(np.abs(rec.lead("aVF") - (ii - i / 2))) <= 10.0
    # The cart's 1 mV calibration pulse, cut off the end, measures 1000 µV.
    assert rec.source.extra["calibration_pulse_uv"] == 1000.0
    assert rec.source.extra["compression"] == "XLI"


def test_xli_decode_matches_independent_conversion() -> None:
    """The decompressed _orig file against the same ECG decoded by Philips' ECGTranslator.

    The converter also applied its 60 Hz notch and re-quantised, so the two agree
    to a few counts (white, zero-mean differences), not bit for bit; a decoding
    error (predictor, LZW, lead order or residual restoration) would show as
    drift or offsets of tens to thousands of counts.
    """
    reference = _converted_counts(data_file(*CONVERTED))
    assert list(reference) == list(STANDARD_12)
    chunks = decode_xli(_parsed_waveforms(data_file(*ORIG)), n_samples=5500)
    decoded = sierra.restore_limb_leads(dict(zip(STANDARD_12, chunks)))
    for lead in STANDARD_12:
        diff = decoded[lead] - reference[lead]
        assert np.max(np.abs(diff)) <= 4, lead
        assert np.sqrt(np.mean(diff**2.0)) <= 1.0, lead
        assert abs(np.mean(diff)) <= 0.5, lead
    # The record holds the same samples in µV, minus the calibration tail.
    rec = read_ecg(data_file(*ORIG))
    for lead in STANDARD_12:
        np.testing.assert_array_equal(rec.lead(lead), decoded[lead][: rec.n_samples] * 5.0)
    assert rec.lead("I")[0] == pytest.approx(reference["I"][0] * 5.0)


@pytest.mark.parametrize("parts", FILES, ids=IDS)
def test_philips_heart_rate_matches_r_peak_count(parts: tuple[str, ...]) -> None:
    rec = read_ecg(data_file(*parts))
    b, a = butter(2, [5, 25], btype="band", fs=rec.fs)
    energy = np.abs(filtfilt(b, a, rec.signal.astype(np.float64), axis=1)).sum(axis=0)
    peaks, _ = find_peaks(energy, distance=int(0.25 * rec.fs), height=0.3 * np.percentile(energy, 99.5))
    rate = 60.0 * rec.fs * (len(peaks) - 1) / (peaks[-1] - peaks[0])
    assert abs(rate - rec.source.device_measurements["heart_rate_bpm"]) <= 5.0


def test_metadata_1_04_utf16() -> None:
    path = data_file(*ORIG)
    assert path.read_bytes()[:2] == b"\xff\xfe"  # UTF-16 LE with BOM
    rec = read_ecg(path)
    assert rec.start_time == datetime(2008, 12, 23, 19, 44, 46)
    assert rec.source.device == "PageWriter Touch"
    assert rec.source.manufacturer == "Philips"
    assert rec.source.extra["document_version"] == "1.04"
    assert (rec.patient.patient_id, rec.patient.sex, rec.patient.birth_date) == ("9999", "F", date(1976, 1, 1))
    assert rec.patient.family_name is None  # '---' placeholders are dropped
    m = rec.source.device_measurements
    expected = {
        "heart_rate_bpm": 41, "rr_ms": 1463, "atrial_rate_bpm": 41, "pr_ms": 144, "qrs_ms": 102,
        "qt_ms": 564, "qtc_ms": 466, "qtc_fridericia_ms": 497, "p_axis_deg": 19,
        "qrs_axis_deg": 85, "t_axis_deg": 53,
    }  # fmt: skip
    assert {k: m[k] for k in expected} == expected
    # qtcb is Bazett: QT / sqrt(RR in s).
    assert m["qtc_ms"] == pytest.approx(m["qt_ms"] / np.sqrt(m["rr_ms"] / 1000.0), abs=2)
    assert rec.source.device_statements == (
        "SINUS BRADYCARDIA (V-rate<60)",
        "NO PREVIOUS TRACING AVAILABLE FOR COMPARISON",
        "OTHERWISE NORMAL ECG",
    )


def test_metadata_1_03() -> None:
    rec = read_ecg(data_file(*FILES[0]))
    assert rec.start_time == datetime(2011, 12, 1, 7, 27, 34)
    assert rec.source.device == "HeartstartMRx"
    assert (rec.patient.sex, rec.patient.age_years) == ("M", 50.0)
    m = rec.source.device_measurements
    assert (m["heart_rate_bpm"], m["pr_ms"], m["qrs_ms"], m["qt_ms"], m["qtc_ms"]) == (41, 151, 135, 476, 393)
    assert (m["p_axis_deg"], m["qrs_axis_deg"], m["t_axis_deg"]) == (66, -21, 59)
    assert rec.source.device_statements[0] == "Sinus bradycardia (rate< 50)"


def test_sniff_by_content() -> None:
    for parts in FILES:
        path = data_file(*parts)
        assert sierra.sniff(path.read_bytes()[:65536], path)
    assert not sierra.sniff(data_file(*CONVERTED).read_bytes()[:65536], Path("x.xml"))
    utf16be = '<?xml version="1.0" encoding="UTF-16"?>\n<restingecgdata/>'.encode("utf-16-be")
    assert sierra.sniff(b"\xfe\xff" + utf16be, Path("x"))
    assert not sierra.sniff(b'<?xml version="1.0"?><RestingECG/>', Path("x"))


# -- broken copies ----------------------------------------------------------------------


def _copy_103(tmp_path: Path, edit) -> Path:
    text = data_file(*FILES[0]).read_text(encoding="utf-8")
    out = tmp_path / "broken.xml"
    out.write_text(edit(text), encoding="utf-8")
    return out


def _payload_span(text: str) -> tuple[int, int]:
    start = text.index(">", text.index("<parsedwaveforms")) + 1
    return start, text.index("</parsedwaveforms>")


def test_truncated_xml(tmp_path: Path) -> None:
    path = _copy_103(tmp_path, lambda t: t[: len(t) // 3])
    assert detect_format(path) == "sierra"
    with pytest.raises(CorruptFileError, match="well-formed"):
        read_ecg(path)


def test_missing_waveforms(tmp_path: Path) -> None:
    def drop(text: str) -> str:
        a, b = text.index("<waveforms>"), text.index("</waveforms>") + len("</waveforms>")
        return text[:a] + text[b:]

    with pytest.raises(CorruptFileError, match="parsedwaveforms"):
        read_ecg(_copy_103(tmp_path, drop))


def test_bad_base64(tmp_path: Path) -> None:
    def spoil(text: str) -> str:
        a, _ = _payload_span(text)
        return text[:a] + "%%%" + text[a:]

    with pytest.raises(CorruptFileError, match="base64"):
        read_ecg(_copy_103(tmp_path, spoil))


def test_truncated_compressed_stream(tmp_path: Path) -> None:
    def cut(text: str) -> str:
        a, b = _payload_span(text)
        payload = base64.b64decode("".join(text[a:b].split()))
        short = base64.b64encode(payload[: len(payload) // 2]).decode("ascii")
        return text[:a] + short + text[b:]

    with pytest.raises(CorruptFileError, match="truncated"):
        read_ecg(_copy_103(tmp_path, cut))


# -- XLI pieces and synthetic files (no shared data needed) ------------------------------


def _lzw_encode(data: bytes, bits: int = 10) -> bytes:
    """Textbook LZW with fixed-width codes, MSB first (test helper)."""
    table = {bytes([i]): i for i in range(256)}
    codes, word = [], b""
    for value in data:
        candidate = word + bytes([value])
        if candidate in table:
            word = candidate
            continue
        codes.append(table[word])
        if len(table) <= (1 << bits) - 2:
            table[candidate] = len(table)
        word = bytes([value])
    if word:
        codes.append(table[word])
    acc = "".join(format(c, f"0{bits}b") for c in codes)
    acc += "0" * (-len(acc) % 8)
    return bytes(int(acc[k : k + 8], 2) for k in range(0, len(acc), 8))


def _xli_encode_lead(x: np.ndarray, first: int) -> bytes:
    """Invert the predictor of the format description, then LZW (test helper)."""
    x = x.astype(np.int64)
    r = np.zeros_like(x)
    r[:2] = x[:2]
    # x[i] = 2 x[i-1] - x[i-2] - e[i], with e[2] = first and e[i] = r[i-1] - 64.
    e = 2 * x[1:-1] - x[:-2] - x[2:]  # e[2..n-1]
    assert e[0] == first
    r[2:-1] = e[1:] + 64
    r[-1] = 64
    u = r.astype(np.int16).view(np.uint16)
    planes = np.concatenate([(u >> 8).astype(np.uint8), (u & 0xFF).astype(np.uint8)]).tobytes()
    body = _lzw_encode(planes)
    return struct.pack("<ihh", len(body), 1, first) + body


def test_lzw_decodes_a_textbook_stream() -> None:
    text = b"TOBEORNOTTOBEORTOBEORNOT#" * 20
    assert lzw_decode(_lzw_encode(text)) == text
    with pytest.raises(CorruptFileError, match="undefined code"):
        lzw_decode(bytes([0b11111110, 0b00000000]))  # code 1016 before any entry exists


def test_undo_prediction_matches_the_recurrence() -> None:
    rng = np.random.default_rng(1)
    r = rng.integers(-200, 200, 300).astype(np.int16)
    first = -3
    x = [int(r[0]), int(r[1])]
    e = first
    for k in range(2, r.size):
        x.append(2 * x[-1] - x[-2] - e)
        e = int(r[k]) - 64
    np.testing.assert_array_equal(undo_prediction(r, first), np.array(x))


def _synthetic_sierra(path: Path, payload: bytes, *, compression: str, n_samples: int, fs: int = 500) -> None:
    duration_ms = n_samples * 1000 // fs
    xml = (
        '<?xml version="1.0" encoding="utf-16"?>\n'
        '<restingecgdata xmlns="http://www3.medical.philips.com">'
        "<documentinfo><documenttype>PhilipsECG</documenttype><documentversion>1.04</documentversion></documentinfo>"
        '<dataacquisition date="2024-02-29" time="08:15:00"><machine machineid="X">SYNTH</machine>'
        "<signalcharacteristics><samplingrate>500</samplingrate><resolution>5</resolution>"
        "<acquisitiontype>10-WIRE</acquisitiontype><numberchannelsallocated>12</numberchannelsallocated>"
        "</signalcharacteristics></dataacquisition><waveforms>"
        f'<parsedwaveforms dataencoding="Base64" compression="{compression}" numberofleads="12" '
        f'leadlabels="{" ".join(STANDARD_12)}" durationperchannel="{duration_ms}" samplespersecond="{fs}" '
        f'resolution="5">{base64.encodebytes(payload).decode("ascii")}</parsedwaveforms>'
        "</waveforms></restingecgdata>"
    )
    path.write_bytes(xml.encode("utf-16"))


def _synthetic_leads(n: int) -> dict[str, np.ndarray]:
    t = np.arange(n) / 500.0
    i = np.round(100 * np.sin(2 * np.pi * 1.1 * t) + 30 * np.sin(2 * np.pi * 17 * t)).astype(np.int64)
    ii = np.round(150 * np.sin(2 * np.pi * 1.1 * t + 0.5)).astype(np.int64)
    leads = {"I": i, "II": ii, "III": ii - i}
    leads["aVR"] = -np.trunc((i + ii) / 2).astype(np.int64)
    leads["aVL"] = np.trunc((i - leads["III"]) / 2).astype(np.int64)
    leads["aVF"] = np.trunc((ii + leads["III"]) / 2).astype(np.int64)
    for k in range(1, 7):
        leads[f"V{k}"] = np.round(80 * k * np.sin(2 * np.pi * 1.1 * t + k)).astype(np.int64)
    return leads


def test_synthetic_xli_file(tmp_path: Path) -> None:
    n = 1000
    leads = _synthetic_leads(n)
    stored = dict(leads)
    for name in ("III", "aVR", "aVL", "aVF"):
        stored[name] = np.zeros(n, dtype=np.int64)  # exact limb leads: zero residuals
    payload = b""
    for name in STANDARD_12:
        x = stored[name]
        payload += _xli_encode_lead(x, first=int(2 * x[1] - x[0] - x[2]))
    path = tmp_path / "synthetic.xml"
    _synthetic_sierra(path, payload, compression="XLI", n_samples=n)
    rec = read_ecg(path)
    check_record(rec, fs=500.0, n_samples=n, leads=STANDARD_12, fmt="sierra")
    for name in STANDARD_12:
        np.testing.assert_array_equal(rec.lead(name), leads[name] * 5.0)
    assert rec.start_time == datetime(2024, 2, 29, 8, 15)
    assert "calibration_pulse_uv" not in rec.source.extra


def test_synthetic_uncompressed_file(tmp_path: Path) -> None:
    n = 800
    leads = _synthetic_leads(n)
    payload = np.concatenate([leads[name] for name in STANDARD_12]).astype("<i2").tobytes()
    path = tmp_path / "raw.xml"
    _synthetic_sierra(path, payload, compression="Uncompressed", n_samples=n)
    rec = read_ecg(path)
    check_record(rec, fs=500.0, n_samples=n, leads=STANDARD_12, fmt="sierra")
    for name in STANDARD_12:
        np.testing.assert_array_equal(rec.lead(name), leads[name] * 5.0)
