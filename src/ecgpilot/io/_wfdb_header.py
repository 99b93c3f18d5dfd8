"""WFDB header (``.hea``) text → :class:`WfdbHeader`, without the ``wfdb`` package.

The fields and their defaults follow the WFDB ``header(5)`` page, as the ``wfdb`` Python package
reads them (so that the samples come out the same): a gain of 0 or none is 200 units per mV, a
missing baseline is the ADC zero, missing units are mV. Two record-line variants of the PhysioNet
challenges are accepted as well: a record name with its signal file's suffix (CinC 2020-2021:
``E00271.mat 12 500 5000``) and the base dates ``2014-05-08 05:05:15`` (CinC 2017) and
``05-Feb-2020 11:39:16`` (CinC 2020). A line that does not follow the page is refused with its
number, never shifted into the next fields.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ecgpilot.errors import CorruptFileError, UnsupportedFormatError

__all__ = ["WfdbSignal", "WfdbHeader", "header_lines", "parse_header", "DEFAULT_GAIN"]

#: Gain (ADC units per physical unit) of a signal whose header gives none or 0 (``header(5)``).
DEFAULT_GAIN = 200.0

#: ``name[/n_segments] n_signals fs[/counter_freq[(base_counter)]] n_samples [base time [base date]]``
_RECORD = re.compile(
    r"(?P<name>\S+?)(?:/(?P<n_seg>\d+))?\s+(?P<n_sig>\d+)"
    r"(?:\s+(?P<fs>\S+?)(?:/(?P<counter>[^\s(]+)(?:\((?P<base_counter>[^\s)]*)\))?)?"
    r"(?:\s+(?P<n_samples>\S+)(?:\s+(?P<base>.*))?)?)?"
)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
#: ``file format[xspf][:skew][+offset] [gain[(baseline)][/units] [adc_res [adc_zero [init [checksum
#: [block_size [description]]]]]]]``: every field may be left out only with all the fields after it.
_SIGNAL = re.compile(
    r"(?P<file>\S+)\s+(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?"
    rf"(?:\s+(?P<gain>{_NUMBER})(?:\((?P<baseline>-?\d+)\))?(?:/(?P<units>\S*))?"
    r"(?:\s+(?P<adc_res>\d+)(?:\s+(?P<adc_zero>-?\d+)(?:\s+(?P<init>-?\d+)(?:\s+(?P<checksum>-?\d+)"
    r"(?:\s+(?P<block>\d+)(?:\s+(?P<description>.*))?)?)?)?)?)?)?"
)
_NAME = re.compile(r"[-\w]+")
#: Base time and date: WFDB's ``HH:MM:SS[.ffffff] DD/MM/YYYY`` (time alone: no start time), ISO and CinC 2020.
_DATE_FORMATS = ("%H:%M:%S %d/%m/%Y", "%H:%M:%S.%f %d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%d-%b-%Y %H:%M:%S")


@dataclass(frozen=True)
class WfdbSignal:
    """One signal line: where the samples are and how to turn them into physical units."""

    file_name: str
    fmt: int
    samples_per_frame: int
    skew: int
    byte_offset: int
    gain: float  # ADC units per physical unit (0 or missing in the file: DEFAULT_GAIN)
    baseline: int  # ADC value of 0 physical units
    units: str
    adc_res: int | None
    adc_zero: int
    init_value: int | None
    checksum: int | None
    block_size: int
    description: str


@dataclass(frozen=True)
class WfdbHeader:
    """A single-segment WFDB header."""

    record_name: str
    fs: float
    n_samples: int
    start_time: datetime | None
    signals: tuple[WfdbSignal, ...]
    comments: tuple[str, ...]


def header_lines(text: str) -> list[str]:
    """Non-empty, non-comment lines of a header, stripped."""
    return [s.strip() for s in text.splitlines() if s.strip() and not s.lstrip().startswith("#")]


def _base_datetime(base: str) -> datetime | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(base, fmt)
        except ValueError:
            continue
    return None


def _malformed_record_line(name: str, line: str) -> CorruptFileError:
    return CorruptFileError(
        f"{name!r}: record line {line!r} must read '<name> <n_signals> <fs> <n_samples>' "
        "with a numeric sampling rate and number of samples."
    )


def _number(text: str, name: str, line: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _malformed_record_line(name, line) from None
    return value


def _signal(line: str, number: int, name: str) -> WfdbSignal:
    m = _SIGNAL.fullmatch(line)
    if m is None:
        raise CorruptFileError(
            f"{name!r}: signal line {number} of the header is malformed ({line[:80]!r}); check its format, "
            "gain and unit fields, e.g. 'r.dat 16 1000(0)/mV 16 0 0 0 0 I'."
        )
    g = m.groupdict()
    file_name = g["file"]
    if "/" in file_name or "\\" in file_name or file_name in (".", ".."):
        raise UnsupportedFormatError(
            f"{name!r}: signal line {number} names the signal file {file_name!r}, which is a path; "
            "the signal files must be beside the header and named without a folder."
        )
    gain = float(g["gain"]) if g["gain"] is not None else 0.0
    if not math.isfinite(gain):
        raise CorruptFileError(f"{name!r}: signal line {number} gives the gain {g['gain']!r}, not a finite number.")
    adc_zero = int(g["adc_zero"]) if g["adc_zero"] is not None else 0
    if g["baseline"] is not None:
        baseline = int(g["baseline"])
    else:
        baseline = adc_zero  # header(5): the baseline defaults to the ADC zero
    units = g["units"] if g["units"] else "mV"

    def opt(key: str) -> int | None:
        return int(g[key]) if g[key] is not None else None

    return WfdbSignal(
        file_name=file_name,
        fmt=int(g["fmt"]),
        samples_per_frame=int(g["spf"]) if g["spf"] else 1,
        skew=int(g["skew"] or 0),
        byte_offset=int(g["offset"] or 0),
        gain=gain if gain != 0.0 else DEFAULT_GAIN,
        baseline=baseline,
        units=units,
        adc_res=opt("adc_res"),
        adc_zero=adc_zero,
        init_value=opt("init"),
        checksum=opt("checksum"),
        block_size=int(g["block"] or 0),
        description=(g["description"] or "").strip(),
    )


def parse_header(text: str, hea: Path) -> WfdbHeader:
    """The header ``text`` of the file ``hea`` (named in the errors); refuses what it cannot read.

    Raises :class:`CorruptFileError` for a malformed record or signal line, a sampling rate or
    sample count that is not a positive number, or a count of signal lines other than declared;
    :class:`UnsupportedFormatError` for a multi-segment record.
    """
    name = hea.name
    lines = header_lines(text)
    if not lines:
        raise CorruptFileError(f"{name!r} holds no record line.")
    m = _RECORD.fullmatch(lines[0])
    if m is None:
        raise _malformed_record_line(name, lines[0])
    if m["n_seg"] is not None:
        raise UnsupportedFormatError(
            f"{name!r} is a multi-segment WFDB record; only single-segment records are "
            "supported. Convert it with wfdb (e.g. wfdb.rdrecord + wrsamp) first."
        )
    if m["fs"] is None or m["n_samples"] is None or not m["n_samples"].isdigit():
        raise _malformed_record_line(name, lines[0])
    fs = _number(m["fs"], name, lines[0])
    if not (math.isfinite(fs) and fs > 0):
        raise CorruptFileError(f"{name!r}: sampling rate {m['fs']!r} is not a positive number.")
    n_samples = int(m["n_samples"])
    if n_samples <= 0:
        raise CorruptFileError(
            f"{name!r}: the record line gives no number of samples; "
            "ecgpilot needs it to check the signal file is complete."
        )
    n_sig = int(m["n_sig"])
    signal_lines = lines[1:]
    if n_sig == 0 or len(signal_lines) != n_sig:
        raise CorruptFileError(
            f"{name!r}: the record line declares {n_sig} signal(s) but the header has {len(signal_lines)} "
            "signal line(s); expected one line per signal."
        )
    base = (m["base"] or "").strip()
    record_name = m["name"] if _NAME.fullmatch(m["name"]) else hea.stem  # CinC 2020: 'E00271.mat'
    comments = tuple(s.strip().strip(" \t#") for s in text.splitlines() if s.strip().startswith("#"))
    return WfdbHeader(
        record_name=record_name,
        fs=fs,
        n_samples=n_samples,
        start_time=_base_datetime(" ".join(base.split())) if base else None,
        signals=tuple(_signal(s, i + 1, name) for i, s in enumerate(signal_lines)),
        comments=comments,
    )
