"""Patient sex and age from every format, against what each real file holds (read in the file
itself: the values are quoted in each test), and the shared rules of ``ecgpilot.io._patient``."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from conftest import data_file

from ecgpilot import read_ecg
from ecgpilot.io._patient import age_on, complete_patient, plausible_age, sex_code
from ecgpilot.record import PatientInfo

FS = "format-samples"


# --- shared rules -------------------------------------------------------------------------

def test_age_on_counts_completed_years_and_cuts_the_fraction() -> None:
    assert age_on(date(1953, 5, 8), datetime(2002, 11, 22, 9, 10)) == 49.5  # 49 y + 198/365
    assert age_on(date(1957, 6, 24), date(2004, 6, 24)) == 47.0  # the birthday itself
    assert age_on(date(2006, 1, 10), date(2023, 12, 31)) == 17.9  # 17.97: never rounded up to 18
    assert age_on(date(2000, 2, 29), date(2021, 2, 28)) == 21.0  # leap-day birthday in a common year
    assert age_on(date(2025, 1, 1), date(2024, 1, 1)) is None  # born after the recording
    assert age_on(date(1850, 1, 1), date(2024, 1, 1)) is None  # 174 years
    assert age_on(None, date(2024, 1, 1)) is None and age_on(date(1950, 1, 1), None) is None


@pytest.mark.parametrize("value, expected", [(54, 54.0), (0, 0.0), (130, 130.0), (130.5, None), (-1, None),
                                             (math.nan, None), (math.inf, None), (None, None)])
def test_plausible_age(value: float | None, expected: float | None) -> None:
    assert plausible_age(value) == expected


@pytest.mark.parametrize("text, expected", [("Male", "M"), ("FEMALE", "F"), (" f ", "F"), ("M", "M"),
                                            ("Unknown", "U"), ("UN", "U"), ("O", "U"), ("X", "U"),
                                            ("NaN", None), ("", None), (None, None), ("Yes", None)])
def test_sex_code(text: str | None, expected: str | None) -> None:
    assert sex_code(text) == expected


def test_complete_patient_keeps_a_stated_age_and_drops_an_impossible_one() -> None:
    stated = PatientInfo(birth_date=date(1953, 5, 8), age_years=46.0)
    assert complete_patient(stated, date(2002, 11, 22)).age_years == 46.0  # the file's own age wins
    wrong = PatientInfo(birth_date=date(1953, 5, 8), age_years=999.0)
    assert complete_patient(wrong, date(2002, 11, 22)).age_years == 49.5  # then the birth date
    assert complete_patient(PatientInfo(age_years=-3.0), None).age_years is None


# --- DICOM ----------------------------------------------------------------------------------

def test_dicom_patient_age_element() -> None:
    """waveform_ecg.dcm: PatientSex 'F', PatientAge '042Y'."""
    p = read_ecg(data_file(FS, "dicom", "waveform_ecg.dcm")).patient
    assert (p.sex, p.age_years) == ("F", 42.0)


def test_dicom_age_from_birth_date_when_no_patient_age() -> None:
    """Example.dcm: PatientSex 'M', PatientAge empty, PatientBirthDate 19530508, acquired 20021122."""
    p = read_ecg(data_file(FS, "ecgtoolkit-examples", "Example.dcm")).patient
    assert (p.sex, p.birth_date, p.age_years) == ("M", date(1953, 5, 8), 49.5)


@pytest.mark.filterwarnings("ignore:Invalid value for VR AS")  # 'abc' is written on purpose
@pytest.mark.parametrize("age, sex, expected_age, expected_sex",
                         [("006M", "F", 0.5, "F"), ("010W", "M", 0.192, "M"), ("030D", "O", 0.082, "U"),
                          ("200Y", "", 49.5, None), ("abc", "M", 49.5, "M")])
def test_dicom_age_units_and_bad_values(tmp_path: Path, age: str, sex: str, expected_age: float,
                                        expected_sex: str | None) -> None:
    """PatientAge in months/weeks/days; an impossible or malformed one falls back on the birth date."""
    pydicom = pytest.importorskip("pydicom")
    ds = pydicom.dcmread(str(data_file(FS, "ecgtoolkit-examples", "Example.dcm")))
    ds.PatientAge, ds.PatientSex = age, sex
    out = tmp_path / "x.dcm"
    ds.save_as(str(out))
    p = read_ecg(out).patient
    assert (p.age_years, p.sex) == (expected_age, expected_sex)


# --- SCP-ECG --------------------------------------------------------------------------------

def test_scp_age_from_section_1_birth_date() -> None:
    """Example.scp section 1: tag 5 = a1 07 05 08 (1953-05-08), tag 8 = 01 (male), tag 25 =
    d2 07 0b 16 (2002-11-22), no tag 4: age 49.5 from the birth date."""
    p = read_ecg(data_file(FS, "ecgtoolkit-examples", "Example.scp")).patient
    assert (p.sex, p.birth_date, p.age_years) == ("M", date(1953, 5, 8), 49.5)


def test_scp_demo_age_on_the_birthday() -> None:
    """demo.scp: tag 5 = a5 07 06 18 (1957-06-24), tag 25 = d4 07 06 18 (2004-06-24): 47.0."""
    p = read_ecg(data_file(FS, "contec-ecg90a", "demo.scp")).patient
    assert (p.sex, p.age_years) == ("M", 47.0)


# --- HL7 aECG -------------------------------------------------------------------------------

def test_hl7_reported_age_and_gender() -> None:
    """FDA example: administrativeGenderCode M, birthTime 19530508, and a reported age
    (LOINC 21612-7) of 46 a, which is what the file states and is kept."""
    p = read_ecg(data_file(FS, "hl7-aecg", "fda-aecg-python", "Example aECG.xml")).patient
    assert (p.sex, p.birth_date, p.age_years) == ("M", date(1953, 5, 8), 46.0)


def test_hl7_age_from_birth_time() -> None:
    """Philips' aECG conversion: gender F, birthTime 19760101, no reported age, effective time
    2008-12-23: 32 years + 357/366."""
    p = read_ecg(data_file(FS, "philips-sierra-xml", "1_04", "ad4d3d80-d165_1-04_converted.xml")).patient
    assert (p.sex, p.birth_date, p.age_years) == ("F", date(1976, 1, 1), 32.9)


def test_hl7_undifferentiated_gender_and_empty_birth_time() -> None:
    """LIRYC example: administrativeGenderCode 'UN', birthTime value '' and an empty <Age/>."""
    p = read_ecg(data_file(FS, "hl7-aecg", "liryc-hl7v3-aecg", "hl7aecg_example.xml")).patient
    assert (p.sex, p.birth_date, p.age_years) == ("U", None, None)


# --- GE MUSE --------------------------------------------------------------------------------

PEROTTE = (FS, "ge-muse-xml", "perottelab-introecg", "MUSE_20200923_093504_79000_example.xml")


def test_muse_patient_age_and_gender() -> None:
    """<PatientAge>40</PatientAge> <AgeUnits>YEARS</AgeUnits> <Gender>MALE</Gender>."""
    p = read_ecg(data_file(*PEROTTE)).patient
    assert (p.sex, p.age_years) == ("M", 40.0)


@pytest.mark.parametrize("age, unit, expected",
                         [(b"18", b"MONTHS", (1.5, "F")),
                          (None, None, (40.2, "F")),  # no age: DateofBirth 06-10-1980 on 09-22-2020
                          (b"150", b"YEARS", (40.2, "F"))])  # impossible: the birth date instead
def test_muse_age_units_and_birth_date(tmp_path: Path, age: bytes | None, unit: bytes | None,
                                       expected: tuple[float, str]) -> None:
    raw = data_file(*PEROTTE).read_bytes()
    stated = re.compile(rb"<PatientAge>40</PatientAge>\s*<AgeUnits>YEARS</AgeUnits>")
    assert len(stated.findall(raw)) == 1 and raw.count(b"<Gender>MALE</Gender>") == 1
    demo = b"" if age is None else b"<PatientAge>" + age + b"</PatientAge><AgeUnits>" + unit + b"</AgeUnits>"
    out = tmp_path / "muse.xml"
    out.write_bytes(stated.sub(demo, raw).replace(b"<Gender>MALE</Gender>", b"<Gender>FEMALE</Gender>"))
    p = read_ecg(out).patient
    assert (p.age_years, p.sex) == expected


# --- Philips Sierra -------------------------------------------------------------------------

def test_sierra_1_03_age_years() -> None:
    """129DYPRG.XML: <age><years>50</years></age> <sex>Male</sex>."""
    p = read_ecg(data_file(FS, "philips-sierra-xml", "1_03", "129DYPRG.XML")).patient
    assert (p.sex, p.age_years) == ("M", 50.0)


def test_sierra_1_04_age_from_date_of_birth_not_defaultage() -> None:
    """<age defaultage="50"><dateofbirth>1950-01-01</dateofbirth></age> <sex>Male</sex>, acquired
    2010-01-19: 60.0 (defaultage is the cart's assumption, not the patient's age)."""
    p = read_ecg(data_file(FS, "philips-sierra-xml", "1_04", "3191723_ZZDEMOPTONLY_1-04_orig.xml")).patient
    assert (p.sex, p.birth_date, p.age_years) == ("M", date(1950, 1, 1), 60.0)


def test_sierra_1_04_01_unknown_sex() -> None:
    """<dateofbirth>1951-01-01</dateofbirth> <sex>Unknown</sex>, acquired 2020-05-18: 69 + 138/366."""
    p = read_ecg(data_file(FS, "philips-sierra-xml", "1_04_01", "2020-5-18_15-48-11.xml")).patient
    assert (p.sex, p.birth_date, p.age_years) == ("U", date(1951, 1, 1), 69.3)
