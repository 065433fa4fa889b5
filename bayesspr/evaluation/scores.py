"""Calibration of forecasts against what happened.

Routes are whole numbers, so a central "90 %" interval of a discrete predictive distribution
covers more than 90 % (a row whose mass sits on 4 and 5 routes is always covered by [4, 5]).
The randomised probability integral transform (Czado, Gneiting & Held 2009) is exactly
uniform under a calibrated discrete forecast; coverage is read off it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scoringrules as sr
import xarray as xr

from bayesspr.defaults import BACKTEST_COVERAGE_LEVELS, central_bounds
from bayesspr.errors import EvaluationError


def randomised_pit(draws: np.ndarray, observed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
        Randomised PIT values (see :func:`randomised_pit`).
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
    EvaluationError
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
        raise EvaluationError(f"observed station-day {truth.index[i]} is not in the forecast")
    values = routes.transpose("sample", "date", "station").to_numpy()[:, d, k]
    return pd.Series(randomised_pit(values, truth.to_numpy(), rng), index=truth.index)


#: Central interval masses whose coverage is reported (:mod:`bayesspr.defaults`).
COVERAGE_LEVELS = BACKTEST_COVERAGE_LEVELS

#: Quantile levels of the M5 uncertainty track's pinball loss.
M5_QUANTILES = (0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995)


def unit_scores(
    draws: np.ndarray,
    observed: np.ndarray,
    rng: np.random.Generator,
    *,
    fair: bool = True,
) -> pd.DataFrame:
    """Scores of each forecast unit (row) from its predictive draws.

    Parameters
    ----------
    draws : numpy.ndarray
        (sample, unit) predictive draws, in the unit of ``observed``.
    observed : numpy.ndarray
        (unit,) what happened.
    rng : numpy.random.Generator
        Source of the PIT randomisation.
    fair : bool
        Use the fair CRPS estimator of ``scoringrules.crps_ensemble`` (computed in its
        identical probability-weighted-moment form, ``"pwm"``); else the plain ensemble CRPS
        (``"qd"``, equal to the energy form).

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``observed``, ``mean`` (forecast mean), ``crps`` (CRPS, unit of
        the data), ``pinball`` (mean quantile score over :data:`M5_QUANTILES`, unit of the
        data, via ``scoringrules.quantile_score``), ``pit`` (randomised PIT, –).
    """
    draws = np.asarray(draws, dtype=float)
    observed = np.asarray(observed, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != observed.shape[0]:
        raise EvaluationError(
            f"draws must be (sample, unit) with {observed.shape[0]} units, got {draws.shape}"
        )
    # "pwm" is the fair estimator in O(M log M) memory (scoringrules' "fair" builds an M × M
    # array per unit); "qd" equals the plain energy form ("nrg") the same way.
    estimator = "pwm" if fair else "qd"
    crps = sr.crps_ensemble(observed, draws, m_axis=0, estimator=estimator, backend="numpy")
    alphas = np.asarray(M5_QUANTILES)
    quantiles = np.quantile(draws, alphas, axis=0)  # (alpha, unit)
    pinball = sr.quantile_score(observed[None, :], quantiles, alphas[:, None], backend="numpy")
    return pd.DataFrame(
        {
            "observed": observed,
            "mean": draws.mean(axis=0),
            "crps": np.asarray(crps),
            "pinball": np.asarray(pinball).mean(axis=0),
            "pit": randomised_pit(draws, observed, rng),
        }
    )


def summarise_scores(units: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Aggregate unit scores (from :func:`unit_scores`) per group.

    Parameters
    ----------
    units : pandas.DataFrame
        Unit scores with the grouping columns ``by``.
    by : sequence of str
        Grouping columns (e.g. ``["variant", "level", "horizon"]``).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``n`` (units), ``crps`` and ``pinball`` (means, unit of the data),
        ``cov50`` … ``cov95`` (share of units inside the central interval, read off the
        randomised PIT), ``mape`` (%, mean absolute error of the forecast mean over the
        observed value), ``bias`` (%, Σ(mean − observed) / Σ observed).
    """

    def one(g: pd.DataFrame) -> pd.Series:
        out = {"n": len(g), "crps": g["crps"].mean(), "pinball": g["pinball"].mean()}
        for level in COVERAGE_LEVELS:
            out[f"cov{round(100 * level)}"] = pit_coverage(g["pit"].to_numpy(), level)
        err = g["mean"] - g["observed"]
        out["mape"] = 100.0 * float(np.mean(np.abs(err) / g["observed"]))
        out["bias"] = 100.0 * float(err.sum() / g["observed"].sum())
        return pd.Series(out)

    rows = [
        {**dict(zip(by, key, strict=True)), **one(g)}
        for key, g in units.groupby(list(by), sort=False)
    ]
    return pd.DataFrame(rows).astype({"n": int})


def score_draws(
    draws: np.ndarray,
    observed: np.ndarray,
    groups: pd.DataFrame | None = None,
    *,
    rng: np.random.Generator | None = None,
    fair: bool = True,
) -> pd.DataFrame:
    """Score predictive draws against observations, per group.

    Parameters
    ----------
    draws : numpy.ndarray
        (sample, row) predictive draws (e.g. routes).
    observed : numpy.ndarray
        (row,) observed values, same unit.
    groups : pandas.DataFrame, optional
        One row per observation with the grouping columns (e.g. ``horizon``, ``station``);
        None scores all rows as one group.
    rng : numpy.random.Generator, optional
        PIT randomisation (default seeded with 0).
    fair : bool
        Fair CRPS estimator (see :func:`unit_scores`).

    Returns
    -------
    pandas.DataFrame
        See :func:`summarise_scores`.
    """
    units = unit_scores(draws, observed, rng or np.random.default_rng(0), fair=fair)
    if groups is None:
        units["all"] = "all"
        by = ["all"]
    else:
        units = pd.concat([groups.reset_index(drop=True), units], axis=1)
        by = list(groups.columns)
    return summarise_scores(units, by)
