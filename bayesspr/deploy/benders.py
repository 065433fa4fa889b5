"""Plan a large network by Benders decomposition: one master, a small LP per city-month.

Once the first stage is fixed (purchases, fleets, moves, partners, storage), what is left of
the program — each draw's electric routes and shortage — falls apart by city and month: a
station's routes use only its own vans and power, and a city's power limit ties only its own
stations. The expected cost of a city-month's recourse, Q(f), is convex and piecewise linear
in that month's fleets f, and the dual prices of its LP give a cut Q(f) ≥ Q(f̂) + g · (f − f̂)
(the L-shaped method of Van Slyke and Wets, 1969, with one cut per unit and month: the
multi-cut version of Birge and Louveaux, 1988). A *unit* is a station where its city has no
power limit (its recourse is its own), else the whole city.

The master holds the whole first stage (every city, the shared budget, supply and electric
share) and, per unit and month, a variable θ bounded below by its cuts. Phase 1 solves the
master's LP relaxation and adds the cuts of each master point until the master's value and
that point's true cost meet. Phase 2 solves the master as a MILP with every cut — first
restricted to the last LP solution's neighbourhood (its whole-number integer variables
fixed), then whole, started from the best plan — prices each plan on every draw with the
recourse LPs, adds that plan's cuts and repeats while the gap is above the target. The lower
bound is the LP master's value or a whole MILP's proven bound (cuts never over-estimate Q,
so both are valid); each plan's cost is exact, its recourse solved on every draw.

The recourse LPs of one round are independent: pass ``client`` (a ``distributed.Client``)
to solve the cities on a Dask cluster, each city's data sent once and its LPs warm-started on
the worker that holds it, or ``executor`` (any :class:`concurrent.futures.Executor`).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd
from scipy import sparse

from bayesspr.deploy.decompose import DecomposedPlan
from bayesspr.deploy.plan import DeployPlan, check_plan
from bayesspr.deploy.problem import DeployProblem
from bayesspr.deploy.program import (
    Program,
    Solution,
    _Rows,
    build_first_stage,
    build_program,
    recourse_rates,
)
from bayesspr.errors import DeployInputError, DeploySolveError, InfeasibleDeploymentError, Problem

__all__ = ["CityRecourse", "city_recourses", "deploy_by_benders", "recourse_cost"]


@dataclass(frozen=True)
class CityRecourse:
    """One city's second stage: what the recourse LPs of its months need.

    Attributes
    ----------
    demand : numpy.ndarray
        Design-day routes (W, S, T).
    in_range : numpy.ndarray
        Routes each electric type reaches, nested by range (W, E, S, T, K).
    kwh : numpy.ndarray
        Energy of one route of each class (kWh; W, E, S, T, K).
    saving : numpy.ndarray
        Emission cost saved by a route run electric, divided by the draws (W, S, T).
    emitted : numpy.ndarray
        Expected emission cost if no route ran electric (currency; S, T).
    short_rate : numpy.ndarray
        Cost of a route short, divided by the draws (currency; T).
    station_kwh, city_kwh : numpy.ndarray
        Energy each station (S, T) and the city (T,) can charge overnight (kWh; inf: none).
    """

    demand: np.ndarray
    in_range: np.ndarray
    kwh: np.ndarray
    saving: np.ndarray
    emitted: np.ndarray
    short_rate: np.ndarray
    station_kwh: np.ndarray
    city_kwh: np.ndarray

    @property
    def joint(self) -> bool:
        """Whether a city power limit ties the stations' recourse together."""
        return bool(np.isfinite(self.city_kwh).any())

    def floor(self) -> np.ndarray:
        """A lower bound on each unit-month's recourse cost (currency; U, T).

        Every route that any electric type reaches runs electric and none is short.
        """
        reach = self.in_range[:, -1].sum(-1) if self.in_range.shape[1] else 0.0
        low = self.emitted - (self.saving * reach).sum(0)  # (S, T)
        return low.sum(0, keepdims=True) if self.joint else low


def city_recourses(problem: DeployProblem) -> list[CityRecourse]:
    """Each city's :class:`CityRecourse`, in ``problem.cities`` order."""
    a = problem.arrays()
    short_rate, saving, emitted = recourse_rates(problem, a)
    hours = float(problem.charging_hours)
    period_of, city_of = a["period_of"], a["city_of"]
    out = []
    for c in range(len(problem.cities)):
        own = np.flatnonzero(city_of == c)
        out.append(
            CityRecourse(
                demand=a["demand"][:, own],
                in_range=a["in_range"][:, :, own],
                kwh=a["kwh"][:, :, own],
                saving=saving[:, own],
                emitted=emitted[:, own].sum(0),
                short_rate=short_rate,
                station_kwh=a["station_kw"][own][:, period_of] * hours,
                city_kwh=a["city_kw"][c, period_of] * hours,
            )
        )
    return out


@dataclass(frozen=True)
class _Month:
    """A city's recourse in one month at a fleet: cost, slopes, routes per station."""

    cost: np.ndarray  # (S,) expected cost at each station (currency)
    slope_ev: np.ndarray  # (E, S) d cost / d electric vans of each type
    slope_conv: np.ndarray  # (S,) d cost / d combustion vans
    ev: np.ndarray | None  # (W, E, S, K) routes run electric
    short: np.ndarray | None  # (W, S) routes short


#: The last optimal basis of each recourse LP solved in this process, for a warm start:
#: {(run, city, month): basis}. One run's at a time.
_BASES: dict[tuple, highspy.HighsBasis] = {}


def _solve_lp(
    cost: np.ndarray,
    a_ub: sparse.csr_array,
    row_upper: np.ndarray,
    col_upper: np.ndarray,
    warm: tuple | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Min cost · x over 0 ≤ x ≤ col_upper, A x ≤ row_upper, by HiGHS: x and the rows' duals.

    Where ``warm`` (a key: run, city, month) was solved before in this process, its basis
    starts the simplex: between Benders rounds only the fleet's rows change, so few
    iterations are left.
    """
    n_row, n_col = a_ub.shape
    if not hasattr(_LOCAL, "highs"):
        _LOCAL.highs = highspy.Highs()
        _LOCAL.highs.setOptionValue("output_flag", False)
    h = _highs_model(
        cost,
        a_ub,
        np.full(n_row, -np.inf),
        row_upper,
        np.zeros(n_col),
        col_upper,
        _LOCAL.highs,
    )
    if warm is not None and warm in _BASES:
        h.setBasis(_BASES[warm])
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise DeploySolveError(f"a recourse LP failed: {h.modelStatusToString(status)}")
    if warm is not None:
        if _BASES and next(iter(_BASES))[0] != warm[0]:
            _BASES.clear()  # another run's bases
        _BASES[warm] = h.getBasis()
    solution = h.getSolution()
    return np.asarray(solution.col_value), np.asarray(solution.row_dual)


def _month_recourse(
    rc: CityRecourse,
    t: int,
    ev_vans: np.ndarray,
    conv_vans: np.ndarray,
    primal: bool,
    warm: tuple | None = None,
) -> _Month:
    """Solve month ``t``'s recourse LP on every draw at the given fleet.

    ``ev_vans`` (E, S) and ``conv_vans`` (S,) are the city's vans at each station that month. The
    rows are those of the whole program (:func:`~bayesspr.deploy.program.build_program`),
    all as ≤ rows: electric routes within their vans, nested ranges, station and city power,
    and the cover row −(electric routes + shortage) ≤ combustion vans − routes. ``warm``
    keys the LP's last basis in this process (:func:`_solve_lp`).
    """
    n_w, n_e, n_s, _, n_k = rc.in_range.shape
    in_range, kwh = rc.in_range[:, :, :, t], rc.kwh[:, :, :, t]
    station_kwh, demand = rc.station_kwh[:, t], rc.demand[:, :, t]
    n_ev = n_w * n_e * n_s * n_k
    iv = np.arange(n_ev).reshape(n_w, n_e, n_s, n_k)
    rows = _Rows()
    if n_e:
        vans = np.arange(n_w * n_e * n_s).reshape(n_w, n_e, n_s)
        rows.add(
            "vans",
            vans.size,
            [(vans[..., None], iv, 1.0)],
            -np.inf,
            np.broadcast_to(ev_vans, vans.shape).ravel(),
        )
        # nested ranges, class by class: Σ_{e' ≤ e} ev[e'] ≤ in_range[e]; the shortest
        # range's are bounds on its own routes
        reach = np.arange(n_ev // n_e * (n_e - 1)).reshape(n_w, n_e - 1, n_s, n_k)
        terms = [(reach[:, e - 1 : e], iv[:, : e + 1], 1.0) for e in range(1, n_e)]
        rows.add("range", reach.size, terms, -np.inf, in_range[:, 1:].ravel())
        limited = np.flatnonzero(np.isfinite(station_kwh))
        if len(limited):
            ws = np.arange(n_w * len(limited)).reshape(n_w, 1, len(limited), 1)
            rows.add(
                "station_power",
                ws.size,
                [(ws, iv[:, :, limited], kwh[:, :, limited])],
                -np.inf,
                np.tile(station_kwh[limited], n_w),
            )
        if math.isfinite(rc.city_kwh[t]):
            w = np.arange(n_w)[:, None, None, None]
            rows.add("city_power", n_w, [(w, iv, kwh)], -np.inf, np.full(n_w, rc.city_kwh[t]))
    ws = np.arange(n_w * n_s).reshape(n_w, n_s)
    rows.add(
        "cover",
        n_w * n_s,
        [(ws[:, None, :, None], iv, -1.0), (ws, n_ev + ws, -1.0)],
        -np.inf,
        (conv_vans[None, :] - demand).ravel(),
    )
    a_ub = sparse.csr_array(
        (np.concatenate(rows.v), (np.concatenate(rows.r), np.concatenate(rows.c))),
        shape=(rows.n, n_ev + n_w * n_s),
    )
    cost = np.concatenate(
        [
            np.broadcast_to(-rc.saving[:, None, :, t, None], (n_w, n_e, n_s, n_k)).ravel(),
            np.full(n_w * n_s, rc.short_rate[t]),
        ]
    )
    upper = np.full(a_ub.shape[1], np.inf)
    if n_e:
        upper[iv[:, 0].ravel()] = in_range[:, 0].ravel()
    x, dual = _solve_lp(cost, a_ub, np.concatenate(rows.hi), upper, warm)
    per_station = (
        (cost[:n_ev] * x[:n_ev]).reshape(n_w, n_e, n_s, n_k).sum((0, 1, 3))
        + (cost[n_ev:] * x[n_ev:]).reshape(n_w, n_s).sum(0)
        + rc.emitted[:, t]
    )
    if n_e:
        s0, s1 = rows.groups["vans"]
        slope_ev = dual[s0:s1].reshape(n_w, n_e, n_s).sum(0)
    else:
        slope_ev = np.zeros((0, n_s))
    s0, s1 = rows.groups["cover"]
    return _Month(
        cost=per_station,
        slope_ev=slope_ev,
        slope_conv=dual[s0:s1].reshape(n_w, n_s).sum(0),
        ev=x[:n_ev].reshape(n_w, n_e, n_s, n_k) if primal else None,
        short=x[n_ev:].reshape(n_w, n_s) if primal else None,
    )


def _city_task(rc: CityRecourse, job: tuple) -> list[tuple[int, _Month]]:
    """One city's recourse in the months ``todo`` (T,) asks for (a task for an executor).

    ``job`` is (electric vans (E, S, T), combustion vans (S, T), todo, primal, run, city);
    ``run`` and ``city`` key the warm starts. Returns (month, answer) per month solved.
    """
    ev_vans, conv_vans, todo, primal, run, city = job
    return [
        (
            int(t),
            _month_recourse(rc, int(t), ev_vans[:, :, t], conv_vans[:, t], primal, (run, city, t)),
        )
        for t in np.flatnonzero(todo)
    ]


class _Recourses:
    """Every city's recourse, solved at a fleet in turn, on an executor or on a Dask client.

    Answers are kept per station and month and solved again only where the fleet changed (or
    where the routes themselves are asked for and not kept yet). On a Dask client each city's
    data is scattered once and its tasks run where it lies, so each worker keeps the warm
    starts of its own cities.
    """

    def __init__(
        self, problem: DeployProblem, executor: Executor | None = None, client: object = None
    ) -> None:
        self.cities = city_recourses(problem)
        self.city_of = np.array([problem.cities.index(str(c)) for c in problem.station_city])
        self.electric = np.array([v.electric for v in problem.van_types], dtype=bool)
        self.executor, self.client = executor, client
        self.scattered: list | None = None
        self.run = uuid.uuid4().hex  # keys this run's warm starts in each process
        n_w, n_e, _, n_t, n_k = self.cities[0].in_range.shape
        n_s = len(self.city_of)
        self.shape = (n_w, n_e, n_s, n_t, n_k)
        self.fleet = np.full((len(self.electric), n_s, n_t), np.nan)  # where last solved
        self.cost = np.zeros((n_s, n_t))
        self.slope_ev = np.zeros((n_e, n_s, n_t))
        self.slope_conv = np.zeros((n_s, n_t))
        self.routed = np.zeros((n_s, n_t), dtype=bool)  # routes kept for this fleet
        self.ev = self.short = None
        self.solved = 0  # station-months solved so far

    def solve(self, fleet: np.ndarray, primal: bool = False) -> np.ndarray:
        """Solve where ``fleet`` (V, S, T) changed; the station-months solved (S, T) bool."""
        changed = (np.abs(fleet - self.fleet) > 1e-9).any(0) | np.isnan(self.fleet).any(0)
        if primal and self.ev is None:
            n_w, n_e, n_s, n_t, n_k = self.shape
            self.ev, self.short = np.zeros((n_w, n_e, n_s, n_t, n_k)), np.zeros((n_w, n_s, n_t))
        todo = changed | (~self.routed if primal else False)
        tasks, owners = [], []
        for c in range(len(self.cities)):
            own = np.flatnonzero(self.city_of == c)
            months = todo[own].any(0)  # a city-month is solved whole: warm, it costs little more
            if not months.any():
                continue
            ev_vans, conv_vans = fleet[self.electric][:, own], fleet[~self.electric][:, own].sum(0)
            tasks.append((c, (ev_vans, conv_vans, months, primal, self.run, c)))
            owners.append(own)
        done = np.zeros_like(todo)
        for own, answers in zip(owners, self._map(tasks), strict=True):
            for t, m in answers:
                self.cost[own, t], self.slope_conv[own, t] = m.cost, m.slope_conv
                self.slope_ev[:, own, t] = m.slope_ev
                self.routed[own, t] = primal
                if primal:
                    self.ev[:, :, own, t] = m.ev  # type: ignore[index]
                    self.short[:, own, t] = m.short  # type: ignore[index]
                done[own, t] = True
        self.fleet = np.where(done[None], fleet, self.fleet)
        self.solved += int(done.sum())
        return done

    def _map(self, tasks: list[tuple[int, tuple]]) -> list[list[tuple[int, _Month]]]:
        """Run :func:`_city_task` on each (city, job)."""
        cities = [self.cities[c] for c, _ in tasks]
        jobs = [job for _, job in tasks]
        if self.client is not None:
            if self.scattered is None:
                self.scattered = self.client.scatter(self.cities)  # type: ignore[attr-defined]
            futures = self.client.map(  # type: ignore[attr-defined]
                _city_task, [self.scattered[c] for c, _ in tasks], jobs, pure=False
            )
            return self.client.gather(futures)  # type: ignore[attr-defined]
        if self.executor is not None:
            return list(self.executor.map(_city_task, cities, jobs))
        return [_city_task(rc, job) for rc, job in zip(cities, jobs, strict=True)]


def recourse_cost(
    problem: DeployProblem, fleet: np.ndarray, *, executor: Executor | None = None
) -> np.ndarray:
    """The expected recourse cost of each city-month at a fleet (currency; C, T).

    What the program's second stage costs with the fleet fixed: the emissions of the routes
    not run electric and the shortage, each draw's electric routes chosen at their best.

    Parameters
    ----------
    problem : DeployProblem
        The deployment.
    fleet : numpy.ndarray
        Vans per type, station and month (V, S, T), as ``DeployPlan.fleet_array``.
    executor : concurrent.futures.Executor, optional
        Solves the cities in parallel.

    Returns
    -------
    numpy.ndarray
        Expected cost per city and month (currency).
    """
    recourses = _Recourses(problem, executor)
    recourses.solve(np.asarray(fleet, float))
    by_city = np.zeros((len(problem.cities), recourses.cost.shape[1]))
    np.add.at(by_city, recourses.city_of, recourses.cost)
    return by_city


#: One HiGHS instance per thread for the recourse LPs (making one costs milliseconds).
_LOCAL = threading.local()


def _highs_model(
    cost: np.ndarray,
    a: sparse.sparray,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    highs: highspy.Highs | None = None,
) -> highspy.Highs:
    """A HiGHS model of min cost · x, row_lo ≤ A x ≤ row_hi, col_lo ≤ x ≤ col_hi.

    Passed into ``highs`` (replacing its model) where given, else into a new instance.
    """
    a = sparse.csc_array(a)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, col_lo, col_hi
    lp.row_lower_, lp.row_upper_ = row_lo, row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    if highs is None:
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
    highs.passModel(lp)
    return highs


def _highs_solution(x: np.ndarray) -> highspy.HighsSolution:
    """A HiGHS solution holding the column values ``x``."""
    solution = highspy.HighsSolution()
    solution.col_value = list(map(float, x))
    solution.value_valid = True
    return solution


class _Master:
    """The first stage with a θ per unit-month bounded by cuts, solved by HiGHS."""

    def __init__(self, problem: DeployProblem, recourses: _Recourses) -> None:
        self.program = program = build_first_stage(problem)
        self.recourses = recourses
        n_first, n_t = len(program.c), len(problem.months)
        self.fleet_index = program.index("fleet")  # (V, S, T)
        unit_of = np.empty(len(recourses.city_of), dtype=int)
        floors, n_u = [], 0
        for c, rc in enumerate(recourses.cities):
            own = np.flatnonzero(recourses.city_of == c)
            unit_of[own] = n_u if rc.joint else n_u + np.arange(len(own))
            n_u += 1 if rc.joint else len(own)
            floors.append(rc.floor())
        self.unit_of = unit_of  # a station's own unit, or its city's where power ties them
        self.n_units = n_u
        self.theta = n_first + np.arange(n_u * n_t).reshape(n_u, n_t)
        self.floor = np.concatenate(floors)  # (U, T)
        self.n_cuts = 0  # added so far
        self.cost = np.r_[program.c, np.ones(self.theta.size)]
        self.highs = _highs_model(
            self.cost,
            sparse.hstack([program.A, sparse.csr_array((program.A.shape[0], self.theta.size))]),
            program.lo,
            program.hi,
            np.r_[program.lb, self.floor.ravel()],
            np.r_[program.ub, np.full(self.theta.size, np.inf)],
        )
        self.integer = False

    def _per_unit(self, by_station: np.ndarray) -> np.ndarray:
        """Sum a (S, T) array over each unit's stations (U, T)."""
        out = np.zeros((self.n_units, by_station.shape[1]), dtype=by_station.dtype)
        np.add.at(out, self.unit_of, by_station)
        return out

    def value(self) -> np.ndarray:
        """The recourse cost of each unit and month at the last fleet solved (U, T)."""
        return self._per_unit(self.recourses.cost)

    def add_cuts(self, x: np.ndarray, done: np.ndarray, tol: float = 1e-7) -> int:
        """Add the cut of each unit-month solved at ``x`` whose θ there is below its cost.

        ``done`` (S × T) marks the station-months just solved at ``x``. Returns how many cuts
        were added.
        """
        rec = self.recourses
        value = self.value()
        fresh = self._per_unit(done.astype(int)) > 0
        cut = fresh & (value > x[self.theta] + tol * np.maximum(1.0, np.abs(value)))
        if not cut.any():
            return 0
        row_of = np.full(cut.shape, -1)
        row_of[cut] = np.arange(int(cut.sum()))
        ss, tt = np.nonzero(cut[self.unit_of])  # every station-month of a cut
        rows = row_of[self.unit_of[ss], tt]
        ev_types, conv_types = np.flatnonzero(rec.electric), np.flatnonzero(~rec.electric)
        slopes = np.concatenate(  # (types, n): each van type's slope at each station-month
            [rec.slope_ev[:, ss, tt], np.repeat(rec.slope_conv[None, ss, tt], len(conv_types), 0)]
        )
        cols = self.fleet_index[np.r_[ev_types, conv_types]][:, ss, tt]
        at = np.zeros(int(cut.sum()))
        np.add.at(at, np.broadcast_to(rows, cols.shape).ravel(), (slopes * x[cols]).ravel())
        uu, ut = np.nonzero(cut)
        lo = value[uu, ut] - at[row_of[uu, ut]]
        new = sparse.csr_array(
            (
                np.r_[np.ones(len(uu)), -slopes.ravel()],
                (
                    np.r_[row_of[uu, ut], np.broadcast_to(rows, cols.shape).ravel()],
                    np.r_[self.theta[uu, ut], cols.ravel()],
                ),
            ),
            shape=(len(uu), len(self.cost)),
        )
        self.highs.addRows(
            len(uu),
            lo,
            np.full(len(uu), highspy.kHighsInf),
            new.nnz,
            new.indptr[:-1].astype(np.int32),
            new.indices.astype(np.int32),
            new.data,
        )
        self.n_cuts += len(uu)
        return len(uu)

    def solve(
        self,
        integer: bool,
        time_limit: float,
        mip_rel_gap: float,
        fix: np.ndarray | None = None,
        start: np.ndarray | None = None,
    ) -> Solution:
        """The master's LP relaxation or MILP with the cuts so far (HiGHS, kept warm).

        ``fix``: an LP solution whose whole-number integer variables are fixed for this solve
        (a restricted MILP around it: its bound is then not a bound of the master).
        ``start``: a feasible solution to start the MILP from.
        """
        h, program = self.highs, self.program
        ints = np.flatnonzero(program.integrality).astype(np.int32)
        if integer and not self.integer:
            h.changeColsIntegrality(
                len(ints), ints, np.full(len(ints), highspy.HighsVarType.kInteger)
            )
            self.integer = True
        if fix is not None:
            whole = ints[np.abs(fix[ints] - np.round(fix[ints])) <= 1e-6]
            value = np.round(fix[whole])
            h.changeColsBounds(len(whole), whole, value, value)
        if start is not None:
            h.setSolution(_highs_solution(start))
        try:
            return self._run(integer, time_limit, mip_rel_gap)
        finally:
            if fix is not None:
                h.changeColsBounds(len(whole), whole, program.lb[whole], program.ub[whole])

    def _run(self, integer: bool, time_limit: float, mip_rel_gap: float) -> Solution:
        h, program = self.highs, self.program
        h.setOptionValue("time_limit", float(time_limit))
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        # the LP rounds by interior point: after a round of cuts a warm dual simplex took 26 s
        # at 300 stations (40,106 iterations), interior point 2.8 s
        h.setOptionValue("solver", "choose" if integer else "ipm")
        t0 = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - t0
        status, info = h.getModelStatus(), h.getInfo()
        if status == highspy.HighsModelStatus.kInfeasible:
            raise InfeasibleDeploymentError(
                "no first stage meets the budget, supply, electric share, bays, partners and "
                "storage: solve with deploy() to see which limit binds",
                [],
            )
        if info.primal_solution_status != 2:  # no feasible solution
            raise DeploySolveError(
                f"the Benders master found no solution: {h.modelStatusToString(status)}"
            )
        x = np.asarray(h.getSolution().col_value).copy()
        if integer:
            ints = program.integrality.astype(bool)
            x[: len(ints)][ints] = np.round(x[: len(ints)][ints])
        objective = float(self.cost @ x) + program.constant
        if integer:
            bound = float(info.mip_dual_bound) + program.constant
        else:
            optimal = status == highspy.HighsModelStatus.kOptimal
            bound = objective if optimal else -math.inf
        return Solution(
            x, objective, int(status), h.modelStatusToString(status), 0.0, seconds, bound
        )


def _assemble(
    problem: DeployProblem, x_first: np.ndarray, ev: np.ndarray, short: np.ndarray
) -> tuple[Program, np.ndarray]:
    """The whole program and its solution: the first stage and every draw's routes.

    ``ev`` (W, E, S, T, K) and ``short`` (W, S, T) are laid out as the program's blocks.
    """
    program = build_program(problem)
    x = np.zeros(len(program.c))
    x[: len(x_first)] = x_first
    x[program.index("ev").ravel()] = ev.ravel()
    x[program.index("short").ravel()] = short.ravel()
    return program, x


class _Run:
    """One Benders run: the master, the recourse, the best bound and the rounds so far."""

    def __init__(
        self,
        problem: DeployProblem,
        recourses: _Recourses,
        time_limit: float,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.start = time.perf_counter()
        self.recourses = recourses
        self.master = _Master(problem, recourses)
        self.time_limit, self.progress = time_limit, progress
        self.lower = -math.inf
        self.history: list[dict] = []
        self.lp_x: np.ndarray | None = None  # the last LP master's solution

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def left(self) -> float:
        """Seconds left of the time limit (at least 1, so a last solve can run)."""
        return max(1.0, self.time_limit - self.elapsed())

    def cost(self, x: np.ndarray) -> float:
        """The true cost of the first stage in ``x`` at the recourse last solved (currency)."""
        program = self.master.program
        first = float(program.c @ x[: len(program.c)])
        return first + program.constant + float(self.recourses.cost.sum())

    def note(self, phase: str, k: int, bound: float, cost: float, cuts: int, master_s: float):
        """Record a round (and report it)."""
        gap = (cost - self.lower) / abs(cost) if math.isfinite(self.lower) else math.inf
        self.history.append(
            {
                "phase": phase,
                "round": k,
                "bound": bound,
                "best_bound": self.lower,
                "cost": cost,
                "gap": gap,
                "cuts": cuts,
                "master_seconds": master_s,
                "seconds": self.elapsed(),
            }
        )
        if self.progress is not None:
            self.progress(
                f"{phase} round {k}: bound {self.lower:,.0f}, cost {cost:,.0f}, gap {gap:.2%}, "
                f"{cuts} cuts, master {master_s:.1f} s, {self.recourses.solved} station-month "
                f"LPs, {self.elapsed():.0f} s"
            )

    def lp_phase(self, rounds: int, tolerance: float) -> None:
        """Cut the master's LP relaxation until its value and its point's cost meet.

        Every cut is kept. (Cutting at the midpoint of the master's point and the last one
        instead, the in-out stabilisation of Ben-Ameur and Neto, 2007, took 15 rounds instead
        of 11 on 30 stations; dropping cuts slack three rounds running left the bound of the
        city-power test network stuck for 40 rounds.)
        """
        master, recourses = self.master, self.recourses
        best = math.inf  # the best cost of an LP point: an upper bound of the LP relaxation
        for k in range(rounds):
            sol = master.solve(False, self.left(), 0.0)
            self.lower, self.lp_x = max(self.lower, sol.objective), sol.x
            done = recourses.solve(sol.x[master.fleet_index])
            best = min(best, self.cost(sol.x))
            added = master.add_cuts(sol.x, done)
            self.note("lp", k, sol.objective, best, added, sol.seconds)
            if added == 0 or (best - self.lower) / abs(best) <= tolerance:
                return

    def mip_phase(self, rounds: int, target_gap: float) -> tuple[np.ndarray, ...]:
        """Solve the master as a MILP until its plan's cost is within the gap of the bound.

        The first MILP is restricted to the last LP solution's neighbourhood (its whole-number
        purchases and fleets fixed): at 1,000 stations the whole master MILP found no plan in
        400 s, the restricted one is small. Later ones are whole, started from the best plan,
        and their proven bounds count. Returns the best plan's first stage, its electric
        routes and its shortage.
        """
        master, recourses = self.master, self.recourses
        n_first = len(master.program.c)
        best_cost, best, start = math.inf, None, None
        for k in range(rounds):
            try:
                if k == 0:
                    sol = master.solve(True, self.left(), target_gap / 2, fix=self.lp_x)
                else:
                    sol = master.solve(True, self.left(), target_gap / 2, start=start)
                    self.lower = max(self.lower, sol.bound)
            except InfeasibleDeploymentError:
                if k == 0:  # nothing whole near the LP's point: the whole MILP next
                    continue
                raise
            done = recourses.solve(sol.x[master.fleet_index], primal=True)
            cost = self.cost(sol.x)
            if cost < best_cost:
                plan = (sol.x[:n_first].copy(), recourses.ev.copy(), recourses.short.copy())
                best_cost, best = cost, plan
                start = sol.x.copy()
                start[master.theta] = master.value()  # its true recourse meets every cut
            added = master.add_cuts(sol.x, done)
            self.note(
                "mip" if k else "mip, restricted", k, sol.bound, best_cost, added, sol.seconds
            )
            gap = (best_cost - self.lower) / abs(best_cost)
            if gap <= target_gap or self.elapsed() > self.time_limit:
                break
        if best is None:
            raise DeploySolveError("the Benders master MILP found no plan in the time limit")
        return best


def deploy_by_benders(
    problem: DeployProblem,
    *,
    target_gap: float = 0.01,
    time_limit: float = 900.0,
    lp_rounds: int = 50,
    integer_rounds: int = 5,
    executor: Executor | None = None,
    client: object = None,
    progress: Callable[[str], None] | None = None,
) -> DecomposedPlan:
    """Plan a deployment by Benders decomposition, with a proven bound (see the module).

    Parameters
    ----------
    problem : DeployProblem
        The whole network. Hard service is not supported (its recourse can be infeasible,
        which needs feasibility cuts): use :func:`~bayesspr.deploy.deploy` for it.
    target_gap : float
        Stop once (plan − bound) / plan is at most this (–).
    time_limit : float
        Wall-time limit (s); the master MILP gets what is left of it.
    lp_rounds : int
        Most rounds of cuts on the master's LP relaxation.
    integer_rounds : int
        Most master MILPs.
    executor : concurrent.futures.Executor, optional
        Solves the cities' recourse LPs in parallel (threads, processes).
    client : distributed.Client, optional
        Solves them on a Dask cluster instead: each city's data is sent to a worker once, and
        its LPs start each round from that worker's last basis.
    progress : callable, optional
        Called with a line after each round.

    Returns
    -------
    DecomposedPlan
        The best plan found, its proven lower bound and one row per round in ``history``.

    Raises
    ------
    DeployInputError
        The problem asks for hard service.
    InfeasibleDeploymentError
        No first stage meets the limits.
    """
    if problem.hard_service:
        raise DeployInputError(
            [
                Problem(
                    "problem",
                    "hard_service",
                    True,
                    "deploy_by_benders prices every shortage and cannot plan hard service: "
                    "use deploy() or deploy_by_city() for hard_service=True",
                )
            ]
        )
    run = _Run(problem, _Recourses(problem, executor, client), time_limit, progress)
    run.lp_phase(lp_rounds, target_gap / 4)
    x_first, ev, short = run.mip_phase(integer_rounds, target_gap)
    program, x = _assemble(problem, x_first, ev, short)
    objective = float(program.c @ x + program.constant)
    solution = Solution(
        x=x,
        objective=objective,
        status=0,
        message=f"Benders: {run.master.n_cuts} cuts on {run.master.n_units} units × "
        f"{len(problem.months)} months, {run.recourses.solved} station-month LPs",
        mip_gap=max(0.0, (objective - run.lower) / abs(objective)),
        seconds=run.elapsed(),
        bound=run.lower,
    )
    plan = DeployPlan(problem, program, solution)
    broken = check_plan(plan)
    if broken:
        raise DeploySolveError("the Benders plan breaks constraints: " + "; ".join(broken))
    return DecomposedPlan(plan, run.lower, objective, pd.DataFrame(run.history))
