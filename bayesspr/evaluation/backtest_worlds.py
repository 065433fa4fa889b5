"""Worlds to backtest on: a simulated world with a demand shock, and monthly origins.

One job: say what a backtest runs on. :func:`demo_backtest_world` is the world behind
``bayesspr backtest --world demo``; :func:`with_demand_shock` shocks any simulated world,
re-drawing its routes with the simulator's own :func:`bayesspr.simulate.worlds.draw_routes`;
:func:`monthly_origins` picks the origins of an observed table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesspr.data import table as data_mod
from bayesspr.errors import EvaluationError
from bayesspr.simulate.worlds import World, draw_routes, simulate_world


def with_demand_shock(
    world: World, start: str | pd.Timestamp, factor: float, *, seed: int = 0
) -> pd.DataFrame:
    """History and future of a simulated world with a sudden, lasting demand shock.

    From ``start`` on, every zip's stops and packages are multiplied by ``factor`` and its
    routes re-drawn from the world's own truth by the simulator's
    :func:`bayesspr.simulate.worlds.draw_routes` (route physics, log-normal day noise, whole
    routes above the capacity floor).

    Parameters
    ----------
    world : bayesspr.simulate.worlds.World
        A world with ``future`` rows (``horizon_days`` > 0) or not.
    start : str or pandas.Timestamp
        First shocked day.
    factor : float
        Volume multiplier (–), e.g. 1.4 for +40 %.
    seed : int
        Seed of the re-drawn day noise.

    Returns
    -------
    pandas.DataFrame
        The world's table and future, concatenated (fresh index), shocked from ``start``.
    """
    table = pd.concat([world.table, world.future], ignore_index=True)
    start = pd.Timestamp(start)
    hit = table["date"] >= start
    if not hit.any():
        return table
    rng = np.random.default_rng([seed, 17])
    sub = table.loc[hit].copy()
    sub["stops"] = np.maximum(np.rint(sub["stops"] * factor), 1).astype(np.int64)
    sub["packages"] = np.maximum(np.rint(sub["packages"] * factor), sub["stops"]).astype(np.int64)
    routes, km = draw_routes(sub, world.truth, rng, with_route_km="route_km" in sub)
    sub["routes"] = routes
    if km is not None:
        sub["route_km"] = km
    table.loc[hit, sub.columns] = sub
    return table.astype({c: np.int64 for c in ("routes", "packages", "stops")})


@dataclass(frozen=True)
class BacktestWorld:
    """A world to backtest on.

    Attributes
    ----------
    table : pandas.DataFrame
        Validated observations over the whole span (history and what followed).
    origins : list of pandas.Timestamp
        Forecast origins (first days of months).
    shock_start : pandas.Timestamp or None
        First day of the demand shock, if any.
    description : str
        What the world is, for the printed report.
    """

    table: pd.DataFrame
    origins: list[pd.Timestamp]
    shock_start: pd.Timestamp | None
    description: str


def demo_backtest_world(
    seed: int = 7, *, n_origins: int = 3, horizon_months: int = 3, shock_factor: float = 1.4
) -> BacktestWorld:
    """The simulated world behind ``bayesspr backtest --world demo``.

    The demo world's hierarchy (two cities, five stations, 17 zips) over January–May 2025
    (151 days) and the months after it: a station opens on 17 March with a new zip, a zip
    moves to another station on 1 April, 450-package vans arrive on 1 May, and from 15 June
    demand jumps by ``shock_factor`` (routes re-drawn from the truth,
    :func:`with_demand_shock`). Origins are the first days of March, April, May, … so the
    first origins have never seen the new station, the moved zip or the large van.

    Parameters
    ----------
    seed : int
        Seed of the world.
    n_origins : int
        Number of monthly origins, from 1 March 2025.
    horizon_months : int
        Months forecast from each origin; the world is simulated far enough.
    shock_factor : float
        Demand multiplier from 15 June 2025 (–).

    Returns
    -------
    BacktestWorld
        The table, origins and shock date.
    """
    origins = list(pd.date_range("2025-03-01", periods=n_origins, freq="MS"))
    end = origins[-1] + pd.DateOffset(months=horizon_months)
    history_end = pd.Timestamp("2025-06-01")
    world = simulate_world(
        seed,
        n_days=151,
        start="2025-01-01",
        horizon_days=max(0, (end - history_end).days),
    )
    shock = pd.Timestamp("2025-06-15")
    table = data_mod.validate(with_demand_shock(world, shock, shock_factor, seed=seed))
    return BacktestWorld(
        table=table,
        origins=origins,
        shock_start=shock,
        description=(
            f"simulated world (seed {seed}): {table['zip'].nunique()} zips, "
            f"{table['station'].nunique()} stations, {table['city'].nunique()} cities, "
            f"{table['date'].min():%Y-%m-%d} to {table['date'].max():%Y-%m-%d}; "
            f"station launched {world.events['launch_date']:%Y-%m-%d}, zip "
            f"{world.events['moved_zip']} moved {world.events['move_date']:%Y-%m-%d}, "
            f"{world.events['large_van']:.0f}-package van from "
            f"{world.events['large_van_date']:%Y-%m-%d}, demand x{shock_factor} from "
            f"{shock:%Y-%m-%d}"
        ),
    )


def monthly_origins(table: pd.DataFrame, n_origins: int, min_history_months: int = 2) -> list:
    """The last ``n_origins`` month starts with at least ``min_history_months`` of history.

    Parameters
    ----------
    table : pandas.DataFrame
        Validated table.
    n_origins : int
        How many origins.
    min_history_months : int
        Months of history the first origin must have.

    Returns
    -------
    list of pandas.Timestamp
        First days of months, oldest first, each with data after it.
    """
    first = table["date"].min().to_period("M").to_timestamp()
    starts = pd.date_range(
        first + pd.DateOffset(months=min_history_months), table["date"].max(), freq="MS"
    )
    if len(starts) == 0:
        raise EvaluationError(
            f"the table spans {table['date'].min():%Y-%m-%d} to {table['date'].max():%Y-%m-%d}: "
            f"expected more than {min_history_months} months for a backtest"
        )
    return list(starts[-n_origins:])
