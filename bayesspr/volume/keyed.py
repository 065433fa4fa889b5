"""Counter-based random numbers: standard normals that are a fixed function of their keys.

A forecast's draws for one (posterior sample, day, station or zip) must not depend on which
other samples, days or groups are asked for in the same call, so that chunks of zips drawn
separately agree and scenarios share common random numbers. :func:`keyed_normals` gives
standard normals from 64-bit keys (SplitMix64 hashing and Box–Muller); the helpers turn
posterior draws, names and dates into keys.

The hashing runs as one compiled loop (numba, cached on disk): written as numpy operations it
made a 64-bit temporary per step and took about 1 µs a value, three quarters of a 16-month
forecast's time. The logarithm and the angle's cosine and sine are polynomials
(:mod:`bayesspr.vector_math`), not calls to the C library, so the loops run in vector
registers; the values agree with the numpy formulas within a few units in the last place.
The loops split the posterior samples over numba's threads (:mod:`bayesspr.parallel`); a
sample's values are the same on any number of threads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.errors import ArgumentError
from bayesspr.parallel import loops_over_samples
from bayesspr.vector_math import cos_sin_turn
from bayesspr.vector_math import log as vector_log


def draw_keys(post: xr.Dataset) -> np.ndarray:
    """One 64-bit key per posterior sample from its (chain, draw), else from its position."""
    if "chain" in post.coords and "draw" in post.coords:
        chain = np.asarray(post["chain"].to_numpy(), dtype=np.uint64)
        draw = np.asarray(post["draw"].to_numpy(), dtype=np.uint64)
        return (chain << np.uint64(32)) | draw
    return np.arange(post.sizes["sample"], dtype=np.uint64)


def name_keys_64(names: Sequence[object]) -> np.ndarray:
    """A stable 64-bit key per name (the first 8 bytes of its BLAKE2b hash, UTF-8 text).

    Among 40,000 zips two 64-bit keys coincide with probability about 4·10⁻¹¹ (two CRC-32
    keys, used before, with about 0.2: two zips would have shared their random numbers).
    """
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(str(n).encode(), digest_size=8).digest(), "little")
            for n in names
        ],
        dtype=np.uint64,
    )


def day_keys(dates: pd.DatetimeIndex) -> np.ndarray:
    """A 64-bit key per day: days since 1970-01-01."""
    days = (pd.DatetimeIndex(dates).normalize() - pd.Timestamp("1970-01-01")).days
    return np.asarray(days, dtype=np.int64).astype(np.uint64)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SECOND = np.uint64(0xD1B54A32D192ED03)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11))
_UNIT = 2.0**-53  # a 53-bit integer to (0, 1)


@numba.njit(cache=True, nogil=True, inline="always")
def _mix(x):
    """SplitMix64 finaliser: a bijective scrambling of a 64-bit integer (wraps modulo 2⁶⁴)."""
    x = x + _GOLDEN
    x = (x ^ (x >> _SHIFTS[0])) * _MIX_1
    x = (x ^ (x >> _SHIFTS[1])) * _MIX_2
    return x ^ (x >> _SHIFTS[2])


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _polar(day_hash, group_key):
    """Box–Muller radius and (cos, sin) of the angle of a group's key under a (sample, day) hash."""
    h = _mix(day_hash ^ group_key)
    h2 = _mix(h ^ _SECOND)
    u1 = (np.float64(h >> _SHIFTS[3]) + 0.5) * _UNIT
    u2 = (np.float64(h2 >> _SHIFTS[3]) + 0.5) * _UNIT
    cos, sin = cos_sin_turn(u2)
    return np.sqrt(-2.0 * vector_log(u1)), cos, sin


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _normal(day_hash, group_key):
    """The Box–Muller (cosine) normal of a group's key under a (sample, day) hash."""
    radius, cos, _ = _polar(day_hash, group_key)
    return radius * cos


@loops_over_samples(cache=True, fastmath=True, error_model="numpy")
def _keyed_normals(sample_keys, group_keys, day_keys, out):
    """Fill ``out`` (S, D, G) with the Box–Muller normal of each (sample, day, group) key."""
    for s in numba.prange(sample_keys.shape[0]):
        hs = _mix(sample_keys[s])
        for d in range(day_keys.shape[0]):
            hd = _mix(hs ^ day_keys[d])
            for g in range(group_keys.shape[0]):
                out[s, d, g] = _normal(hd, group_keys[g])


def keyed_normals(
    sample_keys: np.ndarray, group_keys: np.ndarray, day_keys: np.ndarray
) -> np.ndarray:
    """Standard normal draws that are a fixed function of (sample, day, group) keys (–).

    Counter-based: the value for one (sample, day, group) does not depend on which other
    samples, days or groups are asked for, so draws made in chunks agree.

    Parameters
    ----------
    sample_keys, group_keys, day_keys : numpy.ndarray
        64-bit unsigned keys, shapes (S,), (G,) and (D,).

    Returns
    -------
    numpy.ndarray
        (S, D, G) standard normal values.
    """
    keys = [np.ascontiguousarray(k, dtype=np.uint64) for k in (sample_keys, day_keys, group_keys)]
    out = np.empty(tuple(len(k) for k in keys))
    _keyed_normals(keys[0], keys[2], keys[1], out)
    return out


@loops_over_samples(cache=True, fastmath=True, error_model="numpy")
def _keyed_normal_pairs(stream_key, day_keys, group_keys, out):
    """Fill ``out`` (k, S, D, G), k = 1 or 2, with the cosine then sine normal of each pair."""
    n_k = out.shape[0]
    for s in numba.prange(out.shape[1]):
        hs = _mix(stream_key ^ _mix(np.uint64(s)))
        for d in range(day_keys.shape[0]):
            hd = _mix(hs ^ day_keys[d])
            for g in range(group_keys.shape[0]):
                radius, cos, sin = _polar(hd, group_keys[g])
                out[0, s, d, g] = radius * cos
                if n_k > 1:
                    out[1, s, d, g] = radius * sin


def keyed_normal_pairs(
    stream_key: np.uint64 | int,
    n_samples: int,
    day_keys: np.ndarray,
    group_keys: np.ndarray,
    n_normals: int = 2,
) -> np.ndarray:
    """Standard normals keyed by (stream, sample position, day, group), single precision (–).

    Counter-based like :func:`keyed_normals`, with the sample's position (0, 1, ...) as its
    key: one or two independent normals per (sample, day, group), the two of one Box–Muller
    pair (cosine, then sine), so the second costs no further hash, logarithm or root.

    Parameters
    ----------
    stream_key : int
        64-bit key of the stream (e.g. a hash of the forecast's seed and what the noise is).
    n_samples : int
        Samples S, keyed 0 … S − 1.
    day_keys, group_keys : numpy.ndarray
        64-bit unsigned keys, shapes (D,) and (G,).
    n_normals : int
        1 or 2 normals per (sample, day, group).

    Returns
    -------
    numpy.ndarray
        (n_normals, S, D, G) float32 standard normal values.
    """
    if n_normals not in (1, 2):
        raise ArgumentError(f"keyed_normal_pairs(n_normals={n_normals!r}): expected 1 or 2")
    days = np.ascontiguousarray(day_keys, dtype=np.uint64)
    groups = np.ascontiguousarray(group_keys, dtype=np.uint64)
    out = np.empty((n_normals, int(n_samples), len(days), len(groups)), dtype=np.float32)
    _keyed_normal_pairs(np.uint64(stream_key), days, groups, out)
    return out
