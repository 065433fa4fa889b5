"""The SPR model's log density and gradient at a rung of the size ladder, four ways side by side.

What one NUTS step costs: PyTensor's numba function of the model's log density and its
gradient (what PyMC's NUTS and nutpie call), on the rung's history (default S: 400 zips,
134,404 zip-days with the last 28 days held out), built

* with the physics mean μ as PyTensor operations (``formula``: what main had before
  :mod:`bayesspr.spr.route_need_op`) or as the compiled op (``op``: the model's form now), and
* with glibc's malloc as it comes (``glibc``) or inside
  :func:`bayesspr.inference.heap.reused_heap` (``reused``: what every fit now runs in).

Each variant runs in a fresh process (the allocator's state is per process and is what is
measured); each times ``--repeats`` rounds of ``--calls`` calls and keeps the best and the
median round. The ratio is against the first variant, ``formula`` with ``glibc``.

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/spr_gradient.py [--rung S] [--markdown]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

VARIANTS = (("formula", "glibc"), ("formula", "reused"), ("op", "glibc"), ("op", "reused"))


def measure(mean: str, heap: str, rung: str, calls: int, repeats: int) -> dict:
    """Build the model in this process and time its log density and gradient."""
    import contextlib

    import pytensor.tensor as pt
    from pymc.blocking import DictToArrayBijection

    import bayesspr.spr.model as spr_model
    from bayesspr import SPRModel
    from bayesspr.inference.heap import reused_heap
    from bayesspr.spr import physics

    sys.path.insert(0, str(Path(__file__).parent))
    from spr_routes import split

    warnings.simplefilter("ignore")
    train, _ = split(rung, 0, 28)
    if mean == "formula":

        def formula(zone, constants, *, for_gradient=False):
            del for_gradient
            return pt.log(zone.stops) - physics.log_smooth_max_stops_per_route(zone, constants)

        spr_model.log_route_need = formula
    model = SPRModel()
    pymc_model = model.build_model(model._prepare(train))
    function = pymc_model.logp_dlogp_function(ravel_inputs=True, mode="NUMBA")
    function.set_extra_values({})
    point = pymc_model.initial_point()
    x = DictToArrayBijection.map({v.name: point[v.name] for v in pymc_model.value_vars}).data
    with reused_heap() if heap == "reused" else contextlib.nullcontext():
        value, gradient = function(x)
        rounds = []
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(calls):
                function(x)
            rounds.append((time.perf_counter() - started) / calls)
    return {
        "mean": mean,
        "heap": heap,
        "rows": len(train),
        "best ms": round(1e3 * min(rounds), 2),
        "median ms": round(1e3 * float(np.median(rounds)), 2),
        "log density": float(value),
        "gradient norm": float(np.linalg.norm(gradient)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="S")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        row = measure(*args.child, args.rung, args.calls, args.repeats)
        print(json.dumps(row))
        return
    rows = []
    for mean, heap in VARIANTS:
        command = [sys.executable, __file__, "--child", mean, heap, "--rung", args.rung]
        command += ["--calls", str(args.calls), "--repeats", str(args.repeats)]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    table["ratio (median)"] = (table["median ms"].iloc[0] / table["median ms"]).round(2)
    spread = table["log density"].max() - table["log density"].min()
    table = table.drop(columns=["log density", "gradient norm"])
    print(table.to_markdown(index=False) if args.markdown else table.to_string(index=False))
    print(f"\nlog density at the initial point: the variants differ by at most {spread:.2e} nats")


if __name__ == "__main__":
    main()
