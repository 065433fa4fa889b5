"""The ``bayesspr`` command line.

Sub-commands: demo, simulate, fit, fit-volume, predict, plan, absorb, backtest, report.
``bayesspr COMMAND --help`` explains each.

Exit status: 0 done; 2 bad input or options (stderr says what, where, and what to do); 3 a
fit that fails its convergence checks, refused under ``--strict``.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bayesspr.cli.demo import DEMO_SEED, run_demo
from bayesspr.cli.manifest import inputs_record, write_manifest
from bayesspr.data import table as data
from bayesspr.data.network import Network
from bayesspr.defaults import (
    DEFAULT_INTERVAL,
    EBFMI_MIN,
    ESS_MIN,
    MAX_DAYS,
    MAX_HARMONICS,
    MAX_HORIZON,
    RHAT_MAX,
    installed_version,
)
from bayesspr.errors import (
    ArgumentError,
    FleetConfigError,
    ForecastError,
    UnconvergedFitError,
    VolumeDataError,
)
from bayesspr.fleet import decisions as fleet
from bayesspr.forecasting.compose import forecast, parse_horizon, summary_legend
from bayesspr.forecasting.scenario import Scenario, ScenarioError, VanChange, VolumeShock
from bayesspr.inference.diagnostics import ConvergenceWarning
from bayesspr.inference.fitted_model import FittedModel
from bayesspr.io.files import (
    atomic_folder,
    check_output_path,
    exit_on_sigterm,
    file_kind,
    saved_fit_kind,
    write_csv,
)
from bayesspr.simulate.worlds import simulate_world
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel

#: Most days ``simulate --days`` writes (about 10 years).
MAX_SIMULATED_DAYS = MAX_DAYS
#: Most joint forecast draws ``--samples`` asks for.
MAX_SAMPLES = 10_000
#: Most sampler chains ``--chains`` runs.
MAX_CHAINS = 64
#: Exit status of a fit refused by ``--strict``.
EXIT_UNCONVERGED = 3
#: Files ``plan`` writes into its folder (with ``manifest.json``).
PLAN_FILES = (
    "plan.csv",
    "fleet.csv",
    "forecast_summary.csv",
    "forecast_summary_legend.csv",
    "fan_chart.png",
    "shortfall.png",
)
#: Columns of a planned-volume table (``plan --volume table.csv``).
PLANNED_VOLUME_COLUMNS = ("date", "zip", "stops", "packages")
#: Columns of a fleet table that may hold the vans per station (``absorb --fleet``), by priority.
VANS_COLUMNS = ("vans_to_buy", "vans")


# --- convergence ----------------------------------------------------------------------------


def _number(value: Any, spec: str) -> str:
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return "n/a"


def convergence_summary(diagnostics: Mapping[str, Any]) -> str:
    """Describe a fit's convergence diagnostics in a few readable lines.

    Parameters
    ----------
    diagnostics : mapping
        ``model.diagnostics`` of an SPR or volume fit (see
        :func:`bayesspr.inference.diagnostics.convergence`).

    Returns
    -------
    str
        R-hat max (–), min bulk and tail ESS (draws) with the worst parameter of each,
        divergences (count), E-BFMI min (–), and the verdict.
    """
    if diagnostics.get("approximate"):
        problems = "; ".join(diagnostics.get("problems") or ["approximate fit"])
        return (
            f"convergence: not checked ({problems})\n  verdict: APPROXIMATE — intervals are "
            "typically too narrow; re-fit with --method nuts before making decisions"
        )
    if "rhat_max" not in diagnostics:
        return "convergence: no diagnostics stored with this fit\n  verdict: UNKNOWN"
    d = diagnostics
    lines = [
        f"convergence (thresholds: R-hat <= {RHAT_MAX}, bulk and tail ESS >= {ESS_MIN}, "
        f"no divergences, E-BFMI >= {EBFMI_MIN}):",
        f"  R-hat max      {_number(d.get('rhat_max'), '.3f'):>8}  ({d.get('rhat_worst', '?')})",
        f"  bulk ESS min   {_number(d.get('ess_bulk_min'), '.0f'):>8}  "
        f"({d.get('ess_bulk_worst', '?')})",
        f"  tail ESS min   {_number(d.get('ess_tail_min'), '.0f'):>8}  "
        f"({d.get('ess_tail_worst', '?')})",
        f"  divergences    {_number(d.get('divergences'), '.0f'):>8}",
        f"  E-BFMI min     {_number(d.get('ebfmi_min'), '.2f'):>8}",
    ]
    if d.get("ok") is True:
        lines.append("  verdict: converged (every threshold met)")
    else:
        problems = "; ".join(d.get("problems") or ["a threshold was missed"])
        lines.append(
            f"  verdict: NOT CONVERGED — {problems}; re-fit with more --tune/--draws "
            "or a higher --target-accept before trusting it"
        )
    return "\n".join(lines)


def _fit_problems(diagnostics: Mapping[str, Any]) -> list[str]:
    """What is wrong with a fit's stored diagnostics (empty when it converged)."""
    if diagnostics.get("approximate"):
        return list(diagnostics.get("problems") or ["approximate fit (not MCMC)"])
    if diagnostics.get("ok") is True:
        return []
    if not diagnostics:
        return ["the file stores no convergence diagnostics"]
    return list(diagnostics.get("problems") or ["it did not pass its convergence checks"])


def _check_loaded(model: SPRModel | VolumeModel, path: str, option: str, args: Any) -> None:
    """Warn on stderr (or refuse, under ``--strict``) when a loaded fit is not trustworthy."""
    problems = _fit_problems(model.diagnostics)
    if not problems:
        return
    state = (
        "is approximate"
        if model.diagnostics.get("approximate")
        else "did not pass its convergence checks"
    )
    text = f"the fit {option} {path} {state}: {'; '.join(problems)}"
    if args.strict:
        raise UnconvergedFitError(
            f"{text}; --strict refuses such fits: re-fit it (more "
            "--tune/--draws, --method nuts) and run again"
        )
    print(
        f"bayesspr {args.command}: warning: {text}; results from it may be wrong (re-fit with "
        "more --tune/--draws; --strict refuses such fits)",
        file=sys.stderr,
    )


def _finish_fit(model: SPRModel | VolumeModel, args: Any, what: str) -> int:
    """Print the convergence summary; save the fit unless ``--strict`` refuses it."""
    print(convergence_summary(model.diagnostics))
    if args.strict and model.diagnostics.get("ok") is not True:
        problems = "; ".join(_fit_problems(model.diagnostics))
        raise UnconvergedFitError(
            f"the {what} does not meet the convergence thresholds ({problems}); --strict: "
            f"nothing written to {args.out} (an earlier file there is untouched); re-fit with "
            "more --tune/--draws or a higher --target-accept"
        )
    model.save(args.out, keep=getattr(args, "keep", "report"))
    print(f"saved {what} to {args.out}")
    return 0


# --- sub-commands ---------------------------------------------------------------------------


def _cmd_simulate(args: argparse.Namespace) -> int:
    check_output_path(args.out, "table")
    world = simulate_world(args.seed, n_days=args.days)
    data.write_table(world.table, args.out)
    print(f"wrote {len(world.table)} rows to {args.out}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    check_output_path(args.out, "netcdf", {"--data": args.data, "--spec": args.spec})
    table = data.read_table(args.data)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        model = SPRModel(args.spec).fit(
            table,
            random_seed=args.seed,
            method=args.method,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            target_accept=args.target_accept,
        )
    return _finish_fit(model, args, "fit")


def _cmd_predict(args: argparse.Namespace) -> int:
    check_output_path(args.out, "table", {"--model": args.model, "--data": args.data})
    model = _load_fit(SPRModel, args.model)
    _check_loaded(model, args.model, "--model", args)
    plan = data.read_table(args.data, require_routes=False)
    forecast = model.predict(plan, interval=args.interval, random_seed=args.seed)
    out = pd.concat([plan, forecast], axis=1)
    data.write_table(out, args.out)  # validated and written atomically
    print(f"wrote {len(out)} forecast rows to {args.out}")
    return 0


def _cmd_fit_volume(args: argparse.Namespace) -> int:
    check_output_path(args.out, "netcdf", {"--data": args.data})
    table = data.read_raw_table(args.data)
    canonical = [c for c in data.REQUIRED_COLUMNS if c != "routes"]
    if set(canonical) <= set(table.columns):  # an observation table: every rule applies
        table = data.validate(table, require_routes=False)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        model = VolumeModel(harmonics=args.harmonics).fit(
            table,
            random_seed=args.seed,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            target_accept=args.target_accept,
        )
    return _finish_fit(model, args, "volume fit")


def _parse_at(text: str, what: str) -> tuple[float, str]:
    """Parse ``VALUE@DATE`` (e.g. ``1.4@2026-03-01``)."""
    value, sep, day = text.partition("@")
    if not sep or not day:
        raise ScenarioError(f"{what} {text!r}: expected VALUE@DATE, e.g. 1.4@2026-03-01")
    try:
        return float(value), day
    except ValueError:
        raise ScenarioError(f"{what} {text!r}: {value!r} is not a number") from None


def _planned_problem(problem: data.Problem) -> data.Problem:
    """Word a problem of the canonical rules for a planned-volume table."""
    rule, value = problem.rule, problem.value
    if "(date, zip, van_capacity)" in rule:  # van_capacity is a stand-in here
        rule = rule.replace("(date, zip, van_capacity)", "(date, zip): one row per zip and day")
        value = tuple(value)[:2] if isinstance(value, tuple) else value
    if problem.column == "stops" and value == 0:
        rule += ", or stops = packages = 0 for a zip-day without deliveries"
    return data.Problem(problem.row, problem.column, value, rule)


def validate_planned_volume(table: pd.DataFrame, where: str = "volume table") -> pd.DataFrame:
    """Check a planned-volume table (``date``, ``zip``, ``stops``, ``packages`` per zip-day).

    The rules are the observation table's (:func:`bayesspr.data.table.validate`): ISO dates,
    non-empty zips, whole ``stops`` >= 1 and ``packages`` >= ``stops``, one row per zip and
    day; a zip-day without deliveries may give ``stops = packages = 0``.

    Parameters
    ----------
    table : pandas.DataFrame
        The table as read (other columns are ignored).
    where : str
        Where the table came from, for messages (e.g. ``"--volume plan.csv"``).

    Returns
    -------
    pandas.DataFrame
        ``date`` (datetime64), ``zip`` (str), ``stops`` and ``packages`` (int64: stops and
        packages per zip-day), same rows and index.

    Raises
    ------
    ValueError
        Listing every problem: missing columns, no rows, and each bad cell by row, column,
        value and the rule it breaks.
    """
    missing = [c for c in PLANNED_VOLUME_COLUMNS if c not in table.columns]
    if missing or table.empty:
        lack = f"lacks column(s) {missing}" if missing else "has no rows"
        raise VolumeDataError(
            f"{where}: the planned-volume table {lack}; expected columns date, "
            "zip, stops, packages with one row per zip and forecast day"
        )
    frame = table[list(PLANNED_VOLUME_COLUMNS)].copy()
    numbers = {c: pd.to_numeric(frame[c], errors="coerce") for c in ("stops", "packages")}
    quiet = numbers["stops"].eq(0) & numbers["packages"].eq(0)  # a zip-day without deliveries
    frame.loc[quiet, ["stops", "packages"]] = 1  # checked as one stop; set back below
    stand_ins = {"city": "-", "station": "-", "van_capacity": 1.0, "area_km2": 1.0, "stem_km": 0.0}
    try:
        clean = data.validate(frame.assign(**stand_ins), require_routes=False)
    except data.DataError as exc:
        problems = [_planned_problem(p) for p in exc.problems]
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise VolumeDataError(
            f"{where}: the planned-volume table has {len(problems)} problem(s) (row: 0-based "
            f"data row; in a CSV, file line row + 2):\n{shown}{more}\nfix these rows and run "
            "again"
        ) from None
    clean = clean[list(PLANNED_VOLUME_COLUMNS)].copy()
    clean.loc[quiet, ["stops", "packages"]] = 0
    return clean


def _volume_source(
    args: argparse.Namespace,
) -> tuple[Any, Network | None, pd.Timestamp | None, pd.DataFrame | None]:
    """The volume (a fit or a planned-volume table), network, first day and history table.

    The ``--history`` table is read once here (None without one). A planned-volume table is
    validated here; a fit is loaded later (:func:`_load_volume`), after the cheap checks.
    """
    source = Path(args.volume)
    history = None if args.history is None else data.read_table(args.history, require_routes=False)
    network = None if history is None else Network.from_table(history)
    is_fit = source.suffix.lower() == ".nc" or (source.is_file() and file_kind(source) == "hdf5")
    if is_fit:
        return source, network, None, history
    if network is None:
        raise ArgumentError(
            f"--volume {source} is a table: give --history, the canonical table that "
            "describes the network (zips, stations, stem km, vans)"
        )
    table = validate_planned_volume(data.read_raw_table(source), f"--volume {source}")
    _check_planned_zips(table, network, f"--volume {source}", f"--history {args.history}")
    return table, network, pd.Timestamp(table["date"].min()).normalize(), history


def _check_planned_zips(table: pd.DataFrame, network: Network, where: str, history: str) -> None:
    """Every row's zip is one of the network's, and every zip of the network has rows."""
    known = set(network.zips.index.astype(str))
    unknown = table.index[~table["zip"].astype(str).isin(known)]
    if len(unknown):
        shown = "\n".join(
            f"  row {i}, column 'zip': value {table.at[i, 'zip']!r} is not a zip of "
            f"the network in {history}"
            for i in unknown[:20]
        )
        more = f"\n  ... and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        raise VolumeDataError(
            f"{where}: {len(unknown)} row(s) name a zip the network does not have (row: 0-based "
            f"data row; in a CSV, file line row + 2):\n{shown}{more}\nexpected one of "
            f"{sorted(known)[:10]}{' ...' if len(known) > 10 else ''}: fix the zip, or give a "
            "--history table in which that zip is served"
        )
    without = sorted(known - set(table["zip"].astype(str)))
    if without:
        raise VolumeDataError(
            f"{where}: no rows for {len(without)} zip(s) of the network in {history}: "
            f"{without[:10]}{' ...' if len(without) > 10 else ''}; expected rows for every zip "
            "the network serves (stops 0 and packages 0 for a zip with no volume)"
        )


def _load_volume(
    args: argparse.Namespace, source: Any, network: Network | None, first_day: Any
) -> tuple[Any, Network, pd.Timestamp]:
    """Load a volume fit named by ``source`` (a table passes through)."""
    if not isinstance(source, Path):
        return source, network, first_day
    volume = _load_fit(VolumeModel, source)
    _check_loaded(volume, str(source), "--volume", args)
    network = volume.network if network is None else network
    if network is None:
        raise ArgumentError(
            f"--volume {source}: the volume fit carries no network (it was fitted "
            "on a table without the canonical columns); give --history"
        )
    return volume, network, volume.last_date + pd.Timedelta(days=1)


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
        shock = VolumeShock(*_parse_at(text, "--shock"))
        out.append((shock, f"shock x{shock.factor:g} from {shock.start:%Y-%m-%d}"))
    for text in args.van:
        van = VanChange(*_parse_at(text, "--van"))
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


def _cmd_plan(args: argparse.Namespace) -> int:
    inputs = {"--model": args.model, "--volume": args.volume, "--history": args.history}
    out = check_output_path(args.out, "folder", inputs, folder_files=PLAN_FILES)
    changes = _changes(args)
    source, network, first_day, history = _volume_source(args)
    model = _load_fit(SPRModel, args.model)
    _check_loaded(model, args.model, "--model", args)
    volume, network, first_day = _load_volume(args, source, network, first_day)
    scenario = _scenario(args, changes, first_day)
    record = inputs_record(inputs)
    result = forecast(
        model,
        volume,
        args.horizon,
        scenario=scenario,
        network=network,
        n_samples=args.samples,
        random_seed=args.seed,
    )
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
    }
    tables = {
        "plan.csv": fleet_plan.table,
        "fleet.csv": fleet_plan.horizon,
        "forecast_summary.csv": result.summary,
    }
    with atomic_folder(out) as tmp:  # the whole folder, or the earlier one
        for name, table in tables.items():
            write_csv(_with_scenario(table, scenario.name), tmp / name)
        write_csv(
            summary_legend(tables["forecast_summary.csv"]), tmp / "forecast_summary_legend.csv"
        )
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
    print(f"scenario: {scenario.describe()}")
    print(_rounded(fleet_plan.horizon).to_string(index=False))
    print(f"wrote {', '.join(PLAN_FILES)} and manifest.json to {out}")
    return 0


def _read_fleet(path: str) -> pd.Series:
    """Vans per station from a fleet table, e.g. the fleet.csv of ``bayesspr plan``.

    The table needs ``station`` and the vans owned: ``vans_to_buy`` (plan's fleet.csv) or
    ``vans``.
    """
    table = data.read_raw_table(path)
    column = next((c for c in VANS_COLUMNS if c in table.columns), None)
    if column is None or "station" not in table.columns or table.empty:
        lack = "has no rows"
        if column is None or "station" not in table.columns:
            lack = f"has columns {list(table.columns)}"
        raise FleetConfigError(
            f"--fleet {path} {lack}: expected a table with a station column and "
            f"the vans per station in {' or '.join(VANS_COLUMNS)} (the fleet.csv "
            "'bayesspr plan' writes); or give --vans N"
        )
    vans = pd.to_numeric(table[column], errors="coerce")
    ok = vans.notna() & (vans >= 0) & (vans == vans.round()) & vans.lt(1e9)
    station = table["station"].astype(str).str.strip()
    ok &= table["station"].notna() & station.ne("")
    if not ok.all():
        i = int(ok.to_numpy().argmin())
        raise FleetConfigError(
            f"--fleet {path}: row {i}, station {table['station'].iloc[i]!r}, "
            f"column {column!r}, value {table[column].iloc[i]!r}: expected a "
            "station name and a whole number of vans >= 0; fix the row"
        )
    repeated = station[station.duplicated()].unique()
    if len(repeated):
        raise FleetConfigError(
            f"--fleet {path}: station {repeated[0]!r} appears in more than one row "
            "(several van types?): expected one row per station; keep the rows "
            "of one van type"
        )
    return pd.Series(vans.to_numpy(dtype="int64"), index=station.to_numpy(), name="vans")


def _cmd_absorb(args: argparse.Namespace) -> int:
    inputs = {
        "--model": args.model,
        "--volume": args.volume,
        "--history": args.history,
        "--fleet": args.fleet,
    }
    if args.out is not None:
        check_output_path(args.out, "csv", inputs)
    changes = _changes(args)
    bought = None if args.fleet is None else _read_fleet(args.fleet)
    source, network, first_day, _ = _volume_source(args)
    model = _load_fit(SPRModel, args.model)
    _check_loaded(model, args.model, "--model", args)
    volume, network, first_day = _load_volume(args, source, network, first_day)
    stations = network.stations.index.astype(str)
    if bought is None:
        bought = pd.Series(args.vans, index=stations, name="vans")
    fleet.vans_by_station(bought, stations.to_numpy())  # a station typo fails before any work
    scenario = _scenario(args, changes, first_day)
    result = forecast(
        model,
        volume,
        args.horizon,
        scenario=scenario,
        network=network,
        n_samples=args.samples,
        random_seed=args.seed,
        keep_zips=False,
    )
    table = _with_scenario(fleet.absorb(bought, result.draws), scenario.name)
    print(f"scenario: {scenario.describe()}")
    print(_rounded(table).to_string(index=False))
    if args.out is not None:
        write_csv(table, args.out)
        print(f"wrote {args.out}")
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from bayesspr.cli.backtest import backtest_cli
    from bayesspr.evaluation.baselines import VARIANTS

    variants = VARIANTS if args.variants is None else tuple(args.variants.split(","))
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
    )


def _cmd_deploy(args: argparse.Namespace) -> int:
    from bayesspr.cli.deploy import deploy_cli

    return deploy_cli(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from bayesspr.reporting.html import write_report

    charts = {}
    for item in args.chart:
        name, sep, path = item.partition("=")
        if not sep:
            raise ArgumentError(f"--chart {item!r}: expected NAME=PNG, e.g. Fleet=fan_chart.png")
        charts[name] = Path(path)
    inputs = {"--model": args.model, "--history": args.history, "--holdout": args.holdout}
    inputs.update({f"--chart {name}": str(path) for name, path in charts.items()})
    check_output_path(args.out, "html", inputs)
    kind = saved_fit_kind(args.model)
    model: SPRModel | VolumeModel
    if kind == "spr":
        model = _load_fit(SPRModel, args.model)
        history = None if args.history is None else data.read_table(args.history)
        holdout = None if args.holdout is None else data.read_table(args.holdout)
    else:
        model = _load_fit(VolumeModel, args.model)
        history = None if args.history is None else data.read_raw_table(args.history)
        holdout = None if args.holdout is None else data.read_raw_table(args.holdout)
    _check_loaded(model, args.model, "--model", args)
    path = write_report(
        model, args.out, history=history, holdout=holdout, extra_figures=charts or None
    )
    print(f"wrote {path}")
    return 0


# --- the parser -----------------------------------------------------------------------------


class _DefaultsShown(argparse.HelpFormatter):
    """Help that ends with the default where there is one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if default is None or default is False or default == [] or default == argparse.SUPPRESS:
            return text
        if "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def _whole(low: int, high: int | None = None, unit: str = "") -> Any:
    """Argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= {low}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected a whole number <= {high:,}{unit}; give a smaller value"
            )
        return value

    parse.__name__ = "whole number"
    return parse


_positive_int = _whole(1)


def _number_type(accepts: Callable[[float], bool], expected: str) -> Any:
    """Argparse type: a number for which ``accepts`` holds, else ``expected`` in the error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value

    return parse


#: Argparse types: a number strictly between 0 and 1; a finite number > 0; one >= 0.
_fraction = _number_type(lambda v: 0 < v < 1, "a number between 0 and 1, e.g. 0.9")
_positive = _number_type(lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
_non_negative = _number_type(lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def _horizon(text: str) -> str:
    """Argparse type: a horizon such as 16M, 8W or 28D (a bare number is days), bounded."""
    try:
        n, unit = parse_horizon(text)
    except ForecastError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return f"{n}{unit}"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``bayesspr`` command.

    Returns
    -------
    argparse.ArgumentParser
        Parser with ``--version`` and sub-commands ``demo``, ``simulate``, ``fit``,
        ``fit-volume``, ``predict``, ``plan``, ``absorb``, ``backtest``, ``deploy`` and
        ``report``.
    """
    parser = argparse.ArgumentParser(
        prog="bayesspr",
        description="Physics-informed Bayesian forecasts of shipments per route (SPR).",
        epilog="Exit status: 0 done; 2 bad input or options; 3 a fit refused by --strict.",
    )
    parser.add_argument("--version", action="version", version=f"bayesspr {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_demo,
        _add_simulate,
        _add_fit,
        _add_predict,
        _add_fit_volume,
        _add_plan,
        _add_absorb,
        _add_backtest,
        _add_deploy,
        _add_report,
    ):
        add(sub)
    return parser


_Subparsers = Any  # argparse's _SubParsersAction, which argparse does not export


def _command(sub: _Subparsers, name: str, help: str) -> argparse.ArgumentParser:
    """A sub-command whose description is its help as a sentence, with defaults shown."""
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        formatter_class=_DefaultsShown,
    )


def _load_fit[M: FittedModel](cls: type[M], path: str | Path) -> M:
    """Load a fit; its convergence is reported by :func:`_check_loaded`, not a warning too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls.load(path)


def _strict(p: argparse.ArgumentParser, loaded: bool) -> None:
    """``--strict``: for a command that fits (``loaded=False``) or reads a fit."""
    text = (
        "refuse (exit 3) a loaded fit whose stored diagnostics fail the convergence "
        "checks or that is approximate; without it such a fit is used with a warning"
        if loaded
        else "exit 3 without writing --out when the fit fails the "
        "convergence checks (R-hat, ESS, divergences, E-BFMI)"
    )
    p.add_argument("--strict", action="store_true", help=text)


_samples = _whole(1, MAX_SAMPLES, " joint draws")
_chains = _whole(1, MAX_CHAINS, " chains")


def _add_demo(sub: _Subparsers) -> None:
    p = _command(sub, "demo", "fit the embedded demo world and print forecasts")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help="world and sampler seed")
    p.add_argument("--draws", type=_positive_int, default=None, help="posterior draws per chain")
    p.add_argument("--tune", type=_positive_int, default=None, help="tuning steps per chain")
    p.add_argument("--out", default="demo_output", help="folder for plan, charts and report")
    p.set_defaults(func=lambda a: run_demo(a.seed, a.draws, a.tune, out=a.out))


def _add_simulate(sub: _Subparsers) -> None:
    p = _command(sub, "simulate", "write a simulated observation table")
    p.add_argument("--out", required=True, help="CSV or Parquet file to write")
    p.add_argument("--seed", type=int, default=7, help="world seed")
    p.add_argument(
        "--days",
        type=_whole(1, MAX_SIMULATED_DAYS, " days (about 10 years)"),
        default=120,
        help=f"days of history, 1 to {MAX_SIMULATED_DAYS}",
    )
    p.set_defaults(func=_cmd_simulate)


def _add_fit(sub: _Subparsers) -> None:
    p = _command(sub, "fit", "fit the SPR model to an observation table")
    p.add_argument("--data", required=True, help="observation table (CSV or Parquet)")
    p.add_argument("--out", required=True, help="netCDF file for the fit")
    p.add_argument("--spec", default="default", help="model spec name in models/ or a path")
    p.add_argument(
        "--method",
        choices=["nuts", "advi"],
        default="nuts",
        help="nuts: MCMC (nutpie); advi: fast approximate posterior",
    )
    p.add_argument("--seed", type=int, default=1, help="sampler seed")
    p.add_argument(
        "--draws",
        type=_positive_int,
        default=None,
        help="posterior draws per chain (default: the spec's)",
    )
    p.add_argument(
        "--tune",
        type=_positive_int,
        default=None,
        help="tuning steps per chain (default: the spec's)",
    )
    p.add_argument(
        "--chains",
        type=_chains,
        default=None,
        help=f"sampler chains, 1 to {MAX_CHAINS} (default: the spec's)",
    )
    p.add_argument(
        "--target-accept",
        type=_fraction,
        default=None,
        help="NUTS target acceptance in (0, 1); higher (0.95, 0.99) takes smaller "
        "steps and removes divergences (default: the spec's)",
    )
    p.add_argument(
        "--keep",
        choices=["report", "posterior", "all"],
        default="report",
        help="what the file keeps: report (default: all the report needs, PSIS-LOO "
        "included), posterior (enough to predict and plan; several times smaller, "
        "no LOO), all (every group, full precision)",
    )
    _strict(p, loaded=False)
    p.set_defaults(func=_cmd_fit)


def _add_predict(sub: _Subparsers) -> None:
    p = _command(sub, "predict", "forecast SPR and routes for planned rows")
    p.add_argument("--model", required=True, help="fit written by 'bayesspr fit'")
    p.add_argument("--data", required=True, help="planned rows (canonical table, no routes)")
    p.add_argument("--out", required=True, help="CSV (or Parquet) file for the forecast")
    p.add_argument(
        "--interval", type=_fraction, default=DEFAULT_INTERVAL, help="credible interval mass"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the predictive draws")
    _strict(p, loaded=True)
    p.set_defaults(func=_cmd_predict)


def _add_fit_volume(sub: _Subparsers) -> None:
    p = _command(sub, "fit-volume", "fit the volume model to a daily volume history")
    p.add_argument(
        "--data",
        required=True,
        help="table with date, city, station, zip, stops, packages (the canonical table qualifies)",
    )
    p.add_argument("--out", required=True, help="netCDF file for the fit")
    p.add_argument(
        "--harmonics",
        type=_whole(0, MAX_HARMONICS, " Fourier pairs"),
        default=2,
        help=f"yearly Fourier pairs, 0 (no yearly cycle) to {MAX_HARMONICS}",
    )
    p.add_argument("--seed", type=int, default=1, help="sampler seed")
    p.add_argument(
        "--draws",
        type=_positive_int,
        default=None,
        help="posterior draws per chain (default: the volume model's)",
    )
    p.add_argument(
        "--tune",
        type=_positive_int,
        default=None,
        help="tuning steps per chain (default: the volume model's)",
    )
    p.add_argument(
        "--chains",
        type=_chains,
        default=None,
        help=f"sampler chains, 1 to {MAX_CHAINS} (default: the model's)",
    )
    p.add_argument(
        "--target-accept",
        type=_fraction,
        default=None,
        help="NUTS target acceptance in (0, 1) (default: the model's)",
    )
    _strict(p, loaded=False)
    p.set_defaults(func=_cmd_fit_volume)


def _forecast_options(p: argparse.ArgumentParser) -> None:
    """The options ``plan`` and ``absorb`` share: the fits, the network, horizon and draws."""
    p.add_argument("--model", required=True, help="SPR fit written by 'bayesspr fit'")
    p.add_argument(
        "--volume",
        required=True,
        help="volume fit (.nc, 'bayesspr fit-volume') or a planned-volume "
        "table (date, zip, stops, packages per zip-day)",
    )
    p.add_argument(
        "--history",
        default=None,
        help="canonical table giving the network (zips, stations, stem km, "
        "vans, shifts); default: the volume fit's",
    )
    p.add_argument(
        "--horizon",
        type=_horizon,
        default="16M",
        help="e.g. 16M, 8W, 28D; at most 60M (261W, 1827D); ignored for a "
        "planned-volume table (its days are used)",
    )
    p.add_argument(
        "--van",
        action="append",
        default=[],
        metavar="CAPACITY@DATE",
        help="all stations switch to this van from the date (repeatable)",
    )
    p.add_argument(
        "--scenario",
        default=None,
        help="scenario name for the outputs "
        "(default: named for the changes, e.g. 'shock x1.4 from 2026-03-01'; "
        "'baseline' without changes)",
    )
    p.add_argument(
        "--van-capacity",
        type=_positive,
        default=None,
        help="packages per van: every station runs this van from the first "
        "forecast day (default: each station's usual van)",
    )
    p.add_argument(
        "--samples", type=_samples, default=400, help=f"joint forecast draws, 1 to {MAX_SAMPLES:,}"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the forecast draws")
    _strict(p, loaded=True)


def _add_plan(sub: _Subparsers) -> None:
    p = _command(sub, "plan", "forecast routes and plan the fleet per station")
    _forecast_options(p)
    p.add_argument("--service-level", type=_fraction, default=0.95, help="alpha in (0, 1)")
    p.add_argument(
        "--shock",
        action="append",
        default=[],
        metavar="FACTOR@DATE",
        help="volume shock, e.g. 1.4@2026-03-01 (repeatable)",
    )
    p.add_argument(
        "--van-cost",
        type=_non_negative,
        default=None,
        help="cost of one van over the forecast horizon (currency); with it the plan "
        "reports expected costs",
    )
    p.add_argument(
        "--shortage-cost",
        type=_non_negative,
        default=450.0,
        help="cost of one van-day the fleet cannot cover (currency)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for the plan CSVs, charts and "
        "manifest.json; replaced whole (a new folder or an earlier plan)",
    )
    p.set_defaults(func=_cmd_plan)


def _add_absorb(sub: _Subparsers) -> None:
    p = _command(sub, "absorb", "whether a fleet already bought absorbs volume shocks")
    _forecast_options(p)
    owned = p.add_mutually_exclusive_group(required=True)
    owned.add_argument(
        "--fleet",
        default=None,
        help="table of vans per station (columns "
        "station, vans), e.g. the fleet.csv 'bayesspr plan' wrote",
    )
    owned.add_argument(
        "--vans", type=_whole(0), default=None, metavar="N", help="vans at every station"
    )
    p.add_argument(
        "--shock",
        action="append",
        required=True,
        metavar="FACTOR@DATE",
        help="volume shock, e.g. 1.4@2026-03-01 (required, repeatable)",
    )
    p.add_argument("--out", default=None, help="CSV file for the table (default: print only)")
    p.set_defaults(func=_cmd_absorb)


def _add_backtest(sub: _Subparsers) -> None:
    p = _command(sub, "backtest", "rolling-origin monthly re-fit backtest with baselines")
    p.add_argument("--world", default="demo", help="'demo' or an observation table")
    p.add_argument("--out", default="backtest_out", help="folder for scores CSVs and plots")
    p.add_argument("--origins", type=_positive_int, default=3, help="monthly forecast origins")
    p.add_argument(
        "--horizon",
        type=_whole(1, MAX_HORIZON["M"], " months"),
        default=3,
        help=f"whole months ahead per origin, 1 to {MAX_HORIZON['M']}",
    )
    p.add_argument(
        "--variants",
        default=None,
        help="comma list of full,no_pooling,complete_pooling,physics,gbm",
    )
    p.add_argument("--draws", type=_positive_int, default=300, help="draws per chain per fit")
    p.add_argument("--tune", type=_positive_int, default=400, help="tuning steps per fit")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help="world and sampler seed")
    p.add_argument(
        "--warm-start",
        action="store_true",
        help="start each re-fit at the previous origin's posterior means",
    )
    p.set_defaults(func=_cmd_backtest)


def _add_deploy(sub: _Subparsers) -> None:
    p = _command(sub, "deploy", "plan van purchases, station fleets and electrification")
    p.add_argument(
        "--example",
        action="store_true",
        required=True,
        help="plan the built-in worked example network (bayesspr.deploy."
        "example_problem); required: planning from saved forecast draws is "
        "not available yet",
    )
    p.add_argument(
        "--stations",
        default=None,
        help="CSV with a row per station: station, "
        "bays (parking bays), power_kw (charging kW; blank: no limit)",
    )
    p.add_argument(
        "--limits",
        default=None,
        help="CSV with a row per period: period, budget "
        "(currency; blank: no limit), ev_supply (electric vans), "
        "min_electric_share (0 to 1)",
    )
    p.add_argument(
        "--samples",
        type=_whole(1, 1000, " draws"),
        default=20,
        help="joint draws of the example, 1 to 1,000",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the example world")
    p.add_argument(
        "--time-limit", type=_positive, default=60.0, help="wall-time limit of the solve (s)"
    )
    p.add_argument(
        "--mip-gap",
        type=_non_negative,
        default=1e-4,
        help="relative MIP gap at which HiGHS stops; 0 asks for a proven optimum",
    )
    p.add_argument(
        "--shortage-cost",
        type=_positive,
        default=None,
        help="cost of one route short on the design day (currency per van-day; "
        "default: the example's)",
    )
    p.add_argument(
        "--charging-hours",
        type=_number_type(lambda v: 0 < v <= 24, "hours in (0, 24]"),
        default=None,
        help="hours a night the vans charge (h; default: the example's)",
    )
    p.add_argument("--hard-service", action="store_true", help="allow no shortage on any draw")
    p.add_argument(
        "--out",
        required=True,
        help="folder for purchases.csv, fleet.csv, "
        "electric_share.csv, cost.csv, station_months.csv and manifest.json; "
        "replaced whole",
    )
    p.set_defaults(func=_cmd_deploy)


def _add_report(sub: _Subparsers) -> None:
    p = _command(sub, "report", "write the HTML diagnostic report of a fit")
    p.add_argument(
        "--model",
        required=True,
        help="SPR fit ('bayesspr fit') or volume fit "
        "('bayesspr fit-volume'); the kind is read from the file",
    )
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--history", default=None, help="the table the fit was made on (PPC, LOO)")
    p.add_argument("--holdout", default=None, help="held-out rows with routes (calibration)")
    p.add_argument(
        "--chart",
        action="append",
        default=[],
        metavar="NAME=PNG",
        help="attach a PNG chart (repeatable)",
    )
    _strict(p, loaded=True)
    p.set_defaults(func=_cmd_report)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bayesspr`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 done, 2 bad input, 3 a fit refused by ``--strict``. SIGTERM ends the
        command through ``SystemExit(143)``, so files being written are cleaned up.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    with exit_on_sigterm():
        try:
            return int(args.func(args))
        except UnconvergedFitError as exc:
            print(f"bayesspr {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_UNCONVERGED
        except (data.DataError, OSError, ValueError) as exc:  # OSError: missing/unreadable file
            print(f"bayesspr {args.command}: error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
