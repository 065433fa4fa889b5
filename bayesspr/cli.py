"""The ``bayesspr`` command line.

Sub-commands: demo, simulate, fit, fit-volume, predict, plan, backtest, report.
``bayesspr COMMAND --help`` explains each.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bayesspr import data, fleet
from bayesspr.compose import forecast
from bayesspr.demo import run_demo
from bayesspr.io import atomic_write
from bayesspr.model import SPRModel
from bayesspr.network import Network
from bayesspr.scenario import Scenario, ScenarioError, VanChange, VolumeShock
from bayesspr.simulate import simulate_world
from bayesspr.volume import VolumeModel


def _cmd_simulate(args: argparse.Namespace) -> int:
    world = simulate_world(args.seed, n_days=args.days)
    data.write_table(world.table, args.out)
    print(f"wrote {len(world.table)} rows to {args.out}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    table = data.read_table(args.data)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        model = SPRModel(args.spec).fit(table, random_seed=args.seed, method=args.method,
                                        draws=args.draws, tune=args.tune)  # fmt: skip
    model.save(args.out)
    print(f"saved fit to {args.out}; diagnostics: {model.diagnostics}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    model = SPRModel.load(args.model)
    plan = data.read_table(args.data, require_routes=False)
    forecast = model.predict(plan, interval=args.interval, random_seed=args.seed)
    out = pd.concat([plan, forecast], axis=1)
    data.write_table(out, args.out)  # validated and written atomically
    print(f"wrote {len(out)} forecast rows to {args.out}")
    return 0


def _cmd_fit_volume(args: argparse.Namespace) -> int:
    table = data.read_raw_table(args.data)
    canonical = [c for c in data.REQUIRED_COLUMNS if c != "routes"]
    if set(canonical) <= set(table.columns):  # an observation table: every rule applies
        table = data.validate(table, require_routes=False)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        model = VolumeModel(harmonics=args.harmonics).fit(table, random_seed=args.seed)
    model.save(args.out)
    print(f"saved volume fit to {args.out}; diagnostics: {model.diagnostics}")
    return 0


def _parse_at(text: str, what: str) -> tuple[float, str]:
    """Parse ``VALUE@DATE`` (e.g. ``1.4@2026-03-01``)."""
    value, sep, day = text.partition("@")
    if not sep or not day:
        raise ScenarioError(f"{what} {text!r}: expected VALUE@DATE, e.g. 1.4@2026-03-01")
    try:
        return float(value), day
    except ValueError:
        raise ScenarioError(f"{what} {text!r}: {value!r} is not a number") from None


def _cmd_plan(args: argparse.Namespace) -> int:
    model = SPRModel.load(args.model)
    source = Path(args.volume)
    network = None if args.history is None else Network.from_table(
        data.read_table(args.history, require_routes=False))  # fmt: skip
    changes = [VolumeShock(*_parse_at(t, "--shock")) for t in args.shock]
    changes += [VanChange(*_parse_at(t, "--van")) for t in args.van]
    if source.suffix == ".nc":
        volume = VolumeModel.load(source)
        first_day = volume.last_date + pd.Timedelta(days=1)
        network = volume.network if network is None else network
    else:
        if network is None:
            raise ValueError(
                f"--volume {source} is a table: give --history, the canonical table that "
                "describes the network (zips, stations, stem km, vans)"
            )
        volume = pd.read_parquet(source) if source.suffix in (".parquet", ".pq") else (
            pd.read_csv(source, dtype={"zip": str}))  # fmt: skip
        first_day = pd.Timestamp(pd.to_datetime(volume["date"]).min()).normalize()
    if args.van_capacity is not None:  # every station runs this van from the first day
        changes.insert(0, VanChange(args.van_capacity, first_day))
    scenario = Scenario(args.scenario, tuple(changes))
    result = forecast(model, volume, args.horizon, scenario=scenario, network=network,
                      n_samples=args.samples, random_seed=args.seed)  # fmt: skip
    costs = None
    if args.van_cost is not None:
        capacity = args.van_capacity
        if capacity is None:  # the label of the stations' usual vans: the largest of them
            capacity = float(network.stations["van_capacity"].max())
        van = fleet.VanType("van", capacity, args.van_cost)
        costs = fleet.FleetCosts((van,), shortage_cost_per_van_day=args.shortage_cost)
    fleet_plan = fleet.plan(result.draws, args.service_level, costs,
                            van_type=None if costs is None else "van")  # fmt: skip
    out = Path(args.out)
    for name, table in (("plan.csv", fleet_plan.table), ("fleet.csv", fleet_plan.horizon),
                        ("forecast_summary.csv", result.summary)):  # fmt: skip
        atomic_write(lambda tmp, t=table: t.to_csv(tmp, index=False), out / name)
    from bayesspr.fleet_charts import fan_chart, shortfall_chart

    fan_chart(result.draws, fleet_plan, out / "fan_chart.png")
    shortfall_chart(fleet_plan.table, out / "shortfall.png", service_level=args.service_level)
    print(f"scenario: {scenario.describe()}")
    print(fleet_plan.horizon.round(3).to_string(index=False))
    print(f"wrote plan.csv, fleet.csv, forecast_summary.csv, fan_chart.png, shortfall.png "
          f"to {out}")  # fmt: skip
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from bayesspr.backtest import VARIANTS, backtest_cli

    variants = VARIANTS if args.variants is None else tuple(args.variants.split(","))
    return backtest_cli(args.world, args.out, args.seed, n_origins=args.origins,
                        horizon_months=args.horizon, variants=variants,
                        draws=args.draws, tune=args.tune,
                        warm_start=args.warm_start)  # fmt: skip


def _cmd_report(args: argparse.Namespace) -> int:
    from bayesspr.reporting import write_report

    model = SPRModel.load(args.model)
    history = None if args.history is None else data.read_table(args.history)
    holdout = None if args.holdout is None else data.read_table(args.holdout)
    charts = {}
    for item in args.chart:
        name, sep, path = item.partition("=")
        if not sep:
            raise ValueError(f"--chart {item!r}: expected NAME=PNG")
        charts[name] = Path(path)
    path = write_report(model, args.out, history=history, holdout=holdout,
                        extra_figures=charts or None)  # fmt: skip
    print(f"wrote {path}")
    return 0


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


def _positive_int(text: str) -> int:
    """Argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``bayesspr`` command.

    Returns
    -------
    argparse.ArgumentParser
        Parser with sub-commands ``demo``, ``simulate``, ``fit``, ``fit-volume``,
        ``predict``, ``plan``, ``backtest`` and ``report``.
    """
    parser = argparse.ArgumentParser(
        prog="bayesspr",
        description="Physics-informed Bayesian forecasts of shipments per route (SPR).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser = sub.add_parser

    def described(name: str, help: str) -> argparse.ArgumentParser:
        return add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                          formatter_class=_DefaultsShown)  # fmt: skip

    sub.add_parser = described  # type: ignore[method-assign]

    p = sub.add_parser("demo", help="fit the embedded demo world and print forecasts")
    p.add_argument("--seed", type=int, default=7, help="world and sampler seed")
    p.add_argument("--draws", type=_positive_int, default=None, help="posterior draws per chain")
    p.add_argument("--tune", type=_positive_int, default=None, help="tuning steps per chain")
    p.add_argument("--out", default="demo_output", help="folder for plan, charts and report")
    p.set_defaults(func=lambda a: run_demo(a.seed, a.draws, a.tune, out=a.out))

    p = sub.add_parser("simulate", help="write a simulated observation table")
    p.add_argument("--out", required=True, help="CSV or Parquet file to write")
    p.add_argument("--seed", type=int, default=7, help="world seed")
    p.add_argument("--days", type=_positive_int, default=120, help="days of history")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("fit", help="fit the SPR model to an observation table")
    p.add_argument("--data", required=True, help="observation table (CSV or Parquet)")
    p.add_argument("--out", required=True, help="netCDF file for the fit")
    p.add_argument("--spec", default="default", help="model spec name in models/ or a path")
    p.add_argument("--method", choices=["nuts", "advi"], default="nuts",
                   help="nuts: MCMC (nutpie); advi: fast approximate posterior")  # fmt: skip
    p.add_argument("--seed", type=int, default=1, help="sampler seed")
    p.add_argument("--draws", type=_positive_int, default=None,
                   help="posterior draws per chain (default: the spec's)")  # fmt: skip
    p.add_argument("--tune", type=_positive_int, default=None,
                   help="tuning steps per chain (default: the spec's)")  # fmt: skip
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("predict", help="forecast SPR and routes for planned rows")
    p.add_argument("--model", required=True, help="fit written by 'bayesspr fit'")
    p.add_argument("--data", required=True, help="planned rows (canonical table, no routes)")
    p.add_argument("--out", required=True, help="CSV file for the forecast")
    p.add_argument("--interval", type=float, default=0.9, help="credible interval mass")
    p.add_argument("--seed", type=int, default=0, help="seed of the predictive draws")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("fit-volume", help="fit the volume model to a daily volume history")
    p.add_argument("--data", required=True, help="table with date, city, station, zip, stops, "
                   "packages (the canonical table qualifies)")  # fmt: skip
    p.add_argument("--out", required=True, help="netCDF file for the fit")
    p.add_argument("--harmonics", type=int, default=2, help="yearly Fourier pairs")
    p.add_argument("--seed", type=int, default=1, help="sampler seed")
    p.set_defaults(func=_cmd_fit_volume)

    p = sub.add_parser("plan", help="forecast routes and plan the fleet per station")
    p.add_argument("--model", required=True, help="SPR fit written by 'bayesspr fit'")
    p.add_argument("--volume", required=True, help="volume fit (.nc, 'bayesspr fit-volume') or "
                   "a planned-volume table (date, zip, stops, packages per zip-day)")  # fmt: skip
    p.add_argument("--history", default=None, help="canonical table giving the network (zips, "
                   "stations, stem km, vans, shifts); default: the volume fit's")  # fmt: skip
    p.add_argument("--horizon", default="16M", help="e.g. 16M, 8W, 28D")
    p.add_argument("--service-level", type=float, default=0.95, help="alpha in (0, 1)")
    p.add_argument("--shock", action="append", default=[], metavar="FACTOR@DATE",
                   help="volume shock, e.g. 1.4@2026-03-01 (repeatable)")  # fmt: skip
    p.add_argument("--van", action="append", default=[], metavar="CAPACITY@DATE",
                   help="all stations switch to this van from the date (repeatable)")  # fmt: skip
    p.add_argument("--scenario", default="baseline", help="scenario name for the outputs")
    p.add_argument("--van-capacity", type=float, default=None,
                   help="packages per van: every station runs this van from the first forecast "
                   "day (default: each station's usual van)")  # fmt: skip
    p.add_argument("--van-cost", type=float, default=None,
                   help="cost of one van over the forecast horizon (currency); with it the plan "
                   "reports expected costs")  # fmt: skip
    p.add_argument("--shortage-cost", type=float, default=450.0,
                   help="cost of one van-day the fleet cannot cover (currency)")  # fmt: skip
    p.add_argument("--samples", type=_positive_int, default=400, help="joint forecast draws")
    p.add_argument("--seed", type=int, default=0, help="seed of the forecast draws")
    p.add_argument("--out", required=True, help="folder for the plan CSVs and charts")
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("backtest", help="rolling-origin monthly re-fit backtest with baselines")
    p.add_argument("--world", default="demo", help="'demo' or an observation table")
    p.add_argument("--out", default="backtest_out", help="folder for scores CSVs and plots")
    p.add_argument("--origins", type=_positive_int, default=3, help="monthly forecast origins")
    p.add_argument("--horizon", type=_positive_int, default=3,
                   help="whole months ahead per origin (e.g. 3)")  # fmt: skip
    p.add_argument("--variants", default=None,
                   help="comma list of full,no_pooling,complete_pooling,physics,gbm")  # fmt: skip
    p.add_argument("--draws", type=_positive_int, default=300, help="draws per chain per fit")
    p.add_argument("--tune", type=_positive_int, default=400, help="tuning steps per fit")
    p.add_argument("--seed", type=int, default=7, help="world and sampler seed")
    p.add_argument("--warm-start", action="store_true",
                   help="start each re-fit at the previous origin's posterior means")  # fmt: skip
    p.set_defaults(func=_cmd_backtest)

    p = sub.add_parser("report", help="write the HTML diagnostic report of a fit")
    p.add_argument("--model", required=True, help="SPR fit written by 'bayesspr fit'")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--history", default=None, help="the table the fit was made on (PPC, LOO)")
    p.add_argument("--holdout", default=None, help="held-out rows with routes (calibration)")
    p.add_argument("--chart", action="append", default=[], metavar="NAME=PNG",
                   help="attach a PNG chart (repeatable)")  # fmt: skip
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bayesspr`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (data.DataError, OSError, ValueError) as exc:  # OSError: missing or unreadable file
        print(f"bayesspr {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
