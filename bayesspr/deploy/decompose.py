"""Plan a large network city by city: prices on the limits the cities share.

The cities of a :class:`~bayesspr.deploy.problem.DeployProblem` share only three kinds of
rows: each period's purchase budget, each period's electric supply and each month's minimum
electric share of the network's fleet. Everything else (fleets, moves, bays, power, partners,
storage, every draw's recourse) belongs to one city. Pricing the shared rows (Lagrange
multipliers λ ≥ 0) splits the program into one MILP per city:

    L(λ) = Σ_c min_{x_c} [cost_c(x_c) + λ · (city c's use of the shared rows)] − λ · limits

For any λ ≥ 0, L(λ) is a lower bound on the optimal cost; each city's MILP contributes its own
proven bound, so the bound stays valid when a city stops at a gap.

The prices come from a **master problem** over the city plans found so far (Dantzig–Wolfe
column generation): each city plan is a column (its cost and its use of the shared rows), the
master LP mixes each city's columns under the shared limits, and its dual prices are the next
λ. The master MIP, one column per city, gives a plan of the whole network that meets every
shared limit (each column is a whole feasible city plan): the upper bound. The first columns
come from the cities alone at zero prices and from a **repair** that shares the budget and
supply among the cities in proportion to what they asked for (whole vans) with the network's
minimum electric share as each city's own, which makes the master MIP feasible from the start.

The city MILPs are independent: pass ``executor`` (any :class:`concurrent.futures.Executor`,
such as ``distributed.Client(...).get_executor()`` for a Dask cluster, or a
``ProcessPoolExecutor``) to solve them in parallel; without one they run in turn.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from bayesspr.deploy.plan import DeployPlan, check_plan, deploy
from bayesspr.deploy.problem import DeployProblem
from bayesspr.deploy.program import (
    FIRST_STAGE,
    Program,
    Solution,
    block_values,
    build_program,
    solve_program,
)
from bayesspr.errors import DeploySolveError, InfeasibleDeploymentError

__all__ = ["DecomposedPlan", "city_problem", "deploy_by_city"]


def city_problem(
    problem: DeployProblem,
    city: str,
    *,
    budget: pd.Series | None = None,
    ev_supply: pd.Series | None = None,
    min_electric_share: pd.Series | None = None,
) -> DeployProblem:
    """The part of a deployment that concerns one city, with the shared limits given.

    Parameters
    ----------
    problem : DeployProblem
        The whole network.
    city : str
        The city.
    budget, ev_supply, min_electric_share : pandas.Series, optional
        The city's own limits per period (default: none; the whole network's are not
        copied, since the city shares them).

    Returns
    -------
    DeployProblem
        Its stations, draws, power, bays, initial fleet, partners and storage.
    """
    stations = [s for s, c in problem.station_city.items() if str(c) == city]

    def pick(draws):
        return None if draws is None else draws.sel(station=stations)

    def rows(table, index):
        return None if table is None else table.loc[index]

    partners = problem.partners
    if partners is not None:
        partners = partners[partners["station"].astype(str).isin(stations)]
        partners = partners if len(partners) else None
    return dataclasses.replace(
        problem,
        station_city=problem.station_city.loc[stations],
        demand=pick(problem.demand),
        in_range=pick(problem.in_range),
        kwh_per_route=pick(problem.kwh_per_route),
        route_km=pick(problem.route_km),
        packages=pick(problem.packages),
        budget=budget,
        ev_supply=ev_supply,
        min_electric_share=min_electric_share,
        station_power_kw=rows(problem.station_power_kw, stations),
        city_power_kw=rows(problem.city_power_kw, [city]),
        bays=rows(problem.bays, stations),
        storage_packages=rows(problem.storage_packages, stations),
        initial_fleet=rows(problem.initial_fleet, [city]),
        partners=partners,
    )


@dataclass(frozen=True)
class _Shared:
    """The shared rows: per period budget (currency) and supply (vans), per month share."""

    budget: np.ndarray  # (P,), inf: none
    supply: np.ndarray  # (P,), inf: none
    share: np.ndarray  # (T,), 0: none
    price: np.ndarray  # (V,) purchase price
    electric: np.ndarray  # (V,) bool
    period_of: np.ndarray  # (T,) period index of each month

    def no_prices(self) -> dict[str, np.ndarray]:
        """Zero prices on every shared row."""
        return {
            "budget": np.zeros(len(self.budget)),
            "supply": np.zeros(len(self.supply)),
            "share": np.zeros(len(self.share)),
        }


@dataclass(frozen=True)
class _CityResult:
    """One city's MILP: its solution, true cost, proven bound and use of the shared rows."""

    x: np.ndarray
    blocks: dict[str, tuple[int, tuple[int, ...]]]  # the city program's variable blocks
    cost: float  # without the prices (currency)
    bound: float  # proven lower bound of the priced MILP (currency)
    spend: np.ndarray  # (P,) currency
    ev_bought: np.ndarray  # (P,) vans
    fleet: np.ndarray  # (T,) vans
    ev_fleet: np.ndarray  # (T,) vans

    def values(self, name: str) -> np.ndarray:
        """A block of the city's solution, shaped like the block."""
        return block_values(self.blocks, self.x, name)


def _use(program: Program, x: np.ndarray, shared: _Shared) -> tuple[np.ndarray, ...]:
    """A city's spend and electric purchases per period, its fleet and electric fleet a month."""
    buy = program.values(x, "buy")[:, 0, :]  # (v, p)
    fleet = program.values(x, "fleet")  # (v, s, t)
    return (
        shared.price @ buy,
        buy[shared.electric].sum(0),
        fleet.sum((0, 1)),
        fleet[shared.electric].sum((0, 1)),
    )


def _priced(program: Program, prices: dict[str, np.ndarray], shared: _Shared) -> Program:
    """The city's program with the shared rows' prices in its objective."""
    c = program.c.copy()
    buy = program.index("buy")[:, 0, :]  # (v, p)
    c[buy] += prices["budget"][None, :] * shared.price[:, None]
    c[buy[shared.electric]] += prices["supply"][None, :]
    fleet = program.index("fleet")  # (v, s, t)
    # −ν_t (Σ_e fleet − share_t Σ_v fleet): each van pays ν_t share_t, an electric one earns ν_t
    per_van = prices["share"] * shared.share  # (t,)
    c[fleet] += per_van[None, None, :]
    c[fleet[shared.electric]] -= prices["share"][None, None, :]
    return dataclasses.replace(program, c=c)


def _solve_city(
    problem: DeployProblem,
    prices: dict[str, np.ndarray] | None,
    shared: _Shared,
    time_limit: float,
    mip_rel_gap: float,
) -> _CityResult | None:
    """Build and solve one city's (priced) MILP; None when it has no plan."""
    program = build_program(problem)
    priced = program if prices is None else _priced(program, prices, shared)
    sol = solve_program(priced, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    if sol.x is None:
        return None
    cost = float(program.c @ sol.x + program.constant)
    spend, ev_bought, fleet, ev_fleet = _use(program, sol.x, shared)
    bound = sol.bound if math.isfinite(sol.bound) else -math.inf
    return _CityResult(sol.x, program.blocks, cost, bound, spend, ev_bought, fleet, ev_fleet)


def _solve_city_task(args: tuple) -> _CityResult | None:
    """:func:`_solve_city` with one argument, for :meth:`Executor.map`."""
    return _solve_city(*args)


def _shares(asked: np.ndarray, total: float, whole: bool) -> np.ndarray:
    """Split ``total`` among cities in proportion to what each ``asked`` (whole if asked).

    Cities that asked for nothing share what is left equally; whole shares use the largest
    remainders, so they sum to ``floor(total)``.
    """
    n = len(asked)
    if not math.isfinite(total):
        return np.full(n, math.inf)
    weights = asked if asked.sum() > 0 else np.ones(n)
    share = total * weights / weights.sum()
    if not whole:
        return share
    floor = np.floor(share + 1e-9)
    left = int(np.rint(math.floor(total + 1e-9) - floor.sum()))
    order = np.argsort(-(share - floor), kind="stable")
    floor[order[:left]] += 1
    return floor


@dataclass(frozen=True)
class DecomposedPlan:
    """A plan made city by city, with its proven bound.

    Attributes
    ----------
    plan : DeployPlan
        The best repaired plan, on the whole problem (its tables, charts and
        :func:`~bayesspr.deploy.plan.check_plan` work as for :func:`~bayesspr.deploy.deploy`);
        its ``solution.bound`` is the Lagrangian bound and ``mip_gap`` the gap to it.
    lower_bound : float
        The best Lagrangian bound (currency): no plan costs less.
    upper_bound : float
        The plan's cost (currency).
    history : pandas.DataFrame
        One row per pricing round: ``bound``, ``best_bound``, ``best_plan``, ``gap``,
        ``columns``, ``seconds``.
    """

    plan: DeployPlan
    lower_bound: float
    upper_bound: float
    history: pd.DataFrame

    @property
    def gap(self) -> float:
        """(upper − lower) / upper (–)."""
        return (self.upper_bound - self.lower_bound) / abs(self.upper_bound)


class _Decomposition:
    """The state of one run: the cities, the shared rows, the best bound and plan."""

    def __init__(
        self,
        problem: DeployProblem,
        executor: Executor | None,
        time_limit: float,
        mip_rel_gap: float,
    ) -> None:
        self.problem = problem
        self.cities = problem.cities
        self.executor = executor
        self.time_limit = time_limit
        self.mip_rel_gap = mip_rel_gap
        a = problem.arrays()
        self.shared = _Shared(
            budget=a["budget"],
            supply=a["ev_supply"] if problem.electric else np.full(len(problem.periods), np.inf),
            share=a["share"][a["period_of"]],
            price=np.array([float(v.cost_per_van) for v in problem.van_types]),
            electric=np.array([v.electric for v in problem.van_types], dtype=bool),
            period_of=a["period_of"],
        )
        self.city_problems = [city_problem(problem, c) for c in self.cities]
        self.best_bound = -math.inf
        self.best_cost = math.inf
        self.best: list[_CityResult] | None = None
        #: Each city's plans found so far (the master's columns).
        self.columns: list[list[_CityResult]] = [[] for _ in self.cities]

    def add(self, results: list[_CityResult]) -> None:
        """Add each city's plan to its columns."""
        for i, r in enumerate(results):
            self.columns[i].append(r)

    def _map(self, tasks: Iterable[tuple]) -> list[_CityResult | None]:
        if self.executor is None:
            return [_solve_city_task(t) for t in tasks]
        return list(self.executor.map(_solve_city_task, tasks))

    def relaxed(self, prices: dict[str, np.ndarray]) -> tuple[float, list[_CityResult]]:
        """Solve every city at these prices: the Lagrangian bound and the city answers."""
        tasks = [
            (p, prices, self.shared, self.time_limit, self.mip_rel_gap) for p in self.city_problems
        ]
        out = self._map(tasks)
        missing = [c for c, r in zip(self.cities, out, strict=True) if r is None]
        if missing:
            raise InfeasibleDeploymentError(
                f"city {missing[0]!r} has no plan even without the shared budget, supply and "
                "share: its own limits (bays, power, partners, storage, hard service) bind; "
                "solve it alone with deploy() to see which",
                [],
            )
        results: list[_CityResult] = out  # type: ignore[assignment]
        sh = self.shared
        finite_b, finite_s = np.isfinite(sh.budget), np.isfinite(sh.supply)
        bound = sum(r.bound for r in results)
        bound -= float(prices["budget"][finite_b] @ sh.budget[finite_b])
        bound -= float(prices["supply"][finite_s] @ sh.supply[finite_s])
        return bound, results

    def violation(self, results: list[_CityResult]) -> dict[str, np.ndarray]:
        """Use of each shared row less its limit (> 0: broken), per period or month."""
        sh = self.shared
        spend = sum(r.spend for r in results)
        ev = sum(r.ev_bought for r in results)
        fleet = sum(r.fleet for r in results)
        ev_fleet = sum(r.ev_fleet for r in results)
        return {
            "budget": np.where(np.isfinite(sh.budget), spend - sh.budget, -np.inf),
            "supply": np.where(np.isfinite(sh.supply), ev - sh.supply, -np.inf),
            "share": sh.share * fleet - ev_fleet,
        }

    def repair(self, spend: np.ndarray, ev: np.ndarray, shares: np.ndarray | None = None) -> None:
        """Share the limits among the cities as they asked; add the city plans as columns.

        Parameters
        ----------
        spend, ev : numpy.ndarray
            (city, period) purchase spend (currency) and electric vans each city asked for.
        shares : numpy.ndarray, optional
            (city, period) minimum electric share of each city's own fleet (–); default the
            network's minimum for every city.
        """
        sh, periods = self.shared, self.problem.periods
        n_p = len(periods)
        budgets = np.stack([_shares(spend[:, p], sh.budget[p], False) for p in range(n_p)], 1)
        supplies = np.stack([_shares(ev[:, p], sh.supply[p], True) for p in range(n_p)], 1)
        tasks = []
        for i, city in enumerate(self.cities):
            share = (
                self.problem.min_electric_share
                if shares is None
                else pd.Series(shares[i], index=periods)
            )
            budget = pd.Series(budgets[i], index=periods) if np.isfinite(sh.budget).any() else None
            supply = (
                pd.Series(supplies[i].astype(int), index=periods)
                if np.isfinite(sh.supply).any()
                else None
            )
            sub = city_problem(
                self.problem, city, budget=budget, ev_supply=supply, min_electric_share=share
            )
            tasks.append((sub, None, sh, self.time_limit, self.mip_rel_gap))
        for i, r in enumerate(self._map(tasks)):  # a city without a plan adds no column
            if r is not None:
                self.columns[i].append(r)

    def round(
        self, prices: dict[str, np.ndarray], k: int
    ) -> tuple[float, dict[str, np.ndarray] | None]:
        """One pricing round: the cities at these prices, repairs, the master LP and MIP.

        Returns
        -------
        bound : float
            The Lagrangian bound at ``prices`` (currency).
        prices : dict or None
            The master LP's prices for the next round (None if it has none).
        """
        bound, results = self.relaxed(prices)
        self.best_bound = max(self.best_bound, bound)
        self.add(results)
        if k == 0 and any((v > 1e-6).any() for v in self.violation(results).values()):
            # columns that meet the shared limits together: the master MIP is feasible
            spend = np.stack([r.spend for r in results])
            self.repair(spend, np.stack([r.ev_bought for r in results]))
        priced = _master_prices(self)
        new_prices = None if priced is None else priced[0]
        if k % 3 == 2 and priced is not None:  # share the limits as the master's mix uses them
            spend, ev, shares = priced[1]
            self.repair(spend, ev)  # the network's minimum share in every city
            if self.problem.min_electric_share is not None:
                self.repair(spend, ev, shares)  # each city's share as the mix has it
        plan_cost, choice = _master_plan(self)
        if choice is not None and plan_cost < self.best_cost:
            self.best_cost = plan_cost
            self.best = [self.columns[i][c] for i, c in enumerate(choice)]
        return bound, new_prices

    def _city_columns(self, program: Program, i: int) -> dict[str, np.ndarray]:
        """Indices in the whole program of city ``i``'s variables, block by block."""
        own = pd.Index(self.problem.stations).get_indexer(self.city_problems[i].stations)
        pairs, sub_pairs = self.problem.partner_table(), self.city_problems[i].partner_table()
        key = pairs["station"] + "\x00" + pairs["partner"].astype(str)
        sub_key = sub_pairs["station"] + "\x00" + sub_pairs["partner"].astype(str)
        index = {name: program.index(name) for name in (*FIRST_STAGE, "ev", "short")}
        return {
            "buy": index["buy"][:, [i], :],
            "fleet": index["fleet"][:, own, :],
            "place": index["place"][:, own, :],
            "move": index["move"][:, own, :],
            "partner": index["partner"][pd.Index(key).get_indexer(sub_key)],
            "expand": index["expand"][own],
            "ev": index["ev"][:, :, own],
            "short": index["short"][:, own],
        }

    def assemble(self, seconds: float) -> DeployPlan:
        """The best city plans as one solution vector of the whole program."""
        program = build_program(self.problem)
        x = np.zeros(len(program.c))
        for i, result in enumerate(self.best):  # type: ignore[arg-type]
            for name, columns in self._city_columns(program, i).items():
                x[columns.ravel()] = result.values(name).ravel()
        objective = float(program.c @ x + program.constant)
        gap = (objective - self.best_bound) / abs(objective) if objective else 0.0
        solution = Solution(
            x=x,
            objective=objective,
            status=0,
            message=f"city by city: column generation over {len(self.cities)} cities",
            mip_gap=max(0.0, gap),
            seconds=seconds,
            bound=self.best_bound,
        )
        return DeployPlan(self.problem, program, solution)


@dataclass(frozen=True)
class _MasterRows:
    """The master over every city's columns: costs, shared rows (≤) and one column a city."""

    cols: list[tuple[int, _CityResult]]  # (city, column), in order
    cost: np.ndarray
    a_ub: np.ndarray
    b_ub: np.ndarray
    a_eq: np.ndarray
    rows: dict[str, np.ndarray]  # which periods or months each kind of shared row has


def _master_rows(run: _Decomposition) -> _MasterRows:
    """Stack the columns: spend ≤ budget, electric vans ≤ supply, share · fleet ≤ electric."""
    sh = run.shared
    cols = [(i, r) for i, city_cols in enumerate(run.columns) for r in city_cols]
    rows = {
        "budget": np.isfinite(sh.budget),
        "supply": np.isfinite(sh.supply),
        "share": sh.share > 0,
    }
    blocks = [
        (np.stack([r.spend for _, r in cols], 1)[rows["budget"]], sh.budget[rows["budget"]]),
        (np.stack([r.ev_bought for _, r in cols], 1)[rows["supply"]], sh.supply[rows["supply"]]),
        (
            np.stack([sh.share * r.fleet - r.ev_fleet for _, r in cols], 1)[rows["share"]],
            np.zeros(int(rows["share"].sum())),
        ),
    ]
    a_eq = np.zeros((len(run.cities), len(cols)))
    a_eq[[i for i, _ in cols], np.arange(len(cols))] = 1.0
    return _MasterRows(
        cols=cols,
        cost=np.array([r.cost for _, r in cols]),
        a_ub=np.vstack([b[0] for b in blocks]),
        b_ub=np.concatenate([b[1] for b in blocks]),
        a_eq=a_eq,
        rows=rows,
    )


def _master_plan(run: _Decomposition) -> tuple[float, list[int] | None]:
    """The master MIP: the cheapest choice of one column per city under the shared limits.

    Returns
    -------
    cost : float
        Its cost (inf when no choice meets the limits).
    choice : list of int or None
        The column chosen for each city.
    """
    m = _master_rows(run)
    res = milp(
        m.cost,
        constraints=[LinearConstraint(m.a_ub, -np.inf, m.b_ub), LinearConstraint(m.a_eq, 1.0, 1.0)],
        integrality=np.ones(len(m.cols)),
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": 60.0},
    )
    if res.x is None:
        return math.inf, None
    offset = np.cumsum([0, *map(len, run.columns)])
    choice = [0] * len(run.cities)
    for k in np.flatnonzero(np.round(res.x) > 0.5):
        i = m.cols[k][0]
        choice[i] = int(k - offset[i])
    return float(m.cost @ np.round(res.x)), choice


def _master_prices(
    run: _Decomposition,
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...]] | None:
    """The master LP: the shared rows' dual prices and how its mix of columns uses them.

    Returns
    -------
    (prices, mix) or None
        ``prices`` (≥ 0) per shared row; ``mix``: the (city, period) spend, electric
        purchases and least electric share of each city's mix of columns. None when the LP
        has no solution.
    """
    sh, m = run.shared, _master_rows(run)
    n_c = len(run.cities)
    res = linprog(m.cost, A_ub=m.a_ub, b_ub=m.b_ub, A_eq=m.a_eq, b_eq=np.ones(n_c), method="highs")
    if res.status != 0:
        return None
    duals = -np.asarray(res.ineqlin.marginals)  # ≥ 0 for ≤ rows of a minimisation
    names = ("budget", "supply", "share")
    parts = np.split(duals, np.cumsum([int(m.rows[n].sum()) for n in names])[:-1])
    prices = sh.no_prices()
    for name, part in zip(names, parts, strict=True):
        prices[name][m.rows[name]] = np.maximum(part, 0.0)
    z = np.asarray(res.x)
    city = np.array([i for i, _ in m.cols])

    def mix(name: str) -> np.ndarray:
        values = np.stack([getattr(r, name) for _, r in m.cols])
        out = np.zeros((n_c, values.shape[1]))
        np.add.at(out, city, z[:, None] * values)
        return out

    fleet, ev_fleet = mix("fleet"), mix("ev_fleet")  # (city, month)
    ratio = np.divide(ev_fleet, fleet, out=np.ones_like(fleet), where=fleet > 0)
    # each city's own minimum share: the least its mix runs electric in a month of the period
    shares = np.stack(
        [np.floor(ratio[:, sh.period_of == p].min(1) * 1e4) / 1e4 for p in range(len(sh.budget))],
        1,
    )
    shares = np.where(sh.share.max() > 0, shares, 0.0)
    return prices, (mix("spend"), mix("ev_bought"), shares)


def _smoothed(
    center: dict[str, np.ndarray], duals: dict[str, np.ndarray], weight: float
) -> dict[str, np.ndarray]:
    """Prices between the best-bound prices and the master's duals (Wentges smoothing).

    ``weight`` of the centre, the rest of the duals: a convex mix of prices ≥ 0 is ≥ 0, so
    the Lagrangian bound at it stays valid; it damps the duals' swings between rounds.
    """
    return {key: weight * center[key] + (1.0 - weight) * duals[key] for key in duals}


def deploy_by_city(
    problem: DeployProblem,
    *,
    target_gap: float = 0.01,
    iterations: int = 30,
    smoothing: float = 0.5,
    time_limit: float = 900.0,
    city_time_limit: float = 60.0,
    city_gap: float = 1e-3,
    executor: Executor | None = None,
    progress: Callable[[str], None] | None = None,
) -> DecomposedPlan:
    """Plan a deployment city by city, with a proven bound (see the module docstring).

    Parameters
    ----------
    problem : DeployProblem
        The whole network.
    target_gap : float
        Stop once (best plan − best bound) / best plan is at most this (–).
    iterations : int
        Most pricing rounds.
    time_limit : float
        Stop after this many seconds (s), with the best plan and bound so far.
    city_time_limit : float
        Wall-time limit of each city MILP (s).
    city_gap : float
        Relative gap of each city MILP (–); the bound stays valid (each city gives its own).
    smoothing : float
        Weight of the best-bound prices in the next round's prices, the rest the master's
        duals (Wentges smoothing, in [0, 1); 0: the duals alone).
    executor : concurrent.futures.Executor, optional
        Solves the city MILPs in parallel (a Dask ``Client.get_executor()``, a process
        pool); default: one after another.
    progress : callable, optional
        Called with a line after each round.

    Returns
    -------
    DecomposedPlan

    Raises
    ------
    InfeasibleDeploymentError
        A city has no plan even alone, or no plan meets the shared limits.
    """
    start = time.perf_counter()
    if len(problem.cities) == 1:  # nothing to split: the city's MILP is the whole program
        plan = deploy(problem, time_limit=time_limit, mip_rel_gap=target_gap)
        history = pd.DataFrame([{"iteration": 0, "seconds": time.perf_counter() - start}])
        return DecomposedPlan(plan, plan.solution.bound, plan.solution.objective, history)
    run = _Decomposition(problem, executor, city_time_limit, city_gap)
    prices = run.shared.no_prices()
    center = prices  # the prices of the best bound so far
    rows = []
    for k in range(iterations):
        best = run.best_bound
        bound, new_prices = run.round(prices, k)
        if bound > best:
            center = prices
        gap = (run.best_cost - run.best_bound) / abs(run.best_cost)
        elapsed = time.perf_counter() - start
        rows.append(
            {
                "iteration": k,
                "bound": bound,
                "best_bound": run.best_bound,
                "best_plan": run.best_cost,
                "gap": gap,
                "columns": sum(map(len, run.columns)),
                "seconds": elapsed,
            }
        )
        if progress is not None:
            progress(
                f"round {k}: bound {bound:,.0f}, best plan {run.best_cost:,.0f}, gap {gap:.2%}, "
                f"{elapsed:.0f} s"
            )
        if gap <= target_gap or elapsed > time_limit or new_prices is None:
            break
        prices = _smoothed(center, new_prices, smoothing)
    if run.best is None:
        raise InfeasibleDeploymentError(
            "no plan of the cities meets the shared budget, supply and electric share: "
            "solve the whole network with deploy() to see which limit binds",
            [],
        )
    plan = run.assemble(time.perf_counter() - start)
    broken = check_plan(plan)
    if broken:
        raise DeploySolveError("the assembled plan breaks constraints: " + "; ".join(broken))
    return DecomposedPlan(plan, run.best_bound, plan.solution.objective, pd.DataFrame(rows))
