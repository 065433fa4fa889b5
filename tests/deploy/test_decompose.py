"""City-by-city planning: a valid bound, the monolithic optimum inside it, any executor."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from bayesspr.deploy.decompose import city_problem, deploy_by_city
from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import check_plan, deploy
from bayesspr.errors import InfeasibleDeploymentError

pytestmark = pytest.mark.filterwarnings("ignore::bayesspr.deploy.plan.DeployWarning")

YEARS = [2027, 2028]


def _network(n_stations=8, n_cities=4, **kw):
    """Cities that share a budget, an electric supply and a minimum electric share."""
    return example_problem(
        n_stations=n_stations,
        n_cities=n_cities,
        n_samples=6,
        budget=pd.Series({2027: 45_000.0 * n_stations, 2028: 25_000.0 * n_stations}),
        ev_supply=pd.Series({2027: n_stations // 2, 2028: n_stations}),
        min_electric_share=pd.Series({2027: 0.1, 2028: 0.2}),
        **kw,
    )


@pytest.fixture(scope="module")
def both():
    problem = _network()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = deploy(problem, mip_rel_gap=0.0, time_limit=120)
    return problem, whole, deploy_by_city(problem, target_gap=0.01)


def test_the_bound_is_valid_and_the_plan_is_the_optimum_within_the_gap(both):
    _, whole, split = both
    assert whole.solution.status == 0  # proven optimum
    optimum = whole.solution.objective
    assert split.lower_bound <= optimum * (1 + 1e-9)  # no plan costs less than the bound
    assert split.upper_bound >= optimum * (1 - 1e-9)
    assert split.gap <= 0.01
    assert (split.upper_bound - optimum) / optimum <= split.gap
    assert check_plan(split.plan) == []  # the shared budget, supply and share hold
    assert split.plan.solution.bound == split.lower_bound
    assert split.plan.cost["total"] == pytest.approx(split.upper_bound)


def test_the_shared_limits_bind_in_this_network(both):
    # the cities alone (no shared limits) break them: the test exercises the prices
    problem, _, split = both
    alone = [deploy(city_problem(problem, c), mip_rel_gap=1e-4) for c in problem.cities]
    spend = sum(p.purchases.query("period == 2027")["spend"].sum() for p in alone)
    assert spend > problem.budget[2027]
    assert len(split.history) > 1


def test_an_executor_solves_the_cities_in_parallel_to_the_same_plan(both):
    problem, _, split = both
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = deploy_by_city(problem, target_gap=0.01, executor=pool)
    assert parallel.upper_bound == pytest.approx(split.upper_bound)
    np.testing.assert_array_equal(parallel.plan.buy, split.plan.buy)


def test_a_dask_cluster_solves_the_cities_to_the_same_plan(both):
    distributed = pytest.importorskip("distributed")
    problem, _, split = both
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        on_dask = deploy_by_city(problem, target_gap=0.01, executor=client.get_executor())
    assert on_dask.upper_bound == pytest.approx(split.upper_bound)
    assert check_plan(on_dask.plan) == []


def test_a_city_without_a_plan_of_its_own_is_named():
    problem = _network(
        n_stations=4,
        n_cities=2,
        hard_service=True,
        bays=pd.Series([0, 20, 20, 20], index=["S000", "S001", "S002", "S003"]),
    )
    with pytest.raises(InfeasibleDeploymentError, match="city 'C0' has no plan"):
        deploy_by_city(problem)


def test_unsmoothed_prices_reach_the_same_valid_bound(both):
    """Wentges smoothing (the default 0.5) only changes the path: with the master's duals
    alone the bound is as valid and the plan within the same gap of the optimum."""
    problem, whole, smoothed = both
    plain = deploy_by_city(problem, target_gap=0.01, smoothing=0.0)
    optimum = whole.solution.objective
    for run in (plain, smoothed):
        assert run.lower_bound <= optimum * (1 + 1e-9) <= run.upper_bound * (1 + 2e-9)
        assert run.gap <= 0.01
    from bayesspr.deploy.decompose import _smoothed

    mixed = _smoothed({"budget": np.array([2.0])}, {"budget": np.array([0.0])}, 0.25)
    assert mixed["budget"].tolist() == [0.5]  # a quarter of the centre, the rest duals
