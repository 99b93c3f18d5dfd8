"""The same samples written in other physical units must give the same microvolts.

Each test rewrites a real file's units (and the matching gain/scale) in a copy and
compares with the intact file: a wrong unit factor shows as a factor of 1000.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file

from ecgpilot import read_ecg


def _gain_field(value: float, baseline: str, unit: str) -> str:
    return f"{value:.10g}({baseline}){'/' + unit}"


@pytest.mark.parametrize(("unit", "per_mv"), [("uV", 1e-3), ("V", 1e3)])
def test_wfdb_gain_per_microvolt_or_volt(unit: str, per_mv: float, tmp_path: Path) -> None:
    """'1716(6)/mV' is the same gain as '1.716(6)/uV' and '1716000(6)/V'."""
    hea = data_file("ludb", "data", "1.hea")
    intact = read_ecg(hea)
    lines = hea.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:13]:
        tokens = line.split()
        gain, rest = tokens[2].split("(")
        baseline, units = rest.split(")")
        assert units == "/mV"
        tokens[2] = _gain_field(float(gain) * per_mv, baseline, unit)
        out.append(" ".join(tokens))
    shutil.copy(hea.with_suffix(".dat"), tmp_path / "1.dat")
    (tmp_path / "1.hea").write_text("\n".join(out + lines[13:]) + "\n")
    got = read_ecg(tmp_path / "1.hea")
    assert got.leads == intact.leads
    np.testing.assert_allclose(got.signal, intact.signal, rtol=1e-5, atol=0.01)


def test_dicom_sensitivity_in_millivolts(tmp_path: Path) -> None:
    """ChannelSensitivity 1.25 uV per count == 0.00125 mV per count."""
    pydicom = pytest.importorskip("pydicom")
    src = data_file("format-samples", "dicom", "waveform_ecg.dcm")
    intact = read_ecg(src)
    ds = pydicom.dcmread(str(src))
    for ch in ds.WaveformSequence[0].ChannelDefinitionSequence:
        code = ch.ChannelSensitivityUnitsSequence[0]
        assert code.CodeValue == "uV"
        code.CodeValue, code.CodeMeaning = "mV", "millivolt"
        ch.ChannelSensitivity = f"{float(ch.ChannelSensitivity) / 1000.0:.10g}"
    out = tmp_path / "a_mv.dcm"
    ds.save_as(str(out))
    got = read_ecg(out)
    assert got.leads == intact.leads
    np.testing.assert_allclose(got.signal, intact.signal, rtol=1e-5, atol=1e-3)


def test_aecg_scale_and_origin_in_millivolts(tmp_path: Path) -> None:
    """scale 2.5 uV == 0.0025 mV; an origin of 0.1 mV adds 100 µV to every sample."""
    src = data_file("format-samples", "hl7-aecg", "fda-aecg-python", "Example aECG.xml")
    intact = read_ecg(src)
    text = src.read_text(encoding="utf-8")
    assert text.count('<scale value="2.5" unit="uV"/>') == text.count('<origin value="0" unit="uV"/>') > 0
    text = text.replace('<scale value="2.5" unit="uV"/>', '<scale value="0.0025" unit="mV"/>')
    text = text.replace('<origin value="0" unit="uV"/>', '<origin value="0.1" unit="mV"/>')
    out = tmp_path / "a_mv.xml"
    out.write_text(text, encoding="utf-8")
    got = read_ecg(out)
    assert got.leads == intact.leads
    np.testing.assert_allclose(got.signal, intact.signal + 100.0, rtol=1e-5, atol=1e-3)
