"""The main job on the embedded demo world, end to end.

History → SPR and volume fits → 16-month forecast → fleet plan, shock replay, EV share →
charts and the diagnostic report.

Run it with ``bayesspr demo`` (``make demo``).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bayesspr.cli.manifest import write_manifest
from bayesspr.data import table as data
from bayesspr.defaults import COVERAGE_LEVELS
from bayesspr.evaluation.scores import pit_coverage, station_day_pit
from bayesspr.fleet import decisions as fleet
from bayesspr.fleet.charts import fan_chart, shortfall_chart
from bayesspr.forecasting.compose import Forecast, forecast, summary_legend
from bayesspr.forecasting.scenario import Scenario, VanChange, VolumeShock
from bayesspr.forecasting.summaries import observed_vs_physics, station_forecast
from bayesspr.io.files import atomic_folder, check_output_path, write_csv
from bayesspr.monitor.surprise import monitor_month
from bayesspr.simulate.events import inject_event
from bayesspr.simulate.worlds import Truth, simulate_world
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel

#: Days of the demo world held out as "next month".
DEMO_HORIZON_DAYS = 28

#: Station that takes over a zip in the demo's monitored month (a simulated event).
DEMO_MONITOR_STATION = "CHI2"

#: Capacity of the larger van in the demo's scenario (packages).
DEMO_LARGER_VAN = 450.0

#: Capacity of the van the demo's fleet plan buys (packages); the forecast runs it everywhere.
DEMO_FLEET_VAN = 300.0

#: The demo's van types: cost per van over the 16-month horizon (currency), and an e-van.
DEMO_VANS = (
    fleet.VanType("van-300", DEMO_FLEET_VAN, 60_000.0),
    fleet.VanType("e-van-300", DEMO_FLEET_VAN, 66_000.0, range_km=110.0, kwh_per_km=0.35),
)

#: Full cost of a van-day the fleet cannot cover (rental plus overtime; currency).
DEMO_SHORTAGE_COST = 450.0

#: The shock replayed on the bought fleet: +40 % volume from the third forecast month.
DEMO_SHOCK = 1.4

#: Seed of the demo world, both fits and the forecasts (``bayesspr demo`` / ``make demo``).
DEMO_SEED = 7

#: What the demo writes into its output folder (replaced whole on each run).
DEMO_FILES = (
    "plan.csv",
    "plan_legend.csv",
    "fleet.csv",
    "fleet_legend.csv",
    "forecast_summary.csv",
    "forecast_summary_legend.csv",
    "fan_chart.png",
    "shortfall.png",
    "report.html",
    "manifest.json",
)


def _print_table(title: str, table: pd.DataFrame) -> None:
    print(f"\n{title}")
    dates = table.select_dtypes("datetime").columns
    shown = table.assign(**{c: table[c].dt.strftime("%Y-%m") for c in dates})
    print(shown.round(2).to_string())


def _print_legend(title: str, legend: pd.DataFrame) -> None:
    print(f"\n{title}")
    for row in legend.itertuples(index=False):
        print(f"  {row.column:<22} [{row.unit}] {row.meaning}")


def _fit_line(name: str, seconds: float, d: dict) -> str:
    verdict = "converged" if d["ok"] else "NOT converged: " + "; ".join(d["problems"])
    return (
        f"{name} fit in {seconds:.0f} s: R-hat max {d['rhat_max']:.3f}, ESS bulk min "
        f"{d['ess_bulk_min']:.0f}, tail min {d['ess_tail_min']:.0f}, divergences "
        f"{d['divergences']} -> {verdict}"
    )


def run_demo(
    seed: int = DEMO_SEED,
    draws: int | None = None,
    tune: int | None = None,
    out: str | Path = "demo_output",
    n_samples: int = 400,
    *,
    spr: SPRModel | None = None,
    volume: VolumeModel | None = None,
) -> int:
    """Fit the demo world, forecast 16 months, plan the fleet, and write charts and a report.

    Parameters
    ----------
    seed : int
        Seed of the demo world, the samplers and the forecast.
    draws, tune : int, optional
        SPR sampler settings (defaults from the model spec).
    out : str or pathlib.Path
        Folder for the plan CSVs, charts and the HTML report.
    n_samples : int
        Joint forecast draws.
    spr, volume : optional
        Models already fitted to the demo history (skips those fits; for tests and docs).

    Returns
    -------
    int
        Exit status (0).
    """
    from bayesspr.reporting.html import write_report  # matplotlib/arviz_plots only when needed

    out = check_output_path(out, "folder", folder_files=DEMO_FILES)  # before any work
    history, future, truth = _demo_world(seed)

    started = time.perf_counter()
    model = spr or SPRModel().fit(history, random_seed=seed, draws=draws, tune=tune)
    print("\n" + _fit_line("SPR", time.perf_counter() - started, model.diagnostics))
    _print_next_month(model, future, seed)

    started = time.perf_counter()
    if volume is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            volume = VolumeModel().fit(history, random_seed=seed)
    print("\n" + _fit_line("volume", time.perf_counter() - started, volume.diagnostics))
    unconverged = [
        name
        for name, m in (("SPR", model), ("volume", volume))
        if m.diagnostics.get("ok") is not True
    ]
    if unconverged:  # say it where it cannot be missed; manifest.json records it too
        print(
            f"warning: the {' and '.join(unconverged)} fit did not converge: the forecast "
            "and plan below rest on it; re-run with more --draws/--tune before using them",
            file=sys.stderr,
        )

    started = time.perf_counter()
    _print_next_month_calibration(model, volume, future, n_samples, seed)
    _print_monitor(model, volume, history, future, truth, seed)
    # the plan buys one van type: forecast the routes of that van at every station (the
    # history mixes 200- and 300-package vans; a VanChange from the first day sets it)
    first_day = volume.last_date + pd.Timedelta(days=1)
    fleet_van = Scenario(
        f"{DEMO_FLEET_VAN:.0f}-package vans", (VanChange(DEMO_FLEET_VAN, first_day),)
    )
    base = forecast(model, volume, "16M", n_samples=n_samples, random_seed=seed, scenario=fleet_van)
    print(
        f"16-month forecast: {base.draws.sizes['sample']} joint draws x "
        f"{base.draws.sizes['date']} days x {base.draws.sizes['zip']} zips in "
        f"{time.perf_counter() - started:.1f} s (both forecasts)"
    )
    months = pd.DatetimeIndex(sorted(base.summary["month"].unique()))  # month starts
    _print_monthly_routes(base.summary, months)

    costs = fleet.FleetCosts(DEMO_VANS, shortage_cost_per_van_day=DEMO_SHORTAGE_COST)
    plan = _plan_and_print_fleet(base, costs)
    bought = plan.horizon.set_index("station")["vans_to_buy"]
    shock_start = months[2]
    shock = Scenario("+40% from month 3", (VolumeShock(DEMO_SHOCK, shock_start),))
    shocked = forecast(
        model, volume, "16M", n_samples=n_samples, random_seed=seed, scenario=fleet_van + shock
    )
    _print_table(
        f"Does the fleet bought at 95% absorb +{DEMO_SHOCK - 1:.0%} volume from "
        f"{shock_start:%Y-%m-%d}?",
        fleet.absorb(bought, shocked.draws),
    )

    ev = fleet.ev_feasibility(
        base.draws,
        costs.van("e-van-300"),
        fleet.EVConfig(charger_kw_per_station=150.0, cold_derate=0.4),
        risk=0.05,
        fleet_by_station=bought,
    )
    _print_table(
        "Electric vans per station (110 km range, 40% winter derate, 150 kW chargers, 5% risk):", ev
    )

    with atomic_folder(out) as tmp:  # the whole folder, or the earlier one untouched
        write_csv(plan.table, tmp / "plan.csv")
        write_csv(plan.legend("table"), tmp / "plan_legend.csv")
        write_csv(plan.horizon, tmp / "fleet.csv")
        write_csv(plan.legend("horizon"), tmp / "fleet_legend.csv")
        write_csv(base.summary, tmp / "forecast_summary.csv")
        write_csv(summary_legend(base.summary), tmp / "forecast_summary_legend.csv")
        fan = fan_chart(
            base.draws,
            plan,
            tmp / "fan_chart.png",
            history=history,
            scenario=base.scenario.name,
            note=_van_note(history),
        )
        short = shortfall_chart(plan, tmp / "shortfall.png", scenario=base.scenario.name)
        report = write_report(
            model,
            tmp / "report.html",
            history=history,
            holdout=future,
            extra_figures={
                "Routes per day by month, with the 95% fleet": fan,
                "Shortfall probability by month": short,
            },
        )
        write_manifest(
            tmp,
            ["demo", "--out", str(out)],
            inputs={},
            settings={"seed": seed, "draws": draws, "tune": tune, "samples": n_samples},
            fits={"spr": model.verdict(), "volume": volume.verdict()},
            scenario=base.scenario.record(),
        )
    print(
        f"\nwrote {out}/plan.csv, plan_legend.csv, fleet.csv, fleet_legend.csv, "
        f"forecast_summary.csv, forecast_summary_legend.csv, {fan.name}, {short.name}, "
        f"{report.name} and manifest.json"
    )
    return 0


def _van_note(history: pd.DataFrame) -> str:
    """Why the history's routes sit above the forecast's: smaller vans in the history."""
    sizes = "/".join(f"{c:.0f}" for c in sorted(history["van_capacity"].unique()))
    return (
        f"History: routes of each station's own van mix ({sizes}-package vans). Forecast "
        f"and fleet: every station on {DEMO_FLEET_VAN:.0f}-package vans, the van the plan "
        "buys; fewer, fuller routes, so the forecast starts below the history."
    )


def _demo_world(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, Truth]:
    """The demo world split into history and its last month, and its truth; prints it."""
    world = simulate_world(seed)
    table = data.validate(world.table)
    cutoff = table["date"].max() - pd.Timedelta(days=DEMO_HORIZON_DAYS - 1)
    history, future = table[table["date"] < cutoff], table[table["date"] >= cutoff]
    print(
        f"demo world: {len(table)} zip-days, {table['zip'].nunique()} zips, "
        f"{table['station'].nunique()} stations, {table['city'].nunique()} cities; "
        f"history to {history['date'].max():%Y-%m-%d}, "
        f"next month from {cutoff:%Y-%m-%d}"
    )
    _print_table(
        "Observed SPR vs textbook physics (packages per route):", observed_vs_physics(history)
    )
    return history, future, world.truth


def _print_monitor(
    model: SPRModel,
    volume: VolumeModel,
    history: pd.DataFrame,
    future: pd.DataFrame,
    truth: Truth,
    seed: int,
) -> None:
    """The monthly monitor on next month, with one simulated event injected into it."""
    changed, event = inject_event(
        future, truth, "zip_takeover", station=DEMO_MONITOR_STATION, seed=seed
    )
    report = monitor_month(model, changed, volume_model=volume, history=history, random_seed=seed)
    print(
        f"\nMonitor: next month as it happened, with {event.station} taking over zip "
        f"{event.zip} and serving it less efficiently (a simulated event; "
        "`bayesspr monitor` runs this on your own month):"
    )
    print(report.summary())


def _print_next_month(model: SPRModel, future: pd.DataFrame, seed: int) -> None:
    """SPR per station next month with its actual volume and vans, and with larger vans."""
    plan_rows = future.drop(columns=["routes", "route_km"], errors="ignore")
    current = station_forecast(plan_rows, model.predict_draws(plan_rows, random_seed=seed))
    current["observed_spr"] = (
        future.groupby("station")["packages"].sum() / future.groupby("station")["routes"].sum()
    )
    _print_table(
        "Next month, actual volume and vans: SPR with 90% credible interval "
        "(observed for comparison):",
        current,
    )
    bigger = plan_rows.assign(van_capacity=DEMO_LARGER_VAN)
    bigger_draws = model.predict_draws(bigger, random_seed=seed)
    _print_table(
        f"Next month if every van carried {DEMO_LARGER_VAN:.0f} packages:",
        station_forecast(bigger, bigger_draws),
    )


def _print_next_month_calibration(
    model: SPRModel, volume: VolumeModel, future: pd.DataFrame, n_samples: int, seed: int
) -> None:
    """Coverage of the held-out month's station-days, forecast with its dispatch plan known."""
    known_plan = future[["date", "zip", "van_capacity", "shift_hours", "station", "stem_km"]]
    check = forecast(
        model,
        volume,
        f"{DEMO_HORIZON_DAYS}D",
        plan=known_plan,
        n_samples=n_samples,
        random_seed=seed,
    )
    pit = station_day_pit(check.draws, future, np.random.default_rng(seed))
    print(
        f"\nnext month from forecast volume (dispatch plan known), {pit.size} station-days: "
        + ", ".join(
            f"{pit_coverage(pit, lvl):.0%} inside the {lvl:.0%} interval" for lvl in COVERAGE_LEVELS
        )
        + " (randomised PIT)"
    )


def _print_monthly_routes(summary: pd.DataFrame, months: pd.DatetimeIndex) -> None:
    """Routes per day by station in the first, a middle and the last full forecast month."""
    show = summary[summary["month"].isin([months[0], months[len(months) // 2], months[-2]])]
    _print_table(
        f"Routes per day by station and month with {DEMO_FLEET_VAN:.0f}-package vans "
        "(mean and 90% interval):",
        show.assign(month=show["month"].dt.strftime("%Y-%m")).set_index(["station", "month"])[
            [
                "routes_per_day_mean",
                "routes_per_day_lower_90",
                "routes_per_day_upper_90",
                "peak_routes_upper_90",
                "spr_mean",
            ]
        ],
    )


def _plan_and_print_fleet(base: Forecast, costs: fleet.FleetCosts) -> fleet.FleetPlan:
    """Plan the fleet at three service levels, print them and the margin; return the 95 % plan."""
    plans = {
        level: fleet.plan(base.draws, level, costs, van_type="van-300")
        for level in (0.90, 0.95, 0.99)
    }
    fleet_table = pd.concat(
        {
            f"vans @{level:.0%} of peak days": p.horizon.set_index("station")[
                "vans_at_service_level"
            ]
            for level, p in plans.items()
        },
        axis=1,
    )
    chosen = plans[0.95].horizon.set_index("station")
    fleet_table["vans cost-optimal"] = chosen["vans_cost_optimal"]
    _print_table(
        "Vans to buy per station for the 16 months (kept over the horizon), by rule: "
        "the service level covers a peak day (one of a month's busiest 5% of days), "
        "not every day; the cost-optimal fleet rents on busy days:",
        fleet_table,
    )
    _print_table(
        "The 95% plan per station (fleet.csv; the legend follows):",
        chosen[
            [
                "vans_to_buy",
                "rule",
                "sizing_month",
                "vans_cost_optimal",
                "p_cover_peak_day",
                "p_cover_every_day",
                "shortage_van_days",
                "expected_cost",
            ]
        ],
    )
    _print_legend("fleet.csv columns (fleet_legend.csv):", plans[0.95].legend("horizon"))
    _print_legend(
        "plan.csv columns, one row per station and month (plan_legend.csv):",
        plans[0.95].legend("table"),
    )
    margin = fleet.margin_table(base.draws, 0.95)
    _print_table(
        "Over-budget margin at 95% (extra vans above the point forecast, and the "
        "probability each is needed):",
        margin.head(12),
    )
    return plans[0.95]
