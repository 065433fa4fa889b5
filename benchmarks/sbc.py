"""Simulation-based calibration of the small SPR model: the large run.

Runs SBC (``bayesspr.evaluation.sbc.run_sbc``) for the SPR model's own likelihood ("good") and for a
mis-specified continuous log-normal likelihood ("bad") on the same simulated data sets, and
prints per-quantity chi-square p-values, divergences, the thinning check and the wall time;
writes rank histograms (one row per variant) to a PNG. ``tests/evaluation/test_sbc.py``
asserts the same on 100 simulations.

    python benchmarks/sbc.py [--simulations 500] [--seed 2] [--out sbc_ranks.png]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from bayesspr.evaluation.sbc import LOG_LIKELIHOOD, SBC_PARAMETERS, VARIANTS, run_sbc

QUANTITIES = (*SBC_PARAMETERS, LOG_LIKELIHOOD)


def plot_ranks(results: dict, bins: int, path: str) -> None:
    fig = Figure(figsize=(2.4 * len(QUANTITIES), 2.4 * len(results)))
    axes = fig.subplots(len(results), len(QUANTITIES), sharey="row", squeeze=False)
    for row, (variant, result) in zip(axes, results.items(), strict=True):
        n_sims = result.ranks.sizes["simulation"]
        # 99 % band of one bin's count under uniform ranks (binomial)
        lo, hi = stats.binom.ppf([0.005, 0.995], n_sims, 1.0 / bins)
        for ax, q in zip(row, QUANTITIES, strict=True):
            ax.axhspan(lo, hi, color="0.85", zorder=0)
            ax.axhline(n_sims / bins, color="0.5", lw=0.8)
            ax.hist(
                result.ranks[q].to_numpy(),
                bins=bins,
                range=(0, result.n_draws + 1),
                color="C0" if variant == "good" else "C3",
            )
            ax.set_title(f"{variant}: {q}\np = {result.p_values[q]:.2g}", fontsize=8)
            ax.set_xticks([0, result.n_draws])
            ax.tick_params(labelsize=7)
    fig.supxlabel("rank of the truth among posterior draws", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--bins", type=int, default=20)
    parser.add_argument("--out", default="sbc_ranks.png", help="rank histogram PNG")
    args = parser.parse_args()
    results = {}
    for variant in VARIANTS:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[variant] = run_sbc(
                args.simulations, variant=variant, seed=args.seed, bins=args.bins
            )
        r = results[variant]
        print(
            f"\n{variant}: {args.simulations} simulations, L = {r.n_draws} kept draws per fit, "
            f"{time.perf_counter() - started:.0f} s"
        )
        print(
            f"  divergences: {int(r.divergences.sum())} in "
            f"{int((r.divergences > 0).sum())} of {args.simulations} fits; "
            f"bulk ESS / L of kept draws: median {np.median(r.ess_ratio):.2f}, "
            f"min {r.ess_ratio.min():.2f}"
        )
        for q in QUANTITIES:
            print(f"  {q:16s} chi-square p = {r.p_values[q]:.3g}")
    alpha = 0.01 / len(QUANTITIES)
    for variant, r in results.items():
        failing = [q for q in QUANTITIES if r.p_values[q] <= alpha]
        verdict = "non-uniform: " + ", ".join(failing) if failing else "uniform"
        print(f"{variant}: {verdict} (Bonferroni, each p vs {alpha:.2g})")
    plot_ranks(results, args.bins, args.out)
    print(f"rank histograms: {args.out}")


if __name__ == "__main__":
    main()
