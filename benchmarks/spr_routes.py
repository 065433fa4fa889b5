"""The SPR fit's routes on a rung of the size ladder, side by side.

Time, convergence, agreement of the physics constants, and randomised-PIT coverage of
held-out routes.

On a rung of :func:`bayesspr.simulate.ladder.simulate_network` (default S: 400 zips, a year of
days), the last ``--holdout-days`` are held out and the rest fitted by each route asked for:

* ``mode``: NUTS (PyMC's) started at the posterior mode, the Gaussian there as dense mass
  matrix (``start="mode"``; what ``start="auto"`` picks at this size): exact MCMC, the
  reference;
* ``laplace``: draws from the Gaussian at the mode (``method="laplace"``): an approximation,
  with the spreads at the mode of their Laplace marginal
  (:mod:`bayesspr.inference.marginal_spreads`);
* ``laplace-joint``: the same with the spreads left at the joint mode (the route before the
  marginal step), to see what that step changes;
* ``laplace-physics``: the same with the global physics constants (stem speed, tour
  constant, fill) put at their Laplace-marginal mode too;
* ``default``: NUTS started as usual with nutpie's own adaptation (``start="default"``),
  stopped after ``--default-limit`` seconds if it has not finished.

Each fit runs in a process of its own (its peak memory is its own). For each route: wall
time, peak RSS, min bulk and tail ESS, max R-hat, divergences, ESS per second; against the
first route, each physics constant's posterior mean difference in the first route's posterior
sd, and the ratio of posterior sds; the 50 / 80 / 90 % coverage of the held-out routes
(randomised PIT of whole routes, :func:`bayesspr.evaluation.scores.randomised_pit`); and each
global constant the simulation fixes against its truth (z, in the route's own posterior sd).
With ``--cities K`` the rung's first K cities only (a stated subset: rung M's first city is
a network of 1,000 zips under 25 stations).

Usage: ``python benchmarks/spr_routes.py [--rung S] [--cities K] [--routes mode laplace]
[--markdown]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

from bayesspr.inference.sharded import peak_rss_mib
from bayesspr.reporting.spr_report import PHYSICS_CONSTANTS

#: The physics constants compared between routes (the report's), the noise and the spreads
#: (those the fit has: a city spread needs cities, ``sigma_km`` route lengths).
CONSTANTS = (
    *PHYSICS_CONSTANTS,
    "sigma_route",
    "sigma_km",
    "zip_effect_sd",
    "overhead_hours_sd",
    "service_min_sd",
    "speed_kmh_sd",
)
LEVELS = (0.5, 0.8, 0.9)
#: Global constants the simulation fixes, each route's posterior mean scored against them
#: (z: distance in the route's posterior sd).
TRUTHS = ("stem_speed_kmh", "tour_constant", "fill", "sigma_route", "sigma_km")
#: The scalar physics constants the whole network informs.
PHYSICS_GLOBALS = ("stem_speed_kmh", "tour_constant", "fill")


def split(
    rung: str, seed: int, holdout_days: int, cities: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """History, held-out last days and the simulation's global constants (:data:`TRUTHS`).

    Of the rung's table, or its first ``cities`` cities, validated.
    """
    from bayesspr.data.table import validate
    from bayesspr.simulate.ladder import simulate_network

    world = simulate_network(rung, seed=seed)
    table = world.table
    if cities:
        kept = sorted(table["city"].unique())[:cities]
        table = table[table["city"].isin(kept)].reset_index(drop=True)
    table = validate(table)
    cut = table["date"].max() - pd.Timedelta(days=holdout_days - 1)
    truth = {name: float(world.truth.scalars[name]) for name in TRUTHS}
    return (
        table[table["date"] < cut].reset_index(drop=True),
        table[table["date"] >= cut].reset_index(drop=True),
        truth,
    )


def run_route(
    route: str, rung: str, seed: int, holdout_days: int, cities: int | None = None
) -> dict:
    """Fit one route in this process and measure it."""
    from bayesspr import SPRModel
    from bayesspr.evaluation.scores import pit_coverage, randomised_pit

    warnings.simplefilter("ignore")
    train, test, truth = split(rung, seed, holdout_days, cities)
    kwargs = {"method": "laplace"} if route.startswith("laplace") else {"start": route}
    if route == "laplace-joint":  # the Laplace route with the spreads at the joint mode
        SPRModel.laplace_spreads = ()
    if route == "laplace-physics":  # the global physics constants at their marginal mode too
        SPRModel.laplace_spreads = (*SPRModel.laplace_spreads, *PHYSICS_GLOBALS)
    started = time.perf_counter()
    model = SPRModel().fit(train, random_seed=1, **kwargs)
    seconds = time.perf_counter() - started
    post = model.idata["posterior"].to_dataset()
    names = [name for name in CONSTANTS if name in post]
    stacked = post[names].stack(sample=("chain", "draw"))
    row = {
        "route": route,
        "rows": len(train),
        "fit s": round(seconds, 1),
        "peak MiB": round(peak_rss_mib()),
        "means": {k: float(stacked[k].mean()) for k in names},
        "sds": {k: float(stacked[k].std()) for k in names},
    }
    for name, value in truth.items():
        row[f"{name} z"] = round((row["means"][name] - value) / row["sds"][name], 2)
    d = model.diagnostics
    if not d.get("approximate"):
        ess = min(d["ess_bulk_min"], d["ess_tail_min"])
        row |= {
            "min bulk ESS": round(d["ess_bulk_min"]),
            "min tail ESS": round(d["ess_tail_min"]),
            "max R-hat": round(d["rhat_max"], 4),
            "divergences": d["divergences"],
            "ESS/s": round(ess / seconds, 2),
            "start": d["sampler"]["model"]["start"],
        }
    else:
        row["start"] = {"route": "laplace", "mode": d.get("mode")}
    plan = test.drop(columns=["routes", "route_km"])
    draws = model.predict_draws(plan, random_seed=2, max_samples=1000)["routes"].to_numpy()
    pit = randomised_pit(draws, test["routes"].to_numpy(), np.random.default_rng(3))
    row |= {f"PIT {int(level * 100)} %": round(pit_coverage(pit, level), 4) for level in LEVELS}
    row["held-out rows"] = len(test)
    return row


def compare(rows: list[dict]) -> pd.DataFrame:
    """Each route's constants against the first route's posterior (mean gap in its sds)."""
    reference = rows[0]
    out = []
    for row in rows[1:]:
        for name in reference["means"]:
            gap = (row["means"][name] - reference["means"][name]) / reference["sds"][name]
            out.append(
                {
                    "route": row["route"],
                    "against": reference["route"],
                    "constant": name,
                    "mean": round(row["means"][name], 5),
                    "reference mean": round(reference["means"][name], 5),
                    "gap (reference sds)": round(gap, 3),
                    "sd ratio": round(row["sds"][name] / reference["sds"][name], 3),
                }
            )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="S")
    parser.add_argument("--routes", nargs="+", default=["mode", "laplace"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout-days", type=int, default=28)
    parser.add_argument("--cities", type=int, default=None, help="the rung's first K cities")
    parser.add_argument("--default-limit", type=float, default=1800.0)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        row = run_route(args.child, args.rung, args.seed, args.holdout_days, args.cities)
        print(json.dumps(row))
        return
    rows = []
    for route in args.routes:
        command = [sys.executable, __file__, "--child", route, "--rung", args.rung]
        command += ["--seed", str(args.seed), "--holdout-days", str(args.holdout_days)]
        if args.cities:
            command += ["--cities", str(args.cities)]
        limit = args.default_limit if route == "default" else None
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command, stdout=subprocess.PIPE, text=True, check=True, timeout=limit
            )
        except subprocess.TimeoutExpired:
            seconds = time.perf_counter() - started
            print(f"{route}: stopped unfinished after {seconds:.0f} s", file=sys.stderr)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    table = pd.DataFrame(rows).drop(columns=["means", "sds"])
    table["start"] = [json.dumps(s) for s in table["start"]]
    show = (lambda t: t.to_markdown(index=False)) if args.markdown else (lambda t: t.to_string())
    print(show(table))
    if len(rows) > 1:
        print()
        print(show(compare(rows)))


if __name__ == "__main__":
    main()
