"""Fit speed on the demo world: bayesspr defaults vs a hand-rolled-notebook reference.

The reference is the same model written the way a notebook usually is: every pooled effect
centred, PyMC's own NUTS with its defaults (diagonal mass matrix, target_accept 0.8). Prints
wall time, minimum bulk/tail ESS, divergences and ESS per second, and the ratios.

    python benchmarks/fit_speed.py [--draws 1000] [--tune 800] [--skip-reference]
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings

import pandas as pd

from bayesspr import SPRModel, simulate_world
from bayesspr.cli.demo import DEMO_HORIZON_DAYS
from bayesspr.data.table import validate
from bayesspr.spr.spec import load_spec


def reference_spec() -> dict:
    spec = copy.deepcopy(load_spec())
    for effect in ("service_min_city", "speed_kmh_city", "overhead_hours_station", "zip_effect"):
        spec["hierarchy"][effect] = "centred"
    spec["sampler"].update(target_accept=0.8, mass_matrix="diag")
    return spec


def timed_fit(spec: dict, table: pd.DataFrame, sampler: str, draws: int, tune: int) -> dict:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SPRModel(spec).fit(
            table, random_seed=1, draws=draws, tune=tune, nuts_sampler=sampler
        )
    wall = time.perf_counter() - started
    d = model.diagnostics
    return {
        "wall_s": wall,
        "ess_bulk_min": d["ess_bulk_min"],
        "ess_tail_min": d["ess_tail_min"],
        "rhat_max": d["rhat_max"],
        "divergences": d["divergences"],
        "ess_bulk_per_s": d["ess_bulk_min"] / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=800)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    table = validate(simulate_world().table)
    cutoff = table["date"].max() - pd.Timedelta(days=DEMO_HORIZON_DAYS - 1)
    history = table[table["date"] < cutoff]
    print(f"demo history: {len(history)} zip-days")
    rows = {
        "bayesspr (nutpie, low-rank, tuned parameterisation)": timed_fit(
            load_spec(), history, "nutpie", args.draws, args.tune
        )
    }
    if not args.skip_reference:
        rows["reference (centred, PyMC NUTS defaults)"] = timed_fit(
            reference_spec(), history, "pymc", args.draws, args.tune
        )
    result = pd.DataFrame(rows).T
    print(result.round(3).to_string())
    if len(rows) == 2:
        ours, ref = result.iloc[0], result.iloc[1]
        print(f"\nwall-time ratio (reference / bayesspr): {ref['wall_s'] / ours['wall_s']:.2f}x")
        print(
            f"ESS/s ratio (bayesspr / reference): "
            f"{ours['ess_bulk_per_s'] / max(ref['ess_bulk_per_s'], 1e-9):.2f}x"
        )


if __name__ == "__main__":
    main()
