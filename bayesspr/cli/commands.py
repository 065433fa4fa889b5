"""What each ``bayesspr`` sub-command does, one function per command (``cmd_*``)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from bayesspr.cli.cluster import dask_client
from bayesspr.cli.inputs import load_volume, parse_at, read_fleet, volume_source
from bayesspr.cli.manifest import inputs_record, write_manifest
from bayesspr.cli.verdict import check_loaded, finish_fit, load_fit
from bayesspr.data import table as data
from bayesspr.errors import (
    ArgumentError,
)
from bayesspr.fleet import decisions as fleet
from bayesspr.forecasting.compose import forecast, summary_legend
from bayesspr.forecasting.scenario import Scenario, VanChange, VolumeShock
from bayesspr.inference.fitted_model import FittedModel
from bayesspr.io.files import (
    atomic_folder,
    check_output_path,
    saved_fit_kind,
    write_csv,
)
from bayesspr.simulate.worlds import simulate_world
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel

#: Files ``plan`` writes into its folder (with ``manifest.json``).
PLAN_FILES = (
    "plan.csv",
    "fleet.csv",
    "forecast_summary.csv",
    "forecast_summary_legend.csv",
    "fan_chart.png",
    "shortfall.png",
)
#: The Zarr store ``bayesspr plan --keep-draws`` adds to the plan folder.
PLAN_DRAWS = "draws.zarr"


def _checked_spr_fit(args: argparse.Namespace) -> SPRModel:
    """The SPR fit of ``--model``, loaded and its verdict checked (``--strict`` refuses)."""
    model = load_fit(SPRModel, args.model)
    check_loaded(model, args.model, "--model", args)
    return model


def cmd_simulate(args: argparse.Namespace) -> int:
    """``bayesspr simulate``: write a seeded world's observation table."""
    check_output_path(args.out, "table")
    world = simulate_world(args.seed, n_days=args.days)
    data.write_table(world.table, args.out)
    print(f"wrote {len(world.table)} rows to {args.out}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    """``bayesspr fit``: fit the SPR model to a table and save the fit."""
    check_output_path(args.out, "netcdf", {"--data": args.data, "--spec": args.spec})
    table = data.read_table(args.data)
    return finish_fit(_fit(SPRModel(args.spec), table, args), args, "fit")


def cmd_predict(args: argparse.Namespace) -> int:
    """``bayesspr predict``: SPR and routes per row of a table from a saved fit."""
    check_output_path(args.out, "table", {"--model": args.model, "--data": args.data})
    model = _checked_spr_fit(args)
    plan = data.read_table(args.data, require_routes=False)
    forecast = model.predict(plan, interval=args.interval, random_seed=args.seed)
    out = pd.concat([plan, forecast], axis=1)
    data.write_table(out, args.out)  # validated and written atomically
    print(f"wrote {len(out)} forecast rows to {args.out}")
    return 0


def cmd_fit_volume(args: argparse.Namespace) -> int:
    """``bayesspr fit-volume``: fit the volume model to a history and save it."""
    check_output_path(args.out, "netcdf", {"--data": args.data})
    table = data.read_raw_table(args.data)
    canonical = [c for c in data.REQUIRED_COLUMNS if c != "routes"]
    if set(canonical) <= set(table.columns):  # an observation table: every rule applies
        table = data.validate(table, require_routes=False)
    return finish_fit(_fit(VolumeModel(harmonics=args.harmonics), table, args), args, "volume fit")


def _fit[M: FittedModel](model: M, table: pd.DataFrame, args: argparse.Namespace) -> M:
    """Fit with the command's seed and sampler options; warnings are shown, not raised.

    On the Dask cluster ``--workers`` or ``--scheduler`` names, if the command has them.
    """
    with warnings.catch_warnings(), dask_client(args) as client:
        warnings.simplefilter("always")
        return model.fit(
            table,
            random_seed=args.seed,
            method=getattr(args, "method", "auto"),
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            target_accept=args.target_accept,
            start=getattr(args, "start", None),
            client=client,
        )


def _chart_note(history: pd.DataFrame | None, scenario: Scenario) -> str | None:
    """Say so under the chart when the forecast's vans are not the history's."""
    vans = [c for c in scenario.changes if isinstance(c, VanChange)]
    if history is None or not vans:
        return None
    sizes = "/".join(f"{c:g}" for c in sorted(history["van_capacity"].unique()))
    changes = "; ".join(f"{v.capacity:g}-package vans from {v.start:%Y-%m-%d}" for v in vans)
    return (
        f"History: routes of the stations' own vans ({sizes} packages). Forecast: "
        f"{changes}, so its routes are not those of the history's vans."
    )


def _changes(args: argparse.Namespace) -> list[tuple[Any, str]]:
    """The scenario changes of --shock and --van, each with a short label for its name."""
    out: list[tuple[Any, str]] = []
    for text in args.shock:
        shock = VolumeShock(*parse_at(text, "--shock"))
        out.append((shock, f"shock x{shock.factor:g} from {shock.start:%Y-%m-%d}"))
    for text in args.van:
        van = VanChange(*parse_at(text, "--van"))
        out.append((van, f"{van.capacity:g}-package vans from {van.start:%Y-%m-%d}"))
    return out


def _scenario(args: argparse.Namespace, changes: list[tuple[Any, str]], first_day: Any) -> Scenario:
    """The scenario: --van-capacity from the first day, then the changes; named for them."""
    if args.van_capacity is not None:  # every station runs this van from the first day
        changes = [
            (VanChange(args.van_capacity, first_day), f"{args.van_capacity:g}-package vans"),
            *changes,
        ]
    name = args.scenario or " + ".join(label for _, label in changes) or "baseline"
    return Scenario(name, tuple(change for change, _ in changes))


def _with_scenario(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The table with a first column ``scenario`` (kept if it is there already)."""
    if "scenario" in table.columns:
        return table
    return table.assign(scenario=name)[["scenario", *table.columns]]


def _rounded(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its float columns rounded for printing (3 decimals)."""
    floats = table.select_dtypes("float").columns
    return table.assign(**{c: table[c].round(3) for c in floats})


def cmd_plan(args: argparse.Namespace) -> int:
    """``bayesspr plan``: forecast, plan the fleet and write the plan folder."""
    inputs = {"--model": args.model, "--volume": args.volume, "--history": args.history}
    out = check_output_path(args.out, "folder", inputs, folder_files=(*PLAN_FILES, PLAN_DRAWS))
    changes = _changes(args)
    source, network, first_day, history = volume_source(args)
    model = _checked_spr_fit(args)
    volume, network, first_day = load_volume(args, source, network, first_day)
    scenario = _scenario(args, changes, first_day)
    record = inputs_record(inputs)
    with atomic_folder(out) as tmp:  # the whole folder, or the earlier one
        store = tmp / PLAN_DRAWS if args.keep_draws else None
        result = _forecast_of_command(args, model, volume, network, scenario, store=store)
        fleet_plan = _write_plan(
            args, model, volume, network, history, scenario, record, result, tmp
        )
    written = (*PLAN_FILES, PLAN_DRAWS) if args.keep_draws else PLAN_FILES
    print(f"scenario: {scenario.describe()}")
    print(_rounded(fleet_plan.horizon).to_string(index=False))
    print(f"wrote {', '.join(written)} and manifest.json to {out}")
    return 0


def _forecast_of_command(
    args: argparse.Namespace,
    model: Any,
    volume: Any,
    network: Any,
    scenario: Scenario,
    **options: Any,
) -> Any:
    """The composed forecast at the command's ``--horizon``, ``--samples`` and ``--seed``.

    On the Dask cluster ``--workers`` or ``--scheduler`` names, if either is given.
    """
    with dask_client(args) as client:
        return forecast(
            model,
            volume,
            args.horizon,
            scenario=scenario,
            network=network,
            n_samples=args.samples,
            random_seed=args.seed,
            client=client,
            **options,
        )


def _write_plan(
    args: argparse.Namespace,
    model: Any,
    volume: Any,
    network: Any,
    history: pd.DataFrame | None,
    scenario: Scenario,
    record: dict[str, Any],
    result: Any,
    tmp: Path,
) -> fleet.FleetPlan:
    """Plan the fleet on the forecast and write the plan folder's files into ``tmp``."""
    costs = None
    if args.van_cost is not None:
        capacity = args.van_capacity
        if capacity is None:  # the label of the stations' usual vans: the largest of them
            capacity = float(network.stations["van_capacity"].max())
        van = fleet.VanType("van", capacity, args.van_cost)
        costs = fleet.FleetCosts((van,), shortage_cost_per_van_day=args.shortage_cost)
    fleet_plan = fleet.plan(
        result.draws, args.service_level, costs, van_type=None if costs is None else "van"
    )
    from bayesspr.fleet import charts as fleet_charts

    settings = {
        "horizon": args.horizon,
        "service_level": args.service_level,
        "samples": args.samples,
        "seed": args.seed,
        "van_capacity": args.van_capacity,
        "van_cost": args.van_cost,
        "shortage_cost": args.shortage_cost,
        "keep_draws": args.keep_draws,
    }
    tables = {
        "plan.csv": fleet_plan.table,
        "fleet.csv": fleet_plan.horizon,
        "forecast_summary.csv": result.summary,
    }
    for name, table in tables.items():
        write_csv(_with_scenario(table, scenario.name), tmp / name)
    write_csv(summary_legend(tables["forecast_summary.csv"]), tmp / "forecast_summary_legend.csv")
    if history is not None and "routes" not in history:
        history = None  # a history without routes describes the network only
    fleet_charts.fan_chart(
        result.draws,
        fleet_plan,
        tmp / "fan_chart.png",
        history=history,
        note=_chart_note(history, scenario),
    )
    fleet_charts.shortfall_chart(
        fleet_plan.table, tmp / "shortfall.png", service_level=args.service_level
    )
    fits = {
        "--model": model.verdict(),
        "--volume": volume.verdict()
        if isinstance(volume, VolumeModel)
        else "a planned-volume table (no fit)",
    }
    write_manifest(
        tmp,
        getattr(args, "argv", []),
        inputs=record,
        settings=settings,
        fits=fits,
        scenario=scenario.record(),
        model_spec_id=model.idata.attrs.get("bayesspr_spec_id"),
    )
    return fleet_plan


def cmd_absorb(args: argparse.Namespace) -> int:
    """``bayesspr absorb``: whether a bought fleet absorbs a scenario."""
    inputs = {
        "--model": args.model,
        "--volume": args.volume,
        "--history": args.history,
        "--fleet": args.fleet,
    }
    if args.out is not None:
        check_output_path(args.out, "csv", inputs)
    changes = _changes(args)
    bought = None if args.fleet is None else read_fleet(args.fleet)
    source, network, first_day, _ = volume_source(args)
    model = _checked_spr_fit(args)
    volume, network, first_day = load_volume(args, source, network, first_day)
    stations = network.stations.index.astype(str)
    if bought is None:
        bought = pd.Series(args.vans, index=stations, name="vans")
    fleet.vans_by_station(bought, stations.to_numpy())  # a station typo fails before any work
    scenario = _scenario(args, changes, first_day)
    result = _forecast_of_command(args, model, volume, network, scenario, keep_zips=False)
    table = _with_scenario(fleet.absorb(bought, result.draws), scenario.name)
    print(f"scenario: {scenario.describe()}")
    print(_rounded(table).to_string(index=False))
    if args.out is not None:
        write_csv(table, args.out)
        print(f"wrote {args.out}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    """``bayesspr backtest``: the rolling-origin backtest."""
    from bayesspr.cli.backtest import backtest_cli
    from bayesspr.evaluation.baselines import VARIANTS

    variants = VARIANTS if args.variants is None else tuple(args.variants.split(","))
    with dask_client(args) as client:
        return backtest_cli(
            args.world,
            args.out,
            args.seed,
            n_origins=args.origins,
            horizon_months=args.horizon,
            variants=variants,
            draws=args.draws,
            tune=args.tune,
            warm_start=args.warm_start,
            client=client,
        )


def cmd_deploy(args: argparse.Namespace) -> int:
    """``bayesspr deploy``: the network deployment plan."""
    from bayesspr.cli.deploy import deploy_cli

    return deploy_cli(args)


def cmd_cycle(args: argparse.Namespace) -> int:
    """``bayesspr cycle``: one month of the operating cycle."""
    from bayesspr.cli.cycle import cycle_cli

    return cycle_cli(args)


def cmd_monitor(args: argparse.Namespace) -> int:
    """``bayesspr monitor``: last month's fits against the month that happened."""
    from bayesspr.cli.monitor import monitor_cli

    return monitor_cli(args)


def cmd_report(args: argparse.Namespace) -> int:
    """``bayesspr report``: the HTML diagnostic report of a saved fit."""
    from bayesspr.reporting.html import write_report

    charts = {}
    for item in args.chart:
        name, sep, path = item.partition("=")
        if not sep:
            raise ArgumentError(f"--chart {item!r}: expected NAME=PNG, e.g. Fleet=fan_chart.png")
        charts[name] = Path(path)
    inputs = {
        "--model": args.model,
        "--history": args.history,
        "--holdout": args.holdout,
        "--new-month": args.new_month,
    }
    inputs.update({f"--chart {name}": str(path) for name, path in charts.items()})
    check_output_path(args.out, "html", inputs)
    kind = saved_fit_kind(args.model)
    model: SPRModel | VolumeModel
    if kind == "spr":
        model = load_fit(SPRModel, args.model)
        history = None if args.history is None else data.read_table(args.history)
        holdout = None if args.holdout is None else data.read_table(args.holdout)
    else:
        model = load_fit(VolumeModel, args.model)
        history = None if args.history is None else data.read_raw_table(args.history)
        holdout = None if args.holdout is None else data.read_raw_table(args.holdout)
    check_loaded(model, args.model, "--model", args)
    monitored = None
    if args.new_month is not None:
        if kind != "spr":
            raise ArgumentError("--new-month is for SPR fits: give the SPR fit as --model")
        from bayesspr.monitor.surprise import monitor_month

        monitored = monitor_month(model, data.read_table(args.new_month), history=history)
    path = write_report(
        model,
        args.out,
        history=history,
        holdout=holdout,
        extra_figures=charts or None,
        monitor=monitored,
    )
    print(f"wrote {path}")
    return 0
