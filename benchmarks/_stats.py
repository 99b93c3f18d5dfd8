"""Statistics shared by the benchmarks (imported by them; the package never imports benchmarks)."""

from __future__ import annotations

from scipy.stats import binomtest

__all__ = ["proportion", "wilson"]


def wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) of the proportion ``k/n``; NaNs when ``n`` is 0."""
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=1 - alpha, method="wilson")
    return float(ci.low), float(ci.high)


def proportion(k: int, n: int, digits: int = 2) -> str:
    """``k/n = p (lo–hi)`` with the Wilson 95 % interval, ``digits`` decimals; "–" when ``n`` is 0."""
    if n == 0:
        return "–"
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / n:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"
