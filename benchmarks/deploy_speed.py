"""Build and solve time of the deployment program for 10, 100 and 1,000 stations.

Each size is a simulated network (:func:`bayesspr.deploy.example_problem`): 4 years of 2
planned months (summer and winter), one combustion and two electric van types, a budget and an
EV supply cap per year and power per station. Prints variables, constraints, build and solve
seconds, the MIP gap reached within the time limit and the expected cost.

    nice -n 15 python benchmarks/deploy_speed.py [--stations 10 100 1000] [--samples 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import DeployPlan, check_plan
from bayesspr.deploy.program import build_program, solve_program


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--gap", type=float, default=1e-3)
    args = parser.parse_args()
    years = list(range(2027, 2027 + args.years))
    print("stations  vars  rows  build_s  solve_s  status  mip_gap  expected_cost  violations")
    for n in args.stations:
        n_cities = max(1, n // 10)
        stations = [f"S{i:03d}" for i in range(n)]
        kw = np.linspace(20.0, 60.0, len(years))
        problem = example_problem(
            n_stations=n,
            n_cities=n_cities,
            n_years=args.years,
            n_samples=args.samples,
            budget=pd.Series({y: 30_000.0 * n for y in years}),
            ev_supply=pd.Series({y: max(1, n) * (i + 1) for i, y in enumerate(years)}),
            station_power_kw=pd.DataFrame(
                {y: [kw[i]] * n for i, y in enumerate(years)}, index=stations
            ),
        )
        t0 = time.perf_counter()
        program = build_program(problem)
        build_s = time.perf_counter() - t0
        sol = solve_program(program, time_limit=args.time_limit, mip_rel_gap=args.gap)
        bad = check_plan(DeployPlan(problem, program, sol)) if sol.x is not None else ["none"]
        print(
            f"{n:8d}  {program.A.shape[1]:5d}  {program.A.shape[0]:5d}  {build_s:7.2f}  "
            f"{sol.seconds:7.2f}  {sol.status:6d}  {sol.mip_gap:7.2%}  {sol.objective:13,.0f}  "
            f"{len(bad)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
