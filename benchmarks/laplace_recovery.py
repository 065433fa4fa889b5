"""The Laplace route's recovery of the physics constants, seed by seed, against the truth.

For each seed: simulate a network of the ladder (:func:`bayesspr.simulate.simulate_network`),
fit ``SPRModel().fit(table, method="laplace")`` in process, and compare each global constant's
posterior mean with the simulation's truth in posterior sd (z). For the pooled population
medians the truth is the realised one (the geometric mean of the groups the simulation drew),
and for the spreads the realised sd of the drawn log effects. Also printed: the mode search's
Newton decrement (how far, in posterior sd, the search ended from the mode of its Gaussian;
of the rest given the spreads where the spreads were moved to their marginal mode), its
polish steps, the spreads' Newton steps and seconds
(:mod:`bayesspr.inference.marginal_spreads`), and the fit's time. The last line is the mean z
over seeds with its standard error: a z that stays away from zero seed after seed is a bias,
not chance.

Usage: ``python benchmarks/laplace_recovery.py --rung M --seeds 0 1 2``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd

GLOBALS = ("stem_speed_kmh", "tour_constant", "fill", "sigma_route")


def run(rung: str, seed: int) -> dict:
    """One seed's fit and its z-scores against the truth."""
    from bayesspr import SPRModel
    from bayesspr.data.table import validate
    from bayesspr.simulate.ladder import simulate_network

    warnings.simplefilter("ignore")
    world = simulate_network(rung, seed=seed)
    table = validate(world.table, require_routes=True)
    started = time.perf_counter()
    model = SPRModel().fit(table, method="laplace", random_seed=seed)
    seconds = time.perf_counter() - started
    post = model.idata["posterior"]
    truth = world.truth
    row = {"seed": seed, "rows": len(table), "fit s": round(seconds, 1)}
    mode = model.diagnostics["mode"]
    row["decrement (sd)"] = mode.get("newton_decrement")
    row["polish steps"] = mode.get("polish_steps")
    spreads = mode.get("spreads") or {}
    row["spread steps"] = spreads.get("steps")
    row["spread s"] = spreads.get("seconds")
    targets = {name: truth.scalars[name] for name in GLOBALS}
    overheads = truth.groups["overhead_hours_station"]
    targets["overhead_hours_pop"] = float(np.exp(np.log(overheads).mean()))
    targets["overhead_hours_sd"] = float(np.log(overheads).std())
    targets["zip_effect_sd"] = float(truth.groups["zip_effect"].std())
    for name, target in targets.items():
        draws = post[name].to_numpy().ravel()
        row[f"{name} mean"] = float(draws.mean())
        row[f"{name} z"] = round(float((draws.mean() - target) / draws.std()), 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rung", default="M")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        rows.append(run(args.rung, seed))
        print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    zs = [c for c in table if c.endswith(" z")]
    summary = {"seed": "mean z ± se"} | {
        c: f"{table[c].mean():+.2f} ± {table[c].std(ddof=1) / np.sqrt(len(table)):.2f}"
        if len(table) > 1
        else f"{table[c].mean():+.2f}"
        for c in zs
    }
    shown = table[["seed", "rows", "fit s", "decrement (sd)", "polish steps", *zs]].astype(object)
    shown = pd.concat([shown, pd.DataFrame([summary])], ignore_index=True).fillna("")
    print(shown.to_markdown(index=False) if args.markdown else shown.to_string(index=False))


if __name__ == "__main__":
    main()
