"""Statistical checks with known truth: parameter recovery and extrapolation.

Real fits (4 chains), seeded. ``make test`` recovers one world's parameters and extrapolates
on a shorter world; ``make validate`` recovers three worlds' and extrapolates on the full one,
recording each figure in the validation table.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesspr import SPRModel, simulate_world
from bayesspr.data.table import validate
from bayesspr.evaluation.scores import (
    extrapolation_split,
    gradient_boosting_spr,
    pit_coverage,
    randomised_pit,
)

RECOVERY_SEEDS = {"small": (101,), "full": (101, 202, 303)}
EXTRAPOLATION_WORLDS = {
    "small": {
        "seed": 11,
        "n_days": 120,
        "large_van_from_day": 85,
        "annual_growth": 0.6,
        "zips_per_station": 3,
    },
    "full": {"seed": 11, "n_days": 150, "large_van_from_day": 110, "annual_growth": 0.6},
}
LEVEL = 0.9
SIZES = ["small", pytest.param("full", marks=pytest.mark.validation)]


def _fit(table, seed, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SPRModel().fit(table, random_seed=seed, **kwargs)


def _interval_hits(model, truth):
    """(name, hit) for every learned scalar and group effect with a known true value."""
    post = model.idata["posterior"].to_dataset()
    lo, hi = (1 - LEVEL) / 2, (1 + LEVEL) / 2
    hits = []
    for name, value in truth.scalars.items():
        if name in post:
            q = post[name].quantile([lo, hi]).to_numpy()
            hits.append((name, bool(q[0] <= value <= q[1])))
    for name, series in truth.groups.items():
        level = next(d for d in post[name].dims if d not in ("chain", "draw"))
        q = post[name].quantile([lo, hi], dim=("chain", "draw")).sel({level: list(series.index)})
        inside = (q.isel(quantile=0).to_numpy() <= series.to_numpy()) & (
            series.to_numpy() <= q.isel(quantile=1).to_numpy()
        )
        hits.extend((f"{name}[{g}]", bool(h)) for g, h in zip(series.index, inside, strict=True))
    return hits


@pytest.fixture(scope="module", params=SIZES)
def recovery_hits(request):
    hits = []
    for seed in RECOVERY_SEEDS[request.param]:
        world = simulate_world(seed, zips_per_station=3, n_days=70)
        model = _fit(world.table, seed, draws=600, tune=600)
        assert model.diagnostics["divergences"] <= 5, model.diagnostics
        hits.extend(_interval_hits(model, world.truth))
    return hits


@pytest.mark.slow
def test_credible_intervals_cover_truth_at_nominal_rate(recovery_hits, evidence, request):
    n = len(recovery_hits)
    covered = sum(h for _, h in recovery_hits)
    # central 99% binomial band around the nominal 90%; the quantities share data within a
    # world, so allow one more point each side. Too-wide (prior-only) intervals fail the top.
    lo = stats.binom.ppf(0.005, n, LEVEL) - 1
    hi = stats.binom.ppf(0.995, n, LEVEL) + 1
    missed = [name for name, h in recovery_hits if not h]
    evidence.record(
        request,
        "SPR parameter recovery: 90 % intervals cover the true constants",
        f"{covered} of {n} ({covered / n:.1%})",
        f"{lo:.0f}–{hi:.0f} of {n} (99 % binomial band)",
        lo <= covered <= hi,
    )
    assert n >= 20
    assert lo <= covered <= hi, (covered, n, lo, hi, missed)


@pytest.fixture(scope="module", params=SIZES)
def extrapolation(request):
    """Train on small/medium vans and early months; test on the large van, later, busier."""
    world = simulate_world(**EXTRAPOLATION_WORLDS[request.param])
    train, test = extrapolation_split(validate(world.table), world.events)
    model = _fit(train, 11)
    plan = test.drop(columns=["routes", "route_km"])
    forecast = model.predict(plan, interval=LEVEL)
    pit = randomised_pit(
        model.predict_draws(plan)["routes"].to_numpy(),
        test["routes"].to_numpy(),
        np.random.default_rng(0),
    )
    return train, test, forecast, gradient_boosting_spr(train, test).to_numpy(), pit


@pytest.mark.slow
def test_extrapolation_intervals_cover_85_to_95_percent(extrapolation, evidence, request):
    train, test, _, _, pit = extrapolation
    coverage = pit_coverage(pit, LEVEL)
    evidence.record(
        request,
        "SPR extrapolation to an unseen bigger van, later and busier: 90 % coverage "
        "(randomised PIT of whole routes)",
        f"{coverage:.3f} over {len(test)} zip-days",
        "0.85–0.95",
        0.85 <= coverage <= 0.95,
    )
    assert test["van_capacity"].min() > train["van_capacity"].max()  # a van never seen
    # later, more volume: each test zip delivers more per day than in its own history
    later = test.groupby("zip")["packages"].mean()
    before = train[train["zip"].isin(later.index)].groupby("zip")["packages"].mean()
    assert (later / before.reindex(later.index) > 1.0).mean() > 0.8
    # whole routes: coverage of the central 90% is read off the randomised PIT, which is
    # exactly uniform under a calibrated discrete forecast (inclusive intervals over-cover)
    assert len(test) >= 100
    assert 0.85 <= pit_coverage(pit, LEVEL) <= 0.95, pit_coverage(pit, LEVEL)


@pytest.mark.slow
def test_extrapolation_beats_gradient_boosting(extrapolation, evidence, request):
    _, test, forecast, gbm_pred, _ = extrapolation
    spr = (test["packages"] / test["routes"]).to_numpy()
    model_mae = np.mean(np.abs(forecast["spr_median"].to_numpy() - spr))
    gbm_mae = np.mean(np.abs(gbm_pred - spr))
    evidence.record(
        request,
        "SPR extrapolation: MAE of median SPR against gradient boosting",
        f"{model_mae:.1f} vs {gbm_mae:.1f} packages/route (ratio {model_mae / gbm_mae:.2f})",
        "ratio < 0.7",
        model_mae < 0.7 * gbm_mae,
    )
    assert model_mae < 0.7 * gbm_mae, (model_mae, gbm_mae)


def test_demo_world_is_what_the_docs_say():
    table = simulate_world().table
    assert table["zip"].nunique() == 17
    assert table["station"].nunique() == 5
    assert set(table["van_capacity"].unique()) == {200.0, 300.0, 450.0}
    assert isinstance(table["date"].iloc[0], pd.Timestamp)
