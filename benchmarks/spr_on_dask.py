"""The SPR fit with its rows on Dask workers: time and memory per worker, 1 and 2 workers.

``SPRModel().fit(table, method="laplace", client=client)`` (:mod:`bayesspr.inference.sharded`;
the route ``method="auto"`` takes past 3,000 parameters, forced here at every size) on a rung of
:mod:`bayesspr.simulate.ladder`, or on its first ``--cities`` cities (a stated subset where the
whole rung does not fit in the time at hand), once per worker count on a ``LocalCluster`` with
a 4 GiB memory limit a worker, and with ``--in-process`` once without Dask, side by side. Each
run is a process of its own, so the fitting process's peak memory is its own.

Per run it prints: wall time of the fit, rows and blocks, the time to build the blocks on
the workers, gradients and seconds per gradient, each worker's peak memory (the most of
them), the fitting process's peak memory during the fit (its peak reset after the table is
made: simulating the whole rung takes more), and the posterior means of the physics constants
with their largest gap to the first run in posterior sd. From the 1- and 2-worker runs it
fits the time per gradient as ``a + b / workers`` and estimates the whole rung on 64 workers
(``--markdown`` prints the tables, with the estimate's sums).

Usage: ``python benchmarks/spr_on_dask.py --rung L --cities 8 --workers 1 2 --in-process``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

CONSTANTS = ("stem_speed_kmh", "tour_constant", "fill", "overhead_hours_pop")


#: Memory limit of each LocalCluster worker in the benchmarks (issue 16's bar for rung L).
WORKER_MEMORY = "4GiB"


def rung_subset(rung: str, cities: int | None, seed: int) -> tuple[pd.DataFrame, dict]:
    """The rung's simulated history, or its first ``cities`` cities (a stated subset).

    Returns the table (not validated) and the whole rung's ``rows``, ``zips`` and ``cities``.
    """
    from bayesspr.simulate.ladder import simulate_network

    table = simulate_network(rung, seed=seed).table
    whole = {
        "rows": len(table),
        "zips": int(table["zip"].nunique()),
        "cities": int(table["city"].nunique()),
    }
    if cities:
        kept = sorted(table["city"].unique())[:cities]
        table = table[table["city"].isin(kept)].reset_index(drop=True)
    return table, whole


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator:
    """A client of a LocalCluster of ``workers`` single-threaded workers, WORKER_MEMORY each."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            memory_limit=WORKER_MEMORY,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _table(rung: str, cities: int | None, seed: int) -> tuple[pd.DataFrame, tuple[int, int]]:
    """The rung's validated table (its first ``cities`` cities); the whole rung's rows, zips."""
    from bayesspr.data.table import validate

    table, whole = rung_subset(rung, cities, seed)
    return validate(table, require_routes=True), (whole["rows"], whole["zips"])


def run(config: str, rung: str, cities: int | None, seed: int) -> dict:
    """One fit: ``config`` is ``"process"`` or ``"dask:N"`` (N local workers)."""
    from bayesspr import SPRModel
    from bayesspr.inference.sharded import peak_rss_mib, reset_peak_rss

    warnings.simplefilter("ignore")
    table, whole = _table(rung, cities, seed)
    reset_peak_rss()  # the fit's own peak, not the simulation's of the whole rung
    row = {
        "run": config,
        "rows": len(table),
        "zips": int(table["zip"].nunique()),
        "cities": int(table["city"].nunique()),
        "rung rows": whole[0],
        "rung zips": whole[1],
    }
    if config == "process":
        started = time.perf_counter()
        model = SPRModel().fit(table, method="laplace", random_seed=1)
        seconds = time.perf_counter() - started
    else:
        workers = int(config.split(":")[1])
        with local_cluster(workers) as client:
            started = time.perf_counter()
            model = SPRModel().fit(table, method="laplace", random_seed=1, client=client)
            seconds = time.perf_counter() - started
        sharded = model.diagnostics["sharded"]
        by_worker = sharded["by_worker"].values()
        row |= {
            "workers": workers,
            "blocks": sum(len(w["blocks"]) for w in by_worker),
            "build s": sharded["build_seconds"],
            "worker peak MiB": max(w["peak_rss_mib"] for w in by_worker),
            "worker busy s": max(w["busy_seconds"] for w in by_worker),
        }
    mode = model.diagnostics["mode"]
    gradients = mode["search_gradients"] + mode["hessian_gradients"]
    posterior = model.idata["posterior"]
    row |= {
        "fit s": round(seconds, 1),
        "method": model.diagnostics["method"],
        "parameters": mode["parameters"],
        "Newton steps": mode["iterations"],
        "gradient norm": mode["gradient_norm"],
        "gradients": gradients,
        "s per gradient": round((seconds - row.get("build s", 0.0)) / gradients, 3),
        "driver peak MiB": round(peak_rss_mib()),
    }
    for name in CONSTANTS:
        row[f"{name} mean"] = float(posterior[name].mean())
        row[f"{name} sd"] = float(posterior[name].std())
    return row


def estimate(table: pd.DataFrame, workers: int) -> dict | None:
    """The whole rung on ``workers`` workers, from the 1- and 2-worker runs (an estimate).

    Time per gradient ``a + b / k`` on k workers: ``b`` the rows' share (split between the
    workers), ``a`` what is not (the driver's prior and Newton algebra, the messages), both
    fitted to the two runs. For the whole rung ``a`` is scaled by its zips over the subset's
    (the parameters are mostly zips' effects) and ``b`` by its rows, with no worker below one
    block's rows; the same number of gradients; the blocks' build time shared by the workers.
    """
    from bayesspr.spr.model import BLOCK_MAX_ROWS

    runs = table.set_index("run")
    if not {"dask:1", "dask:2"} <= set(runs.index):
        return None
    one, two = runs.loc["dask:1"], runs.loc["dask:2"]
    b = 2.0 * float(one["s per gradient"] - two["s per gradient"])
    a = max(float(one["s per gradient"]) - b, 0.0)
    rows, zips = float(one["rung rows"]), float(one["rung zips"])
    per_worker = max(rows / workers, min(BLOCK_MAX_ROWS, rows))
    per_gradient = a * zips / float(one["zips"]) + b * per_worker / float(one["rows"])
    blocks = float(np.ceil(one["blocks"] * rows / one["rows"]))
    build = float(one["build s"]) / float(one["blocks"]) * np.ceil(blocks / workers)
    return {
        "workers": workers,
        "rows": f"{rows:,.0f}",
        "zips": f"{zips:,.0f}",
        "a (s)": round(a, 3),
        "b (s)": round(b, 3),
        "s per gradient": round(per_gradient, 3),
        "gradients": int(one["gradients"]),
        "build s": round(build, 1),
        "fit s": round(build + per_gradient * one["gradients"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="L")
    parser.add_argument("--cities", type=int, default=None, help="the rung's first N cities")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--in-process", action="store_true", help="also fit without Dask")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--runs", default=None, help="tabulate the JSON lines an earlier run printed instead"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.rung, args.cities, args.seed)))
        return
    configs = (["process"] if args.in_process else []) + [f"dask:{k}" for k in args.workers]
    rows = []
    if args.runs:
        lines = Path(args.runs).read_text().splitlines()
        rows = [json.loads(line) for line in lines if line.startswith("{")]
        configs = []
    for config in configs:
        command = [sys.executable, __file__, "--child", config, "--rung", args.rung]
        command += ["--seed", str(args.seed)]
        command += ["--cities", str(args.cities)] if args.cities else []
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    first = table.iloc[0]
    gaps = [
        (table[f"{name} mean"] - first[f"{name} mean"]).abs() / first[f"{name} sd"]
        for name in CONSTANTS
    ]
    table["max gap (sd)"] = [f"{gap:.1e}" for gap in np.max(gaps, axis=0)]
    shown = [
        c
        for c in (
            "run",
            "cities",
            "zips",
            "rows",
            "blocks",
            "parameters",
            "fit s",
            "build s",
            "Newton steps",
            "gradients",
            "s per gradient",
            "worker peak MiB",
            "worker busy s",
            "driver peak MiB",
            "max gap (sd)",
        )
        if c in table
    ]
    print_tables(table[shown], estimate(table, 64), markdown=args.markdown)


def print_tables(table: pd.DataFrame, ahead: dict | None, *, markdown: bool) -> None:
    """The runs (blanks for what a run has not) and the estimate, if any, as text or Markdown."""
    shown = table.astype(object).where(table.notna(), "")
    if markdown:
        print(shown.to_markdown(index=False))
        if ahead:
            print()
            print(pd.DataFrame([ahead]).to_markdown(index=False))
    else:
        print(shown.to_string(index=False))
        if ahead:
            print(ahead)


if __name__ == "__main__":
    main()
