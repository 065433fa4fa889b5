"""Deployment at size: the monolithic MILP, city by city, and Benders, side by side.

Each size is a simulated network (:func:`bayesspr.deploy.example_problem`, ten stations per
city): ``--years`` years of ``--months-per-year`` planned months, one combustion and two
electric van types, a budget, an electric supply and a minimum electric share shared by the
cities, power per station. For each method it prints the variables, the wall time, the plan's
cost, a proven lower bound, the gap between them (constants included), and the violations
:func:`bayesspr.deploy.check_plan` finds; with the monolithic solve, each decomposed plan's
cost against the monolithic one's.

    python benchmarks/deploy_speed.py [--stations 10 100 1000] [--samples 20]
        [--methods monolithic city benders] [--workers 2] [--time-limit 900] [--progress]

``--workers N`` solves the cities (``city``: their MILPs; ``benders``: their recourse LPs) on
a local Dask cluster of N processes (``distributed``).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from bayesspr.deploy.benders import deploy_by_benders
from bayesspr.deploy.decompose import deploy_by_city
from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import DeployPlan, check_plan
from bayesspr.deploy.problem import DeployProblem
from bayesspr.deploy.program import build_program, solve_program


def network(n: int, samples: int, years: int, months_per_year: int) -> DeployProblem:
    """The benchmark network of ``n`` stations (ten per city).

    A network that runs today: each city owns as many combustion vans as its first month's
    mean routes, and grows by purchases under a budget of 40,000 per station-year (about two
    vans; the first years' purchases are held by it) and an electric supply of one van per
    station-year, with a minimum electric share rising 5 points a year.
    """
    periods = list(range(2027, 2027 + years))
    stations = [f"S{i:03d}" for i in range(n)]
    kw = np.linspace(20.0, 60.0, years)
    shape = {
        "n_stations": n,
        "n_cities": max(1, n // 10),
        "n_years": years,
        "months_per_year": months_per_year,
        "n_samples": samples,
    }
    today = example_problem(**shape)  # the same world and draws, for its first month
    routes = today.demand.isel(month=0).mean("sample").to_series()
    owned = np.floor(routes.groupby(today.station_city).sum()).astype(int)
    return example_problem(
        **shape,
        budget=pd.Series({y: 40_000.0 * n for y in periods}),
        ev_supply=pd.Series({y: n for y in periods}),
        min_electric_share=pd.Series({y: 0.05 * (i + 1) for i, y in enumerate(periods)}),
        station_power_kw=pd.DataFrame(
            {y: [kw[i]] * n for i, y in enumerate(periods)}, index=stations
        ),
        initial_fleet=pd.DataFrame({"diesel": owned, "ev_small": 0, "ev_large": 0}),
    )


@contextlib.contextmanager
def dask_client(workers: int) -> Iterator[object]:
    """A local Dask cluster's client with ``workers`` processes, or None (in turn)."""
    if workers <= 1:
        yield None
        return
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster:
        with Client(cluster) as client:
            yield client


@contextlib.contextmanager
def executor(workers: int) -> Iterator[Executor | None]:
    """A local Dask cluster's executor with ``workers`` processes, or None (in turn)."""
    if workers <= 1:
        yield None
        return
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster:
        with Client(cluster) as client:
            yield client.get_executor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--months-per-year", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=["monolithic", "city"])
    parser.add_argument("--time-limit", type=float, default=900.0)
    parser.add_argument("--gap", type=float, default=0.01, help="target relative gap")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-monolithic", type=int, default=200, help="most stations")
    parser.add_argument("--progress", action="store_true", help="print each Benders round")
    args = parser.parse_args()
    print("stations  method      vars     seconds  plan_cost      bound          gap     bad")
    for n in args.stations:
        problem = network(n, args.samples, args.years, args.months_per_year)
        costs = {}
        for method in args.methods:
            if method == "monolithic" and n > args.max_monolithic:
                continue
            t0 = time.perf_counter()
            if method == "monolithic":
                program = build_program(problem)
                sol = solve_program(program, time_limit=args.time_limit, mip_rel_gap=args.gap)
                plan = DeployPlan(problem, program, sol)
            elif method == "benders":
                with dask_client(args.workers) as client:
                    plan = deploy_by_benders(
                        problem,
                        target_gap=args.gap,
                        time_limit=args.time_limit,
                        client=client,
                        progress=print if args.progress else None,
                    ).plan
            else:
                with executor(args.workers) as pool:
                    plan = deploy_by_city(
                        problem, target_gap=args.gap, time_limit=args.time_limit, executor=pool
                    ).plan
            seconds = time.perf_counter() - t0
            sol = plan.solution
            bad = check_plan(plan) if sol.x is not None else ["no plan"]
            costs[method] = sol.objective
            print(
                f"{n:8d}  {method:10s}  {len(plan.program.c):8d}  {seconds:7.1f}  "
                f"{sol.objective:13,.0f}  {sol.bound:13,.0f}  {sol.mip_gap:6.2%}  {len(bad)}",
                flush=True,
            )
        for method in ("city", "benders"):
            if method in costs and "monolithic" in costs:
                ratio = costs[method] / costs["monolithic"] - 1
                print(f"{n:8d}  {method} plan vs monolithic plan: {ratio:+.3%}", flush=True)


if __name__ == "__main__":
    main()
