"""ecgpilot: open, self-hostable 12-lead ECG assistant for general practice."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ecgpilot.errors import (
    ConfigError,
    CorruptFileError,
    ECGPilotError,
    ModelError,
    NotInterpretableError,
    ReadError,
    RecordError,
    UnsupportedFormatError,
)
from ecgpilot.io import detect_format, read_ecg
from ecgpilot.record import ECGRecord, PatientInfo, SourceInfo

try:
    __version__ = version("ecgpilot")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+src"

__all__ = [
    "ECGRecord",
    "PatientInfo",
    "SourceInfo",
    "read_ecg",
    "detect_format",
    "ECGPilotError",
    "ReadError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "RecordError",
    "NotInterpretableError",
    "ModelError",
    "ConfigError",
    "__version__",
]
