"""Benchmark: does the default SPR model converge on many worlds, not only on the demo.

Fits the default spec (or ``--spec``) with its default sampler settings on seeded simulated
worlds of different sizes and prints, per world: rows, wall time, max R-hat, min bulk and
tail ESS (with the worst variable), divergences, E-BFMI, and whether every threshold of
``bayesspr.diagnostics`` is met. Ends with the count of converged fits.

    python benchmarks/convergence.py                 # 12 worlds (the test's 10 first), + demo
    python benchmarks/convergence.py --worlds 30     # more seeds
    python benchmarks/convergence.py --spec old.toml # compare a variant
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd

from bayesspr import SPRModel, simulate_world
from bayesspr.data import validate
from bayesspr.demo import DEMO_HORIZON_DAYS
from bayesspr.simulate import convergence_worlds


def demo_history() -> pd.DataFrame:
    """The demo history as the demo and the tests split it."""
    table = validate(simulate_world().table)
    cutoff = table["date"].max() - pd.Timedelta(days=DEMO_HORIZON_DAYS - 1)
    return table[table["date"] < cutoff]


def fit_row(label: str, table: pd.DataFrame, spec: str, seed: int) -> dict:
    """Fit once with default settings and return the diagnostics as a table row."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SPRModel(spec).fit(table, random_seed=seed)
    d = model.diagnostics
    return {
        "world": label, "rows": len(table), "wall_s": round(time.perf_counter() - started, 1),
        "rhat_max": round(d["rhat_max"], 4), "ess_bulk_min": round(d["ess_bulk_min"]),
        "ess_tail_min": round(d["ess_tail_min"]), "worst": d["ess_tail_worst"],
        "divergences": d["divergences"], "ebfmi_min": round(d["ebfmi_min"], 2), "ok": d["ok"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=12, help="number of small worlds")
    parser.add_argument("--first", type=int, default=0, help="first world index")
    parser.add_argument("--spec", default="default", help="spec name or TOML path")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo history")
    args = parser.parse_args()
    rows = []
    jobs = [(label, w.table) for label, w in convergence_worlds(args.worlds, args.first)]
    if not args.no_demo:
        jobs.append(("demo history (seed 7)", demo_history()))
    for i, (label, table) in enumerate(jobs):
        rows.append(fit_row(label, table, args.spec, seed=1))  # as tests/test_convergence.py
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=i == 0), flush=True)
    frame = pd.DataFrame(rows)
    print(f"\n{int(frame['ok'].sum())} of {len(frame)} fits meet every threshold "
          f"(R-hat ≤ 1.01, bulk and tail ESS ≥ 400, no divergence, E-BFMI ≥ 0.3); "
          f"total {frame['wall_s'].sum():.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
