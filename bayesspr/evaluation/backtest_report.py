"""What a backtest shows: the scores table, PIT histograms and coverage curves (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bayesspr.evaluation.backtest import HARD_CASES, Backtest
from bayesspr.evaluation.baselines import VARIANTS
from bayesspr.evaluation.scores import pit_coverage
from bayesspr.io.files import write_png
from bayesspr.spr.model import LEVELS


def scores_table(backtest: Backtest) -> pd.DataFrame:
    """The printed table: every case and level, variants side by side.

    Parameters
    ----------
    backtest : Backtest
        Result of :func:`bayesspr.evaluation.backtest.rolling_backtest`.

    Returns
    -------
    pandas.DataFrame
        One row per case × level × variant (all origins and horizons pooled), rounded; a
        column ``best`` marks the lowest CRPS of each case × level.
    """
    table = backtest.scores(("case", "level", "variant"))
    order = {"all": 0, **{c: i + 1 for i, c in enumerate(HARD_CASES)}}
    table["_c"] = table["case"].map(order)
    table["_l"] = table["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    table["_v"] = table["variant"].map({v: i for i, v in enumerate(VARIANTS)})
    table = table.sort_values(["_c", "_l", "_v"]).drop(columns=["_c", "_l", "_v"])
    best = table.groupby(["case", "level"])["crps"].transform("min")
    table["best"] = np.where(table["crps"] == best, "*", "")
    return table.reset_index(drop=True).round(
        {
            "crps": 3,
            "pinball": 3,
            "cov50": 3,
            "cov80": 3,
            "cov90": 3,
            "cov95": 3,
            "mape": 1,
            "bias": 1,
        }
    )


def plot_pit(backtest: Backtest, path: str | Path, *, level: str = "zip", bins: int = 10) -> Path:
    """PIT histogram per variant (all origins and horizons) as a PNG, written atomically.

    A calibrated variant's histogram is flat at density 1 (the red line); a U shape means
    intervals too narrow, a hump too wide.

    Parameters
    ----------
    backtest : Backtest
        Result of :func:`bayesspr.evaluation.backtest.rolling_backtest`; its ``case == "all"``
        units of ``level`` are shown.
    path : str or pathlib.Path
        The PNG file to write (replaced atomically).
    level : {"zip", "station", "city"}
        Level whose day units are shown.
    bins : int
        Histogram bins over [0, 1].

    Returns
    -------
    pathlib.Path
        ``path``, written.
    """
    units = backtest.units[(backtest.units["case"] == "all") & (backtest.units["level"] == level)]
    variants = [v for v in VARIANTS if v in set(units["variant"])]
    fig = Figure(figsize=(2.6 * len(variants), 2.6))
    axes = fig.subplots(1, len(variants), sharey=True, squeeze=False)[0]
    for ax, variant in zip(axes, variants, strict=True):
        pit = units.loc[units["variant"] == variant, "pit"].to_numpy()
        ax.hist(pit, bins=bins, range=(0, 1), density=True, color="0.45", edgecolor="white")
        ax.axhline(1.0, color="tab:red", lw=1)
        ax.set_title(variant, fontsize=9)
        ax.set_xlabel("randomised PIT")
    axes[0].set_ylabel(f"density ({level}-days)")
    return _write_png(fig, path)


def plot_coverage(backtest: Backtest, path: str | Path) -> Path:
    """Coverage against nominal per variant and level as a PNG, written atomically.

    One panel per level (zip, station, city days); each variant's observed coverage of the
    central intervals from 5 % to 95 %, read off the randomised PIT, against the diagonal.

    Parameters
    ----------
    backtest : Backtest
        Any result of :func:`bayesspr.evaluation.backtest.rolling_backtest` (its
        ``case == "all"`` units are used).
    path : str or pathlib.Path
        Where the figure goes (a PNG, replaced atomically).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    units = backtest.units[backtest.units["case"] == "all"]
    nominal = np.linspace(0.05, 0.95, 19)
    fig = Figure(figsize=(3.0 * len(LEVELS), 3.0))
    axes = fig.subplots(1, len(LEVELS), sharey=True)
    for ax, level in zip(axes, LEVELS, strict=True):
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
        here = units[units["level"] == level]
        for variant in [v for v in VARIANTS if v in set(here["variant"])]:
            pit = here.loc[here["variant"] == variant, "pit"].to_numpy()
            ax.plot(nominal, [pit_coverage(pit, m) for m in nominal], label=variant, lw=1.3)
        ax.set_title(f"{level}-days", fontsize=9)
        ax.set_xlabel("nominal central interval")
    axes[0].set_ylabel("observed coverage (randomised PIT)")
    axes[-1].legend(fontsize=7)
    return _write_png(fig, path)


def _write_png(fig: Figure, path: str | Path) -> Path:
    """Lay the figure out and write it as a 110-dpi PNG, atomically."""
    fig.tight_layout()
    return write_png(fig, path, 110)
