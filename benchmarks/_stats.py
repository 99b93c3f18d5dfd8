"""Statistics shared by the benchmarks (imported by them; the package never imports benchmarks)."""

from __future__ import annotations

from scipy.stats import binomtest

__all__ = ["wilson"]


def wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) of the proportion ``k/n``; NaNs when ``n`` is 0."""
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=1 - alpha, method="wilson")
    return float(ci.low), float(ci.high)
