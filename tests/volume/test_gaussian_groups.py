"""The marginalised Gaussian group regressions against dense linear algebra."""

import numpy as np
import pytest
from scipy import stats

from bayesspr.volume.gaussian_groups import (
    coefficient_draws,
    group_statistics,
    marginal_log_likelihood,
    marginal_log_likelihood_numpy,
)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    n_days, p, n_groups = 50, 4, 5
    design = rng.normal(size=(n_days, p))
    values = rng.normal(size=(n_groups, n_days))
    present = rng.random((n_groups, n_days)) > 0.3
    mean = rng.normal(size=(n_groups, p))
    var = rng.uniform(0.3, 2.0, (n_groups, p))
    noise = rng.uniform(0.3, 2.0, n_groups)
    return design, values, present, mean, var, noise


def dense_log_density(design, values, present, mean, var, noise):
    out = []
    for g in range(values.shape[0]):
        x = design[present[g]]
        cov = noise[g] * np.eye(len(x)) + x @ np.diag(var[g]) @ x.T
        out.append(stats.multivariate_normal(x @ mean[g], cov).logpdf(values[g, present[g]]))
    return np.array(out)


def test_marginal_log_likelihood_equals_the_dense_gaussian(problem):
    design, values, present, mean, var, noise = problem
    st = group_statistics(design, values, present)
    want = dense_log_density(*problem)
    np.testing.assert_allclose(marginal_log_likelihood_numpy(st, mean, var, noise), want)
    np.testing.assert_allclose(marginal_log_likelihood(st, mean, var, noise).eval(), want)


def test_absent_days_do_not_count(problem):
    design, values, present, mean, var, noise = problem
    garbage = np.where(present, values, 1e6)
    st = group_statistics(design, garbage, present)
    np.testing.assert_allclose(
        marginal_log_likelihood_numpy(st, mean, var, noise), dense_log_density(*problem)
    )


def test_coefficient_draws_have_the_conditional_mean_and_covariance(problem):
    design, values, present, mean, var, noise = problem
    st = group_statistics(design, values, present)
    n = 4_000
    normals = np.random.default_rng(1).normal(size=(n, *mean.shape))
    draws = coefficient_draws(
        st,
        np.broadcast_to(mean, (n, *mean.shape)),
        np.broadcast_to(var, (n, *var.shape)),
        np.broadcast_to(noise, (n, len(noise))),
        normals,
    )
    for g in range(mean.shape[0]):
        x, y = design[present[g]], values[g, present[g]]
        precision = np.diag(1 / var[g]) + x.T @ x / noise[g]
        cov = np.linalg.inv(precision)
        centre = cov @ (x.T @ y / noise[g] + mean[g] / var[g])
        se = np.sqrt(np.diag(cov) / n)
        assert np.all(np.abs(draws[:, g].mean(0) - centre) < 5 * se)
        d = np.diag(cov)
        cov_se = np.sqrt((np.outer(d, d) + cov**2) / n)
        assert np.all(np.abs(np.cov(draws[:, g].T) - cov) < 5 * cov_se)


def test_groups_with_different_prior_variances_take_the_general_path(problem):
    design, values, present, mean, var, noise = problem
    st = group_statistics(design, values, np.ones_like(present))
    assert st.xx.shape[0] == 1  # one presence pattern: the shared eigen-decomposition
    shared = np.broadcast_to(var[0], var.shape)
    full = np.ones_like(present)
    np.testing.assert_allclose(
        marginal_log_likelihood_numpy(st, mean, shared, noise),
        dense_log_density(design, values, full, mean, shared, noise),
    )
    np.testing.assert_allclose(
        marginal_log_likelihood_numpy(st, mean, var, noise),
        dense_log_density(design, values, full, mean, var, noise),
    )


def test_gradient_matches_finite_differences(problem):
    from pytensor.gradient import verify_grad

    design, values, present, mean, var, noise = problem
    for pres in (present, np.ones_like(present)):
        st = group_statistics(design, values, pres)
        for v in (var, np.broadcast_to(var[0], var.shape).copy()):
            verify_grad(
                lambda a, b, c, st=st: marginal_log_likelihood(st, a, b, c).sum(),
                [mean, v, noise],
                rng=np.random.default_rng(2),
            )
