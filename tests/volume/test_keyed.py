"""Counter-based normals: the compiled kernel against the SplitMix64/Box–Muller formulas."""

from __future__ import annotations

import numpy as np
from scipy import stats

from bayesspr.volume.keyed import keyed_normals, linear_with_keyed_noise

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _formula(samples: np.ndarray, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The definition, one numpy operation at a time (the package's earlier implementation)."""
    with np.errstate(over="ignore"):
        h = _mix(_mix(_mix(samples)[:, None, None] ^ days[None, :, None]) ^ groups[None, None, :])
        h2 = _mix(h ^ np.uint64(0xD1B54A32D192ED03))
    u1 = ((h >> np.uint64(11)).astype(float) + 0.5) * 2.0**-53
    u2 = ((h2 >> np.uint64(11)).astype(float) + 0.5) * 2.0**-53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _keys(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**63, n, dtype=np.uint64)


def test_compiled_normals_equal_the_formula():
    samples, groups, days = _keys(0, 7), _keys(1, 13), np.arange(19_000, 19_031, dtype=np.uint64)
    got = keyed_normals(samples, groups, days)
    assert got.shape == (7, 31, 13)
    np.testing.assert_allclose(got, _formula(samples, groups, days), rtol=0, atol=1e-12)


def test_a_value_does_not_depend_on_what_is_asked_beside_it():
    samples, groups, days = _keys(2, 5), _keys(3, 11), np.arange(30, dtype=np.uint64)
    whole = keyed_normals(samples, groups, days)
    part = keyed_normals(samples[1:3], groups[4:9], days[10:20])
    np.testing.assert_array_equal(whole[1:3, 10:20, 4:9], part)


def test_the_values_are_standard_normal():
    values = keyed_normals(_keys(4, 40), _keys(5, 50), np.arange(100, dtype=np.uint64)).ravel()
    assert stats.kstest(values, "norm").pvalue > 1e-3
    # neighbouring groups are not correlated
    table = values.reshape(-1, 50)
    assert abs(np.corrcoef(table[:, 0], table[:, 1])[0, 1]) < 4 / np.sqrt(len(table))


def test_the_fused_linear_predictor_equals_its_parts():
    rng = np.random.default_rng(6)
    samples, groups, days = _keys(7, 4), _keys(8, 9), np.arange(500, 540, dtype=np.uint64)
    design, beta = rng.normal(size=(40, 5)), rng.normal(size=(4, 9, 5))
    scale = rng.gamma(2.0, size=(4, 9))
    got = linear_with_keyed_noise(design, beta, scale, samples, groups, days)
    expected = np.einsum("dp,sgp->sdg", design, beta) + scale[:, None, :] * _formula(
        samples, groups, days
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11)
    # a scalar scale broadcasts; no noise leaves the linear predictor alone
    plain = linear_with_keyed_noise(design, beta, 0.0, samples, groups, days)
    np.testing.assert_allclose(plain, np.einsum("dp,sgp->sdg", design, beta), atol=1e-12)
