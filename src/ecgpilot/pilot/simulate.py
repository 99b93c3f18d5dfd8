"""Simulated pilots with a known effect (seeded): the test of the evaluation apparatus.

:func:`simulate_volume_panel` draws a GP × month panel from the Hussey & Hughes model: a practice
random intercept, period effects, the AI effect from each practice's crossover, Poisson counts
(or Gaussian, for the linear model's exact check).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ecgpilot.pilot.protocol import Protocol, ai_on, month_index, month_str, period_of

__all__ = ["simulate_volume_panel"]


def simulate_volume_panel(protocol: Protocol, allocation: Mapping[int, int | None], *, gps_per_practice: int = 3,
                          base_rate: float = 10.0, effect: float = 2.0, practice_sd: float = 2.0, period_step: float = 0.3,
                          noise: str = "poisson", residual_sd: float = 2.0, seed: int = 0) -> pd.DataFrame:
    """A panel with the columns of :func:`ecgpilot.pilot.volume.build_panel` (``n_ecg`` from the "insurer").

    Mean ECGs per GP-month = ``base_rate`` + practice effect (N(0, practice_sd²)) + ``period_step`` × period
    + ``effect`` × AI on; ``noise="poisson"`` draws Poisson counts around it, ``"gaussian"`` adds N(0, residual_sd²).
    """
    rng = np.random.default_rng(seed)
    first = month_index(protocol.start_month) - protocol.baseline_months
    last = month_index(protocol.end_month)
    rows = []
    for pid in sorted(allocation):
        u = rng.normal(0.0, practice_sd)
        for g in range(gps_per_practice):
            gp = f"G{pid}-{g}"
            for m in range(first, last + 1):
                month = month_str(m)
                p = period_of(protocol, month)
                on = bool(ai_on(protocol, allocation, pid, month))
                mu = base_rate + u + period_step * (p if p is not None else protocol.n_periods) + effect * on
                y: float
                if noise == "poisson":
                    y = int(rng.poisson(max(mu, 0.1)))
                else:
                    y = float(mu + rng.normal(0.0, residual_sd))
                rows.append({"gp": gp, "practice": pid, "month": month, "period": p,
                             "crossover_period": allocation[pid], "ai_on": int(on), "n_app": 0, "n_insurer": y,
                             "n_ecg": y, "source": "insurer"})
    return pd.DataFrame(rows)
