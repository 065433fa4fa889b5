"""Calibration of forecasts against what happened.

Routes are whole numbers, so a central "90 %" interval of a discrete predictive distribution
covers more than 90 % (a row whose mass sits on 4 and 5 routes is always covered by [4, 5]).
The randomised probability integral transform (Czado, Gneiting & Held 2009) is exactly
uniform under a calibrated discrete forecast; coverage is read off it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.forecasting.summaries import central_bounds


def randomized_pit(draws: np.ndarray, observed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomised PIT of observations under predictive draws (dimensionless, in [0, 1]).

    Parameters
    ----------
    draws : numpy.ndarray
        Predictive draws, shape (sample, row).
    observed : numpy.ndarray
        Observed values, shape (row,), in the draws' unit.
    rng : numpy.random.Generator
        Source of the uniform randomisation.

    Returns
    -------
    numpy.ndarray
        u = F(y⁻) + V·(F(y) − F(y⁻)) per row with V ~ Uniform(0, 1), F the empirical
        predictive CDF; uniform on [0, 1] when the forecast is calibrated.
    """
    draws = np.asarray(draws)
    observed = np.asarray(observed)[None, :]
    below = (draws < observed).mean(axis=0)
    at_or_below = (draws <= observed).mean(axis=0)
    return below + rng.uniform(size=below.shape) * (at_or_below - below)


def pit_coverage(pit: np.ndarray, level: float) -> float:
    """Share of rows inside the central ``level`` interval, read off randomised PIT values.

    Parameters
    ----------
    pit : numpy.ndarray
        Randomised PIT values (see :func:`randomized_pit`).
    level : float
        Central interval mass, in (0, 1).

    Returns
    -------
    float
        Empirical coverage (share of rows, 0–1); ``level`` when calibrated.
    """
    lo, hi = central_bounds(level)
    pit = np.asarray(pit)
    return float(np.mean((pit >= lo) & (pit <= hi)))


#: Features the pure machine-learning baseline sees (the same columns the physics uses).
BASELINE_FEATURES = ("stops", "packages", "van_capacity", "area_km2", "stem_km", "shift_hours")


def baseline_design(df: pd.DataFrame) -> pd.DataFrame:
    """Features of the machine-learning baselines.

    :data:`BASELINE_FEATURES` plus packages per stop and stop density (stops per km²).
    """
    x = df[list(BASELINE_FEATURES)].astype(float).copy()
    x["packages_per_stop"] = df["packages"] / df["stops"]
    x["density"] = df["stops"] / df["area_km2"]
    return x


def gradient_boosting_spr(
    train: pd.DataFrame, test: pd.DataFrame, random_state: int = 0
) -> pd.Series:
    """Pure machine-learning baseline: gradient boosting of SPR on the physics' columns.

    Parameters
    ----------
    train : pandas.DataFrame
        Validated canonical table with ``routes``.
    test : pandas.DataFrame
        Rows to predict (``routes`` not needed).
    random_state : int
        Seed of the booster.

    Returns
    -------
    pandas.Series
        Predicted SPR (packages per route), indexed like ``test``.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(random_state=random_state, max_iter=300)
    model.fit(baseline_design(train), train["packages"] / train["routes"])
    return pd.Series(model.predict(baseline_design(test)), index=test.index, name="gbm_spr")


def extrapolation_split(table: pd.DataFrame, events: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a simulated world for the extrapolation check.

    Training: days before the large van arrives, small and medium vans only. Test: days from
    its arrival, large van only — a van never seen, later and busier days.

    Parameters
    ----------
    table : pandas.DataFrame
        Validated table of a world from :func:`bayesspr.simulate_world` with a large van.
    events : dict
        The world's ``events`` (``large_van``, ``large_van_date``).

    Returns
    -------
    tuple of pandas.DataFrame
        ``(train, test)``.
    """
    start, large = events["large_van_date"], events["large_van"]
    train = table[(table["date"] < start) & (table["van_capacity"] < large)]
    test = table[(table["date"] >= start) & (table["van_capacity"] == large)]
    return train, test


def station_day_pit(
    draws: xr.Dataset, observed: pd.DataFrame, rng: np.random.Generator
) -> pd.Series:
    """Randomised PIT of observed routes per station-day under a composed forecast.

    Parameters
    ----------
    draws : xarray.Dataset
        Forecast draws with ``routes`` (``sample``, ``date``, ``station``), e.g.
        ``bayesspr.forecasting.compose.forecast(...).draws``.
    observed : pandas.DataFrame
        Canonical rows with observed ``routes`` on forecast days (summed per station-day).
    rng : numpy.random.Generator
        Source of the PIT randomisation.

    Returns
    -------
    pandas.Series
        PIT per observed station-day (index ``date``, ``station``; dimensionless); read
        coverage with :func:`pit_coverage`.

    Raises
    ------
    ValueError
        If an observed station-day is not in the forecast.
    """
    truth = observed.groupby(["date", "station"])["routes"].sum()
    routes = draws["routes"]
    stations = pd.Index(routes["station"].to_numpy())
    dates = pd.DatetimeIndex(routes["date"].to_numpy())
    d = dates.get_indexer(truth.index.get_level_values("date"))
    k = stations.get_indexer(truth.index.get_level_values("station"))
    if (d < 0).any() or (k < 0).any():
        i = int(np.flatnonzero((d < 0) | (k < 0))[0])
        raise ValueError(f"observed station-day {truth.index[i]} is not in the forecast")
    values = routes.transpose("sample", "date", "station").to_numpy()[:, d, k]
    return pd.Series(randomized_pit(values, truth.to_numpy(), rng), index=truth.index)
