"""Compiled kernels of :mod:`bayesspr.volume.gaussian_groups`: log densities and gradients.

The volume model's likelihood is a handful of Gaussian regressions per station and zip with
their coefficients integrated out; each gradient of the fit evaluates them once. Written with
numpy on small matrices, that evaluation is dominated by Python's per-call overhead and holds
the interpreter lock, so nutpie's chains (threads) queue behind each other. These kernels are
the same arithmetic compiled by numba, with the lock released (``nogil``): the chains run on
all cores, and the per-call overhead is gone. They are cached on disk (``cache=True``), so
a process compiles them once per installation.

The formulas are those of :func:`~bayesspr.volume.gaussian_groups.posterior_moments` and
:func:`~bayesspr.volume.gaussian_groups.shared_moments` (see their docstrings); the tests of
that module check these kernels against the dense Gaussian, finite differences and PyTensor's
``verify_grad``.
"""

from __future__ import annotations

import numba
import numpy as np

from bayesspr.volume.rank_one_eigen import eigh_diagonal_plus_rank_one

_LOG_2PI = float(np.log(2.0 * np.pi))

#: Rounding allowed, relative to the terms compared, before a log density above its
#: Gaussian's peak is taken as a quadratic form lost to rounding (:func:`require_below_peak`).
PEAK_ROUNDING = 1e-9

#: What :func:`require_below_peak` raises (numpy's ``LinAlgError``).
PRECISION_LOST = (
    "the volume model's Gaussian log density came out above its peak density: its quadratic "
    "form, a difference of large sums, was lost to rounding (noise variances far out in the "
    "tails, where 1/σ² magnifies the rounding of the data's sums of squares)"
)


def kernel_floats(*arrays: np.ndarray) -> list[np.ndarray]:
    """C-contiguous, writable float64 copies (or the arrays themselves when they already are).

    What every compiled kernel of the volume model is given. Writable too: numba compiles a
    kernel once per layout of its arguments, a read-only array (a broadcast view, an input
    PyTensor marks read-only) being another layout, and a second compile of
    :func:`city_day_gradients` takes about half a minute in a fresh checkout.
    """
    return [np.require(a, dtype=np.float64, requirements=["C", "W"]) for a in arrays]


@numba.njit(cache=True, nogil=True)
def _matvec(a, x, out):
    """Write a @ x into ``out`` (no temporary)."""
    for i in range(a.shape[0]):
        acc = 0.0
        for j in range(a.shape[1]):
            acc += a[i, j] * x[j]
        out[i] = acc


@numba.njit(cache=True, nogil=True)
def _dot(x, y):
    """Dot product of two vectors."""
    acc = 0.0
    for i in range(x.shape[0]):
        acc += x[i] * y[i]
    return acc


@numba.njit(cache=True, nogil=True)
def require_below_peak(logp, n_values, log_det):
    """Raise unless a Gaussian log density lies below its peak, up to rounding.

    A Gaussian density of ``n_values`` values with marginal covariance Σ is at most
    (2π)^(−n/2)|Σ|^(−1/2), its value at its mean: the log density is
    −½(n log 2π + log det Σ + Q) with a quadratic form Q ≥ 0. The kernels compute Q from
    sufficient statistics as a difference (yᵀΣ⁻¹y less what the regression explains); where
    a noise variance is tiny that difference carries the rounding of the data's sums of
    squares times 1/σ², and can come out negative by any amount: a log density of +10¹⁵
    nats at a point NUTS then cannot leave (one chain of the 4,000-zip speed world with seed
    2, every later step diverging). A value above the peak is that failure; this raises
    ``LinAlgError`` (:data:`PRECISION_LOST`), so the sampler rejects the point instead.

    Parameters
    ----------
    logp : float
        The log density (nats).
    n_values : float
        Number of values it is the density of.
    log_det : float
        Log determinant of their marginal covariance.
    """
    peak = -0.5 * (n_values * _LOG_2PI + log_det)
    if logp - peak > PEAK_ROUNDING * (abs(logp) + abs(peak)):
        raise np.linalg.LinAlgError(PRECISION_LOST)


@numba.njit(cache=True, nogil=True)
def require_groups_below_peak(logp, n, log_det):
    """:func:`require_below_peak` for each group's log density (G,) of ``n`` values (G,)."""
    for g in range(logp.shape[0]):
        require_below_peak(logp[g], n[g], log_det[g])


@numba.njit(cache=True, nogil=True)
def _eigen_moments(rhs, d, s2, w, lam, q, columns):
    """Posterior moments of a pattern's groups from their shared eigenbasis (matrix form).

    ``rhs`` (Gu, p) is Xᵀy/σ² + m/d per group, ``d`` (p,) the shared prior variances, ``s2``
    (Gu,) the noise variances. Returns the means (Gu, p), diag V (Gu, p), V[:, columns]
    (Gu, p, K) and log det of the precisions (Gu,).
    """
    n_groups, p = rhs.shape
    k = columns.shape[0]
    wq = w.reshape(-1, 1) * q  # D^½ Q
    wq_t = np.ascontiguousarray(wq.T)
    shrink = 1.0 / (1.0 + lam.reshape(1, -1) / s2.reshape(-1, 1))  # (Gu, p) in the eigenbasis
    mean = ((rhs @ wq) * shrink) @ wq_t
    cov_diag = (shrink @ np.ascontiguousarray((q * q).T)) * d.reshape(1, -1)
    log_det = -np.log(shrink).sum(axis=1) - np.log(d).sum()
    # V[:, c] = D^½ Q diag(shrink) (D^½ Q)[c]ᵀ: one (Gu, p) × (p, p·K) product
    outer = np.empty((p, p, k))
    for j in range(p):
        for i in range(p):
            for c in range(k):
                outer[j, i, c] = wq[i, j] * wq[columns[c], j]
    cov_cols = (shrink @ outer.reshape(p, p * k)).reshape(n_groups, p, k)
    return mean, cov_diag, cov_cols, log_det


@numba.njit(cache=True, nogil=True)
def _dense_posterior(xx, rhs, d_g, s2, columns, mean, cov_diag, cov_cols):
    """One group's posterior by its own factorisation (prior variances not shared).

    Writes the mean, diag V and V[:, columns] in place; returns log det of the precision.
    """
    p = rhs.shape[0]
    precision = xx / s2
    for i in range(p):
        precision[i, i] += 1.0 / d_g[i]
    chol = np.linalg.cholesky(precision)
    cov = np.linalg.inv(precision)
    _matvec(cov, rhs, mean)
    log_det = 0.0
    for i in range(p):
        log_det += 2.0 * np.log(chol[i, i])
        cov_diag[i] = cov[i, i]
        for c in range(columns.shape[0]):
            cov_cols[i, c] = cov[i, columns[c]]
    return log_det


@numba.njit(cache=True, nogil=True)
def _pattern_basis(xx, d, groups):
    """Whether the groups share prior variances; if so, the eigenbasis they all use.

    Returns ``shared``, √d, the eigenvalues (clipped at 0) and eigenvectors of
    D^½ XᵀX D^½ (zeros when not shared).
    """
    p = d.shape[1]
    first = groups[0]
    shared = True
    for g in groups[1:]:
        for i in range(p):
            if d[g, i] != d[first, i]:
                shared = False
    w = np.sqrt(d[first])
    lam = np.zeros(p)
    q = np.zeros((p, p))
    if shared:
        whitened = np.empty((p, p))
        for i in range(p):
            for j in range(p):
                whitened[i, j] = w[i] * xx[i, j] * w[j]
        values, vectors = np.linalg.eigh(whitened)
        lam = np.maximum(values, 0.0)
        q = np.ascontiguousarray(vectors)
    return shared, w, lam, q


@numba.njit(cache=True, nogil=True)
def group_moments(xx, order, starts, xy, yy, n, m, d, s2, columns):
    """Log density of each group and its gradients; posterior moments for the shared level.

    Parameters
    ----------
    xx : numpy.ndarray
        (U, p, p) XᵀX per presence pattern.
    order, starts : numpy.ndarray
        Groups sorted by pattern (G,) and where each pattern's run starts (U + 1,).
    xy, yy, n : numpy.ndarray
        (G, p), (G,), (G,) sufficient statistics.
    m, d : numpy.ndarray
        (G, p) prior means and variances.
    s2 : numpy.ndarray
        (G,) noise variances.
    columns : numpy.ndarray
        (K,) int64 coefficient indices whose posterior covariance columns are returned
        (empty: none).

    Returns
    -------
    tuple
        ``logp`` (G,), ``d_mean`` (G, p), ``d_var`` (G, p), ``d_noise`` (G,), ``mean``
        (G, p), ``cov_diag`` (G, p), ``cov_cols`` (G, p, K) and ``log_det`` (G,), the log
        determinant of each group's marginal covariance (:func:`require_below_peak`).
    """
    n_groups, p = m.shape
    k = columns.shape[0]
    logp = np.empty(n_groups)
    d_mean = np.empty((n_groups, p))
    d_var = np.empty((n_groups, p))
    d_noise = np.empty(n_groups)
    mean = np.empty((n_groups, p))
    cov_diag = np.empty((n_groups, p))
    cov_cols = np.empty((n_groups, p, k))
    log_det_out = np.empty(n_groups)
    for u in range(xx.shape[0]):
        groups = order[starts[u] : starts[u + 1]]
        shared, w, lam, q = _pattern_basis(xx[u], d, groups)
        m_u, d_u, s2_u, xy_u = m[groups], d[groups], s2[groups], xy[groups]
        rhs = xy_u / s2_u.reshape(-1, 1) + m_u / d_u
        if shared:
            mean_u, cov_diag_u, cov_cols_u, log_det_u = _eigen_moments(
                rhs, d_u[0], s2_u, w, lam, q, columns
            )
        else:
            mean_u = np.empty_like(rhs)
            cov_diag_u = np.empty_like(rhs)
            cov_cols_u = np.empty((len(groups), p, k))
            log_det_u = np.empty(len(groups))
            for r in range(len(groups)):
                log_det_u[r] = _dense_posterior(
                    xx[u], rhs[r], d_u[r], s2_u[r], columns, mean_u[r], cov_diag_u[r], cov_cols_u[r]
                )
        xx_m = m_u @ xx[u]  # XᵀX is symmetric
        xx_mu = mean_u @ xx[u]
        # log det of the prior covariance: once per pattern when its groups share it (a log
        # per coefficient and group was most of this kernel's time at thousands of groups)
        if shared:
            log_d_u = np.full(len(groups), np.log(d_u[0]).sum())
        else:
            log_d_u = np.log(d_u).sum(axis=1)
        for r in range(len(groups)):
            g = groups[r]
            s2g = s2_u[r]
            rr, quad_b, resid, trace = yy[g], 0.0, yy[g], float(p)
            for i in range(p):
                mi, mui = m_u[r, i], mean_u[r, i]
                inv_d = 1.0 / d_u[r, i]
                dev = mui - mi
                rr += -2.0 * mi * xy_u[r, i] + mi * xx_m[r, i]
                # bᵀVb = bᵀ(μ − m) because V b = μ − m, with b = Xᵀ(y − Xm)/σ²
                quad_b += (xy_u[r, i] - xx_m[r, i]) / s2g * dev
                resid += -2.0 * mui * xy_u[r, i] + mui * xx_mu[r, i]
                trace -= cov_diag_u[r, i] * inv_d
                d_mean[g, i] = dev * inv_d
                d_var[g, i] = 0.5 * ((dev * dev + cov_diag_u[r, i]) * inv_d - 1.0) * inv_d
            log_det = n[g] * np.log(s2g) + log_d_u[r] + log_det_u[r]
            log_det_out[g] = log_det
            logp[g] = -0.5 * (n[g] * _LOG_2PI + log_det + rr / s2g - quad_b)
            d_noise[g] = -0.5 * n[g] / s2g + 0.5 * (resid + s2g * trace) / (s2g * s2g)
            mean[g] = mean_u[r]
            cov_diag[g] = cov_diag_u[r]
            cov_cols[g] = cov_cols_u[r]
    return logp, d_mean, d_var, d_noise, mean, cov_diag, cov_cols, log_det_out


@numba.njit(cache=True, nogil=True)
def cluster_posterior(mean, cov_cols, m, d, cluster, columns, n_clusters, v, weight):
    """Posterior of each cluster's shared values, and each cluster's extra log density.

    Inputs as for :func:`shared_gradients`, with ``mean`` and ``cov_cols`` from
    :func:`group_moments`; group g carries its cluster's shared values times ``weight[g]``.

    Returns
    -------
    tuple
        ``w_mean`` (C, K), ``w_cov`` (C, K, K), ``chol`` (C, K, K) of P, ``extra`` (C,),
        ``log_det`` (C,) (:func:`_cluster_gaussian`).
    """
    k = columns.shape[0]
    a = np.zeros((n_clusters, k, k))
    b = np.zeros((n_clusters, k))
    for g in range(m.shape[0]):
        c = cluster[g]
        a_g = weight[g]
        for i in range(k):
            ci = columns[i]
            b[c, i] += a_g * (mean[g, ci] - m[g, ci]) / d[g, ci]
            a[c, i, i] += a_g * a_g / d[g, ci]
            for j in range(k):
                a[c, i, j] -= a_g * a_g * cov_cols[g, ci, j] / (d[g, ci] * d[g, columns[j]])
    return _cluster_gaussian(a, b, v)


@numba.njit(cache=True, nogil=True)
def _cluster_gaussian(gain, b, v):
    """Each cluster's shared values given the data: precision ``gain`` + diag(1/v), and b.

    ``gain`` (C, K, K) is the precision the groups add to the prior's diag(1/v) (C, K), ``b``
    (C, K) the groups' linear term. Returns the posterior mean (C, K), covariance P⁻¹
    (C, K, K), Cholesky factor of P (C, K, K), each cluster's log density beyond its
    groups' own, ½bᵀP⁻¹b − ½log det P − ½Σ log v (C,), and log det P + Σ log v (C,): what the
    shared values add to the log determinant of the groups' marginal covariance.
    """
    n_clusters, k = v.shape
    w_mean = np.empty((n_clusters, k))
    w_cov = np.empty((n_clusters, k, k))
    chol = np.empty((n_clusters, k, k))
    extra = np.empty(n_clusters)
    log_det = np.empty(n_clusters)
    for c in range(n_clusters):
        precision = gain[c].copy()
        for i in range(k):
            precision[i, i] += 1.0 / v[c, i]
        chol[c] = np.linalg.cholesky(precision)
        w_cov[c] = np.linalg.inv(precision)
        w_mean[c] = w_cov[c] @ b[c]
        log_det_chol = np.log(np.diag(chol[c])).sum()
        log_det_v = np.log(v[c]).sum()
        extra[c] = 0.5 * (b[c] * w_mean[c]).sum() - log_det_chol - 0.5 * log_det_v
        log_det[c] = 2.0 * log_det_chol + log_det_v
    return w_mean, w_cov, chol, extra, log_det


@numba.njit(cache=True, nogil=True)
def shared_gradients(xx, pattern, xy, yy, n, m, d, s2, cluster, columns, v, weight, own):
    """Log density and gradients with each cluster's shared values integrated out as well.

    ``own`` is :func:`group_moments`' output for the same inputs; group g's prior mean is
    m_g + weight[g]·E w_c (weight 1 for a plain walk). This is the τ = 0 reference of
    :func:`city_day_gradients`, which takes the walk in each partition's eigenbasis instead
    of forming every group's V[:, E] (p × K).

    Returns
    -------
    tuple
        ``logp`` (float), ``d_mean`` (G, p), ``d_var`` (G, p), ``d_noise`` (G,), ``d_shared``
        (C, K).
    """
    logp_g, _, _, _, mean, cov_diag, cov_cols, _ = own
    n_groups, p = m.shape
    k = columns.shape[0]
    n_clusters = v.shape[0]
    posterior = cluster_posterior(mean, cov_cols, m, d, cluster, columns, n_clusters, v, weight)
    w_mean, w_cov, _, extra, _ = posterior
    d_mean = np.empty((n_groups, p))
    d_var = np.empty((n_groups, p))
    d_noise = np.empty(n_groups)
    xx_beta = np.empty(p)
    dev = np.empty(p)
    dev_var = np.empty(p)
    by_cluster = np.argsort(cluster, kind="mergesort")
    bounds = np.searchsorted(cluster[by_cluster], np.arange(n_clusters + 1))
    for c in range(n_clusters):
        groups = by_cluster[bounds[c] : bounds[c + 1]]
        size = len(groups)
        # G_g = V D⁻¹ E for every group of the cluster, stacked: (size·p, K)
        gain = cov_cols[groups]  # a copy: fancy indexing
        for r in range(size):
            for j in range(k):
                gain[r, :, j] *= weight[groups[r]] / d[groups[r], columns[j]]
        gain = gain.reshape(size * p, k)
        beta = mean[groups] + (gain @ w_mean[c]).reshape(size, p)
        gain_cov = gain @ w_cov[c]  # G P⁻¹
        gcg = (gain_cov * gain).sum(axis=1).reshape(size, p)  # diag(G P⁻¹ Gᵀ)
        gain_cov = gain_cov.reshape(size, p, k)
        for r in range(size):
            g = groups[r]
            a_g = weight[g]
            # scalar loops into preallocated rows: no temporary per group (thousands a call)
            trace_own = float(p)
            gcg_over_d = 0.0
            for i in range(p):
                dev[i] = beta[r, i] - m[g, i]
                dev_var[i] = cov_diag[g, i] + gcg[r, i]
                trace_own -= cov_diag[g, i] / d[g, i]
                gcg_over_d += gcg[r, i] / d[g, i]
            at_cols_over_d = 0.0
            for j in range(k):
                col = columns[j]
                dev[col] -= a_g * w_mean[c, j]
                at = gain_cov[r, col, j]
                dev_var[col] += a_g * a_g * w_cov[c, j, j] - 2.0 * a_g * at
                at_cols_over_d += a_g * at / d[g, col]
            _matvec(xx[pattern[g]], beta[r], xx_beta)
            resid = yy[g] - 2.0 * _dot(beta[r], xy[g]) + _dot(xx_beta, beta[r])
            # tr(XᵀX G P⁻¹ Gᵀ) with XᵀX G = σ² D⁻¹(aE − G) (from V⁻¹ = D⁻¹ + XᵀX/σ²)
            trace_shared = -s2[g] * (gcg_over_d - at_cols_over_d)
            for i in range(p):
                inv_d = 1.0 / d[g, i]
                d_mean[g, i] = dev[i] * inv_d
                d_var[g, i] = 0.5 * (dev[i] * dev[i] + dev_var[i]) * inv_d * inv_d - 0.5 * inv_d
            s2g = s2[g]
            d_noise[g] = -0.5 * n[g] / s2g + 0.5 * (resid + s2g * trace_own + trace_shared) / (
                s2g * s2g
            )
    return (
        logp_g.sum() + extra.sum(),
        d_mean,
        d_var,
        d_noise,
        _shared_var_gradient(w_mean, w_cov, v),
    )


@numba.njit(cache=True, nogil=True)
def _shared_var_gradient(w_mean, w_cov, v):
    """∂L/∂v of the clusters' shared values' prior variances (C, K).

    By Fisher's identity ½(ŵ² + P⁻¹_jj)/v² − ½/v, from their posterior mean ŵ (C, K) and
    covariance P⁻¹ (C, K, K).
    """
    d_shared = np.empty(v.shape)
    for c in range(v.shape[0]):
        for j in range(v.shape[1]):
            second_moment = w_mean[c, j] ** 2 + w_cov[c, j, j]
            d_shared[c, j] = 0.5 * second_moment / v[c, j] ** 2 - 0.5 / v[c, j]
    return d_shared


@numba.njit(cache=True, nogil=True)
def _partition_rows(source, members, width):
    """Rows ``members`` of ``source``, first ``width`` columns, as a contiguous array."""
    out = np.empty((members.shape[0], width))
    for i in range(members.shape[0]):
        for a in range(width):
            out[i, a] = source[members[i], a]
    return out


@numba.njit(cache=True, nogil=True)
def _rotate_partitions(xy, m, s2, shock_var, part_members, part_starts, width):
    """Each partition's eigenbasis of diag(σ²) + τ²11ᵀ and its stations' rotated statistics.

    Returns the rotation (G, ``width``) (row ``members[i]`` holds row i of the partition's
    U), the rotated Xᵀy (G, p) and prior means (G, p), the noise variances ν (G,) and the
    walk weights a = Uᵀ1 (G,); rotated group j of a partition sits at ``members[j]``. The
    rotated yᵀy is not formed (it would cost n³ per partition): the log density needs only
    its sum over ν, tr(Σ⁻¹C), which :func:`city_day_gradients` takes in the stations' basis.
    """
    n_groups, p = xy.shape
    rotation = np.zeros((n_groups, width))
    xy_r = np.empty((n_groups, p))
    m_r = np.empty((n_groups, p))
    nu = np.empty(n_groups)
    weight = np.empty(n_groups)
    for k in range(part_starts.shape[0] - 1):
        members = part_members[part_starts[k] : part_starts[k + 1]]
        size = members.shape[0]
        values, u = _shock_eigen(s2[members], shock_var[members[0]])
        u_t = np.ascontiguousarray(u.T)
        xy_rot = u_t @ _partition_rows(xy, members, p)
        m_rot = u_t @ _partition_rows(m, members, p)
        for j in range(size):
            gj = members[j]
            nu[gj] = values[j]
            xy_r[gj] = xy_rot[j]
            m_r[gj] = m_rot[j]
            weight[gj] = u_t[j].sum()
            rotation[gj, :size] = u[j]
    return rotation, xy_r, m_r, nu, weight


@numba.njit(cache=True, nogil=True)
def _shock_eigen(s2, tau2):
    """Eigenvalues (ascending) and eigenvectors of diag(s2) + tau2·11ᵀ, in O(n²)."""
    return eigh_diagonal_plus_rank_one(s2, np.ones(s2.shape[0]), tau2)


@numba.njit(cache=True, nogil=True)
def _partition_bases(xx, pattern, d, part_members, part_starts):
    """The eigenbasis (√d, Λ, Q) of D^½XᵀXD^½ for each partition's days and prior variances.

    Partitions on the same days with the same prior variances share one (computed once).
    Returns √d (P, p), Λ (P, p) and Q (P, p, p).
    """
    n_parts = part_starts.shape[0] - 1
    p = d.shape[1]
    w = np.empty((n_parts, p))
    lam = np.empty((n_parts, p))
    q = np.empty((n_parts, p, p))
    owner = np.full(xx.shape[0], -1)  # the partition whose basis a pattern holds now
    for k in range(n_parts):
        members = part_members[part_starts[k] : part_starts[k + 1]]
        first = members[0]
        u = pattern[first]
        if owner[u] >= 0 and np.array_equal(d[part_members[part_starts[owner[u]]]], d[first]):
            w[k], lam[k], q[k] = w[owner[u]], lam[owner[u]], q[owner[u]]
            continue
        _, w[k], lam[k], q[k] = _pattern_basis(xx[u], d, members)
        owner[u] = k
    return w, lam, q


@numba.njit(cache=True, nogil=True)
def _walk_loading(w, q, columns):
    """F = QᵀD^-½E (p, K): the walk's columns in a partition's eigenbasis."""
    p, k = q.shape[0], columns.shape[0]
    f = np.empty((p, k))
    for e in range(p):
        for c in range(k):
            f[e, c] = q[columns[c], e] / w[columns[c]]
    return f


@numba.njit(cache=True, nogil=True)
def _shrinkage(members, lam, nu, weight):
    """s_je = 1/(1 + Λ_e/ν_j) (n, p) and the walk weights a_j (n,) of a partition's groups."""
    size, p = members.shape[0], lam.shape[0]
    s = np.empty((size, p))
    a = np.empty(size)
    for j in range(size):
        a[j] = weight[members[j]]
        for e in range(p):
            s[j, e] = 1.0 / (1.0 + lam[e] / nu[members[j]])
    return s, a


@numba.njit(cache=True, nogil=True)
def _walk_posterior(bases, mean, m, d, nu, weight, cluster, columns, v, part_members, part_starts):
    """Each city's walk posterior from its rotated groups, in their eigenbases: O(np + pK²).

    The walk's precision gains Σ_j a_j² Eᵀ(D⁻¹ − D⁻¹V_jD⁻¹)E = Fᵀ diag(Σ_j a_j²(1 − s_j)) F
    per partition (V_j = D^½Q diag(s_j) QᵀD^½), so no group's V[:, E] is formed; the rest is
    :func:`cluster_posterior`'s. Returns ``w_mean`` (C, K), ``w_cov`` (C, K, K), ``extra`` (C,)
    and ``log_det`` (C,), log det P + Σ log v: what the walk adds to the log determinant of
    the stations' marginal covariance.
    """
    w_all, lam_all, q_all = bases
    n_clusters, k = v.shape
    a_mat = np.zeros((n_clusters, k, k))
    b = np.zeros((n_clusters, k))
    for part in range(part_starts.shape[0] - 1):
        members = part_members[part_starts[part] : part_starts[part + 1]]
        c = cluster[members[0]]
        f = _walk_loading(w_all[part], q_all[part], columns)
        s, a = _shrinkage(members, lam_all[part], nu, weight)
        gain = ((a * a) @ (1.0 - s)).reshape(-1, 1) * f  # diag(Σ a²(1 − s)) F
        a_mat[c] += np.ascontiguousarray(f.T) @ gain
        for j in range(members.shape[0]):
            g = members[j]
            for i in range(k):
                col = columns[i]
                b[c, i] += a[j] * (mean[g, col] - m[g, col]) / d[g, col]
    w_mean, w_cov, _, extra, log_det = _cluster_gaussian(a_mat, b, v)
    return w_mean, w_cov, extra, log_det


@numba.njit(cache=True, nogil=True)
def _partition_coefficients(
    members, basis, mean, m, d, cov_diag, nu, weight, columns, w_mean_c, w_cov_c
):
    """A partition's rotated groups with their city's walk: means, ∂L/∂m, Σ∂L/∂d, walk terms.

    With G_j = a_j D^½Q diag(s_j) F (the gain of group j on the walk) and the walk's
    posterior mean ŵ and covariance P⁻¹: γ̂_j = μ_j + G_jŵ; ∂L/∂m_j = D⁻¹(γ̂_j − m_j − a_jEŵ);
    the derivative in the tied prior variances sums ½((γ̂ − m − aEŵ)² + diag Cov)/d² − ½/d
    over the groups, where Σ_j diag(G_jP⁻¹G_jᵀ) = diag(D^½Q (H ∘ Σ_j a_j²s_js_jᵀ) QᵀD^½)
    with H = FP⁻¹Fᵀ, O(np² + p³) for the partition instead of O(npK²). Returns γ̂ (n, p),
    ∂L/∂m (n, p), the summed ∂L/∂d (p,), the walk's factor ``right`` = a_j s_j (n, p) and
    ``c`` = Λ ∘ diag(H) (p,) of the residual cross products (:func:`_partition_noise_gradient`).
    """
    w, lam, q = basis
    size, p, k = members.shape[0], lam.shape[0], columns.shape[0]
    f = _walk_loading(w, q, columns)
    fp = f @ w_cov_c  # F P⁻¹ (p, K)
    h = fp @ np.ascontiguousarray(f.T)  # F P⁻¹ Fᵀ (p, p)
    s, a = _shrinkage(members, lam, nu, weight)
    right = a.reshape(-1, 1) * s
    wq_t = np.ascontiguousarray((w.reshape(-1, 1) * q).T)  # (D^½Q)ᵀ
    beta = _partition_rows(mean, members, p) + (right * (f @ w_mean_c).reshape(1, -1)) @ wq_t
    d_mean = np.empty((size, p))
    d_var_sum = np.zeros(p)
    second = np.zeros(p)  # Σ_j (dev_j² + diag V_j)
    a2 = 0.0
    for j in range(size):
        g = members[j]
        a2 += a[j] * a[j]
        for i in range(p):
            dev = beta[j, i] - m[g, i]
            d_mean[j, i] = dev
        for i in range(k):
            d_mean[j, columns[i]] -= a[j] * w_mean_c[i]
        for i in range(p):
            second[i] += d_mean[j, i] * d_mean[j, i] + cov_diag[g, i]
            d_mean[j, i] /= d[g, i]
    # Σ_j diag(G_j P⁻¹ G_jᵀ): d_i Σ_ef Q_ie Q_if H_ef M_ef with M = Σ_j a_j² s_j s_jᵀ
    hm = h * (np.ascontiguousarray(right.T) @ right)
    second += w * w * ((q @ hm) * q).sum(axis=1)
    # the walk's own columns: Σ_j a_j² P⁻¹_ii − 2 Σ_j a_j (G_j P⁻¹)[col_i, i]
    s_sum = (a * a) @ s
    for i in range(k):
        col = columns[i]
        cross = 0.0
        for e in range(p):
            cross += q[col, e] * s_sum[e] * fp[e, i]
        second[col] += a2 * w_cov_c[i, i] - 2.0 * w[col] * cross
    d_row = d[members[0]]
    for i in range(p):
        d_var_sum[i] = 0.5 * second[i] / (d_row[i] * d_row[i]) - 0.5 * size / d_row[i]
    c = lam * np.diag(h).copy()
    return beta, d_mean, d_var_sum, right, c


@numba.njit(cache=True, nogil=True)
def _partition_noise_gradient(s2_p, tau2, n_days, cross, xy_p, beta, beta_xx, walk, c, u, own):
    """∂L/∂σ² of a partition's stations and ∂L/∂τ², and its −½tr(Σ⁻¹C), in O(n² + np).

    By Fisher's identity ∂L/∂Σ = ½Σ⁻¹RΣ⁻¹ − ½TΣ⁻¹ in the stations' basis, with R the
    posterior mean of the residual cross products Σ_t r_t r_tᵀ:
    R = C − B XYᵀ − XY Bᵀ + B XᵀX Bᵀ + W diag(c) Wᵀ + U diag(t) Uᵀ, where C holds the
    stations' cross products, XY their Xᵀy (n, p), B their posterior mean coefficients
    (``beta``, n × p, ``beta_xx`` = B XᵀX), W = U·right the walk's factor (``walk``) and t the
    rotated groups' own traces tr(XᵀX V_j) (``own``). With Σ⁻¹ = D⁻¹ − κggᵀ (g = 1/σ²,
    κ = τ²/(1 + τ²Σg)) only diag(R), Rg and gᵀRg are needed: no n × n product.
    Returns ``d_noise`` (n,), ``d_shock`` and ``half_trace`` = ½tr(Σ⁻¹C).
    """
    size = s2_p.shape[0]
    g = 1.0 / s2_p
    g_sum = g.sum()
    kappa = tau2 / (1.0 + tau2 * g_sum)
    # R g and diag(R), term by term
    r_g = cross @ g
    diag = np.empty(size)
    for s in range(size):
        diag[s] = cross[s, s]
    half_trace = 0.5 * (_dot(g, diag) - kappa * _dot(g, r_g))
    xy_g = np.ascontiguousarray(xy_p.T) @ g
    beta_g = np.ascontiguousarray(beta.T) @ g
    beta_xx_g = np.ascontiguousarray(beta_xx.T) @ g
    walk_g = (np.ascontiguousarray(walk.T) @ g) * c
    u_g = (np.ascontiguousarray(u.T) @ g) * own
    r_g += -(beta @ xy_g) - (xy_p @ beta_g) + beta @ beta_xx_g + walk @ walk_g + u @ u_g
    for s in range(size):
        acc = -2.0 * _dot(beta[s], xy_p[s]) + _dot(beta[s], beta_xx[s])
        for e in range(walk.shape[1]):
            acc += c[e] * walk[s, e] * walk[s, e]
        for j in range(size):
            acc += own[j] * u[s, j] * u[s, j]
        diag[s] += acc
    grg = _dot(g, r_g)
    d_noise = np.empty(size)
    for s in range(size):
        sandwich = g[s] * g[s] * (diag[s] - 2.0 * kappa * r_g[s] + kappa * kappa * grg)
        d_noise[s] = 0.5 * sandwich - 0.5 * n_days * (g[s] - kappa * g[s] * g[s])
    ones_inv = g_sum - kappa * g_sum * g_sum  # 1ᵀΣ⁻¹1
    shrink = 1.0 - kappa * g_sum  # Σ⁻¹1 = g·shrink
    d_shock = 0.5 * shrink * shrink * grg - 0.5 * n_days * ones_inv
    return d_noise, d_shock, half_trace


@numba.njit(cache=True, nogil=True)
def city_day_gradients(
    xx, order, starts, pattern, xy, n, m, d, s2, cluster, columns, v, shock_var,
    part_members, part_starts, cross,
):  # fmt: skip
    """Log density and gradients of stations with a walk and city-day shocks integrated out.

    The formulas of :func:`bayesspr.volume.city_day.city_day_moments` (see its module):
    each partition's stations are rotated into independent groups (:func:`group_moments`
    gives their own posteriors), the city's walk is integrated out one level up in each
    partition's eigenbasis (:func:`_walk_posterior`, :func:`_partition_coefficients`), and
    the derivatives in σ² and τ² take the cross-station residuals (Fisher's identity, in the
    stations' basis: :func:`_partition_noise_gradient`). ``shock_var`` is τ² per group (its
    city's); ``part_members`` lists the partitions' groups one partition after another,
    ``part_starts`` where each starts. A partition of n stations and p coefficients costs
    O(n²p + np² + p³): no n × n × n product and no p × K matrix per station.

    Returns
    -------
    tuple
        ``logp`` (float), ``d_mean`` (G, p), ``d_var`` (G, p; a partition's total split evenly
        among its stations), ``d_noise`` (G,), ``d_shared`` (C, K), ``d_shock`` (G,; each
        partition's derivative on its first station, zero on the others).
    """
    n_groups, p = xy.shape
    rotation, xy_r, m_r, nu, weight = _rotate_partitions(
        xy, m, s2, shock_var, part_members, part_starts, cross.shape[1]
    )
    # yᵀy of the rotated groups is left out here (zero) and its −½Σ_j z_jᵀz_j/ν_j added per
    # partition below: nothing else depends on it
    no_columns = np.empty(0, dtype=np.int64)
    logp_g, _, _, _, mean_r, cov_diag_r, _, log_det_g = group_moments(
        xx, order, starts, xy_r, np.zeros(n_groups), n, m_r, d, nu, no_columns
    )
    bases = _partition_bases(xx, pattern, d, part_members, part_starts)
    w_mean, w_cov, extra, log_det_walk = _walk_posterior(
        bases, mean_r, m_r, d, nu, weight, cluster, columns, v, part_members, part_starts
    )
    logp = logp_g.sum() + extra.sum()
    d_mean = np.empty((n_groups, p))
    d_var = np.empty((n_groups, p))
    d_noise = np.empty(n_groups)
    d_shock = np.zeros(n_groups)
    for part in range(part_starts.shape[0] - 1):
        members = part_members[part_starts[part] : part_starts[part + 1]]
        size = members.shape[0]
        first = members[0]
        c = cluster[first]
        basis = (bases[0][part], bases[1][part], bases[2][part])
        beta_r, d_mean_r, d_var_sum, right, walk_c = _partition_coefficients(
            members, basis, mean_r, m_r, d, cov_diag_r, nu, weight, columns, w_mean[c], w_cov[c]
        )
        own_trace = np.empty(size)  # tr(XᵀX V_j) = ν_j (p − Σ_i V_j,ii / d_i)
        for j in range(size):
            gj = members[j]
            acc = float(p)
            for i in range(p):
                acc -= cov_diag_r[gj, i] / d[gj, i]
            own_trace[j] = nu[gj] * acc
        u = _partition_rows(rotation, members, size)
        beta = u @ beta_r  # the stations' posterior means
        noise_p, shock_p, half_trace = _partition_noise_gradient(
            s2[members], shock_var[first], n[first], _partition_rows(cross, members, size),
            _partition_rows(xy, members, p), beta, beta @ xx[pattern[first]], u @ right,
            walk_c, u, own_trace,
        )  # fmt: skip
        logp -= half_trace
        d_shock[first] = shock_p
        station_mean = u @ d_mean_r
        for i in range(size):
            gi = members[i]
            d_noise[gi] = noise_p[i]
            d_mean[gi] = station_mean[i]
            d_var[gi] = d_var_sum / size
    # the rotated groups' quadratic forms are not bounded one by one (their yᵀy is left
    # out), but all of the stations' together is
    require_below_peak(logp, n.sum(), log_det_g.sum() + log_det_walk.sum())
    return logp, d_mean, d_var, d_noise, _shared_var_gradient(w_mean, w_cov, v), d_shock


# ----------------------------------------------------------------- C entry points for graphs
# A numba function that calls a kernel links the kernel's code into its own and optimises it
# again: 3 s for :func:`group_moments`, 8 s for :func:`city_day_gradients`, at every level of
# a compiled graph (the Op's function, PyTensor's graph, nutpie's wrapper) and every fit. The
# Ops' compiled functions call these C entry points through their addresses instead: compiled
# and cached once, they cost each graph a call. Arrays go in as pointers (C order) with their
# sizes; the outputs are written into arrays the caller allocated. An exception cannot leave a
# C function (numba would print it and return, the outputs unwritten), so these return 0, or 1
# when the kernel raised (a non-finite matrix, or :data:`PRECISION_LOST`, from parameters far
# out in the tails, early in tuning), and the caller raises :data:`KERNEL_FAILED` (nutpie then
# rejects the point).
_P = numba.types.voidptr
_N = numba.types.int64

#: What a caller of the C entry points raises (numpy's ``LinAlgError``) when one returns 1.
KERNEL_FAILED = (
    "a compiled kernel of the volume model's log density failed (a matrix with infinities or "
    "NaNs, or a quadratic form lost to rounding: parameters far out in the tails)"
)


@numba.cfunc(_N(*[_P] * 13, _N, _N, _N), cache=True, nogil=True)
def group_moments_c(
    xx_p, order_p, starts_p, xy_p, yy_p, n_p, m_p, d_p, s2_p,
    logp_p, d_mean_p, d_var_p, d_noise_p, n_groups, p, n_patterns,
):  # fmt: skip  # pragma: no cover - compiled
    """:func:`group_moments`' log density and gradients, called by address.

    Inputs ``xx`` (U, p, p), ``order`` (G,) and ``starts`` (U + 1,) int64, ``xy`` (G, p),
    ``yy``, ``n`` (G,), ``m``, ``d`` (G, p), ``s2`` (G,); outputs ``logp`` (G,), ``d_mean``,
    ``d_var`` (G, p), ``d_noise`` (G,); sizes G, p, U. Returns 0, or 1 if the kernel raised.
    """
    g, u = n_groups, n_patterns
    logp_out = numba.carray(logp_p, (g,), np.float64)
    d_mean_out = numba.carray(d_mean_p, (g, p), np.float64)
    d_var_out = numba.carray(d_var_p, (g, p), np.float64)
    d_noise_out = numba.carray(d_noise_p, (g,), np.float64)
    try:
        n = numba.carray(n_p, (g,), np.float64)
        logp, d_mean, d_var, d_noise, _, _, _, log_det = group_moments(
            numba.carray(xx_p, (u, p, p), np.float64),
            numba.carray(order_p, (g,), np.int64),
            numba.carray(starts_p, (u + 1,), np.int64),
            numba.carray(xy_p, (g, p), np.float64),
            numba.carray(yy_p, (g,), np.float64),
            n,
            numba.carray(m_p, (g, p), np.float64),
            numba.carray(d_p, (g, p), np.float64),
            numba.carray(s2_p, (g,), np.float64),
            np.zeros(0, dtype=np.int64),
        )
        require_groups_below_peak(logp, n, log_det)
        logp_out[:] = logp
        d_mean_out[:] = d_mean
        d_var_out[:] = d_var
        d_noise_out[:] = d_noise
    except Exception:  # see above: no exception may leave a C function
        return 1
    return 0


@numba.cfunc(_N(*[_P] * 22, *[_N] * 7), cache=True, nogil=True)
def city_day_gradients_c(
    xx_p, order_p, starts_p, pattern_p, xy_p, n_p, m_p, d_p, s2_p, cluster_p, columns_p, v_p,
    shock_var_p, part_members_p, part_starts_p, cross_p,
    logp_p, d_mean_p, d_var_p, d_noise_p, d_shared_p, d_shock_p,
    n_groups, p, n_patterns, n_clusters, k, n_partitions, width,
):  # fmt: skip  # pragma: no cover - compiled
    """:func:`city_day_gradients`, called by address.

    Inputs as :func:`city_day_gradients` takes them (``order``, ``starts``, ``pattern``,
    ``cluster``, ``columns``, ``part_members``, ``part_starts`` int64; ``cross`` (G, M)), then
    the outputs ``logp`` (1,), ``d_mean``, ``d_var`` (G, p), ``d_noise`` (G,), ``d_shared``
    (C, K), ``d_shock`` (G,); sizes G, p, U, C, K, the partitions and M. Returns 0, or 1 if
    the kernel raised.
    """
    g, u = n_groups, n_patterns
    logp_out = numba.carray(logp_p, (1,), np.float64)
    d_mean_out = numba.carray(d_mean_p, (g, p), np.float64)
    d_var_out = numba.carray(d_var_p, (g, p), np.float64)
    d_noise_out = numba.carray(d_noise_p, (g,), np.float64)
    d_shared_out = numba.carray(d_shared_p, (n_clusters, k), np.float64)
    d_shock_out = numba.carray(d_shock_p, (g,), np.float64)
    try:
        logp, d_mean, d_var, d_noise, d_shared, d_shock = city_day_gradients(
            numba.carray(xx_p, (u, p, p), np.float64),
            numba.carray(order_p, (g,), np.int64),
            numba.carray(starts_p, (u + 1,), np.int64),
            numba.carray(pattern_p, (g,), np.int64),
            numba.carray(xy_p, (g, p), np.float64),
            numba.carray(n_p, (g,), np.float64),
            numba.carray(m_p, (g, p), np.float64),
            numba.carray(d_p, (g, p), np.float64),
            numba.carray(s2_p, (g,), np.float64),
            numba.carray(cluster_p, (g,), np.int64),
            numba.carray(columns_p, (k,), np.int64),
            numba.carray(v_p, (n_clusters, k), np.float64),
            numba.carray(shock_var_p, (g,), np.float64),
            numba.carray(part_members_p, (g,), np.int64),
            numba.carray(part_starts_p, (n_partitions + 1,), np.int64),
            numba.carray(cross_p, (g, width), np.float64),
        )
        logp_out[0] = logp
        d_mean_out[:] = d_mean
        d_var_out[:] = d_var
        d_noise_out[:] = d_noise
        d_shared_out[:] = d_shared
        d_shock_out[:] = d_shock
    except Exception:  # see above: no exception may leave a C function
        return 1
    return 0
