"""Check the route physics against a real vehicle-routing solver (PyVRP).

For every cell of a grid of stop density × stem distance × van capacity, scatter N stops
uniformly over a square zone, put the depot (station) at distance r from the zone's centre,
give every stop its packages (1 + Poisson(0.6), mean 1.6) and service time, every van its
capacity and an 8 h shift, and a large fixed cost per route so that PyVRP minimises the number
of routes first and distance second. Then compare PyVRP's route count with
``bayesspr.spr.physics.expected_routes`` evaluated with the very same constants:

* one speed for all driving (PyVRP has one duration matrix), so ``stem_speed_kmh = speed_kmh``;
* circuity 1.0, because PyVRP is given straight-line (Euclidean) distances;
* the same service time per stop and shift length;
* the tour constant k from ``--tour-constant`` (default 0.8, the finite-size value of
  docs/physics.md; the asymptotic Beardwood–Halton–Hammersley value is 0.7124).

Distances go to PyVRP in whole metres, durations in whole seconds. The script prints one row
per cell, then the share of cells where the predicted route count is within ±1 route (or
±10 %) of PyVRP's, the mean absolute % error of SPR, and a sweep of the tour constant over
the same solved instances so a user can calibrate k for their own city.

Run ``python benchmarks/physics_vs_vrp.py`` (27 cells × 2 s, about 1.5 min on 2 cores) or
``--quick`` for a tiny grid; ``--figure docs/images/physics_vs_vrp.png`` also draws the
validation figure shown in docs/physics.md. It needs PyVRP (``pip install -e ".[routing]"``).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from bayesspr.spr.physics import (
    BHH_TOUR_CONSTANT,
    RouteConstants,
    ZoneDay,
    capacity_bound_stops,
    expected_routes,
    rms_stem_km,
    time_bound_stops,
)

try:
    from pyvrp import Model, PenaltyParams, SolveParams
    from pyvrp.stop import MaxRuntime
except ImportError:  # pragma: no cover - optional dependency
    sys.exit('physics_vs_vrp needs PyVRP: pip install -e ".[routing]" (or pip install pyvrp)')

DENSITIES = (20.0, 60.0, 150.0)  # stops/km²
STEMS = (3.0, 10.0, 25.0)  # km, station → zone centre
CAPACITIES = (100, 200, 400)  # packages per van
QUICK_DENSITIES = (30.0, 120.0)
QUICK_STEMS = (5.0, 20.0)
QUICK_CAPACITIES = (100, 300)

#: Fixed cost of a route in cost units (1 unit = 1 m driven): 1000 km, far above any distance a
#: route could save, so the solver minimises routes first.
FIXED_COST_PER_ROUTE = 1_000_000
#: PyVRP's default maximum penalty (1e5 per unit of excess load or time warp) is below the
#: fixed cost saved by dropping a route, which makes overloaded routes look cheap; raise it.
MAX_PENALTY = 1e8

K_SWEEP = (0.65, BHH_TOUR_CONSTANT, 0.8, 0.9, 1.0, 1.1)


@dataclass
class Cell:
    """One solved configuration and its prediction."""

    density: float  # stops/km²
    stem_km: float
    capacity: int
    stops: int
    area_km2: float
    packages: int
    n_time: float  # time bound, stops per route
    n_capacity: float  # capacity bound, stops per route
    routes_pred: int
    routes_vrp: int
    feasible: bool
    km_per_route_vrp: float  # mean straight-line km of PyVRP's routes
    km_per_route_pred: float  # physics route length for PyVRP's route count

    @property
    def spr_pred(self) -> float:
        """Predicted shipments per route (packages per route)."""
        return self.packages / self.routes_pred

    @property
    def spr_vrp(self) -> float:
        """PyVRP's shipments per route (packages per route)."""
        return self.packages / self.routes_vrp

    @property
    def spr_error(self) -> float:
        """Relative error of the predicted SPR (signed, share of PyVRP's SPR)."""
        return self.spr_pred / self.spr_vrp - 1.0


def route_constants(args: argparse.Namespace, k: float) -> RouteConstants:
    """Return the constants the physics shares with the PyVRP instance, tour constant ``k``."""
    return RouteConstants(
        service_min=args.service_min,
        speed_kmh=args.speed,
        stem_speed_kmh=args.speed,  # one duration matrix: one speed for all driving
        circuity=1.0,  # Euclidean distances
        tour_constant=k,
    )


def make_instance(
    rng: np.random.Generator, stops: int, density: float, stem_km: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Depot and stop coordinates (km, depot first), packages per stop, zone area (km²)."""
    area = stops / density
    side = math.sqrt(area)
    xy = rng.uniform(-side / 2.0, side / 2.0, size=(stops, 2))
    angle = rng.uniform(0.0, 2.0 * math.pi)
    depot = np.array([[stem_km * math.cos(angle), stem_km * math.sin(angle)]])
    demand = 1 + rng.poisson(0.6, size=stops)
    return np.vstack([depot, xy]), demand, area


def solve_vrp(
    coords_km: np.ndarray,
    demand: np.ndarray,
    capacity: int,
    args: argparse.Namespace,
) -> tuple[int, bool, float]:
    """Solve with PyVRP; return (routes, feasible, mean km per route)."""
    metres = np.rint(coords_km * 1000.0).astype(np.int64)
    diff = metres[:, None, :] - metres[None, :, :]
    dist = np.rint(np.hypot(diff[..., 0], diff[..., 1])).astype(np.int64)
    speed_ms = args.speed / 3.6
    dur = np.rint(dist / speed_ms).astype(np.int64)
    service_s = round(args.service_min * 60.0)

    model = Model()
    locations = [model.add_location(int(x), int(y)) for x, y in metres]
    model.add_depot(locations[0])
    for loc, packages in zip(locations[1:], demand, strict=True):
        model.add_client(loc, delivery=int(packages), service_duration=service_s)
    model.add_vehicle_type(
        num_available=len(demand),  # never the binding limit: one route per stop at most
        capacity=int(capacity),
        fixed_cost=FIXED_COST_PER_ROUTE,
        shift_duration=round(args.shift_hours * 3600.0),
    )
    for i, frm in enumerate(locations):
        for j, to in enumerate(locations):
            if i != j:
                model.add_edge(frm, to, distance=int(dist[i, j]), duration=int(dur[i, j]))
    params = SolveParams(penalty=PenaltyParams(max_penalty=MAX_PENALTY))
    result = model.solve(
        stop=MaxRuntime(args.seconds), seed=args.seed, display=False, params=params
    )
    best = result.best
    routes = best.num_routes()
    km = sum(route.distance() for route in best.routes()) / 1000.0 / max(routes, 1)
    return routes, bool(result.is_feasible()), km


def predicted_routes(cells: list[Cell], args: argparse.Namespace, k: float) -> np.ndarray:
    """Physics route counts for every cell with tour constant ``k`` (vectorised)."""
    zone = ZoneDay(
        stops=np.array([c.stops for c in cells], dtype=float),
        packages=np.array([c.packages for c in cells], dtype=float),
        capacity=np.array([c.capacity for c in cells], dtype=float),
        area_km2=np.array([c.area_km2 for c in cells]),
        stem_km=np.array([c.stem_km for c in cells]),
        shift_hours=args.shift_hours,
    )
    return expected_routes(zone, route_constants(args, k))


def agreement(pred: np.ndarray, solved: np.ndarray, packages: np.ndarray) -> dict[str, float]:
    """Agreement figures between predicted and solved route counts."""
    diff = pred - solved
    within_one = np.abs(diff) <= 1
    within_ten = np.abs(diff) <= 0.10 * solved
    spr_err = np.abs((packages / pred) / (packages / solved) - 1.0)
    return {
        "exact": float(np.mean(diff == 0)),
        "within_one": float(np.mean(within_one)),
        "within_ten": float(np.mean(within_ten)),
        "within_either": float(np.mean(within_one | within_ten)),
        "bias": float(np.mean(diff)),
        "spr_mape": float(100.0 * np.mean(spr_err)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="PyVRP run time per cell (s)")
    parser.add_argument("--quick", action="store_true", help="tiny 2×2×2 grid with 120 stops")
    parser.add_argument("--seed", type=int, default=0, help="seed for instances and solver")
    parser.add_argument("--tour-constant", type=float, default=0.8, help="k (default 0.8)")
    parser.add_argument("--stops", type=int, default=None, help="stops per zone (default 300)")
    parser.add_argument("--service-min", type=float, default=3.0, help="service min per stop")
    parser.add_argument("--speed", type=float, default=30.0, help="driving speed (km/h)")
    parser.add_argument("--shift-hours", type=float, default=8.0, help="shift length (h)")
    parser.add_argument("--figure", default=None, help="write the validation figure (PNG) here")
    args = parser.parse_args(argv)

    densities = QUICK_DENSITIES if args.quick else DENSITIES
    stems = QUICK_STEMS if args.quick else STEMS
    capacities = QUICK_CAPACITIES if args.quick else CAPACITIES
    stops = args.stops or (120 if args.quick else 300)
    k = args.tour_constant
    constants = route_constants(args, k)

    print(
        f"physics vs PyVRP: {len(densities) * len(stems) * len(capacities)} cells, "
        f"{stops} stops/zone, packages 1+Poisson(0.6)/stop, service {args.service_min:g} min/stop, "
        f"shift {args.shift_hours:g} h, speed {args.speed:g} km/h (stem too), circuity 1.0, "
        f"k = {k:g}, {args.seconds:g} s per solve, seed {args.seed}"
    )
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.node()}")
    header = (
        f"{'dens':>5} {'stem':>5} {'cap':>4} {'area':>6} {'pkgs':>5} {'n_T':>6} {'n_C':>6} "
        f"{'binds':>5} {'R_phys':>6} {'R_vrp':>5} {'SPR_phys':>8} {'SPR_vrp':>7} "
        f"{'err%':>6} {'km_phys':>7} {'km_vrp':>6}"
    )
    print(header)
    print("-" * len(header))

    cells: list[Cell] = []
    started = time.perf_counter()
    for i, density in enumerate(densities):
        for j, stem in enumerate(stems):
            rng = np.random.default_rng([args.seed, i, j])
            coords, demand, area = make_instance(rng, stops, density, stem)
            packages = int(demand.sum())
            p = packages / stops
            zone = ZoneDay(
                stops=stops,
                packages=packages,
                area_km2=area,
                stem_km=stem,
                shift_hours=args.shift_hours,
            )
            n_time = float(time_bound_stops(zone, constants))
            for capacity in capacities:
                n_cap = float(capacity_bound_stops(p, capacity))
                r_pred = int(expected_routes(replace(zone, capacity=capacity), constants))
                r_vrp, feasible, km_vrp = solve_vrp(coords, demand, capacity, args)
                # physics route length for the solver's route count (c = 1)
                km_pred = 2.0 * float(rms_stem_km(stem, area)) + (stops / r_vrp) * k / math.sqrt(
                    density
                )
                cell = Cell(
                    density,
                    stem,
                    capacity,
                    stops,
                    area,
                    packages,
                    n_time,
                    n_cap,
                    r_pred,
                    r_vrp,
                    feasible,
                    km_vrp,
                    km_pred,
                )
                cells.append(cell)
                print(
                    f"{density:5.0f} {stem:5.0f} {capacity:4d} {area:6.2f} {packages:5d} "
                    f"{n_time:6.1f} {n_cap:6.1f} {'time' if n_time < n_cap else 'cap':>5} "
                    f"{r_pred:6d} {r_vrp:5d} {cell.spr_pred:8.1f} {cell.spr_vrp:7.1f} "
                    f"{100 * cell.spr_error:+6.1f} {km_pred:7.1f} {km_vrp:6.1f}"
                    + ("" if feasible else "  INFEASIBLE"),
                    flush=True,
                )
    elapsed = time.perf_counter() - started

    solved = np.array([c.routes_vrp for c in cells], dtype=float)
    packages = np.array([c.packages for c in cells], dtype=float)
    pred = np.array([c.routes_pred for c in cells], dtype=float)
    fig = agreement(pred, solved, packages)
    n = len(cells)
    feasible = sum(c.feasible for c in cells)
    km_err = np.mean([abs(c.km_per_route_pred / c.km_per_route_vrp - 1.0) for c in cells])
    # tour constant implied by PyVRP's distances: total km = R·2·r̄ + k·N/√δ (c = 1)
    implied_k = [
        (
            c.km_per_route_vrp * c.routes_vrp
            - 2.0 * float(rms_stem_km(c.stem_km, c.area_km2)) * c.routes_vrp
        )
        / (c.stops / math.sqrt(c.density))
        for c in cells
    ]

    print()
    print(f"cells: {n}, PyVRP feasible: {feasible}/{n}, solve time {elapsed:.0f} s")
    print(f"routes exactly equal:        {fig['exact']:6.1%}")
    print(f"routes within ±1 route:      {fig['within_one']:6.1%}")
    print(f"routes within ±10 %:         {fig['within_ten']:6.1%}")
    print(f"routes within ±1 or ±10 %:   {fig['within_either']:6.1%}")
    print(f"mean route error (phys−vrp): {fig['bias']:+.2f} routes")
    print(f"SPR mean absolute % error:   {fig['spr_mape']:.1f} %")
    print(f"route km MAPE (at R_vrp):    {100 * km_err:.1f} %")
    print(
        f"tour constant implied by PyVRP's route km: median {np.median(implied_k):.3f} "
        f"(range {min(implied_k):.3f}–{max(implied_k):.3f})"
    )
    print()
    print("tour-constant sweep over the same solved instances (no re-solve):")
    print(f"{'k':>7} {'exact':>6} {'±1':>6} {'±10%':>6} {'bias':>6} {'SPR MAPE':>9}")
    for k_try in sorted({*K_SWEEP, k}):
        f = agreement(predicted_routes(cells, args, k_try), solved, packages)
        print(
            f"{k_try:7.4f} {f['exact']:6.1%} {f['within_one']:6.1%} {f['within_ten']:6.1%} "
            f"{f['bias']:+6.2f} {f['spr_mape']:8.1f}%"
        )
    if args.figure:
        print(f"figure: {save_figure(cells, k, args.figure)}")
    return 0


def save_figure(cells: list[Cell], k: float, path: str) -> str:
    """Two panels, physics against PyVRP per cell: SPR (packages/route) and route km."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesspr.io.files import atomic_write

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), constrained_layout=True)
    panels = (
        ("SPR (packages per route)", [c.spr_vrp for c in cells], [c.spr_pred for c in cells]),
        (
            "route length (km, straight-line)",
            [c.km_per_route_vrp for c in cells],
            [c.km_per_route_pred for c in cells],
        ),
    )
    capacities = sorted({c.capacity for c in cells})
    for ax, (label, vrp, pred) in zip(axes, panels, strict=True):
        for capacity, marker in zip(capacities, "osD^v", strict=False):
            pick = [i for i, c in enumerate(cells) if c.capacity == capacity]
            ax.scatter(
                [vrp[i] for i in pick],
                [pred[i] for i in pick],
                marker=marker,
                label=f"van capacity {capacity}",
                alpha=0.8,
            )
        low, high = min(*vrp, *pred) * 0.9, max(*vrp, *pred) * 1.05
        ax.plot([low, high], [low, high], color="0.4", lw=1, ls="--", label="equal")
        ax.set(
            xlabel=f"PyVRP {label}",
            ylabel=f"physics {label}",
            xlim=(low, high),
            ylim=(low, high),
            aspect="equal",
        )
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(f"Route physics (k = {k:g}) vs PyVRP, {len(cells)} instances")
    atomic_write(lambda tmp: fig.savefig(tmp, format="png", dpi=110), path)
    plt.close(fig)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
