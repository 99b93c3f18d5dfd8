"""Patient traits shared by the readers: sex codes, plausible ages, age from a birth date.

Impossible values are dropped quietly (``None``), never raised: a wrong age in a
file must not stop the reading of its ECG.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime

from ecgpilot.record import PatientInfo, Sex

__all__ = ["MAX_AGE_YEARS", "plausible_age", "age_on", "sex_code", "complete_patient"]

#: Oldest age accepted, in years; above it (or below 0) an age is taken as not given.
MAX_AGE_YEARS = 130.0

_SEX_CODES: dict[str, Sex] = {
    "M": "M", "MALE": "M", "MAN": "M",
    "F": "F", "FEMALE": "F", "WOMAN": "F",
    # said but not known (HL7 'UN' undifferentiated / 'UNK', DICOM 'O' other, EDF+ 'X', CinC 'Unknown')
    "U": "U", "UN": "U", "UNK": "U", "UNKNOWN": "U", "O": "U", "OTHER": "U", "X": "U",
}


def sex_code(text: str | None) -> Sex | None:
    """``'M'``, ``'F'`` or ``'U'`` from a file's sex field (``Male``, ``F``, ``UN``...); None if absent or unreadable."""
    if text is None:
        return None
    return _SEX_CODES.get(text.strip().upper())


def plausible_age(age: float | None) -> float | None:
    """The age in years when it is a number from 0 to :data:`MAX_AGE_YEARS`, else None."""
    if age is None:
        return None
    try:
        value = float(age)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value < 0 or value > MAX_AGE_YEARS:
        return None
    return value


def _birthday(birth: date, year: int) -> date:
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def age_on(birth: date | None, when: date | datetime | None) -> float | None:
    """Age in years on ``when`` of someone born on ``birth``: completed years plus the
    elapsed fraction of the current year, cut (not rounded) to one decimal, so that an age
    is never overstated (17.97 gives 17.9, not 18.0). None when either date is missing
    or the result is impossible."""
    if birth is None or when is None:
        return None
    day = when.date() if isinstance(when, datetime) else when
    if day < birth:
        return None
    years = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
    last = _birthday(birth, birth.year + years)
    nxt = _birthday(birth, birth.year + years + 1)
    frac = (day - last).days / max((nxt - last).days, 1)
    return plausible_age(math.floor((years + frac) * 10 + 1e-9) / 10)


def complete_patient(patient: PatientInfo, when: date | datetime | None) -> PatientInfo:
    """``patient`` with an impossible stated age dropped and, when no age is stated, the age
    computed from its birth date on ``when`` (the acquisition date)."""
    age = plausible_age(patient.age_years)
    if age is None:
        age = age_on(patient.birth_date, when)
    if age == patient.age_years:
        return patient
    return dataclasses.replace(patient, age_years=age)
