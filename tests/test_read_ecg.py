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
