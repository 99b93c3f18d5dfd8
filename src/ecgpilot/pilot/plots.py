"""The evaluators' plots as SVG (or as matplotlib figures, ``as_figure=True``, for the PDF report) (matplotlib, object API: no pyplot state, no CDN): ECG volume per month by arm
with the steps, the stepped-wedge diagram, indicators with their 95% CIs, the monthly p-chart, the AI urgency
confusion matrix as a heatmap, the cost-effect plane and the tornado.

matplotlib is optional: :func:`available` says whether it is installed; each function raises
:class:`ConfigError` naming the extra to install when it is not.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ecgpilot.errors import ConfigError

__all__ = ["available", "pdf_pages", "funnel", "volume_by_arm", "stepped_wedge_diagram", "indicator_forest", "p_chart_plot",
           "confusion_heatmap", "cost_effect_plane", "tornado"]

ARM_COLOURS = {"ai_on": "#1f6feb", "ai_off": "#9a6700"}
ARM_LABELS = {"ai_on": "IA active / AI on", "ai_off": "IA inactive / AI off (contrôle)"}


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(w: float = 7.0, h: float = 4.0) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("plots need matplotlib: install ecgpilot with the [pilot] extra (pip install 'ecgpilot[pilot]').") from None
    return Figure(figsize=(w, h), layout="constrained")


def _svg(fig: Any) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "ecgpilot", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def pdf_pages(figures: Sequence[Any], summary: Sequence[str], title: str) -> bytes:
    """A PDF (matplotlib's own writer): a first page with ``title`` and the ``summary`` lines, then one figure a
    page. Each plot function gives its figure with ``as_figure=True``."""
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "ecgpilot", "CreationDate": None}) as pdf:
        first = _figure(8.27, 11.69)
        first.text(0.06, 0.95, title, fontsize=14, weight="bold", va="top")
        y = 0.9
        for line in summary:
            first.text(0.06, y, line, fontsize=9, va="top", wrap=True)
            y -= 0.028
        pdf.savefig(first)
        for fig in figures:
            pdf.savefig(fig)
    return buf.getvalue()


def volume_by_arm(panel: pd.DataFrame, period_starts: Sequence[str] = (), *, as_figure: bool = False) -> Any:
    """Mean ECGs per GP per month in each arm (with the number of GPs), vertical lines at the period starts."""
    fig = _figure()
    ax = fig.subplots()
    df = panel.copy()
    df["arm"] = df["ai_on"].map({1: "ai_on", 0: "ai_off"})
    months = sorted(df["month"].unique())
    pos = {m: i for i, m in enumerate(months)}
    for arm, g in df.groupby("arm"):
        s = g.groupby("month")["n_ecg"].mean()
        ax.plot([pos[m] for m in s.index], s.values, marker="o", ms=3, color=ARM_COLOURS[str(arm)], label=ARM_LABELS[str(arm)])
    for m in period_starts:
        if m in pos:
            ax.axvline(pos[m], color="#888", lw=0.8, ls="--")
    step = max(1, len(months) // 12)
    ax.set_xticks(range(0, len(months), step), [months[i] for i in range(0, len(months), step)], rotation=45, ha="right")
    ax.set_ylabel("ECG / médecin / mois — per GP per month")
    ax.set_title("Volume d'ECG par bras — ECG volume by arm")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)
    return fig if as_figure else _svg(fig)


def stepped_wedge_diagram(schedule: Mapping[Any, Sequence[bool]], labels: Mapping[Any, str] | None = None, *,
                          as_figure: bool = False) -> Any:
    """Practices (rows, earliest switch on top) × periods (columns): filled = AI on."""
    from matplotlib.colors import ListedColormap

    rows = sorted(schedule, key=lambda r: (-sum(bool(x) for x in schedule[r]), str(r)))
    fig = _figure(6.0, max(2.0, 0.25 * len(rows) + 1.2))
    ax = fig.subplots()
    data = [[1 if on else 0 for on in schedule[r]] for r in rows]
    n = len(data[0]) if data else 0
    ax.pcolormesh(range(n + 1), range(len(rows) + 1), data, cmap=ListedColormap(["#f2e6cc", ARM_COLOURS["ai_on"]]),
                  vmin=0, vmax=1, edgecolors="white", linewidth=0.5)   # vector cells (prints sharp)
    ax.set_yticks([i + 0.5 for i in range(len(rows))], [(labels or {}).get(r, str(r)) for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xticks([p + 0.5 for p in range(n)], [f"P{p}" for p in range(n)])
    ax.set_xlabel("période — period (bleu/blue = IA active / AI on)")
    ax.set_title("Plan en escalier — stepped-wedge schedule")
    return fig if as_figure else _svg(fig)


def indicator_forest(indicators: Mapping[str, Mapping[str, Any]], names: Sequence[str], *, as_figure: bool = False) -> Any:
    """Each named proportion per arm with its Wilson 95% CI (``indicators[arm][name]`` = Proportion or dict)."""
    fig = _figure(7.0, 0.5 * len(names) + 1.5)
    ax = fig.subplots()
    arms = sorted(indicators)
    for j, arm in enumerate(arms):
        for i, name in enumerate(names):
            v = indicators[arm].get(name)
            d = v.to_dict() if v is not None and hasattr(v, "to_dict") else (v or {})
            if d.get("p") is None:
                continue
            y = i + (j - (len(arms) - 1) / 2) * 0.25
            ax.errorbar(d["p"], y, xerr=[[d["p"] - d["ci_low"]], [d["ci_high"] - d["p"]]], fmt="o",
                        color=ARM_COLOURS.get(arm, "k"), label=ARM_LABELS.get(arm, arm) if i == 0 else None, capsize=3)
    ax.set_yticks(range(len(names)), list(names))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("proportion (IC 95 % Wilson — 95% Wilson CI)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, loc="lower right")
    return fig if as_figure else _svg(fig)


def p_chart_plot(chart: Sequence[Mapping[str, Any]], title: str, *, as_figure: bool = False) -> Any:
    """A monthly p-chart: p per month, the centre line and the control limits; out-of-control months in red."""
    fig = _figure()
    ax = fig.subplots()
    x = list(range(len(chart)))
    ax.plot(x, [c["p"] for c in chart], marker="o", color="#333")
    ax.step(x, [c["ucl"] for c in chart], where="mid", color="#c00", lw=0.8, ls="--")
    ax.step(x, [c["lcl"] for c in chart], where="mid", color="#c00", lw=0.8, ls="--")
    if chart:
        ax.axhline(chart[0]["centre"], color="#888", lw=0.8)
    bad = [i for i, c in enumerate(chart) if c["out_of_control"]]
    ax.plot(bad, [chart[i]["p"] for i in bad], "o", color="#c00", ms=8, mfc="none")
    ax.set_xticks(x, [c["month"] for c in chart], rotation=45, ha="right")
    ax.set_title(title)
    return fig if as_figure else _svg(fig)


def confusion_heatmap(pairs: Sequence[tuple[str | None, str | None]], levels: Sequence[str], title: str, *,
                      as_figure: bool = False) -> Any:
    """AI urgency (rows) × reference urgency (columns), counts in the cells."""
    fig = _figure(5.5, 4.5)
    ax = fig.subplots()
    idx = {lvl: i for i, lvl in enumerate(levels)}
    m = [[0] * len(levels) for _ in levels]
    for a, r in pairs:
        if a in idx and r in idx:
            m[idx[a]][idx[r]] += 1
    k = len(levels)
    ax.pcolormesh(range(k + 1), range(k + 1), m, cmap="Blues", edgecolors="white", linewidth=0.5)
    for i in range(k):
        for j in range(k):
            ax.text(j + 0.5, i + 0.5, str(m[i][j]), ha="center", va="center", fontsize=8)
    ax.set_xticks([j + 0.5 for j in range(k)], list(levels), rotation=45, ha="right")
    ax.set_yticks([i + 0.5 for i in range(k)], list(levels))
    ax.invert_yaxis()
    ax.set_xlabel("référence — reference")
    ax.set_ylabel("IA — AI")
    ax.set_title(title)
    return fig if as_figure else _svg(fig)


def cost_effect_plane(replicates: Sequence[Sequence[float]], point: tuple[float, float], *, as_figure: bool = False) -> Any:
    """Bootstrap replicates (Δ effect, Δ cost) and the point estimate on the cost-effect plane."""
    fig = _figure(5.5, 4.5)
    ax = fig.subplots()
    if replicates:
        xs, ys = zip(*replicates)
        ax.scatter(xs, ys, s=3, alpha=0.3, color="#1f6feb")
    ax.plot([point[0]], [point[1]], "o", color="#c00", ms=7)
    ax.axhline(0, color="#444", lw=0.8)
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_xlabel("Δ nouveaux diagnostics par ECG — Δ new diagnoses per ECG")
    ax.set_ylabel("Δ coût par ECG (€) — Δ cost per ECG")
    ax.set_title("Plan coût-efficacité — cost-effectiveness plane")
    return fig if as_figure else _svg(fig)


def tornado(rows: Sequence[Mapping[str, Any]], unit: str = "€", *, as_figure: bool = False) -> Any:
    """One-way sensitivity (:func:`ecgpilot.pilot.costs.one_way_sensitivity` rows, widest swing on top)."""
    fig = _figure(7.5, 0.45 * len(rows) + 1.5)
    ax = fig.subplots()
    base = rows[0]["base"] if rows else 0.0
    big = max([abs(r["at_low"]) for r in rows] + [abs(r["at_high"]) for r in rows] + [1.0]) >= 1e6
    k, unit = (1e6, f"M{unit}") if big else (1.0, unit)
    for i, r in enumerate(rows):
        lo, hi = sorted((r["at_low"] / k, r["at_high"] / k))
        ax.barh(i, hi - lo, left=lo, color="#1f6feb", alpha=0.7)
    ax.axvline(base / k, color="#c00", lw=1)
    ax.set_yticks(range(len(rows)), [f"{r['parameter']} [{r['low_value']:.3g} – {r['high_value']:.3g}]" for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"impact budgétaire total — total budget impact ({unit})")
    ax.set_title("Analyse de sensibilité — one-way sensitivity")
    return fig if as_figure else _svg(fig)


def funnel(points: Sequence[Mapping[str, Any]], *, as_figure: bool = False) -> Any:
    """Practices' mean ECGs per GP-month against their GP-months, with the 95 % and 99.8 % Poisson limits
    (:func:`ecgpilot.pilot.volume.practice_funnel`); practices outside the 99.8 % limits in red."""
    import numpy as np

    fig = _figure(6.0, 4.5)
    ax = fig.subplots()
    if points:
        lam = points[0]["centre"]
        ns = np.linspace(max(1, min(p["n"] for p in points) * 0.8), max(p["n"] for p in points) * 1.1, 100)
        for zz, ls in ((1.96, "--"), (3.09, ":")):
            ax.plot(ns, lam + zz * np.sqrt(lam / ns), color="#888", ls=ls, lw=0.8)
            ax.plot(ns, lam - zz * np.sqrt(lam / ns), color="#888", ls=ls, lw=0.8)
        ax.axhline(lam, color="#444", lw=0.8)
        ax.scatter([p["n"] for p in points], [p["mean"] for p in points], s=14,
                   c=["#c00" if p["outside"] else "#1f6feb" for p in points])
    ax.set_xlabel("mois-médecin du cabinet — practice GP-months")
    ax.set_ylabel("ECG / médecin / mois — per GP per month")
    ax.set_title("Entonnoir des cabinets — funnel plot of practices")
    return fig if as_figure else _svg(fig)
