"""Counter-based random numbers: standard normals that are a fixed function of their keys.

A forecast's draws for one (posterior sample, day, station or zip) must not depend on which
other samples, days or groups are asked for in the same call, so that chunks of zips drawn
separately agree and scenarios share common random numbers. :func:`keyed_normals` gives
standard normals from 64-bit keys (SplitMix64 hashing and Box–Muller); the helpers turn
posterior draws, names and dates into keys.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import xarray as xr


def draw_keys(post: xr.Dataset) -> np.ndarray:
    """One 64-bit key per posterior sample from its (chain, draw), else from its position."""
    if "chain" in post.coords and "draw" in post.coords:
        chain = np.asarray(post["chain"].to_numpy(), dtype=np.uint64)
        draw = np.asarray(post["draw"].to_numpy(), dtype=np.uint64)
        return (chain << np.uint64(32)) | draw
    return np.arange(post.sizes["sample"], dtype=np.uint64)


def name_keys(names: np.ndarray) -> np.ndarray:
    """A stable 64-bit key per name (CRC-32 of its UTF-8 text)."""
    return np.array([zlib.crc32(str(n).encode()) for n in names], dtype=np.uint64)


def day_keys(dates: pd.DatetimeIndex) -> np.ndarray:
    """A 64-bit key per day: days since 1970-01-01."""
    days = (pd.DatetimeIndex(dates).normalize() - pd.Timestamp("1970-01-01")).days
    return np.asarray(days, dtype=np.int64).astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective scrambling of 64-bit integers."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


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
    with np.errstate(over="ignore"):
        h = _mix(
            _mix(_mix(sample_keys)[:, None, None] ^ day_keys[None, :, None])
            ^ group_keys[None, None, :]
        )
        h2 = _mix(h ^ np.uint64(0xD1B54A32D192ED03))
    scale = 2.0**-53
    u1 = ((h >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    u2 = ((h2 >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
