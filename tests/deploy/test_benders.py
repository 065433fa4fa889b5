"""Benders planning: exact recourse cuts, a valid bound, the monolithic optimum inside it."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from bayesspr.deploy.benders import _Master, _Recourses, deploy_by_benders, recourse_cost
from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import check_plan, deploy
from bayesspr.deploy.program import build_first_stage, build_program, solve_program
from bayesspr.errors import DeployInputError

pytestmark = pytest.mark.filterwarnings("ignore::bayesspr.deploy.plan.DeployWarning")

YEARS = [2027, 2028]


def _network(n_stations=8, n_cities=4, **kw):
    """Cities that share a budget, an electric supply and a minimum electric share; power
    per station binds."""
    return example_problem(
        n_stations=n_stations,
        n_cities=n_cities,
        n_samples=6,
        budget=pd.Series({2027: 45_000.0 * n_stations, 2028: 25_000.0 * n_stations}),
        ev_supply=pd.Series({2027: n_stations // 2, 2028: n_stations}),
        min_electric_share=pd.Series({2027: 0.1, 2028: 0.2}),
        station_power_kw=pd.DataFrame(
            {2027: [25.0] * n_stations, 2028: [40.0] * n_stations},
            index=[f"S{i:03d}" for i in range(n_stations)],
        ),
        **kw,
    )


def _optimum(problem):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = deploy(problem, mip_rel_gap=0.0, time_limit=120)
    assert whole.solution.status == 0  # a proven optimum
    return whole


@pytest.fixture(scope="module")
def both():
    problem = _network()
    return problem, _optimum(problem), deploy_by_benders(problem, target_gap=1e-3)


def test_the_bound_is_valid_and_the_plan_is_the_optimum_within_the_gap(both):
    _, whole, split = both
    optimum = whole.solution.objective
    assert split.lower_bound <= optimum * (1 + 1e-9)  # no plan costs less than the bound
    assert split.upper_bound >= optimum * (1 - 1e-9)
    assert split.gap <= 1e-3
    assert check_plan(split.plan) == []
    # the plan's cost is the whole program's objective at it, every draw's recourse included
    program = split.plan.program
    assert split.plan.solution.objective == pytest.approx(
        float(program.c @ split.plan.solution.x + program.constant), rel=1e-12
    )
    assert split.plan.cost["total"] == pytest.approx(split.upper_bound)
    assert {"lp", "mip, restricted"} <= set(split.history["phase"])


def test_the_recourse_is_the_programs_second_stage_at_a_fixed_first_stage(both):
    # the first stage's cost plus the recourse LPs' cost = the whole program pinned to it
    problem, whole, _ = both
    first = whole.first_stage
    pinned = solve_program(build_program(problem, fixed=first))
    master = build_first_stage(problem)
    x = np.concatenate([np.ravel(first[name]) for name in master.blocks])
    by_city = recourse_cost(problem, whole.fleet_array)
    assert by_city.shape == (len(problem.cities), len(problem.months))
    assert float(master.c @ x) + master.constant + by_city.sum() == pytest.approx(
        pinned.objective, rel=1e-9
    )


def test_every_cut_stays_below_the_recourse_at_other_fleets(both):
    # a cut from the LP's duals is a subgradient: Q(f) ≥ Q(f̂) + g · (f − f̂) for every f
    problem, whole, _ = both
    rng = np.random.default_rng(3)
    recourses = _Recourses(problem, None)
    master = _Master(problem, recourses)
    base = whole.fleet_array.astype(float)
    recourses.solve(base)
    q0, g_ev, g_conv = master.value(), recourses.slope_ev.copy(), recourses.slope_conv.copy()
    electric = recourses.electric
    for _ in range(5):
        other = np.maximum(base + rng.integers(-3, 4, base.shape), 0.0)
        recourses.solve(other)
        step = other - base
        predicted = q0 + master._per_unit(
            (g_ev * step[electric]).sum(0) + g_conv * step[~electric].sum(0)
        )
        assert (master.value() >= predicted - 1e-6 * np.abs(predicted).max()).all()


def test_a_city_power_limit_ties_its_stations_into_one_unit():
    cities = ["C0", "C1", "C2", "C3"]
    problem = _network(city_power_kw=pd.DataFrame({2027: [3.0] * 4, 2028: [6.0] * 4}, index=cities))
    whole = _optimum(problem)
    split = deploy_by_benders(problem, target_gap=1e-3)
    optimum = whole.solution.objective
    assert split.lower_bound <= optimum * (1 + 1e-9)
    assert optimum <= split.upper_bound <= optimum * (1 + 1e-3)
    assert check_plan(split.plan) == []
    master = _Master(problem, _Recourses(problem, None))
    assert master.n_units == len(cities)  # a unit per city, not per station
    # the city limit binds: the same network without it plans more cheaply
    assert _optimum(_network()).solution.objective < optimum


def test_an_executor_solves_the_recourse_in_parallel_to_the_same_plan(both):
    problem, _, split = both
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = deploy_by_benders(problem, target_gap=1e-3, executor=pool)
    assert parallel.upper_bound == pytest.approx(split.upper_bound)
    np.testing.assert_array_equal(parallel.plan.buy, split.plan.buy)


def test_a_dask_cluster_solves_the_recourse_to_the_same_plan(both):
    distributed = pytest.importorskip("distributed")
    problem, _, split = both
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        on_dask = deploy_by_benders(problem, target_gap=1e-3, executor=client.get_executor())
    assert on_dask.upper_bound == pytest.approx(split.upper_bound)
    assert check_plan(on_dask.plan) == []


def test_hard_service_is_refused_with_what_to_use_instead():
    with pytest.raises(DeployInputError, match=r"hard_service.*deploy"):
        deploy_by_benders(_network(hard_service=True))
