"""A size ladder of simulated networks: 400, 4,000 and 40,000 zips, a year of days each.

:func:`simulate_network` builds a network with the realism of
:func:`~bayesspr.simulate.worlds.simulate_world` — van sizes mixed per station, a larger van
arriving at some stations, flex shifts per station-day, zips moving between stations of a
city, stations launched mid-year that take zips over and open new ones, growth per city,
weekday and yearly cycles — but built with whole-array operations, so the national rung
(40,000 zips under 1,000 stations in 40 cities, 365 days: about 14.6 million zip-days) takes
minutes, not hours. Routes and route lengths come from the same generative story
(:func:`~bayesspr.simulate.worlds.draw_routes`), with a :class:`Truth` the SPR model's
parameters can be checked against.

:data:`RUNGS` names the three sizes of issue 16: ``S`` (400 zips), ``M`` (4,000) and ``L``
(40,000).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesspr.errors import SimulationError
from bayesspr.simulate.worlds import (
    DEFAULT_TRUTH,
    SHIFT_HOURS,
    SHIFT_SHARES,
    WEEKDAY_FACTORS,
    Truth,
    World,
    draw_routes,
    seasonal_factor,
)

__all__ = ["RUNGS", "simulate_network"]

#: The ladder's rungs: (zips, stations, cities).
RUNGS: dict[str, tuple[int, int, int]] = {
    "S": (400, 10, 1),
    "M": (4_000, 100, 4),
    "L": (40_000, 1_000, 40),
}
#: Share of zips that move to another station of their city in the second half of the year.
MOVED_SHARE = 0.005
#: Share of stations launched mid-year (at least one per network).
LAUNCHED_SHARE = 0.01
#: New zips each launched station opens, besides the two it takes over.
NEW_ZIPS_PER_LAUNCH = 2


def simulate_network(
    rung: str | None = "S",
    *,
    n_zips: int | None = None,
    n_stations: int | None = None,
    n_cities: int | None = None,
    n_days: int = 365,
    start: str = "2025-01-06",
    seed: int = 0,
    annual_growth: float = 0.10,
    yearly_amplitude: float = 0.15,
    holiday_peak: float = 0.3,
    large_van: float = 450.0,
) -> World:
    """A seeded network of one rung of the ladder (or of a given size), one row per zip-day.

    Parameters
    ----------
    rung : {"S", "M", "L"} or None
        The size (:data:`RUNGS`); None to give ``n_zips``, ``n_stations``, ``n_cities``.
    n_zips, n_stations, n_cities : int, optional
        The size instead of a rung (each ≥ 1, at least as many stations as cities and zips
        as stations).
    n_days : int
        Days of history (days, 28 to 3,660).
    start : str
        First day (ISO date).
    seed : int
        Seed: the same seed gives the same network.
    annual_growth : float
        Mean yearly volume growth (–); each city draws its own around it.
    yearly_amplitude, holiday_peak : float
        The yearly cycle (log amplitude, –) and the extra holiday-peak volume (–).
    large_van : float
        Capacity of the van a third of the stations receive at 80 % of the year (packages).

    Returns
    -------
    World
        ``table`` (canonical columns; ``city``, ``station`` and ``zip`` as categoricals to keep
        15 million rows small), ``truth``, ``zips`` (city, home station, area, packages per
        stop, base stops, first day) and ``events`` (moved zips and their new stations and
        days, launched stations and days, the stations that got the large van and when).

    Raises
    ------
    SimulationError
        An unknown rung, or sizes out of range.
    """
    n_zips, n_stations, n_cities = _size(rung, n_zips, n_stations, n_cities, n_days)
    rng = np.random.default_rng(seed)
    params = dict(DEFAULT_TRUTH)
    cities = np.array([f"C{c:02d}" for c in range(n_cities)])
    stations = np.array([f"S{s:04d}" for s in range(n_stations)])
    city_of_station = np.arange(n_stations) % n_cities
    n_launch = max(1, round(LAUNCHED_SHARE * n_stations))
    launched = rng.choice(np.arange(n_stations), n_launch, replace=False)
    running = np.setdiff1d(np.arange(n_stations), launched)
    # zips: the running stations share the original zips; each launched station opens new ones
    n_new = NEW_ZIPS_PER_LAUNCH * n_launch
    n_old = n_zips - n_new
    if n_old < len(running):
        raise SimulationError(f"n_zips = {n_zips}: expected at least {len(running) + n_new}")
    home = np.concatenate([running[np.arange(n_old) % len(running)], np.repeat(launched, 2)])
    days = pd.date_range(start, periods=n_days, freq="D")
    launch_day = rng.integers(n_days // 3, 2 * n_days // 3, n_launch)
    first_day = np.concatenate([np.zeros(n_old, int), np.repeat(launch_day, 2)])
    station_of = np.repeat(home[:, None], n_days, axis=1)  # (zip, day): station index
    stem = np.exp(rng.normal(np.log(12.0), 0.5, n_zips))  # km, to the home station
    stem_of = np.repeat(stem[:, None], n_days, axis=1)
    events = _launch(rng, launched, launch_day, city_of_station, home, n_old, station_of, stem_of)
    events |= _moves(rng, n_old, home, city_of_station, n_stations, station_of, stem_of, days)
    large = rng.permutation(n_stations)[: n_stations // 3]
    large_from = int(0.8 * n_days)
    events |= {
        "large_van": large_van,
        "large_van_date": days[large_from],
        "large_van_stations": sorted(stations[large].tolist()),
        "launched_stations": sorted(stations[launched].tolist()),
    }
    zips = pd.DataFrame(
        {
            "city": cities[city_of_station[home]],
            "home_station": stations[home],
            "area_km2": np.exp(rng.normal(np.log(6.0), 0.5, n_zips)),
            "packages_per_stop": rng.uniform(1.3, 2.2, n_zips),
            "base_stops": np.exp(rng.normal(np.log(350.0), 0.6, n_zips)),
            "first_day": first_day,
        },
        index=pd.Index([f"{10000 + i:05d}" for i in range(n_zips)], name="zip"),
    )
    truth = _truth(params, cities, stations, zips, rng, annual_growth)
    network = _Network(zips, days, station_of, stem_of, stations, cities, city_of_station)
    season = seasonal_factor(days, yearly_amplitude, holiday_peak)
    table = _table(network, truth, season, rng, (large, large_from, large_van))
    return World(table=table, truth=truth, zips=zips, events=events)


def _size(
    rung: str | None,
    n_zips: int | None,
    n_stations: int | None,
    n_cities: int | None,
    n_days: int,
) -> tuple[int, int, int]:
    """The network's (zips, stations, cities), from the rung or as given, checked."""
    if rung is not None:
        if rung not in RUNGS:
            raise SimulationError(f"rung {rung!r}: expected one of {list(RUNGS)} or None")
        n_zips, n_stations, n_cities = RUNGS[rung]
    if n_zips is None or n_stations is None or n_cities is None:
        raise SimulationError("give a rung, or n_zips, n_stations and n_cities")
    if not (1 <= n_cities <= n_stations <= n_zips // 2 and n_zips <= 100_000):
        raise SimulationError(
            f"n_zips = {n_zips}, n_stations = {n_stations}, n_cities = {n_cities}: expected "
            "1 ≤ cities ≤ stations ≤ zips / 2 and zips ≤ 100,000"
        )
    if not 28 <= n_days <= 3_660:
        raise SimulationError(f"n_days = {n_days}: expected 28 to 3,660 days")
    return n_zips, n_stations, n_cities


def _launch(
    rng: np.random.Generator,
    launched: np.ndarray,
    launch_day: np.ndarray,
    city_of_station: np.ndarray,
    home: np.ndarray,
    n_old: int,
    station_of: np.ndarray,
    stem_of: np.ndarray,
) -> dict[str, object]:
    """Each launched station takes two zips of another station of its city from its day."""
    taken_all = []
    for station, day in zip(launched, launch_day, strict=True):
        mates = np.flatnonzero(city_of_station[home[:n_old]] == city_of_station[station])
        if len(mates) < 2:
            continue
        taken = rng.choice(mates, 2, replace=False)
        station_of[taken, day:] = station
        stem_of[taken, day:] *= 0.4  # the new station is closer
        taken_all.append((int(station), int(day), [int(z) for z in taken]))
    return {"launches": taken_all}


def _moves(
    rng: np.random.Generator,
    n_old: int,
    home: np.ndarray,
    city_of_station: np.ndarray,
    n_stations: int,
    station_of: np.ndarray,
    stem_of: np.ndarray,
    days: pd.DatetimeIndex,
) -> dict[str, object]:
    """A share of the original zips move to another station of their city, from a day on."""
    n_moved = max(1, round(MOVED_SHARE * n_old))
    movers = rng.choice(n_old, n_moved, replace=False)
    moved = []
    for z in movers:
        city = city_of_station[home[z]]
        others = np.flatnonzero((city_of_station == city) & (np.arange(n_stations) != home[z]))
        if len(others) == 0:
            continue
        target = int(rng.choice(others))
        day = int(rng.integers(len(days) // 2, len(days) - 14))
        station_of[z, day:] = target
        stem_of[z, day:] = np.exp(rng.normal(np.log(12.0), 0.5))
        moved.append((int(z), target, str(days[day].date())))
    return {"moves": moved}


def _truth(
    params: dict[str, float],
    cities: np.ndarray,
    stations: np.ndarray,
    zips: pd.DataFrame,
    rng: np.random.Generator,
    annual_growth: float,
) -> Truth:
    """City, station and zip effects drawn from their populations, and growth per city."""
    groups = {
        "service_min_city": pd.Series(
            params["service_min_pop"]
            * np.exp(params["service_min_sd"] * rng.normal(size=len(cities))),
            index=cities,
        ),
        "speed_kmh_city": pd.Series(
            params["speed_kmh_pop"] * np.exp(params["speed_kmh_sd"] * rng.normal(size=len(cities))),
            index=cities,
        ),
        "overhead_hours_station": pd.Series(
            params["overhead_hours_pop"]
            * np.exp(params["overhead_hours_sd"] * rng.normal(size=len(stations))),
            index=stations,
        ),
        "zip_effect": pd.Series(
            params["zip_effect_sd"] * rng.normal(size=len(zips)), index=zips.index
        ),
    }
    growth = pd.Series(rng.normal(annual_growth, 0.05, len(cities)), index=cities)
    return Truth(
        scalars={k: float(v) for k, v in params.items()},
        groups=groups,
        circuity=1.3,
        growth_city=growth,
    )


@dataclass(frozen=True)
class _Network:
    """The network's arrays: zips, days, each zip-day's station and stem, the labels."""

    zips: pd.DataFrame
    days: pd.DatetimeIndex
    station_of: np.ndarray  # (zip, day): station index
    stem_of: np.ndarray  # (zip, day): km to that station
    stations: np.ndarray
    cities: np.ndarray
    city_of_station: np.ndarray


def _table(
    network: _Network,
    truth: Truth,
    season: np.ndarray,
    rng: np.random.Generator,
    large_vans: tuple[np.ndarray, int, float],
) -> pd.DataFrame:
    """Every zip-day from the zip's first day: volume, van, shift, then routes from the truth."""
    zips, days, station_of, stations = (
        network.zips,
        network.days,
        network.station_of,
        network.stations,
    )
    large, large_from, large_van = large_vans
    n_days = station_of.shape[1]
    live = np.arange(n_days)[None, :] >= zips["first_day"].to_numpy()[:, None]
    z_idx, d_idx = np.nonzero(live)
    t = d_idx.astype(float)
    city_idx = network.city_of_station[station_of[z_idx, d_idx]]
    growth = truth.growth_city.to_numpy()[city_idx]
    weekday = np.asarray(WEEKDAY_FACTORS)[days.day_of_week.to_numpy()]
    level = (
        zips["base_stops"].to_numpy()[z_idx]
        * np.exp(growth * t / 365.0)
        * (weekday * season)[d_idx]
        * np.exp(rng.normal(0.0, 0.08, len(z_idx)))
    )
    stops = np.maximum(rng.poisson(level), 1)
    packages = stops + rng.poisson(stops * (zips["packages_per_stop"].to_numpy()[z_idx] - 1.0))
    station_idx = station_of[z_idx, d_idx]
    share_small = rng.uniform(0.2, 0.8, len(stations))
    van = np.where(rng.uniform(size=len(z_idx)) < share_small[station_idx], 200.0, 300.0)
    is_large = np.isin(station_idx, large) & (d_idx >= large_from)
    van = np.where(is_large & (rng.uniform(size=len(z_idx)) < 0.7), large_van, van)
    shift = rng.choice(SHIFT_HOURS, size=(len(stations), n_days), p=SHIFT_SHARES)
    table = pd.DataFrame(
        {
            "date": days[d_idx],
            "city": pd.Categorical.from_codes(city_idx, network.cities),
            "station": pd.Categorical.from_codes(station_idx, stations),
            "zip": pd.Categorical.from_codes(z_idx, zips.index.to_numpy()),
            "van_capacity": van,
            "packages": packages.astype(np.int64),
            "stops": stops.astype(np.int64),
            "area_km2": zips["area_km2"].to_numpy()[z_idx],
            "stem_km": network.stem_of[z_idx, d_idx],
            "shift_hours": shift[station_idx, d_idx],
        }
    )
    routes, km = draw_routes(table, truth, rng)
    table.insert(4, "routes", routes)
    table["route_km"] = km
    return table
