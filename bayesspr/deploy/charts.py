"""PNG charts of a deployment plan, as an owner would see them in a review.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot, no global
backend state) and written atomically through :func:`bayesspr.io.files.write_png`.

* :func:`electric_share_figure`: the electric share of each city's fleet by month, with the
  network's minimum share where one is set.
* :func:`shortfall_figure`: a station × month heat map of P(a route short on the design day).
* :func:`cost_figure`: the expected cost by part (purchases, residual value, holding, moves,
  shortage, emissions), in sample and, when given, on fresh draws.
* :func:`deploy_charts`: all three into a folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from bayesspr.deploy.plan import DeployPlan
from bayesspr.io.files import write_png

__all__ = [
    "CHART_FILES",
    "cost_figure",
    "deploy_charts",
    "electric_share_figure",
    "shortfall_figure",
]

#: The files :func:`deploy_charts` writes.
CHART_FILES = ("electric_share.png", "shortfall_heatmap.png", "cost_breakdown.png")

#: Readable names of the cost parts, in the order drawn.
_PARTS = {
    "purchases": "purchases",
    "residual_value": "residual value at the end (credit)",
    "holding": "holding (owned vans)",
    "partners": "delivery partners' rates",
    "storage": "storage modules",
    "moves": "moves between stations",
    "shortage": "shortage (routes short)",
    "emissions": "CO₂ emissions",
}


def _month_ticks(ax, months: list[object]) -> None:
    """Month labels on the x axis, thinned to at most 12."""
    step = max(1, int(np.ceil(len(months) / 12)))
    ax.set_xticks(range(0, len(months), step))
    ax.set_xticklabels([str(m) for m in months[::step]], rotation=45, ha="right")


def electric_share_figure(plan: DeployPlan) -> Figure:
    """Electric share of each city's fleet by month (–), with the minimum share if set.

    Parameters
    ----------
    plan : DeployPlan
        A solved plan.

    Returns
    -------
    matplotlib.figure.Figure
    """
    share = plan.electric_share  # rows city, columns month
    months = list(share.columns)
    fig = Figure(figsize=(8.0, 4.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(months))
    for city, row in share.iterrows():
        ax.plot(x, row.to_numpy(float), marker="o", ms=4, lw=1.6, label=str(city))
    target = plan.problem.min_electric_share
    if target is not None and (target > 0).any():
        by_month = plan.problem.month_period.map(target).to_numpy(float)
        ax.step(x, by_month, where="mid", color="0.2", ls="--", lw=1.2, label="network minimum")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_ylabel("electric vans / all vans assigned (%)", fontsize=10.5)
    ax.set_xlabel("planned month", fontsize=10.5)
    _month_ticks(ax, months)
    ax.grid(axis="y", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title="city")
    ax.set_title("Electric share of each city's fleet", fontsize=12, fontweight="bold", loc="left")
    return fig


def shortfall_figure(plan: DeployPlan) -> Figure:
    """Heat map of P(a route short on the design day) per station (rows) and month (columns).

    Parameters
    ----------
    plan : DeployPlan
        A solved plan.

    Returns
    -------
    matplotlib.figure.Figure
        Cells are annotated with their percentage while the grid is at most 30 × 24.
    """
    table = plan.station_months.pivot(index="station", columns="month", values="p_shortfall")
    table = table.reindex(index=plan.problem.stations, columns=plan.problem.months)
    n_s, n_t = table.shape
    fig = Figure(figsize=(max(6.0, 0.55 * n_t + 3), max(3.0, 0.32 * n_s + 1.8)))
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(float), cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
    if n_s <= 30 and n_t <= 24:
        for (i, j), value in np.ndenumerate(table.to_numpy(float)):
            colour = "white" if value > 0.6 else "0.15"
            ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=8, color=colour)
    ax.set_yticks(range(n_s))
    ax.set_yticklabels(table.index, fontsize=8 if n_s > 20 else 10)
    _month_ticks(ax, list(table.columns))
    ax.set_xlabel("planned month", fontsize=10.5)
    ax.set_ylabel("station", fontsize=10.5)
    bar = fig.colorbar(image, ax=ax, format=PercentFormatter(xmax=1.0, decimals=0))
    bar.set_label("P(a route short on the design day)")
    ax.set_title(
        "Where and when the plan falls short (share of forecast draws)",
        fontsize=12,
        fontweight="bold",
        loc="left",
    )
    return fig


def cost_figure(plan: DeployPlan, priced: DeployPlan | None = None) -> Figure:
    """Expected cost by part (currency), in sample and, if given, on fresh draws.

    Parameters
    ----------
    plan : DeployPlan
        A solved plan (its cost is in sample).
    priced : DeployPlan, optional
        The same plan priced on fresh draws (:func:`bayesspr.deploy.out_of_sample_cost`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    parts = [p for p in _PARTS if p in plan.cost.index]
    series = {"on its own draws (in sample)": plan.cost}
    if priced is not None:
        series["on fresh draws (out of sample)"] = priced.cost
    fig = Figure(figsize=(8.0, 4.8), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(parts))
    height = 0.8 / len(series)
    for k, (label, cost) in enumerate(series.items()):
        values = cost.reindex(parts).to_numpy(float)
        total = float(cost["total"])
        ax.barh(
            y + (k - (len(series) - 1) / 2) * height,
            values,
            height=height,
            label=f"{label}: total {total:,.0f}",
        )
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([_PARTS[p] for p in parts])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("expected cost over the horizon (currency)", fontsize=10.5)
    ax.grid(axis="x", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), frameon=False, fontsize=9.5)
    ax.set_title("What the plan costs, by part", fontsize=12, fontweight="bold", loc="left")
    return fig


def deploy_charts(
    plan: DeployPlan,
    folder: str | os.PathLike[str],
    *,
    priced: DeployPlan | None = None,
    dpi: int = 110,
) -> dict[str, Path]:
    """Write the three charts of a plan into ``folder`` (PNG, each atomically).

    Parameters
    ----------
    plan : DeployPlan
        A solved plan.
    folder : str or os.PathLike
        Destination folder (created if missing).
    priced : DeployPlan, optional
        The plan priced on fresh draws, drawn beside the in-sample cost.
    dpi : int
        Resolution (dots per inch).

    Returns
    -------
    dict of str to pathlib.Path
        The written files by name (:data:`CHART_FILES`).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figures = dict(
        zip(
            CHART_FILES,
            (electric_share_figure(plan), shortfall_figure(plan), cost_figure(plan, priced)),
            strict=True,
        )
    )
    return {name: write_png(fig, folder / name, dpi) for name, fig in figures.items()}
