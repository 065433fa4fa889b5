"""Command line: ``bayesspr demo | simulate | fit | predict`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence

import pandas as pd

from bayesspr import data
from bayesspr.model import SPRModel
from bayesspr.simulate import simulate_world
from bayesspr.summaries import observed_vs_physics, station_forecast

#: Days of the demo world held out as "next month".
DEMO_HORIZON_DAYS = 28

#: Capacity of the larger van in the demo's scenario (packages).
DEMO_LARGER_VAN = 450.0


def _print_table(title: str, table: pd.DataFrame) -> None:
    print(f"\n{title}")
    print(table.round(2).to_string())


def run_demo(seed: int = 7, draws: int | None = None, tune: int | None = None) -> int:
    """Fit the demo world and print physics, forecast and convergence tables.

    Parameters
    ----------
    seed : int
        Seed of the demo world and the sampler.
    draws, tune : int, optional
        Sampler settings (defaults from the model spec).

    Returns
    -------
    int
        Exit status (0).
    """
    world = simulate_world(seed)
    table = data.validate(world.table)
    cutoff = table["date"].max() - pd.Timedelta(days=DEMO_HORIZON_DAYS - 1)
    history, future = table[table["date"] < cutoff], table[table["date"] >= cutoff]
    print(f"demo world: {len(table)} zip-days, {table['zip'].nunique()} zips, "
          f"{table['station'].nunique()} stations, {table['city'].nunique()} cities; "
          f"history to {history['date'].max():%Y-%m-%d}, "
          f"next month from {cutoff:%Y-%m-%d}")  # fmt: skip
    _print_table("Observed SPR vs textbook physics (packages per route):",
                 observed_vs_physics(history))  # fmt: skip

    started = time.perf_counter()
    model = SPRModel().fit(history, random_seed=seed, draws=draws, tune=tune)
    d = model.diagnostics
    print(f"\nfit in {time.perf_counter() - started:.0f} s: R-hat max {d['rhat_max']:.3f}, "
          f"ESS bulk min {d['ess_bulk_min']:.0f}, tail min {d['ess_tail_min']:.0f}, "
          f"divergences {d['divergences']}, E-BFMI min {d['ebfmi_min']:.2f} -> "
          + ("converged" if d["ok"] else "NOT converged: " + "; ".join(d["problems"])))  # fmt: skip

    plan = future.drop(columns=["routes", "route_km"], errors="ignore")
    current = station_forecast(plan, model.predict_draws(plan, random_seed=seed))
    current["observed_spr"] = (future.groupby("station")["packages"].sum()
                               / future.groupby("station")["routes"].sum())  # fmt: skip
    _print_table("Next month, current vans: SPR with 90% credible interval (observed for "
                 "comparison):", current)  # fmt: skip
    bigger = plan.assign(van_capacity=DEMO_LARGER_VAN)
    bigger_draws = model.predict_draws(bigger, random_seed=seed)
    _print_table(f"Next month if every van carried {DEMO_LARGER_VAN:.0f} packages:",
                 station_forecast(bigger, bigger_draws))  # fmt: skip
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``bayesspr`` command.

    Returns
    -------
    argparse.ArgumentParser
        Parser with sub-commands ``demo``, ``simulate``, ``fit`` and ``predict``.
    """
    parser = argparse.ArgumentParser(
        prog="bayesspr",
        description="Physics-informed Bayesian forecasts of shipments per route (SPR).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="fit the embedded demo world and print forecasts")
    p.add_argument("--seed", type=int, default=7, help="world and sampler seed")
    p.add_argument("--draws", type=int, default=None, help="posterior draws per chain")
    p.add_argument("--tune", type=int, default=None, help="tuning steps per chain")
    p.set_defaults(func=lambda a: run_demo(a.seed, a.draws, a.tune))

    p = sub.add_parser("simulate", help="write a simulated observation table")
    p.add_argument("--out", required=True, help="CSV or Parquet file to write")
    p.add_argument("--seed", type=int, default=7, help="world seed")
    p.add_argument("--days", type=int, default=120, help="days of history")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("fit", help="fit the SPR model to an observation table")
    p.add_argument("--data", required=True, help="observation table (CSV or Parquet)")
    p.add_argument("--out", required=True, help="netCDF file for the fit")
    p.add_argument("--spec", default="default", help="model spec name in models/ or a path")
    p.add_argument("--method", choices=["nuts", "advi"], default="nuts")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--draws", type=int, default=None)
    p.add_argument("--tune", type=int, default=None)
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("predict", help="forecast SPR and routes for planned rows")
    p.add_argument("--model", required=True, help="fit written by 'bayesspr fit'")
    p.add_argument("--data", required=True, help="planned rows (canonical table, no routes)")
    p.add_argument("--out", required=True, help="CSV file for the forecast")
    p.add_argument("--interval", type=float, default=0.9, help="credible interval mass")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_predict)
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
    except (data.DataError, FileNotFoundError, ValueError) as exc:
        print(f"bayesspr {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
