"""CSV text tables of ECG samples (layout documented in ``docs/csv-format.md``).

In short::

    # fs=500
    # units=uV
    time_s,I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6
    0.000,-20,-25,-5,23,-7,-15,...

* optional ``# key=value`` comment lines before the header: ``fs`` (Hz), ``units``
  (``uV``, ``mV`` or ``V``), ``scale`` (units per stored count, default 1),
  ``start`` (ISO date-time);
* one header row of lead names, each optionally suffixed with its unit
  (``I (mV)``, ``V1 [uV]``), and an optional time column (``time``/``time_s`` in
  seconds, ``time_ms`` in milliseconds);
* separator ``,``, ``;`` or tab; with ``;`` or tab a decimal comma is accepted;
* a column left entirely empty is a lead not recorded and is dropped.

The sampling rate comes from ``# fs=`` or from a regular time column; the units
from the header suffixes or ``# units=``. Anything missing or inconsistent is
refused with a message saying what to add.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ecgpilot.errors import CorruptFileError, RecordError, UnsupportedFormatError
from ecgpilot.io._limits import MAX_CSV_CELL_CHARS, check_samples, read_bounded
from ecgpilot.io._units import UNIT_TO_UV, unit_factor
from ecgpilot.leads import KNOWN_LEADS, canonical_lead
from ecgpilot.record import ECGRecord, SourceInfo

__all__ = ["FORMAT", "DESCRIPTION", "sniff", "read", "UNIT_TO_UV", "TIME_COLUMNS"]

FORMAT = "csv"
DESCRIPTION = "CSV table of samples (header of lead names, # fs= and # units=; docs/csv-format.md)"

#: Units accepted, with their factor to µV.
#: Time column names and their factor to seconds.
TIME_COLUMNS: dict[str, float] = {"time": 1.0, "time_s": 1.0, "t": 1.0, "seconds": 1.0, "time_ms": 1e-3}

#: Most columns of a table: a time column, one per known lead, and a trailing separator's empty one.
MAX_COLUMNS = len(KNOWN_LEADS) + 2
_UNIT_SUFFIX = re.compile(r"^(.*?)\s*[\(\[]\s*([^\)\]]+?)\s*[\)\]]\s*$")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_HOW_TO_FIX = (
    "See docs/csv-format.md: add '# fs=<Hz>' and '# units=uV|mV' lines and a header row "
    "of lead names (I,II,...,V6)."
)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _separator(line: str) -> str:
    for sep in ("\t", ";", ","):
        if sep in line:
            return sep
    return ","


_DIRECTIVE = re.compile(r"\s*#\s*([A-Za-z_]+)\s*[=:]")


def _directive(line: str) -> tuple[str, str] | None:
    """``('fs', '500')`` for a line ``# fs = 500``; None for other lines (linear time on any line)."""
    m = _DIRECTIVE.match(line)
    if m is None:
        return None
    value = line[m.end():].strip()
    return (m.group(1).lower(), value) if value else None


def _split(text: str) -> tuple[dict[str, str], list[str]]:
    """``# key=value`` directives and the remaining non-empty lines."""
    directives: dict[str, str] = {}
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            d = _directive(line)
            if d:
                directives[d[0]] = d[1]
            continue
        lines.append(line)
    return directives, lines


def sniff(head: bytes, path: Path) -> bool:
    """A text table: ``# fs=`` directives, or a first row of lead names or numbers."""
    if b"\x00" in head[:4096]:
        return False
    directives, lines = _split(_decode(head[:8192]))
    if not lines:
        return "fs" in directives or "units" in directives
    first = lines[0]
    sep = _separator(first)
    cells = [c.strip().strip('"') for c in first.split(sep)]
    if len(cells) < 2 and not ("fs" in directives or "units" in directives):
        return False
    if all(_NUMBER.match(c) or c == "" for c in cells):
        return any(cells)
    known = 0
    for c in cells:
        if len(c) > MAX_CSV_CELL_CHARS:
            continue  # no lead name is that long (and the unit pattern is kept off long text)
        name = _UNIT_SUFFIX.sub(r"\1", c)
        if name.lower() in TIME_COLUMNS:
            known += 1
            continue
        try:
            canonical_lead(name)
            known += 1
        except RecordError:
            pass
    return known >= max(1, len(cells) // 2)


def _parse_number(cell: str, decimal_comma: bool) -> float:
    s = cell.strip().strip('"')
    if s == "":
        return np.nan
    if decimal_comma:
        s = s.replace(",", ".")
    v = float(s)
    if not np.isfinite(v):  # 'nan', 'inf' or an overflowing 1e999: not a sample, and not an empty cell
        raise ValueError(s)
    return v


def _refuse_conflicting_directives(path: Path, text: str) -> None:
    """A directive given twice with different values (``# fs=500`` then ``# fs=250``) is ambiguous."""
    seen: dict[str, str] = {}
    for raw in text.splitlines():
        d = _directive(raw)
        if d is None:
            continue
        key, value = d
        if key not in ("fs", "units", "scale", "start"):  # free comments may repeat
            continue
        if key in seen and seen[key] != value:
            raise UnsupportedFormatError(
                f"{path.name!r}: '# {key}' is given twice with different values "
                f"({seen[key]!r} and {value!r}); keep only the right one."
            )
        seen[key] = value


def read(path: Path) -> ECGRecord:
    """Read a CSV ECG table (see the module docstring) into µV."""
    path = Path(path)
    text = _decode(read_bounded(path))
    _refuse_conflicting_directives(path, text)
    directives, lines = _split(text)
    if not lines:
        raise CorruptFileError(f"{path.name!r} has no rows of samples. {_HOW_TO_FIX}")
    sep = _separator(lines[0])
    header = [c.strip().strip('"') for c in lines[0].split(sep)]
    if len(header) > MAX_COLUMNS:
        raise UnsupportedFormatError(
            f"{path.name!r}: the header has {len(header):,} columns; an ECG table has at most {MAX_COLUMNS} "
            f"(a time column and one per lead: {len(KNOWN_LEADS)} lead names are known). {_HOW_TO_FIX}"
        )
    long_cell = next((j for j, c in enumerate(header) if len(c) > MAX_CSV_CELL_CHARS), None)
    if long_cell is not None:
        raise UnsupportedFormatError(
            f"{path.name!r}: header cell {long_cell + 1} holds {len(header[long_cell]):,} characters; a lead "
            f"name with its unit has at most {MAX_CSV_CELL_CHARS} (MAX_CSV_CELL_CHARS). {_HOW_TO_FIX}"
        )
    if all(_NUMBER.match(c) or c == "" for c in header):
        raise UnsupportedFormatError(
            f"{path.name!r} has no header row: its first row {lines[0][:60]!r} is numbers, so the "
            f"leads, units and sampling rate are unknown. {_HOW_TO_FIX}"
        )
    time_col: int | None = None
    time_scale = 1.0
    lead_cols: list[int] = []
    names: list[str] = []
    col_units: list[str | None] = []
    for j, cell in enumerate(header):
        m = _UNIT_SUFFIX.match(cell)
        name, unit = (m.group(1), m.group(2)) if m else (cell, None)
        if name.lower() in TIME_COLUMNS:
            time_col, time_scale = j, TIME_COLUMNS[name.lower()]
            if unit is not None and unit.lower() in ("ms", "s"):
                time_scale = 1e-3 if unit.lower() == "ms" else 1.0
            continue
        if name == "" and j == len(header) - 1:
            continue  # trailing separator
        try:
            names.append(canonical_lead(name))
        except RecordError as exc:
            raise UnsupportedFormatError(f"{path.name!r}: column {j + 1}: {exc}") from None
        lead_cols.append(j)
        col_units.append(unit)
    if not lead_cols:
        raise UnsupportedFormatError(f"{path.name!r}: the header names no ECG lead. {_HOW_TO_FIX}")

    default_unit = directives.get("units")
    factors: list[float] = []
    for name, unit in zip(names, col_units):
        u = unit if unit is not None else default_unit
        if u is None:
            raise UnsupportedFormatError(
                f"{path.name!r}: the units of lead {name} are not given. Add a '# units=uV' "
                "(or mV) line, or write the header as 'I (mV)'."
            )
        factors.append(unit_factor(u, where=f"{path.name!r}: lead {name}"))

    scale = 1.0
    if "scale" in directives:
        try:
            scale = float(directives["scale"])
        except ValueError:
            raise UnsupportedFormatError(
                f"{path.name!r}: '# scale={directives['scale']}' is not a number (units per count)."
            ) from None
        if not np.isfinite(scale) or scale <= 0:
            raise UnsupportedFormatError(
                f"{path.name!r}: '# scale={directives['scale']}' must be a positive number of units per count "
                "(a negative scale would invert every lead)."
            )
    factors = [f * scale for f in factors]

    decimal_comma = sep != ","
    n_cols = len(header)
    check_samples(n_cols, len(lines) - 1, f"{path.name!r} (CSV rows x columns)")
    values = np.empty((len(lines) - 1, n_cols), dtype=np.float64)
    for i, line in enumerate(lines[1:]):
        cells = line.split(sep)
        if len(cells) != n_cols:
            raise CorruptFileError(
                f"{path.name!r}: data row {i + 1} (line {i + 2} without comments) has "
                f"{len(cells)} cells, the header has {n_cols}."
            )
        try:
            values[i] = [_parse_number(c, decimal_comma) for c in cells]
        except ValueError:
            raise CorruptFileError(
                f"{path.name!r}: data row {i + 1} has a cell that is not a finite number (text, NaN or "
                f"infinity): {line[:80]!r}. Leave a cell empty only where a whole lead was not recorded."
            ) from None
    if values.shape[0] == 0:
        raise CorruptFileError(f"{path.name!r} has a header but no rows of samples.")
    if header[-1] == "" and time_col != n_cols - 1 and not np.isnan(values[:, -1]).all():
        raise UnsupportedFormatError(
            f"{path.name!r}: column {n_cols} has samples but no lead name in the header; name it "
            f"(e.g. V6) or remove the column. {_HOW_TO_FIX}"
        )

    fs = _sampling_rate(path, directives, values[:, time_col] * time_scale if time_col is not None else None)
    rows: list[np.ndarray] = []
    kept: list[str] = []
    empty: list[str] = []
    for j, name, factor in zip(lead_cols, names, factors):
        col = values[:, j]
        missing = np.isnan(col)
        if missing.all():
            empty.append(name)
            continue
        if missing.any():
            raise CorruptFileError(
                f"{path.name!r}: lead {name} has {int(missing.sum())} empty cells (first at data "
                f"row {int(np.argmax(missing)) + 1}); fill them or leave the whole column empty."
            )
        with np.errstate(over="ignore"):
            uv = col * factor
        if not np.isfinite(uv).all():  # finite cells that overflow once scaled to µV
            k = int(np.argmax(~np.isfinite(uv)))
            raise CorruptFileError(
                f"{path.name!r}: lead {name}, data row {k + 1}: {col[k]:g} x {factor:g} µV per unit is beyond any "
                "number ecgpilot can store; no ECG has such values. Check the units and the scale."
            )
        rows.append(uv)
        kept.append(name)
    if not rows:
        raise CorruptFileError(f"{path.name!r}: every lead column is empty.")
    extra: dict[str, Any] = {"directives": directives}
    if empty:
        extra["empty_leads"] = empty
    start = None
    if "start" in directives:
        try:
            start = datetime.fromisoformat(directives["start"])
        except ValueError:
            raise UnsupportedFormatError(
                f"{path.name!r}: '# start={directives['start']}' is not an ISO date-time "
                "(e.g. 2024-03-01T14:05:00)."
            ) from None
    return ECGRecord(
        signal=np.vstack(rows).astype(np.float32),
        fs=fs,
        leads=tuple(kept),
        start_time=start,
        source=SourceInfo(format=FORMAT, path=str(path), extra=extra),
    )


def _sampling_rate(path: Path, directives: dict[str, str], time_s: np.ndarray | None) -> float:
    """Rate from ``# fs=`` and/or the time column; both must agree within 0.5 %."""
    fs_directive: float | None = None
    if "fs" in directives:
        text = re.sub(r"\s*hz$", "", directives["fs"].strip(), flags=re.IGNORECASE)
        try:
            fs_directive = float(text)
        except ValueError:
            raise UnsupportedFormatError(
                f"{path.name!r}: '# fs={directives['fs']}' is not a number of Hz (e.g. '# fs=500')."
            ) from None
        if not fs_directive > 0:
            raise UnsupportedFormatError(f"{path.name!r}: '# fs={directives['fs']}' must be positive.")
    fs_time: float | None = None
    if time_s is not None and time_s.size >= 2:
        if np.isnan(time_s).any():
            raise CorruptFileError(f"{path.name!r}: the time column has empty cells.")
        dt = np.diff(time_s)
        step = float(np.median(dt))
        if not step > 0 or np.max(np.abs(dt - step)) > 0.1 * step + 1e-9:
            raise CorruptFileError(
                f"{path.name!r}: the time column is not regularly increasing (median step "
                f"{step:g} s, steps from {dt.min():g} to {dt.max():g} s)."
            )
        fs_time = float(1.0 / ((time_s[-1] - time_s[0]) / (time_s.size - 1)))
    if fs_directive is not None and fs_time is not None:
        if abs(fs_time - fs_directive) > 0.005 * fs_directive:
            raise UnsupportedFormatError(
                f"{path.name!r}: '# fs={fs_directive:g}' disagrees with the time column "
                f"({fs_time:.3f} Hz); fix one of them."
            )
        return fs_directive
    if fs_directive is not None:
        return fs_directive
    if fs_time is not None:
        return round(fs_time, 3)
    raise UnsupportedFormatError(
        f"{path.name!r}: the sampling rate is unknown. Add a '# fs=500' line (in Hz) "
        "or a 'time_s' column."
    )
