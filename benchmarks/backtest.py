"""Rolling-origin backtest of every variant on the demo backtest world: the table in the docs.

Runs :func:`bayesspr.cli.backtest.backtest_cli` (what ``bayesspr backtest --world demo``
runs):
monthly origins from 1 March 2025, each variant re-fitted on the history before the origin,
routes of the next months forecast given their realised volume, scored per case, level and
horizon. Prints every fit's diagnostics and the scores table; writes CSVs and PNGs to --out.

    nice -n 15 python benchmarks/backtest.py [--origins 3] [--horizon 3] [--out backtest_out]
"""

from __future__ import annotations

import argparse
import time

from bayesspr.cli.backtest import backtest_cli
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
    args = parser.parse_args()
    t0 = time.perf_counter()
    backtest_cli(
        args.world,
        args.out,
        args.seed,
        n_origins=args.origins,
        horizon_months=args.horizon,
        variants=args.variants,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
    )
    print(f"total wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
