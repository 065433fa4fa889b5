"""Saved fits on disk: what a file keeps, how it is compressed, and what is checked on load.

Both models save their InferenceData tree as netCDF (HDF5 through h5netcdf, never pickle)
through :func:`write_fit`, and check what they read back with :func:`check_posterior`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr

from bayesspr.errors import ArgumentError, SavedFitError
from bayesspr.io.files import atomic_write

#: What a saved fit keeps (the ``keep`` argument of ``save``):
#: ``"posterior"`` — the posterior draws, sampler statistics and observed data: enough to
#: predict, forecast, plan and check convergence; ``"report"`` (default) — also the pointwise
#: log-likelihood (stored as float32), which the diagnostic report needs for PSIS-LOO;
#: ``"all"`` — every group at full precision.
Keep = Literal["posterior", "report", "all"]
KEEP_GROUPS: dict[str, tuple[str, ...] | None] = {
    "posterior": ("posterior", "sample_stats", "observed_data", "constant_data"),
    "report": ("posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood"),
    "all": None,
}

#: gzip level of every variable in a saved fit (with HDF5's byte shuffle).
COMPRESSION_LEVEL = 4


def write_fit(idata: xr.DataTree, path: str | os.PathLike[str], keep: str) -> Path:
    """Write a fit's tree to a compressed netCDF file atomically.

    Parameters
    ----------
    idata : xarray.DataTree
        The fit, with its attributes already set.
    path : str or os.PathLike
        Destination (``.nc``).
    keep : {"posterior", "report", "all"}
        Which groups to keep (see :data:`KEEP_GROUPS`); ``"report"`` stores the
        log-likelihood as float32.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ArgumentError
        If ``keep`` is not one of the three choices.
    """
    if keep not in KEEP_GROUPS:
        raise ArgumentError(f"keep = {keep!r}: expected one of {sorted(KEEP_GROUPS)}")
    wanted = KEEP_GROUPS[keep]
    tree = xr.DataTree(dataset=xr.Dataset(attrs=dict(idata.attrs)))
    encoding: dict[str, dict[str, dict[str, object]]] = {}
    for group in idata.children:
        if wanted is not None and group not in wanted:
            continue
        ds = idata[group].to_dataset()
        ds = ds.drop_vars([v for v in ds.data_vars if ds[v].dtype == object])
        if keep == "report" and group == "log_likelihood":
            ds = ds.astype(np.float32)
        tree[group] = xr.DataTree(ds)
        encoding[f"/{group}"] = {
            v: {"compression": "gzip", "compression_opts": COMPRESSION_LEVEL, "shuffle": True}
            for v in ds.data_vars
            if ds[v].ndim > 0
        }
    tree.attrs["bayesspr_keep"] = keep
    return atomic_write(lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf", encoding=encoding), path)


def check_posterior(
    idata: xr.DataTree,
    path: str | os.PathLike[str],
    what: str,
    supports: Mapping[str, tuple[float, float]] | None = None,
    required: Sequence[str] = (),
) -> None:
    """Refuse a saved fit whose posterior is missing, empty, not finite or out of support.

    Parameters
    ----------
    idata : xarray.DataTree
        The tree read from ``path``.
    path : str or os.PathLike
        The file, for the message.
    what : str
        The model class name, for the message.
    supports : mapping of str to (float, float), optional
        Each posterior variable's support as (low, high): every draw must satisfy
        low < draw ≤ high (``(0, inf)`` for a speed, a time or a spread; ``(0, 1)`` for a
        share such as the usable fill of a van).
    required : sequence of str
        Posterior variables every fit of this model has (what predictions read).

    Raises
    ------
    SavedFitError
        If the ``posterior`` group is absent or empty, a ``required`` variable is missing, any
        draw is NaN or infinite, or a variable of ``supports`` has a draw outside its support.
    """
    if "posterior" not in idata.children or not idata["posterior"].data_vars:
        raise SavedFitError(
            f"{path} has no posterior group: not a complete {what} fit; re-run the fit and save "
            "it again"
        )
    supports = supports or {}
    missing = sorted(set(required) - set(idata["posterior"].data_vars))
    if missing:
        raise SavedFitError(
            f"{path}: posterior variable(s) {missing} missing; every {what} fit has them, so the "
            "file is damaged or was edited — re-run the fit and save it again"
        )
    for name, values in idata["posterior"].data_vars.items():
        array = np.asarray(values, dtype=float)
        bad = ~np.isfinite(array)
        if bad.any():
            raise SavedFitError(
                f"{path}: posterior variable {name!r} has {int(bad.sum())} non-finite draw(s) "
                f"(first value {np.asarray(values).ravel()[np.flatnonzero(bad.ravel())[0]]!r}); "
                f"a {what} fit never has them, so the file is damaged or was edited — re-run "
                "the fit and save it again"
            )
        if name not in supports:
            continue
        low, high = supports[name]
        outside = (array <= low) | (array > high)
        if outside.any():
            first = float(array.ravel()[np.flatnonzero(outside.ravel())[0]])
            raise SavedFitError(
                f"{path}: posterior variable {name!r} has {int(outside.sum())} draw(s) outside "
                f"its support {low:g} < value ≤ {high:g} (first {first!r}); no {what} fit has "
                "them, so the file is damaged or was edited — re-run the fit and save it again"
            )


def required_attr(idata: xr.DataTree, name: str, path: str | os.PathLike[str], what: str) -> str:
    """A saved fit's attribute, or a :class:`SavedFitError` naming it.

    Parameters
    ----------
    idata : xarray.DataTree
        The tree read from ``path``.
    name : str
        Attribute name (e.g. ``"bayesspr_spec"``).
    path : str or os.PathLike
        The file, for the message.
    what : str
        The model class name, for the message.

    Returns
    -------
    str
        The attribute's value.
    """
    if name not in idata.attrs:
        raise SavedFitError(
            f"{path} lacks the attribute {name!r} that every {what}.save writes: the file is "
            "incomplete or was edited — re-run the fit and save it again"
        )
    return str(idata.attrs[name])
