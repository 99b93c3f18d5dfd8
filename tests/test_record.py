"""The central ECGRecord object and lead names."""

from __future__ import annotations

import numpy as np
import pytest

from ecgpilot import ECGRecord, RecordError
from ecgpilot.leads import STANDARD_12, canonical_lead


def _rec(n_leads: int = 8, n: int = 500, fs: float = 500.0, leads=None) -> ECGRecord:
    rng = np.random.default_rng(0)
    leads = leads or ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")[:n_leads]
    return ECGRecord(signal=rng.normal(0, 100, (len(leads), n)), fs=fs, leads=leads)


@pytest.mark.parametrize(
    "given, expected",
    [("AVL", "aVL"), ("avr", "aVR"), ("MDC_ECG_LEAD_V1", "V1"), ("DII", "II"),
     ("Lead III", "III"), ("v6", "V6"), ("MLII", "MLII"), ("ecg", "ECG")],
)
def test_canonical_lead_spellings(given: str, expected: str) -> None:
    assert canonical_lead(given) == expected


def test_unknown_lead_names_value_and_suggests() -> None:
    with pytest.raises(RecordError, match=r"'aVX'.*Did you mean 'aVL'|'aVX'.*Did you mean"):
        canonical_lead("aVX")


def test_record_validates_shape_rate_and_values() -> None:
    sig = np.zeros((2, 10))
    with pytest.raises(RecordError, match="fs must be a positive"):
        ECGRecord(signal=sig, fs=0, leads=("I", "II"))
    for fs in (10, 49.9, 1e12):  # a rate no ECG has: refused, naming the accepted range
        with pytest.raises(RecordError, match=r"fs = .* Hz is outside .* \(50 to 100000 Hz\)"):
            ECGRecord(signal=sig, fs=fs, leads=("I", "II"))
    assert ECGRecord(signal=sig, fs=50, leads=("I", "II")).fs == 50.0
    with pytest.raises(RecordError, match="2 lead names for 3 signal rows|3 lead names for 2"):
        ECGRecord(signal=sig, fs=100, leads=("I", "II", "III"))
    bad = sig.copy()
    bad[1, 3] = np.nan
    with pytest.raises(RecordError, match=r"1 non-finite samples .* II"):
        ECGRecord(signal=bad, fs=100, leads=("I", "II"))
    with pytest.raises(RecordError, match="unique"):
        ECGRecord(signal=sig, fs=100, leads=("I", "i"))
    with pytest.raises(RecordError, match="no samples"):
        ECGRecord(signal=np.zeros((2, 0)), fs=100, leads=("I", "II"))


def test_signal_is_float32_and_read_only() -> None:
    rec = _rec()
    assert rec.signal.dtype == np.float32
    with pytest.raises(ValueError):
        rec.signal[0, 0] = 1.0
    assert rec.units == "uV"
    assert rec.duration == pytest.approx(1.0)


def test_derived_limb_leads_follow_einthoven_goldberger() -> None:
    rec = _rec()
    full = rec.with_derived_leads()
    assert full.leads == STANDARD_12
    i, ii = rec.lead("I").astype(float), rec.lead("II").astype(float)
    np.testing.assert_allclose(full.lead("III"), ii - i, atol=1e-3)
    np.testing.assert_allclose(full.lead("aVR"), -(i + ii) / 2, atol=1e-3)
    np.testing.assert_allclose(full.lead("aVL"), i - ii / 2, atol=1e-3)
    np.testing.assert_allclose(full.lead("aVF"), ii - i / 2, atol=1e-3)
    # Einthoven's law holds on the result: I + III = II, aVR + aVL + aVF = 0
    np.testing.assert_allclose(full.lead("I") + full.lead("III"), full.lead("II"), atol=1e-2)
    np.testing.assert_allclose(full.lead("aVR") + full.lead("aVL") + full.lead("aVF"), 0, atol=1e-2)
    assert full.source.extra["derived_leads"] == ["III", "aVR", "aVL", "aVF"]


def test_pick_crop_and_missing_lead_errors() -> None:
    rec = _rec()
    sub = rec.pick(["V1", "I"])
    assert sub.leads == ("V1", "I")
    np.testing.assert_array_equal(sub.lead("I"), rec.lead("I"))
    assert rec.crop(0.2, 0.6).n_samples == 200
    with pytest.raises(RecordError, match="outside the recording"):
        rec.crop(0.5, 2.0)
    with pytest.raises(RecordError, match="'aVF' is not in this recording"):
        rec.lead("aVF")


def test_values_beyond_float32_are_named_not_called_nan() -> None:
    sig = np.zeros((1, 10))
    sig[0, 4] = 1e308  # finite in float64, infinite once stored in µV as float32
    with pytest.raises(RecordError, match=r"1 samples beyond .* µV \(e.g. 1e\+308\).*units, gain or scale"):
        ECGRecord(signal=sig, fs=100, leads=("I",))
