"""PhysioNet WFDB records (``.hea`` header + ``.dat``/``.mat`` signal files), read with numpy only.

The header is parsed by :mod:`ecgpilot.io._wfdb_header` and the samples decoded by
:mod:`ecgpilot.io._wfdb_signal` (formats 8, 16, 61, 80, 160, 212, 24, 32, 310, 311; byte offsets,
several samples per frame, skew, several signal files), with the same values as the ``wfdb``
package's ``rdrecord`` (tests/test_io_wfdb_vs_wfdb.py compares them sample for sample). This module
checks that each signal file is long enough for the length the header declares (a cut file is
refused, never silently shortened) and that the samples match the header's checksums, converts the
physical units (mV, µV, V) to µV and keeps the signals whose names are ECG leads.
Header comments are parsed for LUDB (``<age>``, ``<sex>``, ``<diagnoses>``),
PhysioNet/CinC 2020-2021 (``#Age: 54``, ``#Sex: Male``, ``#Dx: <SNOMED CT codes>``) and
MIT-BIH (``# 69 M ...``) patient traits. The record lines PhysioNet challenges publish (a record
name with its ``.mat`` suffix, ``2014-05-08 05:05:15`` or ``05-Feb-2020 11:39:16`` base dates) are
read, and a ``.mat`` signal file is checked to be the MATLAB v4 ``val`` matrix (n_signals, n_samples)
whose samples the header's ``16+24`` describes.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ecgpilot.errors import CorruptFileError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import MAX_HEADER_BYTES, check_samples, read_bounded
from ecgpilot.io._patient import plausible_age, sex_code
from ecgpilot.io._units import UNIT_TO_UV, unit_factor
from ecgpilot.io._wfdb_header import WfdbHeader, header_lines, parse_header
from ecgpilot.io._wfdb_signal import file_layout, physical, read_digital
from ecgpilot.leads import canonical_lead
from ecgpilot.record import ECGRecord, PatientInfo, Sex, SourceInfo

__all__ = ["FORMAT", "DESCRIPTION", "sniff", "read", "read_header", "header_path", "UNIT_TO_UV"]

FORMAT = "wfdb"
DESCRIPTION = "PhysioNet WFDB record (.hea header with .dat/.mat signal files)"

_RECORD_LINE = re.compile(r"^(\S+?)(/\d+)?\s+(\d+)(\s+\S+)?(\s+\d+)?")
_SIGNAL_LINE = re.compile(r"^\S+\s+\d+")


def _looks_like_header(text: str) -> bool:
    lines = header_lines(text)
    if not lines:
        return False
    m = _RECORD_LINE.match(lines[0])
    if m is None:
        return False
    if m.group(2):  # multi-segment record: recognised, then refused clearly by read()
        return True
    n_sig = int(m.group(3))
    if n_sig == 0 or len(lines) < 1 + n_sig:
        return False
    return all(_SIGNAL_LINE.match(s) for s in lines[1 : 1 + n_sig])


def header_path(path: Path) -> Path:
    """The ``.hea`` header of a record given its header or one of its signal files."""
    if path.suffix.lower() == ".hea":
        return path
    return path.with_suffix(".hea")


def sniff(head: bytes, path: Path) -> bool:
    """A WFDB header by content, or a signal file whose sibling ``.hea`` names it."""
    if path.suffix.lower() == ".hea" or head[:1].isalnum():
        try:
            text = head.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if text and _looks_like_header(text):
            return True
    hea = path.with_suffix(".hea")
    if hea != path and hea.is_file():
        try:
            if hea.stat().st_size > MAX_HEADER_BYTES:
                return False
            text = hea.read_text("ascii", errors="replace")
        except OSError:
            return False
        lines = header_lines(text)
        return _looks_like_header(text) and any(
            s.split()[0] == path.name for s in lines[1:]
        )
    return False


def _check_mat_v4(f: Path, n_sig: int, n: int, offset: int, fmts: list[int], hea: Path) -> None:
    """Refuse a ``.mat`` signal file that is not the MATLAB v4 int16 matrix ``val`` of shape
    (n_signals, n_samples) that the header's ``16+24`` describes (PhysioNet/CinC 2017-2021
    layout); a transposed matrix would otherwise be read as scrambled samples."""
    if offset == 0 or any(x != 16 for x in fmts):
        return  # not the wfdb2mat layout: read as the header says
    with f.open("rb") as fh:
        head = fh.read(min(offset, 128))
    if head[:6] == b"MATLAB":
        raise UnsupportedFormatError(
            f"{f.name!r} is a MATLAB v5+ file; {hea.name!r} reads it as raw samples after a "
            f"{offset}-byte MATLAB v4 header. Save the signal as MATLAB v4 (save -v4, or "
            "scipy.io.savemat(..., format='4')) with 'val' of shape (n_signals, n_samples)."
        )
    if len(head) < 20:
        return  # too short: the length check that follows says so
    mopt, rows, cols, imag, namelen = struct.unpack_from("<5i", head)
    if mopt != 30 or imag != 0 or 20 + namelen != offset:
        return  # not a little-endian int16 v4 header: read as the header says
    if rows != n_sig or cols < n:
        raise CorruptFileError(
            f"{f.name!r} holds a {rows} x {cols} matrix but {hea.name!r} describes {n_sig} signal(s) "
            f"of {n} samples: the matrix must be (n_signals, n_samples) = ({n_sig}, {n})."
        )


def _comments_to_patient(comments: list[str]) -> tuple[PatientInfo, tuple[str, ...], dict[str, Any]]:
    """Patient traits and diagnoses from header comments.

    LUDB (``<age>: 51``, ``<sex>: F``, ``<diagnoses>:`` then one per line), PhysioNet/CinC
    2020-2021 (``Age: 54``, ``Sex: Male``/``Female``/``Unknown``, ``Age: NaN``, ``Dx: <SNOMED CT
    codes>``, kept in ``extra['dx_snomed_ct']``) and MIT-BIH (``69 M 1085 1629 x1``). An age that
    is not a number from 0 to 130 is taken as not given.
    """
    age: float | None = None
    sex: Sex | None = None
    diagnoses: list[str] = []
    dx_codes: list[str] = []
    in_diag = False
    for raw in comments:
        c = raw.strip()
        low = c.lower()
        m = re.match(r"<?age>?\s*:\s*(\S*)", low)
        if m:
            try:
                age = plausible_age(float(m.group(1)))
            except ValueError:  # 'NaN' parses (and is refused); '?' or '' do not
                age = None
            in_diag = False
            continue
        m = re.match(r"<?sex>?\s*:\s*(\S*)", low)
        if m:
            sex = sex_code(m.group(1))
            in_diag = False
            continue
        m = re.match(r"dx\s*:\s*(.*)", low)
        if m:
            dx_codes = [x.strip() for x in m.group(1).split(",") if x.strip()]
            in_diag = False
            continue
        if low.startswith("<diagnoses>"):
            in_diag = True
            rest = c.split(":", 1)[1].strip() if ":" in c else ""
            if rest:
                diagnoses.append(rest)
            continue
        if in_diag and c:
            diagnoses.append(c.rstrip())
            continue
        m = re.match(r"^(\d{1,3})\s+([MF])\b", c)  # MIT-BIH: "69 M 1085 1629 x1"
        if m and age is None and sex is None:
            age, sex = plausible_age(float(m.group(1))), sex_code(m.group(2))
    patient = PatientInfo(age_years=age, sex=sex)
    extra: dict[str, Any] = {"comments": [c for c in comments if c.strip()]}
    if dx_codes:
        extra["dx_snomed_ct"] = dx_codes
    return patient, tuple(diagnoses), extra


def _to_uv(units: str | None, name: str, hea: Path) -> float:
    return unit_factor(units, where=f"{hea.name!r}: signal {name!r}", what="physical units",
                       hint="Fix the units in the header's gain field (e.g. 200/mV).")


def read_header(path: Path) -> WfdbHeader:
    """The parsed ``.hea`` header of a record given its header or one of its signal files."""
    hea = header_path(Path(path))
    if not hea.is_file():
        raise UnsupportedFormatError(
            f"No WFDB header {hea.name!r} beside {Path(path).name!r}; "
            "WFDB records need their .hea file."
        )
    text = read_bounded(hea, MAX_HEADER_BYTES, "WFDB header").decode("ascii", errors="replace")
    lines = header_lines(text)
    if lines and (m := _RECORD_LINE.match(lines[0])) and m.group(2):
        return parse_header(text, hea)  # refuses the multi-segment record in words
    if not _looks_like_header(text):
        raise CorruptFileError(
            f"{hea.name!r} is not a valid WFDB header: expected a record line "
            "'<name> <n_signals> <fs> <n_samples>' followed by one line per signal."
        )
    return parse_header(text, hea)


def _check_signal_files(hdr: WfdbHeader, folder: Path, hea: Path) -> None:
    """Refuse missing or too short signal files (a truncated file must not be shortened)."""
    n = hdr.n_samples
    for name, (fmt, offset, need) in file_layout(hdr, hea).items():
        f = folder / name
        if not f.is_file():
            raise CorruptFileError(
                f"{hea.name!r} refers to the signal file {name!r}, which is not beside it. "
                "Put the .hea and its signal files in the same folder."
            )
        n_sig = sum(1 for s in hdr.signals if s.file_name == name)
        if name.lower().endswith(".mat"):
            _check_mat_v4(f, n_sig, n, offset, [fmt] * n_sig, hea)
        have = f.stat().st_size
        if have < need:
            raise CorruptFileError(
                f"{name!r} holds {have} bytes but {hea.name!r} declares {n} samples of "
                f"{n_sig} signal(s), which need {need} bytes: the file is truncated."
            )


def _check_checksums(hdr: WfdbHeader, keep: list[int], stored: list[np.ndarray], hea: Path) -> None:
    """Compare each signal's 16-bit sample sum with the header's checksum field.

    A checksum of 0 is taken as "not given" (PhysioNet/CinC 2017 headers write 0);
    any other mismatch means the signal file does not hold what the header describes.
    The sum is over every stored sample (all samples of a frame, before averaging).
    """
    for i, samples in zip(keep, stored):
        s = hdr.signals[i]
        if not s.checksum:
            continue
        got = int(np.sum(samples, dtype=np.int64)) % 65536
        if got != s.checksum % 65536:
            raise CorruptFileError(
                f"{hea.name!r}: the samples of signal {s.description!r} do not match the header's checksum "
                f"({got} instead of {s.checksum % 65536}): the signal file is damaged or does "
                "not belong to this header."
            )


def read(path: Path) -> ECGRecord:
    """Read a WFDB record from its ``.hea`` (or a ``.dat``/``.mat`` beside it)."""
    hdr = read_header(path)
    hea = header_path(Path(path))
    frames = [s.samples_per_frame for s in hdr.signals]
    check_samples(sum(frames), hdr.n_samples, f"{hea.name!r} (WFDB record line x samples per frame)")
    _check_signal_files(hdr, hea.parent, hea)

    keep: list[int] = []
    names: list[str] = []
    skipped: list[str] = []
    for i, s in enumerate(hdr.signals):
        try:
            names.append(canonical_lead(s.description))
            keep.append(i)
        except RecordError:
            skipped.append(s.description)
    if not keep:
        raise UnsupportedFormatError(
            f"{hea.name!r} has no ECG lead among its signals {[s.description for s in hdr.signals]}; "
            "lead names such as I, II, V1, MLII or ECG are expected."
        )
    digital, stored = read_digital(hdr, hea.parent, keep)
    _check_checksums(hdr, keep, stored, hea)
    sig = physical(digital, [hdr.signals[i] for i in keep])
    for row, i in enumerate(keep):
        sig[row] *= _to_uv(hdr.signals[i].units, hdr.signals[i].description, hea)
    bad = ~np.isfinite(sig)
    if bad.any():
        raise CorruptFileError(
            f"{hea.name!r}: {int(bad.sum())} samples are marked invalid (WFDB missing-value "
            f"code) in lead(s) {', '.join(names[r] for r in np.flatnonzero(bad.any(axis=1)))}; "
            "ecgpilot does not guess missing samples."
        )
    patient, diagnoses, extra = _comments_to_patient(list(hdr.comments))
    if skipped:
        extra["skipped_signals"] = skipped
    source = SourceInfo(
        format=FORMAT,
        path=str(hea),
        description=f"WFDB record {hdr.record_name}",
        device_statements=diagnoses,
        extra=extra,
    )
    return ECGRecord(
        signal=sig.astype(np.float32),
        fs=float(hdr.fs),
        leads=tuple(names),
        start_time=hdr.start_time,
        source=source,
        patient=patient,
    )
