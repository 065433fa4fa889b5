"""From a composed forecast's zip-day draws to the deployment's station-month design days.

:func:`bayesspr.forecast` with ``keep_zips=True`` gives, per draw, routes per zip-day
(``routes_zip``), km per route (``route_km_zip``) and the station serving each zip-day
(``station_of``). A fleet is sized for the busy day, so for each draw and station-month the
design day is the month's busiest day of that station (most routes) in that draw; on it we
count the routes each electric type can run (energy from :class:`~bayesspr.deploy.energy.
EnergyModel`: the city's temperature that month, the zip's climb, the payload) in each
route-length class, the mean energy of each class's routes, P(run out of charge), and the mean
route km. The classes split the forecast's routes by km into equal shares; a class's energy is
that of all its routes, so a longer range adds routes to the in-range counts without changing
the energy charged for those already in range. Vectorised over draws, days and zips
one month at a time; sums per station through a sparse zip-day × station matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse

from bayesspr.deploy.energy import EnergyModel
from bayesspr.errors import DeployInputError, Problem
from bayesspr.fleet.config import VanType

__all__ = ["DesignDays", "from_forecast"]


@dataclass(frozen=True)
class DesignDays:
    """Design-day draws per station-month, ready for :class:`~bayesspr.deploy.DeployProblem`.

    Attributes
    ----------
    demand : xarray.DataArray
        Routes on the design day (sample, station, month).
    in_range : xarray.DataArray
        Of those, routes each electric type runs with P(run out) ≤ risk (sample, van,
        station, month, km_class).
    kwh_per_route : xarray.DataArray
        Mean planned energy of a route of each class, in range or not (kWh per route; same
        dims); 0 where the class has no route.
    p_run_out : xarray.DataArray
        Mean P(run out of charge) of the in-range routes (–; sample, van, station, month);
        ≤ the risk by construction, NaN where none.
    route_km : xarray.DataArray
        Mean km of a design-day route (sample, station, month); 0 where no route.
    month_period : pandas.Series
        Month label (``YYYY-MM``) → year, the default periods.
    """

    demand: xr.DataArray
    in_range: xr.DataArray
    kwh_per_route: xr.DataArray
    p_run_out: xr.DataArray
    route_km: xr.DataArray
    month_period: pd.Series

    def problem_fields(self) -> dict[str, object]:
        """The fields of a :class:`~bayesspr.deploy.DeployProblem` these draws fill."""
        return {
            "demand": self.demand,
            "in_range": self.in_range,
            "kwh_per_route": self.kwh_per_route,
            "route_km": self.route_km,
            "month_period": self.month_period,
        }


def _check(draws: object, station_city: pd.Series, temperature_c: pd.DataFrame) -> None:
    _check_draws(draws)
    found = _network_problems(draws, station_city, temperature_c)  # type: ignore[arg-type]
    if found:
        raise DeployInputError(found)


def _check_draws(draws: object) -> None:
    """Raise unless ``draws`` is a Dataset with the zip-level variables and their dims."""
    found = []
    if not isinstance(draws, xr.Dataset):
        raise DeployInputError(
            [
                Problem(
                    "draws",
                    None,
                    type(draws).__name__,
                    "expected the xarray.Dataset of bayesspr.forecast(..., keep_zips=True).draws",
                )
            ]
        )
    for name, dims in (
        ("routes_zip", {"sample", "date", "zip"}),
        ("route_km_zip", {"sample", "date", "zip"}),
        ("station_of", {"date", "zip"}),
    ):
        if name not in draws:
            found.append(Problem("draws", name, None, "expected it: forecast with keep_zips=True"))
        elif set(draws[name].dims) != dims:
            found.append(Problem("draws", name, str(draws[name].dims), f"expected dims {dims}"))
    if found:
        raise DeployInputError(found)


def _network_problems(
    draws: xr.Dataset, station_city: pd.Series, temperature_c: pd.DataFrame
) -> list[Problem]:
    """What the station → city map and the temperature table lack for these draws."""
    found = []
    served = set(np.unique(draws["station_of"].values.astype(str))) - {""}
    missing = sorted(served - {str(s) for s in station_city.index})
    if missing:
        found.append(
            Problem(
                "station_city",
                None,
                str(missing),
                "expected a city for every station the forecast serves",
            )
        )
    cities = sorted({str(c) for c in station_city})
    lacking = [c for c in cities if c not in temperature_c.index]
    if lacking:
        found.append(Problem("temperature_c", None, str(lacking), "expected a row per city"))
    months = [m for m in range(1, 13) if m not in temperature_c.columns]
    if months and not lacking:
        need = sorted(set(pd.DatetimeIndex(draws["date"].values).month) & set(months))
        if need:
            found.append(
                Problem(
                    "temperature_c",
                    None,
                    str(need),
                    "expected a column (°C) for each calendar month forecast",
                )
            )
    return found


def _km_class_edges(
    routes: np.ndarray, km: np.ndarray, n_classes: int
) -> tuple[np.ndarray, list[str]]:
    """Inner edges (km) splitting the forecast's routes into equal shares, and class labels.

    Parameters
    ----------
    routes, km : numpy.ndarray
        Routes and km per route of every zip-day draw (same shape).
    n_classes : int
        Classes wanted.

    Returns
    -------
    edges : numpy.ndarray
        Increasing inner edges (km); a route of km x is in class ``searchsorted(edges, x,
        side="right")``. Fewer than ``n_classes − 1`` where the km repeat.
    labels : list of str
        ``"0-62 km"``, ``"62-80 km"``, …, ``"101+ km"``.
    """
    used = np.nan_to_num(routes) > 0
    lengths = np.nan_to_num(km)[used]
    if lengths.size == 0 or n_classes == 1:
        return np.array([]), ["all"]
    edges = np.unique(np.quantile(lengths, np.arange(1, n_classes) / n_classes))
    bounds = [0.0, *edges]
    labels = [f"{lo:.0f}-{hi:.0f} km" for lo, hi in zip(bounds[:-1], edges, strict=True)]
    return edges, [*labels, f"{bounds[-1]:.0f}+ km"]


def from_forecast(
    draws: xr.Dataset,
    station_city: pd.Series,
    van_types: Sequence[VanType],
    temperature_c: pd.DataFrame,
    *,
    climb_m_per_km: pd.Series | None = None,
    payload_t: float = 0.5,
    energy: EnergyModel | None = None,
    km_classes: int = 4,
) -> DesignDays:
    """Design-day draws per station-month from a composed forecast's zip-day draws.

    Parameters
    ----------
    draws : xarray.Dataset
        ``bayesspr.forecast(..., keep_zips=True).draws``: ``routes_zip`` and ``route_km_zip``
        (sample, date, zip), ``station_of`` (date, zip; "" where a zip is not served).
    station_city : pandas.Series
        City of each station (index: station); sets the station order.
    van_types : sequence of VanType
        Van types; the electric ones get ``in_range`` and energy draws.
    temperature_c : pandas.DataFrame
        Mean temperature per city (rows) and calendar month 1..12 (columns) (°C).
    climb_m_per_km : pandas.Series, optional
        Net climb per km of each zip (m/km); zips not listed are flat.
    payload_t : float
        Payload of a loaded van (t).
    energy : EnergyModel, optional
        Consumption and risk settings; default :class:`EnergyModel()`.
    km_classes : int
        Route-length classes (≥ 1): the forecast's routes split by km into equal shares. More
        classes charge each route an energy closer to its own (1: one mean for all).

    Returns
    -------
    DesignDays
    """
    energy = energy or EnergyModel()
    _check(draws, station_city, temperature_c)
    if isinstance(km_classes, bool) or not isinstance(km_classes, int) or km_classes < 1:
        raise DeployInputError(
            [Problem("km_classes", None, km_classes, "expected a whole number of classes ≥ 1")]
        )
    routes = draws["routes_zip"].transpose("sample", "date", "zip")
    km = draws["route_km_zip"].transpose("sample", "date", "zip")
    edges, class_labels = _km_class_edges(routes.values, km.values, km_classes)
    station_of = draws["station_of"].transpose("date", "zip").values.astype(str)
    stations = [str(s) for s in station_city.index]
    code = pd.Index(stations).get_indexer(station_of.ravel()).reshape(station_of.shape)
    zips = draws["zip"].values.astype(str)
    climb = (
        np.zeros(len(zips))
        if climb_m_per_km is None
        else (pd.Series(climb_m_per_km).reindex(zips).fillna(0.0).to_numpy(float))
    )
    city_idx = pd.Index(sorted({str(c) for c in station_city}))
    city_of_station = city_idx.get_indexer(station_city.astype(str).to_numpy())
    dates = pd.DatetimeIndex(draws["date"].values)
    months = dates.to_period("M")
    labels = [str(m) for m in months.unique()]
    evs = sorted((v for v in van_types if v.electric), key=lambda v: float(v.range_km))
    n_w, n_s, n_e = routes.sizes["sample"], len(stations), len(evs)
    shape = (n_w, n_s, len(labels))
    demand, route_km = np.zeros(shape), np.zeros(shape)
    n_k = len(class_labels)
    in_range, kwh = (np.zeros((n_w, n_e, n_s, len(labels), n_k)) for _ in range(2))
    p_out = np.zeros((n_w, n_e, n_s, len(labels)))
    for t, label in enumerate(labels):
        day = np.nonzero(np.asarray(months == pd.Period(label)))[0]
        r = np.nan_to_num(routes.isel(date=day).values.astype(float))  # (w, d, z)
        k = np.nan_to_num(km.isel(date=day).values.astype(float))
        c = code[day]  # (d, z)
        active = c >= 0
        r = r * active[None]
        cells = np.nonzero(active.ravel())[0]
        onehot = sparse.csr_array(
            (np.ones(len(cells)), (cells, c.ravel()[cells])), shape=(c.size, n_s)
        )
        n_d = c.shape[0]
        day_cols = (np.arange(n_d)[:, None] * n_s + np.maximum(c, 0)).ravel()[cells]
        onehot_day = sparse.csr_array(
            (np.ones(len(cells)), (cells, day_cols)), shape=(c.size, n_d * n_s)
        )
        by_day = (r.reshape(n_w, -1) @ onehot_day).reshape(n_w, n_d, n_s)
        best = by_day.argmax(axis=1)  # (w, s): design day of each station in each draw
        on_design = best[:, np.maximum(c, 0)] == np.arange(len(day))[None, :, None]  # (w, d, z)
        routes_d = np.where(on_design & active[None], r, 0.0).reshape(n_w, -1)
        demand[:, :, t] = routes_d @ onehot
        total_km = (routes_d * k.reshape(n_w, -1)) @ onehot
        route_km[:, :, t] = np.divide(
            total_km, demand[:, :, t], out=np.zeros_like(total_km), where=demand[:, :, t] > 0
        )
        month_no = pd.Period(label).month
        temp = temperature_c.loc[city_idx, month_no].to_numpy(float)[city_of_station]
        temp_dz = temp[np.maximum(c, 0)]  # (d, z)
        km_class = np.searchsorted(edges, k, side="right")  # (w, d, z)
        design = routes_d.reshape(r.shape)
        for e, van in enumerate(evs):
            per_km = energy.kwh_per_km(van, temp_dz, climb[None, :], payload_t)  # (d, z)
            route_kwh = k * per_km[None]  # (w, d, z)
            ok = (route_kwh <= energy.reach_kwh(van)) & (k > 0)
            served = np.where(ok, design, 0.0).reshape(n_w, -1)
            n_ok = served @ onehot
            p_sum = (served * energy.p_run_out(van, route_kwh).reshape(n_w, -1)) @ onehot
            p_out[:, e, :, t] = np.divide(
                p_sum, n_ok, out=np.full_like(p_sum, np.nan), where=n_ok > 0
            )
            for j in range(n_k):
                in_class = (km_class == j) & (k > 0)
                class_routes = np.where(in_class, design, 0.0).reshape(n_w, -1)
                n_class = class_routes @ onehot
                e_sum = (class_routes * route_kwh.reshape(n_w, -1)) @ onehot
                kwh[:, e, :, t, j] = np.divide(
                    e_sum, n_class, out=np.zeros_like(e_sum), where=n_class > 0
                )
                in_range[:, e, :, t, j] = (served * in_class.reshape(n_w, -1)) @ onehot
    coords = {"sample": routes["sample"].values, "station": stations, "month": labels}
    ev_coords = {**coords, "van": [v.name for v in evs]}
    class_coords = {**ev_coords, "km_class": class_labels}
    dims3, dims4 = ("sample", "station", "month"), ("sample", "van", "station", "month")
    dims5 = (*dims4, "km_class")
    return DesignDays(
        demand=xr.DataArray(demand, dims=dims3, coords=coords, name="demand"),
        in_range=xr.DataArray(in_range, dims=dims5, coords=class_coords, name="in_range"),
        kwh_per_route=xr.DataArray(kwh, dims=dims5, coords=class_coords, name="kwh_per_route"),
        p_run_out=xr.DataArray(p_out, dims=dims4, coords=ev_coords, name="p_run_out"),
        route_km=xr.DataArray(route_km, dims=dims3, coords=coords, name="route_km"),
        month_period=pd.Series([pd.Period(m).year for m in labels], index=labels),
    )
