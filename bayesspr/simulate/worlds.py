"""Seeded simulated delivery worlds with known truth.

A world is cities → stations → zips with daily volume (growth, weekday seasonality, noise),
several van sizes, a zip that moves to another station, and a station that opens
mid-history. Routes are drawn from the same generative story as :class:`bayesspr.SPRModel`
(route physics with city speeds and service times, station dispatch overhead, a zip
efficiency, log-normal day noise on the route need, whole routes), so fitted parameters can
be checked against the truth.

The embedded demo world is ``simulate_world()`` with its defaults.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesspr.defaults import MAX_DAYS
from bayesspr.errors import SimulationError
from bayesspr.spr import physics
from bayesspr.spr.physics import RouteConstants, ZoneDay

#: Weekday volume factors, Monday first (dimensionless).
WEEKDAY_FACTORS = (1.10, 1.05, 1.00, 1.00, 1.05, 0.85, 0.55)

#: Shift lengths (h) and how often a station-day runs each.
SHIFT_HOURS = (6.0, 8.0, 10.0)
SHIFT_SHARES = (0.25, 0.5, 0.25)

#: Yearly volume cycle peaks on this day of the year (late November).
SEASON_PEAK_DAY = 330


def holiday_days(dates: pd.DatetimeIndex) -> np.ndarray:
    """Flag the holiday-peak days: 25 November to 24 December of every year.

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        Days.

    Returns
    -------
    numpy.ndarray
        Boolean per day.
    """
    md = dates.month * 100 + dates.day
    return np.asarray((md >= 1125) & (md <= 1224))


def seasonal_factor(
    dates: pd.DatetimeIndex, yearly_amplitude: float, holiday_peak: float
) -> np.ndarray:
    """Multiplicative yearly and holiday volume factor per day (–).

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        Days.
    yearly_amplitude : float
        Log-scale amplitude of the yearly cycle (–), peaking on :data:`SEASON_PEAK_DAY`.
    holiday_peak : float
        Extra share of volume on :func:`holiday_days` (–).

    Returns
    -------
    numpy.ndarray
        Factor per day; exactly 1 when both arguments are 0.
    """
    phase = 2.0 * np.pi * (dates.day_of_year.to_numpy() - SEASON_PEAK_DAY) / 365.25
    return np.exp(yearly_amplitude * np.cos(phase)) * (1.0 + holiday_peak * holiday_days(dates))


CITY_NAMES = ("Boston", "Chicago", "Seattle", "Austin", "Denver", "Atlanta")


@dataclass(frozen=True)
class Truth:
    """Known parameters of a simulated world, named as in the model's posterior.

    Attributes
    ----------
    scalars : dict[str, float]
        Global and population parameters: ``tour_constant`` (–), ``stem_speed_kmh`` (km/h),
        ``fill`` (–), ``sigma_route`` (log routes), ``sigma_km`` (log km),
        ``service_min_pop`` (min), ``service_min_sd`` (log), ``speed_kmh_pop`` (km/h),
        ``speed_kmh_sd`` (log), ``overhead_hours_pop`` (h), ``overhead_hours_sd`` (log),
        ``zip_effect_sd`` (log).
    groups : dict[str, pandas.Series]
        Group effects: ``service_min_city`` (min) and ``speed_kmh_city`` (km/h) by city,
        ``overhead_hours_station`` (h) by station, ``zip_effect`` (log efficiency) by zip
        (the SPR model's groups).
    circuity : float
        Road km per straight-line km used (fixed, not learned).
    growth_city : pandas.Series
        Volume growth by city (log per year), as the volume model's ``growth_city``.
    """

    scalars: dict[str, float]
    groups: dict[str, pd.Series]
    circuity: float = 1.3
    growth_city: pd.Series = field(default_factory=pd.Series)


@dataclass(frozen=True)
class World:
    """A simulated world.

    Attributes
    ----------
    table : pandas.DataFrame
        Canonical observation table (see :mod:`bayesspr.data.table`), one row per day × zip × van.
    truth : Truth
        The parameters that generated ``table``.
    zips : pandas.DataFrame
        One row per zip: city, area_km2, packages_per_stop, base_stops (stops/day).
    events : dict[str, object]
        What happened: the moved zip and its date, the launched station and its date, and
        the date the large van arrived (if any).
    future : pandas.DataFrame
        The days after the history (``horizon_days``), same columns, with true routes:
        held-out truth for forecasts.
    """

    table: pd.DataFrame
    truth: Truth
    zips: pd.DataFrame
    events: dict[str, object] = field(default_factory=dict)
    future: pd.DataFrame = field(default_factory=pd.DataFrame)


DEFAULT_TRUTH = {
    "tour_constant": 0.82,
    "stem_speed_kmh": 45.0,
    "fill": 0.92,
    "sigma_route": 0.07,
    "sigma_km": 0.05,
    "service_min_pop": 2.4,
    "service_min_sd": 0.1,
    "speed_kmh_pop": 24.0,
    "speed_kmh_sd": 0.1,
    "overhead_hours_pop": 0.6,
    "overhead_hours_sd": 0.25,
    "zip_effect_sd": 0.06,
}


#: Ranges of :func:`simulate_world`'s arguments: (low, high) inclusive.
LIMITS: dict[str, tuple[float, float]] = {
    "n_cities": (1, len(CITY_NAMES)),
    "stations_per_city": (1, 50),
    "zips_per_station": (1, 99),  # zip codes are 5 digits: 100 zips would reach the next
    "n_days": (1, MAX_DAYS),
    "horizon_days": (0, MAX_DAYS),
    "zip_days": (1, 5_000_000),  # zips × (n_days + horizon_days): rows are built one by one
    "van_capacity": (1.0, 100_000.0),
    "annual_growth": (-1.0, 1.0),
    "yearly_amplitude": (0.0, 2.0),
    "holiday_peak": (-1.0, 10.0),  # low end excluded: volume must stay > 0
}


def _whole(name: str, value: object, low: float, high: float) -> None:
    """Raise ValueError unless ``value`` is a whole number in [low, high]."""
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not (is_int and low <= value <= high):  # type: ignore[operator]
        raise SimulationError(
            f"simulate_world({name}={value!r}): expected a whole number from {low:g} to {high:g}"
        )


def _real(
    name: str, value: object, low: float, high: float, unit: str, low_open: bool = False
) -> None:
    """Raise ValueError unless ``value`` is a finite number in [low, high] (or (low, high])."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float | np.integer | np.floating)
        and np.isfinite(value)
        and (value > low if low_open else value >= low)
        and value <= high
    )
    if not ok:
        span = f"{'>' if low_open else '>='} {low:g} and <= {high:g}"
        raise SimulationError(
            f"simulate_world({name}={value!r}): expected a finite number {span} ({unit})"
        )


def _check_sizes(args: dict[str, object]) -> None:
    """The seed, the hierarchy's size and the zip-days in all."""
    seed = args["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SimulationError(f"simulate_world(seed={seed!r}): expected a whole number >= 0")
    for name in ("n_cities", "stations_per_city", "zips_per_station", "n_days", "horizon_days"):
        _whole(name, args[name], *LIMITS[name])
    n_zips = args["n_cities"] * args["stations_per_city"] * args["zips_per_station"] + 1
    zip_days = n_zips * (args["n_days"] + args["horizon_days"])
    if zip_days > LIMITS["zip_days"][1]:
        raise SimulationError(
            f"simulate_world: {n_zips} zips × {args['n_days'] + args['horizon_days']} days = "
            f"{zip_days:,} zip-days; expected at most {LIMITS['zip_days'][1]:,}: simulate "
            "fewer zips or days"
        )


def _check_start(start: object, total: int) -> None:
    """An ISO day from which ``total`` days fit in the table's datetime64[ns] range."""
    if not isinstance(start, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", start.strip()):
        raise SimulationError(f"simulate_world(start={start!r}): expected an ISO date 'YYYY-MM-DD'")
    try:
        first = pd.Timestamp(start)
    except (ValueError, OverflowError):
        first = None
    # the observation table holds datetime64[ns] days: 1677-09-22 to 2262-04-11
    if first is None or not (
        pd.Timestamp("1677-09-22") <= first
        and first + pd.Timedelta(days=total) <= pd.Timestamp("2262-04-11")
    ):
        raise SimulationError(
            f"simulate_world(start={start!r}): expected a real calendar day from which "
            f"{total} days fit between 1677-09-22 and 2262-04-11"
        )


def _check_vans(args: dict[str, object]) -> None:
    """Van sizes in use, the large van and the day it arrives."""
    capacities = args["van_capacities"]
    if isinstance(capacities, str) or not hasattr(capacities, "__len__") or not capacities:
        raise SimulationError(
            f"simulate_world(van_capacities={capacities!r}): expected a non-empty tuple of "
            "van sizes (packages)"
        )
    for i, cap in enumerate(capacities):  # type: ignore[arg-type]
        _real(f"van_capacities[{i}]", cap, *LIMITS["van_capacity"], "packages per van")
    if args["large_van"] is not None:
        _real("large_van", args["large_van"], *LIMITS["van_capacity"], "packages per van")
    if args["large_van_from_day"] is not None:
        _whole(
            "large_van_from_day",
            args["large_van_from_day"],
            0,
            args["n_days"] + args["horizon_days"],
        )


def _check_truth(truth: object) -> None:
    """Known parameter names with values in range (None: the defaults)."""
    if truth is None:
        return
    if not isinstance(truth, dict):
        raise SimulationError(
            f"simulate_world(truth={truth!r}): expected a dict of parameter values"
        )
    unknown = sorted(set(truth) - set(DEFAULT_TRUTH))
    if unknown:
        raise SimulationError(
            f"simulate_world(truth=...) names unknown parameter(s) {unknown}: expected some of "
            f"{sorted(DEFAULT_TRUTH)}"
        )
    for name, value in truth.items():
        high = 1.0 if name == "fill" else np.inf
        _real(f"truth[{name!r}]", value, 0.0, high, "as in DEFAULT_TRUTH", low_open=True)


def _check_arguments(**args: object) -> None:
    """Raise ValueError naming the first argument of :func:`simulate_world` out of range."""
    _check_sizes(args)
    _check_start(args["start"], args["n_days"] + args["horizon_days"])
    _check_vans(args)
    _real("annual_growth", args["annual_growth"], *LIMITS["annual_growth"], "log per year")
    _real("yearly_amplitude", args["yearly_amplitude"], *LIMITS["yearly_amplitude"], "log scale")
    _real(
        "holiday_peak",
        args["holiday_peak"],
        *LIMITS["holiday_peak"],
        "extra share of volume",
        low_open=True,
    )
    _check_truth(args["truth"])


def draw_routes(
    table: pd.DataFrame, truth: Truth, rng: np.random.Generator, *, with_route_km: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Whole routes (and route length) of zip-days drawn from a world's truth.

    The simulator's generative story: the smooth route physics with the row's city, station
    and zip effects gives the route need, log-normal day noise (``sigma_route``) multiplies
    it, and routes are the need rounded up, at least the capacity floor; the route length is
    the physics length for those routes with log-normal noise (``sigma_km``).

    Parameters
    ----------
    table : pandas.DataFrame
        Zip-days with ``city``, ``station``, ``zip``, ``stops``, ``packages``,
        ``van_capacity`` (packages), ``area_km2`` (km²), ``stem_km`` (km) and
        ``shift_hours`` (h).
    truth : Truth
        The world's parameters; every row's city, station and zip must be in its groups.
    rng : numpy.random.Generator
        Source of the day noise: one normal per row for the routes, then one per row for
        the route length.
    with_route_km : bool
        Whether to draw the route length too.

    Returns
    -------
    routes : numpy.ndarray
        Whole routes per row (routes), int64.
    route_km : numpy.ndarray or None
        Road km per route (km), or None without ``with_route_km``.
    """
    zone = ZoneDay(
        stops=table["stops"].to_numpy(float),
        packages=table["packages"].to_numpy(float),
        capacity=table["van_capacity"].to_numpy(float),
        area_km2=table["area_km2"].to_numpy(),
        stem_km=table["stem_km"].to_numpy(),
        shift_hours=table["shift_hours"].to_numpy(),
    )
    groups, scalars = truth.groups, truth.scalars
    constants = RouteConstants(
        service_min=groups["service_min_city"][table["city"]].to_numpy(),
        speed_kmh=groups["speed_kmh_city"][table["city"]].to_numpy(),
        stem_speed_kmh=scalars["stem_speed_kmh"],
        circuity=truth.circuity,
        tour_constant=scalars["tour_constant"],
        overhead_hours=groups["overhead_hours_station"][table["station"]].to_numpy(),
        fill=scalars["fill"],
        time_efficiency=np.exp(groups["zip_effect"][table["zip"]].to_numpy()),
    )
    need = zone.stops / physics.max_stops_per_route(zone, constants, smooth=True)
    floor = physics.capacity_floor_routes(zone.packages, zone.capacity)
    noise = rng.normal(0.0, scalars["sigma_route"], len(table))
    routes = np.maximum(np.ceil(need * np.exp(noise)), floor).astype(np.int64)
    if not with_route_km:
        return routes, None
    km = physics.expected_route_km(zone, constants, routes=routes)
    return routes, km * np.exp(rng.normal(0.0, scalars["sigma_km"], len(table)))


def simulate_world(
    seed: int = 7,
    *,
    n_cities: int = 2,
    stations_per_city: int = 2,
    zips_per_station: int = 4,
    n_days: int = 100,
    start: str = "2025-01-06",
    van_capacities: tuple[float, ...] = (200.0, 300.0),
    large_van: float | None = 450.0,
    large_van_from_day: int | None = None,
    annual_growth: float = 0.30,
    launch_station: bool = True,
    move_zip: bool = True,
    with_route_km: bool = True,
    truth: dict[str, float] | None = None,
    horizon_days: int = 0,
    yearly_amplitude: float = 0.0,
    holiday_peak: float = 0.0,
) -> World:
    """Simulate a delivery world with known truth.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed gives the same world.
    n_cities, stations_per_city, zips_per_station : int
        Size of the hierarchy (a launched station adds one more station and one new zip).
    n_days : int
        Days of history (days).
    start : str
        First delivery day (ISO date).
    van_capacities : tuple of float
        Van sizes in use from the start (packages); each zip-day uses one, chosen at random
        with station-specific shares.
    large_van : float or None
        A larger van (packages) that some stations receive from ``large_van_from_day``.
    large_van_from_day : int or None
        Day index at which the large van arrives; default: at 80 % of the history.
    annual_growth : float
        Mean yearly volume growth (fraction per year); each city draws its own around it.
    launch_station, move_zip : bool
        Whether a station opens mid-history (taking over two zips and a new one) and whether
        one zip moves to another station of its city.
    with_route_km : bool
        Whether to include the observed mean route length ``route_km``.
    truth : dict, optional
        Overrides of :data:`DEFAULT_TRUTH`.
    horizon_days : int
        Days simulated after the history, returned as ``World.future`` with their true
        routes (days). They come from a separate random stream, so the history is the same
        whatever the horizon.
    yearly_amplitude : float
        Amplitude of the yearly volume cycle on the log scale (–); volume peaks in late
        November. 0 turns it off.
    holiday_peak : float
        Extra volume share on the holiday-peak days of :func:`holiday_days` (–), e.g. 0.3
        for +30 %. 0 turns it off.

    Returns
    -------
    World
        The observation table, the truth and the event log.

    Raises
    ------
    ValueError
        If an argument is out of its range (see :data:`LIMITS`): sizes from 1 to
        6 cities, 50 stations per city, 99 zips per station; 1 to 3,660 days of history and
        0 to 3,660 of horizon, at most 5 million zip-days in all; vans of 1 to 100,000
        packages; growth in [-1, 1] per year; amplitude in [0, 2]; holiday peak in (-1, 10];
        ``truth`` with known names and values in range. The message names the argument,
        its value and the range.
    """
    _check_arguments(
        seed=seed,
        n_cities=n_cities,
        stations_per_city=stations_per_city,
        zips_per_station=zips_per_station,
        n_days=n_days,
        start=start,
        van_capacities=van_capacities,
        large_van=large_van,
        large_van_from_day=large_van_from_day,
        annual_growth=annual_growth,
        truth=truth,
        horizon_days=horizon_days,
        yearly_amplitude=yearly_amplitude,
        holiday_peak=holiday_peak,
    )
    rng = np.random.default_rng(seed)
    params = {**DEFAULT_TRUTH, **(truth or {})}
    cities = list(CITY_NAMES[:n_cities])
    stations, launched = _stations(cities, stations_per_city, launch_station)
    groups = _city_and_station_effects(params, cities, stations, rng)
    zips = _zips(cities, stations, zips_per_station, launched, rng)
    groups["zip_effect"] = pd.Series(
        params["zip_effect_sd"] * rng.normal(size=len(zips)), index=zips.index
    )
    # straight-line stem distance of every zip from every station of its city (km)
    stem = {
        (z, s): float(np.exp(rng.normal(np.log(12.0), 0.5)))
        for z in zips.index
        for (city, s) in stations
        if city == zips.loc[z, "city"]
    }
    days = pd.date_range(start, periods=n_days, freq="D")
    station_of, first_day, events = _network_events(
        zips, stations, launched, stem, days, cities[-1] if move_zip else None
    )
    large_from = int(n_days * 0.8) if large_van_from_day is None else large_van_from_day
    large_stations = set([s for _, s in stations][::2]) if large_van else set()
    if large_van:
        events.update(
            large_van=large_van,
            large_van_date=days[large_from],
            large_van_stations=sorted(large_stations),
        )
    growth_city = dict(zip(cities, rng.normal(annual_growth, 0.05, n_cities), strict=True))
    share_small = dict(
        zip([s for _, s in stations], rng.uniform(0.2, 0.8, len(stations)), strict=True)
    )
    all_days = pd.date_range(start, periods=n_days + horizon_days, freq="D")
    # assignments continue into the future as they ended
    station_of = {
        z: np.concatenate([at, np.full(horizon_days, at[-1], dtype=object)])
        for z, at in station_of.items()
    }
    truth_obj = Truth(
        scalars={k: float(v) for k, v in params.items()},
        groups=groups,
        circuity=1.3,
        growth_city=pd.Series(growth_city),
    )
    volume = _Volume(
        zips=zips,
        days=all_days,
        season=seasonal_factor(all_days, yearly_amplitude, holiday_peak),
        growth_city=growth_city,
        first_day=first_day,
        station_of=station_of,
        stem=stem,
        van_capacities=tuple(van_capacities),
        share_small=share_small,
        large_van=large_van,
        large_stations=large_stations,
        large_from=large_from,
    )

    def history_or_future(day_range: range, gen: np.random.Generator) -> pd.DataFrame:
        table = _with_shifts(volume.rows(day_range, gen), gen)
        routes, km = draw_routes(table, truth_obj, gen, with_route_km=with_route_km)
        table.insert(4, "routes", routes)
        if km is not None:
            table["route_km"] = km
        return table

    table = history_or_future(range(n_days), rng)
    # the future comes from its own stream, so a longer horizon leaves the history unchanged
    future = history_or_future(
        range(n_days, n_days + horizon_days), np.random.default_rng([seed, 1])
    )
    return World(table=table, truth=truth_obj, zips=zips, events=events, future=future)


def _stations(
    cities: list[str], stations_per_city: int, launch_station: bool
) -> tuple[list[tuple[str, str]], str | None]:
    """(city, station) pairs, and the name of the station launched mid-history (or None)."""
    stations = [
        (city, f"{city[:3].upper()}{j + 1}") for city in cities for j in range(stations_per_city)
    ]
    launched = f"{cities[0][:3].upper()}{stations_per_city + 1}" if launch_station else None
    if launched:
        stations.append((cities[0], launched))
    return stations, launched


def _city_and_station_effects(
    params: dict[str, float],
    cities: list[str],
    stations: list[tuple[str, str]],
    rng: np.random.Generator,
) -> dict[str, pd.Series]:
    """City service times (min) and speeds (km/h), station overheads (h), from populations."""
    n_cities = len(cities)
    return {
        "service_min_city": pd.Series(
            params["service_min_pop"]
            * np.exp(params["service_min_sd"] * rng.normal(size=n_cities)),
            index=cities,
        ),
        "speed_kmh_city": pd.Series(
            params["speed_kmh_pop"] * np.exp(params["speed_kmh_sd"] * rng.normal(size=n_cities)),
            index=cities,
        ),
        "overhead_hours_station": pd.Series(
            params["overhead_hours_pop"]
            * np.exp(params["overhead_hours_sd"] * rng.normal(size=len(stations))),
            index=[s for _, s in stations],
        ),
    }


def _zips(
    cities: list[str],
    stations: list[tuple[str, str]],
    zips_per_station: int,
    launched: str | None,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One row per zip: city, home station, area (km²), packages per stop, base stops/day."""
    zip_rows = []
    for c_idx, (city, station) in enumerate(stations):
        if station == launched:
            continue
        for j in range(zips_per_station):
            code = 10000 + 1000 * cities.index(city) + 100 * c_idx + j
            zip_rows.append((f"{code:05d}", city, station))
    if launched:
        zip_rows.append((f"{10000 + 999:05d}", cities[0], launched))  # a new zip of the new station
    zips = pd.DataFrame(zip_rows, columns=["zip", "city", "home_station"]).set_index("zip")
    n_zips = len(zips)
    zips["area_km2"] = np.exp(rng.normal(np.log(6.0), 0.5, n_zips))
    zips["packages_per_stop"] = rng.uniform(1.3, 2.2, n_zips)
    zips["base_stops"] = np.exp(rng.normal(np.log(350.0), 0.6, n_zips))
    return zips


def _network_events(
    zips: pd.DataFrame,
    stations: list[tuple[str, str]],
    launched: str | None,
    stem: dict[tuple[str, str], float],
    days: pd.DatetimeIndex,
    move_city: str | None,
) -> tuple[dict[str, np.ndarray], dict[str, int], dict[str, object]]:
    """Each zip's station per day, its first day, and the launch and move (``stem`` grows).

    A station ``launched`` mid-history takes two zips of the first station and a new zip; a
    zip of ``move_city``'s first station moves to its last station (None: no move).
    """
    n_days = len(days)
    station_of = {z: np.full(n_days, zips.loc[z, "home_station"], dtype=object) for z in zips.index}
    first_day = dict.fromkeys(zips.index, 0)
    events: dict[str, object] = {}
    if launched:
        launch_day = n_days // 2
        taken = [z for z in zips.index if zips.loc[z, "home_station"] == stations[0][1]][:2]
        new_zip = zips.index[-1]
        for z in taken:
            station_of[z][launch_day:] = launched
            stem[(z, launched)] = stem[(z, stations[0][1])] * 0.4  # the new station is closer
        first_day[new_zip] = launch_day
        events.update(
            launched_station=launched,
            launch_date=days[launch_day],
            launch_takes_zips=taken,
            new_zip=new_zip,
        )
    if move_city is not None and len(stations) > 1:
        city_stations = [s for c, s in stations if c == move_city]
        mover = [z for z in zips.index if zips.loc[z, "home_station"] == city_stations[0]][-1]
        move_day = int(n_days * 0.6)
        target = city_stations[-1] if len(city_stations) > 1 else city_stations[0]
        station_of[mover][move_day:] = target
        events.update(moved_zip=mover, move_date=days[move_day], moved_to=target)
    return station_of, first_day, events


@dataclass(frozen=True)
class _Volume:
    """What daily volume and van draws need: zips, calendar, assignments and van shares."""

    zips: pd.DataFrame
    days: pd.DatetimeIndex
    season: np.ndarray
    growth_city: dict[str, float]
    first_day: dict[str, int]
    station_of: dict[str, np.ndarray]
    stem: dict[tuple[str, str], float]
    van_capacities: tuple[float, ...]
    share_small: dict[str, float]
    large_van: float | None
    large_stations: set[str]
    large_from: int

    def rows(self, day_range: range, gen: np.random.Generator) -> pd.DataFrame:
        """Zip-days of ``day_range``: volume (growth, weekday, season, noise) and a van each."""
        t = np.arange(day_range.start, day_range.stop)
        weekday = np.asarray(WEEKDAY_FACTORS)[self.days[t].day_of_week] * self.season[t]
        rows = []
        for z in self.zips.index:
            city = self.zips.loc[z, "city"]
            level = (
                self.zips.loc[z, "base_stops"]
                * np.exp(self.growth_city[city] * t / 365.0)
                * weekday
            )
            stops = gen.poisson(level * np.exp(gen.normal(0.0, 0.08, len(t))))
            stops = np.maximum(stops, 1)
            extra = gen.poisson(stops * (self.zips.loc[z, "packages_per_stop"] - 1.0))
            packages = stops + extra
            area = float(self.zips.loc[z, "area_km2"])
            for i, d in enumerate(t):
                if d < self.first_day[z]:
                    continue
                st = self.station_of[z][d]
                van = float(self._van(st, d, gen))
                rows.append(
                    (
                        self.days[d],
                        city,
                        st,
                        z,
                        van,
                        int(packages[i]),
                        int(stops[i]),
                        area,
                        self.stem[(z, st)],
                    )
                )
        return pd.DataFrame(
            rows,
            columns=[
                "date",
                "city",
                "station",
                "zip",
                "van_capacity",
                "packages",
                "stops",
                "area_km2",
                "stem_km",
            ],
        )

    def _van(self, station: str, day: int, gen: np.random.Generator) -> float:
        """The van of a zip-day (packages): the large one at its stations once it arrived."""
        if self.large_van and station in self.large_stations and day >= self.large_from:
            return self.large_van if gen.uniform() < 0.7 else self.van_capacities[-1]
        small = gen.uniform() < self.share_small[station]
        return self.van_capacities[0] if small else self.van_capacities[-1]


def _with_shifts(table: pd.DataFrame, gen: np.random.Generator) -> pd.DataFrame:
    """Add ``shift_hours``: each station-day runs 6, 8 or 10 h routes (flex shifts).

    A varying shift is what separates dispatch overhead from the time scale of the other
    constants (docs/model.md).
    """
    # both sides made plain strings of one dtype: pandas 3 refuses to add its `str` dtype to
    # an object column (and the date's text dtype depends on pyarrow being installed)
    dates = pd.DatetimeIndex(table["date"]).strftime("%Y-%m-%d").to_numpy(dtype=object)
    station_day = pd.Series(
        table["station"].to_numpy(dtype=object) + "|" + dates, index=table.index, dtype=object
    )
    shift_of = dict(
        zip(
            station_day.unique(),
            gen.choice(SHIFT_HOURS, size=station_day.nunique(), p=SHIFT_SHARES),
            strict=True,
        )
    )
    table["shift_hours"] = station_day.map(shift_of).astype(float)
    return table


def demo_world() -> World:
    """Return the embedded demo world (``simulate_world()`` with its defaults).

    Returns
    -------
    World
        1,650 zip-days (100 days) of two cities, five stations and 17 zips.
    """
    return simulate_world()


#: Shapes of the small worlds the convergence check cycles through:
#: (cities, stations per city, zips per station, days).
CONVERGENCE_SHAPES = (
    (1, 2, 2, 30),
    (2, 1, 3, 40),
    (1, 3, 3, 40),
    (2, 2, 2, 30),
    (3, 1, 2, 30),
    (1, 1, 4, 40),
)


def convergence_worlds(n_worlds: int, first: int = 0) -> Iterator[tuple[str, World]]:
    """Small seeded worlds of different shapes, for checking that default fits converge.

    Parameters
    ----------
    n_worlds : int
        How many worlds (≥ 1).
    first : int
        Index of the first world (≥ 0); world ``i`` has seed ``100 + i`` and the shape
        ``CONVERGENCE_SHAPES[i % 6]``.

    Yields
    ------
    tuple of (str, World)
        A label ``"seed S: Cc×Ss×Zz×Dd"`` (cities, stations per city, zips per station,
        days) and the world.
    """
    if n_worlds < 1 or first < 0:
        raise SimulationError(f"n_worlds = {n_worlds!r}, first = {first!r}: expected >= 1 and >= 0")
    for i in range(first, first + n_worlds):
        cities, stations, zips, days = CONVERGENCE_SHAPES[i % len(CONVERGENCE_SHAPES)]
        world = simulate_world(
            100 + i,
            n_cities=cities,
            stations_per_city=stations,
            zips_per_station=zips,
            n_days=days,
        )
        yield f"seed {100 + i}: {cities}c×{stations}s×{zips}z×{days}d", world
