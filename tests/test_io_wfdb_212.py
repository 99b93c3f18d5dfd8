"""WFDB format 212 (MIT-BIH) decoded by hand over a whole record.

The hand decoding is validated by the header's own checksums (16-bit sum of every
sample of a signal, written by the record's producer), then compared with what the
reader returns for all 650,000 samples of both leads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import data_file, extract_members

from ecgpilot import read_ecg
from ecgpilot.io import detect_format


@pytest.fixture(scope="module")
def mitdb_100(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Record 100 (.hea, .dat) streamed out of the shared tarball into a temp folder."""
    tarball = data_file("mitdb", "mitdb.tar.xz")
    out = tmp_path_factory.mktemp("mitdb212")
    extract_members(tarball, {"100.hea", "100.dat"}, out)
    return out / "100.hea"


def _decode_212(data: bytes, n_sig: int, n: int) -> np.ndarray:
    """Format 212: each 3 bytes hold two 12-bit two's-complement samples, (n_sig, n)."""
    total = n_sig * n
    b = np.frombuffer(data[: 3 * ((total + 1) // 2)], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    first = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
    second = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
    s = np.empty(2 * len(b), dtype=np.int32)
    s[0::2], s[1::2] = first, second
    s = s[:total]
    s[s >= 2048] -= 4096
    return s.reshape(n, n_sig).T


def _signal_fields(hea: Path) -> tuple[int, float, int, list[list[str]]]:
    lines = [s.split() for s in hea.read_text().splitlines() if s.strip() and not s.startswith("#")]
    n_sig, fs, n = int(lines[0][1]), float(lines[0][2]), int(lines[0][3])
    return n_sig, fs, n, lines[1 : 1 + n_sig]


def test_mitdb_100_whole_record_matches_hand_decoding(mitdb_100: Path) -> None:
    n_sig, fs, n, sig = _signal_fields(mitdb_100)
    assert (n_sig, fs, n) == (2, 360.0, 650000)
    raw = _decode_212(mitdb_100.with_suffix(".dat").read_bytes(), n_sig, n)
    # Independent check of the hand decoding: header initial values and checksums.
    assert raw[:, 0].tolist() == [int(s[5]) for s in sig]
    checksums = [int(s[6]) for s in sig]
    assert [int(np.sum(row, dtype=np.int64)) % 65536 for row in raw] == [c % 65536 for c in checksums]
    # Gain field without '(baseline)': the baseline is the ADC zero (WFDB header spec).
    gains = [float(s[2]) for s in sig]
    assert all("(" not in s[2] for s in sig)
    adc_zero = [float(s[4]) for s in sig]
    expected = (raw - np.array(adc_zero)[:, None]) / np.array(gains)[:, None] * 1000.0

    rec = read_ecg(mitdb_100)
    assert rec.leads == tuple(s[-1] for s in sig)
    np.testing.assert_allclose(rec.signal, expected, atol=1e-3, rtol=0)
    # The same record through the path of its signal file.
    assert detect_format(mitdb_100.with_suffix(".dat")) == "wfdb"
    np.testing.assert_array_equal(read_ecg(mitdb_100.with_suffix(".dat")).signal, rec.signal)


def test_ludb_record_1_checksums_and_whole_record() -> None:
    """Format 16 counterpart: every sample of LUDB record 1 against int16 / gain."""
    hea = data_file("ludb", "data", "1.hea")
    n_sig, fs, n, sig = _signal_fields(hea)
    raw = np.fromfile(hea.with_suffix(".dat"), dtype="<i2").reshape(n, n_sig).T.astype(np.int64)
    assert [int(row.sum()) % 65536 for row in raw] == [int(s[6]) % 65536 for s in sig]
    gain = np.array([float(s[2].split("(")[0]) for s in sig])
    base = np.array([float(s[2].split("(")[1].split(")")[0]) for s in sig])
    expected = (raw - base[:, None]) / gain[:, None] * 1000.0
    np.testing.assert_allclose(read_ecg(hea).signal, expected, atol=1e-2, rtol=0)
