"""The project's exceptions, all in one place.

Hierarchy::

    ECGPilotError
    ├── ReadError                 a file could not be turned into an ECGRecord
    │   ├── UnsupportedFormatError    format not recognised / not supported
    │   └── CorruptFileError          recognised, but malformed, truncated or empty
    ├── RecordError (ValueError)  an ECGRecord would be inconsistent (bad rate, NaN, lead names...)
    ├── NotInterpretableError     quality too poor to interpret: analysis refuses
    ├── ModelError                the classifier cannot run on this input (or is unavailable)
    ├── ConfigError               bad settings / options given by the user
    └── AuthenticationError       a login could not be established (bad OIDC response / token)

Every message says what was wrong and, where possible, what to do.
"""

from __future__ import annotations

__all__ = [
    "ECGPilotError",
    "ReadError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "RecordError",
    "NotInterpretableError",
    "ModelError",
    "ConfigError",
    "AuthenticationError",
]


class ECGPilotError(Exception):
    """Base class of every error raised on purpose by ecgpilot."""


class ReadError(ECGPilotError):
    """A file could not be read into an :class:`~ecgpilot.record.ECGRecord`."""


class UnsupportedFormatError(ReadError):
    """The file's format is not recognised or not supported."""


class CorruptFileError(ReadError):
    """The format is recognised but the content is malformed, truncated or empty."""


class RecordError(ECGPilotError, ValueError):
    """An ECG recording would be inconsistent (non-finite samples, bad rate, unknown lead...)."""


class NotInterpretableError(ECGPilotError):
    """The signal quality is too poor for an interpretation; the reasons are attached."""

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = list(reasons or [])


class ModelError(ECGPilotError):
    """The classifier cannot run on this input, or the model file is missing/invalid."""


class ConfigError(ECGPilotError, ValueError):
    """An option or setting has a value that is not accepted."""


class AuthenticationError(ECGPilotError):
    """A login attempt failed: invalid state, token signature, issuer, audience, expiry or nonce."""
