"""Randomised PIT: uniform for a calibrated discrete forecast, not for a wrong one."""

import numpy as np

from bayesspr.evaluation.scores import pit_coverage, randomised_pit


def test_randomised_pit_is_calibrated_for_the_true_discrete_distribution():
    rng = np.random.default_rng(0)
    lam = rng.uniform(1, 6, size=4000)
    draws = rng.poisson(lam, size=(2000, lam.size))
    observed = rng.poisson(lam)
    pit = randomised_pit(draws, observed, rng)
    assert abs(pit_coverage(pit, 0.9) - 0.9) < 0.02
    assert abs(pit_coverage(pit, 0.5) - 0.5) < 0.03
    # plain inclusive quantile intervals over-cover for small counts
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0, method="inverted_cdf")
    assert np.mean((observed >= lo) & (observed <= hi)) > 0.93


def test_randomised_pit_flags_an_overconfident_forecast():
    rng = np.random.default_rng(1)
    draws = rng.normal(0, 0.5, size=(2000, 3000))
    observed = rng.normal(0, 1.0, size=3000)
    assert pit_coverage(randomised_pit(draws, observed, rng), 0.9) < 0.7
