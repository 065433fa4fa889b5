"""Each zip's share-noise scale drawn from its exact conditional posterior given the spreads.

In the zips block of :class:`bayesspr.volume.model.VolumeModel` a zip's log share of its
station on a day is a Gaussian regression (level, growth, weekday, drift knots) whose
coefficients are integrated out, with one noise scale σ_z per zip (log-normal prior) and
prior variances of the coefficients set by the network's spreads. Given the spreads, the zips
are independent and each σ_z has a one-dimensional posterior:

log p(t | y_z, spreads) = −n t − ½ Σ_k log(1 + λ_k e^(−2t)) − ½ e^(−2t) (rᵀr − Σ_k v_k² /
(e^(2t) + λ_k)) − ½ ((t − μ)/τ)² + const,  t = log σ_z,

where λ_k are the eigenvalues of D½XᵀXD½ of the zip's presence pattern (D the coefficients'
prior variances), r = y − Xm its responses less their prior mean, v = Qᵀ D½ Xᵀr (the matrix
determinant lemma and Woodbury's identity of
:mod:`~bayesspr.volume.gaussian_groups`, nothing but sufficient statistics), and μ, τ the
prior's log median and log sd. :func:`draw_share_noise` draws t from it by inverse transform
on a grid: Newton's method finds its mode and curvature, 48 cells over ±6 of its Laplace sd
(widened until the density at both ends is e⁻²⁰ of the peak or less) hold the density,
its logarithm linear within each cell between its values at the cell's edges, and a uniform
picks a cell by the cumulative sum and a point within it by that exponential's inverse. The
tests compare the draws with the density on a fine grid (Kolmogorov–Smirnov).

This is the second stage of the zips block's cut route (:mod:`bayesspr.volume.model`,
``VolumeModel.cut_min_zips``): NUTS on a subset of zips gives draws of the spreads, and
every zip's scale is drawn here given each draw, in compiled loops, by city.
"""

from __future__ import annotations

import numba
import numpy as np

from bayesspr.volume.gaussian_groups import GroupStatistics
from bayesspr.volume.group_kernels import kernel_floats

#: Cells of the grid a draw is taken from.
GRID_CELLS = 48
#: Half-width of the first grid, in Laplace sds of the mode.
GRID_HALF_WIDTH_SD = 6.0
#: The grid is widened until the log density at both ends is this far below the peak.
GRID_TAIL_DROP = 20.0
#: Newton steps allowed to find a zip's mode.
NEWTON_STEPS = 60


@numba.njit(cache=True, nogil=True)
def _log_density(t, n, rr, v, lam, mu, tau):
    """The conditional log density of t = log σ (up to a constant; see the module)."""
    r = np.exp(-2.0 * t)
    s2 = 1.0 / r
    log_det = 0.0
    explained = 0.0
    product = 1.0
    for k in range(lam.shape[0]):
        product *= 1.0 + lam[k] * r
        if (k % 6) == 5:  # a log of a product of six factors, not one log per factor
            log_det += np.log(product)
            product = 1.0
        explained += v[k] * v[k] / (s2 + lam[k])
    log_det += np.log(product)
    quad = max(rr - explained, 0.0) * r
    z = (t - mu) / tau
    return -n * t - 0.5 * log_det - 0.5 * quad - 0.5 * z * z


@numba.njit(cache=True, nogil=True)
def _slopes(t, n, rr, v, lam, mu, tau):
    """First and second derivatives of :func:`_log_density` in t."""
    r = np.exp(-2.0 * t)
    d1 = -n + rr * r  # −n t − ½ rr·r: first −n + rr·r, second −2 rr·r
    d2 = -2.0 * rr * r
    for k in range(lam.shape[0]):
        lr = lam[k] * r
        c = 1.0 / (1.0 + lr)
        a = lr * c
        # −½ log(1 + λr): first derivative a, second −2a(1 − a)
        d1 += a
        d2 -= 2.0 * a * (1.0 - a)
        # +½ v² r²/(1 + λr): first −v² r² c (c + 1), second 2 v² r² c (2c² + c + 1)
        w = v[k] * v[k] * r * r * c
        d1 -= w * (c + 1.0)
        d2 += 2.0 * w * (2.0 * c * c + c + 1.0)
    d1 -= (t - mu) / (tau * tau)
    d2 -= 1.0 / (tau * tau)
    return d1, d2


@numba.njit(cache=True, nogil=True)
def _mode(n, rr, v, lam, mu, tau, start):
    """Newton's method for the mode of t from ``start`` (NaN: the data's), and the curvature."""
    if np.isnan(start):
        start = 0.5 * np.log(max(rr / max(n, 1.0), 1e-12))
    t = min(max(start, mu - 12.0 * tau), mu + 12.0 * tau)
    d2 = -1.0 / (tau * tau)
    for _ in range(NEWTON_STEPS):
        d1, d2 = _slopes(t, n, rr, v, lam, mu, tau)
        step = -d1 / d2 if d2 < 0.0 else (0.5 if d1 > 0.0 else -0.5)
        step = min(max(step, -1.0), 1.0)
        t += step
        if abs(step) < 1e-7:
            break
    d1, d2 = _slopes(t, n, rr, v, lam, mu, tau)
    return t, d2


@numba.njit(cache=True, nogil=True)
def _draw_one(n, rr, v, lam, mu, tau, u, cells, edges, modes, g):
    """One draw of t by inverse transform on the grid around the mode (see the module).

    Newton starts at ``modes[g]``, the zip's mode under the previous sample of the spreads
    (they move little from one to the next), and leaves this sample's there.
    """
    mode, curvature = _mode(n, rr, v, lam, mu, tau, modes[g])
    modes[g] = mode
    sd = 1.0 / np.sqrt(-curvature) if curvature < 0.0 else tau
    peak = _log_density(mode, n, rr, v, lam, mu, tau)
    lo = mode - GRID_HALF_WIDTH_SD * sd
    hi = mode + GRID_HALF_WIDTH_SD * sd
    for _ in range(30):  # widen a side whose end still holds density
        wider = False
        if _log_density(lo, n, rr, v, lam, mu, tau) > peak - GRID_TAIL_DROP:
            lo = mode - 2.0 * (mode - lo)
            wider = True
        if _log_density(hi, n, rr, v, lam, mu, tau) > peak - GRID_TAIL_DROP:
            hi = mode + 2.0 * (hi - mode)
            wider = True
        if not wider:
            break
    # the log density at the cells' edges, linear within a cell (an exponential density)
    h = (hi - lo) / cells.shape[0]
    left = _log_density(lo, n, rr, v, lam, mu, tau) - peak
    left_density = np.exp(left)
    total = 0.0
    for j in range(cells.shape[0]):
        right = _log_density(lo + (j + 1) * h, n, rr, v, lam, mu, tau) - peak
        right_density = np.exp(right)
        edges[j] = left
        rise = right - left
        # ∫₀¹ exp(left + rise·x) dx, in units of h
        if abs(rise) < 1e-9:
            total += 0.5 * (left_density + right_density)
        else:
            total += (right_density - left_density) / rise
        cells[j] = total
        left, left_density = right, right_density
    edges[cells.shape[0]] = left
    target = u * total
    for j in range(cells.shape[0]):
        if cells[j] >= target:
            mass = target - (cells[j - 1] if j > 0 else 0.0)  # in units of h
            a, rise = edges[j], edges[j + 1] - edges[j]
            scaled = mass * np.exp(-a)
            if abs(rise) < 1e-9:
                within = scaled
            else:  # e^a (e^(rise x) − 1) / rise = mass
                within = np.log(max(1.0 + scaled * rise, 1e-300)) / rise
            return lo + (j + min(max(within, 0.0), 1.0)) * h
    return hi


@numba.njit(cache=True, nogil=True)
def _draw_pattern(lam, q, root, xr, rr, n, mu, tau, uniforms, out):
    """Draws of t for the zips of one presence pattern, every sample of the spreads.

    ``lam`` (S, p) and ``q`` (S, p, p) the eigen-decomposition of D½XᵀXD½ per sample, ``root``
    (S, p) D½, ``xr`` (G, p) Xᵀr, ``rr`` and ``n`` (G,), ``uniforms`` and ``out`` (S, G).
    """
    n_samples, p = lam.shape
    scaled = np.empty(p)
    v = np.empty(p)
    cells = np.empty(GRID_CELLS)
    edges = np.empty(GRID_CELLS + 1)
    modes = np.full(xr.shape[0], np.nan)
    for s in range(n_samples):
        for g in range(xr.shape[0]):
            for j in range(p):
                scaled[j] = root[s, j] * xr[g, j]
            for k in range(p):
                acc = 0.0
                for j in range(p):
                    acc += q[s, j, k] * scaled[j]
                v[k] = acc
            out[s, g] = _draw_one(
                n[g], rr[g], v, lam[s], mu, tau, uniforms[s, g], cells, edges, modes, g
            )


def share_noise_log_density(
    stats: GroupStatistics,
    prior_mean: np.ndarray,
    prior_var: np.ndarray,
    log_sd: np.ndarray,
    prior_log_median: float,
    prior_log_sd: float,
) -> np.ndarray:
    """The conditional log density of each zip's log noise scale at given values (checks).

    Parameters
    ----------
    stats : GroupStatistics
        Share statistics of G zips (p coefficients).
    prior_mean : numpy.ndarray
        (G, p) prior means of the coefficients.
    prior_var : numpy.ndarray
        (p,) prior variances of the coefficients (the spreads' values; shared by the zips).
    log_sd : numpy.ndarray
        (K, G) log noise scales t at which to evaluate.
    prior_log_median, prior_log_sd : float
        μ and τ of the scale's log-normal prior.

    Returns
    -------
    numpy.ndarray
        (K, G) log density (nats), up to a constant per zip.
    """
    lam, q, root, xr, rr = _pattern_terms(stats, prior_mean, np.asarray(prior_var)[None])
    out = np.empty(np.shape(log_sd))
    for g in range(stats.n_groups):
        u = stats.pattern[g]
        v = q[u][0].T @ (root[0] * xr[g])
        for k in range(out.shape[0]):
            out[k, g] = _log_density(
                float(log_sd[k, g]),
                float(stats.n[g]),
                float(rr[g]),
                v,
                lam[u][0],
                prior_log_median,
                prior_log_sd,
            )
    return out


def _pattern_terms(
    stats: GroupStatistics, prior_mean: np.ndarray, prior_var: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Eigen-decompositions of D½XᵀXD½, D½, and each zip's Xᵀr and rᵀr (r = y − Xm).

    Per pattern λ (S, p) and Q (S, p, p) for each sample of D (S, p); D½ (S, p); Xᵀr (G, p);
    rᵀr (G,).
    """
    root = np.sqrt(prior_var)
    xx = stats.xx[stats.pattern]
    xr = stats.xy - np.einsum("gij,gj->gi", xx, prior_mean)
    rr = (
        stats.yy
        - 2.0 * np.einsum("gi,gi->g", prior_mean, stats.xy)
        + np.einsum("gi,gi->g", prior_mean, np.einsum("gij,gj->gi", xx, prior_mean))
    )
    lam, q = [], []
    for pattern_xx in stats.xx:
        values, vectors = np.linalg.eigh(root[:, :, None] * pattern_xx[None] * root[:, None, :])
        lam.append(np.maximum(values, 0.0))
        q.append(vectors)
    return lam, q, root, xr, rr


def draw_share_noise(
    stats: GroupStatistics,
    prior_mean: np.ndarray,
    prior_var: np.ndarray,
    prior_log_median: float,
    prior_log_sd: float,
    uniforms: np.ndarray,
) -> np.ndarray:
    """Each zip's share-noise scale drawn from its conditional posterior, per spreads sample.

    Parameters
    ----------
    stats : GroupStatistics
        Share statistics of G zips (p coefficients).
    prior_mean : numpy.ndarray
        (G, p) prior means of the coefficients (the zip's level mean, zeros).
    prior_var : numpy.ndarray
        (S, p) prior variances of the coefficients, one row per sample of the spreads
        (shared by the zips).
    prior_log_median, prior_log_sd : float
        μ and τ of the scale's log-normal prior (log of its median, sd of its log).
    uniforms : numpy.ndarray
        (S, G) uniform values in (0, 1), one per draw.

    Returns
    -------
    numpy.ndarray
        (S, G) noise scales σ_z (log-share units), each a draw from p(σ_z | y_z, spreads_s).
    """
    prior_var = np.atleast_2d(np.asarray(prior_var, dtype=float))
    lam, q, root, xr, rr = _pattern_terms(stats, np.asarray(prior_mean, float), prior_var)
    out = np.empty((prior_var.shape[0], stats.n_groups))
    for u in range(len(stats.xx)):
        zips = np.flatnonzero(stats.pattern == u)
        if not len(zips):
            continue
        part = np.empty((prior_var.shape[0], len(zips)))
        args = kernel_floats(lam[u], q[u], root, xr[zips], rr[zips], stats.n[zips])
        (unit,) = kernel_floats(uniforms[:, zips])
        _draw_pattern(*args, float(prior_log_median), float(prior_log_sd), unit, part)
        out[:, zips] = part
    return np.exp(out)
