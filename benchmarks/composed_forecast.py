"""Throughput of the composed 16-month forecast with the volume model's own draws, on a rung.

Fits (or loads from ``--fits``) a ``VolumeModel`` with its defaults and an ``SPRModel`` by
the Laplace approximation (the forecast's cost does not depend on how the SPR posterior was
found) on a rung of the size ladder, then runs ``bayesspr.forecast`` for 16 months with
``--samples`` joint draws and ``keep_zips=False``, best of ``--repeats``. It prints the wall
time, zip-day draws per second, and the share of the time spent in the volume model's draws
(``VolumeModel.volume_draws``, timed by wrapping it) and in the route draws
(``SPRModel.route_draws``).

It uses only the public forecast, so the same script run on an earlier commit (``git archive
COMMIT | tar -x -C DIR`` and ``PYTHONPATH=DIR``) with the same ``--fits`` gives the
before/after comparison, side by side in the same hour.

With ``--workers N`` the blocks of zips run as tasks on a ``distributed.LocalCluster`` of N
single-threaded worker processes (``forecast(..., client=...)``); the cluster is started
before the clock starts, and the first repeat pays for sending the models to the workers
and compiling the kernels there.

Usage: ``python benchmarks/composed_forecast.py [--rung S] [--samples 200] [--fits FOLDER]
[--workers N] [--spr-rung S] [--volume-draws N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from pathlib import Path

import numpy as np

from bayesspr import SPRModel, VolumeModel, forecast
from bayesspr.simulate.ladder import simulate_network


def rung_fits(
    rung: str, cache: str | None, spr_rung: str | None = None, volume_draws: int | None = None
) -> tuple[SPRModel, VolumeModel]:
    """Both models fitted on the rung's year (Laplace for SPR), or loaded from ``cache``.

    ``spr_rung`` takes the SPR fit of another (smaller) rung: the zips, stations and cities it
    has not seen draw their effects from the population, which costs the forecast the same.
    ``volume_draws`` fits the volume model with that many tuning steps and draws a chain (2
    chains), unconverged: it times the forecast, not the fit.
    """
    spr_rung = spr_rung or rung
    folder = None if cache is None else Path(cache)
    tag = "" if volume_draws is None else f"_short{volume_draws}"
    spr_path = None if folder is None else folder / f"spr_{spr_rung}.nc"
    volume_path = None if folder is None else folder / f"volume_{rung}{tag}.nc"
    if spr_path is not None and spr_path.is_file():
        spr = SPRModel.load(spr_path)
    else:
        table = simulate_network(spr_rung, seed=0).table
        spr = SPRModel().fit(table, method="laplace", random_seed=1)
        if spr_path is not None:
            spr.save(spr_path, keep="posterior")
    if volume_path is not None and volume_path.is_file():
        return spr, VolumeModel.load(volume_path)
    table = simulate_network(rung, seed=0).table
    short = {} if volume_draws is None else {"draws": volume_draws, "tune": volume_draws}
    volume = VolumeModel().fit(table, random_seed=1, chains=2 if short else None, **short)
    if volume_path is not None:
        volume.save(volume_path)
    return spr, volume


class _Timed:
    """Wraps a method of a class, adding up the seconds spent in it."""

    def __init__(self, cls: type, name: str) -> None:
        self.cls, self.name, self.real, self.seconds = cls, name, getattr(cls, name), 0.0

    def __enter__(self) -> _Timed:
        real = self.real

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        setattr(self.cls, self.name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self.cls, self.name, self.real)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="S", choices=["S", "M", "L"])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fits", default=None, help="folder caching the two fits (netCDF)")
    parser.add_argument("--label", default="this commit", help="name of the row printed")
    parser.add_argument("--workers", type=int, default=0, help="LocalCluster workers (0: none)")
    parser.add_argument("--spr-rung", default=None, help="rung whose SPR fit to use")
    parser.add_argument(
        "--volume-draws", type=int, default=None, help="a short volume fit (draws = tune)"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    spr, volume = rung_fits(args.rung, args.fits, args.spr_rung, args.volume_draws)
    with contextlib.ExitStack() as stack:
        client = None
        if args.workers:
            import distributed

            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=args.workers, threads_per_worker=1, dashboard_address=None
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        run(args, spr, volume, client)


def run(args: argparse.Namespace, spr: SPRModel, volume: VolumeModel, client: object) -> None:
    """Time the forecast ``args.repeats`` times and print the best."""
    runs = []
    for _ in range(args.repeats):
        with (
            _Timed(VolumeModel, "volume_draws") as vol,
            _Timed(SPRModel, "route_draws") as route,
        ):
            started = time.perf_counter()
            result = forecast(
                spr, volume, "16M", n_samples=args.samples, keep_zips=False, client=client
            )
            seconds = time.perf_counter() - started
        runs.append((seconds, vol.seconds, route.seconds))
        sizes = result.draws.sizes
    seconds, vol_s, route_s = min(runs)
    n_zips = len(volume.zips)
    draws = sizes["sample"] * sizes["date"] * n_zips
    print(
        f"rung {args.rung}: {n_zips} zips, {sizes['date']} days, {sizes['sample']} draws = "
        f"{draws:,} zip-day draws; best of {args.repeats}"
    )
    print("| code | wall s | zip-day draws/s | volume draws s | route draws s | other s |")
    print("|---|---|---|---|---|---|")
    other = seconds - vol_s - route_s
    print(
        f"| {args.label} | {seconds:.1f} | {draws / seconds:,.0f} | {vol_s:.1f} | "
        f"{route_s:.1f} | {other:.1f} |"
    )
    station_routes = float(np.asarray(result.draws["routes"].sum()))
    print(f"check: sum of station-day routes over all draws = {station_routes:,.0f}")


if __name__ == "__main__":
    main()
