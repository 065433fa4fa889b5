"""Forecast draws in a chunked Zarr store: written block by block, read lazily.

A national forecast holds more zip-day draws than memory (40,000 zips × 487 days × 400 draws
is 7.8 billion values per variable). :func:`bayesspr.forecast` with ``store=`` hands each
block of zips to a :class:`ZipBlockWriter` as soon as it is drawn, so only one block is ever
in memory; the station-day sums follow at the end. The store is written in a temporary
folder beside its path and moved into place whole (:func:`bayesspr.io.files.atomic_folder`),
so a failed forecast leaves an earlier store as it was. :func:`open_draws` opens it lazily
through xarray: with Dask installed the variables are Dask arrays chunked as stored (one
chunk per block of zips), otherwise xarray's lazily indexed arrays; either way a selection
reads only the chunks it touches.
"""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from bayesspr.errors import ForecastError

__all__ = ["ZipBlockWriter", "open_draws"]


class ZipBlockWriter:
    """Append blocks of zips to a Zarr store along ``zip``, then add the station draws.

    Parameters
    ----------
    path : str or os.PathLike
        An empty folder (the temporary folder of an atomic write).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.blocks = 0

    def append(self, block: xr.Dataset) -> None:
        """Write one block of zips: the first sets the chunking, later ones append.

        Parameters
        ----------
        block : xarray.Dataset
            Variables with a ``zip`` dimension (and coordinates ``sample``, ``date``); each
            block becomes one chunk along ``zip``.
        """
        if self.blocks == 0:
            encoding = {
                name: {"chunks": tuple(block[name].shape)}
                for name in block.data_vars
                if "zip" in block[name].dims
            }
            block.to_zarr(self.path, mode="w", encoding=encoding, consolidated=False)
        else:
            block.to_zarr(self.path, append_dim="zip", consolidated=False)
        self.blocks += 1

    def add(self, variables: xr.Dataset) -> None:
        """Add variables without a ``zip`` dimension (the station-day sums) and attributes."""
        variables.to_zarr(self.path, mode="a", consolidated=False)


def open_draws(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a store written by ``forecast(..., store=path)`` lazily.

    Parameters
    ----------
    path : str or os.PathLike
        The Zarr store (a folder).

    Returns
    -------
    xarray.Dataset
        The forecast's draws, not loaded: Dask arrays chunked as stored when Dask is
        installed, lazily indexed arrays otherwise.

    Raises
    ------
    bayesspr.errors.ForecastError
        If ``path`` is not a folder holding a Zarr store.
    """
    target = Path(path)
    if not target.is_dir():
        raise ForecastError(
            f"{target}: no forecast store there; write one with bayesspr.forecast(..., store=path)"
        )
    try:
        import dask  # noqa: F401

        chunks: dict | None = {}
    except ImportError:  # pragma: no cover - depends on the environment
        chunks = None
    try:
        draws = xr.open_zarr(target, chunks=chunks, consolidated=False)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise ForecastError(
            f"{target}: not a forecast store ({exc}); write one with bayesspr.forecast(..., "
            "store=path)"
        ) from None
    return _names_as_objects(draws)


def _names_as_objects(draws: xr.Dataset) -> xr.Dataset:
    """Station and zip names as Python strings (object arrays), as in a forecast in memory.

    Zarr 3 stores variable-length strings and numpy reads them back as ``StringDType``, which
    cannot be cast to a fixed-width ``str`` array (``.astype(str)``) as callers do.
    """
    names = [name for name, v in draws.variables.items() if v.dtype.kind == "T"]
    return draws.assign_coords({name: draws[name].astype(object) for name in names})
