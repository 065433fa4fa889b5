"""Route draws by station, day and month: the input every fleet decision reads.

Turns a forecast (or :meth:`bayesspr.SPRModel.predict_draws` rows) into one array of whole
routes per sample, day and station (:func:`as_routes`, :func:`routes_from_rows`), and cuts
it into calendar months and each draw's peak days (:func:`month_slices`, :func:`peak_days`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.errors import FleetConfigError

#: A forecast's draws: a Dataset with ``routes`` or the routes DataArray itself.
Forecast = xr.Dataset | xr.DataArray


def routes_from_rows(rows_df: pd.DataFrame, draws: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """Routes per station-day on each draw, from draws of routes per planned row.

    Parameters
    ----------
    rows_df : pandas.DataFrame
        The planned rows (columns ``date``, ``station``, ``zip``), one per zip-day; its index
        labels are the ``row`` coordinate of ``draws``.
    draws : xarray.Dataset or xarray.DataArray
        Output of :meth:`bayesspr.SPRModel.predict_draws` (``routes`` with dims ``sample`` ×
        ``row``, routes per zip-day), or its ``routes`` array.

    Returns
    -------
    xarray.DataArray
        ``routes`` (routes per station-day) with dims ``sample``, ``date``, ``station``:
        on each draw, the sum of the routes of the station's zips that day (0 on days the
        station serves no zip).

    Raises
    ------
    FleetConfigError
        If columns are missing, a draw row is not in ``rows_df``, or a (date, zip) appears in
        more than one row (several van types on one zip-day would be double counted: plan
        one van type at a time).
    """
    routes = draws["routes"] if isinstance(draws, xr.Dataset) else draws
    missing = [c for c in ("date", "station", "zip") if c not in rows_df.columns]
    if missing:
        raise FleetConfigError(f"rows_df lacks column(s) {missing}: expected date, station and zip")
    if set(routes.dims) != {"sample", "row"}:
        raise FleetConfigError(f"draws routes has dims {routes.dims}: expected ('sample', 'row')")
    labels = pd.Index(routes["row"].to_numpy())
    absent = labels.difference(rows_df.index)
    if len(absent):
        raise FleetConfigError(
            f"{len(absent)} draw row(s) are not in rows_df's index (first: {list(absent[:5])}): "
            "expected the table the draws were made for"
        )
    rows = rows_df.loc[labels, ["date", "station", "zip"]]
    dates = pd.to_datetime(rows["date"]).dt.normalize()
    dup = pd.DataFrame({"date": dates, "zip": rows["zip"]}).duplicated(keep=False)
    if dup.any():
        first = rows[dup.to_numpy()].iloc[0]
        raise FleetConfigError(
            f"{int(dup.sum())} rows share a (date, zip), e.g. ({first['date']}, {first['zip']!r}): "
            "expected one row per zip-day (plan one van type at a time)"
        )
    date_codes, date_index = pd.factorize(dates, sort=True)
    st_codes, st_index = pd.factorize(rows["station"].astype(str), sort=True)
    values = routes.transpose("sample", "row").to_numpy()
    n_st = len(st_index)
    flat = np.zeros((len(date_index) * n_st, values.shape[0]), dtype=values.dtype)
    np.add.at(flat, date_codes * n_st + st_codes, values.T)
    out = flat.reshape(len(date_index), n_st, -1).transpose(2, 0, 1)
    return xr.DataArray(
        out,
        dims=("sample", "date", "station"),
        coords={
            "sample": sample_labels(routes),
            "date": date_index.to_numpy(dtype="datetime64[ns]"),
            "station": np.asarray(st_index, dtype=str),
        },
        name="routes",
        attrs={"units": "routes per station-day"},
    )


def as_routes(forecast: Forecast) -> xr.DataArray:
    """The forecast's routes per station-day as a float array, validated and date-sorted.

    Parameters
    ----------
    forecast : bayesspr.forecasting.compose.Forecast, xarray.Dataset or xarray.DataArray
        A forecast with ``routes`` (routes per station-day, daily dates), or that array.

    Returns
    -------
    xarray.DataArray
        Routes (routes per station-day) with dims ``sample``, ``date``, ``station``, dates
        ascending, as float64.

    Raises
    ------
    FleetConfigError
        If dims are not (sample, date, station), dates are not datetime64 or repeat, or a
        value is negative, NaN or infinite.
    """
    if isinstance(getattr(forecast, "draws", None), xr.Dataset):
        forecast = forecast.draws  # a bayesspr.forecasting.compose.Forecast
    routes = forecast["routes"] if isinstance(forecast, xr.Dataset) else forecast
    if not isinstance(routes, xr.DataArray):
        raise FleetConfigError(
            f"forecast is a {type(forecast).__name__}: expected a bayesspr Forecast or an "
            "xarray Dataset with routes (sample, date, station)"
        )
    if set(routes.dims) != {"sample", "date", "station"}:
        raise FleetConfigError(
            f"forecast routes has dims {routes.dims}: expected ('sample', 'date', 'station')"
        )
    if not np.issubdtype(routes["date"].dtype, np.datetime64):
        raise FleetConfigError(
            f"forecast date coordinate has dtype {routes['date'].dtype}: expected datetime64"
        )
    routes = routes.transpose("sample", "date", "station").sortby("date").astype(float)
    values = routes.to_numpy()
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise FleetConfigError(
            f"forecast routes has {int(bad.sum())} value(s) that are negative, NaN or infinite: "
            "expected routes >= 0 per station-day on every draw"
        )
    days = pd.DatetimeIndex(routes["date"].to_numpy())
    if days.has_duplicates:
        raise FleetConfigError("forecast date coordinate repeats dates: expected one entry per day")
    gaps = np.diff(days.to_numpy()) / np.timedelta64(1, "D")
    if len(gaps) and np.median(gaps) > 1:
        raise FleetConfigError(
            f"forecast dates are {np.median(gaps):g} days apart (median): expected daily "
            "routes per station-day (days without deliveries may be missing)"
        )
    return routes


def scenario_name(forecast: object) -> str | None:
    """The scenario name a forecast carries (``attrs["scenario"]``, or a Forecast's), if any."""
    draws = getattr(forecast, "draws", None)
    for obj in (draws, forecast):
        name = getattr(obj, "attrs", {}).get("scenario") if obj is not None else None
        if name:
            return str(name)
    scenario = getattr(forecast, "scenario", None)
    name = getattr(scenario, "name", None)
    return str(name) if name else None


def sample_labels(da: xr.DataArray) -> np.ndarray:
    """Labels of the ``sample`` dim: kept if plain, 0..S-1 if a (chain, draw) MultiIndex."""
    index = da.indexes.get("sample")
    if index is None or isinstance(index, pd.MultiIndex):
        return np.arange(da.sizes["sample"])
    return index.to_numpy()


def month_slices(dates: np.ndarray) -> tuple[pd.DatetimeIndex, list[slice]]:
    """Month starts and the slice of (sorted) dates in each month."""
    months = pd.DatetimeIndex(dates).to_period("M").to_timestamp()
    starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    ends = np.r_[starts[1:], len(months)]
    return months[starts], [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


# --- empirical quantiles ---------------------------------------------------------------------


def fleet_quantile(sample: np.ndarray, prob: float) -> np.ndarray:
    """Smallest whole v with empirical P(X ≤ v) ≥ prob, along axis 0 (0 if prob ≤ 0).

    With n values sorted, that is ⌈x_(j)⌉ for j = ⌈prob·n⌉ (the inverted-CDF quantile).
    """
    n = sample.shape[0]
    if prob <= 0:
        return np.zeros(sample.shape[1:], dtype=np.int64)
    j = min(max(math.ceil(prob * n - 1e-9), 1), n)
    kth = np.partition(sample, j - 1, axis=0)[j - 1]
    return np.ceil(kth - 1e-9).astype(np.int64)


def peak_count(n_days: int, peak_share: float) -> int:
    """Peak days of a month of ``n_days`` days: ⌈peak_share · days⌉, at least 1."""
    return min(max(math.ceil(peak_share * n_days - 1e-9), 1), n_days)


def peak_days(block: np.ndarray, peak_share: float) -> np.ndarray:
    """Routes on each draw's busiest days of a month: (sample·k, station).

    ``block`` is (sample, days, station); k = ⌈peak_share · days⌉ (at least 1).
    """
    n_days = block.shape[1]
    k = peak_count(n_days, peak_share)
    top = np.sort(block, axis=1)[:, n_days - k :, :]
    return top.reshape(-1, block.shape[2])
