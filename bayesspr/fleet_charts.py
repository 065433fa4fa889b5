"""PNG charts of fleet decisions: routes against the fleet, and shortfall risk by month.

One job: draw what :mod:`bayesspr.fleet` decided. Figures are built with matplotlib's
object API on the Agg canvas (no pyplot, no global backend state) and written atomically
through :func:`bayesspr.io.atomic_write`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import dates as mdates
from matplotlib.figure import Figure

from bayesspr.fleet import FleetPlan, as_routes
from bayesspr.io import atomic_write

#: Central interval masses of the fan chart's bands, widest first.
FAN_BANDS = (0.95, 0.8, 0.5)


def _save(fig: Figure, path: str | os.PathLike[str], dpi: int) -> Path:
    """Write ``fig`` as PNG to ``path`` in one step."""
    return atomic_write(lambda tmp: fig.savefig(tmp, format="png", dpi=dpi), path)


def _fleet_by_date(
    fleet: FleetPlan | pd.DataFrame | pd.Series | None,
    dates: pd.DatetimeIndex,
    stations: Sequence[str],
    van_type: str | None,
) -> dict[str, np.ndarray]:
    """Vans per station on each date, from a plan, its table, or a Series by station."""
    if fleet is None:
        return {}
    if isinstance(fleet, FleetPlan):
        fleet = fleet.table
    if isinstance(fleet, pd.Series):
        return {s: np.full(len(dates), float(fleet[s])) for s in stations if s in fleet.index}
    table = fleet
    if "van_type" in table.columns:
        kinds = table["van_type"].unique()
        if van_type is None and len(kinds) > 1:
            raise ValueError(
                f"the fleet table holds van types {sorted(kinds)}: expected van_type to pick one"
            )
        table = table[table["van_type"] == (van_type or kinds[0])]
    months = dates.to_period("M").to_timestamp()
    out = {}
    for station, rows in table.groupby("station"):
        per_month = rows.set_index(pd.to_datetime(rows["month"]))["vans"]
        out[str(station)] = per_month.reindex(months).to_numpy(float)
    return out


def fan_chart(
    forecast: xr.Dataset | xr.DataArray,
    fleet: FleetPlan | pd.DataFrame | pd.Series | None,
    path: str | os.PathLike[str],
    *,
    stations: Sequence[str] | None = None,
    van_type: str | None = None,
    ncols: int = 3,
    dpi: int = 110,
) -> Path:
    """Fan chart of routes per station-day with the fleet, one panel per station (PNG).

    Parameters
    ----------
    forecast : xarray.Dataset or xarray.DataArray
        Forecast with ``routes`` (sample, date, station), routes per station-day.
    fleet : FleetPlan, pandas.DataFrame, pandas.Series or None
        The fleet drawn as a line (vans): a :func:`bayesspr.fleet.plan` result or its
        ``table`` (monthly steps), a Series of vans by station (a constant line), or None.
    path : str or os.PathLike
        Destination PNG file; its folder is created if missing.
    stations : sequence of str, optional
        Stations to draw (default: all).
    van_type : str, optional
        Van type of the fleet table to draw when it holds several.
    ncols : int
        Panels per row.
    dpi : int
        Resolution (dots per inch).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    routes = as_routes(forecast)
    all_stations = [str(s) for s in routes["station"].to_numpy()]
    chosen = list(all_stations if stations is None else stations)
    unknown = sorted(set(chosen) - set(all_stations))
    if unknown:
        raise ValueError(f"stations {unknown} are not in the forecast: expected {all_stations}")
    dates = pd.DatetimeIndex(routes["date"].to_numpy())
    lines = _fleet_by_date(fleet, dates, chosen, van_type)
    ncols = max(1, min(ncols, len(chosen)))
    nrows = math.ceil(len(chosen) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 2.8 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharex=True)).ravel()
    values = routes.to_numpy()
    for ax, station in zip(axes, chosen, strict=False):
        r = values[:, :, all_stations.index(station)]
        for mass, alpha in zip(FAN_BANDS, (0.15, 0.25, 0.4), strict=True):
            lo, hi = np.quantile(r, [(1 - mass) / 2, (1 + mass) / 2], axis=0)
            ax.fill_between(
                dates, lo, hi, color="tab:blue", alpha=alpha, lw=0, label=f"{mass:.0%} interval"
            )
        ax.plot(dates, np.median(r, axis=0), color="tab:blue", lw=1, label="median")
        if station in lines:
            ax.step(dates, lines[station], where="post", color="tab:red", lw=1.5, label="fleet")
        ax.set_title(station, fontsize=10)
        ax.set_ylabel("routes per day")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8, labelbottom=True)
    for ax in axes[len(chosen) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="upper left")
    return _save(fig, path, dpi)


def shortfall_chart(
    plan_df: FleetPlan | pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    service_level: float | None = None,
    dpi: int = 110,
) -> Path:
    """Probability of a peak-day shortfall by month, one line per station (PNG).

    Parameters
    ----------
    plan_df : FleetPlan or pandas.DataFrame
        A :func:`bayesspr.fleet.plan` result or its ``table`` (columns ``station``,
        ``month``, ``p_shortfall`` and optionally ``van_type``).
    path : str or os.PathLike
        Destination PNG file; its folder is created if missing.
    service_level : float, optional
        Draw the target 1 − α as a dashed line (taken from a FleetPlan when omitted).
    dpi : int
        Resolution (dots per inch).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    if isinstance(plan_df, FleetPlan):
        service_level = plan_df.service_level if service_level is None else service_level
        plan_df = plan_df.table
    need = [c for c in ("station", "month", "p_shortfall") if c not in plan_df.columns]
    if need:
        raise ValueError(f"plan_df lacks column(s) {need}: expected a fleet.plan table")
    keys = ["station", "van_type"] if "van_type" in plan_df.columns else ["station"]
    several = "van_type" in plan_df.columns and plan_df["van_type"].nunique() > 1
    fig = Figure(figsize=(7.5, 4.0), layout="constrained")
    ax = fig.subplots()
    for key, rows in plan_df.groupby(keys, sort=True):
        label = " / ".join(map(str, key)) if several else str(key[0])
        rows = rows.sort_values("month")
        ax.plot(
            pd.to_datetime(rows["month"]), rows["p_shortfall"], marker="o", ms=3, lw=1, label=label
        )
    if service_level is not None:
        ax.axhline(
            1 - service_level, color="grey", ls="--", lw=1, label=f"1 − α = {1 - service_level:.2f}"
        )
    ax.set_ylabel("P(routes on a peak day > vans)")
    ax.set_xlabel("month")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, ncols=2)
    return _save(fig, path, dpi)
