"""Rolling-origin backtests: re-fit monthly, forecast the next months, score against baselines.

One job: say how good the SPR forecasts are, out of sample, and against what. For each
monthly origin every variant is trained on the history before it and forecasts the routes of
the following months' zip-days *given their realised packages and stops* (the SPR part of
the forecast; the volume forecast is not scored here). Draws are summed per day to stations
and cities, and scored per variant, horizon month, level and hard case with ``scoringrules``
(CRPS, fair estimator; the M5 nine-quantile pinball loss), coverage read off the randomised
PIT (:mod:`bayesspr.evaluation.scores`), and the MAPE and bias of the forecast mean.

Variants, all through the same code path (:func:`forecast_draws`):

* ``full``: the default spec, fitted;
* ``no_pooling``: every group spread fixed wide (1.0 on the log scale), fitted;
* ``complete_pooling``: every group spread fixed tiny (0.001), fitted;
* ``physics``: no learning; the route physics with the spec's prior medians ("textbook"
  constants) and the same log-normal day noise on the route need (σ at its prior median);
* ``gbm``: scikit-learn gradient boosting with quantile loss on the physics' columns at
  :data:`GBM_QUANTILES` levels, read as an ensemble.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scoringrules as sr
from matplotlib.figure import Figure
from scipy import sparse, stats

from bayesspr.data import table as data_mod
from bayesspr.defaults import BACKTEST_COVERAGE_LEVELS
from bayesspr.evaluation.scores import baseline_design, pit_coverage, randomized_pit
from bayesspr.io.files import atomic_folder, atomic_write, check_output_path, write_csv
from bayesspr.simulate.worlds import World, draw_routes, simulate_world
from bayesspr.spr.model import LEVELS, ParameterDraws, SPRModel, row_inputs
from bayesspr.spr.spec import load_spec, prior_kwargs

#: Model variants compared in a backtest, in table order.
VARIANTS = ("full", "no_pooling", "complete_pooling", "physics", "gbm")

#: Central interval masses whose coverage is reported (:mod:`bayesspr.defaults`).
COVERAGE_LEVELS = BACKTEST_COVERAGE_LEVELS

#: Quantile levels of the M5 uncertainty track's pinball loss.
M5_QUANTILES = (0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995)

#: Quantile levels the gradient-boosting baseline is trained at: an ensemble of 50 members.
GBM_QUANTILES = tuple((k + 0.5) / 50 for k in range(50))

#: Hard cases, each scored on its own (zip level); see :func:`hard_case_flags`.
HARD_CASES = ("new_van", "volume_beyond", "new_zip", "moved_zip", "new_station", "demand_shock")

#: Group spreads (log scale) that the pooling variants fix.
POOLING_SPREADS = ("service_min_sd", "speed_kmh_sd", "overhead_hours_sd", "zip_effect_sd")

#: What ``bayesspr backtest`` writes into its output folder (replaced whole on each run).
BACKTEST_FILES = (
    "backtest_scores.csv", "backtest_by_horizon.csv", "backtest_fits.csv", "backtest_pit.png",
    "backtest_coverage.png",
)  # fmt: skip

#: Sampler settings for backtest fits: shorter than a production fit, diagnostics still kept.
BACKTEST_SAMPLER = {"draws": 300, "tune": 400, "chains": 4}


# ---------------------------------------------------------------------- variants
def variant_spec(variant: str, base: str | Path | dict[str, Any] = "default") -> dict[str, Any]:
    """The model spec of a Bayesian variant, derived from a base spec.

    Parameters
    ----------
    variant : {"full", "no_pooling", "complete_pooling", "physics"}
        ``full``: the base spec unchanged. ``complete_pooling``: every group spread
        (:data:`POOLING_SPREADS`) fixed at 0.001 on the log scale, so all cities, stations
        and zips share one value; every effect non-centred. ``no_pooling``: the spreads fixed
        at 1.0 (a factor e either way), so each group is estimated on its own data and a
        group never seen is nearly unknown. ``physics``: the base spec (its priors give the
        textbook constants).
    base : str, pathlib.Path or dict
        The spec to derive from (see :func:`bayesspr.spr.spec.load_spec`).

    Returns
    -------
    dict
        A checked spec.

    Raises
    ------
    ValueError
        If ``variant`` is not one of the Bayesian variants.
    """
    spec = copy.deepcopy(load_spec(base))
    if variant in ("full", "physics"):
        return spec
    if variant not in ("no_pooling", "complete_pooling"):
        raise ValueError(
            f"variant {variant!r} has no spec; expected 'full', 'no_pooling', "
            "'complete_pooling' or 'physics'"
        )
    spread = 1e-3 if variant == "complete_pooling" else 1.0
    for name in POOLING_SPREADS:
        spec["priors"][name] = spread
    spec["model"]["name"] = variant
    if variant == "complete_pooling":  # a centred effect with a tiny fixed spread is a ridge
        hierarchy = spec.setdefault("hierarchy", {})
        for effect in ("service_min_city", "speed_kmh_city", "overhead_hours_station",
                       "zip_effect"):  # fmt: skip
            hierarchy[effect] = "non-centred"
    return load_spec(spec)


def prior_median(prior: dict[str, Any] | float) -> float:
    """Median of a spec prior in its natural unit (a fixed number is returned as is).

    Parameters
    ----------
    prior : dict or float
        An entry of a spec's ``[priors]``.

    Returns
    -------
    float
        The prior median.
    """
    if isinstance(prior, int | float):
        return float(prior)
    dist, kw = prior_kwargs(prior)
    frozen = {
        "LogNormal": lambda: stats.lognorm(kw["sigma"], scale=math.exp(kw["mu"])),
        "Normal": lambda: stats.norm(kw["mu"], kw["sigma"]),
        "HalfNormal": lambda: stats.halfnorm(scale=kw["sigma"]),
        "Beta": lambda: stats.beta(kw["alpha"], kw["beta"]),
        "Gamma": lambda: stats.gamma(kw["alpha"], scale=1.0 / kw["beta"]),
        "Exponential": lambda: stats.expon(scale=1.0 / kw["lam"]),
    }
    if dist not in frozen:
        raise ValueError(f"no median for prior {prior!r}; use a fixed number in the spec")
    return float(frozen[dist]().median())


def physics_parameters(spec: dict[str, Any], n_samples: int) -> ParameterDraws:
    """Textbook constants: every physics parameter at its prior median, for every group.

    Parameters
    ----------
    spec : dict
        A spec (its ``[priors]``).
    n_samples : int
        Number of predictive samples (rows of each array).

    Returns
    -------
    bayesspr.spr.model.ParameterDraws
        The layout of :meth:`bayesspr.SPRModel.parameter_draws` with one column per effect
        (every group shares it): scalars as (S, 1); ``service_min_city`` (min),
        ``speed_kmh_city`` (km/h), ``overhead_hours_station`` (h) at the population medians,
        ``zip_effect`` 0 (log).
    """
    priors = spec["priors"]

    def full(value: float) -> np.ndarray:
        return np.full((n_samples, 1), value)

    return ParameterDraws(
        stem_speed_kmh=full(prior_median(priors["stem_speed_kmh"])),
        tour_constant=full(prior_median(priors["tour_constant"])),
        fill=full(prior_median(priors["fill"])),
        sigma_route=full(prior_median(priors["sigma_route"])),
        service_min_city=full(prior_median(priors["service_min_pop"])),
        speed_kmh_city=full(prior_median(priors["speed_kmh_pop"])),
        overhead_hours_station=full(prior_median(priors["overhead_hours_pop"])),
        zip_effect=full(0.0),
    )


def gbm_route_draws(
    train: pd.DataFrame, test: pd.DataFrame, *, random_state: int = 0
) -> np.ndarray:
    """Gradient-boosting baseline: an ensemble of quantile forecasts of whole routes.

    One :class:`sklearn.ensemble.HistGradientBoostingRegressor` with quantile loss per level
    of :data:`GBM_QUANTILES`, trained on SPR (packages per route) as
    :func:`bayesspr.evaluation.scores.gradient_boosting_spr` is; each row's quantiles are sorted
    (no crossing) and turned into routes, ``max(1, round(packages / SPR))``.

    Parameters
    ----------
    train : pandas.DataFrame
        Validated table with ``routes``.
    test : pandas.DataFrame
        Rows to forecast.
    random_state : int
        Seed of the boosters.

    Returns
    -------
    numpy.ndarray
        (member, row) whole routes; members are quantile levels, not random draws.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    x_train, x_test = baseline_design(train), baseline_design(test)
    spr = train["packages"] / train["routes"]
    members = np.empty((len(GBM_QUANTILES), len(test)))
    with threadpool_limits(1):  # 50 small fits: OpenMP threads only contend on a busy machine
        for i, q in enumerate(GBM_QUANTILES):
            model = HistGradientBoostingRegressor(
                loss="quantile", quantile=q, max_iter=200, early_stopping=False,
                random_state=random_state,
            )  # fmt: skip
            members[i] = model.fit(x_train, spr).predict(x_test)
    members = np.sort(np.maximum(members, 1e-6), axis=0)
    routes = np.rint(test["packages"].to_numpy(float)[None, :] / members)
    return np.maximum(routes, 1.0)


def forecast_draws(
    variant: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    seed: int = 0,
    sampler: dict[str, int] | None = None,
    max_samples: int = 400,
    warm_start: SPRModel | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Predictive draws of whole routes for test rows from one variant trained on ``train``.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS`.
    train : pandas.DataFrame
        Validated history with ``routes`` (ignored by ``physics``).
    test : pandas.DataFrame
        Rows to forecast, with their realised packages and stops (``routes`` is not read).
    seed : int
        Seed of the sampler, the predictive noise and the boosters.
    sampler : dict, optional
        ``draws``, ``tune``, ``chains`` for the fitted variants (default
        :data:`BACKTEST_SAMPLER`).
    max_samples : int
        Posterior samples used for prediction (and samples of the physics variant).
    warm_start : SPRModel, optional
        The same variant's fit at the previous origin: chains start at its posterior means
        (see :meth:`bayesspr.SPRModel.fit`). Ignored by ``gbm`` and ``physics``.

    Returns
    -------
    draws : numpy.ndarray
        (sample, row) routes per test row (routes).
    info : dict
        ``variant``, ``seconds``, ``warm_start`` (bool) and, for fitted variants, the fit's
        ``diagnostics`` and the fitted ``model``.
    """
    t0 = time.perf_counter()
    plan = test.drop(columns=[c for c in ("routes", "route_km") if c in test])
    info: dict[str, Any] = {"variant": variant, "warm_start": False}
    if variant == "gbm":
        draws = gbm_route_draws(train, test, random_state=seed)
    elif variant == "physics":
        model = SPRModel(variant_spec("physics"))
        rng = np.random.default_rng(seed)
        params = physics_parameters(model.spec, max_samples)
        zeros = np.zeros(len(plan), dtype=int)
        draws, _ = model.route_draws(params, row_inputs(plan), dict.fromkeys(LEVELS, zeros), rng)
    elif variant in VARIANTS:
        settings = {**BACKTEST_SAMPLER, **(sampler or {})}
        model = SPRModel(variant_spec(variant))
        with warnings.catch_warnings():  # not hidden: the diagnostics travel in ``info``
            warnings.simplefilter("ignore")
            model.fit(train, random_seed=seed, warm_start=warm_start, **settings)
        info["diagnostics"] = model.diagnostics
        info["model"] = model
        info["warm_start"] = warm_start is not None
        draws = model.predict_draws(plan, random_seed=seed, max_samples=max_samples)
        draws = draws["routes"].to_numpy()
    else:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    info["seconds"] = time.perf_counter() - t0
    return np.asarray(draws, dtype=float), info


# ---------------------------------------------------------------------- scoring
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
        raise ValueError(
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
            "pit": randomized_pit(draws, observed, rng),
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

    rows = [{**dict(zip(by, key, strict=True)), **one(g)} for key, g in units.groupby(
        list(by), sort=False)]  # fmt: skip
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


def level_draws(
    draws: np.ndarray, rows: pd.DataFrame, level: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """Sum row draws per day and ``level`` (zip, station or city), sample by sample.

    Parameters
    ----------
    draws : numpy.ndarray
        (sample, row) draws of an additive quantity (routes).
    rows : pandas.DataFrame
        The rows, with ``date`` and ``level`` columns, in the draws' order.
    level : {"zip", "station", "city"}
        Level to sum to.

    Returns
    -------
    summed : numpy.ndarray
        (sample, unit) sums.
    units : pandas.DataFrame
        One row per unit, in order of first appearance: ``date``, the ``level`` label, and
        ``first_row`` (position of its first row in ``rows``).
    """
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(rows[["date", level]]))
    indicator = sparse.csr_matrix(
        (np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), len(uniques))
    )
    summed = np.asarray((indicator.T @ np.asarray(draws, dtype=float).T).T)
    units = pd.DataFrame(uniques.to_list(), columns=["date", level])
    units["first_row"] = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    return summed, units


def hard_case_flags(
    train: pd.DataFrame, test: pd.DataFrame, shock_start: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Which test rows are hard cases for a model trained on ``train``.

    Parameters
    ----------
    train, test : pandas.DataFrame
        Validated tables.
    shock_start : pandas.Timestamp, optional
        First day of a demand shock, if the world has one.

    Returns
    -------
    pandas.DataFrame
        Boolean columns :data:`HARD_CASES`, indexed like ``test``: ``new_van`` (a van
        capacity not in training), ``volume_beyond`` (packages above the most that zip
        delivered in training), ``new_zip`` (zip not in training), ``moved_zip`` (a known zip
        at a known station that never served it in training), ``new_station`` (station not
        in training), ``demand_shock`` (on or after ``shock_start``).
    """
    max_packages = train.groupby("zip")["packages"].max()
    pairs = set(zip(train["zip"], train["station"], strict=True))
    test_pairs = pd.Series(list(zip(test["zip"], test["station"], strict=True)), index=test.index)
    known_zip = test["zip"].isin(set(train["zip"]))
    known_station = test["station"].isin(set(train["station"]))
    flags = pd.DataFrame(index=test.index)
    flags["new_van"] = ~test["van_capacity"].isin(set(train["van_capacity"]))
    flags["volume_beyond"] = known_zip & (
        test["packages"] > test["zip"].map(max_packages).fillna(np.inf)
    )
    flags["new_zip"] = ~known_zip
    flags["moved_zip"] = known_zip & known_station & ~test_pairs.map(lambda p: p in pairs)
    flags["new_station"] = ~known_station
    flags["demand_shock"] = (
        test["date"] >= shock_start if shock_start is not None else np.zeros(len(test), bool)
    )
    return flags


# ---------------------------------------------------------------------- worlds
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
        seed, n_days=151, start="2025-01-01",
        horizon_days=max(0, (end - history_end).days),
    )  # fmt: skip
    shock = pd.Timestamp("2025-06-15")
    table = data_mod.validate(with_demand_shock(world, shock, shock_factor, seed=seed))
    return BacktestWorld(
        table=table, origins=origins, shock_start=shock,
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
    )  # fmt: skip


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
    starts = pd.date_range(first + pd.DateOffset(months=min_history_months),
                           table["date"].max(), freq="MS")  # fmt: skip
    if len(starts) == 0:
        raise ValueError(
            f"the table spans {table['date'].min():%Y-%m-%d} to {table['date'].max():%Y-%m-%d}: "
            f"expected more than {min_history_months} months for a backtest"
        )
    return list(starts[-n_origins:])


# ---------------------------------------------------------------------- the backtest
@dataclass(frozen=True)
class Backtest:
    """Results of :func:`rolling_backtest`.

    Attributes
    ----------
    units : pandas.DataFrame
        One row per variant × origin × scored unit: ``variant``, ``origin``, ``horizon``
        (month after the origin, 1 = the origin's month), ``level`` (zip, station, city),
        ``case`` ("all" or a hard case; hard cases are scored at the zip level), ``date``,
        ``label``, and the unit scores of :func:`unit_scores` (routes per day).
    fits : pandas.DataFrame
        One row per variant × origin: training rows, seconds, and for fitted variants the
        convergence diagnostics (``ok``, ``rhat_max``, ``ess_bulk_min``, ``ess_tail_min``,
        ``divergences``, ``problems``).
    """

    units: pd.DataFrame
    fits: pd.DataFrame

    def scores(self, by: Sequence[str] = ("case", "level", "variant")) -> pd.DataFrame:
        """Scores aggregated over the other columns (see :func:`summarise_scores`).

        Parameters
        ----------
        by : sequence of str
            Grouping columns of :attr:`units`.

        Returns
        -------
        pandas.DataFrame
            One row per group.
        """
        return summarise_scores(self.units, list(by))


def rolling_backtest(
    world_table: pd.DataFrame,
    origins: Iterable[str | pd.Timestamp],
    horizon_months: int = 3,
    variants: Sequence[str] = VARIANTS,
    *,
    shock_start: str | pd.Timestamp | None = None,
    sampler: dict[str, int] | None = None,
    max_samples: int = 400,
    seed: int = 0,
    log: Callable[[str], None] | None = print,
    warm_start: bool = False,
) -> Backtest:
    """Rolling-origin backtest with a monthly re-fit.

    For each origin, each variant is trained on the rows dated before it and forecasts the
    routes of the rows of the next ``horizon_months`` calendar months, given their realised
    packages and stops. Route draws are summed per day to zips, stations and cities and
    scored; hard cases (:func:`hard_case_flags`) are scored on their own at the zip level.

    Parameters
    ----------
    world_table : pandas.DataFrame
        Observations over the whole span, with ``routes`` (validated here).
    origins : iterable of str or pandas.Timestamp
        Forecast origins (first days of months).
    horizon_months : int
        Months forecast from each origin (1 … 16 or more).
    variants : sequence of str
        Any of :data:`VARIANTS`.
    shock_start : str or pandas.Timestamp, optional
        First day of a demand shock, flagged as the ``demand_shock`` hard case.
    sampler : dict, optional
        ``draws``, ``tune``, ``chains`` of each fit (default :data:`BACKTEST_SAMPLER`).
    max_samples : int
        Predictive samples per forecast.
    seed : int
        Seed of fits, predictive noise and the PIT randomisation.
    log : callable, optional
        Receives one line per fit with its convergence diagnostics (None: silent).
    warm_start : bool
        Start each fitted variant's chains at its posterior means from the previous origin;
        the first origin starts cold. Off by default: on the demo world it did not help
        (``benchmarks/warm_start.py``: lower ESS, higher R-hat at about the same cost).

    Returns
    -------
    Backtest
        Unit scores and fit diagnostics.
    """
    table = data_mod.validate(world_table)
    shock = pd.Timestamp(shock_start) if shock_start is not None else None
    rng = np.random.default_rng([seed, 3])
    units, fits = [], []
    previous: dict[str, SPRModel] = {}  # each fitted variant's fit at the last origin
    for origin in (pd.Timestamp(o) for o in origins):
        end = origin + pd.DateOffset(months=horizon_months)
        train = table[table["date"] < origin]
        test = table[(table["date"] >= origin) & (table["date"] < end)]
        if train.empty or test.empty:
            raise ValueError(
                f"origin {origin:%Y-%m-%d}: {len(train)} training and {len(test)} test rows; "
                "expected both to be non-empty"
            )
        test = test.reset_index(drop=True)
        horizon = ((test["date"].dt.year - origin.year) * 12
                   + test["date"].dt.month - origin.month + 1).to_numpy()  # fmt: skip
        flags = hard_case_flags(train, test, shock)
        for variant in variants:
            draws, info = forecast_draws(
                variant, train, test, seed=seed, sampler=sampler, max_samples=max_samples,
                warm_start=previous.get(variant) if warm_start else None,
            )  # fmt: skip
            if "model" in info:
                previous[variant] = info.pop("model")
            fits.append(_fit_row(variant, origin, len(train), info))
            if log is not None:
                log(_fit_line(fits[-1]))
            if variant == "gbm":  # quantile members, not joint draws: sum as independent
                draws = rng.permuted(draws, axis=0)
            for level in LEVELS:
                summed, keys = level_draws(draws, test, level)
                observed, _ = level_draws(test["routes"].to_numpy(float)[None, :], test, level)
                meta = pd.DataFrame({
                    "variant": variant, "origin": origin,
                    "horizon": horizon[keys["first_row"].to_numpy()], "level": level,
                    "date": keys["date"], "label": keys[level].astype(str),
                })  # fmt: skip
                block = pd.concat([meta, unit_scores(summed, observed[0], rng)], axis=1)
                units.append(block.assign(case="all"))
                if level == "zip":  # a zip-day is a hard case if any of its rows is
                    codes = pd.factorize(pd.MultiIndex.from_frame(test[["date", "zip"]]))[0]
                    unit_flags = flags.reset_index(drop=True).groupby(codes).any()
                    for case in HARD_CASES:
                        hit = unit_flags[case].to_numpy()
                        if hit.any():
                            units.append(block[hit].assign(case=case))
    return Backtest(units=pd.concat(units, ignore_index=True), fits=pd.DataFrame(fits))


def _fit_row(variant: str, origin: pd.Timestamp, n_train: int, info: dict) -> dict[str, Any]:
    row = {"variant": variant, "origin": origin, "train_rows": n_train,
           "seconds": info["seconds"], "warm_start": info.get("warm_start", False)}  # fmt: skip
    diag = info.get("diagnostics")
    if diag:
        row.update({k: diag.get(k) for k in ("ok", "rhat_max", "ess_bulk_min", "ess_tail_min",
                                             "divergences")})  # fmt: skip
        row["problems"] = "; ".join(diag.get("problems", []))
    return row


def _fit_line(row: dict[str, Any]) -> str:
    head = (f"{row['origin']:%Y-%m-%d} {row['variant']:<16} {row['train_rows']:>5} training "
            f"rows {row['seconds']:6.1f} s{' warm' if row.get('warm_start') else ''}")  # fmt: skip
    if "ok" not in row:
        return head + "  (no fit)"
    status = "converged" if row["ok"] else "NOT CONVERGED: " + row["problems"]
    return (f"{head}  R-hat {row['rhat_max']:.3f}  ESS bulk {row['ess_bulk_min']:.0f} tail "
            f"{row['ess_tail_min']:.0f}  divergences {row['divergences']}  {status}")  # fmt: skip


# ---------------------------------------------------------------------- report
def scores_table(backtest: Backtest) -> pd.DataFrame:
    """The printed table: every case and level, variants side by side.

    Parameters
    ----------
    backtest : Backtest
        Result of :func:`rolling_backtest`.

    Returns
    -------
    pandas.DataFrame
        One row per case × level × variant (all origins and horizons pooled), rounded; a
        column ``best`` marks the lowest CRPS of each case × level.
    """
    table = backtest.scores(("case", "level", "variant"))
    order = {"all": 0, **{c: i + 1 for i, c in enumerate(HARD_CASES)}}
    table["_c"] = table["case"].map(order)
    table["_l"] = table["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    table["_v"] = table["variant"].map({v: i for i, v in enumerate(VARIANTS)})
    table = table.sort_values(["_c", "_l", "_v"]).drop(columns=["_c", "_l", "_v"])
    best = table.groupby(["case", "level"])["crps"].transform("min")
    table["best"] = np.where(table["crps"] == best, "*", "")
    return table.reset_index(drop=True).round(
        {"crps": 3, "pinball": 3, "cov50": 3, "cov80": 3, "cov90": 3, "cov95": 3, "mape": 1,
         "bias": 1})  # fmt: skip


def plot_pit(backtest: Backtest, path: str | Path, *, level: str = "zip", bins: int = 10) -> Path:
    """PIT histogram per variant (all origins and horizons) as a PNG, written atomically.

    Parameters
    ----------
    backtest : Backtest
        Result of :func:`rolling_backtest`.
    path : str or pathlib.Path
        PNG to write.
    level : str
        Level whose units are shown.
    bins : int
        Histogram bins.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    units = backtest.units[(backtest.units["case"] == "all") & (backtest.units["level"] == level)]
    variants = [v for v in VARIANTS if v in set(units["variant"])]
    fig = Figure(figsize=(2.6 * len(variants), 2.6))
    axes = fig.subplots(1, len(variants), sharey=True, squeeze=False)[0]
    for ax, variant in zip(axes, variants, strict=True):
        pit = units.loc[units["variant"] == variant, "pit"].to_numpy()
        ax.hist(pit, bins=bins, range=(0, 1), density=True, color="0.45", edgecolor="white")
        ax.axhline(1.0, color="tab:red", lw=1)
        ax.set_title(variant, fontsize=9)
        ax.set_xlabel("randomised PIT")
    axes[0].set_ylabel(f"density ({level}-days)")
    fig.tight_layout()
    return atomic_write(lambda tmp: fig.savefig(tmp, format="png", dpi=110), path)


def plot_coverage(backtest: Backtest, path: str | Path) -> Path:
    """Coverage against nominal per variant and level as a PNG, written atomically.

    Parameters
    ----------
    backtest : Backtest
        Result of :func:`rolling_backtest`.
    path : str or pathlib.Path
        PNG to write.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    units = backtest.units[backtest.units["case"] == "all"]
    nominal = np.linspace(0.05, 0.95, 19)
    fig = Figure(figsize=(3.0 * len(LEVELS), 3.0))
    axes = fig.subplots(1, len(LEVELS), sharey=True)
    for ax, level in zip(axes, LEVELS, strict=True):
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
        here = units[units["level"] == level]
        for variant in [v for v in VARIANTS if v in set(here["variant"])]:
            pit = here.loc[here["variant"] == variant, "pit"].to_numpy()
            ax.plot(nominal, [pit_coverage(pit, m) for m in nominal], label=variant, lw=1.3)
        ax.set_title(f"{level}-days", fontsize=9)
        ax.set_xlabel("nominal central interval")
    axes[0].set_ylabel("observed coverage (randomised PIT)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    return atomic_write(lambda tmp: fig.savefig(tmp, format="png", dpi=110), path)


def backtest_cli(
    world: str,
    out: str | Path,
    seed: int = 7,
    *,
    n_origins: int = 3,
    horizon_months: int = 3,
    variants: Sequence[str] = VARIANTS,
    draws: int = BACKTEST_SAMPLER["draws"],
    tune: int = BACKTEST_SAMPLER["tune"],
    chains: int = BACKTEST_SAMPLER["chains"],
    warm_start: bool = False,
) -> int:
    """``bayesspr backtest``: run the rolling backtest, print the table, write CSV and PNGs.

    Parameters
    ----------
    world : str
        ``"demo"`` (:func:`demo_backtest_world`) or the path of an observation table (CSV or
        Parquet, see :func:`bayesspr.data.table.read_table`), backtested at its last monthly
        origins without a demand shock.
    out : str or pathlib.Path
        Folder for ``backtest_scores.csv`` (by case, level, variant), ``backtest_by_horizon.csv``
        (also by horizon), ``backtest_fits.csv``, ``backtest_pit.png``,
        ``backtest_coverage.png``.
    seed : int
        Seed of the world and of every fit.
    n_origins, horizon_months : int
        Monthly origins and months forecast from each.
    variants : sequence of str
        Variants to compare (:data:`VARIANTS`).
    draws, tune, chains : int
        Sampler settings of each fit.
    warm_start : bool
        Warm-start each re-fit from the previous origin's (see :func:`rolling_backtest`).

    Returns
    -------
    int
        Exit status: 0.
    """
    inputs = None if world == "demo" else {"--world": world}
    out = check_output_path(out, "folder", inputs, folder_files=BACKTEST_FILES)  # before work
    if world == "demo":
        bw = demo_backtest_world(seed, n_origins=n_origins, horizon_months=horizon_months)
    else:
        table = data_mod.read_table(world)
        bw = BacktestWorld(table, monthly_origins(table, n_origins), None, f"table {world}")
    print(f"backtest on {bw.description}")
    print(f"origins {[f'{o:%Y-%m-%d}' for o in bw.origins]}, {horizon_months} months ahead; "
          f"routes per day given realised volume; sampler {draws} draws, {tune} tune, "
          f"{chains} chains")  # fmt: skip
    t0 = time.perf_counter()
    result = rolling_backtest(
        bw.table, bw.origins, horizon_months, variants, shock_start=bw.shock_start,
        sampler={"draws": draws, "tune": tune, "chains": chains}, seed=seed,
        warm_start=warm_start,
    )  # fmt: skip
    table = scores_table(result)
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(table.to_string(index=False))
    by_horizon = result.scores(("case", "level", "horizon", "variant"))
    with atomic_folder(out) as tmp:  # the whole folder, or the earlier one untouched
        for name, frame in (("backtest_scores.csv", table),
                            ("backtest_by_horizon.csv", by_horizon),
                            ("backtest_fits.csv", result.fits)):  # fmt: skip
            write_csv(frame, tmp / name)
        plot_pit(result, tmp / "backtest_pit.png")
        plot_coverage(result, tmp / "backtest_coverage.png")
    n_bad = int(result.fits["ok"].eq(False).sum()) if "ok" in result.fits else 0
    if n_bad:
        print(f"{n_bad} fit(s) did not converge (listed above and in backtest_fits.csv)")
    print(f"wrote scores, fits and plots to {out} in {time.perf_counter() - t0:.0f} s")
    return 0
