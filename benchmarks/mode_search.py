"""The SPR posterior's mode searched two ways, side by side, on a rung of the size ladder.

* ``lbfgs``: L-BFGS on the exact log density and gradient, then the Hessian by coloured
  forward differences (what :func:`bayesspr.inference.mode.find_mode` did before it took the
  model's sparsity pattern for the search too);
* ``newton``: Newton steps in a trust region (SciPy ``trust-constr``) with the coloured sparse
  Hessian at every step (what ``find_mode(model, pattern=...)`` does now).

Both are :func:`bayesspr.inference.mode.minimise_negative_log_density`, the search
``find_mode`` makes, with and without the colouring.

Both start at PyMC's initial point of the same model. For each: wall time, gradients taken,
the negative log density reached and the largest gradient component there, and the time and
gradients against the first search. Each search runs in this process one after the other;
run nothing else beside it.

Usage: ``python benchmarks/mode_search.py [--rung S] [--searches lbfgs newton] [--markdown]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from pymc.blocking import DictToArrayBijection

from bayesspr import SPRModel
from bayesspr.data.table import validate
from bayesspr.inference.mode import minimise_negative_log_density
from bayesspr.inference.sparse_hessian import colour_columns, coloured_hessian
from bayesspr.simulate.ladder import simulate_network


def search(name: str, model, colouring, start: dict) -> dict:
    """One search from ``start``; its cost and where it ended."""
    logp_dlogp = model.logp_dlogp_function(ravel_inputs=True, initial_point=start)
    x0 = DictToArrayBijection.map(start).data.astype(float)
    counted = {"gradients": 0}

    def negative(x):
        counted["gradients"] += 1
        logp, grad = logp_dlogp(x)
        return -float(logp), -np.asarray(grad, dtype=float)

    def gradient(x):
        return negative(x)[1]

    negative(x0)  # compiled and warm before the clock starts
    counted["gradients"] = 0
    started = time.perf_counter()
    result = minimise_negative_log_density(
        negative, x0, colouring=colouring if name == "newton" else None
    )
    searched = counted["gradients"]
    coloured_hessian(gradient, result.x, colouring)
    seconds = time.perf_counter() - started
    value, grad = negative(result.x)
    return {
        "search": name,
        "iterations": int(result.nit),
        "search gradients": searched,
        "with Hessian": counted["gradients"] - 1,
        "seconds": round(seconds, 1),
        "-log density": round(value, 4),
        "max |gradient|": float(f"{np.max(np.abs(grad)):.2e}"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="S")
    parser.add_argument("--searches", nargs="+", default=["lbfgs", "newton"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    table = validate(simulate_network(args.rung, seed=args.seed).table)
    spr = SPRModel()
    prepared = spr._prepare(table)
    model = spr.build_model(prepared)
    colouring = colour_columns(spr.hessian_pattern(prepared, model))
    point = model.initial_point(1)
    start = {var.name: point[var.name] for var in model.value_vars}
    print(
        f"rung {args.rung}: {len(table):,} zip-days, {colouring.pattern.shape[0]:,} free "
        f"parameters, {colouring.n_colours} colours",
        flush=True,
    )
    rows = []
    for name in args.searches:
        rows.append(search(name, model, colouring, start))
        print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    frame["time ratio"] = (frame["seconds"] / frame["seconds"].iloc[0]).round(3)
    frame["gradient ratio"] = (frame["with Hessian"] / frame["with Hessian"].iloc[0]).round(3)
    print(frame.to_markdown(index=False) if args.markdown else frame.to_string(index=False))


if __name__ == "__main__":
    main()
