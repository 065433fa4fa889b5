"""What both volume models read: zip-day volume, yearly Fourier features, known regressors.

* :func:`zip_day_volume`: daily stops and packages per zip from rows (vans) of a history,
  with bad rows named;
* :func:`fourier_terms`: the yearly Fourier features of a set of days;
* :func:`clean_regressors`: a known-regressor table checked and indexed by day, with
  :func:`regressor_matrix` and its saved record (:func:`regressors_record`);
* :func:`zips_record`: a fit's zips as saved; :func:`volume_dataset`: forecast draws as the
  ``xarray`` both models return.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.errors import SpecError, VolumeDataError

_DAYS_PER_YEAR = 365.25


def zip_day_volume(df: pd.DataFrame) -> pd.DataFrame:
    """Daily stops and packages per zip, summed over the rows (vans) of a zip-day.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with ``date``, ``city``, ``station``, ``zip``, ``stops`` and ``packages``
        (the canonical table qualifies).

    Returns
    -------
    pandas.DataFrame
        One row per (date, zip): ``date``, ``zip``, ``city``, ``station`` (the station of
        the zip's last row that day), ``stops`` and ``packages`` (per day).

    Raises
    ------
    VolumeDataError
        If a column is missing, or a row has missing, negative or non-integer counts, or
        fewer packages than stops; the message names the row, column and value.
    """
    need = ["date", "city", "station", "zip", "stops", "packages"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise VolumeDataError(f"volume table lacks column(s) {missing}; expected {need}")
    for col in ("stops", "packages"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values < 0) | (values != np.floor(values))
        if bad.any():
            row = df.index[np.flatnonzero(bad.to_numpy())[0]]
            raise VolumeDataError(
                f"row {row!r}, column {col!r}: value {plain_value(df.loc[row, col])!r}; expected a "
                "non-negative whole number"
            )
    short = df["packages"].to_numpy(float) < df["stops"].to_numpy(float)
    if short.any():
        row = df.index[np.flatnonzero(short)[0]]
        raise VolumeDataError(
            f"row {row!r}, column 'packages': value {plain_value(df.loc[row, 'packages'])!r} is "
            f"below stops {plain_value(df.loc[row, 'stops'])!r}; expected at least one package per "
            "stop"
        )
    frame = df[need].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    frame = frame.sort_values(["date", "zip"], kind="stable")
    out = frame.groupby(["date", "zip"], sort=True).agg(
        city=("city", "last"),
        station=("station", "last"),
        stops=("stops", "sum"),
        packages=("packages", "sum"),
    )
    return out.reset_index()


def fourier_terms(dates: pd.DatetimeIndex, harmonics: int) -> np.ndarray:
    """Yearly Fourier features, (days, 2·harmonics): cos then sin of each harmonic (–)."""
    doy = np.asarray(dates.day_of_year, dtype=float)
    k = np.arange(1, harmonics + 1)
    angle = 2.0 * np.pi * doy[:, None] * k[None, :] / _DAYS_PER_YEAR
    return np.concatenate([np.cos(angle), np.sin(angle)], axis=1)


def plain_value(value: Any) -> Any:
    """A numpy scalar as a Python one, so messages print ``-3``, not ``np.int64(-3)``."""
    return value.item() if isinstance(value, np.generic) else value


def clean_regressors(regressors: pd.DataFrame) -> pd.DataFrame:
    """Validate known regressors: a daily DatetimeIndex and finite numeric columns."""
    if not isinstance(regressors, pd.DataFrame) or regressors.shape[1] == 0:
        raise VolumeDataError("regressors must be a DataFrame with at least one column")
    out = regressors.copy()
    out.index = pd.DatetimeIndex(pd.to_datetime(out.index)).normalize()
    if out.index.has_duplicates:
        raise VolumeDataError(f"regressors repeat day {out.index[out.index.duplicated()][0]}")
    for col in out.columns:
        values = pd.to_numeric(out[col], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(float))
        if bad.any():
            day = out.index[np.flatnonzero(bad)[0]]
            raise VolumeDataError(
                f"regressors row {day:%Y-%m-%d}, column {col!r}: value "
                f"{out.loc[day, col]!r}; expected a finite number"
            )
        out[col] = values.astype(float)
    return out.sort_index()


def merged_priors(given: dict[str, float] | None, defaults: dict[str, float]) -> dict[str, float]:
    """A volume model's priors: ``defaults`` with ``given`` over them, each checked.

    Every prior is a finite number, and positive (a scale) except ``growth_mean``.

    Raises
    ------
    SpecError
        If a name is not one of ``defaults`` or a value is not such a number.
    """
    unknown = set(given or {}) - set(defaults)
    if unknown:
        raise SpecError(f"unknown volume prior(s) {sorted(unknown)}; known: {sorted(defaults)}")
    priors = {**defaults, **(given or {})}
    for name, value in priors.items():
        signed = name == "growth_mean"
        need = "a finite number" if signed else "a finite number > 0"
        number = not isinstance(value, bool) and isinstance(value, int | float | np.number)
        if not number or not np.isfinite(value) or (not signed and not value > 0):
            raise SpecError(f"volume prior {name!r} = {value!r}; expected {need}")
    return priors


def regressor_matrix(regressors: pd.DataFrame | None, dates: pd.DatetimeIndex) -> np.ndarray:
    """The regressors' values on ``dates`` (days × regressors; none: zero columns).

    Raises
    ------
    VolumeDataError
        If a day has no value (the first such day named).
    """
    if regressors is None:
        return np.zeros((len(dates), 0))
    missing = dates.difference(regressors.index)
    if len(missing):
        raise VolumeDataError(
            f"regressors lack {len(missing)} day(s), first {missing[0]:%Y-%m-%d}; expected "
            "a value for every history and forecast day"
        )
    return regressors.loc[dates].to_numpy(float)


def regressors_record(regressors: pd.DataFrame | None) -> dict[str, Any] | None:
    """Known regressors as JSON-able data (dates as ISO text, columns as lists)."""
    if regressors is None:
        return None
    return {
        "dates": [f"{d:%Y-%m-%d}" for d in regressors.index],
        "columns": {c: regressors[c].tolist() for c in regressors.columns},
    }


def regressors_from_record(record: dict[str, Any] | None) -> pd.DataFrame | None:
    """Inverse of :func:`regressors_record`."""
    if record is None:
        return None
    return pd.DataFrame(record["columns"], index=pd.DatetimeIndex(record["dates"]))


def zips_record(zips: pd.DataFrame) -> dict[str, list[str]]:
    """A fit's zips (``city``, ``station``, ``first_date``) as JSON-able data."""
    return {z: [r["city"], r["station"], f"{r['first_date']:%Y-%m-%d}"] for z, r in zips.iterrows()}


def zips_from_record(record: dict[str, list[str]]) -> pd.DataFrame:
    """Inverse of :func:`zips_record`."""
    zips = pd.DataFrame.from_dict(record, orient="index", columns=["city", "station", "first_date"])
    zips["first_date"] = pd.to_datetime(zips["first_date"])
    zips.index.name = "zip"
    return zips


def volume_dataset(
    stops: np.ndarray,
    packages: np.ndarray,
    dates: pd.DatetimeIndex,
    zips: np.ndarray,
    zip_table: pd.DataFrame,
) -> xr.Dataset:
    """Forecast draws as a dataset: ``stops`` and ``packages`` per zip-day.

    Parameters
    ----------
    stops, packages : numpy.ndarray
        (samples, days, zips) draws (per day).
    dates : pandas.DatetimeIndex
        The days.
    zips : numpy.ndarray
        The zips.
    zip_table : pandas.DataFrame
        The fit's zips (``station`` and ``city`` of each, latest assignment).

    Returns
    -------
    xarray.Dataset
        Dims ``sample`` × ``date`` × ``zip``, coords ``station`` and ``city`` per zip.
    """
    dims = ("sample", "date", "zip")
    return xr.Dataset(
        {
            "stops": (dims, stops, {"units": "stops per day"}),
            "packages": (dims, packages, {"units": "packages per day"}),
        },
        coords={
            "sample": np.arange(stops.shape[0]),
            "date": dates,
            "zip": zips,
            "station": ("zip", zip_table.loc[zips, "station"].to_numpy()),
            "city": ("zip", zip_table.loc[zips, "city"].to_numpy()),
        },
    )
