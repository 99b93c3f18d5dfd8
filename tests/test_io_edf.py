"""EDF reader: the Contec EDF against raw int16 × header scaling, and generated files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conformance import check_reader_file
from conftest import data_file

from ecgpilot import read_ecg
from ecgpilot.errors import UnsupportedFormatError
from ecgpilot.io import edf
from ecgpilot.leads import STANDARD_12


def write_edf(
    path: Path,
    signals: list[dict],
    n_records: int,
    record_seconds: float = 1.0,
    reserved: str = "",
    patient: str = "X X X X",
    recording: str = "Startdate 02-MAR-2024 X X X",
) -> None:
    """Write a small EDF file. Each signal: label, dim, pmin, pmax, dmin, dmax, n (per record), data (int16)."""

    def field(value: object, width: int) -> bytes:
        text = str(value).encode("ascii")[:width]
        return text.ljust(width)

    ns = len(signals)
    head = (
        field("0", 8) + field(patient, 80) + field(recording, 80) + field("02.03.24", 8)
        + field("14.05.30", 8) + field(256 * (ns + 1), 8) + field(reserved, 44) + field(n_records, 8)
        + field(record_seconds, 8) + field(ns, 4)
    )
    for key, width in (("label", 16), ("transducer", 80), ("dim", 8), ("pmin", 8), ("pmax", 8),
                       ("dmin", 8), ("dmax", 8), ("prefilter", 80), ("n", 8), ("reserved", 32)):
        head += b"".join(field(s.get(key, ""), width) for s in signals)
    body = bytearray()
    for r in range(n_records):
        for s in signals:
            chunk = np.asarray(s["data"], dtype="<i2")[r * s["n"] : (r + 1) * s["n"]]
            body += chunk.tobytes()
    path.write_bytes(head + bytes(body))


def _signal(label: str, data: np.ndarray, n: int, dim: str = "uV", pmin: float = -3276.8,
            pmax: float = 3276.7, dmin: int = -32768, dmax: int = 32767) -> dict:
    return {"label": label, "dim": dim, "pmin": pmin, "pmax": pmax, "dmin": dmin, "dmax": dmax,
            "n": n, "data": data}


def test_contec_edf_against_header_scaling() -> None:
    path = data_file("format-samples", "contec-ecg90a", "0000050.ECG.edf")
    main, signals = edf.parse_header(path.read_bytes()[:4096], path)
    assert main["n_signals"] == 12 and signals[0]["label"] == "I"
    raw = np.frombuffer(path.read_bytes()[main["header_bytes"]:], dtype="<i2").reshape(-1, 12)
    known = {}
    for lead, idx in (("I", 0), ("II", 20000), ("aVL", 37854)):
        s = signals[STANDARD_12.index(lead)]
        pmin, pmax, dmin, dmax = (float(s[k]) for k in ("phys_min", "phys_max", "dig_min", "dig_max"))
        assert s["dimension"] == "mV"
        mv = (raw[idx, STANDARD_12.index(lead)] - dmin) * (pmax - pmin) / (dmax - dmin) + pmin
        known[(lead, idx)] = mv * 1000.0
    rec = check_reader_file(path, fmt="edf", fs=800.0, n_samples=37855, leads=STANDARD_12,
                            known_samples=known, atol_uv=1e-2)
    assert rec.start_time == datetime(2020, 11, 16, 21, 44, 39)


def test_generated_edf_plus_skips_annotations_and_scales(tmp_path: Path) -> None:
    fs, n_rec = 250, 4
    ecg = (np.arange(fs * n_rec) % 200 - 100).astype(np.int16) * 50  # ±5000 counts
    path = tmp_path / "a_small.edf"
    write_edf(
        path,
        [
            _signal("ECG II", ecg, fs, dim="mV", pmin=-10.0, pmax=10.0, dmin=-10000, dmax=10000),
            _signal("EKG V1", -ecg, fs, dim="uV", pmin=-32768, pmax=32767),
            {"label": "EDF Annotations", "dim": "", "pmin": -1, "pmax": 1, "dmin": -32768,
             "dmax": 32767, "n": 30, "data": np.zeros(30 * n_rec)},
        ],
        n_records=n_rec,
        reserved="EDF+C",
        patient="P-77 F 12-JAN-1960 Martin,Anne",
    )
    rec = read_ecg(path)
    assert rec.leads == ("II", "V1") and rec.fs == 250.0 and rec.n_samples == fs * n_rec
    # 20 mV over 20000 counts: 1 µV per count; V1 is 1 µV per count too
    np.testing.assert_allclose(rec.lead("II"), ecg.astype(float), atol=1e-3)
    np.testing.assert_allclose(rec.lead("V1"), -ecg.astype(float), atol=1e-3)
    assert rec.source.extra["skipped_signals"] == ["EDF Annotations"]
    assert rec.patient.sex == "F" and rec.patient.family_name == "Martin"
    assert rec.start_time == datetime(2024, 3, 2, 14, 5, 30)


def test_mixed_rates_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a_mixed.edf"
    write_edf(path, [_signal("ECG I", np.zeros(500), 500), _signal("ECG II", np.zeros(250), 250)], 1)
    with pytest.raises(UnsupportedFormatError, match="different sampling rates"):
        read_ecg(path)


def test_scaling_property(tmp_path_factory: pytest.TempPathFactory) -> None:
    """µV = ((d - dmin) * (pmax - pmin) / (dmax - dmin) + pmin) * unit, for random headers."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    folder = tmp_path_factory.mktemp("edf_prop")

    @settings(max_examples=25, deadline=None)
    @given(
        dmin=st.integers(-32768, -1000),
        dspan=st.integers(1000, 30000),
        pmin=st.floats(-5000, -100, allow_nan=False),
        pspan=st.floats(200, 10000, allow_nan=False),
        unit=st.sampled_from(["uV", "mV"]),
        seed=st.integers(0, 2**16),
    )
    def check(dmin: int, dspan: int, pmin: float, pspan: float, unit: str, seed: int) -> None:
        dmax = min(dmin + dspan, 32767)
        pmax = pmin + pspan
        d = np.random.default_rng(seed).integers(dmin, dmax + 1, 100)
        path = folder / "a_prop.edf"
        # header fields are 8 characters: write the physical range as the header will store it
        pmin_s, pmax_s = f"{pmin:.1f}"[:8], f"{pmax:.1f}"[:8]
        write_edf(path, [_signal("II", d, 100, dim=unit, pmin=pmin_s, pmax=pmax_s, dmin=dmin, dmax=dmax)], 1)
        factor = 1000.0 if unit == "mV" else 1.0
        lo, hi = float(pmin_s), float(pmax_s)
        expected = ((d - dmin) * (hi - lo) / (dmax - dmin) + lo) * factor
        # the reader's own scaling: read_ecg then refuses the up to ±5 V this draws (beyond any amplifier)
        got = edf.read(path).lead("II")
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3 * factor)

    assert hypothesis is not None
    check()


def _one_lead_edf(path: Path, patient: str, reserved: str) -> None:
    fs = 250
    ecg = (np.arange(fs * 2) % 100 - 50).astype(np.int16)
    write_edf(path, [_signal("ECG II", ecg, fs)], n_records=2, reserved=reserved, patient=patient,
              recording="Startdate 02-MAR-2024 X X X")


@pytest.mark.parametrize("reserved", ["EDF+C", ""])
def test_edf_plus_patient_field_gives_sex_and_age(tmp_path: Path, reserved: str) -> None:
    """'X M 02-AUG-1951 Haagse_Harry' (EDF+ spec layout, also read from a plain EDF when the field
    has exactly that shape), start 02.03.24: 72 years + 213/366 of a year."""
    path = tmp_path / "p.edf"
    _one_lead_edf(path, "X M 02-AUG-1951 Haagse_Harry", reserved)
    p = read_ecg(path).patient
    assert (p.sex, p.birth_date, p.age_years) == ("M", datetime(1951, 8, 2).date(), 72.5)
    assert p.patient_id is None and p.family_name == "Haagse Harry"


def test_edf_patient_field_unknowns(tmp_path: Path) -> None:
    """'X X X X': sex said to be unknown, no birth date, no age."""
    path = tmp_path / "u.edf"
    _one_lead_edf(path, "X X X X", "EDF+C")
    p = read_ecg(path).patient
    assert (p.sex, p.birth_date, p.age_years) == ("U", None, None)


def test_edf_birth_date_after_the_recording_gives_no_age(tmp_path: Path) -> None:
    path = tmp_path / "f.edf"
    _one_lead_edf(path, "P1 F 02-AUG-2051 X", "EDF+C")
    p = read_ecg(path).patient
    assert (p.sex, p.age_years) == ("F", None)


def test_contec_plain_edf_placeholder_patient_field_is_not_read() -> None:
    """The Contec EDF's patient field (bytes 8-88) is just 'dd-MMM-yyyy' (a template): nothing to read."""
    path = data_file("format-samples", "contec-ecg90a", "0000050.ECG.edf")
    assert path.read_bytes()[8:88].strip() == b"dd-MMM-yyyy"
    p = read_ecg(path).patient
    assert (p.sex, p.birth_date, p.age_years) == (None, None, None)
