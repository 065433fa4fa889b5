"""Plan a deployment: solve the program, name what stops it, and read the plan as tables.

:func:`deploy` solves the sample-average program of a :class:`DeployProblem` and returns a
:class:`DeployPlan`; an infeasible program raises
:class:`~bayesspr.errors.InfeasibleDeploymentError` naming the limits that, dropped one
at a time, would make it feasible (never a partial plan). :func:`check_plan` re-checks a plan
against every constraint on every draw from the problem's own arrays (not from the matrix the
solver saw); :func:`evaluate_plan` prices a plan's first stage on other draws.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.deploy.problem import DeployProblem
from bayesspr.deploy.program import (
    FIRST_STAGE,
    LIMITS,
    Program,
    Solution,
    build_program,
    solve_program,
)
from bayesspr.errors import DeploySolveError, InfeasibleDeploymentError

__all__ = ["DeployPlan", "DeployWarning", "check_plan", "deploy", "evaluate_plan"]

_TOL = 1e-6
#: Share of the expected cost above which a plan's shortage is said to dominate it (–).
SHORTAGE_DOMINATES = 0.5


class DeployWarning(UserWarning):
    """A plan was found, but it is not one a fleet owner should sign as it stands."""


@dataclass(frozen=True)
class DeployPlan:
    """A solved deployment.

    Attributes
    ----------
    problem : DeployProblem
        What was planned.
    program : Program
        The program solved.
    solution : Solution
        HiGHS's answer (objective, status, MIP gap, solve time).
    """

    problem: DeployProblem
    program: Program
    solution: Solution

    def _block(self, name: str) -> np.ndarray:
        return self.program.values(self.solution.x, name)  # type: ignore[arg-type]

    @property
    def buy(self) -> np.ndarray:
        """Vans bought (van, city, period)."""
        return self._block("buy")

    @property
    def fleet_array(self) -> np.ndarray:
        """Vans assigned (van, station, month)."""
        return self._block("fleet")

    @property
    def first_stage(self) -> dict[str, np.ndarray]:
        """The decisions shared by all draws (:data:`~bayesspr.deploy.program.FIRST_STAGE`)."""
        return {k: self._block(k) for k in FIRST_STAGE}

    @property
    def ev_routes(self) -> np.ndarray:
        """Design-day routes run electric per draw (sample, van, station, month, km class)."""
        return self._block("ev")

    @property
    def shortage(self) -> np.ndarray:
        """Design-day routes short per draw (sample, station, month)."""
        return self._block("short")

    @property
    def mip_gap(self) -> float:
        """Relative MIP gap of the solve (–)."""
        return self.solution.mip_gap

    @property
    def seconds(self) -> float:
        """Solve time (s)."""
        return self.solution.seconds

    @cached_property
    def purchases(self) -> pd.DataFrame:
        """Vans bought per period, city and van type, and their spend (currency)."""
        p = self.problem
        price = {v.name: float(v.cost_per_van) for v in p.van_types}
        idx = pd.MultiIndex.from_product(
            [p.vans, p.cities, p.periods], names=["van", "city", "period"]
        )
        out = pd.DataFrame({"vans": self.buy.ravel().astype(int)}, index=idx).reset_index()
        out["spend"] = out["vans"] * out["van"].map(price)
        return out[["period", "city", "van", "vans", "spend"]]

    @cached_property
    def fleet(self) -> xr.DataArray:
        """Vans assigned per van type, station and month (vans)."""
        p = self.problem
        return xr.DataArray(
            self.fleet_array.astype(int),
            dims=("van", "station", "month"),
            coords={"van": p.vans, "station": p.stations, "month": p.months},
            name="fleet",
        )

    @cached_property
    def partner_fleet(self) -> pd.DataFrame:
        """Vans each delivery service partner runs per station and month (vans).

        Columns ``station``, ``partner``, ``month``, ``vans``, ``max_vans`` and the partner's
        ``cost_per_van_month``; empty when the problem has no partners.
        """
        pairs = self.problem.partner_table()
        vans = self._block("partner")
        rows = [
            {
                "station": pair["station"],
                "partner": pair["partner"],
                "month": month,
                "vans": int(np.rint(vans[j, t])),
                "max_vans": pair["max_vans"],
                "cost_per_van_month": pair["cost_per_van_month"],
            }
            for j, pair in pairs.iterrows()
            for t, month in enumerate(self.problem.months)
        ]
        columns = ["station", "partner", "month", "vans", "max_vans", "cost_per_van_month"]
        return pd.DataFrame(rows, columns=columns)

    @cached_property
    def storage(self) -> pd.DataFrame:
        """Storage per station and period: modules added, capacity after them (packages).

        Columns ``station``, ``period``, ``modules_added``, ``capacity_packages``; only the
        stations with a storage limit.
        """
        p, a = self.problem, self.program.arrays
        added = np.rint(self._block("expand")).astype(int)  # (s, p)
        capacity = self._storage_by_period()
        rows = [
            {
                "station": station,
                "period": period,
                "modules_added": int(added[s, k]),
                "capacity_packages": float(capacity[s, k]),
            }
            for s, station in enumerate(p.stations)
            if np.isfinite(a["storage"][s])
            for k, period in enumerate(p.periods)
        ]
        columns = ["station", "period", "modules_added", "capacity_packages"]
        return pd.DataFrame(rows, columns=columns)

    def _storage_by_period(self) -> np.ndarray:
        """Packages each station can store in each period, modules included (S, P)."""
        size = float(self.problem.costs.storage_module_packages)
        modules = np.cumsum(np.rint(self._block("expand")), axis=1)
        return self.program.arrays["storage"][:, None] + size * modules

    def _storage_capacity(self) -> np.ndarray:
        """Packages each station can store in each month, modules included (S, T)."""
        return self._storage_by_period()[:, self.program.arrays["period_of"]]

    @cached_property
    def electric_share(self) -> pd.DataFrame:
        """Share of each city's fleet that is electric per month (–; rows city, columns month)."""
        p = self.problem
        city = self.fleet.assign_coords(city=("station", p.station_city.astype(str).to_numpy()))
        total = city.sum("van").groupby("city").sum()
        ev = city.sel(van=p.electric).sum("van").groupby("city").sum()
        share = (ev / total.where(total > 0)).transpose("city", "month")
        return share.to_pandas()

    @cached_property
    def cost(self) -> pd.Series:
        """Expected cost and its parts (currency; the residual value is negative)."""
        prog, x = self.program, self.solution.x
        out = pd.Series(
            {
                k: float(prog.parts[k] @ x) + prog.constants[k]  # type: ignore[operator]
                for k in prog.parts
            },
            name="currency",
        )
        out["total"] = out.sum()
        return out

    @cached_property
    def station_months(self) -> pd.DataFrame:
        """Per station-month: fleet, P(shortfall), expected shortage van-days, P(overflow), limits.

        Columns: ``vans``; ``p_shortfall`` (share of draws with a route short);
        ``shortage_van_days`` (expected, design-day shortage × shortage days per month);
        ``p_overflow`` (share of draws whose design-day routes exceed the bays: vans rented
        to cover them could not park); ``p_storage_overflow`` (share of draws whose
        design-day packages exceed the storage, modules included; 0 without a limit);
        ``binding`` (limits tight at the plan: ``bays``,
        ``station power``, ``city power``, ``range``, with the share of draws where tight, and
        ``budget`` / ``ev supply`` when the period's limit is spent).
        """
        p, a = self.problem, self.program.arrays
        fleet = self.fleet_array
        short = self.shortage
        days = float(p.costs.shortage_days_per_month)
        tight = self._tight()
        over_storage = (a["packages"] > self._storage_capacity()[None] + _TOL).mean(0)
        rows = []
        for s, station in enumerate(p.stations):
            for t, month in enumerate(p.months):
                names = [
                    f"{k} ({v[s, t]:.0%})" if v.ndim == 2 else k
                    for k, v in tight.items()
                    if (v.ndim == 2 and v[s, t] > 0) or (v.ndim == 1 and v[t])
                ]
                rows.append(
                    {
                        "station": station,
                        "month": month,
                        "city": p.station_city.iloc[s],
                        "vans": int(fleet[:, s, t].sum()),
                        "p_shortfall": float((short[:, s, t] > _TOL).mean()),
                        "shortage_van_days": float(short[:, s, t].mean() * days),
                        "p_overflow": float((a["demand"][:, s, t] > a["bays"][s] + _TOL).mean()),
                        "p_storage_overflow": float(over_storage[s, t]),
                        "binding": ", ".join(names),
                    }
                )
        return pd.DataFrame(rows)

    def _tight(self) -> dict[str, np.ndarray]:
        """Limits tight at the plan: (station, month) shares of draws, or (month,) flags."""
        p, a = self.problem, self.program.arrays
        fleet, ev = self.fleet_array, self.ev_routes
        period_of, city_of = a["period_of"], a["city_of"]
        hours = float(p.charging_hours)
        out: dict[str, np.ndarray] = {}
        out["bays"] = (np.abs(fleet.sum(0) - a["bays"][:, None]) < _TOL).astype(float)
        if ev.shape[1]:
            energy = (ev * a["kwh"]).sum((1, 4))  # (w, s, t)
            cap = a["station_kw"][:, period_of] * hours
            out["station power"] = (energy >= _slack(cap)[None]).mean(0)
            n_c = a["city_kw"].shape[0]
            city_energy = np.zeros((energy.shape[0], n_c, energy.shape[2]))
            np.add.at(city_energy, (slice(None), city_of), energy)
            ccap = a["city_kw"][:, period_of] * hours
            tight_c = city_energy >= _slack(ccap)[None]
            out["city power"] = tight_c[:, city_of].mean(0)
            reach = a["in_range"][:, -1].sum(-1)  # (w, s, t): routes the longest range runs
            run = ev.sum((1, 4))
            out["range"] = ((run >= reach - _TOL) & (a["demand"] > reach + _TOL)).mean(0)
        spend = (
            self.buy * np.array([float(v.cost_per_van) for v in p.van_types])[:, None, None]
        ).sum((0, 1))
        cheapest = min(float(v.cost_per_van) for v in p.van_types)
        out["budget"] = (spend > a["budget"] - cheapest)[period_of]
        if p.electric:
            ev_idx = [p.vans.index(e) for e in p.electric]
            out["ev supply"] = (self.buy[ev_idx].sum((0, 1)) >= a["ev_supply"] - _TOL)[period_of]
        return out

    @cached_property
    def warnings(self) -> list[str]:
        """What makes the plan doubtful, one sentence each (empty when nothing does).

        A plan whose expected shortage is more than half its expected cost leaves most of
        the work to rented vans or missed routes: the limits (budget, supply, an electric
        share target that only a network that barely runs can meet) decide it, not the
        costs.
        """
        c = self.cost
        out = []
        if c["total"] > 0 and c["shortage"] > SHORTAGE_DOMINATES * c["total"]:
            p_short = float((self.shortage > _TOL).mean())
            target = self.problem.min_electric_share
            has_target = target is not None and bool((target > 0).any())
            why = (
                f"the electric share target {target.to_dict()} can only be met by running few "
                "vans; "
                if has_target
                else ""
            )
            what = (
                "raise the budget or the electric supply, or relax the target"
                if has_target
                else "raise the budget, the electric supply, the bays or the power"
            )
            out.append(
                f"shortage is {c['shortage']:,.0f} of the expected cost {c['total']:,.0f} "
                f"({c['shortage'] / c['total']:.0%}; a route is short in {p_short:.0%} of "
                f"station-month draws): {why}{what}, before acting on this plan"
            )
        return out

    def summary(self) -> str:
        """A few lines: cost, gap, solve time, vans bought."""
        c = self.cost
        extra = "".join(
            f", {name} {c[name]:,.0f}" for name in ("partners", "storage") if c[name] != 0
        )
        return (
            f"expected cost {c['total']:,.0f} (purchases {c['purchases']:,.0f} less residual "
            f"value {-c['residual_value']:,.0f}, holding "
            f"{c['holding']:,.0f}, moves {c['moves']:,.0f}, shortage "
            f"{c['shortage']:,.0f}, emissions {c['emissions']:,.0f}{extra}); "
            f"MIP gap {self.mip_gap:.2%}; solved in {self.seconds:.2f} s; "
            f"{int(self.buy.sum())} vans bought over {len(self.problem.periods)} periods"
        )


def _slack(cap: np.ndarray) -> np.ndarray:
    """A cap less a relative tolerance (infinite caps stay infinite)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(cap), cap - _TOL * np.maximum(cap, 1.0), np.inf)


def _explain_infeasible(problem: DeployProblem, time_limit: float) -> InfeasibleDeploymentError:
    """Which limits, dropped one at a time, make the program feasible."""
    given = {
        "budget": problem.budget,
        "ev_supply": problem.ev_supply,
        "min_electric_share": problem.min_electric_share,
        "bays": problem.bays,
        "power": problem.station_power_kw
        if problem.city_power_kw is None
        else problem.city_power_kw,
        "partners": problem.partners,
        "storage": problem.storage_packages,
    }
    helps, unknown = [], []
    for limit in LIMITS:
        if given[limit] is None:
            continue
        sol = solve_program(build_program(problem, drop=(limit,)), time_limit=time_limit)
        if sol.x is not None:
            helps.append(limit)
        elif sol.status != 2:  # the time ran out before HiGHS could tell
            unknown.append(limit)
    asks = []
    if problem.hard_service:
        asks.append("hard service (no shortage on any draw)")
    if problem.min_electric_share is not None:
        asks.append(f"min_electric_share {problem.min_electric_share.to_dict()}")
    ask = " and ".join(asks) or "the constraints"
    if helps:
        shown = "; ".join(f"{k} = {_show(given[k])}" for k in helps)
        tail = f"the binding limit: {', '.join(helps)} (dropping it alone makes a plan): {shown}"
    else:
        tail = "no single limit explains it: several bind together"
    if unknown:
        tail += f" (not decided within time_limit = {time_limit} s without: {', '.join(unknown)})"
    return InfeasibleDeploymentError(f"no plan meets {ask}; {tail}", helps)


def _show(value: object) -> str:
    if isinstance(value, pd.Series):
        return str(value.to_dict())
    if isinstance(value, pd.DataFrame):
        return str(value.to_dict(orient="index"))
    return repr(value)


def deploy(
    problem: DeployProblem, *, time_limit: float = 60.0, mip_rel_gap: float = 1e-4
) -> DeployPlan:
    """Plan purchases and station fleets for all draws at once (sample-average approximation).

    Parameters
    ----------
    problem : DeployProblem
        The deployment to plan (validated on construction).
    time_limit : float
        Wall-time limit of the solve (s).
    mip_rel_gap : float
        Relative MIP gap at which HiGHS stops (–); 0 asks for a proven optimum.

    Returns
    -------
    DeployPlan
        Feasible on every draw; ``mip_gap`` says how far from optimal it may be.

    Raises
    ------
    InfeasibleDeploymentError
        If no plan meets the hard constraints; the message names the limit(s) that bind.
    DeploySolveError
        If HiGHS finds no plan within the time limit, or fails otherwise (also a
        ``RuntimeError``).

    Warns
    -----
    DeployWarning
        For each of :attr:`DeployPlan.warnings` (e.g. a plan whose shortage dominates its
        cost).
    """
    program = build_program(problem)
    sol = solve_program(program, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    if sol.status == 2:
        raise _explain_infeasible(problem, time_limit)
    if sol.x is None:
        raise DeploySolveError(
            f"HiGHS returned no plan (status {sol.status}: {sol.message}) within "
            f"time_limit = {time_limit} s: give a longer time limit (--time-limit) or fewer "
            "draws (--samples)"
        )
    plan = DeployPlan(problem, program, sol)
    for message in plan.warnings:
        warnings.warn(message, DeployWarning, stacklevel=2)
    return plan


def evaluate_plan(
    plan: DeployPlan, problem: DeployProblem, *, time_limit: float = 60.0
) -> DeployPlan:
    """Price a plan's purchases and fleets on other draws (only the recourse re-chosen).

    Parameters
    ----------
    plan : DeployPlan
        A plan whose first stage (purchases, fleets, placements, moves) is kept.
    problem : DeployProblem
        The same network and limits with other draws (e.g. fresh out-of-sample draws).
    time_limit : float
        Wall-time limit (s).

    Returns
    -------
    DeployPlan
        On ``problem``'s draws: its ``cost`` is the plan's expected cost there.
    """
    program = build_program(problem, fixed=plan.first_stage)
    sol = solve_program(program, time_limit=time_limit, mip_rel_gap=0.0)
    if sol.x is None:
        raise InfeasibleDeploymentError(
            f"the plan cannot run on these draws (status {sol.status}: {sol.message}): "
            "expected the same stations, months, van types and first-stage limits",
            [],
        )
    return DeployPlan(problem, program, sol)


def check_plan(plan: DeployPlan, problem: DeployProblem | None = None) -> list[str]:
    """Every constraint a plan breaks, on every draw, recomputed from the problem's arrays.

    Parameters
    ----------
    plan : DeployPlan
        The plan to check.
    problem : DeployProblem, optional
        Problem to check against; default the plan's own.

    Returns
    -------
    list of str
        One line per broken constraint kind with its worst excess; empty if none.
    """
    p = problem or plan.problem
    a = p.arrays()
    buy, fleet = plan.buy, plan.fleet_array
    place, move = plan.first_stage["place"], plan.first_stage["move"]
    ev, short = plan.ev_routes, plan.shortage
    period_of, city_of = a["period_of"], a["city_of"]
    price = np.array([float(v.cost_per_van) for v in p.van_types])
    ev_idx = [p.vans.index(e) for e in p.electric]
    conv = [i for i, v in enumerate(p.van_types) if not v.electric]
    hours = float(p.charging_hours)
    n_c = len(p.cities)
    bad: list[str] = []

    def over(name: str, excess: np.ndarray) -> None:
        worst = float(np.max(excess, initial=-np.inf))
        if worst > _TOL:
            bad.append(f"{name}: exceeded by up to {worst:g}")

    over("non-negative", -np.concatenate([v.ravel() for v in (buy, fleet, place, move, ev, short)]))
    over(
        "integer buy/fleet",
        np.abs(np.r_[buy.ravel(), fleet.ravel()] - np.round(np.r_[buy.ravel(), fleet.ravel()])),
    )
    owned = a["initial"][:, :, None] + np.cumsum(buy, axis=2)[:, :, period_of]  # (v, c, t)
    in_city = np.zeros_like(owned)
    np.add.at(in_city, (slice(None), city_of), fleet)
    over("fleet within owned vans", in_city - owned)
    first = np.r_[True, period_of[1:] != period_of[:-1]]
    over("placements only in a period's first month", place[:, :, ~first])
    placed = np.zeros((len(p.vans), n_c, len(period_of)))
    np.add.at(placed, (slice(None), city_of), place)
    over("placements within purchases", placed[:, :, first] - buy[:, :, period_of[first]])
    over("moves counted", np.diff(fleet, axis=2) - place[:, :, 1:] - move[:, :, 1:])
    over("budget", (buy * price[:, None, None]).sum((0, 1)) - a["budget"])
    if ev_idx:
        over("ev supply", buy[ev_idx].sum((0, 1)) - a["ev_supply"])
        share = a["share"][period_of]
        over("electric share", share * fleet.sum((0, 1)) - fleet[ev_idx].sum((0, 1)))
        over("electric routes within electric vans", ev.sum(4) - fleet[ev_idx][None])
        over("electric routes within range", np.cumsum(ev, axis=1) - a["in_range"])
        energy = (ev * a["kwh"]).sum((1, 4))
        over("station power", energy - a["station_kw"][:, period_of][None] * hours)
        city_e = np.zeros((energy.shape[0], n_c, energy.shape[2]))
        np.add.at(city_e, (slice(None), city_of), energy)
        over("city power", city_e - a["city_kw"][:, period_of][None] * hours)
    over("bays", fleet.sum(0) - a["bays"][:, None])
    served = fleet[conv].sum(0)[None] + ev.sum((1, 4)) + short
    over("design day covered", a["demand"] - served)
    if p.hard_service:
        over("hard service", short)
    _check_partners_and_storage(plan, p, a, over)
    return bad


def _check_partners_and_storage(
    plan: DeployPlan, p: DeployProblem, a: dict[str, np.ndarray], over: Callable
) -> None:
    """Partners run their station's whole fleet within their bounds; storage holds enough."""
    pairs = p.partner_table()
    if len(pairs):
        vans = plan.first_stage["partner"]
        over("partners' capacity", vans - pairs["max_vans"].to_numpy(float)[:, None])
        over("partners' minimum", pairs["min_vans"].to_numpy(float)[:, None] - vans)
        station = pd.Index(p.stations).get_indexer(pairs["station"])
        run = np.zeros((len(p.stations), len(p.months)))
        np.add.at(run, station, vans)
        fleet = plan.fleet_array.sum(0)
        has = np.unique(station)
        over("partners run the whole fleet", np.abs(run[has] - fleet[has]))
    if np.isfinite(a["storage"]).any():
        share = (a["packages"] > plan._storage_capacity()[None] + _TOL).mean(0)
        over("storage overflow share", share - float(p.storage_risk))
