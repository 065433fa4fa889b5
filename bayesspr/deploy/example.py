"""A small simulated network to try a deployment on (docs, tests and benchmarks).

Route counts per station-month design day are Poisson around a level that grows each month;
route lengths are log-normal per station, split into four route-length classes of equal share;
each electric van's energy per km comes from :class:`~bayesspr.deploy.energy.EnergyModel`
(the city's temperature that month, the station's climb, a 0.5 t payload), so cold months and
the hilly station put fewer routes within range and charge each class its own energy. The
design day's packages are the routes times a drawn load; a storage module adds 500 packages
for 15,000 (used only with a storage limit). Not a forecast: a world with known inputs, for
trying the program.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import binom, norm

from bayesspr.deploy.energy import EnergyModel
from bayesspr.deploy.problem import DeployCosts, DeployProblem
from bayesspr.fleet.config import VanType

__all__ = ["example_problem"]

#: Route-length classes of the example (equal shares of a station's log-normal route km).
KM_CLASSES = 4
#: Their labels: each is a quarter of a station's routes, shortest first.
CLASS_LABELS = [f"km quartile {j + 1}" for j in range(KM_CLASSES)]
#: Holding cost of the default van types (currency per van-month); others: 2,000 for a
#: combustion van, 850 for an electric one.
HOLDING = {"diesel": 2_000.0, "ev_small": 800.0, "ev_large": 900.0}
#: Log-sd of a station's route km (–).
KM_SIGMA = 0.3


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
    packages_per_route: float = 180.0,
    vans: list[VanType] | None = None,
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
    packages_per_route : float
        Mean packages a route carries (packages per route); the design day's packages of a
        station (``packages``, for a storage limit) are its routes times a per-draw load of
        this mean and a 10 % coefficient of variation.
    vans : list of VanType, optional
        Van types (default: a 250-package diesel van, a 200-package electric van of 120 km
        and a 250-package one of 200 km). The routes in range are drawn from one uniform per
        route-length class and draw, so a longer range never puts fewer routes in range.
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
    # the first planned month of a year is winter; C0 is the colder city (°C)
    winter = np.array([(t % months_per_year) == 0 for t in range(n_t)])
    city_no = np.arange(n_stations) % n_cities
    temperature = np.where(winter[None, :], np.where(city_no == 0, -5.0, 2.0)[:, None], 18.0)
    climb = np.where(np.arange(n_stations) == 0, 25.0, 3.0)  # m/km: station 0 is hilly
    vans = vans or [
        VanType("diesel", 250, 20_000.0),
        VanType("ev_small", 200, 24_000.0, range_km=120.0, kwh_per_km=0.25),
        VanType("ev_large", 250, 28_000.0, range_km=200.0, kwh_per_km=0.30),
    ]
    evs = sorted((v for v in vans if v.electric), key=lambda v: float(v.range_km))
    # route-length classes: equal shares of log-normal km; each class's mean km (analytic)
    z_edges = norm.ppf(np.arange(KM_CLASSES + 1) / KM_CLASSES)  # −inf … inf
    lo, hi = z_edges[:-1], z_edges[1:]
    class_km = (
        km[:, None]
        * np.exp(KM_SIGMA**2 / 2)
        * KM_CLASSES
        * (norm.cdf(hi - KM_SIGMA) - norm.cdf(lo - KM_SIGMA))
    )  # (station, class)
    counts = rng.multinomial(demand, np.full(KM_CLASSES, 1 / KM_CLASSES))  # (w, s, t, class)
    uniform = rng.uniform(size=counts.shape)  # one per class and draw, shared by the types
    energy = EnergyModel()
    in_range = np.zeros((n_samples, len(evs), n_stations, n_t, KM_CLASSES))
    kwh = np.zeros_like(in_range)
    for e, v in enumerate(evs):
        per_km = energy.kwh_per_km(v, temperature, climb[:, None], 0.5)  # (station, month)
        reach_z = (np.log(energy.reach_kwh(v) / per_km) - np.log(km[:, None])) / KM_SIGMA
        # share of each class's routes within reach, P(z < reach | class)
        within = norm.cdf(np.minimum(hi, reach_z[..., None])) - norm.cdf(lo)
        share = np.clip(KM_CLASSES * within, 0.0, 1.0)  # (station, month, class)
        in_range[:, e] = binom.ppf(uniform, counts, np.broadcast_to(share, counts.shape))
        kwh[:, e] = per_km[:, :, None] * class_km[:, None, :]
    in_range = np.minimum(np.maximum.accumulate(in_range, axis=1), counts[:, None])
    # packages from a stream of their own, so the route draws are those without them
    load = np.random.default_rng([seed, draw_seed, 1]).gamma(
        100, packages_per_route / 100, demand.shape
    )
    coords = {"sample": np.arange(n_samples), "station": stations, "month": months}
    ev_coords = {**coords, "van": [v.name for v in evs], "km_class": CLASS_LABELS}
    fields: dict[str, object] = {
        "van_types": vans,
        "station_city": pd.Series(cities, index=stations),
        "month_period": pd.Series(years, index=months),
        "month_weight": pd.Series(12.0 / months_per_year, index=months),
        "demand": xr.DataArray(demand, dims=("sample", "station", "month"), coords=coords),
        "in_range": xr.DataArray(
            in_range, dims=("sample", "van", "station", "month", "km_class"), coords=ev_coords
        ),
        "kwh_per_route": xr.DataArray(
            kwh, dims=("sample", "van", "station", "month", "km_class"), coords=ev_coords
        ),
        "packages": xr.DataArray(demand * load, dims=("sample", "station", "month"), coords=coords),
        "route_km": xr.DataArray(
            np.broadcast_to(km[None, :, None], demand.shape).copy(),
            dims=("sample", "station", "month"),
            coords=coords,
        ),
        "costs": DeployCosts(
            holding_per_van_month={
                v.name: HOLDING.get(v.name, 850.0 if v.electric else 2_000.0) for v in vans
            },
            shortage_per_van_day=900.0,
            shortage_days_per_month=20.0,
            move_per_van=300.0,
            emission_price_per_kg=0.5,
            emission_kg_per_km=0.25,
            emission_days_per_month=22.0,
            storage_module_packages=500.0,
            storage_per_module=15_000.0,
        ),
        "initial_fleet": pd.DataFrame(0, index=sorted(set(cities)), columns=[v.name for v in vans]),
    }
    fields.update(overrides)
    return DeployProblem(**fields)  # type: ignore[arg-type]
