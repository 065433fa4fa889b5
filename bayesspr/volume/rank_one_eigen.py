"""Eigen-decomposition of a diagonal matrix plus a rank-one update, in O(n²).

A city's day covariance under city-day shocks is diag(σ²) + τ²11ᵀ (see
:mod:`bayesspr.volume.city_day`); the fit needs its eigenvectors at every gradient. A dense
``eigh`` costs O(n³) (0.6 ms for a city of 100 stations on one core); the eigenvalues of
diag(d) + ρzzᵀ are the roots of the secular equation 1 + ρ Σ z_i²/(d_i − λ) = 0, one between
each pair of neighbouring d, and the eigenvectors follow from them in O(n²). That is the
merge step of LAPACK's divide-and-conquer eigensolver, whose routine ``dlaed9`` (roots by
``dlaed4``, eigenvectors by Löwner's formula so that they come out orthogonal to working
precision) is called here from SciPy's LAPACK. What LAPACK leaves to its caller is done
here the way ``dlaed2`` does it: sort the diagonal, and **deflate** the components whose
update is negligible (ρ|z_i| below 8 ε max(|d|, ρ)) and pairs of nearly equal d_i (a Givens
rotation moves z_i onto its neighbour when the coupling it leaves out, |(d_i − d_j) c s|, is
below the same tolerance): their eigenpairs are known, and the secular equation keeps only
distinct poles.

The kernel is compiled by numba, and its LAPACK call is resolved by a symbol name registered
at import (not a constant address), so it is cached on disk like the other kernels.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

_SYMBOL = "bayesspr_scipy_dlaed9"
llvm.add_symbol(_SYMBOL, get_cython_function_address("scipy.linalg.cython_lapack", "dlaed9"))
_int_p = types.CPointer(types.intc)
_float_p = types.CPointer(types.float64)
#: LAPACK dlaed9(K, KSTART, KSTOP, N, D, Q, LDQ, RHO, DLAMDA, W, S, LDS, INFO)
_dlaed9 = types.ExternalFunction(
    _SYMBOL,
    types.void(
        _int_p, _int_p, _int_p, _int_p, _float_p, _float_p, _int_p, _float_p, _float_p,
        _float_p, _float_p, _int_p, _int_p,
    ),
)  # fmt: skip

_EPS = float(np.finfo(np.float64).eps)


@numba.njit(cache=True, nogil=True)
def _secular_eigen(poles, z, rho):
    """Roots (k,) and unit eigenvectors (k, k; row j is vector j) by LAPACK ``dlaed9``.

    ``poles`` strictly increasing, ``z`` of unit norm, ``rho`` > 0; returns ``info`` too.
    """
    k = poles.shape[0]
    # K, KSTART, KSTOP, N, LDQ, LDS, INFO: one array, each argument a pointer into it
    ints = np.array([k, 1, k, k, k, k, 0], dtype=np.intc)
    roots = np.empty(k)
    work = np.empty((k, k))
    vectors = np.empty((k, k))  # column-major S(LDS, K): vector j is row j here
    rho_arr = np.array([rho])
    poles_arr = poles.copy()
    z_arr = z.copy()
    _dlaed9(
        ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes, ints[3:].ctypes, roots.ctypes,
        work.ctypes, ints[4:].ctypes, rho_arr.ctypes, poles_arr.ctypes, z_arr.ctypes,
        vectors.ctypes, ints[5:].ctypes, ints[6:].ctypes,
    )  # fmt: skip
    return roots, vectors, ints[6]


@numba.njit(cache=True, nogil=True)
def _deflate(d, u, rho, tol):
    """Deflate sorted ``d`` and unit ``u`` in place (``dlaed2``'s two tests).

    Returns the accumulated Givens rotations (n, n), whether any was applied, and which
    coordinates stay in the secular equation.
    """
    n = d.shape[0]
    rotation = np.eye(n)
    rotated = False
    kept = np.zeros(n, dtype=np.bool_)
    rep = -1
    for i in range(n):
        if rho * abs(u[i]) <= tol:
            continue  # the update barely touches coordinate i: e_i is an eigenvector
        if rep >= 0:
            r = np.hypot(u[rep], u[i])
            c, s = u[rep] / r, u[i] / r
            if abs((d[i] - d[rep]) * c * s) <= tol:
                # nearly equal poles: rotate u_i onto u_rep; the rotated coordinate i is an
                # eigenvector (coupling (d_i − d_rep)cs left out)
                u[rep], u[i] = r, 0.0
                for a in range(n):
                    wr, wi = rotation[a, rep], rotation[a, i]
                    rotation[a, rep] = c * wr + s * wi
                    rotation[a, i] = -s * wr + c * wi
                rotated = True
                continue
        rep = i
        kept[i] = True
    return rotation, rotated, kept


@numba.njit(cache=True, nogil=True)
def eigh_diagonal_plus_rank_one(diagonal, z, rho):
    """Eigenvalues and eigenvectors of diag(diagonal) + rho·z zᵀ, as ``numpy.linalg.eigh``.

    Parameters
    ----------
    diagonal : numpy.ndarray
        (n,) the diagonal d.
    z : numpy.ndarray
        (n,) the update's vector (any norm).
    rho : float
        The update's weight, ≥ 0.

    Returns
    -------
    values : numpy.ndarray
        (n,) eigenvalues, ascending.
    vectors : numpy.ndarray
        (n, n) orthonormal eigenvectors, column j for ``values[j]``.

    Raises
    ------
    numpy.linalg.LinAlgError
        If LAPACK's secular-equation solver does not converge (its ``info`` > 0).
    """
    n = diagonal.shape[0]
    perm = np.argsort(diagonal, kind="mergesort")
    d = diagonal[perm].astype(np.float64)
    norm = np.sqrt((z * z).sum())
    u = np.zeros(n) if norm == 0.0 else z[perm] / norm  # unit vector; rho carries the norm
    rho_unit = rho * norm * norm
    tol = 8.0 * _EPS * max(max(abs(d[0]), abs(d[-1])), rho_unit)
    rotation, rotated, kept = _deflate(d, u, rho_unit, tol)
    values = d.copy()
    inner = np.eye(n)
    idx = np.flatnonzero(kept)
    if idx.shape[0] > 0:
        u_kept = u[idx]
        scale = np.sqrt((u_kept * u_kept).sum())  # 1 up to the deflated remainder
        roots, secular, info = _secular_eigen(d[idx], u_kept / scale, rho_unit * scale * scale)
        if info != 0:
            raise np.linalg.LinAlgError("LAPACK dlaed9 did not converge")
        for j in range(idx.shape[0]):
            values[idx[j]] = roots[j]
            for i in range(idx.shape[0]):
                inner[idx[i], idx[j]] = secular[j, i]
    order = np.argsort(values, kind="mergesort")
    sorted_vectors = rotation @ inner if rotated else inner
    vectors = np.empty((n, n))
    for r in range(n):
        for j in range(n):
            vectors[perm[r], j] = sorted_vectors[r, order[j]]
    return values[order], vectors
