"""The fused zip-day kernels equal the numpy formulas they replaced: softmax shares, rounding."""

import numpy as np
import pytest

from bayesspr.volume.volume_kernels import share_normalisers, zip_day_draws

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x):
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _pair(samples, days, zips):
    """Both Box–Muller normals of (sample, day, zip), (2, S, D, Z), one numpy step at a time."""
    with np.errstate(over="ignore"):
        h = _mix(_mix(_mix(samples)[:, None, None] ^ days[None, :, None]) ^ zips[None, None, :])
        h2 = _mix(h ^ np.uint64(0xD1B54A32D192ED03))
    u1 = ((h >> np.uint64(11)).astype(float) + 0.5) * 2.0**-53
    u2 = ((h2 >> np.uint64(11)).astype(float) + 0.5) * 2.0**-53
    radius, angle = np.sqrt(-2.0 * np.log(u1)), 2.0 * np.pi * u2
    return radius * np.cos(angle), radius * np.sin(angle)


def _world(seed=0, n_s=6, n_d=23, n_z=11, n_k=3):
    rng = np.random.default_rng(seed)
    keys = [rng.integers(0, 2**63, n, dtype=np.uint64) for n in (n_s, n_d, n_z)]
    station = np.sort(rng.integers(0, n_k, n_z))
    station[:n_k] = np.arange(n_k)  # every station has a zip
    station.sort()
    design = np.column_stack([np.ones(n_d), rng.normal(size=(n_d, 3))])
    design[: n_d // 2, 3] = 0.0  # a knot not reached yet
    beta = rng.normal(-2.5, 0.4, (n_s, n_z, 4))
    scale = rng.gamma(4.0, 0.05, (n_s, n_z))
    offset = np.array([beta[0, station == k, 0].max() for k in range(n_k)])[station]
    ratio = (design[:, :2], rng.normal(0.3, 0.1, (n_s, n_z, 2)), rng.gamma(4.0, 0.02, (n_s, n_z)))
    total = np.maximum(np.exp(rng.normal(6, 1, (n_s, n_d, n_k))) - 0.5, 0.0)
    total[0, 0] = 0.0  # a station-day with no stops
    return keys, station, (design, beta, scale, offset), ratio, total


def _numpy(keys, station, share, ratio, total, factor):
    """The earlier numpy path: log shares, a softmax per station, gathers, exp, rounding."""
    n_share, n_ratio = _pair(*keys)
    design, beta, scale, _ = share
    log_share = np.einsum("dp,szp->sdz", design, beta) + scale[:, None, :] * n_share
    weight = np.empty_like(log_share)
    for k in np.unique(station):
        part = log_share[:, :, station == k]
        w = np.exp(part - part.max(axis=2, keepdims=True))
        weight[:, :, station == k] = w / w.sum(axis=2, keepdims=True)
    r_design, r_beta, r_scale = ratio
    per_stop = np.exp(np.einsum("dp,szp->sdz", r_design, r_beta) + r_scale[:, None, :] * n_ratio)
    stops = np.rint(total[:, :, station] * weight * (1.0 if factor is None else factor))
    return stops, np.maximum(np.rint((stops + 0.5) * per_stop - 0.5), stops)


@pytest.mark.parametrize("with_factor", [False, True])
def test_the_fused_kernels_give_the_numpy_draws(with_factor):
    keys, station, share, ratio, total = _world()
    factor = None
    if with_factor:
        factor = np.random.default_rng(1).uniform(0.5, 1.5, (total.shape[1], len(station)))
    normaliser = share_normalisers(*keys, *share, station, total.shape[2])
    got = zip_day_draws(*keys, share, ratio, total, normaliser, station, factor)
    want = _numpy(keys, station, share, ratio, total, factor)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float64 and g.shape == w.shape
        # the same formulas; a value a few ulp from a rounding boundary may round the other way
        assert np.mean(g == w) > 0.999 and np.abs(g - w).max() <= 1.0
    stops, packages = got
    assert (packages >= stops).all() and (stops >= 0).all() and stops[0, 0].sum() == 0
    assert (stops == np.round(stops)).all()
    # a station's zips share its total: their sum is the total within the rounding
    if factor is None:
        for k in range(total.shape[2]):
            gap = stops[:, :, station == k].sum(axis=2) - total[:, :, k]
            assert np.abs(gap).max() <= 0.5 * (station == k).sum() + 1e-9


def test_a_zips_draws_do_not_depend_on_the_zips_beside_it():
    keys, station, share, ratio, total = _world(seed=2)
    normaliser = share_normalisers(*keys, *share, station, total.shape[2])
    whole = zip_day_draws(*keys, share, ratio, total, normaliser, station, None)
    part = slice(3, 8)
    some = zip_day_draws(
        keys[0],
        keys[1],
        keys[2][part],
        (share[0], share[1][:, part], share[2][:, part], share[3][part]),
        (ratio[0], ratio[1][:, part], ratio[2][:, part]),
        total,
        normaliser,
        station[part],
        None,
    )
    for w, p in zip(whole, some, strict=True):
        np.testing.assert_array_equal(w[:, :, part], p)
