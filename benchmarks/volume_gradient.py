"""Benchmark: cost of one log-density-and-gradient evaluation of the station totals.

Side by side on the same sufficient statistics (a station-total design of 14 months: level,
growth, weekday, two Fourier pairs, a holiday flag and 16 random-walk knots):

* ``independent``: every station's coefficients integrated out on its own
  (:func:`bayesspr.volume.gaussian_groups.posterior_moments`, the first landing's model);
* ``city walk``: the same with each city's walk, shared by its stations, integrated out one
  level up (:func:`bayesspr.volume.gaussian_groups.shared_moments`);
* ``city-day``: the walk and a day shock shared by each city's stations (τ = 0.1) integrated
  out as well (:func:`bayesspr.volume.city_day.city_day_moments`, the default).

Prints milliseconds per evaluation (median of repeats, one thread) and the ratios::

    python benchmarks/volume_gradient.py
    python benchmarks/volume_gradient.py --stations 8 500 1000 --cities 2 40 40
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from bayesspr.volume.city_day import city_day_moments, city_day_statistics
from bayesspr.volume.gaussian_groups import (
    SharedCoefficients,
    group_statistics,
    posterior_moments,
    shared_moments,
)

DAYS, KNOT_DAYS = 425, 28


def _design(rng: np.random.Generator) -> np.ndarray:
    """A station-total design of DAYS days: level, growth, weekday, Fourier, holiday, ramps."""
    t = np.arange(DAYS)
    weekday = np.eye(7)[t % 7][:, :6] - np.eye(7)[t % 7][:, 6:7]
    ang = 2 * np.pi * t[:, None] * np.arange(1, 3)[None, :] / 365.25
    knots = (DAYS - 1) // KNOT_DAYS + 1
    ramps = np.clip((t[:, None] - KNOT_DAYS * np.arange(knots)) / KNOT_DAYS, 0.0, 1.0)
    holiday = (rng.random(DAYS) < 0.03).astype(float)[:, None]
    return np.column_stack(
        [np.ones(DAYS), t / 365.25, weekday, np.cos(ang), np.sin(ang), holiday, ramps]
    )


def _median_ms(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def main() -> None:
    """Time both evaluations at each size; print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", nargs="*", type=int, default=[8, 100, 500, 500, 1000])
    parser.add_argument("--cities", nargs="*", type=int, default=[2, 10, 5, 40, 40])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    design = _design(rng)
    p = design.shape[1]
    knots = (DAYS - 1) // KNOT_DAYS + 1
    rows = []
    for n_stations, n_cities in zip(args.stations, args.cities, strict=True):
        values = rng.normal(6.0, 0.1, (n_stations, DAYS))
        present = np.ones((n_stations, DAYS), bool)
        stats = group_statistics(design, values, present)
        mean = np.tile(rng.normal(0.0, 0.1, p), (n_stations, 1))
        var = np.tile(rng.uniform(0.001, 0.05, p), (n_stations, 1))
        noise = np.full(n_stations, 0.05**2)
        shared = SharedCoefficients(
            cluster=np.arange(n_stations) % n_cities,
            columns=np.arange(p - knots, p),
            n_clusters=n_cities,
        )
        walk_var = np.full((n_cities, knots), 0.01 * KNOT_DAYS / 365.25)
        alone = _median_ms(partial(posterior_moments, stats, mean, var, noise), args.repeats)
        walk = _median_ms(
            partial(shared_moments, stats, mean, var, noise, shared, walk_var), args.repeats
        )
        city_day = city_day_statistics(values, present, shared.cluster)
        shock_var = np.full(n_cities, 0.1**2)
        shocks = _median_ms(
            partial(
                city_day_moments, stats, city_day, mean, var, noise, shared, walk_var, shock_var
            ),
            args.repeats,
        )
        rows.append(
            {
                "stations": n_stations,
                "cities": n_cities,
                "coefficients": p,
                "independent (ms)": round(alone, 3),
                "city walk (ms)": round(walk, 3),
                "city-day (ms)": round(shocks, 3),
                "walk / independent": round(walk / alone, 1),
                "city-day / walk": round(shocks / walk, 1),
            }
        )
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
