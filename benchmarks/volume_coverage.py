"""Coverage by forecast horizon of the volume model on worlds with one effect each.

For each effect of :data:`bayesspr.simulate.volume_worlds.EFFECT_WORLDS`, simulate a seeded
world (one year of daily history, 16 months ahead, known holiday regressor), fit
:class:`bayesspr.VolumeModel`, forecast the held-out days, sum zips to stations and print
the share of station-days inside the 80 % interval and of station-months inside the 90 %
interval at forecast months 1, 6 and 16, with the 99 % binomial band around nominal.

Run::

    python benchmarks/volume_coverage.py                      # every effect, default model
    python benchmarks/volume_coverage.py --effects baseline station_day_shocks --day-shocks none
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from bayesspr.simulate.volume_worlds import (
    EFFECT_WORLDS,
    VolumeWorld,
    coverage_by_horizon,
    simulate_volume_world,
)
from bayesspr.volume.model import VolumeModel


def station_draws(
    model: VolumeModel, world: VolumeWorld, n_samples: int
) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """Forecast stops per station-day (samples, days, stations), the truth and the days."""
    days = pd.DatetimeIndex(sorted(world.future["date"].unique()))
    draws = model.forecast(days, n_samples=n_samples, random_seed=2)
    station = draws["stops"].groupby("station").sum("zip").transpose("sample", "date", "station")
    truth = (
        world.future.groupby(["date", "station"])["stops"]
        .sum()
        .unstack("station")
        .reindex(index=days, columns=station["station"].to_numpy())
    )
    return station.to_numpy(), truth.to_numpy(), days


def main() -> None:
    """Fit and score each chosen effect's world; print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--effects", nargs="*", default=list(EFFECT_WORLDS))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--day-shocks", default=None, help="VolumeModel(day_shocks=...)")
    args = parser.parse_args()
    rows = []
    for effect in args.effects:
        world = simulate_volume_world(
            args.seed, stations_per_city=5, zips_per_station=2, **EFFECT_WORLDS[effect]
        )
        kwargs = {} if args.day_shocks is None else {"day_shocks": args.day_shocks}
        model = VolumeModel(regressors=world.regressors, **kwargs)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(
                world.table, random_seed=1, draws=args.draws, tune=args.tune, chains=args.chains
            )
        wall = time.perf_counter() - start
        draws, truth, days = station_draws(model, world, 1000)
        table = coverage_by_horizon(draws, truth, days)
        d = model.diagnostics
        for h, r in table.iterrows():
            rows.append(
                {
                    "effect": effect,
                    "month": h,
                    "day80": f"{r.day_cover:.2f} [{r.day_lo:.2f},{r.day_hi:.2f}]",
                    "month90": f"{r.month_cover:.2f} [{r.month_lo:.2f},{r.month_hi:.2f}]"
                    f" n={int(r.month_n)}",
                    "fit_s": round(wall),
                    "rhat": round(d["rhat_max"], 3),
                    "ess": round(d["ess_bulk_min"]),
                    "div": d["divergences"],
                }
            )
        print(pd.DataFrame(rows[-len(table) :]).to_string(index=False), flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
