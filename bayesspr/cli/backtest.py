"""``bayesspr backtest``: run the rolling backtest, print its progress and table, write files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bayesspr.data import table as data_mod
from bayesspr.evaluation.backtest import rolling_backtest
from bayesspr.evaluation.backtest_report import plot_coverage, plot_pit, scores_table
from bayesspr.evaluation.backtest_worlds import BacktestWorld, demo_backtest_world, monthly_origins
from bayesspr.evaluation.baselines import BACKTEST_SAMPLER, VARIANTS
from bayesspr.io.files import atomic_folder, check_output_path, write_csv

#: What ``bayesspr backtest`` writes into its output folder (replaced whole on each run).
BACKTEST_FILES = (
    "backtest_scores.csv",
    "backtest_by_horizon.csv",
    "backtest_fits.csv",
    "backtest_pit.png",
    "backtest_coverage.png",
)


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
    client: Any = None,
) -> int:
    """``bayesspr backtest``: run the rolling backtest, print the table, write CSV and PNGs.

    Parameters
    ----------
    world : str
        ``"demo"`` (:func:`bayesspr.evaluation.backtest_worlds.demo_backtest_world`) or the
        path of an observation table (CSV or Parquet, see
        :func:`bayesspr.data.table.read_table`), backtested at its last monthly origins
        without a demand shock.
    out : str or pathlib.Path
        Folder for ``backtest_scores.csv`` (by case, level, variant), ``backtest_by_horizon.csv``
        (also by horizon), ``backtest_fits.csv``, ``backtest_pit.png``,
        ``backtest_coverage.png``.
    seed : int
        Seed of the world and of every fit.
    n_origins, horizon_months : int
        Monthly origins and months forecast from each.
    variants : sequence of str
        Variants to compare (:data:`bayesspr.evaluation.baselines.VARIANTS`).
    draws, tune, chains : int
        Sampler settings of each fit.
    warm_start : bool
        Warm-start each re-fit from the previous origin's (see
        :func:`bayesspr.evaluation.backtest.rolling_backtest`).
    client : distributed.Client, optional
        Run the origins and variants as tasks on this Dask cluster (``--workers`` or
        ``--scheduler``); the same seeds (see
        :func:`bayesspr.evaluation.backtest.rolling_backtest`).

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
    print(
        f"origins {[f'{o:%Y-%m-%d}' for o in bw.origins]}, {horizon_months} months ahead; "
        f"routes per day given realised volume; sampler {draws} draws, {tune} tune, "
        f"{chains} chains"
    )
    t0 = time.perf_counter()
    result = rolling_backtest(
        bw.table,
        bw.origins,
        horizon_months,
        variants,
        shock_start=bw.shock_start,
        sampler={"draws": draws, "tune": tune, "chains": chains},
        seed=seed,
        warm_start=warm_start,
        on_fit=lambda row: print(fit_line(row)),
        client=client,
    )
    table = scores_table(result)
    with pd.option_context("display.width", 160, "display.max_rows", 500):
        print(table.to_string(index=False))
    by_horizon = result.scores(("case", "level", "horizon", "variant"))
    with atomic_folder(out) as tmp:  # the whole folder, or the earlier one untouched
        for name, frame in (
            ("backtest_scores.csv", table),
            ("backtest_by_horizon.csv", by_horizon),
            ("backtest_fits.csv", result.fits),
        ):
            write_csv(frame, tmp / name)
        plot_pit(result, tmp / "backtest_pit.png")
        plot_coverage(result, tmp / "backtest_coverage.png")
    n_bad = int(result.fits["ok"].eq(False).sum()) if "ok" in result.fits else 0
    if n_bad:
        print(f"{n_bad} fit(s) did not converge (listed above and in backtest_fits.csv)")
    print(f"wrote scores, fits and plots to {out} in {time.perf_counter() - t0:.0f} s")
    return 0


def fit_line(row: dict[str, Any]) -> str:
    """One printed line per fit: origin, variant, training rows, seconds, convergence.

    Parameters
    ----------
    row : dict
        A row of :attr:`bayesspr.evaluation.backtest.Backtest.fits`.

    Returns
    -------
    str
        The line; fitted variants add R-hat, the smallest bulk and tail ESS, divergences
        and the verdict, others say ``(no fit)``.
    """
    head = (
        f"{row['origin']:%Y-%m-%d} {row['variant']:<16} {row['train_rows']:>5} training "
        f"rows {row['seconds']:6.1f} s{' warm' if row.get('warm_start') else ''}"
    )
    if "ok" not in row:
        return head + "  (no fit)"
    status = "converged" if row["ok"] else "NOT CONVERGED: " + row["problems"]
    return (
        f"{head}  R-hat {row['rhat_max']:.3f}  ESS bulk {row['ess_bulk_min']:.0f} tail "
        f"{row['ess_tail_min']:.0f}  divergences {row['divergences']}  {status}"
    )
