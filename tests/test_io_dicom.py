"""DICOM waveform reader: known samples from the raw bytes × ChannelSensitivity."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from conformance import check_reader_file
from conftest import data_file

from ecgpilot import read_ecg
from ecgpilot.leads import STANDARD_12

pydicom = pytest.importorskip("pydicom")


def _raw_rhythm(path: Path) -> tuple[np.ndarray, list[float]]:
    """Rhythm group's int16 samples (n_samples, n_channels) from the WaveformData bytes,
    and each channel's sensitivity (µV per count), without pydicom's waveform decoding."""
    ds = pydicom.dcmread(str(path))
    group = ds.WaveformSequence[0]
    assert group.MultiplexGroupLabel == "RHYTHM"
    n_ch = int(group.NumberOfWaveformChannels)
    raw = np.frombuffer(group.WaveformData, dtype="<i2").reshape(-1, n_ch)
    sens = [float(ch.ChannelSensitivity) for ch in group.ChannelDefinitionSequence]
    units = {ch.ChannelSensitivityUnitsSequence[0].CodeValue for ch in group.ChannelDefinitionSequence}
    assert units == {"uV"}
    return raw, sens


def test_mortara_waveform_1000hz() -> None:
    path = data_file("format-samples", "dicom", "waveform_ecg.dcm")
    raw, sens = _raw_rhythm(path)
    known = {(lead, i): raw[i, STANDARD_12.index(lead)] * sens[STANDARD_12.index(lead)]
             for lead, i in (("I", 0), ("II", 5000), ("V5", 9999), ("aVF", 1234))}
    rec = check_reader_file(path, fmt="dicom", fs=1000.0, n_samples=10000, leads=STANDARD_12,
                            known_samples=known, atol_uv=1e-3)
    assert rec.source.manufacturer == "Mortara Instrument, Inc."
    assert rec.start_time == datetime(2013, 1, 25, 10, 59, 19)
    assert rec.patient.sex == "F" and rec.patient.birth_date == date(1971, 1, 23)
    assert rec.patient.family_name == "Anonymous" and rec.patient.age_years == 42.0


def test_ecgtoolkit_example_500hz_not_the_median_beats() -> None:
    path = data_file("format-samples", "ecgtoolkit-examples", "Example.dcm")
    raw, sens = _raw_rhythm(path)
    known = {("V2", 0): raw[0, 7] * sens[7], ("III", 2500): raw[2500, 2] * sens[2]}
    rec = check_reader_file(path, fmt="dicom", fs=500.0, n_samples=5000, leads=STANDARD_12,
                            known_samples=known, atol_uv=1e-3)
    assert rec.n_samples == 5000  # the median-beat group has 600
    assert rec.patient.family_name == "Clark" and rec.patient.sex == "M"


def test_dicom_and_hl7_twins_agree() -> None:
    """The ECG Toolkit Example.dcm and the FDA 'Example aECG.xml' hold the same recording;
    two independent decoders must give the same µV."""
    dcm = read_ecg(data_file("format-samples", "ecgtoolkit-examples", "Example.dcm"))
    xml = read_ecg(data_file("format-samples", "hl7-aecg", "fda-aecg-python", "Example aECG.xml"))
    assert dcm.fs == xml.fs and dcm.n_samples == xml.n_samples
    for lead in STANDARD_12:
        np.testing.assert_allclose(dcm.lead(lead), xml.lead(lead), atol=1e-3, err_msg=lead)


@pytest.mark.parametrize(
    ("meaning", "value", "expected"),
    [
        ("Lead I (Einthoven)", "5.6.3-9-1", "I"),
        ("Lead aVR", "2:62", "aVR"),
        ("", "2:61", "III"),
        ("unknown text", "5.6.3-9-8", "V6"),
        ("", "131135", "aVL"),
    ],
)
def test_channel_lead_codes(meaning: str, value: str, expected: str) -> None:
    from pydicom.dataset import Dataset

    from ecgpilot.io.dicom import channel_lead

    src = Dataset()
    src.CodeMeaning = meaning
    src.CodeValue = value
    ch = Dataset()
    ch.ChannelSourceSequence = [src]
    assert channel_lead(ch) == expected
