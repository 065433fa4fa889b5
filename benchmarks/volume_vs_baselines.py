"""Benchmark: the volume model's accuracy and calibration against Prophet and AutoETS.

On seeded volume worlds of the package's simulator (64 zips under 8 stations in 2 cities,
14 months of daily history, 16 months held out, with every effect at a moderate size:
station-day and city-day shocks, station yearly cycles, a spread of zip growth and a drift of
growth), three forecasters predict each station's daily stops over the held-out 16 months:

* ``bayesspr``: :class:`bayesspr.VolumeModel` fitted on the zip-day history, its zip-day
  draws summed per station (what the SPR composition uses);
* ``zip-day``: the earlier default, :class:`bayesspr.volume.zip_day.ZipDayVolumeModel` (a
  negative binomial per zip-day, full NUTS over every row), summed the same way: the reference
  the two-level model must be no less accurate than;
* ``prophet``: one Prophet model per station on its daily stops (yearly and weekly
  multiplicative seasonality, the known holiday flag as a regressor), predictive samples;
* ``autoets``: statsforecast's AutoETS per station (weekly season), its Gaussian intervals.

Printed per forecaster, pooled over the worlds: station-day pinball loss (mean over the M5
quantile levels, % of the mean daily stops), station-day CRPS (% of mean; from samples, so
not for AutoETS), month MAPE (% error of each station-month total's mean), the coverage of
80 % station-day and 90 % station-month intervals (station-months need sample paths: not
for AutoETS), and wall seconds (fit and forecast).

Prophet and statsforecast are optional extras, never runtime dependencies; statsforecast pins
pandas < 3, so run this in an environment of its own::

    python -m venv .venv-baselines && .venv-baselines/bin/pip install -e '.[baselines]'
    .venv-baselines/bin/python benchmarks/volume_vs_baselines.py            # seeds 1 2 3
    .venv-baselines/bin/python benchmarks/volume_vs_baselines.py --seeds 1 --models bayesspr
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import scoringrules as sr

from bayesspr.evaluation.scores import M5_QUANTILES
from bayesspr.evaluation.volume_calibration import forecast_against_truth
from bayesspr.simulate.volume_worlds import VolumeWorld, simulate_volume_world

#: The world: size and effects (log-scale sizes; see ``simulate_volume_world``).
WORLD = {
    "n_cities": 2,
    "stations_per_city": 4,
    "zips_per_station": 8,
    "n_days": 425,
    "horizon_days": 487,
    "station_day_sd": 0.05,
    "city_day_sd": 0.03,
    "station_yearly_sd": 0.05,
    "growth_sd_zip": 0.10,
    "growth_drift_sd": 0.05,
}

#: Quantile levels scored: the M5 levels and the 80 % interval's ends.
LEVELS = np.array(sorted({*M5_QUANTILES, 0.1, 0.9}))

#: Draws per forecast (bayesspr and Prophet).
SAMPLES = 500


def station_history(world: VolumeWorld) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """Daily stops per station over the history (date × station) and the held-out days."""
    history = world.table.groupby(["date", "station"])["stops"].sum().unstack("station")
    days = pd.DatetimeIndex(sorted(world.future["date"].unique()))
    return history, days


def bayesspr_forecast(
    world: VolumeWorld, seed: int, reference: bool = False
) -> tuple[np.ndarray, list[str]]:
    """(samples, days, stations) draws of the default VolumeModel (or the zip-day reference)."""
    from bayesspr import VolumeModel
    from bayesspr.volume.zip_day import ZipDayVolumeModel

    model = (ZipDayVolumeModel if reference else VolumeModel)(regressors=world.regressors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(world.table, random_seed=seed)
    if not model.diagnostics["ok"]:
        print(f"  {type(model).__name__} fit not converged: {model.diagnostics['problems']}")
    draws, _, _ = forecast_against_truth(model, world, "station", SAMPLES, random_seed=seed)
    stations = sorted(world.table["station"].unique())
    return draws, stations


def prophet_forecast(world: VolumeWorld, seed: int) -> tuple[np.ndarray, list[str]]:
    """(samples, days, stations) predictive samples of one Prophet model per station."""
    from prophet import Prophet

    for name in ("cmdstanpy", "prophet"):  # its notes on short histories apply to all three
        logging.getLogger(name).setLevel(logging.ERROR)
    history, days = station_history(world)
    holiday = world.regressors["holiday"]
    out = []
    for station in history.columns:
        frame = pd.DataFrame({"ds": history.index, "y": history[station].to_numpy()})
        frame["holiday"] = holiday.reindex(frame["ds"]).to_numpy()
        model = Prophet(
            seasonality_mode="multiplicative",
            yearly_seasonality=True,
            weekly_seasonality=True,
            daily_seasonality=False,
            uncertainty_samples=SAMPLES,
        )
        model.add_regressor("holiday")
        np.random.seed(seed)  # noqa: NPY002 - Prophet samples from numpy's global state
        model.fit(frame)
        future = pd.DataFrame({"ds": days, "holiday": holiday.reindex(days).to_numpy()})
        out.append(model.predictive_samples(future)["yhat"].T)  # (samples, days)
    return np.stack(out, axis=-1), list(history.columns)


def autoets_quantiles(world: VolumeWorld, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(levels, days, stations) quantiles and (days, stations) means of AutoETS per station."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    history, days = station_history(world)
    long = history.stack().rename("y").reset_index()
    long.columns = ["ds", "unique_id", "y"]
    central = sorted({round(100 * abs(1 - 2 * a)) for a in LEVELS if a != 0.5})
    forecaster = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=1)
    result = forecaster.forecast(df=long, h=len(days), level=central)
    quantiles = np.empty((len(LEVELS), len(days), history.shape[1]))
    means = np.empty((len(days), history.shape[1]))
    for s, station in enumerate(history.columns):
        rows = result[result["unique_id"] == station].sort_values("ds")
        means[:, s] = rows["AutoETS"].to_numpy()
        for a, alpha in enumerate(LEVELS):
            if alpha == 0.5:
                quantiles[a, :, s] = means[:, s]
                continue
            mass = round(100 * abs(1 - 2 * alpha))
            side = "lo" if alpha < 0.5 else "hi"
            quantiles[a, :, s] = rows[f"AutoETS-{side}-{mass}"].to_numpy()
    return quantiles, means, list(history.columns)


def scores(
    truth: np.ndarray,
    days: pd.DatetimeIndex,
    quantiles: np.ndarray,
    means: np.ndarray,
    draws: np.ndarray | None,
) -> dict[str, float]:
    """Scores of one forecaster on one world (see the module docstring)."""
    scale = truth.mean()
    pinball = sr.quantile_score(truth[None], quantiles, LEVELS[:, None, None], backend="numpy")
    lo, hi = quantiles[list(LEVELS).index(0.1)], quantiles[list(LEVELS).index(0.9)]
    month = days.to_period("M")
    truth_month = pd.DataFrame(truth).groupby(month).sum()
    mean_month = pd.DataFrame(means).groupby(month).sum()
    out = {
        "pinball % of mean": 100.0 * float(np.mean(pinball)) / scale,
        "CRPS % of mean": np.nan,
        "month MAPE %": 100.0 * float(np.mean(np.abs(mean_month - truth_month) / truth_month)),
        "station-day 80%": float(np.mean((truth >= lo) & (truth <= hi))),
        "station-month 90%": np.nan,
    }
    if draws is not None:
        crps = sr.crps_ensemble(truth, draws, m_axis=0, estimator="pwm", backend="numpy")
        out["CRPS % of mean"] = 100.0 * float(np.mean(crps)) / scale
        sums = np.stack([pd.DataFrame(d).groupby(month).sum().to_numpy() for d in draws])
        low, high = np.quantile(sums, [0.05, 0.95], axis=0)
        inside = (truth_month.to_numpy() >= low) & (truth_month.to_numpy() <= high)
        out["station-month 90%"] = float(inside.mean())
    return out


def run_one(name: str, world: VolumeWorld, seed: int) -> dict[str, float]:
    """Fit and forecast one forecaster on one world; its scores and wall time."""
    _, days = station_history(world)
    truth_frame = world.future.groupby(["date", "station"])["stops"].sum().unstack("station")
    start = time.perf_counter()
    if name == "autoets":
        quantiles, means, stations = autoets_quantiles(world, seed)
        draws = None
    else:
        make: Callable = {
            "bayesspr": bayesspr_forecast,
            "zip-day": lambda w, s: bayesspr_forecast(w, s, reference=True),
            "prophet": prophet_forecast,
        }[name]
        draws, stations = make(world, seed)
        quantiles = np.quantile(draws, LEVELS, axis=0)
        means = draws.mean(axis=0)
    wall = time.perf_counter() - start
    truth = truth_frame.reindex(index=days, columns=stations).to_numpy(dtype=float)
    return {**scores(truth, days, quantiles, means, draws), "wall s": wall}


def main() -> None:
    """Score every forecaster on every world; print the pooled table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 3])
    parser.add_argument(
        "--models",
        nargs="*",
        default=["bayesspr", "prophet", "autoets"],
        choices=["bayesspr", "zip-day", "prophet", "autoets"],
    )
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        world = simulate_volume_world(seed, **WORLD)
        for name in args.models:
            result = run_one(name, world, seed)
            print(f"seed {seed} {name}: " + ", ".join(f"{k} {v:.3g}" for k, v in result.items()))
            rows.append({"forecaster": name, "seed": seed, **result})
    table = pd.DataFrame(rows).drop(columns="seed").groupby("forecaster", sort=False).mean()
    print(f"\n{len(args.seeds)} worlds ({WORLD}), 16 months ahead; means over the worlds")
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
