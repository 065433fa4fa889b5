"""The value of the stochastic solution, out of sample."""

import numpy as np
import pandas as pd
import pytest

from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import deploy, evaluate_plan
from bayesspr.deploy.vss import mean_problem, per_draw_cost, value_of_stochastic_solution

SUPPLY = pd.Series({2027: 6, 2028: 10})


def test_vss_is_positive_out_of_sample():
    problem = example_problem(n_samples=20, ev_supply=SUPPLY)
    fresh = example_problem(n_samples=100, draw_seed=1, ev_supply=SUPPLY)
    summary, saa, mean = value_of_stochastic_solution(problem, fresh)
    assert summary["vss"] > 2 * summary["vss_se"] > 0
    assert summary["vss"] == pytest.approx(summary["mean_cost"] - summary["saa_cost"])
    assert saa.problem is fresh and mean.problem is fresh
    # the mean plan is over-optimistic in sample: it never sees a busy draw
    assert summary["mean_in_sample"] < summary["mean_cost"]


def test_per_draw_cost_averages_to_the_plan_cost():
    problem = example_problem(n_stations=2, n_samples=6)
    plan = deploy(problem)
    per = per_draw_cost(plan)
    assert per.shape == (6,)
    assert per.mean() == pytest.approx(plan.cost["total"])
    # evaluating a plan on its own draws re-finds its own cost
    again = evaluate_plan(plan, problem)
    assert again.cost["total"] == pytest.approx(plan.cost["total"], rel=1e-6)


def test_mean_problem_has_one_draw_of_the_means():
    problem = example_problem(n_stations=2, n_samples=6)
    mean = mean_problem(problem)
    assert mean.n_samples == 1
    np.testing.assert_allclose(mean.demand[0], problem.demand.mean("sample"))
