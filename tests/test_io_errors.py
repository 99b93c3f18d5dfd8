"""Malformed, truncated, empty and unsupported input: clear project errors, never a
traceback from a library nor a silently shorter or wrong signal."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file

from ecgpilot import read_ecg
from ecgpilot.errors import CorruptFileError, ReadError, UnsupportedFormatError


def _copy_ludb(tmp_path: Path, record: str = "1") -> Path:
    for ext in (".hea", ".dat"):
        shutil.copy(data_file("ludb", "data", record + ext), tmp_path / (record + ext))
    return tmp_path / (record + ".hea")


# -- read_ecg itself ------------------------------------------------------------

def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="File not found"):
        read_ecg(tmp_path / "nope.xml")
    with pytest.raises(ReadError, match="is a folder"):
        read_ecg(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "a_empty.edf"
    path.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        read_ecg(path)


def test_garbage_bytes_are_not_recognised(tmp_path: Path) -> None:
    path = tmp_path / "a_garbage.bin"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedFormatError, match="not a recognised ECG file"):
        read_ecg(path)


# -- WFDB -------------------------------------------------------------------------

def test_wfdb_truncated_dat_is_refused_not_shortened(tmp_path: Path) -> None:
    hea = _copy_ludb(tmp_path)
    dat = hea.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:-2400])
    with pytest.raises(CorruptFileError, match="truncated"):
        read_ecg(hea)


def test_wfdb_missing_signal_file(tmp_path: Path) -> None:
    hea = _copy_ludb(tmp_path)
    hea.with_suffix(".dat").unlink()
    with pytest.raises(CorruptFileError, match="not beside it"):
        read_ecg(hea)


def test_wfdb_header_declaring_more_samples(tmp_path: Path) -> None:
    hea = _copy_ludb(tmp_path)
    hea.write_text(hea.read_text().replace("1 12 500 5000", "1 12 500 6000", 1))
    with pytest.raises(CorruptFileError, match="declares 6000 samples"):
        read_ecg(hea)


def test_wfdb_unknown_units(tmp_path: Path) -> None:
    hea = _copy_ludb(tmp_path)
    hea.write_text(hea.read_text().replace("/mV", "/mmHg"))
    with pytest.raises(UnsupportedFormatError, match="units 'mmHg'"):
        read_ecg(hea)


def test_wfdb_broken_header_numbers(tmp_path: Path) -> None:
    hea = _copy_ludb(tmp_path)
    hea.write_text(hea.read_text().replace("1 12 500 5000", "1 12 fast 5000", 1))
    with pytest.raises(CorruptFileError, match="numeric sampling rate"):
        read_ecg(hea, format="wfdb")


# -- EDF --------------------------------------------------------------------------

def test_edf_truncated(tmp_path: Path) -> None:
    src = data_file("format-samples", "contec-ecg90a", "0000050.ECG.edf")
    path = tmp_path / "a_cut.edf"
    path.write_bytes(src.read_bytes()[:-1000])
    with pytest.raises(CorruptFileError, match="truncated"):
        read_ecg(path)


def test_edf_bad_header_numbers(tmp_path: Path) -> None:
    src = data_file("format-samples", "contec-ecg90a", "0000050.ECG.edf").read_bytes()
    path = tmp_path / "a_badhdr.edf"
    path.write_bytes(src[:244] + b"abcdefgh" + src[252:])  # record duration
    with pytest.raises(CorruptFileError, match="not a number"):
        read_ecg(path)
    path.write_bytes(src[:184] + b"9999    " + src[192:])  # header size
    with pytest.raises(CorruptFileError):
        read_ecg(path, format="edf")


# -- DICOM ------------------------------------------------------------------------

def test_dicom_truncated(tmp_path: Path) -> None:
    src = data_file("format-samples", "dicom", "waveform_ecg.dcm").read_bytes()
    path = tmp_path / "a_cut.dcm"
    path.write_bytes(src[: len(src) // 2])
    with pytest.raises(CorruptFileError):
        read_ecg(path)


def test_dicom_preamble_then_garbage(tmp_path: Path) -> None:
    path = tmp_path / "a_garbage.dcm"
    path.write_bytes(b"\x00" * 128 + b"DICM" + b"\xff\x13garbage" * 50)
    with pytest.raises(ReadError):
        read_ecg(path)


# -- HL7 aECG ---------------------------------------------------------------------

def test_aecg_truncated_xml(tmp_path: Path) -> None:
    src = data_file("format-samples", "hl7-aecg", "liryc-hl7v3-aecg", "hl7aecg_example.xml").read_bytes()
    path = tmp_path / "a_cut.xml"
    path.write_bytes(src[: len(src) // 2])
    with pytest.raises(CorruptFileError, match="not well-formed"):
        read_ecg(path)


def test_aecg_bad_digits_and_missing_increment(tmp_path: Path) -> None:
    src = data_file("format-samples", "hl7-aecg", "fda-aecg-python", "minimum_aecg.xml").read_text()
    path = tmp_path / "a_bad.xml"
    path.write_text(src.replace("-2 -2 -2 -2 -3", "-2 -2 x7 -2 -3"))
    with pytest.raises(CorruptFileError, match="'x7'"):
        read_ecg(path)
    path.write_text(src.replace('<increment value="0.002" unit="s"/>', ""))
    with pytest.raises(CorruptFileError, match="sampling rate is unknown"):
        read_ecg(path)
    path.write_text(src.replace('<scale value="2.5" unit="uV"/>', '<scale value="2.5" unit="mmHg"/>'))
    with pytest.raises(UnsupportedFormatError, match="mmHg"):
        read_ecg(path)


# -- CSV --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# fs=500\n# units=uV\nI,II\n1,2\n3\n", "has 1 cells"),
        ("# fs=500\n# units=uV\nI,II\n1,2\n3,abc\n", "not a finite number"),
        ("# fs=500\n# units=uV\nI,II\n1,2\n3,\n", "empty cells"),
        ("# fs=500\n# units=uV\nI,II\n", "no rows of samples"),
        ("# units=uV\ntime_s,I\n0,1\n0.002,2\n0.010,3\n0.012,4\n", "not regularly increasing"),
    ],
)
def test_csv_malformed(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "a_bad.csv"
    path.write_text(text)
    with pytest.raises(CorruptFileError, match=message):
        read_ecg(path)
