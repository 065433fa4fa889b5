"""Files of the package: atomic writes, and saved fits read back without pickle.

A file written here is absent, the old one, or complete — never partial. Saved fits are
netCDF read through h5netcdf.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import xarray as xr

#: Decimal places of numbers in the CSV tables people read (routes, vans, probabilities).
CSV_DECIMALS = 3


def atomic_write(write: Callable[[str], None], path: str | os.PathLike[str]) -> Path:
    """Write a file through a temporary sibling and move it into place in one step.

    Parameters
    ----------
    write : callable
        ``write(tmp_path)`` writes the whole file to ``tmp_path`` (a str in the target's
        folder).
    path : str or os.PathLike
        Destination; its folder is created if missing.

    Returns
    -------
    pathlib.Path
        The destination.

    Notes
    -----
    The temporary file gets the usual permissions (``0o666`` less the umask), not
    ``mkstemp``'s ``0o600``. On any error it is removed and the destination is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table people read as CSV, atomically, in one format everywhere.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; its index is not written.
    path : str or os.PathLike
        Destination file.

    Returns
    -------
    pathlib.Path
        The destination.

    Notes
    -----
    Floats are rounded to :data:`CSV_DECIMALS` places; a datetime column named ``month``
    is written ``YYYY-MM`` and other datetime columns ``YYYY-MM-DD``, so every file of the
    package spells a month and a day the same way.
    """
    out = df.copy()
    for col in out.select_dtypes("datetime").columns:
        out[col] = out[col].dt.strftime("%Y-%m" if col == "month" else "%Y-%m-%d")
    floats = out.select_dtypes("float").columns
    out[floats] = out[floats].round(CSV_DECIMALS)
    return atomic_write(lambda tmp: out.to_csv(tmp, index=False), path)


def _umask() -> int:
    """Return the process umask (there is no way to read it without setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_saved_tree(path: str | os.PathLike[str], what: str) -> xr.DataTree:
    """Read a saved fit (netCDF) fully into memory and close the file.

    Parameters
    ----------
    path : str or os.PathLike
        The file written by a model's ``save``.
    what : str
        What the file should hold, for messages (e.g. ``"SPRModel"``).

    Returns
    -------
    xarray.DataTree
        The loaded tree.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not netCDF/HDF5 (for instance a CSV given where a fit was expected).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved {what} at {path}")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            return tree.load()
    except OSError as exc:  # h5py: "file signature not found" and the like
        raise ValueError(
            f"{path} is not a netCDF file written by {what}.save: expected a saved fit ({exc})"
        ) from None
