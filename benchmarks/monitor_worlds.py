"""The monthly monitor on seeded worlds with injected events: issue 18's figures.

Each world (``simulate_world(300 + i)``) is split into its history and its last 28 days;
the SPR and volume models are fitted on the history with default settings; each event of
``bayesspr.simulate.EVENT_KINDS`` is injected once into the month and the monitor is run.
Prints a line per world, then the figures (the same as ``make validate``'s check).

    python benchmarks/monitor_worlds.py [--worlds 20] [--csv outcomes.csv]
"""

from __future__ import annotations

import argparse
import time

from bayesspr.monitor.outcomes import event_worlds, summarise_outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=20)
    parser.add_argument("--csv", default=None, help="write every outcome row here")
    args = parser.parse_args()
    started = time.perf_counter()
    outcomes = event_worlds(args.worlds, progress=lambda line: print(line, flush=True))
    if args.csv:
        outcomes.to_csv(args.csv, index=False)
    print(f"{args.worlds} worlds in {time.perf_counter() - started:.0f} s")
    for name, value in summarise_outcomes(outcomes).items():
        print(f"{name:18s} {value:.2f}")


if __name__ == "__main__":
    main()
