"""Coverage by forecast horizon of the volume models on worlds with one effect each.

For each effect of :data:`bayesspr.simulate.volume_worlds.EFFECT_WORLDS` and each seed,
simulate a world (2 cities × 5 stations × 2 zips by default, one year of daily history, 16
months ahead, known holiday regressor), fit the model, forecast the held-out days and score,
pooled over the seeds (:func:`bayesspr.evaluation.volume_calibration.effect_coverage`): the
share of station-days inside the 80 % interval, of station-months inside the 90 %
interval, of zip-months inside the 80 % interval and of city-months inside the 90 % interval
(the sum of a city's stations' draws), at forecast months 1, 6 and 16, with the 99 % binomial
band around nominal in brackets (months of one world share their growth error, so a band over
few worlds is generous only if the forecast is honest). Effects shared by a city's stations
(growth drift, city-day shocks) need many cities to score: use more cities and seeds, e.g.
``--cities 4 --stations-per-city 2 --seeds 10 11 12 13 14 15 16 17 18 19``.

Models: ``two-level`` (the default :class:`bayesspr.VolumeModel`, station totals × zip
shares) and ``zip-day`` (the zip-day negative-binomial reference,
:class:`bayesspr.volume.zip_day.ZipDayVolumeModel`), fitted side by side on the same worlds.

Run::

    python benchmarks/volume_coverage.py                              # every effect, 2 seeds
    python benchmarks/volume_coverage.py --effects baseline station_day_shocks --models zip-day
    python benchmarks/volume_coverage.py --effects station_yearly --prior yearly_sd_station=0.1
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from bayesspr.evaluation.volume_calibration import effect_coverage
from bayesspr.simulate.volume_worlds import EFFECT_WORLDS
from bayesspr.volume.model import VolumeModel
from bayesspr.volume.zip_day import ZipDayVolumeModel

MODELS = {"two-level": VolumeModel, "zip-day": ZipDayVolumeModel}


def score_effect(
    name: str,
    effect: str,
    seeds: list[int],
    size: dict[str, int],
    fit_kwargs: dict,
    priors: dict[str, float] | None = None,
) -> list[dict]:
    """Fit one model on every seed's world of one effect; pooled coverage rows."""
    extra = {"priors": priors} if priors else {}
    result = effect_coverage(
        lambda world: MODELS[name](regressors=world.regressors, **extra),
        effect,
        seeds,
        world_size=size,
        fit_kwargs=fit_kwargs,
    )
    rows = []
    for h, r in result.table.iterrows():
        rows.append(
            {
                "model": name,
                "effect": effect,
                "month": h,
                "station-day 80%": _cell(r, "station_day"),
                "station-month 90%": _cell(r, "station_month"),
                "zip-month 80%": _cell(r, "zip_month"),
                "city-month 90%": _cell(r, "city_month"),
                "n station-months": int(r["station_month_n"]),
                "n city-months": int(r["city_month_n"]),
                "fit s (median)": round(float(np.median([f["wall_s"] for f in result.fits]))),
                "max R-hat": round(max(f["rhat_max"] for f in result.fits), 3),
                "divergences": sum(f["divergences"] for f in result.fits),
            }
        )
    return rows


def _cell(row: pd.Series, name: str) -> str:
    cover, lo, hi = row[name], row[f"{name}_lo"], row[f"{name}_hi"]
    flag = "" if lo <= cover <= hi else " ✗"
    return f"{cover:.2f} [{lo:.2f}, {hi:.2f}]{flag}"


def main() -> None:
    """Fit and score each chosen effect's worlds with each model; print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--effects", nargs="*", default=list(EFFECT_WORLDS))
    parser.add_argument("--models", nargs="*", default=["two-level"], choices=list(MODELS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[3, 4])
    parser.add_argument("--cities", type=int, default=2)
    parser.add_argument("--stations-per-city", type=int, default=5)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--prior",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="override a prior of the two-level model's spec, e.g. yearly_sd_station=0.1",
    )
    args = parser.parse_args()
    priors = {k: float(v) for k, v in (item.split("=", 1) for item in args.prior)}
    rows = []
    for effect in args.effects:
        for name in args.models:
            size = {
                "n_cities": args.cities,
                "stations_per_city": args.stations_per_city,
                "zips_per_station": 2,
            }
            fit_kwargs = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
            chosen = priors if name == "two-level" else None
            rows += score_effect(name, effect, args.seeds, size, fit_kwargs, chosen)
            print(pd.DataFrame(rows[-3:]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print()
    print(table.to_markdown(index=False) if args.markdown else table.to_string(index=False))


if __name__ == "__main__":
    main()
