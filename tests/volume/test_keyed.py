"""Counter-based normals: the compiled kernel against the SplitMix64/Box–Muller formulas."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy import stats

from bayesspr.errors import ArgumentError
from bayesspr.volume.keyed import (
    keyed_normal_pairs,
    keyed_normals,
    name_keys_64,
)

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


def _pair_formula(stream: int, n_samples: int, days: np.ndarray, groups: np.ndarray):
    """Both Box–Muller normals of (stream, sample position, day, group), one step at a time."""
    samples = _mix(np.uint64(stream) ^ _mix(np.arange(n_samples, dtype=np.uint64)))
    with np.errstate(over="ignore"):
        h = _mix(_mix(samples[:, None, None] ^ days[None, :, None]) ^ groups[None, None, :])
        h2 = _mix(h ^ np.uint64(0xD1B54A32D192ED03))
    u1 = ((h >> np.uint64(11)).astype(float) + 0.5) * 2.0**-53
    u2 = ((h2 >> np.uint64(11)).astype(float) + 0.5) * 2.0**-53
    radius, angle = np.sqrt(-2.0 * np.log(u1)), 2.0 * np.pi * u2
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)])


def test_normal_pairs_equal_the_formula_and_one_is_the_first_of_two():
    days, groups = np.arange(20_000, 20_040, dtype=np.uint64), _keys(9, 15)
    got = keyed_normal_pairs(123, 6, days, groups)
    assert got.shape == (2, 6, 40, 15) and got.dtype == np.float32
    np.testing.assert_allclose(got, _pair_formula(123, 6, days, groups), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(keyed_normal_pairs(123, 6, days, groups, 1)[0], got[0])
    # a day or group asked for beside others, or fewer samples, keeps its values
    part = keyed_normal_pairs(123, 4, days[5:9], groups[3:7])
    np.testing.assert_array_equal(part, got[:, :4, 5:9, 3:7])
    assert not np.array_equal(keyed_normal_pairs(124, 6, days, groups), got)


def test_normal_pairs_are_two_independent_standard_normals():
    first, second = keyed_normal_pairs(5, 50, np.arange(200, dtype=np.uint64), _keys(10, 40))
    for values in (first.ravel(), second.ravel()):
        assert stats.kstest(values.astype(float), "norm").pvalue > 1e-3
    n = first.size
    assert abs(np.corrcoef(first.ravel(), second.ravel())[0, 1]) < 4 / np.sqrt(n)
    # nor are their squares (a pair shares its radius: uncorrelated, and independent)
    assert abs(np.corrcoef(first.ravel() ** 2, second.ravel() ** 2)[0, 1]) < 4 / np.sqrt(n)


def test_normal_pairs_refuse_other_counts_and_long_name_keys_are_stable():
    with pytest.raises(ArgumentError, match="expected 1 or 2"):
        keyed_normal_pairs(1, 2, np.arange(3, dtype=np.uint64), _keys(1, 2), 3)
    keys = name_keys_64(["Z00001", "Z00002", 12345])
    assert keys.dtype == np.uint64 and len(set(keys.tolist())) == 3
    np.testing.assert_array_equal(name_keys_64(["Z00001"]), keys[:1])
    digest = hashlib.blake2b(b"Z00001", digest_size=8).digest()
    assert int(keys[0]) == int.from_bytes(digest, "little")
