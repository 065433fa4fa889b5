"""Compiled arithmetic of the volume model's zip-day draws (one pass, no temporaries).

:meth:`bayesspr.volume.model.VolumeModel.volume_draws` turns a station's daily total and its
zips' shares into whole stops, and stops and a package ratio into whole packages. In numpy
that took six passes over the (sample, day, zip) arrays, each leaving a temporary behind;
here it is one loop with the same operations in the same order (products, ``rint`` and
``max`` are exact in IEEE arithmetic), so the draws are the numpy formulas' to the bit
(``tests/volume/test_volume_kernels.py``). The exponentials stay in numpy, whose vectorised
``exp`` the draws have always used.
"""

from __future__ import annotations

import numba
import numpy as np

from bayesspr.parallel import loops_over_samples
from bayesspr.volume.group_kernels import kernel_floats


@loops_over_samples(cache=True)
def _zip_day_volumes(station_total, zip_station, share, factor, ratio, stops, packages):
    n_s, n_d, n_z = share.shape
    for s in numba.prange(n_s):
        for d in range(n_d):
            for z in range(n_z):
                value = station_total[s, d, zip_station[z]] * share[s, d, z]
                value = np.rint(value * factor[d, z])
                stops[s, d, z] = value
                packages[s, d, z] = max(np.rint((value + 0.5) * ratio[s, d, z] - 0.5), value)


def zip_day_volumes(
    station_total: np.ndarray,
    zip_station: np.ndarray,
    share: np.ndarray,
    factor: np.ndarray | None,
    ratio: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Whole stops and packages per (sample, day, zip).

    stops = rint(total[s, d, station of z] · share[s, d, z] · factor[d, z]) and
    packages = max(rint((stops + ½) · ratio[s, d, z] − ½), stops).

    Parameters
    ----------
    station_total : numpy.ndarray
        (S, D, K) stops of each station-day, before rounding (stops).
    zip_station : numpy.ndarray
        (Z,) each zip's station, a position along K.
    share : numpy.ndarray
        (S, D, Z) each zip's share of its station's stops (–).
    factor : numpy.ndarray or None
        (D, Z) multiplicative volume shock (–); None for none.
    ratio : numpy.ndarray
        (S, D, Z) (packages + ½) / (stops + ½) (–).

    Returns
    -------
    stops, packages : numpy.ndarray
        (S, D, Z) float64 arrays of whole numbers.
    """
    shape = share.shape
    if factor is None:
        factor = np.ones(shape[1:])
    stops, packages = np.empty(shape), np.empty(shape)
    total, share, factor, ratio = kernel_floats(station_total, share, factor, ratio)
    _zip_day_volumes(
        total,
        np.ascontiguousarray(zip_station, dtype=np.int64),
        share,
        factor,
        ratio,
        stops,
        packages,
    )
    return stops, packages
