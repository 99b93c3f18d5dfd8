"""Evaluation metrics in plain numpy (no scikit-learn dependency)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

__all__ = ["roc_auc", "macro_auc", "expected_calibration_error"]


def roc_auc(y: NDArray, p: NDArray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties averaged); NaN if one class is absent."""
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(np.asarray(p, dtype=np.float64))
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def macro_auc(y: NDArray, p: NDArray) -> float:
    """Mean ROC AUC over columns that have both classes."""
    aucs = [roc_auc(y[:, j], p[:, j]) for j in range(y.shape[1])]
    aucs = [a for a in aucs if not np.isnan(a)]
    return float(np.mean(aucs)) if aucs else float("nan")


def expected_calibration_error(y: NDArray, p: NDArray, bins: int = 10) -> float:
    """ECE over all (record, statement) pairs pooled, equal-width probability bins."""
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(ece)
