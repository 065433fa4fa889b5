"""Memory of zip-day forecast draws kept in memory vs. streamed to a Zarr store.

Runs, each in a fresh process (so peak RSS is its own), the composed forecast of a rung of
the size ladder (``simulate_network``; default M: 4,000 zips under 100 stations) for 16
months, with the demo SPR fit (the ladder's cities, stations and zips are new to it, so their
effects come from the population) and volume draws made lazily by Dask block by block (each
zip's recent mean stops with log-normal day noise; no volume fit, so the benchmark measures
the forecast's own memory, not a volume posterior's):

1. baseline: ``forecast(..., keep_zips=True)``, every zip-day draw held in memory;
2. ``forecast(..., store=path)``: each block of zips written to a Zarr store as it is drawn,
   then opened lazily; and a station's zip-day draws read back from the store.

Prints wall time, peak RSS and the store's size on disk, with the ratios store / memory.

Usage: ``python benchmarks/forecast_store.py [--rung M] [--samples 100] [--fits DIR]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from forecast_speed import HORIZON_DAYS, fits, lazy_volume

from bayesspr.data.network import Network
from bayesspr.forecasting.compose import forecast
from bayesspr.inference.sharded import peak_rss_mib
from bayesspr.simulate.ladder import simulate_network


def child(mode: str, rung: str, samples: int, cache: str, folder: str) -> dict:
    """One forecast in this process; its time and peak memory."""
    spr, _ = fits(cache)
    table = simulate_network(rung).table
    network = Network.from_table(table)
    volume = lazy_volume(table, samples)
    del table
    rss0 = peak_rss_mib()
    store = Path(folder) / "draws.zarr" if mode == "store" else None
    started = time.perf_counter()
    result = forecast(spr, volume, network=network, n_samples=samples, random_seed=0, store=store)
    seconds = time.perf_counter() - started
    out = {"mode": mode, "seconds": seconds, "rss_before_mib": rss0}
    draws = result.draws
    out["zips"] = draws.sizes["zip"]
    out["zip_day_draws"] = draws.sizes["zip"] * draws.sizes["date"] * draws.sizes["sample"]
    if store is not None:
        out["store_mib"] = sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 2**20
        station = str(draws["station"].values[0])
        started = time.perf_counter()
        mine = draws["zip"].values[draws["station_of"].values[0] == station]
        picked = draws["routes_zip"].sel(zip=mine).load()
        out["read_one_station_s"] = time.perf_counter() - started
        out["read_one_station_zips"] = int(picked.sizes["zip"])
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="M", choices=["S", "M", "L"])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--fits", default=None, help="folder caching the two fits (netCDF)")
    parser.add_argument("--child", choices=["memory", "store"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rung, args.samples, args.fits, args.folder)))
        return
    if args.fits is None:
        args.fits = tempfile.mkdtemp(prefix="bayesspr-fits-")
    fits(args.fits)  # fit (or load) once here, so both children only load the same fits
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("memory", "store"):
            command = [sys.executable, __file__, "--child", mode, "--folder", folder]
            command += ["--rung", args.rung, "--samples", str(args.samples)]
            command += ["--fits", args.fits]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"the {mode} run failed:\n{done.stderr[-3000:]}")
            rows[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    memory, store = rows["memory"], rows["store"]
    n = memory["zip_day_draws"]
    print(
        f"rung {args.rung}: {memory['zips']} zips x {HORIZON_DAYS} days x {args.samples} draws "
        f"= {n / 1e6:.0f} million zip-day draws"
    )
    print("| zip-day draws | wall s | peak RSS MiB | store on disk MiB |")
    print("|---|---|---|---|")
    seconds, peak = memory["seconds"], memory["peak_rss_mib"]
    print(f"| in memory (keep_zips=True) | {seconds:.1f} | {peak:.0f} | – |")
    print(
        f"| streamed to Zarr (store=) | {store['seconds']:.1f} | {store['peak_rss_mib']:.0f} | "
        f"{store['store_mib']:.0f} |"
    )
    print(
        f"ratios store / memory: time {store['seconds'] / memory['seconds']:.2f}, peak RSS "
        f"{store['peak_rss_mib'] / memory['peak_rss_mib']:.2f} (both include the "
        f"{store['rss_before_mib']:.0f} MiB before the forecast: fit, network)"
    )
    print(
        f"reading one station's {store['read_one_station_zips']} zips back from the store: "
        f"{store['read_one_station_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
