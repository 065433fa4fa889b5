"""Backtest scores, baselines, worlds and hard cases (bayesspr.evaluation: backtest, baselines,
backtest_worlds, backtest_report, scores)."""

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import scoringrules as sr
from scipy import stats
from sklearn.metrics import mean_pinball_loss

from bayesspr import SPRModel, simulate_world
from bayesspr import evaluation as bt
from bayesspr.data.table import validate
from bayesspr.errors import EvaluationError
from bayesspr.evaluation import backtest as backtest_engine
from bayesspr.evaluation.scores import extrapolation_split


def _binomial_band(n: int, level: float, mass: float = 0.99) -> tuple[float, float]:
    lo, hi = stats.binom.interval(mass, n, level)
    return lo / n, hi / n


def test_crps_and_pinball_agree_with_closed_forms():
    rng = np.random.default_rng(0)
    mu, sigma = rng.uniform(-2, 2, 30), rng.uniform(0.5, 2.0, 30)
    observed = rng.normal(mu, sigma)
    draws = rng.normal(mu, sigma, size=(20_000, 30))
    small = draws[:300]
    scores = bt.score_draws(draws, observed)
    exact = np.mean(sr.crps_normal(observed, mu, sigma))
    assert scores["crps"].iloc[0] == pytest.approx(exact, rel=0.01)
    fair = sr.crps_ensemble(observed, small, m_axis=0, estimator="fair", backend="numpy")
    assert bt.score_draws(small, observed)["crps"].iloc[0] == pytest.approx(np.mean(fair))
    quantiles = np.quantile(draws, bt.M5_QUANTILES, axis=0)
    pairs = zip(quantiles, bt.M5_QUANTILES, strict=True)
    sklearn = np.mean([mean_pinball_loss(observed, q, alpha=a) for q, a in pairs])
    assert scores["pinball"].iloc[0] == pytest.approx(sklearn, rel=1e-9)


def test_mape_bias_and_coverage_on_a_known_case():
    observed = np.array([4.0, 5.0, 10.0, 1.0])
    draws = np.tile(observed + 1.0, (50, 1))  # always one route too many
    scores = bt.score_draws(draws, observed, pd.DataFrame({"g": ["a", "a", "b", "b"]}))
    a, b = scores.set_index("g").loc["a"], scores.set_index("g").loc["b"]
    assert a["mape"] == pytest.approx(100 * np.mean([1 / 4, 1 / 5]))
    assert b["bias"] == pytest.approx(100 * 2 / 11)
    assert a["cov95"] == 0.0  # every observation below every draw: PIT 0
    assert a["crps"] == pytest.approx(1.0)  # a point forecast: CRPS = absolute error


def test_level_draws_sum_per_day():
    rows = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-01-01"] * 3 + ["2025-01-02"]),
            "station": ["A", "A", "B", "A"],
        }
    )
    draws = np.arange(8.0).reshape(2, 4)
    summed, units = bt.level_draws(draws, rows, "station")
    np.testing.assert_array_equal(summed, [[1, 2, 3], [9, 6, 7]])
    assert units["station"].tolist() == ["A", "B", "A"]
    assert units["first_row"].tolist() == [0, 2, 3]


def test_variant_specs_differ_and_pooling_collapses(demo_split):
    full = bt.variant_spec("full")
    complete, none = bt.variant_spec("complete_pooling"), bt.variant_spec("no_pooling")
    for name in bt.POOLING_SPREADS:
        assert complete["priors"][name] == pytest.approx(1e-3)
        assert none["priors"][name] == pytest.approx(1.0)
    assert isinstance(full["priors"]["overhead_hours_sd"], dict)  # learned in the full model
    history, _ = demo_split
    spreads = {}
    for variant, spec in (("complete", complete), ("none", none), ("full", full)):
        with SPRModel(spec).build_model(history):
            prior = pm.sample_prior_predictive(
                draws=200, random_seed=1, var_names=["overhead_hours_station", "zip_effect"]
            ).prior
        spreads[variant] = {
            name: float(np.log(prior[name]).std(prior[name].dims[-1]).mean())
            if name != "zip_effect"
            else float(prior[name].std("zip").mean())
            for name in ("overhead_hours_station", "zip_effect")
        }
    for name in ("overhead_hours_station", "zip_effect"):
        assert spreads["complete"][name] < 0.01  # group effects collapse to one value
        assert spreads["none"][name] > 0.5
        assert spreads["complete"][name] < spreads["full"][name] < spreads["none"][name]


def test_physics_baseline_runs_without_fitting(demo_split, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the physics baseline must not fit")

    monkeypatch.setattr(SPRModel, "fit", refuse)
    history, holdout = demo_split
    draws, info = bt.forecast_draws("physics", history.iloc[:0], holdout, max_samples=200)
    assert draws.shape == (200, len(holdout))
    assert np.all(draws == np.round(draws)) and np.all(draws >= 1)
    assert "diagnostics" not in info
    # textbook constants: close to, but not at, the simulated truth
    params = bt.physics_parameters(SPRModel().spec, 1)
    assert params.service_min_city[0, 0] == pytest.approx(2.5)
    assert params.fill[0, 0] == pytest.approx(stats.beta(18, 2).median())


def test_hard_case_flags_find_the_world_events():
    world = simulate_world()
    table = validate(world.table)
    origin = world.events["launch_date"]
    train, test = table[table["date"] < origin], table[table["date"] >= origin]
    flags = bt.hard_case_flags(train, test, shock_start=test["date"].max())
    ev = world.events
    assert set(test.loc[flags["new_zip"], "zip"]) == {ev["new_zip"]}
    assert set(test.loc[flags["new_station"], "station"]) == {ev["launched_station"]}
    assert set(test.loc[flags["moved_zip"], "zip"]) == {ev["moved_zip"]}
    assert set(test.loc[flags["new_van"], "van_capacity"]) == {ev["large_van"]}
    assert flags["demand_shock"].sum() == (test["date"] == test["date"].max()).sum()
    beyond = test[flags["volume_beyond"]]
    assert (beyond["packages"] > beyond["zip"].map(train.groupby("zip")["packages"].max())).all()


def test_demand_shock_scales_volume_and_redraws_routes_from_the_truth():
    world = simulate_world(3, n_days=40, horizon_days=20)
    shocked = bt.with_demand_shock(world, world.future["date"].min(), 1.5, seed=1)
    plain = pd.concat([world.table, world.future], ignore_index=True)
    before = plain["date"] < world.future["date"].min()
    pd.testing.assert_frame_equal(shocked[before], plain[before])
    ratio = shocked.loc[~before, "packages"].sum() / plain.loc[~before, "packages"].sum()
    assert ratio == pytest.approx(1.5, rel=0.01)
    assert shocked.loc[~before, "routes"].sum() > 1.3 * plain.loc[~before, "routes"].sum()
    validate(shocked)


def test_rolling_backtest_scores_every_level_case_and_horizon(tmp_path):
    world = simulate_world()  # the demo world: 2025-01-06 to 2025-04-15
    seen = []
    result = bt.rolling_backtest(
        world.table, ["2025-02-01", "2025-03-01"], 2, ["physics"], on_fit=seen.append
    )
    assert seen == result.fits.to_dict("records")
    units = result.units
    assert set(units["level"]) == {"zip", "station", "city"}
    assert set(units["horizon"]) == {1, 2}
    assert {"new_van", "new_station", "new_zip", "moved_zip"} <= set(units["case"])
    table = bt.scores_table(result)
    assert {"crps", "pinball", "cov80", "cov90", "mape", "bias"} <= set(table.columns)
    all_zip = units[(units["case"] == "all") & (units["level"] == "zip")]
    n_zip_days = sum(
        len(
            world.table[(world.table["date"] >= o) & (world.table["date"] < e)].drop_duplicates(
                ["date", "zip"]
            )
        )
        for o, e in (("2025-02-01", "2025-04-01"), ("2025-03-01", "2025-05-01"))
    )
    assert len(all_zip) == n_zip_days
    assert bt.plot_pit(result, tmp_path / "pit.png").stat().st_size > 0
    assert bt.plot_coverage(result, tmp_path / "cov.png").stat().st_size > 0


def test_a_backtest_on_dask_workers_scores_exactly_as_in_process(cluster_client):
    """Each origin × variant is a task with its own streams: the same scores on two workers."""
    world = simulate_world()
    origins = ["2025-02-01", "2025-03-01"]
    here = bt.rolling_backtest(world.table, origins, 1, ["physics"], seed=2)
    seen = []
    there = bt.rolling_backtest(
        world.table, origins, 1, ["physics"], seed=2, client=cluster_client, on_fit=seen.append
    )
    pd.testing.assert_frame_equal(here.units, there.units)
    columns = ["variant", "origin", "train_rows"]
    pd.testing.assert_frame_equal(here.fits[columns], there.fits[columns])
    # one line per task as it ends, in whatever order the workers finish
    assert sorted(r["origin"] for r in seen) == list(there.fits["origin"])
    with pytest.raises(EvaluationError, match="unknown variant 'prophet'"):
        bt.rolling_backtest(world.table, origins, 1, ["prophet"], client=cluster_client)


def test_a_variants_scores_do_not_depend_on_the_variants_beside_it(monkeypatch):
    world = simulate_world()
    origins = ["2025-02-01", "2025-03-01"]
    alone = bt.rolling_backtest(world.table, origins, 1, ["physics"], seed=2)
    real = backtest_engine.forecast_draws

    def cheap_gbm(variant, train, test, **kwargs):  # the boosters are tested elsewhere
        if variant != "gbm":
            return real(variant, train, test, **kwargs)
        return np.ones((20, len(test))), {"variant": "gbm", "seconds": 0.0}

    monkeypatch.setattr(backtest_engine, "forecast_draws", cheap_gbm)
    both = bt.rolling_backtest(world.table, origins, 1, ["gbm", "physics"], seed=2)
    physics = both.units[both.units["variant"] == "physics"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.units, physics)
    assert list(both.fits["variant"]) == ["gbm", "physics", "gbm", "physics"]


@pytest.mark.slow
def test_full_model_coverage_within_binomial_bound(demo_fit, demo_split):
    _, holdout = demo_split
    draws = demo_fit.predict_draws(holdout.drop(columns=["routes", "route_km"]), random_seed=3)
    scores = bt.score_draws(
        draws["routes"].to_numpy(), holdout["routes"].to_numpy(), rng=np.random.default_rng(4)
    ).iloc[0]
    n = len(holdout)
    for level, column in ((0.8, "cov80"), (0.9, "cov90")):
        lo, hi = _binomial_band(n, level)
        assert lo <= scores[column] <= hi, (column, scores[column], (lo, hi), n)


@pytest.mark.slow
def test_full_model_beats_gradient_boosting_on_a_van_never_seen(demo_fit, demo_split):
    history, holdout = demo_split
    world = simulate_world()
    _, large_van = extrapolation_split(validate(world.table), world.events)
    test = holdout.loc[holdout.index.intersection(large_van.index)]
    assert len(test) > 50
    assert world.events["large_van"] not in set(history["van_capacity"])
    full = demo_fit.predict_draws(test.drop(columns=["routes", "route_km"]), random_seed=5)
    gbm = bt.gbm_route_draws(history, test)
    observed = test["routes"].to_numpy()
    crps_full = bt.score_draws(full["routes"].to_numpy(), observed)["crps"].iloc[0]
    crps_gbm = bt.score_draws(gbm, observed)["crps"].iloc[0]
    assert crps_full < crps_gbm, (crps_full, crps_gbm)


def test_backtest_output_folder_is_checked_before_any_work(tmp_path, monkeypatch):
    from bayesspr.cli import backtest
    from bayesspr.io.files import OutputPathError

    out = tmp_path / "bt"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(backtest, "demo_backtest_world", lambda *a, **k: pytest.fail("work"))
    with pytest.raises(OutputPathError, match="notes"):
        backtest.backtest_cli("demo", out)
    assert (out / "notes.txt").read_text() == "mine"


def test_shocked_worlds_are_identical_to_the_pinned_ones(frame_hash):
    assert frame_hash(bt.demo_backtest_world(7).table) == 10052141478227771406
    shocked = bt.with_demand_shock(simulate_world(3, horizon_days=40), "2025-03-20", 1.3, seed=4)
    assert frame_hash(shocked) == 14541740227717381375
