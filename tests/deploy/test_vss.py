"""The value of the stochastic solution, out of sample."""

import numpy as np
import pandas as pd
import pytest

from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import deploy, evaluate_plan
from bayesspr.deploy.vss import (
    mean_problem,
    out_of_sample_cost,
    per_draw_cost,
    replicated_value_of_stochastic_solution,
    value_of_stochastic_solution,
)
from bayesspr.errors import DeployInputError

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


def test_out_of_sample_cost_is_the_plan_priced_on_fresh_draws_and_in_sample_flatters():
    fresh = example_problem(n_samples=100, draw_seed=99, ev_supply=SUPPLY)
    rows = []
    for seed in (1, 2, 3):
        plan = deploy(example_problem(n_samples=10, draw_seed=seed, ev_supply=SUPPLY))
        row, priced = out_of_sample_cost(plan, fresh)
        assert priced.problem is fresh
        per = per_draw_cost(evaluate_plan(plan, fresh))
        assert row["out_of_sample"] == pytest.approx(per.mean())
        assert row["out_of_sample_se"] == pytest.approx(per.std(ddof=1) / np.sqrt(100))
        assert row["in_sample"] == pytest.approx(plan.cost["total"])
        rows.append(row)
    # a plan chosen on 10 draws does better on them than on new ones (9 to 28 % here):
    # the in-sample cost is optimistic, by more than its error
    table = pd.DataFrame(rows)
    assert (table["optimism"] > 2 * table["out_of_sample_se"]).all()


def test_replicated_vss_counts_the_planning_draws_noise():
    fresh = example_problem(n_samples=100, draw_seed=99, ev_supply=SUPPLY)
    problems = [example_problem(n_samples=10, draw_seed=s, ev_supply=SUPPLY) for s in (1, 2, 3)]
    summary, table = replicated_value_of_stochastic_solution(problems, fresh)
    assert len(table) == 3 and table["vss"].nunique() == 3  # each set plans its own fleet
    assert summary["vss"] == pytest.approx(table["vss"].mean())
    assert summary["vss_se"] == pytest.approx(table["vss"].std(ddof=1) / np.sqrt(3))
    assert summary["vss"] > 2 * summary["vss_se"] > 0
    with pytest.raises(DeployInputError, match="at least two replicates"):
        replicated_value_of_stochastic_solution(problems[:1], fresh)
