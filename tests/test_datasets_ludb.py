"""LUDB with its true amplitudes: the ADC values obey Einthoven's law, the header-scaled ones do not."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import data_file
from ecgpilot.errors import ConfigError


def _einthoven_error(rec) -> float:  # noqa: ANN001
    i, ii, iii = (rec.signal[rec.leads.index(n)].astype(np.float64) for n in ("I", "II", "III"))
    return float(np.abs(i + iii - ii).mean() / np.abs(ii).mean())


@pytest.mark.parametrize("n", [1, 21, 150])
def test_true_amplitudes_obey_einthoven_and_header_gains_do_not(n: int) -> None:
    from ecgpilot.datasets.ludb import read_ludb
    from ecgpilot.io import read_ecg

    hea = data_file("ludb", "data", f"{n}.hea")
    true = read_ludb(n)
    as_file = read_ecg(hea)
    assert _einthoven_error(true) < 0.03
    assert _einthoven_error(as_file) > 0.3
    pp = as_file.signal.max(axis=1) - as_file.signal.min(axis=1)
    assert np.allclose(pp, 1000.0, atol=2.0)        # every lead of the file spans exactly 1 mV


def test_unknown_record_is_refused() -> None:
    from ecgpilot.datasets.ludb import read_ludb

    with pytest.raises(ConfigError, match="201.*1 to 200"):
        read_ludb(201)
