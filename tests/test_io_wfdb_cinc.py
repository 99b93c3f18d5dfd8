"""WFDB headers of the PhysioNet/CinC 2020-2021 challenges (record named ``E00271.mat``, MATLAB v4
``val`` signal, ``#Age``/``#Sex``/``#Dx`` comments), on the generated fixture
tests/fixtures/cinc2020 (see its make_fixture.py) and variants of it."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from ecgpilot import read_ecg
from ecgpilot.errors import CorruptFileError, UnsupportedFormatError
from ecgpilot.io import detect_format
from ecgpilot.leads import STANDARD_12

FIXTURE = Path(__file__).parent / "fixtures" / "cinc2020"
HEA = FIXTURE / "E00271.hea"


def _raw_frames() -> np.ndarray:
    """The .mat's int16 samples decoded by hand: 20-byte v4 header + 'val\\0', then the
    (12, 1000) matrix column by column, i.e. one frame of 12 samples after another."""
    buf = (FIXTURE / "E00271.mat").read_bytes()
    assert np.frombuffer(buf[:20], "<i4").tolist() == [30, 12, 1000, 0, 4] and buf[20:24] == b"val\0"
    return np.frombuffer(buf[24:], "<i2").reshape(1000, 12)


def test_header_variant_is_what_wfdb_python_refuses() -> None:
    wfdb = pytest.importorskip("wfdb")
    assert HEA.read_text().splitlines()[0] == "E00271.mat 12 500 1000"
    with pytest.raises(Exception, match="record line"):
        wfdb.rdheader(str(HEA.with_suffix("")))


@pytest.mark.parametrize("name", ["E00271.hea", "E00271.mat"])
def test_reads_samples_leads_gain_and_patient(name: str) -> None:
    rec = read_ecg(FIXTURE / name)
    assert detect_format(FIXTURE / name) == "wfdb"
    assert rec.leads == STANDARD_12 and rec.fs == 500.0 and rec.n_samples == 1000
    raw = _raw_frames()
    # gain 1000/mV, baseline 0: one count is one µV; lead k at sample 0 is 10 k counts
    np.testing.assert_array_equal(rec.signal, raw.T.astype(np.float32))
    assert rec.lead("I")[0] == 0.0 and rec.lead("V6")[0] == 110.0 and rec.lead("II")[1] == 14.0
    assert (rec.patient.sex, rec.patient.age_years) == ("F", 63.0)
    assert rec.source.extra["dx_snomed_ct"] == ["426783006"]
    assert rec.source.description == "WFDB record E00271"
    assert rec.start_time is None


def _variant(tmp_path: Path, *, record_line: str | None = None, comments: list[str] | None = None,
             val: np.ndarray | None = None, mat_format: str = "4") -> Path:
    text = HEA.read_text()
    lines = text.splitlines()
    if record_line is not None:
        lines[0] = record_line
    if comments is not None:
        lines = [s for s in lines if not s.startswith("#")] + comments
    hea = tmp_path / "E00271.hea"
    hea.write_text("\n".join(lines) + "\n")
    if val is None:
        shutil.copy(FIXTURE / "E00271.mat", tmp_path / "E00271.mat")
    else:
        scipy.io.savemat(str(tmp_path / "E00271.mat"), {"val": val}, format=mat_format)
    return hea


@pytest.mark.parametrize("comments, sex, age", [
    (["#Age: 54", "#Sex: Male"], "M", 54.0),
    (["#Age: NaN", "#Sex: Unknown"], "U", None),
    (["#Age: 7", "#Sex: F"], "F", 7.0),
    (["#Age: 162", "#Sex: M"], "M", None),  # impossible age: not given
    (["#Age: -1", "#Sex: NaN"], None, None),
    (["#Dx: 164889003,59118001"], None, None),
])
def test_age_and_sex_comment_values(tmp_path: Path, comments: list[str], sex: str | None,
                                    age: float | None) -> None:
    rec = read_ecg(_variant(tmp_path, comments=comments))
    assert (rec.patient.sex, rec.patient.age_years) == (sex, age)


def test_two_diagnosis_codes(tmp_path: Path) -> None:
    rec = read_ecg(_variant(tmp_path, comments=["#Age: 60", "#Sex: Male", "#Dx: 164889003,59118001"]))
    assert rec.source.extra["dx_snomed_ct"] == ["164889003", "59118001"]


def test_cpsc_record_line_with_its_date(tmp_path: Path) -> None:
    """CPSC 2018 headers in the 2020 challenge: 'A0001 12 500 7500 05-Feb-2020 11:39:16'."""
    rec = read_ecg(_variant(tmp_path, record_line="E00271 12 500 1000 05-Feb-2020 11:39:16"))
    assert rec.start_time == datetime(2020, 2, 5, 11, 39, 16)
    assert rec.n_samples == 1000 and rec.patient.age_years == 63.0


def test_suffixed_name_with_a_wfdb_date_keeps_the_date(tmp_path: Path) -> None:
    rec = read_ecg(_variant(tmp_path, record_line="E00271.mat 12 500 1000 11:39:16 05/02/2020"))
    assert rec.start_time == datetime(2020, 2, 5, 11, 39, 16)


def test_transposed_val_is_refused(tmp_path: Path) -> None:
    """'val' saved as (n_samples, n_signals) would be read as scrambled samples."""
    val = _raw_frames().copy()  # (1000, 12)
    with pytest.raises(CorruptFileError, match=r"1000 x 12 matrix.*\(12, 1000\)"):
        read_ecg(_variant(tmp_path, val=val))


def test_matlab_v5_signal_file_is_refused(tmp_path: Path) -> None:
    val = _raw_frames().T.copy()
    with pytest.raises(UnsupportedFormatError, match="MATLAB v5.*format='4'"):
        read_ecg(_variant(tmp_path, val=val, mat_format="5"))


def test_cinc2017_single_lead_still_reads() -> None:
    from conftest import data_file

    rec = read_ecg(data_file("cinc2017-subset", "A00001.hea"))
    assert rec.leads == ("ECG",) and rec.fs == 300.0 and rec.n_samples == 9000
    assert rec.start_time == datetime(2014, 5, 8, 5, 5, 15)
