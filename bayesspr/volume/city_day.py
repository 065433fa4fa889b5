"""Stations whose daily noise shares a city-day shock, solved as independent rotated groups.

A city's stations s = 1 … n have y_st = x_tᵀβ_s + c_t + e_st with a shock c_t ~ Normal(0, τ²)
that every station of the city shares on day t (weather, a holiday the regressors miss, a
carrier outage) and their own noise e_st ~ Normal(0, σ_s²). On the days all n report, the
noise vector of a day has covariance Σ = diag(σ²) + τ²11ᵀ, the same every day. With
Σ = U diag(ν) Uᵀ, the rotated responses z_t = Uᵀy_t have independent noise (variances ν), and
the rotated coefficients γ_j = Σ_s U_sj β_s are independent too, because every station of
the city has the same prior covariance (the spreads are common): γ_j ~ Normal(Σ_s U_sj m_s +
a_j E w, D) with a_j = Σ_s U_sj, where w is the city's walk. So the stations of a city become
n groups of :mod:`bayesspr.volume.gaussian_groups` again: their statistics are the rotated
Xᵀy and, from the city's n × n cross products Σ_t y_st y_s't (kept with the fit), yᵀy; their
walk weights are a_j. The log density is unchanged by the rotation (U is orthogonal).

The gradient with respect to σ² and τ² does not differentiate U: by Fisher's identity it is
the posterior mean of the complete-data derivative, ∂L/∂Σ = ½ Σ⁻¹(R − TΣ)Σ⁻¹ with R the
posterior mean of Σ_t r_t r_tᵀ, evaluated in the rotated basis (where Σ is diagonal) from
the groups' posterior means, their gains on the walk and the walk's posterior covariance; then
∂L/∂σ_s² = (∂L/∂Σ)_ss and ∂L/∂τ² = 1ᵀ(∂L/∂Σ)1.

Stations are grouped into **partitions**: the stations of one city that report on the same
days. A station that launched during the history is its own partition, and the shock's
correlation between partitions is left out (each station's noise variance is still σ_s² + τ²,
and the walk still ties the whole city): an approximation for the launch days only.

* :func:`city_day_statistics`: the partitions and their cross products.
* :func:`city_day_moments`: log density and gradients (numpy and numba).
* :func:`city_day_log_likelihood`: the same as a PyTensor Op, for the PyMC model.
* :func:`city_day_draws`: draws of the walk and every station's coefficients for forecasts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pytensor.tensor as pt

from bayesspr.errors import ArgumentError
from bayesspr.volume import group_kernels
from bayesspr.volume.gaussian_groups import (
    GroupStatistics,
    ScalarLogDensityOp,
    SharedCoefficients,
    coefficient_draws,
    posterior_moments,
    register_compiled_kernel,
)


@dataclass(frozen=True)
class CityDayStatistics:
    """Which stations share city-day shocks, and their cross products.

    Attributes
    ----------
    partition : numpy.ndarray
        (G,) the partition of each group: the stations of one city present on the same days.
    cross : numpy.ndarray
        (G, M) row g holds Σ_t y_gt y_ht over the partition's days for the partition's
        members h in order (``members``), padded with zeros to the largest partition M.
    """

    partition: np.ndarray
    cross: np.ndarray

    @functools.cached_property
    def members(self) -> list[np.ndarray]:
        """Each partition's groups, in increasing order."""
        order = np.argsort(self.partition, kind="stable")
        counts = np.bincount(self.partition)
        return np.split(order, np.cumsum(counts)[:-1])

    @functools.cached_property
    def layout(self) -> tuple[np.ndarray, np.ndarray]:
        """The partitions' groups one after another (G,), and where each starts (K + 1,)."""
        members = np.concatenate(self.members).astype(np.int64)
        sizes = np.array([len(m) for m in self.members], dtype=np.int64)
        return members, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    @functools.cached_property
    def leader(self) -> np.ndarray:
        """(G,) the first group of each group's partition."""
        first = np.array([m[0] for m in self.members], dtype=np.int64)
        return first[self.partition]

    @functools.cached_property
    def batches(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Partitions of equal size stacked: (P, n) members and (P, n, n) cross products."""
        by_size: dict[int, list[np.ndarray]] = {}
        for group in self.members:
            by_size.setdefault(len(group), []).append(group)
        out = []
        for size, groups in sorted(by_size.items()):
            members = np.stack(groups)
            out.append((members, self.cross[members][:, :, :size]))
        return out


def city_day_statistics(
    values: np.ndarray, present: np.ndarray, cluster: np.ndarray
) -> CityDayStatistics:
    """Partitions (cluster × presence pattern) and their cross products.

    Parameters
    ----------
    values : numpy.ndarray
        (G, T) responses; entries where ``present`` is False are ignored.
    present : numpy.ndarray
        (G, T) bool.
    cluster : numpy.ndarray
        (G,) the cluster (city) of each group.

    Returns
    -------
    CityDayStatistics
    """
    present = np.asarray(present, dtype=bool)
    _, pattern = np.unique(present, axis=0, return_inverse=True)
    key = np.stack([np.asarray(cluster, np.int64), pattern.ravel()], axis=1)
    _, partition = np.unique(key, axis=0, return_inverse=True)
    partition = partition.ravel().astype(np.int64)
    y = np.where(present, values, 0.0)
    counts = np.bincount(partition)
    cross = np.zeros((len(partition), int(counts.max())))
    for k in range(len(counts)):
        members = np.flatnonzero(partition == k)
        cross[members, : len(members)] = y[members] @ y[members].T
    return CityDayStatistics(partition=partition, cross=cross)


@dataclass(frozen=True)
class _Rotation:
    """Each partition's eigenbasis U (P, n, n) and noise variances ν (P, n), by batch."""

    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    size: int

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Station values (G, …) to rotated groups: Uᵀx per partition."""
        out = np.empty_like(x)
        for members, u, _, _ in self.batches:
            out[members] = np.einsum("pij,pi...->pj...", u, x[members])
        return out

    def backward(self, x: np.ndarray) -> np.ndarray:
        """Rotated group values (G, …) to stations: Ux per partition."""
        out = np.empty_like(x)
        for members, u, _, _ in self.batches:
            out[members] = np.einsum("pij,pj...->pi...", u, x[members])
        return out

    def per_group(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noise variances ν, walk weights a = Uᵀ1 and rotated yᵀy, each (G,)."""
        noise, weight, yy = (np.empty(self.size) for _ in range(3))
        for members, u, nu, cross in self.batches:
            noise[members] = nu
            weight[members] = u.sum(axis=1)
            yy[members] = np.einsum("pij,pik,pkj->pj", u, cross, u)
        return noise, weight, yy


def _rotation(
    city_day: CityDayStatistics, noise_var: np.ndarray, shock_var: np.ndarray
) -> _Rotation:
    """Eigen-decompose every partition's day covariance diag(σ²) + τ²11ᵀ."""
    batches = []
    for members, cross in city_day.batches:
        n = members.shape[1]
        sigma = np.broadcast_to(shock_var[members][:, :, None], (*members.shape, n)).copy()
        idx = np.arange(n)
        sigma[:, idx, idx] += noise_var[members]
        nu, u = np.linalg.eigh(sigma)
        batches.append((members, u, nu, cross))
    return _Rotation(batches, len(noise_var))


#: Why untied prior variances are refused (the compiled Op's message has no values in it).
UNTIED_VARIANCES = (
    "city-day shocks need the same prior variances for every station of a city (the rotation "
    "keeps stations independent only then)"
)


def _tied_variances(city_day: CityDayStatistics, prior_var: np.ndarray) -> None:
    """Raise unless every partition's stations share their prior variances."""
    leader = prior_var[city_day.leader]
    if not np.array_equal(prior_var, leader):
        g, j = np.argwhere(prior_var != leader)[0]
        raise ArgumentError(
            f"prior_var[{g}, {j}] = {prior_var[g, j]!r} differs from {leader[g, j]!r} of "
            f"group {city_day.leader[g]} in the same partition; {UNTIED_VARIANCES}"
        )


def _rotated_statistics(stats: GroupStatistics, rot: _Rotation) -> tuple[GroupStatistics, Any]:
    noise, weight, yy = rot.per_group()
    rotated = GroupStatistics(stats.xx, stats.pattern, rot.forward(stats.xy), yy, stats.n)
    return rotated, (noise, weight)


def city_day_moments(
    stats: GroupStatistics,
    city_day: CityDayStatistics,
    prior_mean: np.ndarray,
    prior_var: np.ndarray,
    noise_var: np.ndarray,
    shared: SharedCoefficients,
    shared_var: np.ndarray,
    shock_var: np.ndarray,
) -> dict[str, Any]:
    """Log density and gradients of stations with a walk and city-day shocks integrated out.

    Parameters
    ----------
    stats : GroupStatistics
        Sufficient statistics of the G stations.
    city_day : CityDayStatistics
        Their partitions and cross products.
    prior_mean, prior_var : numpy.ndarray
        (G, p) prior means and variances of each station's own coefficients; the variances
        must be equal within a partition.
    noise_var : numpy.ndarray
        (G,) each station's own noise variance σ².
    shared : SharedCoefficients
        The cities (clusters) and the walk's columns.
    shared_var : numpy.ndarray
        (C, K) prior variances of the walks.
    shock_var : numpy.ndarray
        (C,) variance τ² of each city's day shock.

    Returns
    -------
    dict
        ``logp`` (float, nats), ``d_mean`` (G, p), ``d_var`` (G, p; each partition's total
        split evenly among its stations, the derivative for variances tied within it),
        ``d_noise`` (G,), ``d_shared`` (C, K), ``d_shock`` (C,).

    Raises
    ------
    numpy.linalg.LinAlgError
        Where the stations' log density comes out above its Gaussian's peak: its quadratic
        form lost to rounding (noise variances orders of magnitude apart in one city, far out
        in the tails; :func:`~bayesspr.volume.group_kernels.require_below_peak`).
    """
    m, d, s2, v, tau2 = group_kernels.kernel_floats(
        prior_mean, prior_var, noise_var, shared_var, shock_var
    )
    _tied_variances(city_day, d)
    cluster = np.asarray(shared.cluster, np.int64)
    order, starts = stats.runs
    part_members, part_starts = city_day.layout
    logp, d_mean, d_var, d_noise, d_shared, d_shock = group_kernels.city_day_gradients(
        stats.xx,
        order,
        starts,
        np.asarray(stats.pattern, np.int64),
        stats.xy,
        stats.n,
        m,
        d,
        s2,
        cluster,
        np.asarray(shared.columns, np.int64),
        v,
        tau2[cluster],
        part_members,
        part_starts,
        city_day.cross,
    )
    return {
        "logp": float(logp),
        "d_mean": d_mean,
        "d_var": d_var,
        "d_noise": d_noise,
        "d_shared": d_shared,
        "d_shock": np.bincount(cluster, weights=d_shock, minlength=len(tau2)),
    }


def city_day_draws(
    stats: GroupStatistics,
    city_day: CityDayStatistics,
    prior_mean: np.ndarray,
    prior_var: np.ndarray,
    noise_var: np.ndarray,
    shared: SharedCoefficients,
    shared_var: np.ndarray,
    shock_var: np.ndarray,
    walk_normals: np.ndarray,
    coefficient_normals: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws of each city's walk and every station's coefficients, one per sample.

    Parameters
    ----------
    stats, city_day, shared : as for :func:`city_day_moments`.
    prior_mean, prior_var : numpy.ndarray
        (S, G, p) per hyper-parameter sample.
    noise_var : numpy.ndarray
        (S, G).
    shared_var : numpy.ndarray
        (S, C, K).
    shock_var : numpy.ndarray
        (S, C).
    walk_normals : numpy.ndarray
        (S, C, K) standard normal values, keyed by city.
    coefficient_normals : numpy.ndarray
        (S, G, p) standard normal values, keyed by station (they drive the rotated groups of
        the station's partition, so every station of a partition is drawn together).

    Returns
    -------
    walk : numpy.ndarray
        (S, C, K) draws of w.
    beta : numpy.ndarray
        (S, G, p) draws of each station's coefficients, its city's walk included (at the
        walk's columns).
    """
    cluster = np.asarray(shared.cluster, np.int64)
    cols = np.asarray(shared.columns, np.int64)
    walk = np.empty(walk_normals.shape)
    beta = np.empty(coefficient_normals.shape)
    for s in range(walk_normals.shape[0]):
        m, d, s2, v, tau2 = group_kernels.kernel_floats(
            *(a[s] for a in (prior_mean, prior_var, noise_var, shared_var, shock_var))
        )
        rot = _rotation(city_day, s2, tau2[cluster])
        rotated, (nu, weight) = _rotated_statistics(stats, rot)
        m_rot = rot.forward(m)
        pieces = posterior_moments(rotated, m_rot, d, nu, cols)
        w_mean, _, chol, _, _ = group_kernels.cluster_posterior(
            pieces["mean"],
            pieces["cov_cols"],
            m_rot,
            d,
            cluster,
            cols,
            shared.n_clusters,
            v,
            weight,
        )
        chol_t = np.swapaxes(chol, -1, -2)
        walk[s] = w_mean + np.linalg.solve(chol_t, walk_normals[s][..., None])[..., 0]
        m_rot[:, cols] += weight[:, None] * walk[s][cluster]
        gamma = coefficient_draws(
            rotated, m_rot[None], d[None], nu[None], coefficient_normals[s][None]
        )[0]
        beta[s] = rot.backward(gamma)
    return walk, beta


def city_day_log_likelihood(
    stats: GroupStatistics,
    city_day: CityDayStatistics,
    prior_mean: pt.TensorLike,
    prior_var: pt.TensorLike,
    noise_var: pt.TensorLike,
    shared: SharedCoefficients,
    shared_var: pt.TensorLike,
    shock_var: pt.TensorLike,
) -> pt.TensorVariable:
    """:func:`city_day_moments`' log density as a PyTensor scalar (nats), with its gradient."""
    _register_numba()
    return CityDayGaussianGroups(stats, city_day, shared)(
        *(
            pt.as_tensor(x).astype("float64")
            for x in (prior_mean, prior_var, noise_var, shared_var, shock_var)
        )
    )[0]


class CityDayGaussianGroups(ScalarLogDensityOp):
    """PyTensor Op of :func:`city_day_moments` for fixed statistics, with gradient.

    Inputs: prior mean (G, p), prior variance (G, p), noise variance (G,), walk variance
    (C, K), shock variance (C,). Outputs: the scalar log density and its derivatives.
    """

    gradient_keys = ("d_mean", "d_var", "d_noise", "d_shared", "d_shock")

    def __init__(
        self, stats: GroupStatistics, city_day: CityDayStatistics, shared: SharedCoefficients
    ) -> None:
        self.stats = stats
        self.city_day = city_day
        self.shared = shared
        self.key = (id(stats), id(city_day), id(shared))

    def moments(self, *inputs: np.ndarray) -> dict[str, Any]:
        """:func:`city_day_moments` at (prior mean, prior variance, noise, walk, shock)."""
        mean, var, noise, shared_var, shock_var = inputs
        return city_day_moments(
            self.stats, self.city_day, mean, var, noise, self.shared, shared_var, shock_var
        )


@functools.cache
def _register_numba() -> None:
    """Compile :class:`CityDayGaussianGroups` into numba graphs (nutpie) as its kernel."""
    register_compiled_kernel(CityDayGaussianGroups, _city_day_kernel)


def _city_day_kernel(op: CityDayGaussianGroups) -> Callable:
    """:meth:`CityDayGaussianGroups.perform` as a numba function of the node's inputs."""
    stats, city_day, shared = op.stats, op.city_day, op.shared
    order, starts = (np.ascontiguousarray(a, dtype=np.int64) for a in stats.runs)
    xx, xy, n, cross = (
        np.ascontiguousarray(a, dtype=np.float64)
        for a in (stats.xx, stats.xy, stats.n, city_day.cross)
    )
    pattern, cluster, columns, leader = (
        np.ascontiguousarray(a, dtype=np.int64)
        for a in (stats.pattern, shared.cluster, shared.columns, city_day.leader)
    )
    part_members, part_starts = (np.ascontiguousarray(a, np.int64) for a in city_day.layout)
    gradients = group_kernels.city_day_gradients_c

    @numba.njit(nogil=True)
    def city_day_gaussian_groups(
        prior_mean, prior_var, noise_var, shared_var, shock_var
    ):  # pragma: no cover - numba
        n_groups, p = prior_mean.shape
        n_clusters, k = shared_var.shape
        d = np.ascontiguousarray(prior_var)
        for g in range(n_groups):
            for j in range(p):
                if d[g, j] != d[leader[g], j]:
                    raise ArgumentError(UNTIED_VARIANCES)
        m = np.ascontiguousarray(prior_mean)
        s2 = np.ascontiguousarray(noise_var)
        v = np.ascontiguousarray(shared_var)
        tau2 = np.ascontiguousarray(shock_var)[cluster]
        logp, d_noise, d_shock_g = np.empty(1), np.empty(n_groups), np.empty(n_groups)
        d_mean, d_var = np.empty((n_groups, p)), np.empty((n_groups, p))
        d_shared = np.empty((n_clusters, k))
        failed = gradients(
            xx.ctypes, order.ctypes, starts.ctypes, pattern.ctypes, xy.ctypes, n.ctypes,
            m.ctypes, d.ctypes, s2.ctypes, cluster.ctypes, columns.ctypes, v.ctypes,
            tau2.ctypes, part_members.ctypes, part_starts.ctypes, cross.ctypes,
            logp.ctypes, d_mean.ctypes, d_var.ctypes, d_noise.ctypes, d_shared.ctypes,
            d_shock_g.ctypes,
            n_groups, p, xx.shape[0], n_clusters, k, part_starts.shape[0] - 1, cross.shape[1],
        )  # fmt: skip
        if failed:
            raise np.linalg.LinAlgError(group_kernels.KERNEL_FAILED)
        d_shock = np.zeros(n_clusters)
        for g in range(n_groups):
            d_shock[cluster[g]] += d_shock_g[g]
        return np.array(logp[0], dtype=np.float64), d_mean, d_var, d_noise, d_shared, d_shock

    return city_day_gaussian_groups
