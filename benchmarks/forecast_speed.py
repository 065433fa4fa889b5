"""Speed and memory of the composed 16-month forecast (volume × SPR), vectorised vs. per zip.

Runs, side by side on the demo world's fits:

1. ``bayesspr.forecasting.compose.forecast`` for every zip of the demo world, 16 months, 400
   joint draws;
2. a baseline: the same draws made zip by zip in a Python loop (what a hand-rolled notebook
   does), for the same zips — the ratio is printed;
3. the vectorised forecast for 10,000 zips under 1,000 stations in 10 cities of the size
   ladder (``simulate_network``), with the demo SPR fit (the new zips, stations and cities
   draw their effects from the population) and volume draws made lazily by Dask block by
   block (:func:`lazy_volume`: each zip's recent mean stops with log-normal day noise, no
   volume fit: the demo volume posterior knows only its 17 zips), with ``keep_zips=False``
   (station-day draws only), reporting time and peak memory. Its throughput is that of the
   route draws and station sums, not of the volume model's draws.

Usage: ``python benchmarks/forecast_speed.py [--zips 10000] [--samples 200]``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from bayesspr import SPRModel, simulate_world
from bayesspr.cli.demo import DEMO_HORIZON_DAYS
from bayesspr.data.network import Network
from bayesspr.data.table import validate
from bayesspr.forecasting.compose import CHUNK_ELEMENTS, forecast, horizon_days
from bayesspr.inference.sharded import peak_rss_mib
from bayesspr.simulate.ladder import simulate_network
from bayesspr.spr.physics import ZoneDay
from bayesspr.volume.model import VolumeModel

HORIZON_DAYS = 487  # 16 months


def fits(cache: str | None = None) -> tuple[SPRModel, VolumeModel]:
    """Fit both models on the demo history (as ``bayesspr demo`` does), or load them.

    With ``cache`` (a folder), fits are read from ``spr.nc`` / ``volume.nc`` there when
    present and written there otherwise.
    """
    if cache is not None and (Path(cache) / "spr.nc").is_file():
        return SPRModel.load(Path(cache) / "spr.nc"), VolumeModel.load(Path(cache) / "volume.nc")
    table = validate(simulate_world().table)
    cutoff = table["date"].max() - pd.Timedelta(days=DEMO_HORIZON_DAYS - 1)
    history = table[table["date"] < cutoff]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spr = SPRModel().fit(history, random_seed=1)
        volume = VolumeModel().fit(history, random_seed=2)
    if cache is not None:
        spr.save(Path(cache) / "spr.nc")
        volume.save(Path(cache) / "volume.nc")
    return spr, volume


def per_zip_loop(spr: SPRModel, volume: VolumeModel, n_samples: int) -> float:
    """Baseline: one zip at a time (volume draws, route draws, station sums), seconds."""
    net = volume.network
    dates = horizon_days(volume.last_date + pd.Timedelta(days=1), "16M")
    started = time.perf_counter()
    vpost = volume.posterior_samples(n_samples, random_seed=0)
    spost = spr.posterior_samples(n_samples, random_seed=1)
    rng = np.random.default_rng(0)
    labels = {
        "city": np.array(sorted(net.zips["city"].unique())),
        "station": np.array(sorted(net.stations.index)),
        "zip": net.zips.index.to_numpy(),
    }
    params = spr.parameter_draws(spost, labels, rng)
    totals: dict[str, np.ndarray] = {}
    n_d = len(dates)
    for zpos, z in enumerate(net.zips.index):  # a notebook's loop over zips
        station = net.zips.loc[z, "station"]
        stops, packages = volume.volume_draws(
            vpost, dates, np.array([z]), np.random.SeedSequence([0, zpos])
        )
        rows = ZoneDay(
            stops=np.maximum(stops[:, :, 0], 1).astype(float),
            packages=np.maximum(packages[:, :, 0], 1).astype(float),
            capacity=np.full(n_d, net.stations.loc[station, "van_capacity"]),
            area_km2=np.full(n_d, net.zips.loc[z, "area_km2"]),
            stem_km=np.full(n_d, net.stem_km.loc[(z, station)]),
            shift_hours=np.full(n_d, net.stations.loc[station, "shift_hours"]),
        )
        index = {
            "city": np.full(n_d, list(labels["city"]).index(net.zips.loc[z, "city"])),
            "station": np.full(n_d, list(labels["station"]).index(station)),
            "zip": np.full(n_d, zpos),
        }
        routes, _ = spr.route_draws(params, rows, index, rng)
        totals[station] = totals.get(station, 0) + routes
    return time.perf_counter() - started


def lazy_volume(table: pd.DataFrame, n_samples: int) -> xr.Dataset:
    """Volume draws (sample, date, zip) made by Dask only when a block of zips is read."""
    last = table["date"].max()
    recent = table[table["date"] > last - pd.Timedelta(days=28)]
    mean = recent.groupby("zip", observed=True)["stops"].mean()
    zips, level = mean.index.astype(str).to_numpy(), mean.to_numpy()
    dates = pd.date_range(last + pd.Timedelta(days=1), periods=HORIZON_DAYS, freq="D")
    block = max(1, CHUNK_ELEMENTS // (n_samples * len(dates)))
    edges = [*range(0, len(zips), block), len(zips)]

    def make(block_info=None):
        z0, z1 = block_info[None]["array-location"][2]
        rng = np.random.default_rng([0, z0])
        noise = np.exp(0.15 * rng.standard_normal((n_samples, len(dates), z1 - z0)))
        return np.round(level[None, None, z0:z1] * noise)

    chunks = ((n_samples,), (len(dates),), tuple(np.diff(edges)))
    stops = da.map_blocks(make, chunks=chunks, dtype=float, meta=np.array((), dtype=float))
    dims = ("sample", "date", "zip")
    coords = {"sample": np.arange(n_samples), "date": dates, "zip": zips}
    return xr.Dataset(
        {"stops": (dims, stops), "packages": (dims, da.round(stops * 1.7))}, coords=coords
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zips", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--fits", default=None, help="folder caching the two fits (netCDF)")
    args = parser.parse_args()

    started = time.perf_counter()
    spr, volume = fits(args.fits)
    print(f"fits (SPR + volume) on the demo history: {time.perf_counter() - started:.0f} s")

    n_demo = 400
    started = time.perf_counter()
    demo = forecast(spr, volume, "16M", n_samples=n_demo, random_seed=0)
    t_vec = time.perf_counter() - started
    cells = demo.draws.sizes["date"] * demo.draws.sizes["zip"]
    print(
        f"vectorised: {demo.draws.sizes['zip']} zips x {demo.draws.sizes['date']} days x "
        f"{n_demo} draws in {t_vec:.2f} s"
    )
    t_loop = per_zip_loop(spr, volume, n_demo)
    print(
        f"baseline, loop per zip: {t_loop:.2f} s for the same {cells} zip-days "
        f"-> vectorised / loop time ratio {t_vec / t_loop:.2f}"
    )

    table = simulate_network(
        None,
        n_zips=args.zips,
        n_stations=max(1, args.zips // 10),
        n_cities=max(1, args.zips // 1000),
    ).table
    network = Network.from_table(table)
    big = lazy_volume(table, args.samples)
    del table
    rss0 = peak_rss_mib()
    started = time.perf_counter()
    result = forecast(
        spr, big, network=network, n_samples=args.samples, random_seed=0, keep_zips=False
    )
    t_big = time.perf_counter() - started
    rss1 = peak_rss_mib()
    n_cells = args.zips * result.draws.sizes["date"]
    print(
        f"vectorised: {args.zips} zips x {result.draws.sizes['date']} days x {args.samples} "
        f"draws ({n_cells * args.samples / 1e9:.2f} billion zip-day draws) in {t_big:.0f} s; "
        f"{result.draws.sizes['station']} stations; peak RSS {rss1:.0f} MiB "
        f"(was {rss0:.0f} MiB before)"
    )
    print(
        f"throughput: {n_cells * args.samples / t_big / 1e6:.1f} million zip-day draws/s "
        f"(demo: {cells * n_demo / t_vec / 1e6:.1f} million/s)"
    )


if __name__ == "__main__":
    main()
