"""Per-statement Platt calibration and decision thresholds (pure numpy/scipy)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

__all__ = ["logit", "fit_platt", "apply_platt", "f1_threshold", "f1_at", "MIN_F1"]

_EPS = 1e-6
#: Below this fold-9 F1 at its best threshold a statement has no usable yes/no operating point
#: (e.g. TAB with 4 fold-9 positives: best F1 0.005 by flagging 70 % of ECGs); such a statement
#: is never flagged ``present`` and only its probability is reported.
MIN_F1 = 0.05


def logit(p: NDArray) -> NDArray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def fit_platt(y: NDArray, p: NDArray) -> tuple[float, float]:
    """Fit ``sigmoid(a * logit(p) + b)`` to labels ``y`` by regularised log-loss; (1, 0) if degenerate.

    The slope is kept ≥ 0.01 so that calibration never reverses the model's ranking (with a
    handful of positives an unconstrained fit can come out negative)."""
    y = np.asarray(y, dtype=np.float64)
    if y.min() == y.max():
        return 1.0, 0.0
    z = logit(p)

    def loss(ab: NDArray) -> tuple[float, NDArray]:
        s = ab[0] * z + ab[1]
        q = 1 / (1 + np.exp(-s))
        ll = np.sum(np.logaddexp(0, s) - y * s) + 1e-3 * ((ab[0] - 1) ** 2 + ab[1] ** 2)
        g = q - y
        return float(ll), np.array([np.dot(g, z) + 2e-3 * (ab[0] - 1), g.sum() + 2e-3 * ab[1]])

    res = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B",
                   bounds=[(0.01, None), (None, None)])
    return float(res.x[0]), float(res.x[1])


def apply_platt(p: NDArray, a: NDArray | float, b: NDArray | float) -> NDArray:
    """Calibrated probabilities; ``a``/``b`` broadcast over the last axis."""
    return 1 / (1 + np.exp(-(np.asarray(a) * logit(p) + np.asarray(b))))


def f1_threshold(y: NDArray, p: NDArray) -> float:
    """Threshold on ``p`` maximising F1 for labels ``y`` (0.5 when ``y`` has no positive)."""
    y = np.asarray(y).astype(bool)
    if not y.any():
        return 0.5
    order = np.argsort(-p)
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(~ys)
    f1 = 2 * tp / (tp + fp + y.sum())
    k = int(np.argmax(f1))
    nxt = ps[k + 1] if k + 1 < len(ps) else ps[k] - 1e-6
    return float((ps[k] + nxt) / 2)


def f1_at(y: NDArray, p: NDArray, threshold: float) -> float:
    """F1 of the decision ``p >= threshold`` for labels ``y`` (0 when there is no positive)."""
    y = np.asarray(y).astype(bool)
    flag = np.asarray(p) >= threshold
    denom = flag.sum() + y.sum()
    return float(2 * (flag & y).sum() / denom) if denom else 0.0
