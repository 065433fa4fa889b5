"""Rolling-origin backtest of every variant on the demo backtest world: the table in the docs.

Runs :func:`bayesspr.cli.backtest.backtest_cli` (what ``bayesspr backtest --world demo``
runs):
monthly origins from 1 March 2025, each variant re-fitted on the history before the origin,
routes of the next months forecast given their realised volume, scored per case, level and
horizon. Prints every fit's diagnostics and the scores table; writes CSVs and PNGs to --out.

With ``--workers 0 2`` it runs the backtest once per entry, side by side: 0 in this process,
N on a local Dask cluster of N single-threaded workers (each origin × variant a task;
``bayesspr backtest --workers N``), each into ``--out``/``<run>``, and prints the wall time of
each, its ratio to the first, whether its scores equal the first's, and which variants'
do not.

    nice -n 15 python benchmarks/backtest.py [--origins 3] [--horizon 3] [--out backtest_out]
    python benchmarks/backtest.py --workers 0 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from bayesspr.cli.backtest import backtest_cli
from bayesspr.cli.cluster import dask_client
from bayesspr.evaluation.baselines import BACKTEST_SAMPLER, VARIANTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="demo", help="'demo' or the path of a table")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--origins", type=int, default=3, help="monthly origins")
    parser.add_argument("--horizon", type=int, default=3, help="months ahead (up to 16)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--draws", type=int, default=BACKTEST_SAMPLER["draws"])
    parser.add_argument("--tune", type=int, default=BACKTEST_SAMPLER["tune"])
    parser.add_argument("--chains", type=int, default=BACKTEST_SAMPLER["chains"])
    parser.add_argument("--out", default="backtest_out")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=None,
        help="run once per entry: 0 in this process, N on a local cluster of N workers",
    )
    args = parser.parse_args()
    runs = [None] if args.workers is None else args.workers
    rows = []
    for workers in runs:
        out = Path(args.out) if workers is None else Path(args.out) / f"workers_{workers}"
        with dask_client(argparse.Namespace(workers=workers, scheduler=None)) as client:
            t0 = time.perf_counter()
            backtest_cli(
                args.world,
                out,
                args.seed,
                n_origins=args.origins,
                horizon_months=args.horizon,
                variants=args.variants,
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                client=client,
            )
            seconds = time.perf_counter() - t0
        print(f"total wall time {seconds:.0f} s")
        rows.append({"workers": workers or 0, "wall s": round(seconds, 1), "out": out})
    if len(rows) > 1:
        first = pd.read_csv(rows[0]["out"] / "backtest_scores.csv")
        for row in rows:
            scores = pd.read_csv(row["out"] / "backtest_scores.csv")
            row["same scores"] = bool(scores.equals(first))
            row["variants that differ"] = ", ".join(
                variant
                for variant in args.variants
                if not scores[scores["variant"] == variant]
                .reset_index(drop=True)
                .equals(first[first["variant"] == variant].reset_index(drop=True))
            )
            row["time ratio"] = round(row["wall s"] / rows[0]["wall s"], 2)
        print(pd.DataFrame(rows).drop(columns="out").to_markdown(index=False))


if __name__ == "__main__":
    main()
