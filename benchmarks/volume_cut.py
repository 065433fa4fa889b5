"""The zips block's cut route against NUTS on every zip, on a world whose zips' shares move.

:mod:`bayesspr.volume.cut` learns the zips block's five spreads from the zips of some cities
and draws every zip's share-noise scale given them. On the ladder's networks the zips' shares
hardly move (their spreads sit near zero), so this benchmark fits a world of
:func:`bayesspr.simulate.volume_worlds.simulate_volume_world` where they do: zips whose
growth spreads around their city's (``--growth-sd-zip``), and station totals that drift.
It fits ``VolumeModel`` once with NUTS on every zip (the reference) and once per
``--cut-zips`` by the cut route, each in a process of its own, and prints per run the fit's
and the zips block's seconds, and per spread its posterior mean and sd, the gap from the
reference's mean in the reference's sd and in the run's own, and the ratio of sds; and the
zips' noise scales' median and largest gap.

Usage: ``python benchmarks/volume_cut.py --cities 8 --stations-per-city 5 --zips-per-station
20 --cut-zips 200 400``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
from volume_on_dask import SPREADS


def run(args: argparse.Namespace, cut_zips: int) -> dict:
    """One fit (``cut_zips`` 0: NUTS on every zip); its zips block's means and sds."""
    from bayesspr import VolumeModel
    from bayesspr.inference.sharded import peak_rss_mib
    from bayesspr.simulate.volume_worlds import simulate_volume_world

    warnings.simplefilter("ignore")
    world = simulate_volume_world(
        args.seed,
        n_cities=args.cities,
        stations_per_city=args.stations_per_city,
        zips_per_station=args.zips_per_station,
        horizon_days=0,
        growth_sd_zip=args.growth_sd_zip,
        growth_drift_sd=args.growth_drift_sd,
    )
    model = VolumeModel(regressors=world.regressors)
    model.cut_min_zips, model.cut_zips = (0, cut_zips) if cut_zips else (None, 0)
    started = time.perf_counter()
    model.fit(world.table, random_seed=3)
    row = {
        "run": f"cut, {cut_zips} zips" if cut_zips else "NUTS on every zip",
        "zips": int(world.table["zip"].nunique()),
        "fit s": round(time.perf_counter() - started, 1),
        "peak MiB": round(peak_rss_mib()),
        "max R-hat": round(model.diagnostics["rhat_max"], 4),
        "divergences": int(model.diagnostics["divergences"]),
    }
    if cut_zips:
        record = model.diagnostics["approximate_blocks"]["zips"]
        row |= {
            "NUTS zips": record["nuts_share_zips"],
            "cities": len(record["cities"]),
            "NUTS s": record["nuts_seconds"],
            "conditional s": record["conditional_seconds"],
        }
    posterior = model.idata["posterior"]
    for name in (*SPREADS, "share_noise_sd_zip"):
        row[f"{name} mean"] = posterior[name].mean(("chain", "draw")).values.ravel().tolist()
        row[f"{name} sd"] = posterior[name].std(("chain", "draw")).values.ravel().tolist()
    return row


def compare(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs' summary, and each run's spreads against the first run's."""
    reference = rows[0]
    spreads = []
    for row in rows:
        for name in SPREADS:
            mean, sd = row[f"{name} mean"][0], row[f"{name} sd"][0]
            ref_mean, ref_sd = reference[f"{name} mean"][0], reference[f"{name} sd"][0]
            spreads.append(
                {
                    "run": row["run"],
                    "spread": name,
                    "mean": round(mean, 5),
                    "sd": round(sd, 5),
                    "gap (reference sd)": round((mean - ref_mean) / ref_sd, 2),
                    "gap (own sd)": round((mean - ref_mean) / sd, 2),
                    "sd ratio": round(sd / ref_sd, 2),
                }
            )
        gap = np.abs(
            np.subtract(row["share_noise_sd_zip mean"], reference["share_noise_sd_zip mean"])
        ) / np.asarray(reference["share_noise_sd_zip sd"])
        row["scales median gap (sd)"] = round(float(np.median(gap)), 3)
        row["scales max gap (sd)"] = round(float(gap.max()), 3)
    summary = pd.DataFrame(
        [{k: v for k, v in row.items() if not k.endswith((" mean", " sd"))} for row in rows]
    )
    return summary, pd.DataFrame(spreads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=8)
    parser.add_argument("--stations-per-city", type=int, default=5)
    parser.add_argument("--zips-per-station", type=int, default=20)
    parser.add_argument("--growth-sd-zip", type=float, default=0.15)
    parser.add_argument("--growth-drift-sd", type=float, default=0.10)
    parser.add_argument("--cut-zips", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run(args, args.child)))
        return
    rows = []
    for cut_zips in [0, *args.cut_zips]:
        command = [sys.executable, __file__, *sys.argv[1:], "--child", str(cut_zips)]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1]["run"], rows[-1]["fit s"], "s", file=sys.stderr, flush=True)
    summary, spreads = compare(rows)
    show = (lambda t: t.to_markdown(index=False)) if args.markdown else (lambda t: t.to_string())
    print(show(summary))
    print()
    print(show(spreads))


if __name__ == "__main__":
    main()
