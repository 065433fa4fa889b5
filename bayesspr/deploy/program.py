"""The sample-average stochastic program of a deployment, built sparse and solved by HiGHS.

First stage (the same on every draw): ``buy[v, c, p]`` vans of type v bought for city c at the
start of period p (integer), ``fleet[v, s, t]`` vans of type v assigned to station s in month t
(integer), ``place[v, s, t]`` new vans placed at s in a period's first month and
``move[v, s, t]`` vans moved in (continuous, ≥ 0), ``partner[j, t]`` vans of partner pair j
(a station's delivery service partner) in month t and ``expand[s, p]`` storage modules added
at s at the start of period p (integer). Second stage per draw w:
``ev[w, e, s, t, k]`` design-day routes of route-length class k run by electric type e and
``short[w, s, t]`` routes short (continuous).

Constraints: the fleet of a city is what it owned plus what it bought so far; a van added to
a station that is not a new one pays the move cost; purchases within each period's budget;
electric purchases within each period's supply; the electric share target; a station's
fleet fits its bays. On each draw: electric routes within the vans of their type and, class by
class, within the routes each range reaches (nested: a longer range serves every route a
shorter one does); their overnight energy, each route at its class's energy, within the
station's and the city's power × charging hours; a station's partners run its whole fleet,
each between its minimum and its capacity; the storage, with its modules, holds the design
day's packages on all but ``storage_risk`` of the draws (its order statistic over the draws: a
chance constraint over exogenous draws is linear); combustion
vans plus electric routes plus shortage cover the design day (no shortage if hard service).

Objective (currency): purchases less their residual value at the horizon's end + holding of
every owned van each month from its purchase (initial fleet included) + moves + mean over
draws of shortage cost and of the emission cost of the routes not run electric; each modelled
month counts the calendar months it stands for (``month_weight``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from bayesspr.deploy.problem import DeployProblem

__all__ = [
    "FIRST_STAGE",
    "LIMITS",
    "Program",
    "build_first_stage",
    "build_program",
    "recourse_rates",
    "solve_program",
]

#: The limit groups that can be dropped to explain an infeasible program.
LIMITS = ("budget", "ev_supply", "min_electric_share", "bays", "power", "partners", "storage")
#: The variable blocks decided once for every draw (a plan's first stage).
FIRST_STAGE = ("buy", "fleet", "place", "move", "partner", "expand")


@dataclass
class Program:
    """A built program: its arrays, the offset of each variable block and the row groups.

    Attributes
    ----------
    c : numpy.ndarray
        Objective coefficients (currency per unit of each variable).
    constant : float
        Objective constant (currency): emission cost if no route ran electric.
    A : scipy.sparse.csr_array
        Constraint matrix; ``lo`` ≤ A x ≤ ``hi``.
    lo, hi : numpy.ndarray
        Row bounds.
    lb, ub : numpy.ndarray
        Variable bounds.
    integrality : numpy.ndarray
        1 for integer variables, 0 for continuous.
    blocks : dict of str to (int, tuple)
        Offset and shape of each variable block.
    rows : dict of str to (int, int)
        Start and stop of each named row group.
    arrays : dict of str to numpy.ndarray
        The problem's arrays (:meth:`DeployProblem.arrays`).
    parts : dict of str to numpy.ndarray
        Objective coefficients of each cost part (``purchases``, ``residual_value`` at the
        horizon's end, ``holding`` of owned vans, ``partners``' rates, ``storage`` modules,
        ``moves``, expected ``shortage``, expected ``emissions``); they sum to ``c``.
    constants : dict of str to float
        Constant of each part (holding of the initial fleet; emissions if nothing ran
        electric); they sum to ``constant``.
    draw_constant : numpy.ndarray
        The constant as it falls on each draw (currency, one per draw; its mean is
        ``constant``): the emissions if nothing ran electric differ by draw.
    """

    c: np.ndarray
    constant: float
    A: sparse.csr_array
    lo: np.ndarray
    hi: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integrality: np.ndarray
    blocks: dict[str, tuple[int, tuple[int, ...]]]
    rows: dict[str, tuple[int, int]]
    arrays: dict[str, np.ndarray]
    parts: dict[str, np.ndarray]
    constants: dict[str, float]
    draw_constant: np.ndarray

    def index(self, block: str) -> np.ndarray:
        """Column indices of a variable block, shaped like the block."""
        start, shape = self.blocks[block]
        return start + np.arange(math.prod(shape)).reshape(shape)

    def values(self, x: np.ndarray, block: str) -> np.ndarray:
        """A block's values from a solution vector, shaped like the block."""
        return block_values(self.blocks, x, block)


def block_values(
    blocks: dict[str, tuple[int, tuple[int, ...]]], x: np.ndarray, block: str
) -> np.ndarray:
    """A block's values from a solution vector, shaped like the block.

    Parameters
    ----------
    blocks : dict of str to (int, tuple)
        Offset and shape of each variable block (:attr:`Program.blocks`).
    x : numpy.ndarray
        A solution vector of that program.
    block : str
        The block.

    Returns
    -------
    numpy.ndarray
    """
    start, shape = blocks[block]
    return x[start : start + math.prod(shape)].reshape(shape)


class _Rows:
    """Collects sparse rows as (row, col, value) triplets with their bounds."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.n = 0
        self.groups: dict[str, tuple[int, int]] = {}

    def add(self, name: str, n_rows: int, terms: list, lo: np.ndarray, hi: np.ndarray) -> None:
        """Add ``n_rows`` rows; ``terms`` are (row offsets, columns, coefficients) arrays."""
        for rows, cols, coef in terms:
            rows, cols = np.broadcast_arrays(np.asarray(rows), np.asarray(cols))
            coef = np.broadcast_to(np.asarray(coef, float), rows.shape)
            self.r.append(self.n + rows.ravel())
            self.c.append(cols.ravel())
            self.v.append(coef.ravel())
        self.lo.append(np.broadcast_to(np.asarray(lo, float), (n_rows,)).ravel())
        self.hi.append(np.broadcast_to(np.asarray(hi, float), (n_rows,)).ravel())
        self.groups[name] = (self.n, self.n + n_rows)
        self.n += n_rows


@dataclass(frozen=True)
class _Layout:
    """The problem's sizes and arrays, and the column indices of each variable block.

    Built once by :func:`_layout` and read by each part of :func:`build_program`.
    """

    problem: DeployProblem
    a: dict[str, np.ndarray]
    n_w: int
    n_e: int
    n_k: int  # route-length classes
    n_s: int
    n_t: int
    n_v: int
    n_c: int
    n_p: int
    ev_of: np.ndarray  # van index of each electric type
    conv: np.ndarray  # van indices of the combustion types
    price: np.ndarray  # purchase price per van type (currency)
    hold: np.ndarray  # holding cost per van-month per type (currency)
    period_of: np.ndarray  # period index of each month
    city_of: np.ndarray  # city index of each station
    first: np.ndarray  # True in the first month of each period
    blocks: dict[str, tuple[int, tuple[int, ...]]]
    n_x: int
    buy: np.ndarray
    fleet: np.ndarray
    place: np.ndarray
    move: np.ndarray
    partner: np.ndarray
    expand: np.ndarray
    ev: np.ndarray
    short: np.ndarray
    pairs: pd.DataFrame  # the partner pairs (problem.partner_table())
    pair_station: np.ndarray  # station index of each partner pair

    def idx(self, name: str) -> np.ndarray:
        """Column indices of a variable block, shaped like the block."""
        s0, shape = self.blocks[name]
        return s0 + np.arange(math.prod(shape)).reshape(shape)


def _layout(problem: DeployProblem) -> _Layout:
    """Sizes, per-type prices and the variable blocks (``buy`` … ``short``) in column order."""
    a = problem.arrays()
    d, r = a["demand"], a["in_range"]
    n_w, n_s, n_t = d.shape
    n_e, n_k = r.shape[1], r.shape[4]
    vans, evs = problem.vans, problem.electric
    n_v, n_c, n_p = len(vans), len(problem.cities), len(problem.periods)
    period_of = a["period_of"]
    pairs = problem.partner_table()
    shapes = {
        "buy": (n_v, n_c, n_p),
        "fleet": (n_v, n_s, n_t),
        "place": (n_v, n_s, n_t),
        "move": (n_v, n_s, n_t),
        "partner": (len(pairs), n_t),
        "expand": (n_s, n_p),
        "ev": (n_w, n_e, n_s, n_t, n_k),
        "short": (n_w, n_s, n_t),
    }
    blocks, start = {}, 0
    for name, shape in shapes.items():
        blocks[name] = (start, shape)
        start += math.prod(shape)
    index = {
        k: s0 + np.arange(math.prod(shape)).reshape(shape) for k, (s0, shape) in blocks.items()
    }
    cost = problem.costs
    return _Layout(
        problem=problem,
        a=a,
        n_w=n_w,
        n_e=n_e,
        n_k=n_k,
        n_s=n_s,
        n_t=n_t,
        n_v=n_v,
        n_c=n_c,
        n_p=n_p,
        ev_of=np.array([vans.index(e) for e in evs], dtype=int),
        conv=np.array([i for i, v in enumerate(problem.van_types) if not v.electric], dtype=int),
        price=np.array([float(v.cost_per_van) for v in problem.van_types]),
        hold=np.array([float(cost.holding_per_van_month[v]) for v in vans]),
        period_of=period_of,
        city_of=a["city_of"],
        first=np.r_[True, period_of[1:] != period_of[:-1]],
        blocks=blocks,
        n_x=start,
        pairs=pairs,
        pair_station=pd.Index(problem.stations).get_indexer(pairs["station"]),
        **index,
    )


def _variable_bounds(lay: _Layout, fixed: dict | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variable bounds (vans or routes) and integrality.

    Purchases and fleets are integer; new vans are placed only in a period's first month; the
    first month's assignment pays no move; no shortage under hard service; the first stage is
    pinned to ``fixed`` when given.

    Returns
    -------
    lb, ub : numpy.ndarray
        Lower and upper bound of each variable (vans or routes).
    integrality : numpy.ndarray
        1 for integer variables, 0 for continuous.
    """
    lb, ub = np.zeros(lay.n_x), np.full(lay.n_x, np.inf)
    integrality = np.zeros(lay.n_x, dtype=np.uint8)
    for name in ("buy", "fleet", "partner", "expand"):
        integrality[lay.idx(name).ravel()] = 1
    pairs = lay.pairs
    if len(pairs):
        lb[lay.partner] = pairs["min_vans"].to_numpy(float)[:, None]
        ub[lay.partner] = pairs["max_vans"].to_numpy(float)[:, None]
    storable = np.isfinite(lay.a["storage"]) & (lay.problem.costs.storage_module_packages > 0)
    ub[lay.expand[~storable].ravel()] = 0.0
    ub[lay.place[:, :, ~lay.first].ravel()] = 0.0
    ub[lay.move[:, :, 0].ravel()] = 0.0  # the first month's assignment is free
    if lay.problem.hard_service and fixed is None:
        ub[lay.short.ravel()] = 0.0
    if fixed is not None:
        for name in FIRST_STAGE:
            value = np.asarray(fixed[name], float).ravel()
            lb[lay.idx(name).ravel()] = value
            ub[lay.idx(name).ravel()] = value
    return lb, ub, integrality


def recourse_rates(
    problem: DeployProblem, a: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The second stage's costs, each already divided by the number of draws (currency).

    Parameters
    ----------
    problem : DeployProblem
        The deployment.
    a : dict of str to numpy.ndarray
        Its arrays (:meth:`DeployProblem.arrays`).

    Returns
    -------
    short_rate : numpy.ndarray
        Cost of one design-day route short in month t, per draw (T,).
    saving : numpy.ndarray
        Emission cost saved by one route run electric (W, S, T).
    emitted : numpy.ndarray
        Emission cost if no route ran electric (W, S, T); its sum over draws is the mean.
    """
    cost, weight = problem.costs, a["month_weight"]
    n_w = a["demand"].shape[0]
    short_rate = float(cost.shortage_per_van_day) * float(cost.shortage_days_per_month) / n_w
    emission = (
        float(cost.emission_price_per_kg)
        * float(cost.emission_kg_per_km)
        * float(cost.emission_days_per_month)
        / n_w
    )
    saving = emission * a["km"] * weight
    return short_rate * weight, saving, saving * a["demand"]


def _objective(
    lay: _Layout,
) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray]:
    """The objective's cost parts: coefficients per variable and constants (currency).

    Each modelled month counts its ``month_weight`` calendar months in holding, shortage and
    emissions; a van bought at the start of period p is held for the calendar months from p
    to the horizon's end, H_p, and is credited its residual value, price · max(0, 1 − H_p /
    life), at the end (straight-line write-off over ``van_life_months``).

    Returns
    -------
    parts : dict of str to numpy.ndarray
        ``purchases``, ``residual_value`` (negative: the unused part of each van's price at
        the horizon's end), ``holding`` (each van bought held from its period on), ``moves``,
        expected ``shortage`` and expected ``emissions`` (negative: each electric route
        saves the emissions of its km).
    constants : dict of str to float
        Holding of the initial fleet; emissions if no route ran electric.
    draw_constant : numpy.ndarray
        The constants as they fall on each draw (their mean is the constants' sum).
    """
    a, cost, n_w = lay.a, lay.problem.costs, lay.n_w
    weight = a["month_weight"]  # calendar months per modelled month (T,)
    held = (lay.period_of[None, :] >= np.arange(lay.n_p)[:, None]) @ weight  # (p,) months
    life = cost.life_months(lay.problem.vans)  # (v,)
    parts = {
        k: np.zeros(lay.n_x)
        for k in (
            "purchases",
            "residual_value",
            "holding",
            "partners",
            "storage",
            "moves",
            "shortage",
            "emissions",
        )
    }
    if len(lay.pairs):
        rate = lay.pairs["cost_per_van_month"].to_numpy(float)
        parts["partners"][lay.partner] = rate[:, None] * weight[None, :]
    parts["storage"][lay.expand] = float(cost.storage_per_module)
    parts["purchases"][lay.buy] = lay.price[:, None, None]
    unused = np.clip(1.0 - held[None, :] / life[:, None], 0.0, 1.0)  # (v, p) of the price
    unused[~np.isfinite(life)] = 0.0  # no service life given: no residual value
    parts["residual_value"][lay.buy] = -(lay.price[:, None] * unused)[:, None, :]
    parts["holding"][lay.buy] = lay.hold[:, None, None] * held[None, None, :]
    parts["moves"][lay.move] = float(cost.move_per_van)
    short_rate, saving, emitted = recourse_rates(lay.problem, a)
    parts["shortage"][lay.short] = short_rate
    parts["emissions"][lay.ev] = -saving[:, None, :, :, None]  # each electric route saves
    draw_emissions = n_w * emitted.sum((1, 2))  # emissions if no route ran electric, per draw
    constants = {
        "purchases": 0.0,
        "residual_value": 0.0,
        "partners": 0.0,
        "storage": 0.0,
        "holding": float(lay.hold @ a["initial"].sum(1)) * float(weight.sum()),
        "moves": 0.0,
        "shortage": 0.0,
        "emissions": float(draw_emissions.mean()),
    }
    return parts, constants, constants["holding"] + draw_emissions


def _first_stage_rows(rows: _Rows, lay: _Layout) -> None:
    """Rows linking the fleet to what was owned and bought: owned, moves, placement."""
    n_v, n_c, n_s, n_t, n_p = lay.n_v, lay.n_c, lay.n_s, lay.n_t, lay.n_p
    buy, fleet, place, move = lay.buy, lay.fleet, lay.place, lay.move
    period_of, city_of = lay.period_of, lay.city_of
    # owned: Σ_{s∈c} fleet[v,s,t] − Σ_{p'≤p(t)} buy[v,c,p'] ≤ initial[v,c]
    n_own = n_v * n_c * n_t
    own_row = np.arange(n_own).reshape(n_v, n_c, n_t)
    cum = period_of[None, :] >= np.arange(n_p)[:, None]  # (p', t): bought by month t
    pp, tt = np.nonzero(cum)
    rows.add(
        "fleet_owned",
        n_own,
        [
            (own_row[:, city_of, :], fleet, 1.0),
            (own_row[:, :, tt], buy[:, :, pp], -1.0),
        ],
        -np.inf,
        np.repeat(lay.a["initial"][:, :, None], n_t, axis=2).ravel(),
    )
    # moves: fleet[t] − fleet[t−1] − place[t] − move[t] ≤ 0 for t ≥ 1
    if n_t > 1:
        n_mv = n_v * n_s * (n_t - 1)
        mv_row = np.arange(n_mv).reshape(n_v, n_s, n_t - 1)
        rows.add(
            "moves",
            n_mv,
            [
                (mv_row, fleet[:, :, 1:], 1.0),
                (mv_row, fleet[:, :, :-1], -1.0),
                (mv_row, place[:, :, 1:], -1.0),
                (mv_row, move[:, :, 1:], -1.0),
            ],
            -np.inf,
            0.0,
        )
    # placement: Σ_{s∈c} place[v,s,t] − buy[v,c,p(t)] ≤ 0 in a period's first month
    tf = np.nonzero(lay.first)[0]
    n_pl = n_v * n_c * len(tf)
    pl_row = np.arange(n_pl).reshape(n_v, n_c, len(tf))
    rows.add(
        "placement",
        n_pl,
        [(pl_row[:, city_of, :], place[:, :, tf], 1.0), (pl_row, buy[:, :, period_of[tf]], -1.0)],
        -np.inf,
        0.0,
    )


def _limit_rows(rows: _Rows, lay: _Layout, drop: tuple[str, ...]) -> None:
    """First-stage limits not in ``drop``: budget, EV supply, electric share, bays."""
    a, n_p, n_t, n_s = lay.a, lay.n_p, lay.n_t, lay.n_s
    buy, fleet = lay.buy, lay.fleet
    if "budget" not in drop:
        rows.add(
            "budget",
            n_p,
            [(np.arange(n_p)[None, None, :], buy, lay.price[:, None, None])],
            -np.inf,
            a["budget"],
        )
    if lay.n_e and "ev_supply" not in drop:
        rows.add(
            "ev_supply",
            n_p,
            [(np.arange(n_p)[None, None, :], buy[lay.ev_of], 1.0)],
            -np.inf,
            a["ev_supply"],
        )
    if lay.n_e and "min_electric_share" not in drop and (a["share"] > 0).any():
        # Σ_e fleet − share · Σ_v fleet ≥ 0, per month
        share_t = a["share"][lay.period_of]
        t_row = np.arange(n_t)[None, None, :]
        coef = np.broadcast_to(-share_t[None, None, :], fleet.shape).copy()
        coef[lay.ev_of] += 1.0
        rows.add("min_electric_share", n_t, [(t_row, fleet, coef)], 0.0, np.inf)
    if "bays" not in drop:
        st = np.arange(n_s * n_t).reshape(n_s, n_t)
        rows.add("bays", n_s * n_t, [(st[None], fleet, 1.0)], -np.inf, np.repeat(a["bays"], n_t))


def _partner_and_storage_rows(
    rows: _Rows, lay: _Layout, drop: tuple[str, ...], planning: bool
) -> None:
    """A station's partners run its whole fleet; the storage holds the packages (planning)."""
    n_t, n_s, n_p = lay.n_t, lay.n_s, lay.n_p
    with_partners, pair_row = np.unique(lay.pair_station, return_inverse=True)
    if len(with_partners) and "partners" not in drop:
        # Σ_{j at s} partner[j, t] − Σ_v fleet[v, s, t] = 0
        st = np.arange(len(with_partners) * n_t).reshape(len(with_partners), n_t)
        rows.add(
            "partners",
            st.size,
            [
                (st[pair_row], lay.partner, 1.0),
                (st[None], lay.fleet[:, with_partners], -1.0),
            ],
            0.0,
            0.0,
        )
    storage = lay.a["storage"]
    if planning and np.isfinite(storage).any() and "storage" not in drop:
        # size · Σ_{p' ≤ p(t)} expand[s, p'] ≥ q[s, t] − capacity[s], where q is the design
        # day's packages that at most ⌊risk · W⌋ draws exceed
        size = float(lay.problem.costs.storage_module_packages)
        k = math.floor(float(lay.problem.storage_risk) * lay.n_w)
        q = -np.sort(-lay.a["packages"], axis=0)[k]  # (s, t)
        st = np.arange(n_s * n_t).reshape(n_s, n_t)
        cum = lay.period_of[None, :] >= np.arange(n_p)[:, None]  # (p', t): added by month t
        pp, tt = np.nonzero(cum)
        rows.add(
            "storage",
            n_s * n_t,
            [(st[:, tt], lay.expand[:, pp], size)],
            (q - storage[:, None]).ravel(),  # −inf where a station's storage has no limit
            np.inf,
        )


def _draw_rows(rows: _Rows, lay: _Layout, drop: tuple[str, ...]) -> None:
    """Rows of each draw: electric vans, nested ranges, power (unless dropped), cover."""
    a, n_w, n_e, n_s, n_t, n_c = lay.a, lay.n_w, lay.n_e, lay.n_s, lay.n_t, lay.n_c
    n_k = lay.n_k
    d, ev, fleet = a["demand"], lay.ev, lay.fleet
    wst = np.arange(n_w * n_s * n_t).reshape(n_w, n_s, n_t)
    per_route = wst[:, None, :, :, None]  # a (w, s, t) row for every (e, k) route variable
    if n_e:
        n_u = n_w * n_e * n_s * n_t
        u_row = np.arange(n_u).reshape(n_w, n_e, n_s, n_t)
        rows.add(
            "ev_vans",
            n_u,
            [(u_row[..., None], ev, 1.0), (u_row, fleet[lay.ev_of][None], -1.0)],
            -np.inf,
            0.0,
        )
        # nested ranges, class by class: Σ_{e' ≤ e} ev[w,e',s,t,k] ≤ in_range[w,e,s,t,k]
        n_r = n_u * n_k
        r_row = np.arange(n_r).reshape(n_w, n_e, n_s, n_t, n_k)
        terms = [(r_row[:, e : e + 1], ev[:, : e + 1], 1.0) for e in range(n_e)]
        rows.add("range", n_r, terms, -np.inf, a["in_range"].ravel())
        if "power" not in drop:
            hours = float(lay.problem.charging_hours)
            kwh, period_of = a["kwh"], lay.period_of
            rows.add(
                "station_power",
                n_w * n_s * n_t,
                [(per_route, ev, kwh)],
                -np.inf,
                np.broadcast_to(a["station_kw"][:, period_of] * hours, d.shape).ravel(),
            )
            wct = np.arange(n_w * n_c * n_t).reshape(n_w, n_c, n_t)
            rows.add(
                "city_power",
                n_w * n_c * n_t,
                [(wct[:, None, lay.city_of, :, None], ev, kwh)],
                -np.inf,
                np.broadcast_to(a["city_kw"][:, period_of] * hours, (n_w, n_c, n_t)).ravel(),
            )
    rows.add(
        "cover",
        n_w * n_s * n_t,
        [
            (wst[:, None], fleet[lay.conv][None], 1.0),
            (per_route, ev, 1.0),
            (wst, lay.short, 1.0),
        ],
        d.ravel(),
        np.inf,
    )


def _matrix(
    rows: _Rows, n_x: int
) -> tuple[sparse.csr_array, np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
    """The collected rows as a sparse matrix, dropping rows with no finite bound.

    Returns
    -------
    A : scipy.sparse.csr_array
        Constraint matrix with ``n_x`` columns.
    lo, hi : numpy.ndarray
        Row bounds.
    groups : dict of str to (int, int)
        Start and stop of each named row group in ``A``.
    """
    A = sparse.csr_array(
        (np.concatenate(rows.v), (np.concatenate(rows.r), np.concatenate(rows.c))),
        shape=(rows.n, n_x),
    )
    A.sum_duplicates()
    lo, hi = np.concatenate(rows.lo), np.concatenate(rows.hi)
    keep = np.isfinite(lo) | np.isfinite(hi)  # rows with no finite bound constrain nothing
    if keep.all():
        return A, lo, hi, rows.groups
    new = np.cumsum(np.r_[0, keep]).astype(int)
    groups = {k: (int(new[s]), int(new[e])) for k, (s, e) in rows.groups.items()}
    return A[keep], lo[keep], hi[keep], groups


def build_program(
    problem: DeployProblem, *, drop: tuple[str, ...] = (), fixed: dict | None = None
) -> Program:
    """Build the sample-average program of ``problem`` as sparse arrays.

    Parameters
    ----------
    problem : DeployProblem
        The deployment to plan.
    drop : tuple of str
        Limit groups of :data:`LIMITS` to leave out (to explain an infeasible program).
    fixed : dict, optional
        First-stage values to fix (``buy``, ``fleet``, ``place``, ``move`` arrays, as in a
        :class:`~bayesspr.deploy.plan.DeployPlan`): the program then only chooses the
        recourse, as when a plan is evaluated on fresh draws. Hard service is not enforced
        then (the shortage is what is measured).

    Returns
    -------
    Program
    """
    lay = _layout(problem)
    lb, ub, integrality = _variable_bounds(lay, fixed)
    parts, constants, draw_constant = _objective(lay)
    c = sum(parts.values())
    constant = sum(constants.values())
    rows = _Rows()
    _first_stage_rows(rows, lay)
    _limit_rows(rows, lay, drop)
    _partner_and_storage_rows(rows, lay, drop, planning=fixed is None)
    _draw_rows(rows, lay, drop)
    A, lo, hi, groups = _matrix(rows, lay.n_x)
    return Program(
        c,
        constant,
        A,
        lo,
        hi,
        lb,
        ub,
        integrality,
        lay.blocks,
        groups,
        lay.a,
        parts,
        constants,
        draw_constant,
    )


def build_first_stage(problem: DeployProblem) -> Program:
    """The first stage of ``problem``'s program alone: no draw's recourse in it.

    The columns are the first-stage blocks (:data:`FIRST_STAGE`), in the same order and with
    the same bounds, integrality and costs as in :func:`build_program`; the rows are those
    that involve no draw (owned fleet, moves, placement, budget, electric supply, electric
    share, bays, partners, storage). The emissions constant belongs to the recourse, so the
    constant is the initial fleet's holding alone. A decomposition's master starts from it.

    Parameters
    ----------
    problem : DeployProblem
        The deployment to plan.

    Returns
    -------
    Program
        With ``blocks`` of the first stage only and ``draw_constant`` the holding constant on
        every draw.
    """
    lay = _layout(problem)
    n_first = lay.blocks["ev"][0]
    lb, ub, integrality = _variable_bounds(lay, None)
    parts, constants, _ = _objective(lay)
    constants = {**constants, "emissions": 0.0}
    rows = _Rows()
    _first_stage_rows(rows, lay)
    _limit_rows(rows, lay, ())
    _partner_and_storage_rows(rows, lay, (), planning=True)
    A, lo, hi, groups = _matrix(rows, lay.n_x)
    parts = {k: v[:n_first] for k, v in parts.items()}
    constant = sum(constants.values())
    return Program(
        sum(parts.values()),
        constant,
        sparse.csr_array(A[:, :n_first]),
        lo,
        hi,
        lb[:n_first],
        ub[:n_first],
        integrality[:n_first],
        {k: lay.blocks[k] for k in FIRST_STAGE},
        groups,
        lay.a,
        parts,
        constants,
        np.full(lay.n_w, constant),
    )


@dataclass(frozen=True)
class Solution:
    """What HiGHS returned for a program.

    Attributes
    ----------
    x : numpy.ndarray or None
        The solution vector (None when none was found).
    objective : float
        Objective value with its constant (currency); NaN without a solution.
    status : int
        ``scipy.optimize.milp`` status (0 optimal, 1 time or iteration limit, 2 infeasible,
        3 unbounded, 4 other).
    message : str
        HiGHS's message.
    mip_gap : float
        Relative gap at the end, (objective − bound) / |objective| with the objective's
        constant in both (–); 0 for a proven optimum.
    seconds : float
        Wall time of the solve (s).
    bound : float
        A proven lower bound on the optimal cost, constant included (currency); NaN where
        HiGHS gave none.
    """

    x: np.ndarray | None
    objective: float
    status: int
    message: str
    mip_gap: float
    seconds: float
    bound: float = math.nan


def solve_program(
    program: Program, *, time_limit: float = 60.0, mip_rel_gap: float = 1e-4
) -> Solution:
    """Solve a built program with HiGHS through :func:`scipy.optimize.milp`.

    Parameters
    ----------
    program : Program
        From :func:`build_program`.
    time_limit : float
        Wall-time limit of the solve (s).
    mip_rel_gap : float
        Relative MIP gap at which HiGHS stops (–); 0 asks for a proven optimum.

    Returns
    -------
    Solution
    """
    t0 = time.perf_counter()
    res = milp(
        program.c,
        constraints=LinearConstraint(program.A, program.lo, program.hi),
        integrality=program.integrality,
        bounds=Bounds(program.lb, program.ub),
        options={"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap)},
    )
    seconds = time.perf_counter() - t0
    x = None if res.x is None else np.asarray(res.x)
    if x is not None:  # integers come back as floats within tolerance
        ints = program.integrality.astype(bool)
        x = x.copy()
        x[ints] = np.round(x[ints])
    objective = math.nan if x is None else float(program.c @ x + program.constant)
    dual = getattr(res, "mip_dual_bound", None)
    if dual is not None and math.isfinite(float(dual)):
        bound = float(dual) + program.constant
    elif res.status == 0 and x is not None:  # solved to optimality (e.g. no integer left)
        bound = objective
    else:
        bound = math.nan
    gap = (
        max(0.0, (objective - bound) / abs(objective))
        if math.isfinite(bound) and math.isfinite(objective) and objective != 0
        else (0.0 if res.status == 0 else math.nan)
    )
    return Solution(x, objective, int(res.status), str(res.message), gap, seconds, bound)
