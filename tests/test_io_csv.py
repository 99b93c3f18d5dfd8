"""CSV reader: the documented layout, the Contec export, and the numbers in the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conformance import check_reader_file
from conftest import data_file

from ecgpilot import detect_format, read_ecg
from ecgpilot.errors import UnsupportedFormatError

CONTEC_HEADER = "# fs=800\n# units=uV\nI,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6\n"


def test_contec_csv_without_header_is_refused_with_a_fix() -> None:
    path = data_file("format-samples", "contec-ecg90a", "0000050.ECG.csv")
    assert detect_format(path) == "csv"
    with pytest.raises(UnsupportedFormatError, match="no header row") as err:
        read_ecg(path)
    assert "# fs=" in str(err.value) and "docs/csv-format.md" in str(err.value)


def test_contec_csv_with_documented_header(tmp_path: Path) -> None:
    src = data_file("format-samples", "contec-ecg90a", "0000050.ECG.csv")
    text = src.read_text()
    rows = text.splitlines()
    # numbers as printed in the file: first row, and row 20000
    first = [float(c) for c in rows[0].split(",")[:6]]
    mid = [float(c) for c in rows[20000].split(",")[:6]]
    path = tmp_path / "a_contec.csv"
    path.write_text(CONTEC_HEADER + text)
    known = {("I", 0): first[0], ("aVF", 0): first[5], ("III", 20000): mid[2]}
    rec = check_reader_file(path, fmt="csv", fs=800.0, n_samples=len(rows),
                            leads=("I", "II", "III", "aVR", "aVL", "aVF"), known_samples=known, atol_uv=1e-6)
    assert rec.source.extra["empty_leads"] == ["V1", "V2", "V3", "V4", "V5", "V6"]


def test_contec_csv_scaled_like_its_edf_twin(tmp_path: Path) -> None:
    """With the EDF twin's count size the CSV gives the EDF's µV (up to the EDF's half-count offset)."""
    src = data_file("format-samples", "contec-ecg90a", "0000050.ECG.csv")
    edf = read_ecg(data_file("format-samples", "contec-ecg90a", "0000050.ECG.edf"))
    path = tmp_path / "a_contec_scaled.csv"
    path.write_text(f"# fs=800\n# units=mV\n# scale={2000 / 65535!r}\nI,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6\n"
                    + src.read_text())
    rec = read_ecg(path)
    half_count = 1000.0 / 65535  # mV -> µV of half a count
    np.testing.assert_allclose(rec.lead("II"), edf.lead("II") - half_count * 1000.0, atol=1e-2)


def test_semicolon_decimal_comma_time_ms_and_unit_suffix(tmp_path: Path) -> None:
    path = tmp_path / "a_semicolon.csv"
    t = np.arange(1000) * 2  # ms, 500 Hz
    ii = np.round(1.2 * np.sin(2 * np.pi * 1.2 * t / 1000), 3)
    lines = ["time_ms;II (mV);V1 [uV]"] + [f"{a};{str(b).replace('.', ',')};{int(a) % 300}" for a, b in zip(t, ii)]
    path.write_text("\n".join(lines) + "\n")
    rec = read_ecg(path)
    assert rec.fs == 500.0 and rec.leads == ("II", "V1")
    np.testing.assert_allclose(rec.lead("II"), ii * 1000.0, atol=1e-3)
    np.testing.assert_allclose(rec.lead("V1"), t % 300, atol=1e-6)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# units=uV\nI,II\n1,2\n3,4\n", "sampling rate is unknown"),
        ("# fs=500\nI,II\n1,2\n3,4\n", "units of lead I are not given"),
        ("# fs=500\n# units=mmHg\nI,II\n1,2\n", "unit 'mmHg'"),
        ("# fs=500\n# units=uV\nI,Foo\n1,2\n", "Unknown lead name 'Foo'"),
        ("# fs=500\ntime_s,I (mV)\n0,1\n0.01,2\n", "disagrees with the time column"),
        ("# fs=abc\n# units=uV\nI\n1\n", "is not a number of Hz"),
    ],
)
def test_ambiguous_input_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "a_bad.csv"
    path.write_text(text)
    with pytest.raises(UnsupportedFormatError, match=message):
        read_ecg(path, format="csv")
