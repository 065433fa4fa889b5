"""Generate the size ladder's networks and print rows, seconds and memory for each rung.

    python benchmarks/size_ladder.py [--rungs S M L] [--seed 0]

Side by side with ``simulate_world`` (rows built one by one) at the largest size it allows
in reasonable time (``--baseline-zips``, default 400 zips for a year), for the speed ratio.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from bayesspr.simulate.ladder import RUNGS, simulate_network
from bayesspr.simulate.worlds import simulate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rungs", nargs="+", default=list(RUNGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-zips", type=int, default=400)
    args = parser.parse_args()
    print("network                      zip-days     seconds  rows/s       table MB  peak MB")
    rates = {}
    for rung in args.rungs:
        tracemalloc.start()
        started = time.perf_counter()
        world = simulate_network(rung, seed=args.seed)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        rows = len(world.table)
        size = world.table.memory_usage(deep=True).sum() / 1e6
        rates[rung] = rows / seconds
        zips, stations, cities = RUNGS[rung]
        label = f"{rung}: {zips:,} z, {stations:,} st, {cities} c"
        print(
            f"{label:28s} {rows:11,d} {seconds:9.1f}  {rows / seconds:11,.0f}  "
            f"{size:9.0f}  {peak:7.0f}",
            flush=True,
        )
    per_station = max(1, args.baseline_zips // 20)
    started = time.perf_counter()
    base = simulate_world(
        args.seed, n_cities=2, stations_per_city=10, zips_per_station=per_station, n_days=365
    )
    seconds = time.perf_counter() - started
    rate = len(base.table) / seconds
    print(f"{'simulate_world (baseline)':28s} {len(base.table):11,d} {seconds:9.1f}  {rate:11,.0f}")
    for rung, r in rates.items():
        print(f"rung {rung}: {r / rate:,.0f}x the baseline's rows per second")


if __name__ == "__main__":
    main()
