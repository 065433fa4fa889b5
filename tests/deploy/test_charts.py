"""The deployment charts draw the plan's own figures: shares, shortfall risk, cost parts."""

import numpy as np
import pandas as pd
import pytest

from bayesspr.deploy.charts import (
    CHART_FILES,
    cost_figure,
    deploy_charts,
    electric_share_figure,
    shortfall_figure,
)
from bayesspr.deploy.example import example_problem
from bayesspr.deploy.plan import deploy, evaluate_plan

SHARE = pd.Series({2027: 0.1, 2028: 0.2})


@pytest.fixture(scope="module")
def plan():
    return deploy(example_problem(n_samples=8, min_electric_share=SHARE))


def test_the_electric_share_chart_draws_each_city_and_the_target(plan):
    ax = electric_share_figure(plan).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"C0", "C1", "network minimum"}
    np.testing.assert_allclose(lines["C0"].get_ydata(), plan.electric_share.loc["C0"])
    np.testing.assert_allclose(lines["network minimum"].get_ydata(), [0.1, 0.1, 0.2, 0.2])
    assert "%" in ax.get_ylabel()


def test_the_shortfall_heat_map_holds_p_shortfall_per_station_and_month(plan):
    ax = shortfall_figure(plan).axes[0]
    cells = ax.get_images()[0].get_array()
    want = plan.station_months.pivot(index="station", columns="month", values="p_shortfall")
    np.testing.assert_allclose(cells, want.loc[plan.problem.stations, plan.problem.months])
    assert [t.get_text() for t in ax.get_yticklabels()] == plan.problem.stations


def test_the_cost_chart_draws_each_part_in_and_out_of_sample(plan):
    other = example_problem(n_samples=20, draw_seed=5, min_electric_share=SHARE)
    fresh = evaluate_plan(plan, other)
    ax = cost_figure(plan, fresh).axes[0]
    bars = ax.containers
    assert len(bars) == 2
    own = [b.get_width() for b in bars[0]]
    np.testing.assert_allclose(own, plan.cost.drop("total").to_numpy())
    assert min(own) < 0  # the residual value is a credit
    assert "out of sample" in bars[1].get_label()


def test_deploy_charts_writes_three_pngs(plan, tmp_path):
    written = deploy_charts(plan, tmp_path / "charts")
    assert sorted(written) == sorted(CHART_FILES)
    for path in written.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
