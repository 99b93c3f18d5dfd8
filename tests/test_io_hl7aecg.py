"""HL7 aECG reader: samples checked against the XML digits × scale + origin."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
from conformance import check_reader_file
from conftest import data_file
from lxml import etree

from ecgpilot import detect_format, read_ecg
from ecgpilot.leads import STANDARD_12

NS = {"h": "urn:hl7-org:v3"}


def _rhythm_lead(path: Path, code: str) -> tuple[np.ndarray, float, float]:
    """Digits, scale and origin (µV) of one lead of the RHYTHM series, via XPath."""
    root = etree.parse(str(path)).getroot()
    seq = root.xpath(
        "h:component/h:series[h:code/@code='RHYTHM']/h:component/h:sequenceSet/h:component/"
        f"h:sequence[h:code/@code='{code}']/h:value",
        namespaces=NS,
    )[0]
    scale = seq.find("h:scale", NS)
    origin = seq.find("h:origin", NS)
    assert scale.get("unit") == "uV" and origin.get("unit") == "uV"
    digits = np.array(seq.find("h:digits", NS).text.split(), dtype=float)
    return digits, float(scale.get("value")), float(origin.get("value"))


def test_fda_example_rhythm_series() -> None:
    path = data_file("format-samples", "hl7-aecg", "fda-aecg-python", "Example aECG.xml")
    known = {}
    for code, lead, idx in (("MDC_ECG_LEAD_I", "I", 0), ("MDC_ECG_LEAD_V3", "V3", 2000),
                            ("MDC_ECG_LEAD_AVF", "aVF", 4999)):
        digits, scale, origin = _rhythm_lead(path, code)
        known[(lead, idx)] = origin + scale * digits[idx]
    rec = check_reader_file(path, fmt="hl7aecg", fs=500.0, n_samples=5000, known_samples=known, atol_uv=1e-3)
    assert sorted(rec.leads) == sorted(STANDARD_12)
    assert rec.start_time == datetime(2002, 11, 22, 9, 10, 0)
    assert rec.patient.family_name == "Clark" and rec.patient.sex == "M"
    assert rec.patient.birth_date == date(1953, 5, 8) and rec.patient.age_years == 46.0
    assert rec.source.manufacturer == "Mortara Instrument, Inc." and rec.source.device == "ELI250"


def test_liryc_mindray_100hz() -> None:
    path = data_file("format-samples", "hl7-aecg", "liryc-hl7v3-aecg", "hl7aecg_example.xml")
    digits, scale, origin = _rhythm_lead(path, "MDC_ECG_LEAD_V4")
    rec = check_reader_file(path, fmt="hl7aecg", fs=100.0, n_samples=1000, leads=STANDARD_12,
                            known_samples={("V4", 500): origin + scale * digits[500]}, atol_uv=1e-3)
    assert rec.source.device == "BeneHeart R12"
    np.testing.assert_allclose(rec.lead("V4"), origin + scale * digits, atol=1e-3)


def test_minimum_aecg_is_read_as_what_it_holds() -> None:
    """The FDA minimal example: one lead II of 13 samples; read, not padded or invented."""
    path = data_file("format-samples", "hl7-aecg", "fda-aecg-python", "minimum_aecg.xml")
    assert detect_format(path) == "hl7aecg"
    rec = read_ecg(path)
    digits, scale, origin = _rhythm_lead(path, "MDC_ECG_LEAD_II")
    assert rec.leads == ("II",) and rec.fs == 500.0 and rec.n_samples == 13
    np.testing.assert_allclose(rec.lead("II"), origin + scale * digits)


def test_philips_converted_aecg_matches_its_sierra_original() -> None:
    """Philips' own aECG export of a Sierra XML: same leads and rate, same samples
    (the aECG keeps the 1 s calibration tail the Sierra reader cuts)."""
    folder = ("format-samples", "philips-sierra-xml", "1_04")
    xml = check_reader_file(data_file(*folder, "ad4d3d80-d165_1-04_converted.xml"), fmt="hl7aecg", fs=500.0,
                            n_samples=5500, leads=STANDARD_12)
    orig = read_ecg(data_file(*folder, "ad4d3d80-d165_1-04_orig.xml"))
    diff = xml.signal[:, : orig.n_samples] - orig.signal
    assert float(np.median(np.abs(diff))) == 0.0
    assert float(np.mean(np.abs(diff) <= 5.0)) > 0.95  # within one 5 µV step
    assert float(np.max(np.abs(diff))) <= 25.0
    assert xml.source.manufacturer == "Philips Medical Systems" and xml.patient.sex == "F"
