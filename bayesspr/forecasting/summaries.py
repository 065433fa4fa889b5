"""Tables people read: observed vs physics SPR, and station-level forecasts from draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.defaults import DEFAULT_INTERVAL
from bayesspr.defaults import central_bounds as central_bounds  # re-exported
from bayesspr.spr import physics
from bayesspr.spr.model import row_inputs


def physics_spr(df: pd.DataFrame, **constants: float) -> pd.Series:
    """SPR predicted by the exact route physics with fixed constants (packages per route).

    Parameters
    ----------
    df : pandas.DataFrame
        Validated canonical table (see :mod:`bayesspr.data.table`).
    **constants : float
        Fields of :class:`bayesspr.spr.physics.RouteConstants` (textbook defaults when
        omitted: 2.5 min per stop, 25 km/h, 50 km/h stem, circuity 1.3, k = 0.7124).

    Returns
    -------
    pandas.Series
        Predicted SPR per row, same index as ``df``.
    """
    zone = row_inputs(df)
    spr = physics.expected_spr(zone, physics.RouteConstants(**constants))
    return pd.Series(spr, index=df.index, name="physics_spr")


def observed_vs_physics(df: pd.DataFrame, **constants: float) -> pd.DataFrame:
    """Per station: observed SPR against textbook-physics SPR (packages per route).

    Parameters
    ----------
    df : pandas.DataFrame
        Validated canonical table with ``routes``.
    **constants : float
        Physics constants (see :func:`physics_spr`).

    Returns
    -------
    pandas.DataFrame
        Index station; columns ``zip_days``, ``observed_spr`` (total packages / total
        routes), ``physics_spr`` (total packages / total physics routes), ``ratio``.
    """
    work = df.assign(physics_routes=df["packages"] / physics_spr(df, **constants))
    grouped = work.groupby("station", sort=True)
    out = pd.DataFrame(
        {
            "zip_days": grouped.size(),
            "observed_spr": grouped["packages"].sum() / grouped["routes"].sum(),
            "physics_spr": grouped["packages"].sum() / grouped["physics_routes"].sum(),
        }
    )
    out["ratio"] = out["observed_spr"] / out["physics_spr"]
    return out


def station_forecast(
    df: pd.DataFrame, draws: xr.Dataset, interval: float = DEFAULT_INTERVAL
) -> pd.DataFrame:
    """Station-level SPR and daily routes over a period, summarised from joint draws.

    SPR of a station is its total packages over its total routes, computed per draw, so the
    interval carries the dependence between its zips.

    Parameters
    ----------
    df : pandas.DataFrame
        The planned rows the draws were made for (same index as ``draws.row``).
    draws : xarray.Dataset
        Output of :meth:`bayesspr.SPRModel.predict_draws`.
    interval : float
        Central interval mass, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Index station; ``spr_mean``, ``spr_lower``, ``spr_upper`` (packages per route) and
        ``routes_per_day_mean``, ``routes_per_day_upper`` (routes per day; upper = the
        interval's upper end of the mean daily routes).
    """
    lo, hi = central_bounds(interval)
    routes = draws["routes"].to_numpy()
    packages = df["packages"].to_numpy(float)
    rows = []
    for station, idx in df.groupby("station", sort=True).indices.items():
        total_routes = routes[:, idx].sum(axis=1)
        spr = packages[idx].sum() / total_routes
        days = df["date"].iloc[idx].nunique()
        per_day = total_routes / days
        rows.append(
            {
                "station": station,
                "spr_mean": spr.mean(),
                "spr_lower": np.quantile(spr, lo),
                "spr_upper": np.quantile(spr, hi),
                "routes_per_day_mean": per_day.mean(),
                "routes_per_day_upper": np.quantile(per_day, hi),
            }
        )
    return pd.DataFrame(rows).set_index("station")
