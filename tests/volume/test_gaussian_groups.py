"""The marginalised Gaussian group regressions against dense linear algebra."""

import warnings

import numpy as np
import pytest
from scipy import stats

from bayesspr.volume.gaussian_groups import (
    _posterior,
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


def test_draws_batched_over_samples_equal_the_draws_one_sample_at_a_time(problem):
    """Groups sharing prior variances within each sample (as the forecast's zips do) take the
    batched eigenbasis; its draws are the per-sample posterior's, sample by sample."""
    design, values, present, mean, _, noise = problem
    st = group_statistics(design, values, present)
    rng = np.random.default_rng(5)
    n_s, n_g, p = 7, *mean.shape
    per_sample_var = rng.uniform(0.3, 2.0, (n_s, 1, p)) * np.ones((1, n_g, 1))
    means = mean[None] + rng.normal(0, 0.1, (n_s, n_g, p))
    noises = noise[None] * rng.uniform(0.8, 1.2, (n_s, n_g))
    normals = rng.normal(size=(n_s, n_g, p))
    got = coefficient_draws(st, means, per_sample_var, noises, normals)
    for u, xx in enumerate(st.xx):
        g = np.flatnonzero(st.pattern == u)
        for s in range(n_s):
            post, root = _posterior(xx, st.xy[g], means[s, g], per_sample_var[s, g], noises[s, g])
            np.testing.assert_allclose(got[s, g], post.mean + root(normals[s, g]), atol=1e-12)


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


# --------------------------------------------------------------------------- shared walks
@pytest.fixture(scope="module")
def clustered():
    """Groups in three clusters whose coefficients 1 and 3 carry a shared part."""
    from bayesspr.volume.gaussian_groups import SharedCoefficients

    rng = np.random.default_rng(5)
    n_days, p, n_groups = 30, 4, 6
    design = rng.normal(size=(n_days, p))
    values = rng.normal(size=(n_groups, n_days))
    present = rng.random((n_groups, n_days)) > 0.25
    mean = rng.normal(size=(n_groups, p))
    var = np.broadcast_to(rng.uniform(0.3, 2.0, p), (n_groups, p)).copy()
    noise = rng.uniform(0.3, 2.0, n_groups)
    shared = SharedCoefficients(
        cluster=np.array([0, 0, 1, 1, 1, 2]), columns=np.array([1, 3]), n_clusters=3
    )
    shared_var = rng.uniform(0.2, 1.5, (3, 2))
    return design, values, present, mean, var, noise, shared, shared_var


def dense_clustered_log_density(design, values, present, mean, var, noise, shared, shared_var):
    """The stacked Gaussian of each cluster's groups, shared part in the covariance."""
    total = 0.0
    for c in range(shared.n_clusters):
        groups = np.flatnonzero(shared.cluster == c)
        rows = [design[present[g]] for g in groups]
        blocks = [
            noise[g] * np.eye(len(x)) + x @ np.diag(var[g]) @ x.T
            for g, x in zip(groups, rows, strict=True)
        ]
        cov = np.zeros((sum(len(x) for x in rows),) * 2)
        starts = np.cumsum([0] + [len(x) for x in rows])
        for i, xi in enumerate(rows):
            cov[starts[i] : starts[i + 1], starts[i] : starts[i + 1]] = blocks[i]
            for j, xj in enumerate(rows):
                xr_i, xr_j = xi[:, shared.columns], xj[:, shared.columns]
                cov[starts[i] : starts[i + 1], starts[j] : starts[j + 1]] += (
                    xr_i @ np.diag(shared_var[c]) @ xr_j.T
                )
        mu = np.concatenate([x @ mean[g] for g, x in zip(groups, rows, strict=True)])
        y = np.concatenate([values[g, present[g]] for g in groups])
        total += stats.multivariate_normal(mu, cov).logpdf(y)
    return total


def test_shared_walk_log_density_equals_the_dense_gaussian(clustered):
    from bayesspr.volume.gaussian_groups import shared_moments

    design, values, present, mean, var, noise, shared, shared_var = clustered
    st = group_statistics(design, values, present)
    got = shared_moments(st, mean, var, noise, shared, shared_var)["logp"]
    np.testing.assert_allclose(got, dense_clustered_log_density(*clustered), rtol=1e-10)
    # groups whose own variances differ take the Cholesky route: same answer
    uneven = var * np.linspace(0.5, 1.5, var.shape[0])[:, None]
    got = shared_moments(st, mean, uneven, noise, shared, shared_var)["logp"]
    want = dense_clustered_log_density(
        design, values, present, mean, uneven, noise, shared, shared_var
    )
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_shared_walk_gradient_matches_finite_differences(clustered):
    from bayesspr.volume.gaussian_groups import shared_moments

    design, values, present, mean, var, noise, shared, shared_var = clustered
    st = group_statistics(design, values, present)
    args = {"mean": mean, "var": var * np.linspace(0.8, 1.2, var.shape[0])[:, None]}
    got = shared_moments(st, args["mean"], args["var"], noise, shared, shared_var)

    def logp(m=args["mean"], d=args["var"], s2=noise, v=shared_var):
        return shared_moments(st, m, d, s2, shared, v)["logp"]

    eps = 1e-6
    for key, name, value in (
        ("m", "d_mean", args["mean"]),
        ("d", "d_var", args["var"]),
        ("s2", "d_noise", noise),
        ("v", "d_shared", shared_var),
    ):
        numeric = np.empty(value.shape)
        for idx in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[idx] += eps
            down[idx] -= eps
            numeric[idx] = (logp(**{key: up}) - logp(**{key: down})) / (2 * eps)
        np.testing.assert_allclose(got[name], numeric, rtol=1e-5, atol=1e-6, err_msg=name)


def test_numba_graphs_run_the_compiled_kernel_with_the_same_outputs(problem):
    """nutpie's graphs (PyTensor's numba backend) call the kernel, not ``perform``."""
    import pytensor
    import pytensor.tensor as pt

    from bayesspr.volume.gaussian_groups import MarginalGaussianGroups

    design, values, present, mean, var, noise = problem
    st = group_statistics(design, values, present)
    a, b = pt.dmatrix("a"), pt.dmatrix("b")
    c = pt.dvector("c")
    # a transposed input reaches the kernel as a strided view
    outputs = MarginalGaussianGroups(st)(a.T, b, c)
    grad = pytensor.grad(marginal_log_likelihood(st, a.T, b, c).sum(), [a, b, c])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PyTensor warns when it falls back to object mode
        compiled = pytensor.function([a, b, c], [*outputs, *grad], mode="NUMBA")
    reference = pytensor.function([a, b, c], [*outputs, *grad], mode="FAST_COMPILE")
    args = (np.ascontiguousarray(mean.T), var, noise)
    for got, want in zip(compiled(*args), reference(*args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_failing_compiled_kernel_raises_instead_of_returning_garbage(problem):
    """The kernel runs as a C function, which cannot raise: its failure still reaches the graph."""
    import pytensor
    import pytensor.tensor as pt

    from bayesspr.volume.gaussian_groups import MarginalGaussianGroups

    design, values, present, mean, var, noise = problem
    st = group_statistics(design, values, present)
    a, b, c = pt.dmatrix("a"), pt.dmatrix("b"), pt.dvector("c")
    compiled = pytensor.function([a, b, c], MarginalGaussianGroups(st)(a, b, c), mode="NUMBA")
    shared_var = np.broadcast_to(var[0], var.shape).copy()  # one eigenbasis per pattern
    with pytest.raises(np.linalg.LinAlgError, match="compiled kernel"):
        compiled(mean, np.full_like(shared_var, np.nan), noise)
    assert np.isfinite(compiled(mean, shared_var, noise)[0]).all()


def test_a_log_density_above_its_gaussian_peak_is_refused():
    """No Gaussian density exceeds its value at its mean: such a log density is rounding."""
    from bayesspr.volume import group_kernels

    n, log_det = 365.0, -2000.0
    peak = -0.5 * (n * np.log(2 * np.pi) + log_det)
    group_kernels.require_below_peak(peak - 1.0, n, log_det)  # below: fine
    group_kernels.require_below_peak(peak * (1 + 1e-12), n, log_det)  # rounding: fine
    for above in (peak + 1.0, 1e15):
        with pytest.raises(np.linalg.LinAlgError, match="above its peak"):
            group_kernels.require_below_peak(above, n, log_det)
    logp = np.array([peak - 5.0, peak + 5.0])
    with pytest.raises(np.linalg.LinAlgError, match="above its peak"):
        group_kernels.require_groups_below_peak(logp, np.full(2, n), np.full(2, log_det))
