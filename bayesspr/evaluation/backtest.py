"""Rolling-origin backtests: re-fit monthly, forecast the next months, score every level.

One job: the rolling engine. For each monthly origin every variant
(:mod:`bayesspr.evaluation.baselines`) is trained on the history before it and forecasts the
routes of the following months' zip-days *given their realised packages and stops* (the SPR
part of the forecast; the volume forecast is not scored here). Draws are summed per day to
stations and cities, and scored per variant, horizon month, level and hard case
(:func:`bayesspr.evaluation.scores.unit_scores`: CRPS, the M5 nine-quantile pinball loss,
the randomised PIT, the forecast mean). Worlds to run on are in
:mod:`bayesspr.evaluation.backtest_worlds`, the table and plots in
:mod:`bayesspr.evaluation.backtest_report`, the command in :mod:`bayesspr.cli.backtest`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from bayesspr.data import table as data_mod
from bayesspr.errors import EvaluationError
from bayesspr.evaluation.baselines import VARIANTS, forecast_draws
from bayesspr.evaluation.scores import summarise_scores, unit_scores
from bayesspr.spr.model import LEVELS

#: Hard cases, each scored on its own (zip level); see :func:`hard_case_flags`.
HARD_CASES = ("new_van", "volume_beyond", "new_zip", "moved_zip", "new_station", "demand_shock")


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


@dataclass(frozen=True)
class Backtest:
    """Results of :func:`rolling_backtest`.

    Attributes
    ----------
    units : pandas.DataFrame
        One row per variant × origin × scored unit: ``variant``, ``origin``, ``horizon``
        (month after the origin, 1 = the origin's month), ``level`` (zip, station, city),
        ``case`` ("all" or a hard case; hard cases are scored at the zip level), ``date``,
        ``label``, and the unit scores of :func:`bayesspr.evaluation.scores.unit_scores`
        (routes per day).
    fits : pandas.DataFrame
        One row per variant × origin: training rows, seconds, and for fitted variants the
        convergence diagnostics (``ok``, ``rhat_max``, ``ess_bulk_min``, ``ess_tail_min``,
        ``divergences``, ``problems``).
    """

    units: pd.DataFrame
    fits: pd.DataFrame

    def scores(self, by: Sequence[str] = ("case", "level", "variant")) -> pd.DataFrame:
        """Scores aggregated over the other columns.

        See :func:`bayesspr.evaluation.scores.summarise_scores` for the columns.

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
    on_fit: Callable[[dict[str, Any]], None] | None = None,
    warm_start: bool = False,
    client: Any = None,
) -> Backtest:
    """Rolling-origin backtest with a monthly re-fit.

    For each origin, each variant is trained on the rows dated before it and forecasts the
    routes of the rows of the next ``horizon_months`` calendar months, given their realised
    packages and stops. Route draws are summed per day to zips, stations and cities and
    scored; hard cases (:func:`hard_case_flags`) are scored on their own at the zip level.

    Each origin × variant is a task of its own, with its own random streams (seeded by
    ``seed``, the origin's position and the variant), so the results do not depend on which
    other variants run, and a task gets the same seeds wherever it runs: here in turn, or on
    a Dask cluster. The variants without a fit then score the same bit for bit; the fitted
    ones' NUTS draws were not always bit-identical between runs (docs/backtest.md).

    Parameters
    ----------
    world_table : pandas.DataFrame
        Observations over the whole span, with ``routes`` (validated here).
    origins : iterable of str or pandas.Timestamp
        Forecast origins (first days of months).
    horizon_months : int
        Months forecast from each origin (1 … 16 or more).
    variants : sequence of str
        Any of :data:`bayesspr.evaluation.baselines.VARIANTS`.
    shock_start : str or pandas.Timestamp, optional
        First day of a demand shock, flagged as the ``demand_shock`` hard case.
    sampler : dict, optional
        ``draws``, ``tune``, ``chains`` of each fit (default
        :data:`bayesspr.evaluation.baselines.BACKTEST_SAMPLER`).
    max_samples : int
        Predictive samples per forecast.
    seed : int
        Seed of fits, predictive noise and the PIT randomisation.
    on_fit : callable, optional
        Called with each fit's row of :attr:`Backtest.fits` as soon as it is done (the
        command line prints it with :func:`bayesspr.cli.backtest.fit_line`); None: silent.
        On a cluster the rows come in the order the tasks end.
    warm_start : bool
        Start each fitted variant's chains at its posterior means from the previous origin;
        the first origin starts cold. A variant's origins are then one task, run in order.
        Off by default: on the demo world it did not help (``benchmarks/warm_start.py``:
        lower ESS, higher R-hat at about the same cost).
    client : distributed.Client, optional
        Run the tasks on this Dask cluster (the table sent to each worker once), with the
        same seeds as without it. None: in this process, one after another.

    Returns
    -------
    Backtest
        Unit scores and fit diagnostics, in origin then variant order.

    Raises
    ------
    EvaluationError
        If a variant is unknown, or an origin leaves no training or no test rows.
    """
    table = data_mod.validate(world_table)
    shock = pd.Timestamp(shock_start) if shock_start is not None else None
    origins = [pd.Timestamp(o) for o in origins]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise EvaluationError(f"unknown variant {unknown[0]!r}; expected one of {VARIANTS}")
    for origin in origins:  # refused before any fit
        _split_at(table, origin, horizon_months)
    settings = BacktestSettings(horizon_months, shock, sampler, max_samples, seed, warm_start)
    tasks = (
        [[(i, v) for i in range(len(origins))] for v in variants]
        if warm_start
        else [[(i, v)] for i in range(len(origins)) for v in variants]
    )
    done: dict[tuple[int, str], tuple[dict[str, Any], list[pd.DataFrame]]] = {}

    def record(results: list[tuple[int, str, dict[str, Any], list[pd.DataFrame]]]) -> None:
        for i, variant, fit, units in results:
            done[i, variant] = fit, units
            if on_fit is not None:
                on_fit(fit)

    if client is None:
        for task in tasks:
            record(run_backtest_task(table, origins, task, settings))
    else:
        from distributed import as_completed

        shared = client.scatter(table)  # each worker fetches it once (see forecast's blocks)
        futures = [
            client.submit(run_backtest_task, shared, origins, task, settings, pure=False)
            for task in tasks
        ]
        for future in as_completed(futures):
            record(future.result())
            future.release()
    order = [(i, v) for i in range(len(origins)) for v in variants]
    fits = [done[key][0] for key in order]
    units = [unit for key in order for unit in done[key][1]]
    return Backtest(units=pd.concat(units, ignore_index=True), fits=pd.DataFrame(fits))


@dataclass(frozen=True)
class BacktestSettings:
    """What every task of one :func:`rolling_backtest` shares (see its parameters)."""

    horizon_months: int
    shock_start: pd.Timestamp | None
    sampler: dict[str, int] | None
    max_samples: int
    seed: int
    warm_start: bool


def run_backtest_task(
    table: pd.DataFrame,
    origins: Sequence[pd.Timestamp],
    task: Sequence[tuple[int, str]],
    settings: BacktestSettings,
) -> list[tuple[int, str, dict[str, Any], list[pd.DataFrame]]]:
    """One task of a backtest: variants at origins (by position), in the order given.

    With ``settings.warm_start`` each fit starts from the previous one of the task (a task
    is then one variant's origins in order).

    Returns
    -------
    list of tuple
        Per origin × variant: the origin's position, the variant, its row of
        :attr:`Backtest.fits` and its blocks of :attr:`Backtest.units`.
    """
    out = []
    previous = None
    for i, variant in task:
        origin = origins[i]
        train, test = _split_at(table, origin, settings.horizon_months)
        horizon = (
            (test["date"].dt.year - origin.year) * 12 + test["date"].dt.month - origin.month + 1
        ).to_numpy()
        flags = hard_case_flags(train, test, settings.shock_start)
        draws, info = forecast_draws(
            variant,
            train,
            test,
            seed=settings.seed,
            sampler=settings.sampler,
            max_samples=settings.max_samples,
            warm_start=previous if settings.warm_start else None,
        )
        previous = info.pop("model", None)
        rng = np.random.default_rng([settings.seed, 3, i, VARIANTS.index(variant)])
        if variant == "gbm":  # quantile members, not joint draws: sum as independent
            draws = rng.permuted(draws, axis=0)
        meta = {"variant": variant, "origin": origin, "horizon": horizon}
        out.append(
            (
                i,
                variant,
                _fit_row(variant, origin, len(train), info),
                _scored_units(draws, test, flags, meta, rng),
            )
        )
    return out


def _split_at(
    table: pd.DataFrame, origin: pd.Timestamp, horizon_months: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows before ``origin`` and rows of the ``horizon_months`` months from it (fresh index)."""
    end = origin + pd.DateOffset(months=horizon_months)
    train = table[table["date"] < origin]
    test = table[(table["date"] >= origin) & (table["date"] < end)]
    if train.empty or test.empty:
        raise EvaluationError(
            f"origin {origin:%Y-%m-%d}: {len(train)} training and {len(test)} test rows; "
            "expected both to be non-empty"
        )
    return train, test.reset_index(drop=True)


def _scored_units(
    draws: np.ndarray,
    test: pd.DataFrame,
    flags: pd.DataFrame,
    meta: dict[str, Any],
    rng: np.random.Generator,
) -> list[pd.DataFrame]:
    """Unit scores of one variant at one origin: every level, and each hard case's zip-days.

    ``meta`` holds the ``variant``, ``origin`` and each test row's ``horizon`` (month).
    """
    blocks = []
    for level in LEVELS:
        summed, keys = level_draws(draws, test, level)
        observed, _ = level_draws(test["routes"].to_numpy(float)[None, :], test, level)
        head = pd.DataFrame(
            {
                "variant": meta["variant"],
                "origin": meta["origin"],
                "horizon": meta["horizon"][keys["first_row"].to_numpy()],
                "level": level,
                "date": keys["date"],
                "label": keys[level].astype(str),
            }
        )
        block = pd.concat([head, unit_scores(summed, observed[0], rng)], axis=1)
        blocks.append(block.assign(case="all"))
        if level == "zip":  # a zip-day is a hard case if any of its rows is
            codes = pd.factorize(pd.MultiIndex.from_frame(test[["date", "zip"]]))[0]
            unit_flags = flags.reset_index(drop=True).groupby(codes).any()
            for case in HARD_CASES:
                hit = unit_flags[case].to_numpy()
                if hit.any():
                    blocks.append(block[hit].assign(case=case))
    return blocks


def _fit_row(variant: str, origin: pd.Timestamp, n_train: int, info: dict) -> dict[str, Any]:
    row = {
        "variant": variant,
        "origin": origin,
        "train_rows": n_train,
        "seconds": info["seconds"],
        "warm_start": info.get("warm_start", False),
    }
    diag = info.get("diagnostics")
    if diag:
        row.update(
            {
                k: diag.get(k)
                for k in ("ok", "rhat_max", "ess_bulk_min", "ess_tail_min", "divergences")
            }
        )
        row["problems"] = "; ".join(diag.get("problems", []))
    return row
