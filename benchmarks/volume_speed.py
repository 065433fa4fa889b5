"""Fit speed of the volume model: wall time, min bulk ESS, ESS/s and chain balance.

For each network size (zips × one year of daily history, 8 zips per station, 4 stations per
city) and each ``day_shocks`` option, fit :class:`bayesspr.VolumeModel` on the same seeded
world and print the wall time (s), the smallest bulk ESS over all parameters, ESS per second
and the work of each chain (leapfrog steps: the sum of ``n_steps``, which is what a chain's
time is proportional to) as max / median over chains.

Run (side by side under the same conditions; the machine's other load shifts wall times)::

    python benchmarks/volume_speed.py --zips 64 400 1000 --day-shocks none station
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from bayesspr.simulate.volume_worlds import simulate_volume_world
from bayesspr.volume.model import VolumeModel


def fit_once(n_zips: int, day_shocks: str, days: int, draws: int, tune: int, chains: int) -> dict:
    """Fit one world; return wall time, ESS and chain-work figures."""
    stations = max(1, n_zips // 8)
    cities = 2 if stations >= 2 else 1
    world = simulate_volume_world(
        5,
        n_cities=cities,
        stations_per_city=stations // cities,
        zips_per_station=n_zips // stations,
        n_days=days,
        horizon_days=0,
        station_day_sd=0.05,
    )
    model = VolumeModel(regressors=world.regressors, day_shocks=day_shocks)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(world.table, random_seed=1, draws=draws, tune=tune, chains=chains)
    wall = time.perf_counter() - start
    steps = model.idata["sample_stats"]["n_steps"].sum("draw").to_numpy()
    d = model.diagnostics
    return {
        "zips": world.table["zip"].nunique(),
        "zip_days": len(world.table),
        "day_shocks": day_shocks,
        "wall_s": round(wall, 1),
        "ess_bulk_min": round(d["ess_bulk_min"]),
        "ess_per_s": round(d["ess_bulk_min"] / wall, 2),
        "rhat_max": round(d["rhat_max"], 3),
        "divergences": d["divergences"],
        "chain_work_max_over_median": round(float(steps.max() / np.median(steps)), 2),
    }


def main() -> None:
    """Fit every size × option and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zips", nargs="*", type=int, default=[64, 400, 1000])
    parser.add_argument("--day-shocks", nargs="*", default=["none", "station"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    args = parser.parse_args()
    rows = []
    for n in args.zips:
        for option in args.day_shocks:
            rows.append(fit_once(n, option, args.days, args.draws, args.tune, args.chains))
            print(pd.DataFrame(rows).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
