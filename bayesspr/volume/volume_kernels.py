"""Compiled arithmetic of the volume model's zip-day draws: one pass, no temporaries.

:meth:`bayesspr.volume.model.VolumeModel.volume_draws` turns a station's daily total and its
zips' shares into whole stops, and stops and a package ratio into whole packages. A zip's log
share and log package ratio are each a linear predictor (a day's design row times the zip's
coefficient draw) plus keyed noise; the two noises of a zip-day are the two normals of one
Box–Muller pair (:mod:`bayesspr.volume.keyed`), so they cost one hash, one logarithm and one
root. :func:`share_normalisers` sums each station's share weights over all its zips (the
softmax's denominator); :func:`zip_day_draws` then makes the zip-days asked for in one loop:
linear predictors, noise, ``exp``, the share of the station's total, rounding, packages.

Before, numpy made the log shares, their softmax, a gather of the shares, the exponentials
and the rounding in eight passes over (sample, day, zip) arrays, each leaving a temporary
behind.
"""

from __future__ import annotations

import numba
import numpy as np

from bayesspr.parallel import loops_over_samples
from bayesspr.vector_math import exp
from bayesspr.volume.group_kernels import kernel_floats
from bayesspr.volume.keyed import _mix, _polar


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always", error_model="numpy")
def _linear_row(design, beta, s, d, offset, row):
    """row[z] = design[d] · beta[s, :, z] − offset[z]: one day's linear predictor of all zips.

    The loop over zips is innermost (``beta`` is (S, p, Z)), so it runs in vector registers;
    a day's zero design entries (random-walk knots not reached yet) are skipped.
    """
    n_z = row.shape[0]
    for z in range(n_z):
        row[z] = -offset[z]
    for p in range(design.shape[1]):
        w = design[d, p]
        if w != 0.0:
            for z in range(n_z):
                row[z] += w * beta[s, p, z]


@loops_over_samples(cache=True, fastmath=True, error_model="numpy")
def _share_normalisers(
    sample_keys, day_keys, zip_keys, design, beta, scale, offset, zip_station, out
):
    """out[s, d, k] = Σ over station k's zips of exp(log share − offset), cosine normals."""
    n_z = zip_keys.shape[0]
    for s in numba.prange(sample_keys.shape[0]):
        hs = _mix(sample_keys[s])
        row = np.empty(n_z)
        for d in range(day_keys.shape[0]):
            hd = _mix(hs ^ day_keys[d])
            _linear_row(design, beta, s, d, offset, row)
            for z in range(n_z):
                radius, cos, _ = _polar(hd, zip_keys[z])
                row[z] = exp(row[z] + scale[s, z] * radius * cos)
            for k in range(out.shape[2]):
                out[s, d, k] = 0.0
            for z in range(n_z):
                out[s, d, zip_station[z]] += row[z]


@loops_over_samples(cache=True, fastmath=True, error_model="numpy")
def _zip_day_draws(
    sample_keys,
    day_keys,
    zip_keys,
    share_design,
    share_beta,
    share_scale,
    share_offset,
    ratio_design,
    ratio_beta,
    ratio_scale,
    station_total,
    normaliser,
    zip_station,
    factor,
    stops,
    packages,
):
    n_z = zip_keys.shape[0]
    no_offset = np.zeros(n_z)  # the ratio has none
    for s in numba.prange(sample_keys.shape[0]):
        hs = _mix(sample_keys[s])
        # the day's rows are worked on in arrays of this loop's own, which the compiler knows
        # no other array shares, so the loop over zips runs in vector registers
        share, ratio = np.empty(n_z), np.empty(n_z)
        for d in range(day_keys.shape[0]):
            hd = _mix(hs ^ day_keys[d])
            _linear_row(share_design, share_beta, s, d, share_offset, share)
            _linear_row(ratio_design, ratio_beta, s, d, no_offset, ratio)
            for z in range(n_z):
                radius, cos, sin = _polar(hd, zip_keys[z])
                k = zip_station[z]
                weight = exp(share[z] + share_scale[s, z] * radius * cos) / normaliser[s, d, k]
                value = np.rint(station_total[s, d, k] * weight * factor[d, z])
                per_stop = exp(ratio[z] + ratio_scale[s, z] * radius * sin)
                share[z] = value
                ratio[z] = max(np.rint((value + 0.5) * per_stop - 0.5), value)
            stops[s, d] = share
            packages[s, d] = ratio


def _keys(*keys: np.ndarray) -> list[np.ndarray]:
    return [np.ascontiguousarray(k, dtype=np.uint64) for k in keys]


def _by_zip(beta: np.ndarray) -> np.ndarray:
    """Coefficient draws (S, Z, p) as the kernels read them, (S, p, Z) contiguous floats."""
    return np.ascontiguousarray(np.asarray(beta, dtype=np.float64).transpose(0, 2, 1))


def share_normalisers(
    sample_keys: np.ndarray,
    day_keys: np.ndarray,
    zip_keys: np.ndarray,
    design: np.ndarray,
    beta: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    zip_station: np.ndarray,
    n_stations: int,
) -> np.ndarray:
    """Each station-day's sum of its zips' share weights, the softmax's denominator (–).

    The weight of zip z is exp(design[d] · beta[s, z] + scale[s, z] · n − offset[z]), n the
    cosine normal of the zip's Box–Muller pair keyed by (sample, day, zip).

    Parameters
    ----------
    sample_keys, day_keys, zip_keys : numpy.ndarray
        64-bit unsigned keys, shapes (S,), (D,), (Z,).
    design : numpy.ndarray
        (D, p) design rows of the days.
    beta : numpy.ndarray
        (S, Z, p) coefficient draws of the log shares.
    scale : numpy.ndarray
        (S, Z) standard deviation of a log share's day noise.
    offset : numpy.ndarray
        (Z,) a constant per station taken from its zips' log shares, so the weights stay
        near one; it cancels in the shares.
    zip_station : numpy.ndarray
        (Z,) each zip's station, a position in 0 … n_stations − 1; every zip of a station
        must be among the Z.
    n_stations : int
        Stations K.

    Returns
    -------
    numpy.ndarray
        (S, D, K) sums of weights.
    """
    samples, days, zips = _keys(sample_keys, day_keys, zip_keys)
    out = np.empty((len(samples), len(days), int(n_stations)))
    design, scale, offset = kernel_floats(
        design, np.broadcast_to(scale, (len(samples), len(zips))), offset
    )
    _share_normalisers(
        samples,
        days,
        zips,
        design,
        _by_zip(beta),
        scale,
        offset,
        np.ascontiguousarray(zip_station, dtype=np.int64),
        out,
    )
    return out


def zip_day_draws(
    sample_keys: np.ndarray,
    day_keys: np.ndarray,
    zip_keys: np.ndarray,
    share_terms: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ratio_terms: tuple[np.ndarray, np.ndarray, np.ndarray],
    station_total: np.ndarray,
    normaliser: np.ndarray,
    zip_station: np.ndarray,
    factor: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Whole stops and packages per (sample, day, zip), in one compiled pass.

    With (n₁, n₂) the Box–Muller pair of (sample, day, zip), share weight w = exp(share
    design · β + σ_share · n₁ − offset) / normaliser[station], stops = rint(total[station] · w
    · factor) and packages = max(rint((stops + ½) · exp(ratio design · ρ + σ_ratio · n₂) − ½),
    stops).

    Parameters
    ----------
    sample_keys, day_keys, zip_keys : numpy.ndarray
        64-bit unsigned keys, shapes (S,), (D,), (Z,); the same zip keys as the
        normalisers'.
    share_terms : tuple of numpy.ndarray
        The log shares' design (D, p), coefficient draws (S, Z, p), noise sd (S, Z) and
        offset (Z,), as :func:`share_normalisers` takes them.
    ratio_terms : tuple of numpy.ndarray
        The log package ratio's design (D, q), coefficient draws (S, Z, q) and noise sd
        (S, Z); the ratio is (packages + ½) / (stops + ½) (–).
    station_total : numpy.ndarray
        (S, D, K) stops of each station-day, before rounding (stops).
    normaliser : numpy.ndarray
        (S, D, K) output of :func:`share_normalisers` for the K stations.
    zip_station : numpy.ndarray
        (Z,) each zip's station, a position along K.
    factor : numpy.ndarray or None
        (D, Z) multiplicative volume shock (–); None for none.

    Returns
    -------
    stops, packages : numpy.ndarray
        (S, D, Z) float64 arrays of whole numbers.
    """
    samples, days, zips = _keys(sample_keys, day_keys, zip_keys)
    shape = (len(samples), len(days), len(zips))
    share_design, share_beta, share_scale, share_offset = share_terms
    ratio_design, ratio_beta, ratio_scale = ratio_terms
    if factor is None:
        factor = np.ones(shape[1:])
    stops, packages = np.empty(shape), np.empty(shape)
    floats = kernel_floats(
        share_design,
        np.broadcast_to(share_scale, shape[::2]),
        share_offset,
        ratio_design,
        np.broadcast_to(ratio_scale, shape[::2]),
        station_total,
        normaliser,
        factor,
    )
    _zip_day_draws(
        samples,
        days,
        zips,
        floats[0],
        _by_zip(share_beta),
        floats[1],
        floats[2],
        floats[3],
        _by_zip(ratio_beta),
        floats[4],
        floats[5],
        floats[6],
        np.ascontiguousarray(zip_station, dtype=np.int64),
        floats[7],
        stops,
        packages,
    )
    return stops, packages
