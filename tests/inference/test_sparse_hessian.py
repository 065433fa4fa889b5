"""Coloured forward differences of a sparse Hessian and draws from a sparse precision
(:mod:`bayesspr.inference.sparse_hessian`, :func:`bayesspr.inference.mode.precision_factor`),
checked against exact Hessians and covariances."""

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse
from scipy.special import expit

from bayesspr.errors import SparsityPatternError, UnconvergedFitError
from bayesspr.inference.mode import precision_factor
from bayesspr.inference.sparse_hessian import colour_columns, coloured_hessian

N_SHARED = 3
N_STATIONS = 6


def hierarchy(n_zips: int, seed: int = 0):
    """A toy hierarchical log density: each row a softplus of its zip, station and the shared
    parameters' sum, plus a unit Gaussian prior; some zips have rows in two stations."""
    rng = np.random.default_rng(seed)
    station_of = rng.integers(0, N_STATIONS, n_zips)
    moved = rng.choice(n_zips, size=max(1, n_zips // 20), replace=False)
    zip_rows = np.concatenate([np.arange(n_zips), moved])
    station_rows = np.concatenate([station_of, (station_of[moved] + 1) % N_STATIONS])
    n = N_SHARED + N_STATIONS + n_zips
    supports = [
        np.concatenate([np.arange(N_SHARED), [N_SHARED + s, N_SHARED + N_STATIONS + z]])
        for z, s in zip(zip_rows, station_rows, strict=True)
    ]
    weights = rng.normal(size=(len(supports), N_SHARED + 2))

    def gradient(x: np.ndarray) -> np.ndarray:
        grad = x.copy()
        for support, w in zip(supports, weights, strict=True):
            grad[support] += expit(w @ x[support]) * w
        return grad

    def exact(x: np.ndarray) -> np.ndarray:
        hess = np.eye(n)
        for support, w in zip(supports, weights, strict=True):
            p = expit(w @ x[support])
            hess[np.ix_(support, support)] += p * (1 - p) * np.outer(w, w)
        return hess

    pattern = np.zeros((n, n), dtype=bool)
    for support in supports:
        pattern[np.ix_(support, support)] = True
    return gradient, exact, pattern, rng.normal(size=n)


@pytest.mark.parametrize("n_zips", [40, 400])
def test_the_coloured_hessian_is_the_exact_one_from_a_few_gradients(n_zips):
    gradient, exact, pattern, x = hierarchy(n_zips)
    colouring = colour_columns(scipy.sparse.csr_array(pattern))
    hessian = coloured_hessian(gradient, x, colouring)
    assert hessian.toarray() == pytest.approx(exact(x), rel=1e-5, abs=2e-6)
    # the shared parameters each, the stations a few, every zip one: not one per zip
    assert colouring.n_colours <= N_SHARED + N_STATIONS + 2
    dense = scipy.optimize.approx_fprime(x, gradient)
    assert hessian.toarray() == pytest.approx(0.5 * (dense + dense.T), rel=1e-5, abs=2e-6)


def test_a_pattern_that_misses_a_coupling_is_refused():
    gradient, _, pattern, x = hierarchy(40)
    wrong = pattern.copy()
    wrong[: N_SHARED + N_STATIONS, N_SHARED + N_STATIONS :] = False  # forget zips' couplings
    wrong[N_SHARED + N_STATIONS :, : N_SHARED + N_STATIONS] = False
    with pytest.raises(SparsityPatternError, match="misses a coupling"):
        coloured_hessian(gradient, x, colour_columns(scipy.sparse.csr_array(wrong)))


def test_draws_from_a_sparse_precision_have_its_inverse_as_covariance():
    _, exact, _, x = hierarchy(60, seed=3)
    precision = exact(x)
    factor = precision_factor(scipy.sparse.csr_array(precision))
    # whitening the identity gives W with W Wᵀ = Q⁻¹ exactly
    whitened = factor.whiten(np.eye(len(precision)))
    assert whitened @ whitened.T == pytest.approx(np.linalg.inv(precision), abs=1e-10)


def test_a_precision_that_is_not_positive_definite_is_refused():
    indefinite = scipy.sparse.csr_array(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(UnconvergedFitError, match="not positive definite"):
        precision_factor(indefinite)
