"""The docs' worked example: 4 years, EV supply cap, power short in one city, a hilly station."""

import pandas as pd

from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import check_plan, deploy
from bayesspr.deploy.vss import value_of_stochastic_solution

YEARS = [2027, 2028, 2029, 2030]
LIMITS = {
    "n_years": 4,
    "months_per_year": 2,  # January (cold) and July
    "ev_supply": pd.Series({2027: 4, 2028: 6, 2029: 8, 2030: 10}),
    "budget": pd.Series({2027: 900_000.0, 2028: 500_000.0, 2029: 500_000.0, 2030: 500_000.0}),
    "city_power_kw": pd.DataFrame(
        {y: [8.0 + 4 * i, 1e6] for i, y in enumerate(YEARS)}, index=["C0", "C1"]
    ),
}


def test_worked_example():
    problem = example_problem(n_samples=30, **LIMITS)
    plan = deploy(problem)
    assert plan.mip_gap < 1e-3
    assert check_plan(plan) == []
    sm = plan.station_months
    c0 = sm[sm.city == "C0"]
    assert c0.binding.str.contains("city power").any()  # power holds C0 back
    assert not sm[sm.city == "C1"].binding.str.contains("power").any()
    ev = plan.purchases[plan.purchases.van.str.startswith("ev")].groupby("period").vans.sum()
    assert sm[sm.month == "2027-01"].binding.str.contains("budget").all()  # the first year's
    assert (ev <= LIMITS["ev_supply"]).all()
    assert ev.loc[2030] > 0  # the last year still electrifies: vans keep a residual value
    winter = problem.in_range.sel(month="2027-01").sum()
    summer = problem.in_range.sel(month="2027-07").sum()
    assert winter < summer  # the cold month puts fewer routes within range
    fresh = example_problem(n_samples=100, draw_seed=1, **LIMITS)
    summary, _, _ = value_of_stochastic_solution(problem, fresh)
    assert summary["vss"] > 2 * summary["vss_se"] > 0
