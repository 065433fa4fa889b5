"""Benchmark: does the default SPR model converge on many worlds, not only on the demo.

Fits the default spec (or ``--spec``) with its default sampler settings (seed 1, as
``tests/test_convergence.py``) and prints, per world: rows, wall time, max R-hat, min bulk
and tail ESS (with the worst variable), divergences, E-BFMI, and whether every threshold of
``bayesspr.inference.diagnostics`` is met. Worlds: the small seeded worlds of
``bayesspr.simulate.worlds.convergence_worlds`` (the test fits the first 10) and the three fits a
tester reported unconverged with the earlier prior — the README snippet's table, the table of
``bayesspr simulate --days 120`` that ``bayesspr fit`` gets, and the demo history.
``--baseline`` also fits each world with the earlier ``HalfNormal(0.2)`` prior on the
station-overhead spread and prints the two side by side with the ESS ratio.

    python benchmarks/convergence.py                       # 12 small worlds + the 3 reported
    python benchmarks/convergence.py --worlds 0 --baseline # the table in docs/model.md
    python benchmarks/convergence.py --worlds 30 --no-reported   # more seeds
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from collections.abc import Callable

import pandas as pd

from bayesspr import SPRModel, simulate_world
from bayesspr.cli.demo import DEMO_HORIZON_DAYS
from bayesspr.data.table import validate
from bayesspr.simulate.worlds import convergence_worlds
from bayesspr.spr.spec import load_spec


def demo_history() -> pd.DataFrame:
    """The demo history as the demo and the tests split it."""
    table = validate(simulate_world().table)
    cutoff = table["date"].max() - pd.Timedelta(days=DEMO_HORIZON_DAYS - 1)
    return table[table["date"] < cutoff]


#: The fits a tester reported unconverged with the earlier prior (issue 13).
REPORTED: dict[str, Callable[[], pd.DataFrame]] = {
    "README snippet: simulate_world().table": lambda: simulate_world().table,
    "bayesspr fit on simulate --days 120": lambda: simulate_world(7, n_days=120).table,
    "demo history (test fixture)": demo_history,
}


def halfnormal_spec(base: str) -> dict:
    """The spec as it was before: HalfNormal(0.2) on the station-overhead spread."""
    spec = copy.deepcopy(load_spec(base))
    spec["priors"]["overhead_hours_sd"] = {"dist": "HalfNormal", "sigma": 0.2}
    spec["model"]["name"] = "halfnormal-overhead-spread"
    return spec


def fit_row(label: str, table: pd.DataFrame, spec: str | dict, seed: int = 1) -> dict:
    """Fit once with default settings and return the diagnostics as a table row."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SPRModel(spec).fit(table, random_seed=seed)
    d = model.diagnostics
    return {
        "world": label,
        "rows": len(table),
        "wall_s": round(time.perf_counter() - started, 1),
        "rhat_max": round(d["rhat_max"], 4),
        "ess_bulk_min": round(d["ess_bulk_min"]),
        "ess_tail_min": round(d["ess_tail_min"]),
        "worst": d["ess_tail_worst"],
        "divergences": d["divergences"],
        "ebfmi_min": round(d["ebfmi_min"], 2),
        "ok": d["ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=12, help="number of small worlds (0: none)")
    parser.add_argument("--first", type=int, default=0, help="first small world index")
    parser.add_argument("--spec", default="default", help="spec name or TOML path")
    parser.add_argument("--no-reported", action="store_true", help="skip the 3 reported fits")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also fit with the earlier HalfNormal(0.2) spread prior",
    )
    args = parser.parse_args()
    jobs = []
    if args.worlds > 0:
        jobs += [(label, w.table) for label, w in convergence_worlds(args.worlds, args.first)]
    if not args.no_reported:
        jobs += [(label, make()) for label, make in REPORTED.items()]
    variants = {"current": args.spec}
    if args.baseline:
        variants["halfnormal"] = halfnormal_spec(args.spec)
    rows = []
    for label, table in jobs:
        for name, spec in variants.items():
            rows.append({"prior": name, **fit_row(label, table, spec)})
            print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    frame = pd.DataFrame(rows)
    print("\n" + frame.to_string(index=False))
    if args.baseline:
        wide = frame.pivot(index="world", columns="prior", values="ess_tail_min")
        ratio = (wide["current"] / wide["halfnormal"]).round(2).rename("tail ESS ratio")
        print("\ntail ESS, current / earlier prior:\n" + ratio.to_string())
    current = frame[frame["prior"] == "current"]
    print(
        f"\n{int(current['ok'].sum())} of {len(current)} fits with the current spec meet every "
        "threshold (R-hat ≤ 1.01, bulk and tail ESS ≥ 400, no divergence, E-BFMI ≥ 0.3); "
        f"total {frame['wall_s'].sum():.0f} s"
    )


if __name__ == "__main__":
    main()
