"""WFDB reader on LUDB, CinC 2017 and MIT-BIH, against values decoded by hand."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conformance import check_reader_file
from conftest import data_file

from ecgpilot import read_ecg
from ecgpilot.io import wfdb as wfdb_reader
from ecgpilot.leads import STANDARD_12


def _hand_decoded_format16(hea: Path, offset: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Raw int16 samples (n_samples, n_sig) and (gain, baseline) per signal, read by hand."""
    lines = [s for s in hea.read_text().splitlines() if s.strip() and not s.startswith("#")]
    n_sig = int(lines[0].split()[1])
    gains = []
    for line in lines[1 : 1 + n_sig]:
        field = line.split()[2]  # e.g. '1716(6)/mV' or '1000/mV'
        gain_text = field.split("/")[0]
        if "(" in gain_text:
            g, b = gain_text.rstrip(")").split("(")
        else:
            g, b = gain_text, "0"
        gains.append((float(g), float(b)))
    dat = hea.parent / lines[1].split()[0]
    raw = np.frombuffer(dat.read_bytes()[offset:], dtype="<i2").reshape(-1, n_sig)
    return raw, gains


def test_ludb_record_1_conformance_and_hand_decoded_samples() -> None:
    hea = data_file("ludb", "data", "1.hea")
    raw, gains = _hand_decoded_format16(hea)
    known = {}
    for lead, idx in (("I", 1000), ("V6", 2500), ("aVR", 4999)):
        j = STANDARD_12.index(lead)
        gain, base = gains[j]
        known[(lead, idx)] = (raw[idx, j] - base) / gain * 1000.0
    rec = check_reader_file(
        hea, fmt="wfdb", fs=500.0, n_samples=5000, leads=STANDARD_12, known_samples=known, atol_uv=0.01
    )
    assert rec.patient.age_years == 51.0 and rec.patient.sex == "F"
    assert rec.source.device_statements[0] == "Rhythm: Sinus bradycardia."
    assert "Left ventricular hypertrophy." in rec.source.device_statements


def test_ludb_record_1_equals_wfdb_rdrecord_in_microvolts() -> None:
    wfdb = pytest.importorskip("wfdb")
    hea = data_file("ludb", "data", "1.hea")
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    assert ref.units[0] == "mV"
    rec = read_ecg(hea)
    np.testing.assert_allclose(rec.signal, ref.p_signal.T * 1000.0, atol=1e-3, rtol=1e-6)
    # the signal file path reads the same record
    np.testing.assert_array_equal(read_ecg(hea.with_suffix(".dat")).signal, rec.signal)


def test_cinc2017_single_lead_mat_with_iso_base_date() -> None:
    hea = data_file("cinc2017-subset", "A00001.hea")
    fields = hea.read_text().splitlines()[1].split()
    first_value = float(fields[5])  # header 'initial value' of the signal: -127
    raw, gains = _hand_decoded_format16(hea, offset=24)  # format 16+24
    gain, base = gains[0]
    known = {("ECG", 0): first_value / gain * 1000.0, ("ECG", 4321): (raw[4321, 0] - base) / gain * 1000.0}
    mat = hea.with_suffix(".mat")
    rec = check_reader_file(mat, fmt="wfdb", fs=300.0, n_samples=9000, leads=("ECG",), known_samples=known)
    assert rec.start_time == datetime(2014, 5, 8, 5, 5, 15)


@pytest.fixture(scope="module")
def mitdb_100(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tarball = data_file("mitdb", "mitdb.tar.xz")
    out = tmp_path_factory.mktemp("mitdb")
    with tarfile.open(tarball, "r:xz") as tar:
        members = [m for m in tar.getmembers() if Path(m.name).name in ("100.hea", "100.dat")]
        if len(members) != 2:
            pytest.skip("record 100 not found in mitdb.tar.xz")
        for m in members:
            m.name = Path(m.name).name
            tar.extract(m, out, filter="data")
    return out / "100.hea"


def test_mitdb_100_two_leads_format_212(mitdb_100: Path) -> None:
    lines = mitdb_100.read_text().splitlines()
    sig = [line.split() for line in lines[1:3]]
    # '100.dat 212 200 11 1024 995 ...': (initial value - ADC zero) / gain, in mV
    known = {
        ("MLII", 0): (float(sig[0][5]) - float(sig[0][4])) / float(sig[0][2]) * 1000.0,
        ("V5", 0): (float(sig[1][5]) - float(sig[1][4])) / float(sig[1][2]) * 1000.0,
    }
    rec = check_reader_file(
        mitdb_100, fmt="wfdb", fs=360.0, n_samples=650000, leads=("MLII", "V5"), known_samples=known
    )
    assert rec.patient.age_years == 69.0 and rec.patient.sex == "M"


def test_sniff_decides_from_content(tmp_path: Path) -> None:
    hea = data_file("ludb", "data", "1.hea")
    head = hea.read_bytes()
    assert wfdb_reader.sniff(head, tmp_path / "renamed.txt")
    assert not wfdb_reader.sniff(b"time_s,I,II\n0,1,2\n", tmp_path / "x.hea")
    assert not wfdb_reader.sniff(b"just some words\n", tmp_path / "notes.txt")


def test_qtdb_two_unnamed_leads_are_both_read():
    """QT Database records name their two Holter leads ECG1 and ECG2: both are kept (ECG1 is the
    single-lead alias 'ECG'), not one dropped as a duplicate or an unknown name."""
    from ecgpilot.io import read_ecg

    rec = read_ecg(data_file("qtdb", "sel14046.hea"))
    assert rec.leads == ("ECG", "ECG2") and rec.fs == 250.0
    assert float(abs(rec.signal[0] - rec.signal[1]).max()) > 100.0   # two different leads


def _ludb_with_header(tmp_path: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    import shutil

    src = data_file("ludb", "data", "1.hea")
    shutil.copy(src.with_suffix(".dat"), tmp_path / "1.dat")
    lines = src.read_text().splitlines()
    (tmp_path / "1.hea").write_text("\n".join(edit(lines)) + "\n")
    return tmp_path / "1.hea"


def test_multi_segment_record_is_refused_in_words(tmp_path: Path) -> None:
    from ecgpilot.errors import UnsupportedFormatError

    hea = tmp_path / "m.hea"
    hea.write_text("m/2 12 500 10000\nm_1 5000\nm_2 5000\n")
    with pytest.raises(UnsupportedFormatError, match="multi-segment WFDB record"):
        read_ecg(hea)


def test_signal_file_given_as_a_path_is_refused(tmp_path: Path) -> None:
    from ecgpilot.errors import ReadError

    hea = _ludb_with_header(tmp_path, lambda ls: [ls[0], ls[1].replace("1.dat", "../1.dat", 1), *ls[2:]])
    with pytest.raises(ReadError, match=r"'\.\./1\.dat', which is a path"):
        read_ecg(hea)


def test_signal_lines_must_match_the_declared_count(tmp_path: Path) -> None:
    from ecgpilot.errors import CorruptFileError

    hea = _ludb_with_header(tmp_path, lambda ls: [ls[0], *ls[1:13], ls[12]])  # 13 lines for 12 signals
    with pytest.raises(CorruptFileError, match="declares 12 signal.*13 signal line"):
        read_ecg(hea)


def test_one_file_with_two_formats_is_refused(tmp_path: Path) -> None:
    from ecgpilot.errors import CorruptFileError

    hea = _ludb_with_header(tmp_path, lambda ls: [ls[0], ls[1].replace("1.dat 16 ", "1.dat 61 ", 1), *ls[2:]])
    with pytest.raises(CorruptFileError, match=r"formats \[16, 61\]"):
        read_ecg(hea)


def test_gain_zero_means_200_per_mv_and_missing_baseline_is_the_adc_zero(tmp_path: Path) -> None:
    """header(5): a gain of 0 is 200 units per mV; without '(baseline)', the ADC zero field is the baseline."""
    def edit(lines: list[str]) -> list[str]:
        f = lines[1].split()  # '1.dat 16 1716(6)/mV 0 0 -120 -32198 0 i'
        f[2], f[4] = "0/mV", "25"
        return [lines[0], " ".join(f), *lines[2:]]

    hea = _ludb_with_header(tmp_path, edit)
    raw, _ = _hand_decoded_format16(data_file("ludb", "data", "1.hea"))
    got = read_ecg(hea).lead("I")
    np.testing.assert_allclose(got, (raw[:, 0] - 25) / 200.0 * 1000.0, rtol=1e-6)
    assert wfdb_reader.read_header(hea).signals[0].gain == 200.0
