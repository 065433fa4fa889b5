"""Known answers of the deployment program: enumeration, ceiling, feasibility, monotonicity."""

import itertools
import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesspr.deploy import DeployInputError, DeploySolveError, InfeasibleDeploymentError
from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import DeployPlan, DeployWarning, check_plan, deploy
from bayesspr.deploy.problem import DeployCosts, DeployProblem
from bayesspr.errors import BayessprError
from bayesspr.fleet.config import VanType

# tight budgets leave shortage dominating some of these plans; the warning has its own test
pytestmark = pytest.mark.filterwarnings("ignore::bayesspr.deploy.plan.DeployWarning")

DIESEL = VanType("diesel", 250, 10.0)
EV = VanType("ev", 250, 12.0, range_km=150.0, kwh_per_km=0.2)


def _da(values, dims, **coords):
    return xr.DataArray(np.asarray(values, float), dims=dims, coords=coords)


def tiny(demand, in_range, kwh, power_kw, *, km=50.0, co2_price=1.0, **kw):
    """One station, one month, one period: diesel and one electric type."""
    n = len(demand)
    c = {"sample": np.arange(n), "station": ["A"], "month": ["m1"]}
    return DeployProblem(
        van_types=[DIESEL, EV],
        station_city=pd.Series(["X"], index=["A"]),
        month_period=pd.Series([1], index=["m1"]),
        demand=_da(np.reshape(demand, (n, 1, 1)), ("sample", "station", "month"), **c),
        in_range=_da(
            np.reshape(in_range, (n, 1, 1, 1)),
            ("sample", "van", "station", "month"),
            **c,
            van=["ev"],
        ),
        kwh_per_route=_da(
            np.reshape(kwh, (n, 1, 1, 1)), ("sample", "van", "station", "month"), **c, van=["ev"]
        ),
        route_km=_da(np.full((n, 1, 1), km), ("sample", "station", "month"), **c),
        costs=DeployCosts(
            {"diesel": 1.0, "ev": 0.5},
            shortage_per_van_day=20.0,
            emission_price_per_kg=co2_price,
            emission_kg_per_km=0.1,
            emission_days_per_month=1.0,
        ),
        station_power_kw=pd.DataFrame({1: [power_kw]}, index=["A"]),
        charging_hours=8.0,
        **kw,
    )


def enumerate_optimum(demand, in_range, kwh, power_kw, km=50.0, co2=1.0, life=96.0):
    """Best cost over every whole fleet (0..10 of each), recourse in closed form.

    One month held: a van costs the month's share of its price (1 / life; the rest is its
    residual value at the horizon's end) plus a month's holding.
    """
    d, r, e = (np.asarray(v, float) for v in (demand, in_range, kwh))
    best = math.inf
    capital = min(1.0, 1.0 / life)
    for xd, xe in itertools.product(range(11), range(11)):
        u = np.minimum(np.minimum(xe, r), power_kw * 8.0 / e)  # routes run electric
        y = np.maximum(0.0, d - xd - u)
        van_cost = (10 * capital + 1.0) * xd + (12 * capital + 0.5) * xe
        cost = van_cost + np.mean(20 * y + co2 * 0.1 * km * (d - u))
        best = min(best, cost)
    return best


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_tiny_instance_equals_enumeration(seed):
    rng = np.random.default_rng(seed)
    demand = rng.integers(2, 8, 4)
    in_range = np.minimum(demand, rng.integers(0, 6, 4))
    kwh = rng.uniform(8, 20, 4)
    power = float(rng.uniform(5, 40))
    plan = deploy(tiny(demand, in_range, kwh, power), mip_rel_gap=0.0)
    assert plan.solution.status == 0
    assert plan.cost["total"] == pytest.approx(
        enumerate_optimum(demand, in_range, kwh, power), abs=1e-6
    )
    assert check_plan(plan) == []


def test_one_draw_no_budget_is_the_deterministic_ceiling():
    # one city per station, a period per month: owned vans follow the running max of ⌈routes⌉
    demand = np.array([[3.4, 5.0, 4.2, 7.0], [1.0, 0.2, 6.6, 2.0]])  # (station, month)
    months = ["m1", "m2", "m3", "m4"]
    c = {"sample": [0], "station": ["A", "B"], "month": months}
    problem = DeployProblem(
        van_types=[DIESEL],
        station_city=pd.Series(["X", "Y"], index=["A", "B"]),
        month_period=pd.Series([1, 2, 3, 4], index=months),
        demand=_da(demand[None], ("sample", "station", "month"), **c),
        costs=DeployCosts({"diesel": 1.0}, shortage_per_van_day=50.0),
    )
    plan = deploy(problem, mip_rel_gap=0.0)
    ceiling = np.ceil(demand)
    owned = np.cumsum(plan.buy[0], axis=1)  # (city, period): X holds A, Y holds B
    np.testing.assert_array_equal(owned, np.maximum.accumulate(ceiling, axis=1))
    assert (plan.fleet_array[0] >= ceiling).all()
    assert plan.cost["shortage"] == 0
    assert check_plan(plan) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_constraint_holds_on_every_draw(seed):
    stations = ["S000", "S001", "S002", "S003"]
    problem = example_problem(
        n_samples=8,
        seed=seed,
        budget=pd.Series({2027: 600_000.0, 2028: 400_000.0}),
        ev_supply=pd.Series({2027: 3, 2028: 4}),
        station_power_kw=pd.DataFrame(
            {2027: [20.0, 30, 25, 40], 2028: [40.0, 50, 45, 60]}, index=stations
        ),
        city_power_kw=pd.DataFrame({2027: [40.0, 50.0], 2028: [60.0, 80.0]}, index=["C0", "C1"]),
        bays=pd.Series([14, 12, 11, 10], index=stations),
    )
    plan = deploy(problem, mip_rel_gap=0.0)
    assert check_plan(plan) == []
    assert plan.buy.sum() > 0


def test_check_plan_catches_a_broken_plan():
    problem = example_problem(
        n_samples=4,
        n_stations=2,
        n_cities=1,
        station_power_kw=pd.DataFrame(
            {2027: [10.0, 10.0], 2028: [10.0, 10.0]}, index=["S000", "S001"]
        ),
    )
    plan = deploy(problem)
    x = plan.solution.x.copy()
    i = plan.program.index("ev")
    x[i.ravel()] += 5.0  # more electric routes than vans, range or power allow
    j = plan.program.index("short")
    x[j.ravel()] = 0.0
    broken = DeployPlan(
        problem, plan.program, plan.solution.__class__(x, math.nan, 0, "", 0.0, 0.0)
    )
    found = "\n".join(check_plan(broken))
    assert "electric routes within electric vans" in found
    assert "electric routes within range" in found
    assert "station power" in found


def _small(**kw):
    return example_problem(
        n_stations=2, n_cities=1, n_years=2, months_per_year=2, n_samples=5, seed=7, **kw
    )


def _cost(problem):
    return deploy(problem, mip_rel_gap=0.0).cost["total"]


def _vans_with_range(factor):
    """The example's van types, their electric ranges × ``factor``."""
    return [
        VanType("diesel", 250, 20_000.0),
        VanType("ev_small", 200, 24_000.0, range_km=120.0 * factor, kwh_per_km=0.25),
        VanType("ev_large", 250, 28_000.0, range_km=200.0 * factor, kwh_per_km=0.30),
    ]


POWER = pd.DataFrame({2027: [15.0, 20.0], 2028: [25.0, 30.0]}, index=["S000", "S001"])
BUDGET = pd.Series({2027: 400_000.0, 2028: 200_000.0})


def test_more_power_never_costs_more():
    costs = [_cost(_small(station_power_kw=POWER * f)) for f in (1.0, 1.5, 3.0)]
    assert costs[1] <= costs[0] + 1e-6
    assert costs[2] <= costs[1] + 1e-6
    assert costs[2] < costs[0] - 1.0  # power binds in the base case: the test can fail


def test_more_budget_never_costs_more():
    costs = [_cost(_small(budget=BUDGET * f)) for f in (1.0, 1.5, 3.0)]
    assert costs[1] <= costs[0] + 1e-6
    assert costs[2] <= costs[1] + 1e-6
    assert costs[2] < costs[0] - 1.0


def test_more_range_never_costs_more():
    # the ranges go through EnergyModel: same route-length classes and class energies, more
    # of each class's routes within range
    costs = [_cost(_small(vans=_vans_with_range(f))) for f in (1.0, 1.5, 3.0)]
    assert costs[1] <= costs[0] + 1e-6
    assert costs[2] <= costs[1] + 1e-6
    assert costs[2] < costs[0] - 1.0


def _sampled_finer(problem, k):
    """The same year with each modelled month repeated k times, each standing for 1/k of it."""
    months = problem.months
    labels = [f"{m}#{i}" for m in months for i in range(k)]
    pick = np.repeat(np.arange(len(months)), k)

    def finer(draws):
        return draws.isel(month=pick).assign_coords(month=labels)

    return replace(
        problem,
        demand=finer(problem.demand),
        in_range=finer(problem.in_range),
        kwh_per_route=finer(problem.kwh_per_route),
        route_km=finer(problem.route_km),
        month_period=pd.Series(problem.month_period.to_numpy()[pick], index=labels),
        month_weight=pd.Series(problem.month_weight.to_numpy()[pick] / k, index=labels),
    )


def test_a_year_gives_the_same_plan_however_finely_its_months_are_sampled():
    # two representative months a year (6 calendar months each) against the same months
    # sampled six times as finely (1 calendar month each): the same year, so the same plan
    coarse = example_problem(n_samples=12)
    fine = _sampled_finer(coarse, 6)
    a, b = deploy(coarse, mip_rel_gap=0.0), deploy(fine, mip_rel_gap=0.0)
    np.testing.assert_array_equal(a.buy, b.buy)
    assert a.cost["total"] == pytest.approx(b.cost["total"], rel=1e-6)
    assert a.buy[1:].sum() > 0  # electric vans are bought: the weights matter to the choice


def test_the_last_year_buys_when_a_van_keeps_its_residual_value():
    # one station, no van in year one, one route a day in year two (one modelled month a
    # year, 12 calendar months each); a year of shortage costs 12 × 50 × 20 = 12,000
    months = ["y1", "y2"]
    c = {"sample": [0], "station": ["A"], "month": months}

    def problem(life):
        return DeployProblem(
            van_types=[VanType("diesel", 250, 20_000.0)],
            station_city=pd.Series(["X"], index=["A"]),
            month_period=pd.Series([1, 2], index=months),
            month_weight=pd.Series([12.0, 12.0], index=months),
            demand=_da([[[0.0, 1.0]]], ("sample", "station", "month"), **c),
            costs=DeployCosts(
                {"diesel": 100.0},
                shortage_per_van_day=50.0,
                shortage_days_per_month=20.0,
                van_life_months=life,
            ),
        )

    # whole price 20,000 + a year's holding 1,200 > 12,000 of shortage: no van
    whole = deploy(problem(None), mip_rel_gap=0.0)
    assert whole.buy.sum() == 0
    assert whole.cost["total"] == pytest.approx(12_000.0)
    # written off over 96 months: the year costs 20,000 × 12 / 96 = 2,500 + 1,200 holding
    kept = deploy(problem(96.0), mip_rel_gap=0.0)
    np.testing.assert_array_equal(kept.buy[0, 0], [0, 1])
    assert kept.cost["residual_value"] == pytest.approx(-20_000.0 * 84 / 96)
    assert kept.cost["total"] == pytest.approx(3_700.0)


def test_month_weights_and_service_lives_are_checked():
    good = _small()
    weight = pd.Series(6.0, index=good.months)
    with pytest.raises(DeployInputError, match=r"month_weight.*2027-07.*expected calendar months"):
        _small(month_weight=weight.where(weight.index != "2027-07", 0.0))
    with pytest.raises(DeployInputError, match=r"month_weight.*expected a pandas.Series"):
        _small(month_weight=weight.iloc[::-1])
    with pytest.raises(DeployInputError, match=r"van_life_months.*diesel.*expected a service"):
        _small(costs=replace(good.costs, van_life_months={"diesel": -1.0, "ev_small": 9.0}))


def test_infeasible_hard_service_names_the_budget():
    problem = _small(hard_service=True, budget=pd.Series({2027: 100_000.0, 2028: 1e9}))
    with pytest.raises(InfeasibleDeploymentError, match="budget") as info:
        deploy(problem)
    assert info.value.limits == ["budget"]
    assert isinstance(info.value, BayessprError)


def test_infeasible_electric_target_names_the_supply():
    problem = _small(
        min_electric_share=pd.Series({2027: 0.5, 2028: 0.8}),
        ev_supply=pd.Series({2027: 1, 2028: 1}),
        hard_service=True,
    )
    with pytest.raises(InfeasibleDeploymentError, match="ev_supply") as info:
        deploy(problem)
    assert "ev_supply" in info.value.limits


def test_bad_inputs_are_named():
    good = _small()
    demand = good.demand.copy()
    demand[0, 0, 0] = -1
    with pytest.raises(DeployInputError, match=r"demand.*value -1.0.*expected finite numbers ≥ 0"):
        _small(demand=demand)
    with pytest.raises(DeployInputError, match=r"station_power_kw.*\['S001'\]"):
        _small(station_power_kw=pd.DataFrame({2027: [1.0], 2028: [1.0]}, index=["S000"]))
    with pytest.raises(DeployInputError, match=r"in_range.*expected ≤ demand"):
        _small(in_range=good.in_range + 100)
    with pytest.raises(DeployInputError, match=r"ev_supply row 'ev_supply', column '2028'.*-2"):
        _small(ev_supply=pd.Series({2027: 1, 2028: -2}))
    with pytest.raises(DeployInputError, match=r"holding_per_van_month.*ev_large"):
        _small(costs=DeployCosts({"diesel": 1.0, "ev_small": 1.0}, shortage_per_van_day=1.0))


def test_plan_tables():
    plan = deploy(
        _small(
            station_power_kw=pd.DataFrame(
                {2027: [5.0, 5.0], 2028: [5.0, 5.0]}, index=["S000", "S001"]
            )
        )
    )
    months = plan.station_months
    assert len(months) == 2 * 4  # stations × months
    assert months["p_shortfall"].between(0, 1).all()
    assert set(plan.purchases.columns) == {"period", "city", "van", "vans", "spend"}
    assert plan.fleet.dims == ("van", "station", "month")
    assert plan.cost["total"] == pytest.approx(plan.solution.objective)
    assert plan.electric_share.shape == (1, 4)


def test_deploy_errors_live_in_the_errors_module_and_survive_pickling():
    import pickle

    import bayesspr.deploy
    import bayesspr.errors
    from bayesspr.errors import Problem

    assert bayesspr.deploy.DeployInputError is bayesspr.errors.DeployInputError
    assert bayesspr.deploy.InfeasibleDeploymentError is bayesspr.errors.InfeasibleDeploymentError
    err = DeployInputError([Problem("stations", "bays", -1, "expected an integer ≥ 0")])
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, BayessprError) and back.problems == err.problems
    assert str(back) == str(err)
    inf = pickle.loads(pickle.dumps(InfeasibleDeploymentError("no plan", ["budget"])))
    assert inf.limits == ["budget"] and str(inf) == "no plan"


def test_no_plan_within_the_time_limit_is_a_named_error_that_says_what_to_do():
    with pytest.raises(DeploySolveError, match=r"no plan .*longer time limit") as caught:
        deploy(example_problem(), time_limit=1e-9)
    assert isinstance(caught.value, RuntimeError)  # as before it had a name


def test_a_plan_whose_shortage_dominates_warns_and_a_sound_one_does_not():
    starved = _small(
        ev_supply=pd.Series({2027: 1, 2028: 1}),
        min_electric_share=pd.Series({2027: 0.8, 2028: 0.8}),
    )
    with pytest.warns(DeployWarning, match=r"shortage is .* of the expected cost .*target"):
        plan = deploy(starved)
    assert plan.cost["shortage"] > 0.5 * plan.cost["total"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeployWarning)
        assert deploy(_small()).warnings == []
    # starved by the budget alone: the warning names what to raise, not a target it lacks
    broke = _small(budget=pd.Series({2027: 0.0, 2028: 0.0}))
    with pytest.warns(DeployWarning, match=r"raise the budget, the electric supply, the bays"):
        plan = deploy(broke)
    assert "target" not in plan.warnings[0]


def _one_station(demand, **kw):
    """One station, one month, one draw per demand value: a diesel van type only."""
    n = len(demand)
    c = {"sample": np.arange(n), "station": ["A"], "month": ["m1"]}
    fields = {
        "van_types": [VanType("diesel", 250, 12_000.0)],
        "station_city": pd.Series(["X"], index=["A"]),
        "month_period": pd.Series([1], index=["m1"]),
        "demand": _da(np.reshape(demand, (n, 1, 1)), ("sample", "station", "month"), **c),
        "costs": DeployCosts({"diesel": 100.0}, shortage_per_van_day=10_000.0),
        **kw,
    }
    return DeployProblem(**fields)


def test_partners_split_the_fleet_cheapest_first_within_their_capacity():
    partners = pd.DataFrame(
        {
            "station": ["A", "A", "A"],
            "partner": ["cheap", "dear", "contract"],
            "max_vans": [6, 20, 5],
            "min_vans": [0, 0, 2],
            "cost_per_van_month": [100.0, 150.0, 300.0],
        }
    )
    plan = deploy(_one_station([10.0], partners=partners), mip_rel_gap=0.0)
    split = plan.partner_fleet.set_index("partner")["vans"]
    # 10 vans: the contract's minimum 2, the cheap partner full (6), the rest (2) to the dear
    assert split.to_dict() == {"cheap": 6, "dear": 2, "contract": 2}
    assert plan.fleet_array.sum() == 10
    assert plan.cost["partners"] == pytest.approx(6 * 100 + 2 * 150 + 2 * 300)
    assert check_plan(plan) == []
    # partners that cannot run the fleet leave the rest short
    small = partners.assign(max_vans=[3, 3, 2])
    capped = deploy(_one_station([10.0], partners=small), mip_rel_gap=0.0)
    assert capped.fleet_array.sum() == 8 and capped.shortage.sum() == pytest.approx(2.0)
    with pytest.raises(InfeasibleDeploymentError, match="partners"):
        deploy(_one_station([10.0], partners=small, hard_service=True))


def test_storage_holds_all_but_the_accepted_share_of_draws():
    # design-day packages on four draws; the station stores 1,000, a module adds 200
    packages = _da([[[900.0]], [[1_100.0]], [[1_300.0]], [[950.0]]], ("sample", "station", "month"))
    packages = packages.assign_coords(sample=np.arange(4), station=["A"], month=["m1"])
    costs = DeployCosts(
        {"diesel": 100.0},
        shortage_per_van_day=10_000.0,
        storage_module_packages=200.0,
        storage_per_module=5_000.0,
    )

    def plan_at(risk):
        problem = _one_station(
            [3.0] * 4,
            costs=costs,
            packages=packages,
            storage_packages=pd.Series({"A": 1_000.0}),
            storage_risk=risk,
        )
        return deploy(problem, mip_rel_gap=0.0)

    # one draw in four may overflow: hold the second largest, 1,100 → one module
    quarter = plan_at(0.25)
    assert quarter.storage["modules_added"].tolist() == [1]
    assert quarter.station_months["p_storage_overflow"].tolist() == [0.25]
    assert quarter.cost["storage"] == pytest.approx(5_000.0)
    # none may: hold 1,300 → two modules
    assert plan_at(0.0).storage["capacity_packages"].tolist() == [1_400.0]
    assert check_plan(quarter) == []
    no_modules = replace(costs, storage_module_packages=0.0)
    with pytest.raises(InfeasibleDeploymentError, match="storage"):
        deploy(
            _one_station(
                [3.0] * 4,
                costs=no_modules,
                packages=packages,
                storage_packages=pd.Series({"A": 1_000.0}),
                storage_risk=0.0,
            )
        )


def test_partner_and_storage_inputs_are_named():
    bad = pd.DataFrame(
        {
            "station": ["A", "Z"],
            "partner": ["p", "q"],
            "max_vans": [2, 1.5],
            "cost_per_van_month": [1.0, -1.0],
        }
    )
    with pytest.raises(DeployInputError) as info:
        _one_station([1.0], partners=bad)
    text = str(info.value)
    assert "partners row 2, column 'station', value 'Z'" in text
    assert "column 'max_vans', value 1.5" in text and "cost_per_van_month" in text
    with pytest.raises(DeployInputError, match=r"packages.*expected design-day package draws"):
        _one_station([1.0], storage_packages=pd.Series({"A": 10.0}))
