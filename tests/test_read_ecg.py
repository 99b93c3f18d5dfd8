"""read_ecg / detect_format on inputs no reader should accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgpilot import CorruptFileError, ReadError, UnsupportedFormatError, detect_format, read_ecg


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="File not found"):
        read_ecg(tmp_path / "nope.xml")


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="is a folder"):
        read_ecg(tmp_path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "empty.scp"
    p.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        read_ecg(p)


@pytest.mark.parametrize(
    "name, content",
    [("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(200)),
     ("notes.txt", "Bonjour docteur, voici mes notes.\n".encode()),
     ("random.bin", bytes(range(256)) * 8),
     ("other.xml", b"<?xml version='1.0'?><invoice><total>3</total></invoice>")],
)
def test_unrecognised_content_lists_supported_formats(tmp_path: Path, name: str, content: bytes) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(UnsupportedFormatError, match="Supported: WFDB"):
        detect_format(p)


def test_forcing_an_unknown_format_lists_the_accepted_ones(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    with pytest.raises(UnsupportedFormatError, match="Unknown format 'mfer'.*dicom"):
        read_ecg(p, format="mfer")


def test_wfdb_record_name_without_extension() -> None:
    """`ecgpilot analyze ../shared/data/ludb/data/1`, as wfdb users type a record name."""
    from conftest import data_file

    from ecgpilot.io import resolve_path

    hea = data_file("ludb", "data", "1.hea")
    name = hea.with_suffix("")
    assert not name.exists()
    assert resolve_path(name) == hea and resolve_path(str(name)) == hea
    assert resolve_path(str(name) + ".") == hea  # a name typed with its dot
    assert resolve_path(hea) == hea and resolve_path(hea.with_suffix(".dat")) == hea.with_suffix(".dat")
    rec = read_ecg(name)
    assert rec.source.format == "wfdb" and rec.n_samples == 5000 and rec.fs == 500.0
    assert (rec.patient.sex, rec.patient.age_years) == ("F", 51.0)  # '#<age>: 51', '#<sex>: F'
    assert detect_format(name) == "wfdb"


def test_missing_record_name_says_which_names_were_tried(tmp_path: Path) -> None:
    from ecgpilot.io import resolve_path

    missing = tmp_path / "9999"
    with pytest.raises(ReadError, match=r"File not found: '.*/9999' or '.*/9999\.hea'") as info:
        resolve_path(missing)
    assert str(missing) in str(info.value) and str(missing) + ".hea" in str(info.value)
    with pytest.raises(ReadError, match=r"File not found: '.*/9999' or '.*/9999\.hea'"):
        read_ecg(missing)
    with pytest.raises(ReadError, match=r"File not found: '.*/gone\.hea'\. Check"):
        read_ecg(tmp_path / "gone.hea")  # already a header name: nothing else to try
