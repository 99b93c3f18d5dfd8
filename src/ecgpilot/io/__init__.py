"""Reading ECG files: one :func:`read_ecg` that detects the format from the content.

Each format lives in its own module ``ecgpilot.io.<name>`` exposing

* ``FORMAT: str`` – the format's short name,
* ``DESCRIPTION: str`` – one line for humans,
* ``sniff(head: bytes, path: Path) -> bool`` – True when the first bytes (up to
  64 KiB) look like this format (decided on content; the file name only breaks ties),
* ``read(path: Path) -> ECGRecord`` – read the file, raising
  :class:`~ecgpilot.errors.ReadError` subclasses with clear messages.

The order of :data:`READERS` is the order in which formats are tried.

Robustness contract (issue 23): every reader works within the budgets of
:mod:`ecgpilot.io._limits` (file size, samples, decoded size, table sizes), checked before it
allocates; :func:`read_ecg` refuses a decoded signal no ECG amplifier produces
(:func:`~ecgpilot.io._limits.check_plausible`) and raises nothing but ecgpilot's own errors: an
unexpected exception inside a reader becomes a :class:`CorruptFileError` naming the reader.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ecgpilot.errors import CorruptFileError, ECGPilotError, ReadError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import MAX_FILE_BYTES, check_plausible
from ecgpilot.record import ECGRecord

__all__ = ["read_ecg", "detect_format", "resolve_path", "READERS", "reader_module", "SNIFF_BYTES"]

SNIFF_BYTES = 65536

#: Reader modules, tried in this order by :func:`detect_format`.
READERS: tuple[str, ...] = (
    "dicom",
    "scp",
    "edf",
    "hl7aecg",
    "muse",
    "sierra",
    "wfdb",
    "csv",
)


def reader_module(name: str) -> ModuleType:
    """Import and return the reader module for a format name."""
    if name not in READERS:
        raise UnsupportedFormatError(
            f"Unknown format {name!r}. Supported formats: {', '.join(READERS)}."
        )
    return importlib.import_module(f"ecgpilot.io.{name}")


def resolve_path(path: str | Path) -> Path:
    """The file to read for ``path``: ``path`` itself when it exists, else the WFDB header
    ``<path>.hea`` when that exists (a record name typed without extension, as wfdb users do:
    ``ludb/data/1`` or ``ludb/data/1.``).

    Raises :class:`ReadError` ("File not found") naming every name tried. A path that the
    system cannot even look up (e.g. a name too long) is returned as is, for
    :func:`read_ecg` to say why.
    """
    p = Path(path)
    try:
        if p.exists():
            return p
    except OSError:
        return p
    tried = [p]
    if not p.name.lower().endswith(".hea") and p.name not in ("", ".", ".."):
        hea = p.with_name(p.name + ("hea" if p.name.endswith(".") else ".hea"))
        try:
            if hea.is_file():
                return hea
        except OSError:
            pass
        tried.append(hea)
    names = " or ".join(repr(str(t)) for t in tried)
    raise ReadError(f"File not found: {names}. Check the path.")


def _check_path(path: str | Path) -> Path:
    p = resolve_path(path)
    try:
        if not p.exists():  # pragma: no cover - resolve_path raises first
            raise ReadError(f"File not found: {str(p)!r}. Check the path.")
        if p.is_dir():
            raise ReadError(f"{str(p)!r} is a folder; give the path of one ECG file.")
        if not p.is_file():
            raise ReadError(f"{str(p)!r} is not a regular file (a device, pipe or socket); give the path of "
                            "one ECG file.")
        size = p.stat().st_size
    except OSError as exc:  # e.g. a name too long for the file system, a path through a file
        raise ReadError(f"{str(p)[:120]!r}: the path cannot be used ({exc.strerror or exc}). Check the path.") from exc
    if size == 0 and p.suffix.lower() not in (".hea",):
        raise CorruptFileError(f"{str(p)!r} is empty (0 bytes); nothing to read.")
    if size > MAX_FILE_BYTES:
        raise ReadError(
            f"{p.name!r} holds {size:,} bytes, more than the {MAX_FILE_BYTES:,} bytes ecgpilot reads for one "
            "ECG (MAX_FILE_BYTES). Export a shorter recording."
        )
    return p


_SUFFIX_FORMATS = {".hea": "wfdb", ".edf": "edf", ".dcm": "dicom", ".scp": "scp"}  # unambiguous names only
_FORMAT_TITLES = {"wfdb": "a WFDB header", "edf": "an EDF file", "dicom": "a DICOM file", "scp": "an SCP-ECG file"}


def detect_format(path: str | Path) -> str:
    """Name of the format of ``path``, decided from its content.

    Raises :class:`UnsupportedFormatError` naming the supported formats when no
    reader recognises it.
    """
    p = _check_path(path)
    with p.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    for name in READERS:
        try:
            mod = reader_module(name)
        except ImportError:  # a reader whose optional dependency is missing
            continue
        try:
            claimed = mod.sniff(head, p)
        except Exception:  # noqa: BLE001 - a sniffer choking on hostile bytes does not claim them
            claimed = False
        if claimed:
            return name
    by_suffix = _SUFFIX_FORMATS.get(p.suffix.lower())
    if by_suffix is not None:
        # the name says which format it should be: let that reader say what is wrong with the content
        try:
            reader_module(by_suffix).read(p)
        except ReadError as exc:
            raise UnsupportedFormatError(
                f"{p.name!r} is named like {_FORMAT_TITLES[by_suffix]} but is not a valid one: {exc}"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - a reader's own parsing error, reported with its type
            raise UnsupportedFormatError(
                f"{p.name!r} is named like {_FORMAT_TITLES[by_suffix]} but is not a valid one "
                f"({type(exc).__name__}: {exc})."
            ) from exc
        return by_suffix
    raise UnsupportedFormatError(
        f"{p.name!r} is not a recognised ECG file. Supported: WFDB (.hea + .dat/.mat), "
        "DICOM 12-lead waveform, HL7 aECG XML, SCP-ECG, GE MUSE XML, Philips Sierra XML, "
        "EDF/EDF+, and CSV (see docs/csv-format.md)."
    )


def read_ecg(path: str | Path, *, format: str | None = None) -> ECGRecord:
    """Read any supported ECG file into an :class:`ECGRecord` (signal in µV).

    Parameters
    ----------
    path
        The file. For WFDB give the ``.hea`` (or the ``.dat``/``.mat`` beside it), or the
        record name without extension (see :func:`resolve_path`).
    format
        Force a reader (one of :data:`READERS`) instead of detecting it.
    """
    p = _check_path(path)
    name = format if format is not None else detect_format(p)
    mod = reader_module(name)
    record = _guarded_read(mod, name, p)
    if not isinstance(record, ECGRecord):  # pragma: no cover - programming error
        raise TypeError(f"reader {name} returned {type(record).__name__}, not ECGRecord")
    check_plausible(record.signal, record.fs, record.leads, f"{p.name!r} ({name})")
    return record


def _guarded_read(mod: ModuleType, name: str, p: Path) -> ECGRecord:
    """``mod.read(p)``, letting only ecgpilot's errors out: the one place that enforces
    :func:`read_ecg`'s contract whatever a reader or its library raises."""
    try:
        return mod.read(p)
    except ReadError:
        raise
    except RecordError as exc:
        raise CorruptFileError(f"{p.name!r} ({name}): the decoded signal is invalid: {exc}") from exc
    except ECGPilotError as exc:  # pragma: no cover - a reader raising another project error
        raise CorruptFileError(f"{p.name!r} ({name}): {exc}") from exc
    except MemoryError as exc:
        raise CorruptFileError(
            f"{p.name!r} could not be read as {name}: decoding it needs more memory than is available "
            "(MemoryError); the file declares more data than it holds, or is damaged."
        ) from exc
    except (ValueError, KeyError, IndexError, OSError, EOFError, UnicodeError, TypeError,
            ArithmeticError) as exc:
        raise CorruptFileError(
            f"{p.name!r} could not be read as {name}: {type(exc).__name__}: {exc}. "
            "The file may be truncated or malformed."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - a library's own exception (pydicom, lxml, wfdb...)
        raise CorruptFileError(
            f"{p.name!r} could not be read as {name}: the {name} reader failed with "
            f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:200]}. The file is malformed or damaged."
        ) from exc
