"""City-day shocks: the rotated groups against the dense Gaussian of the stacked stations."""

import warnings

import numpy as np
import pytest
from scipy import stats

from bayesspr.volume.city_day import (
    city_day_draws,
    city_day_log_likelihood,
    city_day_moments,
    city_day_statistics,
)
from bayesspr.volume.gaussian_groups import SharedCoefficients, group_statistics, shared_moments


@pytest.fixture(scope="module")
def city():
    """Two cities: three stations on the same days; two more and one that launched later."""
    rng = np.random.default_rng(11)
    n_days, p, n_groups = 40, 4, 6
    design = rng.normal(size=(n_days, p))
    values = rng.normal(size=(n_groups, n_days))
    present = np.ones((n_groups, n_days), dtype=bool)
    present[:, :3] = False  # every station misses the first days
    present[5, :15] = False  # a station that launched later
    cluster = np.array([0, 0, 0, 1, 1, 1])
    mean = rng.normal(size=(n_groups, p))
    var = np.broadcast_to(rng.uniform(0.3, 2.0, p), (n_groups, p)).copy()
    noise = rng.uniform(0.3, 2.0, n_groups)
    shared = SharedCoefficients(cluster=cluster, columns=np.array([1, 3]), n_clusters=2)
    shared_var = rng.uniform(0.2, 1.5, (2, 2))
    shock = np.array([0.7, 0.4])
    return design, values, present, mean, var, noise, shared, shared_var, shock


def dense_log_density(design, values, present, mean, var, noise, shared, shared_var, shock):
    """Each city's stacked station-days as one Gaussian (shock shared within a partition)."""
    cd = city_day_statistics(values, present, shared.cluster)
    total = 0.0
    for c in range(shared.n_clusters):
        groups = np.flatnonzero(shared.cluster == c)
        rows = [(g, t) for g in groups for t in np.flatnonzero(present[g])]
        x = np.array([design[t] for _, t in rows])
        cov = np.zeros((len(rows), len(rows)))
        for i, (g, t) in enumerate(rows):
            for j, (h, u) in enumerate(rows):
                xe_i, xe_j = x[i, shared.columns], x[j, shared.columns]
                cov[i, j] = xe_i @ (shared_var[c] * xe_j)
                if g == h:
                    cov[i, j] += x[i] @ (var[g] * x[j]) + (noise[g] if t == u else 0.0)
                if t == u and cd.partition[g] == cd.partition[h]:
                    cov[i, j] += shock[c]
        mu = np.array([design[t] @ mean[g] for g, t in rows])
        y = np.array([values[g, t] for g, t in rows])
        total += stats.multivariate_normal(mu, cov).logpdf(y)
    return total


def test_partitions_split_a_city_by_presence(city):
    _, values, present, *_, shared, _, _ = city
    cd = city_day_statistics(values, present, shared.cluster)
    assert sorted(list(m) for m in cd.members) == [[0, 1, 2], [3, 4], [5]]


def test_log_density_equals_the_dense_gaussian(city):
    design, values, present, mean, var, noise, shared, shared_var, shock = city
    st = group_statistics(design, values, present)
    cd = city_day_statistics(values, present, shared.cluster)
    got = city_day_moments(st, cd, mean, var, noise, shared, shared_var, shock)["logp"]
    np.testing.assert_allclose(got, dense_log_density(*city), rtol=1e-10)


def test_no_shock_is_the_walk_model(city):
    design, values, present, mean, var, noise, shared, shared_var, _ = city
    st = group_statistics(design, values, present)
    cd = city_day_statistics(values, present, shared.cluster)
    got = city_day_moments(st, cd, mean, var, noise, shared, shared_var, np.zeros(2))
    want = shared_moments(st, mean, var, noise, shared, shared_var)
    np.testing.assert_allclose(got["logp"], want["logp"], rtol=1e-12)
    np.testing.assert_allclose(got["d_noise"], want["d_noise"], rtol=1e-8, atol=1e-10)


def test_gradient_matches_finite_differences(city):
    design, values, present, mean, var, noise, shared, shared_var, shock = city
    st = group_statistics(design, values, present)
    cd = city_day_statistics(values, present, shared.cluster)
    got = city_day_moments(st, cd, mean, var, noise, shared, shared_var, shock)

    def logp(m=mean, d=var, s2=noise, v=shared_var, tau2=shock):
        return city_day_moments(st, cd, m, d, s2, shared, v, tau2)["logp"]

    eps = 1e-6
    for key, name, value in (
        ("m", "d_mean", mean),
        ("s2", "d_noise", noise),
        ("v", "d_shared", shared_var),
        ("tau2", "d_shock", shock),
    ):
        numeric = np.empty(value.shape)
        for idx in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[idx] += eps
            down[idx] -= eps
            numeric[idx] = (logp(**{key: up}) - logp(**{key: down})) / (2 * eps)
        np.testing.assert_allclose(got[name], numeric, rtol=1e-5, atol=1e-6, err_msg=name)
    # prior variances are tied within a partition: the derivative of a scale on each
    # coefficient's variance (the model's spreads scale columns: growth, weekday, walk, ...)
    for col in range(var.shape[1]):
        factor = np.ones(var.shape[1])

        def scale(f, col=col, factor=factor):
            factor[col] = f
            return logp(d=var * factor)

        numeric = (scale(1 + eps) - scale(1 - eps)) / (2 * eps)
        np.testing.assert_allclose(
            (got["d_var"][:, col] * var[:, col]).sum(), numeric, rtol=1e-5, err_msg=f"{col}"
        )


def test_untied_prior_variances_are_refused(city):
    design, values, present, mean, var, noise, shared, shared_var, shock = city
    st = group_statistics(design, values, present)
    cd = city_day_statistics(values, present, shared.cluster)
    uneven = var * np.linspace(0.5, 1.5, var.shape[0])[:, None]
    with pytest.raises(ValueError, match="same prior variances"):
        city_day_moments(st, cd, mean, uneven, noise, shared, shared_var, shock)


def test_draws_have_the_dense_conditional_mean_and_covariance(city):
    """Joint draws of (walk, coefficients) match the dense Gaussian posterior of city 1."""
    design, values, present, mean, var, noise, shared, shared_var, shock = city
    st = group_statistics(design, values, present)
    cd = city_day_statistics(values, present, shared.cluster)
    n, p, k = 4_000, mean.shape[1], len(shared.columns)
    rng = np.random.default_rng(3)
    walk, beta = city_day_draws(
        st,
        cd,
        np.broadcast_to(mean, (n, *mean.shape)),
        np.broadcast_to(var, (n, *var.shape)),
        np.broadcast_to(noise, (n, len(noise))),
        shared,
        np.broadcast_to(shared_var, (n, 2, k)),
        np.broadcast_to(shock, (n, 2)),
        rng.normal(size=(n, 2, k)),
        rng.normal(size=(n, *mean.shape)),
    )
    # dense posterior of θ = (w_1, β_3, β_4, β_5) for city 1
    c, groups = 1, [3, 4, 5]
    rows = [(g, t) for g in groups for t in np.flatnonzero(present[g])]
    dim = k + p * len(groups)
    prior_cov = np.zeros((dim, dim))
    prior_cov[:k, :k] = np.diag(shared_var[c])
    prior_mean = np.zeros(dim)
    for i, g in enumerate(groups):
        sl = slice(k + p * i, k + p * (i + 1))
        prior_cov[sl, sl] = np.diag(var[g])
        prior_mean[sl] = mean[g]
    # β here is the station's coefficient including its walk: map θ → rows
    obs = np.zeros((len(rows), dim))
    for r, (g, t) in enumerate(rows):
        i = groups.index(g)
        obs[r, k + p * i : k + p * (i + 1)] = design[t]
        obs[r, :k] = design[t, shared.columns]
    noise_cov = np.zeros((len(rows), len(rows)))
    cd_part = cd.partition
    for a, (g, t) in enumerate(rows):
        for b, (h, u) in enumerate(rows):
            if t == u:
                noise_cov[a, b] = (noise[g] if g == h else 0.0) + (
                    shock[c] if cd_part[g] == cd_part[h] else 0.0
                )
    y = np.array([values[g, t] for g, t in rows])
    precision = np.linalg.inv(prior_cov) + obs.T @ np.linalg.solve(noise_cov, obs)
    post_cov = np.linalg.inv(precision)
    post_mean = post_cov @ (
        np.linalg.solve(prior_cov, prior_mean) + obs.T @ np.linalg.solve(noise_cov, y)
    )
    # the draws' coefficients include the walk: take it out to compare with β's own part
    own = beta[:, groups].copy()
    own[:, :, shared.columns] -= walk[:, c][:, None, :]
    got = np.concatenate([walk[:, c], own.reshape(n, -1)], axis=1)
    sd = np.sqrt(np.diag(post_cov))
    np.testing.assert_allclose(got.mean(0), post_mean, atol=4 * (sd / np.sqrt(n)).max())
    np.testing.assert_allclose(np.cov(got.T), post_cov, atol=0.06 * sd.max() ** 2)


def test_op_value_and_gradient(city):
    from pytensor.gradient import verify_grad

    design, values, present, mean, var, noise, shared, shared_var, shock = city
    st = group_statistics(design, values, present)
    cd = city_day_statistics(values, present, shared.cluster)
    value = city_day_log_likelihood(st, cd, mean, var, noise, shared, shared_var, shock).eval()
    np.testing.assert_allclose(
        value, city_day_moments(st, cd, mean, var, noise, shared, shared_var, shock)["logp"]
    )
    verify_grad(
        lambda a, c, v, tau2: city_day_log_likelihood(st, cd, a, var, c, shared, v, tau2),
        [mean, noise, shared_var, shock],
        rng=np.random.default_rng(2),
    )


def test_numba_graphs_run_the_compiled_kernel_with_the_same_outputs(city):
    """nutpie's graphs (PyTensor's numba backend) call the kernel, not ``perform``."""
    import pytensor
    import pytensor.tensor as pt

    from bayesspr.errors import ArgumentError
    from bayesspr.volume.city_day import CityDayGaussianGroups

    design, values, present, mean, var, noise, shared, shared_var, shock = city
    st = group_statistics(design, values, present)
    cd = city_day_statistics(values, present, shared.cluster)
    inputs = [pt.dmatrix("m"), pt.dmatrix("d"), pt.dvector("s2"), pt.dmatrix("v"), pt.dvector("t")]
    m, d, s2, v, tau2 = inputs
    outputs = CityDayGaussianGroups(st, cd, shared)(m.T, d, s2, v, tau2)  # m.T: a strided view
    grad = pytensor.grad(
        city_day_log_likelihood(st, cd, m.T, d, s2, shared, v, tau2), [m, s2, v, tau2]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PyTensor warns when it falls back to object mode
        compiled = pytensor.function(inputs, [*outputs, *grad], mode="NUMBA")
    reference = pytensor.function(inputs, [*outputs, *grad], mode="FAST_COMPILE")
    args = (np.ascontiguousarray(mean.T), var, noise, shared_var, shock)
    for got, want in zip(compiled(*args), reference(*args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    uneven = var * np.linspace(0.5, 1.5, var.shape[0])[:, None]
    with pytest.raises(ArgumentError, match="same prior variances"):
        compiled(args[0], uneven, *args[2:])


def test_a_log_density_lost_to_rounding_is_refused_not_returned():
    """Noise variances 10¹⁸ apart in one city: the quadratic form is rounding, so it raises.

    Before the peak check, such a point (one chain of the 4,000-zip speed world, seed 2,
    noise sd from 2·10⁻⁶ to 10⁵³ after one long first step) came out at +10¹⁵ nats, far above
    any Gaussian's peak density, and held the chain there with every later step diverging.
    """
    import pytensor
    import pytensor.tensor as pt

    from bayesspr.volume import group_kernels
    from bayesspr.volume.city_day import CityDayGaussianGroups

    rng = np.random.default_rng(11)
    n_days, p = 60, 4
    t = np.arange(n_days) / 365
    design = np.column_stack([np.ones(n_days), t, np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)])
    # log stops near 7: the data's sums of squares are ~10⁴ times their residual's
    values = 7.0 + 0.3 * t + 0.05 * rng.normal(size=(6, n_days)) + 0.05 * rng.normal(size=n_days)
    present = np.ones(values.shape, dtype=bool)
    shared = SharedCoefficients(
        cluster=np.array([0, 0, 0, 1, 1, 1]), columns=np.array([1, 3]), n_clusters=2
    )
    st = group_statistics(design, values, present)
    cd = city_day_statistics(values, present, shared.cluster)
    args = [np.zeros((6, p)), np.ones((6, p)), None, np.full((2, 2), 0.01), np.full(2, 0.03)]
    args[2] = np.full(6, 2.5e-3)
    assert np.isfinite(city_day_moments(st, cd, *args[:3], shared, *args[3:])["logp"])
    args[2] = np.array([1e-4, 1e14, 2.5e-3, 2.5e-3, 2.5e-3, 2.5e-3])
    with pytest.raises(np.linalg.LinAlgError, match="above its peak"):
        city_day_moments(st, cd, *args[:3], shared, *args[3:])
    # and in nutpie's graphs, as a failed kernel (nutpie rejects the point)
    inputs = [pt.dmatrix("m"), pt.dmatrix("d"), pt.dvector("s2"), pt.dmatrix("v"), pt.dvector("t")]
    compiled = pytensor.function(
        inputs, CityDayGaussianGroups(st, cd, shared)(*inputs)[0], mode="NUMBA"
    )
    with pytest.raises(np.linalg.LinAlgError, match="compiled kernel"):
        compiled(*args)
    assert "lost to rounding" in group_kernels.KERNEL_FAILED
