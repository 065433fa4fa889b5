"""Simulation-based calibration of the small SPR model (bayesspr.evaluation.sbc).

Seeded: ``make test`` runs 40 simulated data sets per variant, ``make validate`` 200, each
fitted with 2 chains and 200 kept (thinned) draws. ``benchmarks/sbc.py`` prints the ranks.
"""

import numpy as np
import pytest

from bayesspr.evaluation.sbc import LOG_LIKELIHOOD, SBC_PARAMETERS, rank_uniformity_pvalue, run_sbc

N_SIMULATIONS = {"small": 40, "full": 200}
SEED = 1

#: Family-wise false-alarm rate of the calibration check; Bonferroni over the quantities
#: (six parameters and the log-likelihood), so each p-value must exceed ALPHA / 7.
ALPHA = 0.01
QUANTITIES = (*SBC_PARAMETERS, LOG_LIKELIHOOD)


def assert_calibrated(result, alpha=ALPHA):
    """Every quantity's ranks pass the chi-square uniformity test at alpha / n (Bonferroni)."""
    threshold = alpha / len(QUANTITIES)
    failing = {q: p for q, p in result.p_values.items() if p <= threshold}
    assert not failing, f"non-uniform SBC ranks (p <= {threshold:.2g}): {failing}"


@pytest.fixture(
    scope="module", params=["small", pytest.param("full", marks=pytest.mark.validation)]
)
def size(request):
    return request.param


@pytest.fixture(scope="module")
def good(size):
    return run_sbc(N_SIMULATIONS[size], variant="good", seed=SEED)


@pytest.fixture(scope="module")
def bad(size):
    return run_sbc(N_SIMULATIONS[size], variant="bad", seed=SEED)


@pytest.mark.slow
def test_good_variant_is_calibrated(good, size, evidence, request):
    assert set(good.p_values) == set(QUANTITIES)
    assert good.n_draws == 200
    for q in QUANTITIES:
        ranks = good.ranks[q].to_numpy()
        assert ranks.shape == (N_SIMULATIONS[size],)
        assert ranks.min() >= 0 and ranks.max() <= good.n_draws
    worst = min(good.p_values, key=good.p_values.get)
    evidence.record(
        request,
        f"SBC of the SPR model, {N_SIMULATIONS[size]} data sets: ranks uniform",
        f"lowest p = {good.p_values[worst]:.3f} ({worst})",
        f"every p > {ALPHA / len(QUANTITIES):.2g} (Bonferroni, {len(QUANTITIES)} quantities)",
        good.p_values[worst] > ALPHA / len(QUANTITIES),
    )
    assert_calibrated(good)


@pytest.mark.slow
def test_bad_variant_fails(bad, size, evidence, request):
    # the continuous log-normal ignores whole routes and the capacity floor: its posterior
    # sits away from the truth, so the truth's log-likelihood ranks pile up at one end
    p = bad.p_values[LOG_LIKELIHOOD]
    evidence.record(
        request,
        f"SBC failing control (continuous likelihood), {N_SIMULATIONS[size]} data sets",
        f"log-likelihood rank p = {p:.2g}",
        "p < 1e-6 (the check must catch it)",
        p < 1e-6,
    )
    assert p < 1e-6
    with pytest.raises(AssertionError, match="non-uniform SBC ranks"):
        assert_calibrated(bad)


@pytest.mark.slow
def test_log_likelihood_rank_is_data_dependent(good, bad):
    # same seed → same truth and simulated routes for both variants
    for name in SBC_PARAMETERS:
        np.testing.assert_array_equal(good.truth[name], bad.truth[name])
    assert good.ranks[LOG_LIKELIHOOD].std() > 0


def test_uniformity_pvalue_separates_uniform_from_skewed():
    rng = np.random.default_rng(0)
    n_draws = 199
    uniform = rng.integers(0, n_draws + 1, size=200)
    assert rank_uniformity_pvalue(uniform, n_draws) > 0.01
    skewed = np.minimum(uniform, 120)  # too many ranks at the top: over-dispersed truths
    assert rank_uniformity_pvalue(skewed, n_draws) < 1e-6
    # L + 1 = 150 possible ranks in 20 bins: unequal bins, exact expected counts
    exact = np.tile(np.arange(150), 2)
    assert rank_uniformity_pvalue(exact, 149, bins=20) == pytest.approx(1.0)


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="variant must be one of"):
        run_sbc(2, variant="centred")
