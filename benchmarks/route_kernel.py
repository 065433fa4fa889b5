"""Route draws compiled (one fused PyTensor function) against the same formulas in numpy.

Captures one block of the composed forecast on a rung of the size ladder (the rows, parameter
draws and normals ``forecast`` hands to ``SPRModel.route_draws``), then times, on that block:

1. ``SPRModel.route_draws`` (the compiled kernel, what forecasts use);
2. the numpy evaluation of the same physics (``route_constants``, ``log_route_need``,
   ``route_counts``, ``expected_route_km``): what ``route_draws`` did before;

best of ``--repeats``, and checks that both give the same routes.

Usage: ``python benchmarks/route_kernel.py [--rung S] [--samples 50] [--fits FOLDER]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from forecast_speed import fits, lazy_volume

from bayesspr.data.network import Network
from bayesspr.forecasting.compose import forecast
from bayesspr.simulate.ladder import simulate_network
from bayesspr.spr import physics
from bayesspr.spr.likelihood import route_counts
from bayesspr.spr.model import SPRModel, log_route_need


def numpy_route_draws(spr, params, rows, index, normals):
    """The formulas of ``route_draws`` evaluated by numpy, one array per operation."""
    constants = params.route_constants(index, float(spr.spec["constants"]["circuity"]))
    floor = np.atleast_2d(physics.capacity_floor_routes(rows.packages, rows.capacity))
    routes = route_counts(log_route_need(rows, constants), params.sigma_route, floor, normals[0])
    km = physics.expected_route_km(rows, constants, routes=routes)
    if params.sigma_km is not None:
        km = km * np.exp(params.sigma_km * normals[1])
    return routes, np.broadcast_to(km, routes.shape)


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="S", choices=["S", "M", "L"])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fits", default=None, help="folder caching the two fits (netCDF)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    spr, _ = fits(args.fits)
    table = simulate_network(args.rung).table
    network = Network.from_table(table)
    volume = lazy_volume(table, args.samples)
    block = {}
    real = SPRModel.route_draws

    def capture(self, params, rows, index, rng=None, *, normals=None):
        block.setdefault("args", (params, rows, index, normals))
        return real(self, params, rows, index, rng, normals=normals)

    SPRModel.route_draws = capture
    try:
        forecast(spr, volume, network=network, n_samples=args.samples, keep_zips=False)
    finally:
        SPRModel.route_draws = real
    params, rows, index, normals = block["args"]
    compiled = spr.route_draws(params, rows, index, normals=normals)
    by_numpy = numpy_route_draws(spr, params, rows, index, normals)
    assert np.array_equal(compiled[0], by_numpy[0]), "compiled and numpy routes differ"
    size = compiled[0].size
    t_compiled = best_of(
        args.repeats, lambda: spr.route_draws(params, rows, index, normals=normals)
    )
    t_numpy = best_of(args.repeats, lambda: numpy_route_draws(spr, params, rows, index, normals))
    print(f"rung {args.rung}, first block: {size:,} zip-day draws ({args.samples} draws)")
    print(f"| route draws | best of {args.repeats} (s) | million draws/s |")
    print("|---|---|---|")
    print(f"| numpy formulas | {t_numpy:.3f} | {size / t_numpy / 1e6:.1f} |")
    print(f"| compiled kernel | {t_compiled:.3f} | {size / t_compiled / 1e6:.1f} |")
    print(f"speed-up: {t_numpy / t_compiled:.2f}x; routes identical")


if __name__ == "__main__":
    main()
