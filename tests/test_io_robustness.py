"""Cross-format robustness of the readers on real files and damaged copies of them.

* every real sample file is claimed by at most one reader's ``sniff`` (the right one);
* a truncated copy is refused, or (when the cut only removes data after the rhythm
  signal, as a DICOM median-beat group) gives exactly the intact signal: never a
  shorter or different one;
* copies with random bytes overwritten, and WFDB headers with damaged fields, give a
  valid record or one of the project's :class:`ReadError`, never another exception.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file

from ecgpilot import ECGRecord, read_ecg
from ecgpilot.errors import ReadError
from ecgpilot.io import READERS, SNIFF_BYTES, reader_module

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on damaged UIDs

FS = "format-samples"
#: (path under the shared data, format expected from its folder's provenance, or None).
SAMPLES: tuple[tuple[tuple[str, ...], str | None], ...] = (
    ((FS, "dicom", "waveform_ecg.dcm"), "dicom"),
    ((FS, "ecgtoolkit-examples", "Example.dcm"), "dicom"),
    ((FS, "ecgtoolkit-examples", "Example.scp"), "scp"),
    ((FS, "contec-ecg90a", "0000050.ECG.edf"), "edf"),
    ((FS, "contec-ecg90a", "0000050.ECG.csv"), "csv"),
    ((FS, "contec-ecg90a", "0000050.ECG.scp"), "scp"),
    ((FS, "contec-ecg90a", "demo.scp"), "scp"),
    ((FS, "contec-ecg90a", "0000050.ECG"), None),  # Contec's own binary: not supported
    ((FS, "hl7-aecg", "fda-aecg-python", "Example aECG.xml"), "hl7aecg"),
    ((FS, "hl7-aecg", "fda-aecg-python", "minimum_aecg.xml"), "hl7aecg"),
    ((FS, "hl7-aecg", "fda-aecg-python", "subject1_0.xml"), "hl7aecg"),
    ((FS, "hl7-aecg", "liryc-hl7v3-aecg", "hl7aecg_example.xml"), "hl7aecg"),
    ((FS, "philips-sierra-xml", "1_04", "ad4d3d80-d165_1-04_converted.xml"), "hl7aecg"),
    ((FS, "philips-sierra-xml", "1_04", "ad4d3d80-d165_1-04_orig.xml"), "sierra"),
    ((FS, "ge-muse-xml", "braveheart", "example1.xml"), "muse"),
    ((FS, "ge-muse-xml", "perottelab-introecg", "FICTITIOUS_EKG.pdf"), None),
    ((FS, "scp-ecg", "healforce-pc80b", "62.SCP"), "scp"),
    (("ludb", "data", "1.hea"), "wfdb"),
    (("ludb", "data", "1.dat"), "wfdb"),
    (("ludb", "data", "1.i"), None),  # annotation file beside the record: not a signal
    (("cinc2017-subset", "A00001.mat"), "wfdb"),
    (("cinc2017-subset", "REFERENCE.csv"), None),  # labels table, no lead columns
)


@pytest.mark.parametrize(("parts", "expected"), SAMPLES, ids=lambda v: "/".join(v) if isinstance(v, tuple) else str(v))
def test_each_real_file_is_claimed_by_at_most_its_own_reader(parts: tuple[str, ...], expected: str | None) -> None:
    path = data_file(*parts)
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    claimed = [name for name in READERS if reader_module(name).sniff(head, path)]
    assert claimed == ([expected] if expected else []), f"{path.name}: sniffed by {claimed}"


# -- damaged copies of single-file formats -----------------------------------------------

SINGLE_FILES: dict[str, tuple[str, ...]] = {
    "dicom-mortara": (FS, "dicom", "waveform_ecg.dcm"),
    "dicom-toolkit": (FS, "ecgtoolkit-examples", "Example.dcm"),
    "aecg-fda": (FS, "hl7-aecg", "fda-aecg-python", "Example aECG.xml"),
    "aecg-liryc": (FS, "hl7-aecg", "liryc-hl7v3-aecg", "hl7aecg_example.xml"),
    "edf-contec": (FS, "contec-ecg90a", "0000050.ECG.edf"),
}
#: Formats whose signal runs to the end of the file: any cut must be refused.
SIGNAL_AT_END = {"edf-contec"}
FRACTIONS = (0.01, 0.1, 0.3, 0.5, 0.8, 0.95, 0.999)


def _outcome(path: Path) -> ECGRecord | ReadError:
    """The record, or the project error; any other exception fails the test."""
    try:
        return read_ecg(path)
    except ReadError as exc:
        assert str(exc), "a ReadError must carry a message"
        return exc


@pytest.mark.parametrize("key", sorted(SINGLE_FILES))
def test_truncated_copies_are_refused_or_identical(key: str, tmp_path: Path) -> None:
    src = data_file(*SINGLE_FILES[key])
    intact = read_ecg(src)
    data = src.read_bytes()
    cuts = sorted({int(len(data) * f) for f in FRACTIONS} | {len(data) - 1})
    for cut in cuts:
        p = tmp_path / f"cut{cut}{src.suffix}"
        p.write_bytes(data[:cut])
        got = _outcome(p)
        if isinstance(got, ReadError):
            continue
        assert key not in SIGNAL_AT_END, f"{key} cut to {cut} of {len(data)} bytes was read"
        assert got.leads == intact.leads and got.fs == intact.fs, f"cut at {cut}"
        np.testing.assert_array_equal(got.signal, intact.signal, err_msg=f"cut at {cut}")


@pytest.mark.parametrize("key", sorted(SINGLE_FILES))
def test_random_byte_damage_gives_a_record_or_a_read_error(key: str, tmp_path: Path) -> None:
    src = data_file(*SINGLE_FILES[key])
    data = np.frombuffer(src.read_bytes(), dtype=np.uint8)
    rng = np.random.default_rng(20261122)
    for k in range(24):
        damaged = data.copy()
        # half the copies hit the header region, half anywhere
        hi = min(len(data), 4096) if k % 2 == 0 else len(data)
        idx = rng.integers(0, hi, size=4)
        damaged[idx] = rng.integers(0, 256, size=4, dtype=np.uint8)
        p = tmp_path / f"damaged{k}{src.suffix}"
        p.write_bytes(damaged.tobytes())
        got = _outcome(p)  # fails the test on any exception other than ReadError
        assert isinstance(got, (ECGRecord, ReadError))


# -- WFDB: damaged header fields ---------------------------------------------------------


def _ludb_copy(tmp_path: Path, header_text: str) -> Path:
    hea = data_file("ludb", "data", "1.hea")
    shutil.copy(hea.with_suffix(".dat"), tmp_path / "1.dat")
    (tmp_path / "1.hea").write_text(header_text, encoding="latin-1")
    return tmp_path / "1.hea"


RECORD_LINES = (
    "1 12 0 5000", "1 12 -500 5000", "1 12 500 0", "1 12 500 -5", "1 13 500 5000",
    "1 11 500 5000", "1 12 abc 5000", "1 12 500 5000.5", "1 0 500 5000", "1 12 500", "1",
    "1 12 500 99999999999",
)


@pytest.mark.parametrize("record_line", RECORD_LINES)
def test_wfdb_damaged_record_line_is_refused(record_line: str, tmp_path: Path) -> None:
    text = data_file("ludb", "data", "1.hea").read_text()
    lines = text.splitlines()
    hea = _ludb_copy(tmp_path, "\n".join([record_line, *lines[1:]]) + "\n")
    with pytest.raises(ReadError):
        read_ecg(hea, format="wfdb")


FIELD_VALUES = ("0", "-1", "abc", "0/mV", "1716(x)/mV", "1716(6)/", "99999", "1e400", "", "16x")


@pytest.mark.parametrize("field", range(1, 9))
def test_wfdb_damaged_signal_fields_never_escape_as_other_errors(field: int, tmp_path: Path) -> None:
    text = data_file("ludb", "data", "1.hea").read_text()
    lines = text.splitlines()
    for value in FIELD_VALUES:
        tokens = lines[1].split()
        tokens[field] = value
        folder = tmp_path / f"v{FIELD_VALUES.index(value)}"
        folder.mkdir()
        hea = _ludb_copy(folder, "\n".join([lines[0], " ".join(tokens), *lines[2:]]) + "\n")
        got = _outcome(hea)
        if isinstance(got, ECGRecord):
            assert got.n_samples == 5000 and got.fs == 500.0


def test_wfdb_overwritten_sample_is_caught_by_the_header_checksum(tmp_path: Path) -> None:
    """One overwritten sample breaks its signal's checksum (16-bit sum written in the
    header): refused. With the header's checksum updated to match, the record reads with
    exactly that sample changed, so the refusal is the checksum's doing."""
    text = data_file("ludb", "data", "1.hea").read_text()
    hea = _ludb_copy(tmp_path, text)
    intact = read_ecg(hea)
    dat = hea.with_suffix(".dat")
    raw = np.fromfile(dat, dtype="<i2").reshape(5000, 12)
    old_value = int(raw[2000, 3])
    raw[2000, 3] = 1234  # lead aVR (row 3), sample 2000
    raw.tofile(dat)
    with pytest.raises(ReadError, match="checksum"):
        read_ecg(hea)

    avr_line = text.splitlines()[4].split()  # '1.dat 16 1368(-5)/mV 0 0 47 -23456 0 avr'
    assert avr_line[-1] == "avr"
    new_sum = (int(avr_line[6]) + 1234 - old_value + 32768) % 65536 - 32768
    fixed = avr_line.copy()
    fixed[6] = str(new_sum)
    hea.write_text(text.replace(" ".join(avr_line), " ".join(fixed), 1))
    got = read_ecg(hea)
    changed = np.argwhere(got.signal != intact.signal)
    assert changed.tolist() == [[3, 2000]]
    # aVR: gain 1368(-5)/mV in the header -> (1234 + 5) / 1368 mV
    assert got.lead("aVR")[2000] == pytest.approx((1234 + 5) / 1368 * 1000.0, abs=0.01)


def test_wfdb_zero_checksum_means_not_given(tmp_path: Path) -> None:
    """CinC 2017 headers write 0 as checksum: the records are still read."""
    text = data_file("ludb", "data", "1.hea").read_text()
    lines = text.splitlines()
    zeroed = []
    for line in lines[1:13]:
        tokens = line.split()
        tokens[6] = "0"
        zeroed.append(" ".join(tokens))
    hea = _ludb_copy(tmp_path, "\n".join([lines[0], *zeroed, *lines[13:]]) + "\n")
    np.testing.assert_array_equal(read_ecg(hea).signal, read_ecg(data_file("ludb", "data", "1.hea")).signal)


# -- CSV: a directive given twice is ambiguous -------------------------------------------


@pytest.mark.parametrize(
    ("directives", "key"),
    [("# fs=500\n# fs=250\n# units=uV\n", "fs"), ("# fs=500\n# units=uV\n# units=mV\n", "units")],
)
def test_csv_conflicting_directives_are_refused(directives: str, key: str, tmp_path: Path) -> None:
    path = tmp_path / "a_twice.csv"
    path.write_text(directives + "I,II\n1,2\n3,4\n")
    with pytest.raises(ReadError, match=f"'# {key}' is given twice"):
        read_ecg(path)


def test_csv_repeated_identical_directive_and_free_comments_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "a_twice_same.csv"
    path.write_text("# fs=500\n# fs=500\n# units=mV\n# note: a\n# note: b\nI,II\n" + "1,2\n3,4\n" * 10)
    rec = read_ecg(path)
    assert rec.fs == 500.0
    np.testing.assert_array_equal(rec.lead("II"), [2000.0, 4000.0] * 10)


# -- DICOM: attributes removed from a real file --------------------------------------------

#: (where, keyword) whose absence makes the samples undecodable or their scale unknown.
DICOM_REQUIRED = (
    ("group", "NumberOfWaveformChannels"), ("group", "NumberOfWaveformSamples"),
    ("group", "SamplingFrequency"), ("group", "WaveformBitsAllocated"),
    ("group", "WaveformSampleInterpretation"), ("group", "WaveformData"),
    ("group", "ChannelDefinitionSequence"), ("channel", "ChannelSensitivity"),
    ("top", "WaveformSequence"),
)
#: Optional attributes: without them the samples must be exactly the intact ones.
DICOM_OPTIONAL = (
    ("top", "PatientName"), ("top", "AcquisitionDateTime"), ("top", "Manufacturer"),
    ("group", "MultiplexGroupLabel"), ("group", "WaveformOriginality"),
    ("channel", "ChannelBaseline"), ("channel", "ChannelSensitivityCorrectionFactor"),
)


def _dicom_without(where: str, keyword: str, tmp_path: Path) -> Path:
    pydicom = pytest.importorskip("pydicom")
    src = data_file(FS, "dicom", "waveform_ecg.dcm")
    ds = pydicom.dcmread(str(src))
    group = ds.WaveformSequence[0]
    target = {"top": ds, "group": group, "channel": group.ChannelDefinitionSequence[0]}[where]
    assert keyword in target, f"{keyword} is not in the sample file's {where}"
    delattr(target, keyword)
    out = tmp_path / f"a_no_{keyword}.dcm"
    ds.save_as(str(out))
    return out


@pytest.mark.parametrize(("where", "keyword"), DICOM_REQUIRED)
def test_dicom_without_a_required_attribute_is_refused(where: str, keyword: str, tmp_path: Path) -> None:
    with pytest.raises(ReadError):
        read_ecg(_dicom_without(where, keyword, tmp_path))


@pytest.mark.parametrize(("where", "keyword"), DICOM_OPTIONAL)
def test_dicom_without_an_optional_attribute_reads_the_same(where: str, keyword: str, tmp_path: Path) -> None:
    intact = read_ecg(data_file(FS, "dicom", "waveform_ecg.dcm"))
    got = read_ecg(_dicom_without(where, keyword, tmp_path))
    assert got.leads == intact.leads and got.fs == intact.fs
    np.testing.assert_array_equal(got.signal, intact.signal)


def test_dicom_channel_without_source_code_is_skipped_not_a_crash(tmp_path: Path) -> None:
    pydicom = pytest.importorskip("pydicom")
    src = data_file(FS, "dicom", "waveform_ecg.dcm")
    ds = pydicom.dcmread(str(src))
    del ds.WaveformSequence[0].ChannelDefinitionSequence[0].ChannelSourceSequence
    out = tmp_path / "a_no_source.dcm"
    ds.save_as(str(out))
    rec = read_ecg(out)
    assert rec.leads == ("II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    assert rec.source.extra["skipped_channels"] == ["channel 1"]


# -- EDF: damaged header fields ------------------------------------------------------------

EDF_MAIN_FIELDS = {"n_records": (236, 8), "record_seconds": (244, 8), "n_signals": (252, 4), "header_bytes": (184, 8)}
#: Per-signal fields: (offset of the field block after the main header, width), for 12 signals.
EDF_SIGNAL_FIELDS = {"phys_min": (104, 8), "dig_min": (120, 8), "dig_max": (128, 8), "n_per_record": (216, 8)}


def _edf_with(field: tuple[int, int], value: str, tmp_path: Path, per_signal: bool) -> Path:
    src = data_file(FS, "contec-ecg90a", "0000050.ECG.edf")
    data = bytearray(src.read_bytes())
    n_signals = int(data[252:256])
    start, width = field
    if per_signal:  # first signal's value in that field's block
        start = 256 + start * n_signals
    data[start : start + width] = value.ljust(width)[:width].encode("ascii")
    out = tmp_path / f"a_damaged_{start}_{abs(hash(value))}.edf"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("value", ["", "x", "0", "-1", "1e400", "nan", "99999999"])
def test_edf_damaged_header_numbers_never_escape_as_other_errors(value: str, tmp_path: Path) -> None:
    for name, field in EDF_MAIN_FIELDS.items():
        _outcome(_edf_with(field, value, tmp_path, per_signal=False))
    for name, field in EDF_SIGNAL_FIELDS.items():
        _outcome(_edf_with(field, value, tmp_path, per_signal=True))


@pytest.mark.parametrize(("field", "value"), [("dig_max", "0"), ("dig_min", "0"), ("dig_max", "-1")])
def test_edf_samples_outside_the_declared_digital_range_are_refused(field: str, value: str, tmp_path: Path) -> None:
    """Lead I of the Contec file has samples on both sides of 0, so these ranges cannot hold it."""
    path = _edf_with(EDF_SIGNAL_FIELDS[field], value, tmp_path, per_signal=True)
    with pytest.raises(ReadError, match="outside its declared digital range"):
        read_ecg(path)


def test_edf_infinite_counts_are_refused(tmp_path: Path) -> None:
    path = _edf_with(EDF_MAIN_FIELDS["n_records"], "1e400", tmp_path, per_signal=False)
    with pytest.raises(ReadError, match="not a finite number"):
        read_ecg(path)


def test_csv_random_edits_give_a_record_or_a_read_error(tmp_path: Path) -> None:
    """Characters inserted at random into a valid table (separators, signs, newlines,
    directives, NUL...) never make the reader fail with anything but a ReadError."""
    rows = "".join(f"{k / 500:.3f},{k % 7 - 3},{(k * 3) % 11},{-k % 5}\n" for k in range(200))
    base = "# fs=500\n# units=uV\ntime_s,I,II,V1\n" + rows
    assert read_ecg(_write(tmp_path / "a_base.csv", base)).n_samples == 200
    pieces = list(",;\t\n#.-e=xI0123456789 \"'\r\x00é") + [
        "nan", "inf", "1e999", "# fs=0\n", "# units=kV\n", "# scale=nan\n", "# start=x\n", "\ufeff",
    ]
    rng = np.random.default_rng(7)
    for k in range(120):
        chars = list(base)
        for _ in range(int(rng.integers(1, 4))):
            chars.insert(int(rng.integers(0, len(chars))), pieces[int(rng.integers(0, len(pieces)))])
        got = _outcome(_write(tmp_path / f"a_edit{k}.csv", "".join(chars)))
        if isinstance(got, ECGRecord):
            assert np.isfinite(got.signal).all() and got.fs > 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- values no ECG has: refused with the value and what to check (adversarial review, 2026-12-02) --------


@pytest.mark.parametrize("fs", ["1", "10", "1e12"])
def test_a_sampling_rate_no_ecg_has_is_refused(fs: str, tmp_path: Path) -> None:
    rows = "".join(f"{k % 7},{k % 5}\n" for k in range(600))
    with pytest.raises(ReadError, match=re.escape(f"fs = {float(fs):g} Hz is outside") + r".*50 to 100000 Hz"):
        read_ecg(_write(tmp_path / "a_rate.csv", f"# fs={fs}\n# units=uV\nI,II\n" + rows))


def test_csv_scale_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match=r"scale=-1.*positive.*invert"):
        read_ecg(_write(tmp_path / "a_scale.csv", "# fs=500\n# units=uV\n# scale=-1\nI,II\n1,2\n3,4\n"))


def test_csv_samples_under_an_unnamed_column_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="column 3 has samples but no lead name"):
        read_ecg(_write(tmp_path / "a_unnamed.csv", "# fs=500\n# units=uV\nI,II,\n1,2,3\n4,5,6\n"))
    # a trailing separator with no samples under it stays accepted
    trailing = "# fs=500\n# units=uV\nI,II,\n" + "1,2,\n4,5,\n" * 10
    assert read_ecg(_write(tmp_path / "a_trailing.csv", trailing)).leads == ("I", "II")


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "1e999"])
def test_csv_non_finite_cells_are_named_as_such(cell: str, tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="not a finite number"):
        read_ecg(_write(tmp_path / "a_nan.csv", f"# fs=500\n# units=uV\nI,II\n1,2\n{cell},5\n"))


def test_wfdb_signal_line_that_does_not_parse_is_refused_not_dropped(tmp_path: Path) -> None:
    hea = data_file("ludb", "data", "1.hea").read_text()
    lines = hea.splitlines()
    fields = lines[1].split()
    fields[2] = "nan" + fields[2][fields[2].index("("):]  # gain 'nan(0)/mV': WFDB's parser shifts the fields
    lines[1] = " ".join(fields)
    with pytest.raises(ReadError, match="signal line 1 of the header is malformed"):
        read_ecg(_ludb_copy(tmp_path, "\n".join(lines) + "\n"))


def _dicom_edited(tmp_path: Path, edit) -> Path:
    pydicom = pytest.importorskip("pydicom")
    ds = pydicom.dcmread(str(data_file(FS, "dicom", "waveform_ecg.dcm")))
    edit(ds.WaveformSequence[0])
    out = tmp_path / "a_edited.dcm"
    ds.save_as(str(out))
    return out


def test_dicom_fewer_channel_definitions_than_channels_is_refused(tmp_path: Path) -> None:
    def drop(group) -> None:
        del group.ChannelDefinitionSequence[2:]

    with pytest.raises(ReadError, match=r"declares 12 channels but defines 2"):
        read_ecg(_dicom_edited(tmp_path, drop))


def test_dicom_zero_sensitivity_is_refused(tmp_path: Path) -> None:
    def zero(group) -> None:
        group.ChannelDefinitionSequence[0].ChannelSensitivity = 0.0

    with pytest.raises(ReadError, match=r"channel I has ChannelSensitivity .*non-zero"):
        read_ecg(_dicom_edited(tmp_path, zero))


def test_muse_absurd_sample_exponent_is_refused(tmp_path: Path) -> None:
    src = data_file(FS, "ge-muse-xml", "braveheart", "example1.xml").read_text(encoding="utf-8", errors="replace")
    assert "<SampleExponent>" in src
    bad = re.sub(r"<SampleExponent>[^<]*</SampleExponent>", "<SampleExponent>400</SampleExponent>", src)
    out = tmp_path / "a_exp.xml"
    out.write_text(bad, encoding="utf-8")
    with pytest.raises(ReadError, match="SampleExponent 400 is not a plausible"):
        read_ecg(out)


def test_paths_that_cannot_be_files_are_refused(tmp_path: Path) -> None:
    import os

    with pytest.raises(ReadError, match="the path cannot be used"):
        read_ecg(tmp_path / ("x" * 300 + ".csv"))  # longer than a file name may be
    fifo = tmp_path / "a_fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(ReadError, match="not a regular file"):
        read_ecg(fifo)


def test_a_damaged_file_named_like_its_format_gets_that_readers_reason(tmp_path: Path) -> None:
    """A .hea or .edf whose content no reader claims is read by the reader its name points to, so
    the message says what is wrong (not only 'not a recognised ECG file')."""
    hea = _write(tmp_path / "r.hea", "r 0 500 5000\n")
    with pytest.raises(ReadError, match=r"named like a WFDB header but is not a valid one: .*record line"):
        read_ecg(hea)
    src = data_file(FS, "contec-ecg90a", "0000050.ECG.edf").read_bytes()
    edf = tmp_path / "a_hdr.edf"
    edf.write_bytes(src[:184] + b"256     " + src[192:])  # header size of a file with no signal
    with pytest.raises(ReadError, match=r"named like an EDF file .*header size 256 does not match"):
        read_ecg(edf)
    with pytest.raises(ReadError, match="not a recognised ECG file"):  # no name hint: the general message
        read_ecg(_write(tmp_path / "a.txt", "r 0 500 5000\n"))


def test_csv_values_that_overflow_once_in_microvolts_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match=r"lead II, data row 2: 1e\+308 x 1000 µV per unit is beyond"):
        read_ecg(_write(tmp_path / "a_big.csv", "# fs=500\n# units=mV\nI,II\n1,2\n3,1e308\n"))
