"""Seeded daily-volume worlds with switchable effects, for checking the volume model.

A volume world is cities → stations → zips with daily stops and packages only (no routes):
what :class:`bayesspr.VolumeModel` fits. Beyond the level, growth, weekday profile, yearly
cycle and holiday peak of :func:`bayesspr.simulate.worlds.simulate_world`, each effect that
could make the model's intervals too narrow can be switched on alone:

* ``station_day_sd`` / ``city_day_sd``: a log shock per station-day / city-day shared by the
  zips of that station / city (weather, a local promotion, a sorting-centre delay);
* ``station_yearly_sd``: each station's yearly cycle differs from the network's (log-scale
  spread of its Fourier coefficients);
* ``growth_sd_zip``: zips grow at different rates around their city's growth;
* ``growth_drift_sd``: each city's log level wanders as a random walk (sd after one year);
* ``level_shift_sd``: on one day, a share of zips steps to a new level (log sd of the step),
  e.g. when a neighbouring zip joins or leaves.

The future (``horizon_days`` after the history) continues every effect from its own random
stream, so the history is the same whatever the horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesspr.errors import SimulationError
from bayesspr.simulate.worlds import CITY_NAMES, WEEKDAY_FACTORS, holiday_days

#: Effects of :func:`simulate_volume_world` and the size each takes in :data:`EFFECT_WORLDS`.
EFFECT_WORLDS: dict[str, dict[str, float]] = {
    "baseline": {},
    "station_day_shocks": {"station_day_sd": 0.08},
    "city_day_shocks": {"city_day_sd": 0.08},
    "station_yearly": {"station_yearly_sd": 0.08},
    "zip_growth": {"growth_sd_zip": 0.15},
    "growth_drift": {"growth_drift_sd": 0.10},
    "level_shifts": {"level_shift_sd": 0.15},
}

#: Log-scale day-to-day noise of one zip-day around its mean (–), as in the SPR worlds.
ZIP_DAY_SD = 0.08

#: Zips of one station, at most: a zip's code is 10000 + 1000·(city index) + 100·(station index
#: in the network) + its number, unique while a station has under 100 zips.
_MAX_ZIPS_PER_STATION = 99


def city_names(n_cities: int) -> list[str]:
    """Names of ``n_cities`` cities: those of ``CITY_NAMES`` first, then ``C07``, ``C08``, ….

    Each name's first three letters differ, so the stations named after them do too.
    """
    extra = [f"C{c + 1:02d}" for c in range(len(CITY_NAMES), n_cities)]
    return list(CITY_NAMES[:n_cities]) + extra


#: Yearly cycle: log amplitude of the network's first harmonic, peaking in late November.
SEASON_PEAK_DAY = 330


@dataclass(frozen=True)
class VolumeWorld:
    """A simulated volume world.

    Attributes
    ----------
    table : pandas.DataFrame
        History: one row per zip-day with ``date``, ``city``, ``station``, ``zip``,
        ``stops`` and ``packages`` (per day).
    future : pandas.DataFrame
        The ``horizon_days`` after the history, same columns: held-out truth.
    regressors : pandas.DataFrame
        Known daily regressors over history and future (index: date): ``holiday`` (0/1).
    truth : dict
        Known parameters: ``growth_city`` (log per year, by city), ``growth_zip`` (log per
        year, by zip), the effect sizes used, and ``shift_day`` (the level-shift day or None).
    """

    table: pd.DataFrame
    future: pd.DataFrame
    regressors: pd.DataFrame
    truth: dict[str, object] = field(default_factory=dict)


def simulate_volume_world(
    seed: int = 0,
    *,
    n_cities: int = 2,
    stations_per_city: int = 2,
    zips_per_station: int = 3,
    n_days: int = 365,
    horizon_days: int = 487,
    start: str = "2024-01-01",
    base_stops: float = 300.0,
    annual_growth: float = 0.10,
    yearly_amplitude: float = 0.12,
    holiday_peak: float = 0.25,
    station_day_sd: float = 0.0,
    city_day_sd: float = 0.0,
    station_yearly_sd: float = 0.0,
    growth_sd_zip: float = 0.0,
    growth_drift_sd: float = 0.0,
    level_shift_sd: float = 0.0,
) -> VolumeWorld:
    """Simulate daily stops and packages per zip with the chosen effects.

    Parameters
    ----------
    seed : int
        Seed; the same seed and arguments give the same world.
    n_cities, stations_per_city, zips_per_station : int
        Size of the hierarchy. The first six cities carry the names of
        :data:`~bayesspr.simulate.worlds.CITY_NAMES`, the rest ``C07``, ``C08``, …; a
        station has at most 99 zips.
    n_days, horizon_days : int
        Days of history and of held-out future (days).
    start : str
        First history day (ISO date).
    base_stops : float
        Typical stops per zip-day at the start (stops/day); zips spread log-normally (sd 0.5).
    annual_growth : float
        Mean log growth per year (–); cities spread around it with sd 0.05.
    yearly_amplitude : float
        Log amplitude of the network's yearly cycle (–).
    holiday_peak : float
        Extra volume share on the holiday days of :func:`~bayesspr.simulate.worlds.holiday_days`.
    station_day_sd, city_day_sd : float
        Log sd of a shock shared by all zips of a station / city on one day (–).
    station_yearly_sd : float
        Log sd of each station's deviation from the network's Fourier coefficients (–).
    growth_sd_zip : float
        Log sd of zip growth around the city's (per year).
    growth_drift_sd : float
        Log sd of each city's random-walk level after one year (–).
    level_shift_sd : float
        Log sd of the step of a third of the zips on one day (–); the day falls in the last
        third of the history or in the future, at random.

    Returns
    -------
    VolumeWorld
        History, future, regressors and truth.

    Raises
    ------
    SimulationError
        If a size is below 1 (or a station has over 99 zips), a day count negative, or an sd
        negative.
    """
    sizes = {
        "n_cities": n_cities,
        "stations_per_city": stations_per_city,
        "zips_per_station": zips_per_station,
        "n_days": n_days,
    }
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise SimulationError(
                f"simulate_volume_world({name}={value!r}): expected a whole number >= 1"
            )
    if zips_per_station > _MAX_ZIPS_PER_STATION:
        raise SimulationError(
            f"simulate_volume_world(zips_per_station={zips_per_station}): at most "
            f"{_MAX_ZIPS_PER_STATION} (a zip's code holds its number in two digits)"
        )
    sds = {
        "station_day_sd": station_day_sd,
        "city_day_sd": city_day_sd,
        "station_yearly_sd": station_yearly_sd,
        "growth_sd_zip": growth_sd_zip,
        "growth_drift_sd": growth_drift_sd,
        "level_shift_sd": level_shift_sd,
    }
    for name, value in sds.items():
        if not (np.isfinite(value) and value >= 0):
            raise SimulationError(
                f"simulate_volume_world({name}={value!r}): expected a finite sd >= 0"
            )
    rng = np.random.default_rng(seed)
    cities = city_names(n_cities)
    stations = [(c, f"{c[:3].upper()}{j + 1}") for c in cities for j in range(stations_per_city)]
    zip_rows = [
        (f"{10000 + 1000 * ci + 100 * si + j:05d}", c, s)
        for ci, c in enumerate(cities)
        for si, (cc, s) in enumerate(stations)
        if cc == c
        for j in range(zips_per_station)
    ]
    zips = pd.DataFrame(zip_rows, columns=["zip", "city", "station"])
    n_z, n_k, n_c = len(zips), len(stations), len(cities)
    z_city = np.array([cities.index(c) for c in zips["city"]])
    z_station = np.array([[s for _, s in stations].index(s) for s in zips["station"]])

    base = np.log(base_stops) + rng.normal(0.0, 0.5, n_z)
    pps = rng.uniform(1.3, 2.2, n_z)
    growth_city = rng.normal(annual_growth, 0.05, n_c)
    growth_zip = growth_city[z_city] + growth_sd_zip * rng.normal(size=n_z)
    angle = 2.0 * np.pi * SEASON_PEAK_DAY / 365.25
    # rotate the first harmonic so that the network cycle peaks on SEASON_PEAK_DAY
    a1, b1 = yearly_amplitude * np.cos(angle), yearly_amplitude * np.sin(angle)
    yearly_net = np.array([a1, 0.3 * yearly_amplitude, b1, 0.0])  # cos1, cos2, sin1, sin2
    yearly_station = yearly_net[None, :] + station_yearly_sd * rng.normal(size=(n_k, 4))
    shifted = rng.permutation(n_z)[: max(1, n_z // 3)]
    shift_size = level_shift_sd * rng.normal(size=len(shifted))
    total = n_days + horizon_days
    shift_day = int(rng.integers(2 * n_days // 3, total)) if level_shift_sd > 0 else None

    days = pd.date_range(start, periods=total, freq="D")
    doy = days.day_of_year.to_numpy(float)
    k = np.arange(1, 3)
    ang = 2.0 * np.pi * doy[:, None] * k[None, :] / 365.25
    fourier = np.concatenate([np.cos(ang), np.sin(ang)], axis=1)  # (days, 4)
    holiday = holiday_days(days).astype(float)

    # shared random paths: history from rng, future from its own stream
    future_rng = np.random.default_rng([seed, 1])

    def split(draw: Callable[[np.random.Generator, int], np.ndarray]) -> np.ndarray:
        return np.concatenate([draw(rng, n_days), draw(future_rng, horizon_days)], axis=0)

    station_shock = split(lambda g, n: station_day_sd * g.normal(size=(n, n_k)))
    city_shock = split(lambda g, n: city_day_sd * g.normal(size=(n, n_c)))
    steps = split(lambda g, n: growth_drift_sd / np.sqrt(365.25) * g.normal(size=(n, n_c)))
    drift = np.cumsum(steps, axis=0)
    noise = split(lambda g, n: ZIP_DAY_SD * g.normal(size=(n, n_z)))

    t = np.arange(total) / 365.25
    log_mu = (
        base[None, :]
        + growth_zip[None, :] * t[:, None]
        + np.log(np.asarray(WEEKDAY_FACTORS))[days.day_of_week][:, None]
        + (fourier @ yearly_station.T)[:, z_station]
        + np.log1p(holiday_peak * holiday)[:, None]
        + station_shock[:, z_station]
        + city_shock[:, z_city]
        + drift[:, z_city]
        + noise
    )
    if shift_day is not None:
        log_mu[shift_day:, shifted] += shift_size[None, :]
    mu = np.exp(log_mu)
    hist_stops = np.maximum(rng.poisson(mu[:n_days]), 1)
    fut_stops = np.maximum(future_rng.poisson(mu[n_days:]), 1)
    hist_pk = hist_stops + rng.poisson(hist_stops * (pps - 1.0))
    fut_pk = fut_stops + future_rng.poisson(fut_stops * (pps - 1.0))

    def frame(stops: np.ndarray, packages: np.ndarray, dates: pd.DatetimeIndex) -> pd.DataFrame:
        n_d = len(dates)
        return pd.DataFrame(
            {
                "date": np.repeat(dates, n_z),
                "city": np.tile(zips["city"].to_numpy(), n_d),
                "station": np.tile(zips["station"].to_numpy(), n_d),
                "zip": np.tile(zips["zip"].to_numpy(), n_d),
                "stops": stops.ravel().astype(np.int64),
                "packages": packages.ravel().astype(np.int64),
            }
        )

    truth = {
        "growth_city": pd.Series(growth_city, index=cities),
        "growth_zip": pd.Series(growth_zip, index=zips["zip"].to_numpy()),
        "shift_day": None if shift_day is None else days[shift_day],
        **sds,
    }
    return VolumeWorld(
        table=frame(hist_stops, hist_pk, days[:n_days]),
        future=frame(fut_stops, fut_pk, days[n_days:]),
        regressors=pd.DataFrame({"holiday": holiday}, index=days),
        truth=truth,
    )


def coverage_with_band(sample: np.ndarray, truth: np.ndarray, level: float) -> dict[str, float]:
    """Share of units whose truth lies in the forecast's central interval, and its 99 % band.

    The units of a forecast are seldom independent trials (the days of a station share its
    level error, the months of a station its growth, the stations of a city its walk), so the
    binomial band, which assumes they are, is too narrow for them. The band here is the
    forecast's own: half of the draws stand in for the truth, one at a time, scored against
    the intervals of the other half; a calibrated forecast's truth behaves like one of its
    draws, dependence included. It is ``level`` ± 2.576 standard deviations of those stand-ins'
    shares, never narrower than the binomial band (returned as well). For independent units the
    two agree; where the units share most of their uncertainty the band is wide, which says
    how little one forecast's units can tell.

    Parameters
    ----------
    sample : numpy.ndarray
        Forecast draws, (samples, *units); at least 20 samples.
    truth : numpy.ndarray
        What happened, (*units).
    level : float
        Central interval mass (–).

    Returns
    -------
    dict
        ``cover`` (share of units inside), ``n`` (units), ``lo`` / ``hi`` (the forecast's own
        99 % band) and ``binom_lo`` / ``binom_hi`` (the binomial band of independent units).
    """
    from scipy import stats

    def inside(values: np.ndarray, part: np.ndarray) -> np.ndarray:
        lo, hi = np.quantile(part, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return (values >= lo) & (values <= hi)

    hits = inside(truth, sample)
    stand_ins = inside(sample[1::2], sample[0::2]).reshape(len(sample[1::2]), -1).mean(axis=1)
    n = hits.size
    binom = stats.binom.ppf([0.005, 0.995], n, level) / n
    half = max(2.576 * float(stand_ins.std(ddof=1)), *(np.abs(binom - level)))
    return {
        "cover": float(hits.mean()),
        "n": n,
        "lo": max(0.0, level - half),
        "hi": min(1.0, level + half),
        "binom_lo": float(binom[0]),
        "binom_hi": float(binom[1]),
    }


def coverage_by_horizon(
    draws: np.ndarray,
    observed: np.ndarray,
    dates: pd.DatetimeIndex,
    *,
    horizons: tuple[int, ...] = (1, 6, 16),
    day_level: float = 0.8,
    month_level: float = 0.9,
) -> pd.DataFrame:
    """Share of station-days and station-months inside central intervals, by forecast month.

    Each share comes with the 99 % band it should fall in if the forecast is calibrated, the
    forecast's own (dependence of the units included), and the binomial band for independent
    units (see :func:`coverage_with_band`).

    Parameters
    ----------
    draws : numpy.ndarray
        Forecast draws of stops per station-day, (samples, days, stations); at least 20.
    observed : numpy.ndarray
        True stops per station-day, (days, stations).
    dates : pandas.DatetimeIndex
        The forecast days (the first is month 1's first day).
    horizons : tuple of int
        Forecast months to score (1 = the first 30 days; month m = days 30(m−1) to 30m).
    day_level, month_level : float
        Central interval masses for station-days and station-months (–).

    Returns
    -------
    pandas.DataFrame
        One row per horizon: ``day_cover`` and ``day_n`` (station-days), ``month_cover`` and
        ``month_n`` (station-months, one per station), each with its 99 % band (``*_lo``,
        ``*_hi``) and the binomial band (``*_binom_lo``, ``*_binom_hi``).
    """
    rows = []
    for h in horizons:
        window = slice(30 * (h - 1), 30 * h)
        d = draws[:, window]
        o = observed[window]
        if o.shape[0] < 30:
            continue
        row: dict[str, float] = {"horizon_month": h}
        for name, sample, truth, level in (
            ("day", d, o, day_level),
            ("month", d.sum(axis=1), o.sum(axis=0), month_level),
        ):
            row.update(
                {f"{name}_{k}": v for k, v in coverage_with_band(sample, truth, level).items()}
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("horizon_month")
