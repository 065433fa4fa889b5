"""Many Gaussian linear regressions at once, with their coefficients integrated out.

Each group g (a station, a zip) has observations y_g = X β_g + e_g on the days it is present,
with e_g ~ Normal(0, σ_g² I) and a Gaussian prior β_g ~ Normal(m_g, diag(d)). Integrating β_g
out gives y_g ~ Normal(X m_g, σ_g² I + X diag(d) Xᵀ), whose log density needs only the group's
**sufficient statistics** Xᵀy_g, y_gᵀy_g, n_g and XᵀX over its present days (Woodbury's
identity and the matrix determinant lemma). The days are read once, when the statistics are
computed; a model built on them costs, per gradient, the same whatever the number of days.

The design rows depend on the day only, so groups present on the same days share XᵀX: the
statistics keep one XᵀX per **presence pattern**. When the groups of a pattern also share the
prior variances d (spreads common to all stations or zips, as in
:class:`bayesspr.volume.model.VolumeModel`), one p × p eigen-decomposition of the
whitened D^½ XᵀX D^½ = Q Λ Qᵀ serves them all: the posterior precision of group g is
D^-½ Q (I + Λ/σ_g²) Qᵀ D^-½, so its log determinant, solves and diagonal are O(p²) matrix
products over all groups at once, instead of a p × p factorisation per group (which batched
numpy pays per matrix: 5 µs for p = 24). Groups whose prior variances differ fall back to one
Cholesky factor each.

* :func:`group_statistics`: the statistics of a (groups × days) table.
* :func:`marginal_log_likelihood`: the PyTensor log density for a PyMC model, with its
  gradient (:class:`MarginalGaussianGroups`).
* :func:`posterior_moments`: the same in numpy, with the gradient by Fisher's identity.
* :func:`coefficient_draws`: draws of β_g from its exact Gaussian conditional posterior per
  hyper-parameter sample (how forecasts recover the integrated coefficients).
* :class:`SharedCoefficients`, :func:`shared_moments`: the same when the groups of a cluster
  (a city's stations) share part of some coefficients (a city's random walk), integrated out
  one level up: each group's log density is exactly quadratic in its prior mean, so the
  cluster's shared values integrate out in closed form (K × K per cluster), and Fisher's
  identity gives the gradient. The volume model uses this through
  :mod:`bayesspr.volume.city_day`, which adds a day shock shared by a city's stations;
  :func:`shared_moments` is its special case without the shock (τ = 0), kept as the
  reference its tests and ``benchmarks/volume_gradient.py`` compare with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from bayesspr.volume import group_kernels

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class GroupStatistics:
    """Sufficient statistics of G Gaussian regressions with p coefficients each.

    Attributes
    ----------
    xx : numpy.ndarray
        (U, p, p) XᵀX of each presence pattern.
    pattern : numpy.ndarray
        (G,) the presence pattern of each group (index into ``xx``).
    xy : numpy.ndarray
        (G, p) X_gᵀy_g.
    yy : numpy.ndarray
        (G,) y_gᵀy_g.
    n : numpy.ndarray
        (G,) observations per group.
    """

    xx: np.ndarray
    pattern: np.ndarray
    xy: np.ndarray
    yy: np.ndarray
    n: np.ndarray

    @functools.cached_property
    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """Groups sorted by presence pattern (G,) and where each pattern's run starts (U + 1,)."""
        order = np.argsort(self.pattern, kind="stable").astype(np.int64)
        counts = np.bincount(self.pattern, minlength=len(self.xx))
        return order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def n_groups(self) -> int:
        """Number of groups G."""
        return int(self.n.shape[0])

    @property
    def n_coefficients(self) -> int:
        """Coefficients per group p."""
        return int(self.xy.shape[1])

    def take(self, groups: np.ndarray) -> GroupStatistics:
        """The statistics of some groups only (integer positions)."""
        used, pattern = np.unique(self.pattern[groups], return_inverse=True)
        return GroupStatistics(
            self.xx[used], pattern.ravel(), self.xy[groups], self.yy[groups], self.n[groups]
        )


def group_statistics(
    design: np.ndarray, values: np.ndarray, present: np.ndarray
) -> GroupStatistics:
    """Sufficient statistics of each group's regression on a design shared by day.

    Parameters
    ----------
    design : numpy.ndarray
        (T, p) design rows, one per day (the same for every group).
    values : numpy.ndarray
        (G, T) responses; entries where ``present`` is False are ignored (any value).
    present : numpy.ndarray
        (G, T) bool: which group-days are observed.

    Returns
    -------
    GroupStatistics
    """
    design = np.asarray(design, dtype=float)
    present = np.asarray(present, dtype=bool)
    patterns, pattern = np.unique(present, axis=0, return_inverse=True)
    weight = patterns.astype(float)
    n_days, p = design.shape
    outer = (design[:, :, None] * design[:, None, :]).reshape(n_days, p * p)
    y = np.where(present, values, 0.0)
    return GroupStatistics(
        xx=(weight @ outer).reshape(-1, p, p),
        pattern=pattern.ravel(),
        xy=y @ design,
        yy=(y**2).sum(axis=1),
        n=present.sum(axis=1).astype(float),
    )


def marginal_log_likelihood(
    stats: GroupStatistics,
    prior_mean: pt.TensorLike,
    prior_var: pt.TensorLike,
    noise_var: pt.TensorLike,
) -> pt.TensorVariable:
    """Log density of every group's responses with its coefficients integrated out (PyTensor).

    Parameters
    ----------
    stats : GroupStatistics
        Sufficient statistics of G groups.
    prior_mean : tensor
        (G, p) prior means m_g of the coefficients.
    prior_var : tensor
        (G, p) prior variances d_g of the coefficients (> 0).
    noise_var : tensor
        (G,) observation noise variances σ_g² (> 0).

    Returns
    -------
    tensor
        (G,) log density of each group's observations (nats).
    """
    _register_numba()
    return MarginalGaussianGroups(stats)(
        pt.as_tensor(prior_mean).astype("float64"),
        pt.as_tensor(prior_var).astype("float64"),
        pt.as_tensor(noise_var).astype("float64"),
    )[0]


@dataclass(frozen=True)
class _Posterior:
    """Posterior mean, diagonal of the covariance and log det of the precision, per group."""

    mean: np.ndarray
    cov_diag: np.ndarray
    log_det_precision: np.ndarray


def _shared_variance(var: np.ndarray) -> bool:
    """Whether every group (row) has the same prior variances."""
    return bool(np.all(var == var[:1]))


def _eigen_posterior(
    xx: np.ndarray, rhs: np.ndarray, var: np.ndarray, noise: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Posterior of groups sharing XᵀX and prior variances, in the eigenbasis of D½XᵀXD½.

    Batched over any leading axes (one per posterior sample, or none): ``xx`` (p, p),
    ``rhs`` = Xᵀy/σ² + D⁻¹m (…, G, p), ``var`` the shared prior variances D (…, p), ``noise``
    σ² (…, G). Returns D½ (…, 1, p), the transposed eigenvectors Qᵀ (…, p, p), the shrinkage
    1/(1 + λ/σ²) (…, G, p) and the posterior means (…, G, p); a draw is the mean plus
    D½ ((z · shrink½) Qᵀ).
    """
    w = np.sqrt(var)[..., None, :]
    lam, q = np.linalg.eigh(np.swapaxes(w, -1, -2) * xx * w)
    lam = np.maximum(lam, 0.0)
    shrink = 1.0 / (1.0 + lam[..., None, :] / noise[..., :, None])
    q_t = np.swapaxes(q, -1, -2)
    return w, q_t, shrink, w * ((((rhs * w) @ q) * shrink) @ q_t)


def _posterior(
    xx: np.ndarray, xy: np.ndarray, prior_mean: np.ndarray, var: np.ndarray, noise: np.ndarray
) -> tuple[_Posterior, Any]:
    """Posterior moments of groups sharing one XᵀX; also a square-root factory for draws.

    Returns the moments and a function z ↦ (V^½ z) for standard normals z (G, p).
    """
    rhs = xy / noise[:, None] + prior_mean / var
    if _shared_variance(var):
        w, q_t, shrink, mean = _eigen_posterior(xx, rhs, var[0], noise)
        cov_diag = var * (shrink @ (q_t**2))
        log_det = np.log(1.0 / shrink).sum(-1) - np.log(var).sum(-1)

        def root(z: np.ndarray) -> np.ndarray:
            return w * ((z * np.sqrt(shrink)) @ q_t)

        return _Posterior(mean, cov_diag, log_det), root
    precision = xx[None] / noise[:, None, None] + _batched_diag(1.0 / var)
    chol = np.linalg.cholesky(precision)
    cov = _chol_inverse(chol)
    mean = np.einsum("gpq,gq->gp", cov, rhs)
    log_det = 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    chol_t = np.swapaxes(chol, -1, -2)

    def root(z: np.ndarray) -> np.ndarray:
        return np.linalg.solve(chol_t, z[..., None])[..., 0]

    return _Posterior(mean, np.diagonal(cov, axis1=-2, axis2=-1), log_det), root


def posterior_moments(
    stats: GroupStatistics,
    prior_mean: np.ndarray,
    prior_var: np.ndarray,
    noise_var: np.ndarray,
    columns: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Log density of every group and its gradients, in numpy.

    The gradients follow from Fisher's identity (the derivative of the log marginal is the
    posterior expectation of the complete-data derivative): with β's posterior mean μ and
    covariance V,

    * ∂/∂m = (μ − m)/d;
    * ∂/∂d = ½((μ − m)² + diag V)/d² − ½/d;
    * ∂/∂σ² = −n/(2σ²) + (‖y − Xμ‖² + tr(XᵀX V))/(2σ⁴), with tr(XᵀX V) = σ²(p − Σ diag V/d).

    Parameters
    ----------
    stats : GroupStatistics
        Sufficient statistics of G groups.
    prior_mean, prior_var : numpy.ndarray
        (G, p) prior means and variances.
    noise_var : numpy.ndarray
        (G,) noise variances.
    columns : numpy.ndarray, optional
        (K,) coefficient indices: also return the posterior moments, with the posterior
        covariance's columns V[:, columns] (what :func:`shared_moments` needs).

    Returns
    -------
    dict
        ``logp`` (G,) nats, ``d_mean`` (G, p), ``d_var`` (G, p), ``d_noise`` (G,); with
        ``columns`` also ``mean`` (G, p), ``cov_diag`` (G, p) and ``cov_cols`` (G, p, K).

    Raises
    ------
    numpy.linalg.LinAlgError
        Where a group's log density comes out above its Gaussian's peak: its quadratic form
        lost to rounding, at noise variances far out in the tails
        (:func:`~bayesspr.volume.group_kernels.require_below_peak`).
    """
    order, starts = stats.runs
    cols = np.zeros(0, np.int64) if columns is None else np.asarray(columns, np.int64)
    logp, d_mean, d_var, d_noise, mean, cov_diag, cov_cols, log_det = group_kernels.group_moments(
        stats.xx,
        order,
        starts,
        stats.xy,
        stats.yy,
        stats.n,
        *group_kernels.kernel_floats(prior_mean, prior_var, noise_var),
        cols,
    )
    group_kernels.require_groups_below_peak(logp, stats.n, log_det)
    out = {"logp": logp, "d_mean": d_mean, "d_var": d_var, "d_noise": d_noise}
    if columns is not None:
        out.update(mean=mean, cov_diag=cov_diag, cov_cols=cov_cols)
    return out


@dataclass(frozen=True)
class SharedCoefficients:
    """Which coefficients the groups of a cluster share a part of (a city's random walk).

    Group g of cluster c has coefficients β_g ~ Normal(m_g + E w_c, diag(d_g)), where E puts
    the cluster's K shared values w_c ~ Normal(0, diag(v_c)) at the group coefficients
    ``columns``. With w_c integrated out as well, the groups of one cluster are no longer
    independent: a walk that moves every station of a city moves their sum as much.

    Attributes
    ----------
    cluster : numpy.ndarray
        (G,) cluster of each group (0 … n_clusters − 1).
    columns : numpy.ndarray
        (K,) the group coefficients that carry the shared part.
    n_clusters : int
        Number of clusters C.
    """

    cluster: np.ndarray
    columns: np.ndarray
    n_clusters: int


def shared_moments(
    stats: GroupStatistics,
    prior_mean: np.ndarray,
    prior_var: np.ndarray,
    noise_var: np.ndarray,
    shared: SharedCoefficients,
    shared_var: np.ndarray,
) -> dict[str, Any]:
    """Log density of all groups with their own and their cluster's coefficients integrated out.

    The gradients follow from Fisher's identity over the joint posterior of (w, β): with
    w | y ~ Normal(ŵ, P⁻¹) and β_g | w, y ~ Normal(μ_g + G_g w, V_g), G_g = V_g D_g⁻¹ E,
    the complete-data derivatives of :func:`posterior_moments` are averaged over that
    posterior (their squares gain the terms G P⁻¹ Gᵀ), and ∂/∂v = ½(ŵ² + diag P⁻¹)/v² − ½/v.

    Parameters
    ----------
    stats : GroupStatistics
        Sufficient statistics of G groups.
    prior_mean, prior_var : numpy.ndarray
        (G, p) prior means (before the shared part) and variances of the groups' own parts.
    noise_var : numpy.ndarray
        (G,) noise variances.
    shared : SharedCoefficients
        The clusters and the shared columns.
    shared_var : numpy.ndarray
        (C, K) prior variances v of the shared values (> 0).

    Returns
    -------
    dict
        ``logp`` (float, nats, all groups), ``d_mean`` (G, p), ``d_var`` (G, p), ``d_noise``
        (G,), ``d_shared`` (C, K).

    Raises
    ------
    numpy.linalg.LinAlgError
        As :func:`posterior_moments`.
    """
    order, starts = stats.runs
    cols = np.asarray(shared.columns, np.int64)
    m, d, s2, v = group_kernels.kernel_floats(prior_mean, prior_var, noise_var, shared_var)
    own = group_kernels.group_moments(
        stats.xx, order, starts, stats.xy, stats.yy, stats.n, m, d, s2, cols
    )
    group_kernels.require_groups_below_peak(own[0], stats.n, own[-1])
    logp, d_mean, d_var, d_noise, d_shared = group_kernels.shared_gradients(
        stats.xx,
        np.asarray(stats.pattern, np.int64),
        stats.xy,
        stats.yy,
        stats.n,
        m,
        d,
        s2,
        np.asarray(shared.cluster, np.int64),
        cols,
        v,
        np.ones(len(s2)),
        own,
    )
    return {
        "logp": float(logp),
        "d_mean": d_mean,
        "d_var": d_var,
        "d_noise": d_noise,
        "d_shared": d_shared,
    }


def marginal_log_likelihood_numpy(
    stats: GroupStatistics, prior_mean: np.ndarray, prior_var: np.ndarray, noise_var: np.ndarray
) -> np.ndarray:
    """:func:`marginal_log_likelihood` in numpy (for tests and checks), (G,) nats."""
    return posterior_moments(stats, prior_mean, prior_var, noise_var)["logp"]


def coefficient_draws(
    stats: GroupStatistics,
    prior_mean: np.ndarray,
    prior_var: np.ndarray,
    noise_var: np.ndarray,
    normals: np.ndarray,
) -> np.ndarray:
    """Draws of each group's coefficients from their Gaussian posterior, one per sample.

    β_g | y, hyper-parameters ~ Normal(A⁻¹(Xᵀy/σ² + D⁻¹m), A⁻¹) with A = D⁻¹ + XᵀX/σ².

    Parameters
    ----------
    stats : GroupStatistics
        Sufficient statistics of G groups.
    prior_mean, prior_var : numpy.ndarray
        (S, G, p) prior means and variances, per hyper-parameter sample.
    noise_var : numpy.ndarray
        (S, G) noise variances.
    normals : numpy.ndarray
        (S, G, p) standard normal values (keyed, so chunks agree).

    Returns
    -------
    numpy.ndarray
        (S, G, p) coefficient draws.
    """
    out = np.empty(normals.shape)
    for u, xx in enumerate(stats.xx):
        g = np.flatnonzero(stats.pattern == u)
        var = prior_var[:, g]
        if np.all(var == var[:, :1]):  # every sample's groups share their prior variances
            out[:, g] = _shared_variance_draws(
                xx, stats.xy[g], prior_mean[:, g], var[:, 0], noise_var[:, g], normals[:, g]
            )
            continue
        for s in range(normals.shape[0]):
            post, root = _posterior(
                xx, stats.xy[g], prior_mean[s, g], prior_var[s, g], noise_var[s, g]
            )
            out[s, g] = post.mean + root(normals[s, g])
    return out


def _shared_variance_draws(
    xx: np.ndarray,
    xy: np.ndarray,
    prior_mean: np.ndarray,
    var: np.ndarray,
    noise: np.ndarray,
    normals: np.ndarray,
) -> np.ndarray:
    """:func:`coefficient_draws` of groups sharing XᵀX and, per sample, prior variances.

    :func:`_eigen_posterior` for all samples at once (one batched ``eigh``), instead of a
    Python loop over samples. ``xy`` is (G, p), ``prior_mean`` and ``normals`` (S, G, p),
    ``var`` (S, p), ``noise`` (S, G); returns (S, G, p).
    """
    rhs = xy[None] / noise[:, :, None] + prior_mean / var[:, None, :]
    w, q_t, shrink, mean = _eigen_posterior(xx, rhs, var, noise)
    return mean + w * ((normals * np.sqrt(shrink)) @ q_t)


def _batched_diag(values: np.ndarray) -> np.ndarray:
    """(G, p) → (G, p, p) diagonal matrices."""
    out = np.zeros((*values.shape, values.shape[-1]))
    idx = np.arange(values.shape[-1])
    out[..., idx, idx] = values
    return out


def _chol_inverse(chol: np.ndarray) -> np.ndarray:
    """A⁻¹ from A's Cholesky factor L (batched): (L⁻¹)ᵀ L⁻¹."""
    eye = np.broadcast_to(np.eye(chol.shape[-1]), chol.shape)
    inv_l = np.linalg.solve(chol, eye)
    return np.swapaxes(inv_l, -1, -2) @ inv_l


class MarginalGaussianGroups(Op):
    """PyTensor Op: :func:`posterior_moments`' log density of fixed statistics, with gradient.

    Inputs: prior mean (G, p), prior variance (G, p), noise variance (G,). Outputs: the log
    density (G,) and, for the gradient, its derivatives with respect to the three inputs. The
    statistics are data held by the Op (compared by identity).
    """

    __props__ = ("key",)

    def __init__(self, stats: GroupStatistics) -> None:
        self.stats = stats
        self.key = id(stats)

    def make_node(self, *inputs: Any) -> Apply:
        """The node: three float inputs, four outputs."""
        mean, var, noise = (pt.as_tensor(x) for x in inputs)
        return Apply(
            self, [mean, var, noise], [noise.type(), mean.type(), var.type(), noise.type()]
        )

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list) -> None:
        """Evaluate in numpy."""
        out = posterior_moments(self.stats, *inputs)
        for storage, key in zip(
            output_storage, ("logp", "d_mean", "d_var", "d_noise"), strict=True
        ):
            storage[0] = np.asarray(out[key], dtype=float)

    def pullback(self, inputs: list, outputs: list, cotangents: list) -> list:
        """Gradient of the log density (the other outputs are not differentiable)."""
        g = cotangents[0]
        _, d_mean, d_var, d_noise = outputs
        return [g[:, None] * d_mean, g[:, None] * d_var, g * d_noise]


class ScalarLogDensityOp(Op):
    """A PyTensor Op of fixed statistics: a scalar log density and its input derivatives.

    Subclasses set ``gradient_keys`` (the keys of :meth:`moments`' output that hold the
    derivatives, one per input, in input order) and implement :meth:`moments`.
    """

    __props__ = ("key",)
    gradient_keys: tuple[str, ...] = ()

    def moments(self, *inputs: np.ndarray) -> dict[str, Any]:
        """``logp`` and the derivatives named by ``gradient_keys`` at the inputs."""
        raise NotImplementedError

    def make_node(self, *inputs: Any) -> Apply:
        """The node: float inputs; the scalar log density and one derivative per input."""
        tensors = [pt.as_tensor(x) for x in inputs]
        return Apply(self, tensors, [pt.dscalar(), *(x.type() for x in tensors)])

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list) -> None:
        """Evaluate in numpy."""
        out = self.moments(*inputs)
        for storage, key in zip(output_storage, ("logp", *self.gradient_keys), strict=True):
            storage[0] = np.asarray(out[key], dtype=float)

    def pullback(self, inputs: list, outputs: list, cotangents: list) -> list:
        """Gradient of the log density (the other outputs are not differentiable)."""
        g = cotangents[0]
        return [g * d for d in outputs[1:]]


@functools.cache
def _register_numba() -> None:
    """Compile :class:`MarginalGaussianGroups` into numba graphs (nutpie) as its kernel."""
    register_compiled_kernel(MarginalGaussianGroups, _marginal_kernel)


def register_compiled_kernel(op_type: type[Op], kernel_of: Callable[[Any], Callable]) -> None:
    """Let numba-compiled graphs (nutpie's) call an Op's own compiled kernel.

    Without this, PyTensor's numba backend runs the Op's ``perform`` in object mode: a trip
    through the interpreter at every gradient, holding its lock, so nutpie's chain threads
    queue behind each other. With it the graph calls the kernel in compiled code (nopython,
    ``nogil``).

    Parameters
    ----------
    op_type : type
        The Op class.
    kernel_of : callable
        ``kernel_of(op)`` returns a numba-jitted function of the node's inputs that returns
        its outputs (a tuple of arrays; a 0-d array for a scalar output), the Op's data
        bound in it as constants.
    """
    from pytensor.link.numba.dispatch.basic import numba_funcify

    def _funcify(op: Op, node: Apply | None = None, **kwargs: Any) -> Callable:
        return kernel_of(op)

    numba_funcify.register(op_type)(_funcify)


def _marginal_kernel(op: MarginalGaussianGroups) -> Callable:
    """:meth:`MarginalGaussianGroups.perform` as a numba function of the node's inputs."""
    stats = op.stats
    order, starts = stats.runs
    xx, xy, yy, n = (
        np.ascontiguousarray(a, dtype=np.float64) for a in (stats.xx, stats.xy, stats.yy, stats.n)
    )
    moments = group_kernels.group_moments_c

    @numba.njit(nogil=True)
    def marginal_gaussian_groups(prior_mean, prior_var, noise_var):  # pragma: no cover - numba
        n_groups, p = prior_mean.shape
        m = np.ascontiguousarray(prior_mean)
        d = np.ascontiguousarray(prior_var)
        s2 = np.ascontiguousarray(noise_var)
        logp, d_noise = np.empty(n_groups), np.empty(n_groups)
        d_mean, d_var = np.empty((n_groups, p)), np.empty((n_groups, p))
        failed = moments(
            xx.ctypes, order.ctypes, starts.ctypes, xy.ctypes, yy.ctypes, n.ctypes,
            m.ctypes, d.ctypes, s2.ctypes,
            logp.ctypes, d_mean.ctypes, d_var.ctypes, d_noise.ctypes,
            n_groups, p, xx.shape[0],
        )  # fmt: skip
        if failed:
            raise np.linalg.LinAlgError(group_kernels.KERNEL_FAILED)
        return logp, d_mean, d_var, d_noise

    return marginal_gaussian_groups
