"""Calibration of a volume model by forecast horizon on simulated worlds with known truth.

:func:`effect_coverage` fits a volume model on seeded worlds of one effect
(:data:`bayesspr.simulate.volume_worlds.EFFECT_WORLDS`), forecasts each world's held-out 16
months and pools the worlds: the share of station-days inside the 80 % interval, of
station-months inside the 90 % interval and of zip-months inside the 80 % interval at forecast
months 1, 6 and 16, and of city-months inside the 90 % interval (the sum of a city's
stations: are they forecast with the correlation they have?), each with the 99 % band around
nominal it should fall in. ``make validate`` (``tests/volume/test_volume_intervals.py``) and
``benchmarks/volume_coverage.py`` both use it.

The units of one world share its growth and level errors (the days of a station, the stations
of a city), so the binomial band, computed as if they were independent, is too narrow for them.
The band is the forecast's own (:func:`~bayesspr.simulate.volume_worlds.coverage_with_band`):
how far the share of its own draws, standing in for the truth, strays from nominal; the
binomial band is reported beside it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayesspr.simulate.volume_worlds import (
    EFFECT_WORLDS,
    VolumeWorld,
    coverage_by_horizon,
    simulate_volume_world,
)


@dataclass
class EffectCoverage:
    """Pooled coverage of one model on one effect's worlds.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per forecast month (1, 6, 16): ``station_day`` / ``station_month`` /
        ``zip_month`` / ``city_month`` coverage with ``*_lo`` / ``*_hi`` (its 99 % band,
        dependence of the units included), ``*_binom_lo`` / ``*_binom_hi`` (the binomial band
        for independent units) and ``*_n``. A city-month is the sum of its stations' draws,
        so it checks that the stations of a city are forecast with the correlation they have.
    fits : list of dict
        Per world: ``seed``, ``wall_s`` (fit seconds) and the fit's diagnostics.
    """

    table: pd.DataFrame
    fits: list[dict[str, Any]] = field(default_factory=list)

    def inside(self) -> pd.DataFrame:
        """Whether each coverage lies inside its band (same rows, bool columns)."""
        out = {}
        for name in ("station_day", "station_month", "zip_month", "city_month"):
            t = self.table
            out[name] = (t[name] >= t[f"{name}_lo"]) & (t[name] <= t[f"{name}_hi"])
        return pd.DataFrame(out)


def forecast_against_truth(
    model: Any, world: VolumeWorld, level: str, n_samples: int, random_seed: int = 2
) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """Forecast stops per station-day or zip-day of a world's future, with its truth.

    Parameters
    ----------
    model : VolumeModel or ZipDayVolumeModel
        A fitted volume model.
    world : VolumeWorld
        The world it was fitted on.
    level : {"city", "station", "zip"}
        Unit of the draws: zip-days are summed by the zip's city or station (its latest).
    n_samples : int
        Posterior samples.
    random_seed : int
        Seed of the forecast.

    Returns
    -------
    draws, truth, days
        (samples, days, units) stops per day, (days, units) true stops, the days.
    """
    days = pd.DatetimeIndex(sorted(world.future["date"].unique()))
    draws = model.forecast(days, n_samples=n_samples, random_seed=random_seed)["stops"]
    if level in ("city", "station"):
        draws = draws.groupby(level).sum("zip")
    draws = draws.transpose("sample", "date", level)
    truth = (
        world.future.groupby(["date", level])["stops"]
        .sum()
        .unstack(level)
        .reindex(index=days, columns=draws[level].to_numpy())
    )
    return draws.to_numpy(), truth.to_numpy(), days


def effect_coverage(
    make_model: Callable[[VolumeWorld], Any],
    effect: str,
    seeds: Sequence[int],
    *,
    world_size: dict[str, int] | None = None,
    fit_kwargs: dict[str, Any] | None = None,
    n_samples: int = 1000,
) -> EffectCoverage:
    """Fit a model on each seed's world of one effect and pool the coverage by horizon.

    Parameters
    ----------
    make_model : callable
        ``world -> unfitted model`` (e.g. ``lambda w: VolumeModel(regressors=w.regressors)``).
    effect : str
        A key of :data:`~bayesspr.simulate.volume_worlds.EFFECT_WORLDS`.
    seeds : sequence of int
        World seeds (the fit's seed is 1 in every world).
    world_size : dict, optional
        ``n_cities``, ``stations_per_city``, ``zips_per_station`` (default 2 × 5 × 2).
    fit_kwargs : dict, optional
        Passed to ``fit`` (``draws``, ``tune``, ``chains``...).
    n_samples : int
        Posterior samples per forecast.

    Returns
    -------
    EffectCoverage
    """
    size = {"n_cities": 2, "stations_per_city": 5, "zips_per_station": 2, **(world_size or {})}
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
        "city": [],
        "station": [],
        "zip": [],
    }
    fits = []
    days = None
    for seed in seeds:
        world = simulate_volume_world(seed, **size, **EFFECT_WORLDS[effect])
        model = make_model(world)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(world.table, random_seed=1, **(fit_kwargs or {}))
        fits.append({"seed": seed, "wall_s": time.perf_counter() - start, **model.diagnostics})
        for level, parts in pooled.items():
            draws, truth, days = forecast_against_truth(model, world, level, n_samples)
            parts.append((draws, truth))

    def pool(level: str) -> tuple[np.ndarray, np.ndarray]:
        draws, truth = zip(*pooled[level], strict=True)
        return np.concatenate(draws, axis=-1), np.concatenate(truth, axis=-1)

    station = coverage_by_horizon(*pool("station"), days)
    zips = coverage_by_horizon(*pool("zip"), days, month_level=0.8)
    cities = coverage_by_horizon(*pool("city"), days)
    keys = ("_cover", "_lo", "_hi", "_binom_lo", "_binom_hi", "_n")
    table = pd.DataFrame(
        {
            **{f"station_day{k}": station[f"day{k}"] for k in keys},
            **{f"station_month{k}": station[f"month{k}"] for k in keys},
            **{f"zip_month{k}": zips[f"month{k}"] for k in keys},
            **{f"city_month{k}": cities[f"month{k}"] for k in keys},
        }
    )
    table.columns = [c.replace("_cover", "") for c in table.columns]
    return EffectCoverage(table=table, fits=fits)
