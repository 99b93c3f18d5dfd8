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


# -- one table for every reader (issue 25) ------------------------------------------------------

@pytest.mark.parametrize(("unit", "factor"), [
    ("uV", 1.0), ("µV", 1.0), ("μV", 1.0), (" UV ", 1.0), ("mV", 1e3), ("MV", 1e3), ("V", 1e6), ("nV", 1e-3),
    ("MICROVOLTS", 1.0), ("MILLIVOLTS", 1e3), ("NANOVOLTS", 1e-3), ("VOLTS", 1e6),
])
def test_unit_factor_to_microvolts(unit: str, factor: float) -> None:
    from ecgpilot.io._units import unit_factor

    assert unit_factor(unit) == factor


@pytest.mark.parametrize("unit", ["mmHg", "", None, "uv/s", "kV"])
def test_unit_factor_refuses_naming_the_unit_and_the_accepted_ones(unit: str | None) -> None:
    from ecgpilot.errors import UnsupportedFormatError
    from ecgpilot.io._units import unit_factor

    with pytest.raises(UnsupportedFormatError) as info:
        unit_factor(unit, where="'a.csv': lead II", what="unit", hint="Write the header as 'II (mV)'.")
    text = str(info.value)
    assert text.startswith(f"'a.csv': lead II: unit {unit!r} is not")
    assert "accepted: nV, uV (µV), mV, V" in text and text.endswith("Write the header as 'II (mV)'.")


def test_every_reader_uses_the_one_table() -> None:
    """No reader keeps its own unit table: the ones that export UNIT_TO_UV export the shared one."""
    import importlib

    from ecgpilot.io import READERS
    from ecgpilot.io._units import UNIT_TO_UV

    exported = 0
    for name in READERS:
        mod = importlib.import_module(f"ecgpilot.io.{name}")
        tables = [k for k, v in vars(mod).items() if "UNIT_TO_UV" in k.upper() and k != "UNIT_TO_UV"]
        assert tables == [], f"ecgpilot.io.{name} has its own unit table(s) {tables}"
        if hasattr(mod, "UNIT_TO_UV"):
            assert mod.UNIT_TO_UV is UNIT_TO_UV
            exported += 1
    assert exported >= 5   # csv, dicom, edf, hl7aecg, wfdb


@pytest.mark.parametrize("micro", ["µV", "UV"])
def test_dicom_sensitivity_with_a_micro_sign(micro: str, tmp_path: Path) -> None:
    """A DICOM code value written 'µV' (micro sign, Latin-1; it was refused) or 'UV' is the same as 'uV'.

    (The Greek mu cannot be written in DICOM's default character set: pydicom stores '?V'.)"""
    pydicom = pytest.importorskip("pydicom")
    src = data_file("format-samples", "dicom", "waveform_ecg.dcm")
    intact = read_ecg(src)
    ds = pydicom.dcmread(str(src))
    for ch in ds.WaveformSequence[0].ChannelDefinitionSequence:
        ch.ChannelSensitivityUnitsSequence[0].CodeValue = micro
    out = tmp_path / "a_micro.dcm"
    ds.save_as(str(out))
    np.testing.assert_array_equal(read_ecg(out).signal, intact.signal)


@pytest.mark.parametrize(("header_unit", "factor"), [("uV", 1.0), ("μV", 1.0), ("µV", 1.0), ("mV", 1e3), ("V", 1e6)])
def test_csv_header_units(header_unit: str, factor: float, tmp_path: Path) -> None:
    """'I (μV)' and '# units=µV' give the same microvolts as 'I (uV)'; mV and V scale by 1e3 and 1e6."""
    rng = np.random.default_rng(7)
    uv = rng.integers(-900, 900, size=(2500, 2)).astype(np.float64)   # what the reader must return, in µV
    body = "\n".join(f"{a / factor:.12g},{b / factor:.12g}" for a, b in uv)
    path = tmp_path / "a.csv"
    path.write_text(f"# fs=250\nI ({header_unit}),II ({header_unit})\n{body}\n", encoding="utf-8")
    got = read_ecg(path)
    assert got.leads[:2] == ("I", "II")
    np.testing.assert_allclose(got.signal[:2].T, uv, rtol=1e-6, atol=1e-3)
    path.write_text(f"# fs=250\n# units={header_unit}\nI,II\n{body}\n", encoding="utf-8")
    np.testing.assert_allclose(read_ecg(path).signal[:2].T, uv, rtol=1e-6, atol=1e-3)
