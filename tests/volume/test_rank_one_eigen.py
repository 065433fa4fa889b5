"""The O(n²) eigen-decomposition of diag(d) + ρzzᵀ against numpy's dense ``eigh``."""

from __future__ import annotations

import numpy as np
import pytest

from bayesspr.volume.rank_one_eigen import eigh_diagonal_plus_rank_one


def _check(diagonal: np.ndarray, z: np.ndarray, rho: float) -> None:
    values, vectors = eigh_diagonal_plus_rank_one(diagonal, z, rho)
    matrix = np.diag(diagonal) + rho * np.outer(z, z)
    scale = np.abs(matrix).max()
    n = len(diagonal)
    assert np.all(np.diff(values) >= 0.0)
    np.testing.assert_allclose(values, np.linalg.eigvalsh(matrix), rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(n), rtol=0, atol=1e-13 * n)
    rebuilt = vectors @ np.diag(values) @ vectors.T
    np.testing.assert_allclose(rebuilt, matrix, rtol=0, atol=1e-13 * scale)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101])
def test_distinct_diagonal_with_the_city_shock(n: int) -> None:
    rng = np.random.default_rng(n)
    _check(rng.uniform(1e-4, 1e-2, n), np.ones(n), 0.01)


@pytest.mark.parametrize("n", [2, 7, 60])
def test_equal_and_nearly_equal_entries_are_deflated(n: int) -> None:
    rng = np.random.default_rng(n)
    tied = rng.uniform(1e-4, 1e-2, n)
    tied[: n // 2] = tied[0]
    _check(tied, np.ones(n), 0.01)
    near = 0.0025 + rng.integers(0, 3, n) * 1e-18
    _check(near, np.ones(n), 0.01)
    _check(np.full(n, 0.0025), np.ones(n), 0.01)


def test_scales_and_updates_from_none_to_dominant() -> None:
    rng = np.random.default_rng(7)
    diagonal = 10.0 ** rng.uniform(-8, 0, 40)
    for rho in (0.0, 1e-20, 1e-6, 1.0, 1e4):
        _check(diagonal, np.ones(40), rho)
    z = rng.normal(size=40)
    z[::5] = 0.0
    _check(diagonal, z, 0.3)
    _check(diagonal, np.zeros(40), 0.3)


def test_eigenvectors_diagonalise_the_city_day_covariance_of_the_kernel() -> None:
    # the kernel's own use: diag(σ²) + τ²11ᵀ, stations in no particular order
    from bayesspr.volume.group_kernels import _shock_eigen

    s2 = np.random.default_rng(3).uniform(0.001, 0.01, 30)
    values, vectors = _shock_eigen(s2, 0.004)
    covariance = np.diag(s2) + 0.004
    np.testing.assert_allclose(vectors.T @ covariance @ vectors, np.diag(values), atol=1e-15)
