"""The ``bayesspr`` command line.

Sub-commands: demo, simulate, fit, fit-volume, predict, plan, absorb, backtest, deploy,
monitor, cycle, report.
``bayesspr COMMAND --help`` explains each.

Exit status: 0 done; 2 bad input or options (stderr says what, where, and what to do); 3 a
fit that fails its convergence checks, refused under ``--strict``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bayesspr.cli.cluster import add_cluster_options
from bayesspr.cli.commands import (
    cmd_absorb,
    cmd_backtest,
    cmd_cycle,
    cmd_deploy,
    cmd_fit,
    cmd_fit_volume,
    cmd_monitor,
    cmd_plan,
    cmd_predict,
    cmd_report,
    cmd_simulate,
)
from bayesspr.cli.demo import DEMO_SEED, run_demo
from bayesspr.data import table as data
from bayesspr.defaults import (
    DEFAULT_INTERVAL,
    MAX_DAYS,
    MAX_HARMONICS,
    MAX_HORIZON,
    installed_version,
)
from bayesspr.errors import (
    ForecastError,
    UnconvergedFitError,
)
from bayesspr.forecasting.compose import parse_horizon
from bayesspr.io.files import (
    exit_on_sigterm,
)

#: Most days ``simulate --days`` writes (about 10 years).
MAX_SIMULATED_DAYS = MAX_DAYS
#: Most joint forecast draws ``--samples`` asks for.
MAX_SAMPLES = 10_000
#: Most sampler chains ``--chains`` runs.
MAX_CHAINS = 64
#: Exit status of a fit refused by ``--strict``.
EXIT_UNCONVERGED = 3


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
        ``fit-volume``, ``predict``, ``plan``, ``absorb``, ``backtest``, ``deploy``,
        ``monitor``, ``cycle`` and ``report``.
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
        _add_monitor,
        _add_cycle,
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
    p.set_defaults(func=cmd_simulate)


def _add_fit(sub: _Subparsers) -> None:
    p = _command(sub, "fit", "fit the SPR model to an observation table")
    p.add_argument("--data", required=True, help="observation table (CSV or Parquet)")
    p.add_argument("--out", required=True, help="netCDF file for the fit")
    p.add_argument("--spec", default="default", help="model spec name in models/ or a path")
    p.add_argument(
        "--method",
        choices=["auto", "nuts", "advi", "laplace"],
        default="auto",
        help="auto (default): nuts, or laplace where the data are too big for NUTS from the "
        "mode (over 3,000 parameters from 20,000 rows); nuts: MCMC (nutpie, or PyMC's NUTS "
        "from the posterior mode on large data); advi, laplace (the Gaussian at the mode): "
        "fast approximate posteriors",
    )
    p.add_argument(
        "--start",
        choices=["auto", "default", "mode"],
        default=None,
        help="where NUTS starts: auto (default: the posterior mode from 20,000 rows), "
        "default (the sampler's own adaptation) or mode",
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
    add_cluster_options(p, _whole(1), "fit")
    _strict(p, loaded=False)
    p.set_defaults(func=cmd_fit)


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
    p.set_defaults(func=cmd_predict)


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
    p.set_defaults(func=cmd_fit_volume)


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
    add_cluster_options(p, _whole(1))
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
        "--keep-draws",
        action="store_true",
        help="also keep every zip-day and station-day draw in draws.zarr in the folder "
        "(a Zarr store, streamed block by block; open it with "
        "bayesspr.io.draw_store.open_draws)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for the plan CSVs, charts and "
        "manifest.json; replaced whole (a new folder or an earlier plan)",
    )
    p.set_defaults(func=cmd_plan)


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
    p.set_defaults(func=cmd_absorb)


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
    add_cluster_options(p, _whole(1), "backtest")
    p.set_defaults(func=cmd_backtest)


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
        "--partners",
        default=None,
        help="CSV with a row per station and delivery service partner: station, partner, "
        "max_vans (blank: no limit), min_vans (optional; blank: 0), cost_per_van_month; "
        "writes partners.csv",
    )
    p.add_argument(
        "--storage",
        default=None,
        help="CSV with a row per station with a storage limit: station, storage_packages "
        "(packages it stores today; blank: no limit); writes storage.csv",
    )
    p.add_argument(
        "--storage-risk",
        type=_number_type(lambda v: 0 <= v < 1, "a share in [0, 1)"),
        default=0.05,
        help="largest share of draws whose design-day packages may overflow the storage",
    )
    p.add_argument(
        "--storage-module-packages",
        type=_non_negative,
        default=None,
        help="packages one storage module adds (0: storage cannot grow; default: the "
        "example's 500)",
    )
    p.add_argument(
        "--storage-module-cost",
        type=_non_negative,
        default=None,
        help="price of one storage module (currency; default: the example's 15,000)",
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
        "--fresh-samples",
        type=_whole(2, 10_000, " draws"),
        default=100,
        help="fresh draws of the example the plan is priced on out of sample, 2 to 10,000",
    )
    p.add_argument(
        "--vss",
        type=_whole(0, 100, " replicates"),
        default=0,
        metavar="REPLICATES",
        help="value of the stochastic solution over this many independent sets of planning "
        "draws (2 or more; 0: not computed), priced on the fresh draws; writes vss.csv",
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for purchases.csv, fleet.csv, "
        "electric_share.csv, cost.csv, station_months.csv, three charts "
        "(electric_share.png, shortfall_heatmap.png, cost_breakdown.png), manifest.json "
        "and, with --partners, --storage or --vss, partners.csv, storage.csv or vss.csv; "
        "replaced whole",
    )
    p.set_defaults(func=cmd_deploy)


def _add_monitor(sub: _Subparsers) -> None:
    p = _command(sub, "monitor", "score a new month against last month's fits, station by station")
    p.add_argument("--model", required=True, help="last month's SPR fit (.nc)")
    p.add_argument(
        "--volume-model",
        default=None,
        help="last month's volume fit (.nc): test each station's stops too (volume or "
        "productivity)",
    )
    p.add_argument("--history", required=True, help="the table the fits were made on")
    p.add_argument("--new-month", required=True, help="the new month's observation table")
    p.add_argument(
        "--fdr", type=_fraction, default=0.05, help="false discovery rate of the station tests"
    )
    p.add_argument("--samples", type=_samples, default=1000, help="predictive draws")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws and the PITs")
    p.add_argument(
        "--out",
        required=True,
        help="folder for stations.csv, zips.csv, station_days.csv, monitor_stations.png and "
        "manifest.json; replaced whole",
    )
    _strict(p, loaded=True)
    p.set_defaults(func=cmd_monitor)


def _add_cycle(sub: _Subparsers) -> None:
    p = _command(sub, "cycle", "monitor a new month, re-fit, re-plan and record what changed")
    p.add_argument("--new-month", default=None, help="the new month's observation table")
    p.add_argument(
        "--new-month-query",
        default=None,
        metavar="SQL",
        help="or: a SQL query giving the new month's rows, run on --source",
    )
    p.add_argument(
        "--source",
        default=None,
        help="DuckDB file or SQLAlchemy URL (postgresql://...) --new-month-query runs on",
    )
    p.add_argument(
        "--runs", required=True, help="folder of the runs; the new one goes in RUNS/RUN_ID/"
    )
    p.add_argument(
        "--history",
        default=None,
        help="observations before the new month (default: the last run's history.parquet; "
        "required for the first run)",
    )
    p.add_argument(
        "--db",
        default=None,
        help="DuckDB file or SQLAlchemy URL of the runs' tables (default: RUNS/runs.duckdb)",
    )
    p.add_argument("--run-id", default=None, help="the run's id (default: the month, YYYY-MM)")
    p.add_argument("--horizon", type=_horizon, default="16M", help="forecast horizon")
    p.add_argument(
        "--service-level", type=_fraction, default=0.95, help="P(the fleet covers a peak day)"
    )
    p.add_argument("--samples", type=_samples, default=400, help="joint forecast draws")
    p.add_argument("--seed", type=int, default=0, help="seed of fits, forecasts and monitor")
    p.add_argument("--draws", type=_positive_int, default=None, help="SPR draws per chain")
    p.add_argument("--tune", type=_positive_int, default=None, help="SPR tuning steps per chain")
    p.add_argument("--chains", type=_chains, default=None, help="SPR chains")
    p.add_argument(
        "--volume-draws", type=_positive_int, default=None, help="volume draws per chain"
    )
    p.add_argument(
        "--volume-tune", type=_positive_int, default=None, help="volume tuning steps per chain"
    )
    p.add_argument("--volume-chains", type=_chains, default=None, help="volume chains")
    p.add_argument("--fdr", type=_fraction, default=0.05, help="the monitor's false discovery rate")
    add_cluster_options(p, _whole(1), "cycle")
    p.set_defaults(func=cmd_cycle)


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
        "--new-month",
        default=None,
        help="SPR fits: a later month's observations; adds the monitor's section (which "
        "stations the fit got wrong there, and why)",
    )
    p.add_argument(
        "--chart",
        action="append",
        default=[],
        metavar="NAME=PNG",
        help="attach a PNG chart (repeatable)",
    )
    _strict(p, loaded=True)
    p.set_defaults(func=cmd_report)


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
