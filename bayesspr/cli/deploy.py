"""``bayesspr deploy``: plan purchases and station fleets, write the plan tables.

The command plans on the built-in worked example (:func:`bayesspr.deploy.example_problem`),
optionally with its stations' bays and charging power, its per-period limits, its delivery
service partners and its stations' storage replaced by CSV tables. Each table is validated
whole: one :class:`~bayesspr.errors.DeployInputError` lists every row, column and value that
cannot be used, with what was expected.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from bayesspr.cli.manifest import inputs_record, write_manifest
from bayesspr.deploy.charts import CHART_FILES, deploy_charts
from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import DeployPlan, DeployWarning, check_plan, deploy
from bayesspr.deploy.problem import DeployProblem
from bayesspr.deploy.vss import out_of_sample_cost, replicated_value_of_stochastic_solution
from bayesspr.errors import DeployInputError, Problem
from bayesspr.io.files import atomic_folder, check_output_path, write_csv

__all__ = [
    "DEPLOY_FILES",
    "LIMITS_COLUMNS",
    "STATIONS_COLUMNS",
    "deploy_cli",
    "read_limits",
    "read_partners",
    "read_stations",
    "read_storage",
]

#: What ``bayesspr deploy`` writes into its output folder (with ``manifest.json``).
DEPLOY_FILES = (
    "purchases.csv",
    "fleet.csv",
    "electric_share.csv",
    "cost.csv",
    "station_months.csv",
    *CHART_FILES,
)
#: Written with ``--partners`` / ``--storage``: each partner's vans, each station's storage.
PARTNERS_FILE, STORAGE_FILE = "partners.csv", "storage.csv"
#: Written with ``--vss``: the value of the stochastic solution per replicate.
VSS_FILE = "vss.csv"
#: Draw seed of the fresh draws a plan is priced on (the planning draws use 0, 1, ...).
FRESH_DRAW_SEED = 1_000
#: Columns of a ``--stations`` table: the station, then what may be set for it.
STATIONS_COLUMNS = ("station", "bays", "power_kw")
#: Columns of a ``--limits`` table: the period, then its limits (blank: no limit).
LIMITS_COLUMNS = ("period", "budget", "ev_supply", "min_electric_share")

#: Columns of a ``--partners`` table (``min_vans`` may be left out).
PARTNERS_COLUMNS = ("station", "partner", "max_vans", "min_vans", "cost_per_van_month")
#: Columns of a ``--storage`` table.
STORAGE_COLUMNS = ("station", "storage_packages")

#: Per value column: a test of a number, what is expected, and what a blank means
#: (None: a blank is not allowed).
_Rule = tuple[Callable[[float], bool], str, float | None]
_STATION_RULES: dict[str, _Rule] = {
    "bays": (
        lambda v: math.isfinite(v) and v >= 0 and v == round(v),
        "a whole number of parking bays ≥ 0",
        None,
    ),
    "power_kw": (
        lambda v: v >= 0 and not math.isnan(v),
        "a charging power ≥ 0 (kW), or blank for no limit",
        math.inf,
    ),
}
_LIMIT_RULES: dict[str, _Rule] = {
    "budget": (
        lambda v: v >= 0,
        "a purchase budget ≥ 0 (currency), or blank for no limit",
        math.inf,
    ),
    "ev_supply": (
        lambda v: math.isfinite(v) and v >= 0 and v == round(v),
        "a whole number of electric vans ≥ 0 (leave the column out for no limit)",
        None,
    ),
    "min_electric_share": (
        lambda v: 0 <= v <= 1,
        "an electric share in [0, 1] (–), or blank for none",
        0.0,
    ),
}
_PARTNER_RULES: dict[str, _Rule] = {
    "max_vans": (
        lambda v: v >= 0 and (v == math.inf or v == round(v)),
        "a whole number of vans ≥ 0 the partner can run, or blank for no limit",
        math.inf,
    ),
    "min_vans": (
        lambda v: math.isfinite(v) and v >= 0 and v == round(v),
        "a whole number of vans ≥ 0 (the contract minimum; blank: 0)",
        0.0,
    ),
    "cost_per_van_month": (
        lambda v: math.isfinite(v) and v >= 0,
        "the partner's rate ≥ 0 (currency per van-month)",
        None,
    ),
}
_STORAGE_RULES: dict[str, _Rule] = {
    "storage_packages": (
        lambda v: v >= 0 and not math.isnan(v),
        "packages the station can store ≥ 0, or blank for no limit",
        math.inf,
    ),
}


def _read_columns(
    path: str, where: str, key: str, rules: Mapping[str, _Rule], required: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, list[Problem]]:
    """The CSV as text, and the problems with its header (none, unknown or missing columns)."""
    allowed = tuple(dict.fromkeys((key, *required, *rules)))
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        expected = f"expected a header row ({', '.join(allowed)})"
        return pd.DataFrame(), [Problem(where, None, None, expected)]
    found = [
        Problem(where, c, None, f"expected only the columns {list(allowed)}")
        for c in raw.columns
        if c not in allowed
    ]
    found += [
        Problem(where, c, None, f"expected a {c!r} column")
        for c in (key, *required)
        if c not in raw.columns
    ]
    return raw, found


def _cell_value(cell: str, rule: _Rule) -> float | None:
    """A cell's number (a blank's value from the rule), or None when the rule refuses it."""
    check, _, blank = rule
    try:
        value = float(cell.strip()) if cell.strip() else blank
    except ValueError:
        return None
    return value if value is not None and check(value) else None


@dataclass(frozen=True)
class _Shape:
    """What a table's rows must be: the keys it may name, once each, every one of them."""

    key: str
    known: list[str]
    unique: bool = True
    every: bool = True
    required: tuple[str, ...] = ()


def _read_table(
    path: str, option: str, shape: _Shape, rules: Mapping[str, _Rule]
) -> tuple[pd.DataFrame, list[Problem]]:
    """Read a CSV table with rows named by ``shape.key`` and check its columns, rows, values.

    Parameters
    ----------
    path : str
        The CSV file.
    option : str
        The option that named it (for messages).
    shape : _Shape
        The column naming each row (``station`` or ``period``), the keys the problem has,
        whether each may appear only once and must appear, and the columns the table needs
        (text columns other than the key are kept as text; a blank one is a problem).
    rules : mapping of str to (check, expected, blank)
        Per value column: a test of a number, what is expected if it fails, and the value
        of a blank cell (None: a blank is a problem).

    Returns
    -------
    table : pandas.DataFrame
        Indexed by the key (as text; in the order of ``known`` when each appears once), the
        value columns as floats and the other required columns as text.
    problems : list of Problem
        Every problem found; rows are numbered from 1, the first row after the header.
    """
    where, key, known = f"{option} {path}", shape.key, shape.known
    raw, found = _read_columns(path, where, key, rules, shape.required)
    if found:
        return pd.DataFrame(), found
    keys = raw[key].str.strip()
    values = pd.DataFrame(index=raw.index, columns=[c for c in rules if c in raw], dtype=float)
    text = [c for c in shape.required if c not in rules]
    for i in raw.index:
        row = f"{i + 1} of {where}"
        if keys[i] not in known:
            found.append(Problem(row, key, raw[key][i], f"expected one of {known}"))
        elif shape.unique and (keys[:i] == keys[i]).any():
            found.append(Problem(row, key, raw[key][i], f"expected each {key} once"))
        found += [
            Problem(row, col, raw[col][i], "expected a name, not a blank")
            for col in text
            if not raw[col][i].strip()
        ]
        for col in values.columns:
            value = _cell_value(raw[col][i], rules[col])
            if value is None:
                found.append(Problem(row, col, raw[col][i], f"expected {rules[col][1]}"))
            else:
                values.loc[i, col] = value
    lacking = [k for k in known if k not in set(keys)]
    if lacking and shape.every:
        found.append(Problem(where, key, str(lacking), f"expected a row for every {key}"))
    for col in text:
        values[col] = raw[col].str.strip()
    table = values.set_axis(keys.to_numpy())
    if found or not shape.unique:
        return table, found
    return table.reindex([k for k in known if k in set(keys)]), found


def read_stations(path: str, problem: DeployProblem) -> dict[str, Any]:
    """The bays and charging power a ``--stations`` table sets, as problem fields.

    Parameters
    ----------
    path : str
        CSV with a row per station: ``station`` and any of ``bays`` (parking bays, vans) and
        ``power_kw`` (charging power, kW, the same in every period; blank: no limit).
    problem : DeployProblem
        The problem whose stations the table names.

    Returns
    -------
    dict
        ``bays`` and/or ``station_power_kw`` for :func:`dataclasses.replace`.

    Raises
    ------
    DeployInputError
        Naming every row, column and value that cannot be used, and what was expected.
    """
    shape = _Shape("station", problem.stations)
    table, found = _read_table(path, "--stations", shape, _STATION_RULES)
    if found:
        raise DeployInputError(found)
    fields: dict[str, Any] = {}
    if "bays" in table:
        fields["bays"] = table["bays"].astype("int64")
    if "power_kw" in table:
        kw = table["power_kw"].to_numpy()[:, None].repeat(len(problem.periods), axis=1)
        fields["station_power_kw"] = pd.DataFrame(kw, index=table.index, columns=problem.periods)
    return fields


def read_limits(path: str, problem: DeployProblem) -> dict[str, Any]:
    """The per-period limits a ``--limits`` table sets, as problem fields.

    Parameters
    ----------
    path : str
        CSV with a row per period: ``period`` and any of ``budget`` (currency; blank: no
        limit), ``ev_supply`` (electric vans delivered) and ``min_electric_share`` (–, in
        [0, 1]; blank: none).
    problem : DeployProblem
        The problem whose periods the table names.

    Returns
    -------
    dict
        ``budget``, ``ev_supply`` and/or ``min_electric_share`` for
        :func:`dataclasses.replace`.

    Raises
    ------
    DeployInputError
        Naming every row, column and value that cannot be used, and what was expected.
    """
    periods = [str(p) for p in problem.periods]
    table, found = _read_table(path, "--limits", _Shape("period", periods), _LIMIT_RULES)
    if found:
        raise DeployInputError(found)
    table = table.set_axis(list(problem.periods))
    if "ev_supply" in table:
        table["ev_supply"] = table["ev_supply"].astype("int64")
    return {col: table[col] for col in table.columns}


def read_partners(path: str, problem: DeployProblem) -> dict[str, Any]:
    """The delivery service partners a ``--partners`` table sets, as a problem field.

    Parameters
    ----------
    path : str
        CSV with a row per station and partner: ``station``, ``partner`` (a name),
        ``max_vans`` (vans it can run; blank: no limit), optionally ``min_vans`` (its contract
        minimum, vans; blank: 0) and ``cost_per_van_month`` (its rate, currency per
        van-month). A station with partners has its whole fleet split among them each month.
    problem : DeployProblem
        The problem whose stations the table names.

    Returns
    -------
    dict
        ``partners`` for :func:`dataclasses.replace`.

    Raises
    ------
    DeployInputError
        Naming every row, column and value that cannot be used, and what was expected.
    """
    shape = _Shape(
        "station",
        problem.stations,
        unique=False,
        every=False,
        required=("partner", "max_vans", "cost_per_van_month"),
    )
    table, found = _read_table(path, "--partners", shape, _PARTNER_RULES)
    if not found:
        pairs = pd.Series(table.index + "\x00" + table["partner"].to_numpy())
        found += [
            Problem(
                f"{i + 1} of --partners {path}",
                "partner",
                table["partner"].iloc[i],
                f"expected each partner once per station ({table.index[i]!r})",
            )
            for i in np.flatnonzero(pairs.duplicated().to_numpy())
        ]
        low = table.get("min_vans", pd.Series(0.0, index=table.index)).to_numpy()
        found += [
            Problem(
                f"{i + 1} of --partners {path}",
                "min_vans",
                low[i],
                f"expected ≤ max_vans ({table['max_vans'].iloc[i]:g})",
            )
            for i in np.flatnonzero(low > table["max_vans"].to_numpy())
        ]
    if found:
        raise DeployInputError(found)
    return {"partners": table.rename_axis("station").reset_index()}


def read_storage(path: str, problem: DeployProblem) -> dict[str, Any]:
    """The stations' storage a ``--storage`` table sets, as a problem field.

    Parameters
    ----------
    path : str
        CSV with a row per station that has a storage limit: ``station`` and
        ``storage_packages`` (packages it can store today; blank: no limit). Stations left
        out have no limit.
    problem : DeployProblem
        The problem whose stations the table names.

    Returns
    -------
    dict
        ``storage_packages`` (every station; infinite where not limited) for
        :func:`dataclasses.replace`.

    Raises
    ------
    DeployInputError
        Naming every row, column and value that cannot be used, and what was expected.
    """
    shape = _Shape("station", problem.stations, every=False, required=("storage_packages",))
    table, found = _read_table(path, "--storage", shape, _STORAGE_RULES)
    if found:
        raise DeployInputError(found)
    storage = table["storage_packages"].reindex(problem.stations, fill_value=math.inf)
    return {"storage_packages": storage.rename_axis("station")}


def _tables(solved: _Solved) -> dict[str, pd.DataFrame]:
    """The plan's tables as flat frames, by file name (cost in and out of sample)."""
    plan = solved.plan
    fleet = plan.fleet.to_dataframe().reset_index()[["month", "station", "van", "fleet"]]
    share = plan.electric_share.rename_axis(index="city", columns=None).reset_index()
    cost = pd.DataFrame(
        {
            "in_sample": plan.cost,
            "out_of_sample": solved.priced.cost,
            "out_of_sample_se": pd.Series({"total": solved.out_of_sample["out_of_sample_se"]}),
        }
    )
    cost = cost.loc[plan.cost.index].rename_axis("part").reset_index()
    tables = {
        "purchases.csv": plan.purchases,
        "fleet.csv": fleet.rename(columns={"fleet": "vans"}),
        "electric_share.csv": share,
        "cost.csv": cost,
        "station_months.csv": plan.station_months,
    }
    if plan.problem.partners is not None:
        tables[PARTNERS_FILE] = plan.partner_fleet
    if plan.problem.storage_packages is not None:
        tables[STORAGE_FILE] = plan.storage
    return tables


def _changed_fields(args: argparse.Namespace, problem: DeployProblem) -> dict[str, Any]:
    """The example's fields that the command's tables and options replace."""
    fields: dict[str, Any] = {"hard_service": args.hard_service}
    if args.stations is not None:
        fields.update(read_stations(args.stations, problem))
    if args.limits is not None:
        fields.update(read_limits(args.limits, problem))
    if args.partners is not None:
        fields.update(read_partners(args.partners, problem))
    if args.storage is not None:
        fields.update(read_storage(args.storage, problem))
        fields["storage_risk"] = args.storage_risk
    costs = {
        "shortage_per_van_day": args.shortage_cost,
        "storage_module_packages": args.storage_module_packages,
        "storage_per_module": args.storage_module_cost,
    }
    costs = {k: v for k, v in costs.items() if v is not None}
    if costs:
        fields["costs"] = replace(problem.costs, **costs)
    if args.charging_hours is not None:
        fields["charging_hours"] = args.charging_hours
    return fields


@dataclass(frozen=True)
class _Solved:
    """What the command solved: the plan, the plan priced out of sample, the VSS."""

    plan: DeployPlan
    out_of_sample: pd.Series
    priced: DeployPlan
    vss: tuple[pd.Series, pd.DataFrame] | None


def _solve(args: argparse.Namespace, base: DeployProblem, fields: dict[str, Any]) -> _Solved:
    """Plan on the example's draws, price it on fresh ones and, with ``--vss``, the VSS.

    ``base`` is the example on its planning draws (draw seed 0); ``fields`` replace its
    limits and costs, and those of every other set of draws the command makes.
    """

    def example(n_samples: int, draw_seed: int) -> DeployProblem:
        draws = example_problem(n_samples=n_samples, seed=args.seed, draw_seed=draw_seed)
        return replace(draws, **fields)

    problem = replace(base, **fields)
    with warnings.catch_warnings():  # said after the plan and kept in the manifest
        warnings.simplefilter("ignore", DeployWarning)
        plan = deploy(problem, time_limit=args.time_limit, mip_rel_gap=args.mip_gap)
        broken = check_plan(plan)
        if broken:  # never write a plan that breaks a constraint
            raise RuntimeError("the solver's plan breaks constraints: " + "; ".join(broken))
        fresh = example(args.fresh_samples, FRESH_DRAW_SEED)
        summary, priced = out_of_sample_cost(plan, fresh, time_limit=args.time_limit)
        vss = None
        if args.vss:
            planning = [problem, *(example(args.samples, r) for r in range(1, args.vss))]
            vss = replicated_value_of_stochastic_solution(
                planning, fresh, time_limit=args.time_limit, mip_rel_gap=args.mip_gap
            )
    return _Solved(plan, summary, priced, vss)


def _say(solved: _Solved, args: argparse.Namespace) -> None:
    """Print the plan, its cost out of sample, the VSS and any warning."""
    plan, cost = solved.plan, solved.out_of_sample
    print(plan.summary())
    print(
        f"on {args.fresh_samples} fresh draws the plan costs {cost['out_of_sample']:,.0f} "
        f"± {cost['out_of_sample_se']:,.0f}, {cost['optimism_share']:+.1%} against its "
        f"in-sample {cost['in_sample']:,.0f} (it was chosen on those draws, so that flatters)"
    )
    if solved.vss is not None:
        v = solved.vss[0]
        print(
            f"value of the stochastic solution over {args.vss} sets of planning draws: "
            f"{v['vss']:,.0f} ± {v['vss_se']:,.0f} ({v['vss_share']:.1%} of the "
            f"mean-forecast plan's cost); each set in {VSS_FILE}"
        )
    print(plan.purchases.query("vans > 0").to_string(index=False))


def deploy_cli(args: argparse.Namespace) -> int:
    """``bayesspr deploy``: plan the example network, write the plan tables and a manifest.

    The plan is priced on ``--fresh-samples`` fresh draws of the example (out of sample,
    with its standard error); ``--vss R`` adds the value of the stochastic solution over R
    independent sets of planning draws.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of ``bayesspr deploy``.

    Returns
    -------
    int
        0 when the plan was written.

    Raises
    ------
    DeployInputError
        A ``--stations``, ``--limits``, ``--partners`` or ``--storage`` table, or an option,
        cannot be used.
    InfeasibleDeploymentError
        No plan meets the hard limits; nothing is written.
    """
    inputs = {
        "--stations": args.stations,
        "--limits": args.limits,
        "--partners": args.partners,
        "--storage": args.storage,
    }
    files = (
        *DEPLOY_FILES,
        *([PARTNERS_FILE] if args.partners else []),
        *([STORAGE_FILE] if args.storage else []),
        *([VSS_FILE] if args.vss else []),
    )
    out = check_output_path(args.out, "folder", inputs, folder_files=files)
    if args.vss == 1:
        raise DeployInputError(
            [Problem("--vss", None, 1, "expected 0 (none) or at least 2 replicates")]
        )
    base = example_problem(n_samples=args.samples, seed=args.seed)
    solved = _solve(args, base, _changed_fields(args, base))
    plan = solved.plan
    record = inputs_record(inputs)
    settings = {
        "example": True,
        "samples": args.samples,
        "seed": args.seed,
        "time_limit_s": args.time_limit,
        "mip_gap": args.mip_gap,
        "shortage_cost": plan.problem.costs.shortage_per_van_day,
        "charging_hours": plan.problem.charging_hours,
        "hard_service": plan.problem.hard_service,
        "storage_risk": plan.problem.storage_risk if args.storage else None,
        "storage_module_packages": plan.problem.costs.storage_module_packages,
        "storage_per_module": plan.problem.costs.storage_per_module,
        "fresh_samples": args.fresh_samples,
        "fresh_draw_seed": FRESH_DRAW_SEED,
        "vss_replicates": args.vss,
    }
    with atomic_folder(out) as tmp:  # the whole folder, or the earlier one
        for name, table in _tables(solved).items():
            write_csv(table, tmp / name)
        deploy_charts(plan, tmp, priced=solved.priced)
        if solved.vss is not None:
            write_csv(solved.vss[1], tmp / VSS_FILE)
        write_manifest(
            tmp,
            getattr(args, "argv", []),
            inputs=record,
            settings=settings,
            mip_gap=None if math.isnan(plan.mip_gap) else plan.mip_gap,
            solve_seconds=plan.seconds,
            warnings=plan.warnings,
            out_of_sample=solved.out_of_sample.to_dict(),
            vss=None if solved.vss is None else solved.vss[0].to_dict(),
        )
    _say(solved, args)
    print(f"wrote {', '.join(files)} and manifest.json to {out}")
    for message in plan.warnings:
        print(f"warning: {message}", file=sys.stderr)
    return 0
