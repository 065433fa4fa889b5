"""A zip's share-noise scale drawn from its exact conditional posterior given the spreads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from bayesspr.volume import share_noise
from bayesspr.volume.gaussian_groups import group_statistics, marginal_log_likelihood_numpy

MU, TAU = np.log(0.1), 1.0


@pytest.fixture(scope="module")
def zips():
    """Thirty zips' share regressions on a shared design, three presence patterns."""
    rng = np.random.default_rng(0)
    n_days, p, n_zips = 200, 6, 30
    design = np.column_stack(
        [np.ones(n_days), np.linspace(0, 1, n_days), rng.normal(size=(n_days, p - 2))]
    )
    present = np.ones((n_zips, n_days), bool)
    present[:5, :150] = False  # five zips with 50 days
    present[5:8, :20] = False
    scale = np.exp(rng.normal(MU, 0.5, n_zips))
    beta = rng.normal(size=(n_zips, p)) * 0.2
    beta[:, 0] -= 2.0
    values = beta @ design.T + scale[:, None] * rng.normal(size=(n_zips, n_days))
    stats = group_statistics(design, values, present)
    mean = np.zeros((n_zips, p))
    mean[:, 0] = -2.0
    var = np.array([1.0, 0.04, 0.01, 0.01, 0.02, 0.03])
    return stats, mean, var


def test_the_density_is_the_marginal_likelihood_times_the_prior(zips):
    stats, mean, var = zips
    log_sd = np.linspace(-4.0, 0.0, 9)[:, None] * np.ones((1, stats.n_groups))
    ours = share_noise.share_noise_log_density(stats, mean, var, log_sd, MU, TAU)
    reference = (
        np.stack(
            [
                marginal_log_likelihood_numpy(
                    stats, mean, np.broadcast_to(var, mean.shape), np.exp(2.0 * t)
                )
                for t in log_sd
            ]
        )
        - 0.5 * ((log_sd - MU) / TAU) ** 2
    )
    difference = ours - reference  # a constant per zip (the 2π term), whatever the scale
    np.testing.assert_allclose(difference, np.broadcast_to(difference[:1], difference.shape))


def test_newton_slopes_are_the_density_s_derivatives(zips):
    stats, mean, var = zips
    lam, q, root, xr, rr = share_noise._pattern_terms(stats, mean, var[None])
    for g in (0, 6, 20):
        u = stats.pattern[g]
        v = q[u][0].T @ (root[0] * xr[g])
        args = (stats.n[g], rr[g], v, lam[u][0], MU, TAU)
        for t in (-3.0, -2.3, -1.0):
            h = 1e-5
            f = [share_noise._log_density(t + k * h, *args) for k in (-1, 0, 1)]
            first, second = share_noise._slopes(t, *args)
            np.testing.assert_allclose(first, (f[2] - f[0]) / (2 * h), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(second, (f[2] - 2 * f[1] + f[0]) / h**2, rtol=1e-3)


def test_draws_follow_the_conditional_posterior(zips):
    stats, mean, var = zips
    chosen = np.array([0, 5, 8, 13, 23])  # 50, 180 and 200 days
    some = stats.take(chosen)
    n = 40_000
    uniforms = np.random.default_rng(5).uniform(size=(n, len(chosen)))
    draws = np.log(
        share_noise.draw_share_noise(
            some, mean[chosen], np.broadcast_to(var, (n, len(var))), MU, TAU, uniforms
        )
    )
    for i in range(len(chosen)):
        grid = np.linspace(draws[:, i].min() - 0.5, draws[:, i].max() + 0.5, 20_001)
        density = share_noise.share_noise_log_density(
            some.take(np.array([i])), mean[chosen][[i]], var, grid[:, None], MU, TAU
        )[:, 0]
        weight = np.exp(density - density.max())
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (weight[1:] + weight[:-1]))])
        cdf /= cdf[-1]
        test = scipy_stats.kstest(draws[:, i], lambda x, g=grid, c=cdf: np.interp(x, g, c))
        assert test.pvalue > 1e-3, (i, test.pvalue)
        mean_t = np.trapezoid(grid * weight, grid) / np.trapezoid(weight, grid)
        sd_t = np.sqrt(
            np.trapezoid((grid - mean_t) ** 2 * weight, grid) / np.trapezoid(weight, grid)
        )
        # the sd within 1 % (its Monte Carlo error is 0.35 %)
        assert abs(draws[:, i].std() / sd_t - 1.0) < 0.01


def test_each_sample_of_the_spreads_is_drawn_as_if_alone(zips):
    # samples are drawn in turn, Newton starting at the zip's mode under the previous one:
    # the draws are those of each sample on its own
    stats, mean, var = zips
    rng = np.random.default_rng(2)
    samples = var * np.exp(rng.normal(0.0, 1.0, (4, len(var))))
    uniforms = rng.uniform(size=(4, stats.n_groups))
    together = share_noise.draw_share_noise(stats, mean, samples, MU, TAU, uniforms)
    for s in range(4):
        alone = share_noise.draw_share_noise(stats, mean, samples[s], MU, TAU, uniforms[[s]])
        np.testing.assert_allclose(together[s], alone[0], rtol=1e-6)
