"""Warm against cold starts of the monthly re-fit: time and convergence, side by side.

For each monthly origin of the demo backtest world, the full model is fitted on the history
before the origin twice with the same seed and sampler settings: cold (PyMC's usual start)
and warm (every chain starts at the previous origin's posterior means,
``SPRModel.fit(warm_start=...)``). The first origin has no previous fit; from the second on
the script prints seconds, worst R-hat, smallest bulk/tail ESS and divergences of both, and
the ratios warm / cold. Warm starts change only where the chains begin; a lower R-hat or a
higher ESS at the same cost is what "they help" means here.

    nice -n 15 python benchmarks/warm_start.py [--origins 3] [--draws 300] [--tune 400]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import pandas as pd

from bayesspr import SPRModel
from bayesspr.evaluation.backtest_worlds import demo_backtest_world
from bayesspr.evaluation.baselines import BACKTEST_SAMPLER


def fit(train: pd.DataFrame, args: argparse.Namespace, warm: SPRModel | None) -> tuple:
    """Fit the full model; return (model, seconds)."""
    t0 = time.perf_counter()
    model = SPRModel()
    with warnings.catch_warnings():  # the diagnostics are printed, not hidden
        warnings.simplefilter("ignore")
        model.fit(
            train,
            random_seed=args.seed,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            warm_start=warm,
        )
    return model, time.perf_counter() - t0


def line(label: str, model: SPRModel, seconds: float) -> str:
    """One printed row of a fit's cost and diagnostics."""
    d = model.diagnostics
    return (
        f"  {label:<5} {seconds:7.1f} s  R-hat {d['rhat_max']:.3f}  ESS bulk "
        f"{d['ess_bulk_min']:6.0f}  tail {d['ess_tail_min']:6.0f}  divergences "
        f"{d['divergences']:3d}  {'converged' if d['ok'] else 'NOT CONVERGED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--origins", type=int, default=3, help="monthly origins")
    parser.add_argument("--draws", type=int, default=BACKTEST_SAMPLER["draws"])
    parser.add_argument("--tune", type=int, default=BACKTEST_SAMPLER["tune"])
    parser.add_argument("--chains", type=int, default=BACKTEST_SAMPLER["chains"])
    args = parser.parse_args()
    world = demo_backtest_world(args.seed, n_origins=args.origins, horizon_months=1)
    print(
        f"warm vs cold re-fits on {world.description}; python {platform.python_version()}, "
        f"{args.draws} draws, {args.tune} tune, {args.chains} chains"
    )
    previous = None
    for origin in world.origins:
        train = world.table[world.table["date"] < origin]
        cold, t_cold = fit(train, args, None)
        print(f"{origin:%Y-%m-%d}: {len(train)} training rows")
        print(line("cold", cold, t_cold))
        if previous is not None:
            warm, t_warm = fit(train, args, previous)
            print(line("warm", warm, t_warm))
            dc, dw = cold.diagnostics, warm.diagnostics
            print(
                f"  ratio warm/cold: time {t_warm / t_cold:.2f}, ESS bulk "
                f"{dw['ess_bulk_min'] / dc['ess_bulk_min']:.2f}, ESS tail "
                f"{dw['ess_tail_min'] / dc['ess_tail_min']:.2f}, R-hat − 1 "
                f"{(dw['rhat_max'] - 1) / max(dc['rhat_max'] - 1, 1e-9):.2f}"
            )
        previous = cold  # the next origin warm-starts from this month's (cold) fit


if __name__ == "__main__":
    main()
