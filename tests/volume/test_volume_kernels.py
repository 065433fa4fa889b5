"""The compiled zip-day volume arithmetic equals the numpy formulas it replaced, to the bit."""

import numpy as np
import pytest

from bayesspr.volume.volume_kernels import zip_day_volumes


def _numpy(station_total, zip_station, share, factor, ratio):
    stops = station_total[:, :, zip_station] * share
    if factor is not None:
        stops = stops * factor[None, :, :]
    stops = np.rint(stops)
    packages = np.maximum(np.rint((stops + 0.5) * ratio - 0.5), stops)
    return stops, packages


@pytest.mark.parametrize("with_factor", [False, True])
def test_the_kernel_gives_the_numpy_draws(with_factor):
    rng = np.random.default_rng(0)
    n_s, n_d, n_k, n_z = 7, 11, 3, 9
    station_total = np.maximum(np.exp(rng.normal(4, 1.5, (n_s, n_d, n_k))) - 0.5, 0.0)
    station_total[0, 0] = 0.0  # a station-day with no stops
    zip_station = rng.integers(0, n_k, n_z)
    share = rng.dirichlet(np.ones(n_z), (n_s, n_d))
    share[1, 2, 3] = 2.5 / station_total[1, 2, zip_station[3]]  # exactly half-way: rint to even
    factor = rng.uniform(0.5, 1.5, (n_d, n_z)) if with_factor else None
    if with_factor:
        factor[:4] = 1.0
    ratio = np.exp(rng.normal(0.3, 0.4, (n_s, n_d, n_z)))
    got = zip_day_volumes(station_total, zip_station, share, factor, ratio)
    want = _numpy(station_total, zip_station, share, factor, ratio)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float64 and g.shape == (n_s, n_d, n_z)
        np.testing.assert_array_equal(g, w)
    stops, packages = got
    assert (packages >= stops).all() and (stops >= 0).all()
    assert (stops == np.round(stops)).all() and stops[0, 0].sum() == 0
