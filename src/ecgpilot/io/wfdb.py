"""PhysioNet WFDB records (``.hea`` header + ``.dat``/``.mat`` signal files).

The samples are decoded by the ``wfdb`` library; this module checks the header,
that each signal file is long enough for the length the header declares (a cut
file is refused, never silently shortened), converts the physical units
(mV, µV, V) to µV and keeps the signals whose names are ECG leads.
Header comments are parsed for LUDB (``<age>``, ``<sex>``, ``<diagnoses>``),
PhysioNet/CinC 2020-2021 (``#Age: 54``, ``#Sex: Male``, ``#Dx: <SNOMED CT codes>``) and
MIT-BIH (``# 69 M ...``) patient traits. Record lines that ``wfdb`` refuses but PhysioNet
challenges publish (a record name with its ``.mat`` suffix, ``2014-05-08 05:05:15`` or
``05-Feb-2020 11:39:16`` base dates) are rewritten to a temporary header before decoding, and a
``.mat`` signal file is checked to be the MATLAB v4 ``val`` matrix (n_signals, n_samples).
"""

from __future__ import annotations

import math
import re
import struct
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecgpilot.errors import CorruptFileError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import MAX_HEADER_BYTES, check_samples, read_bounded
from ecgpilot.io._units import UNIT_TO_UV, unit_factor
from ecgpilot.io._patient import plausible_age, sex_code
from ecgpilot.leads import canonical_lead
from ecgpilot.record import ECGRecord, PatientInfo, Sex, SourceInfo

__all__ = ["FORMAT", "DESCRIPTION", "sniff", "read", "header_path", "UNIT_TO_UV"]

FORMAT = "wfdb"
DESCRIPTION = "PhysioNet WFDB record (.hea header with .dat/.mat signal files)"

#: Physical units accepted in a header, and the factor that turns them into µV.

#: Bytes per sample of each WFDB storage format (see the WFDB ``signal(5)`` page).
_BYTES_PER_SAMPLE: dict[int, float] = {
    8: 1, 16: 2, 61: 2, 80: 1, 160: 2, 212: 1.5, 310: 4 / 3, 311: 4 / 3, 24: 3, 32: 4,
}

_RECORD_LINE = re.compile(r"^(\S+?)(/\d+)?\s+(\d+)(\s+\S+)?(\s+\d+)?")
_SIGNAL_LINE = re.compile(r"^\S+\s+\d+")


def _header_lines(text: str) -> list[str]:
    """Non-empty, non-comment lines of a header."""
    return [s.strip() for s in text.splitlines() if s.strip() and not s.lstrip().startswith("#")]


def _looks_like_header(text: str) -> bool:
    lines = _header_lines(text)
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
        lines = _header_lines(text)
        return _looks_like_header(text) and any(
            s.split()[0] == path.name for s in lines[1:]
        )
    return False


def _check_signal_files(hdr: Any, folder: Path, hea: Path) -> None:
    """Refuse missing or too short signal files (a truncated file must not be shortened)."""
    n = hdr.sig_len
    if n is None or n <= 0:
        raise CorruptFileError(
            f"{hea.name!r}: the record line gives no number of samples; "
            "ecgpilot needs it to check the signal file is complete."
        )
    per_file: dict[str, list[int]] = {}
    frames: dict[str, list[int]] = {}  # samples per frame of each of the file's signals
    offsets: dict[str, int] = {}
    for i, name in enumerate(hdr.file_name):
        per_file.setdefault(name, []).append(int(hdr.fmt[i]))
        frames.setdefault(name, []).append(int((hdr.samps_per_frame or [1] * hdr.n_sig)[i] or 1))
        offsets[name] = int((hdr.byte_offset or [0] * hdr.n_sig)[i] or 0)
    for name, fmts in per_file.items():
        f = folder / name
        if not f.is_file():
            raise CorruptFileError(
                f"{hea.name!r} refers to the signal file {name!r}, which is not beside it. "
                "Put the .hea and its signal files in the same folder."
            )
        unknown = [x for x in fmts if x not in _BYTES_PER_SAMPLE]
        if unknown:
            raise UnsupportedFormatError(
                f"{hea.name!r}: WFDB storage format {unknown[0]} is not supported; "
                f"supported: {', '.join(map(str, sorted(_BYTES_PER_SAMPLE)))}."
            )
        if name.lower().endswith(".mat"):
            _check_mat_v4(f, len(fmts), n, offsets[name], fmts, hea)
        need = offsets[name] + math.ceil(n * sum(_BYTES_PER_SAMPLE[x] * k for x, k in zip(fmts, frames[name])))
        have = f.stat().st_size
        if have < need:
            raise CorruptFileError(
                f"{name!r} holds {have} bytes but {hea.name!r} declares {n} samples of "
                f"{len(fmts)} signal(s), which need {need} bytes: the file is truncated."
            )


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


def read(path: Path) -> ECGRecord:
    """Read a WFDB record from its ``.hea`` (or a ``.dat``/``.mat`` beside it)."""
    import wfdb

    hea = header_path(Path(path))
    if not hea.is_file():
        raise UnsupportedFormatError(
            f"No WFDB header {hea.name!r} beside {Path(path).name!r}; "
            "WFDB records need their .hea file."
        )
    text = read_bounded(hea, MAX_HEADER_BYTES, "WFDB header").decode("ascii", errors="replace")
    lines = _header_lines(text)
    if lines and (m := _RECORD_LINE.match(lines[0])) and m.group(2):
        raise UnsupportedFormatError(
            f"{hea.name!r} is a multi-segment WFDB record; only single-segment records are "
            "supported. Convert it with wfdb (e.g. wfdb.rdrecord + wrsamp) first."
        )
    if not _looks_like_header(text):
        raise CorruptFileError(
            f"{hea.name!r} is not a valid WFDB header: expected a record line "
            "'<name> <n_signals> <fs> <n_samples>' followed by one line per signal."
        )
    tokens = lines[0].split()
    if len(tokens) < 4 or not re.fullmatch(r"[\d.]+(/[\d.]+)?(\([\d.]+\))?", tokens[2]) or not tokens[3].isdigit():
        raise CorruptFileError(
            f"{hea.name!r}: record line {lines[0]!r} must read '<name> <n_signals> <fs> <n_samples>' "
            "with a numeric sampling rate and number of samples."
        )
    with tempfile.TemporaryDirectory(prefix="ecgpilot-wfdb-") as tmp:
        record_name, start = _readable_header(hea, lines[0], Path(tmp))
        return _read_record(wfdb, hea, record_name, start)


def _parse_base_datetime(tokens: list[str]) -> datetime | None:
    """Base time/date after the record line's 4th field, WFDB or ISO order."""
    text = " ".join(tokens)
    for fmt in ("%H:%M:%S %d/%m/%Y", "%H:%M:%S.%f %d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%d-%b-%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


#: Base time and date as ``wfdb`` accepts them (``HH:MM:SS DD/MM/YYYY``, both optional).
_WFDB_BASE = re.compile(r"[\d:.]+(\s+[\d/]+)?")
#: A record name as ``wfdb`` accepts it on the record line.
_WFDB_NAME = re.compile(r"[-\w]+")


def _readable_header(hea: Path, record_line: str, tmp: Path) -> tuple[str, datetime | None]:
    """Record name to give ``wfdb`` and the start time.

    Some exports write record lines that ``wfdb`` rejects: the PhysioNet/CinC 2017 base date
    ``2014-05-08 05:05:15``, the CinC 2020 ``05-Feb-2020 11:39:16``, and the CinC 2020-2021
    record name with its signal file's suffix (``E00271.mat 12 500 5000``). Such a header is
    rewritten in ``tmp`` as ``<stem> <n_sig> <fs> <n_samples>``, with links to the signal
    files, and the date is parsed here.
    """
    tokens = record_line.split()
    base = " ".join(tokens[4:])
    start = _parse_base_datetime(tokens[4:]) if base else None
    bad_base = bool(base) and not _WFDB_BASE.fullmatch(base)
    bad_name = not _WFDB_NAME.fullmatch(tokens[0])
    if not bad_base and not bad_name:
        return str(hea.with_suffix("")), start
    text = hea.read_text("ascii", errors="replace")
    name = hea.stem if bad_name else tokens[0]
    fixed = text.replace(record_line, " ".join([name, *(tokens[1:4] if bad_base else tokens[1:])]), 1)
    (tmp / hea.name).write_text(fixed, "ascii")
    for name in {line.split()[0] for line in _header_lines(text)[1:]}:
        target = hea.parent / name
        if target.exists() and "/" not in name:
            (tmp / name).symlink_to(target.resolve())
    return str(tmp / hea.stem), start


def _check_checksums(rec: Any, hea: Path) -> None:
    """Compare each signal's 16-bit sample sum with the header's checksum field.

    A checksum of 0 is taken as "not given" (PhysioNet/CinC 2017 headers write 0);
    any other mismatch means the signal file does not hold what the header describes.
    """
    if any(int(n or 1) > 1 for n in (rec.samps_per_frame or [])):
        return  # multi-rate records are read frame-averaged: their sums cannot be compared
    for name, digital, expected in zip(rec.sig_name, rec.d_signal.T, rec.checksum or []):
        if not expected:
            continue
        got = int(np.sum(digital, dtype=np.int64)) % 65536
        if got != int(expected) % 65536:
            raise CorruptFileError(
                f"{hea.name!r}: the samples of signal {name!r} do not match the header's checksum "
                f"({got} instead of {int(expected) % 65536}): the signal file is damaged or does "
                "not belong to this header."
            )


def _read_record(wfdb: Any, hea: Path, record_name: str, start: datetime | None) -> ECGRecord:
    try:
        hdr = wfdb.rdheader(record_name)
    except Exception as exc:  # wfdb raises bare Exceptions on malformed headers
        raise CorruptFileError(f"{hea.name!r}: malformed WFDB header: {exc}") from exc
    if not hdr.fs or hdr.fs <= 0:
        raise CorruptFileError(f"{hea.name!r}: sampling rate {hdr.fs!r} is not a positive number.")
    frames = [int(x or 1) for x in (hdr.samps_per_frame or [1] * int(hdr.n_sig or 0))]  # samples per frame
    check_samples(sum(frames), int(hdr.sig_len or 0), f"{hea.name!r} (WFDB record line x samples per frame)")
    _check_signal_files(hdr, Path(record_name).parent, hea)

    keep: list[int] = []
    names: list[str] = []
    skipped: list[str] = []
    for i, name in enumerate(hdr.sig_name):
        try:
            names.append(canonical_lead(name))
            keep.append(i)
        except RecordError:
            if any(ch.isspace() for ch in str(name)):  # the header line's fields did not parse as WFDB's
                raise CorruptFileError(
                    f"{hea.name!r}: signal line {i + 1} of the header is malformed (its description came out "
                    f"as {str(name)[:60]!r}); check its format, gain and unit fields, e.g. "
                    "'r.dat 16 1000(0)/mV 16 0 0 0 0 I'."
                ) from None
            skipped.append(name)
    if not keep:
        raise UnsupportedFormatError(
            f"{hea.name!r} has no ECG lead among its signals {hdr.sig_name}; "
            "lead names such as I, II, V1, MLII or ECG are expected."
        )
    try:
        rec = wfdb.rdrecord(record_name, channels=keep, physical=False)
        _check_checksums(rec, hea)
        sig = np.asarray(rec.dac(return_res=64), dtype=np.float64).T
    except CorruptFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - wfdb raises ValueError/IndexError/Exception
        raise CorruptFileError(f"{hea.name!r}: the WFDB signal could not be decoded: {exc}") from exc
    if sig.shape != (len(keep), hdr.sig_len):
        raise CorruptFileError(
            f"{hea.name!r}: decoded {sig.shape[1]} samples, the header declares {hdr.sig_len}."
        )
    for row, i in enumerate(keep):
        sig[row] *= _to_uv(hdr.units[i], hdr.sig_name[i], hea)
    bad = ~np.isfinite(sig)
    if bad.any():
        raise CorruptFileError(
            f"{hea.name!r}: {int(bad.sum())} samples are marked invalid (WFDB missing-value "
            f"code) in lead(s) {', '.join(names[r] for r in np.flatnonzero(bad.any(axis=1)))}; "
            "ecgpilot does not guess missing samples."
        )
    if start is None and hdr.base_date is not None and hdr.base_time is not None:
        start = datetime.combine(hdr.base_date, hdr.base_time)
    patient, diagnoses, extra = _comments_to_patient(list(hdr.comments or []))
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
        start_time=start,
        source=source,
        patient=patient,
    )
