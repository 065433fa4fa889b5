"""``bayesspr cycle``: one month of the operating cycle, as a dated run folder.

Validates the new month, monitors it against the last run's fits, re-fits both models,
forecasts, re-plans the fleet, diffs the plan against the last run's and writes
``RUNS/RUN_ID/`` and the run's tables in a DuckDB file (:mod:`bayesspr.monitor.cycle`).
"""

from __future__ import annotations

import argparse
import sys

from bayesspr.cli.cluster import dask_client
from bayesspr.data import table as data
from bayesspr.errors import ArgumentError
from bayesspr.io.warehouse import read_query
from bayesspr.monitor.cycle import CycleSettings, last_run_folder, run_cycle

__all__ = ["cycle_cli"]


def cycle_cli(args: argparse.Namespace) -> int:
    """``bayesspr cycle``: run one month; print each step and the monitor's short list.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of ``bayesspr cycle``.

    Returns
    -------
    int
        0 when the run folder and its tables were written.

    Raises
    ------
    CycleError
        Naming the step that failed (nothing of the new run is kept).
    ArgumentError
        No ``--history`` on a first run.
    """
    from pathlib import Path

    runs = Path(args.runs)
    previous = last_run_folder(runs) if runs.is_dir() else None  # its fits load in run_cycle
    if args.history is None and previous is None:
        raise ArgumentError(
            f"no earlier run in {runs}: give --history (the observations before the new month) "
            "for the first run"
        )
    history_path = args.history or str(previous / "history.parquet")  # type: ignore[operator]
    history = data.read_table(history_path)
    if (args.new_month is None) == (args.new_month_query is None):
        raise ArgumentError("give the new month as --new-month FILE or --new-month-query SQL")
    if args.new_month is not None:
        month, source = data.read_table(args.new_month), args.new_month
    else:
        if args.source is None:
            raise ArgumentError("--new-month-query needs --source (a DuckDB file or a URL)")
        month = read_query(args.source, args.new_month_query)
        source = f"{args.new_month_query} on {args.source}"
    settings = CycleSettings(
        horizon=args.horizon,
        service_level=args.service_level,
        n_samples=args.samples,
        seed=args.seed,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        volume_draws=args.volume_draws,
        volume_tune=args.volume_tune,
        volume_chains=args.volume_chains,
        fdr=args.fdr,
    )
    with dask_client(args) as client:
        result = run_cycle(
            history,
            month,
            runs,
            run_id=args.run_id,
            db=args.db,
            settings=settings,
            inputs={"history": history_path, "new_month": source},
            progress=lambda line: print(line, flush=True),
            client=client,
        )
    if result.diff is not None:
        moved = result.diff[result.diff["driver"] != "none"]
        print(
            f"plan against run {result.previous}: {len(moved)} of {len(result.diff)} "
            "station-months change; by driver: "
            + ", ".join(f"{k} {v}" for k, v in moved["driver"].value_counts().items())
        )
    else:
        print("first run: nothing to monitor or compare against yet", file=sys.stderr)
    print(f"wrote run {result.run_id} to {result.folder}")
    return 0
