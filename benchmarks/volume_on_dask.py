"""The volume fit with its zips block's likelihood on Dask workers, against one process.

``VolumeModel().fit(table, client=client)`` samples the zips block (one share-noise scale per
zip and the network's spreads) by NUTS with each city's zips on a worker
(:mod:`bayesspr.inference.sharded_nuts`); the station totals stay in the fitting process.
This runs the fit on a rung of :mod:`bayesspr.simulate.ladder` (or its first ``--cities``
cities, a stated subset) once in one process (``--in-process``) and once per worker count on
a ``LocalCluster`` (4 GiB a worker), each run a process of its own, and prints per run: wall
time of the fit, of the zips block's NUTS on the workers and the workers' busy time in it,
its gradients and seconds per gradient, worker and driver peak memory, min bulk ESS, max
R-hat and divergences of the whole fit, and the largest gap of the zips block's posterior
means from the first run's, in that run's posterior sd. From the 1- and 2-worker runs it fits
the zips block's time as ``a + b / workers`` and estimates the whole rung on 64 workers, its
zips' part scaled linearly by zips (an estimate, labelled as one).

``--cut`` adds runs of the zips block's cut route (:mod:`bayesspr.volume.cut`, an
approximation): ``cut`` in one process, ``cut:N`` with its second stage's tasks on N workers,
NUTS on the zips of cities holding ``--cut-zips`` share zips. For them the table gives the
route's two stages' seconds, and against the first run (NUTS on every zip) the largest and
median gap of the zips' noise scales and the largest gap and smallest sd ratio of the spreads.

Usage: ``python benchmarks/volume_on_dask.py --rung L --cities 4 --workers 1 2 --in-process``,
``python benchmarks/volume_on_dask.py --rung M --in-process --workers --cut 0 --cut-zips 1000``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
from spr_on_dask import local_cluster, print_tables, rung_subset

SPREADS = (
    "share_growth_sd",
    "share_weekday_sd",
    "share_drift_sd",
    "ratio_growth_sd",
    "ratio_noise_sd",
)
ZIP_VARIABLES = (
    "share_growth_sd",
    "share_weekday_sd",
    "share_drift_sd",
    "ratio_growth_sd",
    "ratio_noise_sd",
    "share_noise_sd_zip",
)


def run(config: str, rung: str, cities: int | None, seed: int, cut_zips: int) -> dict:
    """One fit; the zips block's means and sds.

    ``config``: ``"process"``, ``"dask:N"`` (the zips block's rows on N workers), ``"cut"`` or
    ``"cut:N"`` (the cut route, its second stage here or on N workers).
    """
    from bayesspr import VolumeModel
    from bayesspr.data.table import validate
    from bayesspr.inference.sharded import peak_rss_mib, reset_peak_rss

    warnings.simplefilter("ignore")
    table, whole = rung_subset(rung, cities, seed)
    table = validate(table)
    reset_peak_rss()
    row = {
        "run": config,
        "cities": f"{table['city'].nunique()} of {whole['cities']}",
        "zips": int(table["zip"].nunique()),
        "rung zips": whole["zips"],
    }
    if config == "process":
        started = time.perf_counter()
        model = VolumeModel()
        model.cut_min_zips = None  # NUTS on every zip, whatever the size
        model.fit(table, random_seed=2)
        seconds = time.perf_counter() - started
    elif config.startswith("cut"):
        model = VolumeModel()
        model.cut_min_zips, model.cut_zips = 0, cut_zips
        workers = int(config.split(":")[1]) if ":" in config else 0
        with local_cluster(workers) if workers else contextlib.nullcontext() as client:
            started = time.perf_counter()
            model.fit(table, random_seed=2, client=client)
            seconds = time.perf_counter() - started
        record = model.diagnostics["approximate_blocks"]["zips"]
        row |= {
            "workers": workers or None,
            "cut NUTS zips": record["nuts_share_zips"],
            "cut NUTS s": record["nuts_seconds"],
            "cut conditional s": record["conditional_seconds"],
        }
    else:
        workers = int(config.split(":")[1])
        model = VolumeModel()
        model.shard_min_zips = 0  # split at any size: this measures the split itself
        with local_cluster(workers) as client:
            started = time.perf_counter()
            model.fit(table, random_seed=2, client=client)
            seconds = time.perf_counter() - started
        record = model.diagnostics["sharded"]["zips"]
        by_worker = record["by_worker"].values()
        row |= {
            "workers": workers,
            "zips NUTS s": record["nuts_seconds"],
            "worker busy s": max(w["busy_seconds"] for w in by_worker),
            "gradients": record["calls"],
            "s per gradient": round(record["nuts_seconds"] / record["calls"], 5),
            "worker peak MiB": round(max(w["peak_rss_mib"] for w in by_worker)),
        }
    diagnostics = model.diagnostics
    row |= {
        "fit s": round(seconds, 1),
        "driver peak MiB": round(peak_rss_mib()),
        "min bulk ESS": round(diagnostics["ess_bulk_min"]),
        "max R-hat": round(diagnostics["rhat_max"], 4),
        "divergences": int(diagnostics["divergences"]),
    }
    posterior = model.idata["posterior"]
    row["means"] = {
        v: posterior[v].mean(("chain", "draw")).values.ravel().tolist() for v in ZIP_VARIABLES
    }
    row["sds"] = {
        v: posterior[v].std(("chain", "draw")).values.ravel().tolist() for v in ZIP_VARIABLES
    }
    return row


def estimate(table: pd.DataFrame, workers: int) -> dict | None:
    """The whole rung's volume fit on ``workers`` workers, from the 1- and 2-worker runs.

    The zips block's NUTS as ``a + b / k`` (``b`` the workers' split, ``a`` the messages and
    the driver), the rest of the fit (the station totals, in the driver) as the two runs' mean;
    both scaled by the rung's zips over the subset's, linearly. An estimate; None where two
    workers were not faster than one (there is then nothing to extrapolate).
    """
    runs = table.set_index("run")
    if not {"dask:1", "dask:2"} <= set(runs.index):
        return None
    one, two = runs.loc["dask:1"], runs.loc["dask:2"]
    b = 2.0 * float(one["zips NUTS s"] - two["zips NUTS s"])
    if b <= 0:
        print("no estimate: the 2-worker run was not faster than the 1-worker run", file=sys.stderr)
        return None
    a = max(float(one["zips NUTS s"]) - b, 0.0)
    driver = (
        float(one["fit s"] - one["zips NUTS s"]) + float(two["fit s"] - two["zips NUTS s"])
    ) / 2
    scale = float(one["rung zips"]) / float(one["zips"])
    zips_part = scale * (a + b / workers)
    return {
        "workers": workers,
        "zips": f"{one['rung zips']:,}",
        "a (s)": round(a, 1),
        "b (s)": round(b, 1),
        "zips NUTS s": round(zips_part, 1),
        "station totals s (driver)": round(scale * driver, 1),
        "volume fit s": round(zips_part + scale * driver, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="L")
    parser.add_argument("--cities", type=int, default=None, help="the rung's first N cities")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--in-process", action="store_true", help="also fit without Dask")
    parser.add_argument(
        "--cut",
        type=int,
        nargs="*",
        default=None,
        help="runs of the cut route, one per worker count (0: in this process)",
    )
    parser.add_argument("--cut-zips", type=int, default=4_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.rung, args.cities, args.seed, args.cut_zips)))
        return
    configs = (["process"] if args.in_process else []) + [f"dask:{k}" for k in args.workers]
    configs += [f"cut:{k}" if k else "cut" for k in args.cut or []]
    rows = []
    for config in configs:
        command = [sys.executable, __file__, "--child", config, "--rung", args.rung]
        command += ["--seed", str(args.seed), "--cut-zips", str(args.cut_zips)]
        command += ["--cities", str(args.cities)] if args.cities else []
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1])[:2000], file=sys.stderr, flush=True)
    first = rows[0]
    for row in rows:
        gaps = {
            v: np.abs(np.subtract(row["means"][v], first["means"][v])) / np.asarray(first["sds"][v])
            for v in ZIP_VARIABLES
        }
        row["zips block max gap (sd)"] = round(float(max(g.max() for g in gaps.values())), 3)
        if any(config.startswith("cut") for config in configs):
            row["scales median gap (sd)"] = round(float(np.median(gaps["share_noise_sd_zip"])), 3)
            row["scales max gap (sd)"] = round(float(gaps["share_noise_sd_zip"].max()), 3)
            row["spreads max gap (sd)"] = round(float(max(gaps[v].max() for v in SPREADS)), 3)
            row["spreads min sd ratio"] = round(
                float(min(row["sds"][v][0] / first["sds"][v][0] for v in SPREADS)), 3
            )
    table = pd.DataFrame(rows).drop(columns=["means", "sds"])
    print_tables(table, estimate(table, 64), markdown=args.markdown)


if __name__ == "__main__":
    main()
