"""A small simulated network to try a deployment on (docs, tests and benchmarks).

Route counts per station-month design day are Poisson around a level that grows each month;
route lengths are log-normal per station; cold months and a hilly station raise the energy a
route needs, so fewer routes are within an electric van's range. Not a forecast: a world with
known inputs, for trying the program.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import norm

from bayesspr.deploy.problem import DeployCosts, DeployProblem
from bayesspr.fleet.config import VanType

__all__ = ["example_problem"]


def example_problem(
    n_stations: int = 4,
    n_cities: int = 2,
    n_years: int = 2,
    months_per_year: int = 2,
    n_samples: int = 20,
    *,
    seed: int = 0,
    draw_seed: int = 0,
    level: float = 12.0,
    **overrides: object,
) -> DeployProblem:
    """A simulated deployment problem with one combustion and two electric van types.

    Parameters
    ----------
    n_stations, n_cities : int
        Stations, spread over the cities in turn.
    n_years : int
        Periods (years); purchases are made at the start of each.
    months_per_year : int
        Planned months per year (e.g. 12, or 2 for a quick look at summer and winter); each
        stands for 12 / months_per_year calendar months of costs.
    n_samples : int
        Joint draws.
    seed : int
        Seed of the world (station sizes, route lengths).
    draw_seed : int
        Seed of the draws within that world: another value gives fresh draws of the same
        world (for out-of-sample evaluation).
    level : float
        Mean design-day routes of a station in the first month (routes).
    **overrides
        Fields of :class:`DeployProblem` to set instead of the defaults (``budget``,
        ``ev_supply``, ``station_power_kw``, ``hard_service``, ...).

    Returns
    -------
    DeployProblem
    """
    world = np.random.default_rng(seed)
    stations = [f"S{i:03d}" for i in range(n_stations)]
    cities = [f"C{i % n_cities}" for i in range(n_stations)]
    months = [
        f"{2027 + y}-{1 + m * 12 // months_per_year:02d}"
        for y in range(n_years)
        for m in range(months_per_year)
    ]
    years = [2027 + y for y in range(n_years) for _ in range(months_per_year)]
    n_t = len(months)
    growth = 1.0 + 0.02 * np.arange(n_t)
    scale = world.uniform(0.6, 1.4, n_stations)
    km = world.uniform(60, 140, n_stations)  # median route km per station
    rng = np.random.default_rng([seed, draw_seed])
    mean = level * scale[:, None] * growth[None, :]
    demand = rng.poisson(mean[None] * rng.gamma(50, 1 / 50, (n_samples, 1, 1)))
    cold = np.array([1.25 if (t % months_per_year) == 0 else 1.0 for t in range(n_t)])
    hill = np.where(np.arange(n_stations) == 0, 1.15, 1.0)  # station 0 is hilly
    vans = [
        VanType("diesel", 250, 20_000.0),
        VanType("ev_small", 200, 24_000.0, range_km=120.0, kwh_per_km=0.25),
        VanType("ev_large", 250, 28_000.0, range_km=200.0, kwh_per_km=0.30),
    ]
    evs = [v for v in vans if v.electric]
    in_range = np.zeros((n_samples, len(evs), n_stations, n_t))
    kwh = np.zeros_like(in_range)
    for e, v in enumerate(evs):
        factor = cold[None, :] * hill[:, None]  # energy multiplier (station, month)
        reach_km = v.range_km / factor  # km a full charge covers
        z = (np.log(reach_km[None]) - np.log(km[None, :, None])) / 0.3
        share = norm.cdf(z)  # share of routes within reach
        in_range[:, e] = rng.binomial(demand, np.broadcast_to(share, demand.shape))
        kwh[:, e] = v.kwh_per_km * km[None, :, None] * factor[None] * 0.9
    in_range = np.maximum.accumulate(in_range, axis=1)
    in_range = np.minimum(in_range, demand[:, None])
    coords = {"sample": np.arange(n_samples), "station": stations, "month": months}
    ev_coords = {**coords, "van": [v.name for v in evs]}
    fields: dict[str, object] = {
        "van_types": vans,
        "station_city": pd.Series(cities, index=stations),
        "month_period": pd.Series(years, index=months),
        "month_weight": pd.Series(12.0 / months_per_year, index=months),
        "demand": xr.DataArray(demand, dims=("sample", "station", "month"), coords=coords),
        "in_range": xr.DataArray(
            in_range, dims=("sample", "van", "station", "month"), coords=ev_coords
        ),
        "kwh_per_route": xr.DataArray(
            kwh, dims=("sample", "van", "station", "month"), coords=ev_coords
        ),
        "route_km": xr.DataArray(
            np.broadcast_to(km[None, :, None], demand.shape).copy(),
            dims=("sample", "station", "month"),
            coords=coords,
        ),
        "costs": DeployCosts(
            holding_per_van_month={"diesel": 2_000.0, "ev_small": 800.0, "ev_large": 900.0},
            shortage_per_van_day=900.0,
            shortage_days_per_month=20.0,
            move_per_van=300.0,
            emission_price_per_kg=0.5,
            emission_kg_per_km=0.25,
            emission_days_per_month=22.0,
        ),
        "initial_fleet": pd.DataFrame(0, index=sorted(set(cities)), columns=[v.name for v in vans]),
    }
    fields.update(overrides)
    return DeployProblem(**fields)  # type: ignore[arg-type]
