"""Speed and memory of the composed 16-month forecast (volume × SPR), vectorised vs. per zip.

Runs, side by side on the demo world's fits:

1. ``bayesspr.forecasting.compose.forecast`` for every zip of the demo world, 16 months, 400
   joint draws;
2. a baseline: the same draws made zip by zip in a Python loop (what a hand-rolled notebook
   does), for the same zips — the ratio is printed;
3. the vectorised forecast for 10,000 zips (the demo posterior's zip effects replicated
   over 10,000 relabelled zips under 1,000 stations, so the machinery runs at full size),
   with ``keep_zips=False`` (station-day draws only), reporting time and peak memory.

Usage: ``python benchmarks/forecast_speed.py [--zips 10000] [--samples 200]``.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr import SPRModel, simulate_world
from bayesspr.cli.demo import DEMO_HORIZON_DAYS
from bayesspr.data.network import Network
from bayesspr.data.table import validate
from bayesspr.forecasting.compose import forecast, horizon_days
from bayesspr.spr.physics import ZoneDay
from bayesspr.volume.model import VolumeModel


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


def scaled_volume(volume: VolumeModel, n_zips: int, n_stations: int) -> VolumeModel:
    """The demo volume posterior with its zip effects replicated over ``n_zips`` new zips."""
    post = volume.idata["posterior"].to_dataset()
    source = np.arange(n_zips) % post.sizes["zip"]
    names = np.array([f"{90000 + i:05d}" if i < 10000 else f"Z{i}" for i in range(n_zips)])
    zip_vars = [v for v in post.data_vars if "zip" in post[v].dims]
    big = post[zip_vars].isel(zip=source).assign_coords(zip=names)
    post = xr.merge([post.drop_vars(zip_vars).drop_dims("zip"), big])
    stations = np.array([f"S{j:04d}" for j in range(n_stations)])
    station_of = stations[np.arange(n_zips) % n_stations]
    city_of = volume.zips["city"].to_numpy()[source]
    out = VolumeModel(volume.priors, harmonics=volume.harmonics)
    out.idata = xr.DataTree.from_dict({"posterior": post})
    out.last_date = volume.last_date
    out.time_origin = volume.time_origin
    out.fourier_centre = volume.fourier_centre
    out.zips = pd.DataFrame(
        {"city": city_of, "station": station_of, "first_date": volume.last_date},
        index=pd.Index(names, name="zip"),
    )
    net = volume.network
    st_city = pd.Series(city_of, index=station_of).groupby(level=0).first()
    out.network = Network(
        zips=pd.DataFrame(
            {
                "city": city_of,
                "station": station_of,
                "area_km2": net.zips["area_km2"].to_numpy()[source],
            },
            index=out.zips.index,
        ),
        stations=pd.DataFrame({"city": st_city, "shift_hours": 8.0, "van_capacity": 300.0}),
        stem_km=pd.Series(
            np.exp(np.random.default_rng(0).normal(np.log(12), 0.5, n_zips)),
            index=pd.MultiIndex.from_arrays([names, station_of]),
        ),
    )
    return out


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

    big = scaled_volume(volume, args.zips, max(1, args.zips // 10))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = forecast(spr, big, "16M", n_samples=args.samples, random_seed=0, keep_zips=False)
    t_big = time.perf_counter() - started
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
