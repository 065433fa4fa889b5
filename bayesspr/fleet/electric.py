"""Electrification: how many of a station's routes can go electric, from forecast draws.

One job: compare each forecast route's length (``route_km_zip``, from the model's learned
constants through :func:`bayesspr.spr.physics.expected_route_km`) with an electric van's usable
range (derated for cold and hills by :class:`bayesspr.fleet.config.EVConfig`), and the energy
the routes need with the charger power of the station. Computed on all draws at once; no loop
per draw. Also available as ``bayesspr.fleet.decisions.ev_feasibility``.

Units: distances in km, energy in kWh, power in kW, routes and vans per day.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.errors import FleetConfigError
from bayesspr.fleet.config import EVConfig, VanType, _check_probability, vans_by_station

#: Largest number of sample × date × zip cells processed at once (bounds temporary memory).
_CHUNK_CELLS = 20_000_000


def _station_sums(
    routes: xr.DataArray,
    km: xr.DataArray,
    range_dz: np.ndarray,
    station_of: np.ndarray,
    stations: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (sample, date, station): routes, routes within range, and their total km.

    ``routes`` and ``km`` are (sample, date, zip); ``range_dz`` is the usable range of each
    zip-day (km, NaN where inactive). Draws are processed in chunks so that no float copy
    of the whole zip-level forecast is held at once.
    """
    onehot = (station_of[:, :, None] == stations[None, None, :]).astype(float)  # (d, z, st)
    n_s, n_d, n_z = routes.shape
    step = max(1, _CHUNK_CELLS // max(n_d * n_z, 1))
    out = np.zeros((3, n_s, n_d, len(stations)))
    for a in range(0, n_s, step):  # chunks of draws, not a loop per draw
        part = slice(a, a + step)
        served = routes[part].to_numpy().astype(float) * np.isfinite(range_dz)[None]
        length = km[part].to_numpy().astype(float)
        with np.errstate(invalid="ignore"):
            within = (length <= range_dz[None]) & (served > 0)
        ok = np.where(within, served, 0.0)
        ok_km = np.where(within, served * length, 0.0)
        for k, values in enumerate((served, ok, ok_km)):
            out[k, part] = np.einsum("sdz,dzk->sdk", values, onehot)
    return out[0], out[1], out[2]


def _low_count(values: np.ndarray, risk: float) -> int:
    """Largest whole n with empirical P(X ≥ n) ≥ 1 − risk (0 for no values)."""
    if values.size == 0:
        return 0
    j = math.floor(risk * values.size + 1e-9)  # values allowed below n
    kth = np.partition(values.reshape(-1), min(j, values.size - 1))[min(j, values.size - 1)]
    return math.floor(kth + 1e-9)


def ev_feasibility(
    forecast: xr.Dataset,
    van_type: VanType,
    ev_config: EVConfig,
    risk: float = 0.05,
    *,
    fleet_by_station: pd.Series | None = None,
) -> pd.DataFrame:
    """How many of each station's vans can go electric.

    Parameters
    ----------
    forecast : xarray.Dataset
        Forecast with ``routes_zip`` (routes per zip-day) and ``route_km_zip`` (km per route
        of that zip-day) on dims ``sample``, ``date``, ``zip``, and the coordinate
        ``station_of`` (``date`` × ``zip``, the station serving the zip; "" if inactive).
    van_type : VanType
        An electric van type (with ``range_km`` and ``kwh_per_km``).
    ev_config : EVConfig
        Derating factors and charger power.
    risk : float
        Accepted risk in (0, 1) that, on a day drawn at random (over draws and the
        station's days), some electric van would have to run a route longer than its range.
    fleet_by_station : pandas.Series, optional
        Vans the station owns (index: station). With it, out-of-range routes go to the
        combustion vans first, so n electric vans are safe on a day when the out-of-range
        routes X fit on the others: n ≤ vans − X. Without it, each electric van needs a
        route within range of its own (n ≤ routes within range), the conservative answer.

    Returns
    -------
    pandas.DataFrame
        One row per station: ``range_km`` (usable range after derating, km); ``p_exceed``
        (P(a route is longer than the usable range), weighted by routes over draws and
        days); ``routes_in_range`` (the largest n with P(routes within range on a working
        day ≥ n) ≥ 1 − risk; days without routes are left out); ``range_cap`` (electric
        vans the range allows at the risk: ``routes_in_range``, or with a fleet the largest
        n ≤ vans with P(vans − X ≥ n) ≥ 1 − risk over the station's days);
        ``mean_route_km`` (mean length of routes within range, km); ``charger_kwh`` (kW ×
        charging hours, kWh per day); ``charger_cap`` (vans the chargers can refill each
        day: ⌊charger_kwh / (kWh/km · mean_route_km)⌋); ``ev_vans`` (min of range_cap and
        charger_cap) and ``binding`` ("range" or "charger").

    Raises
    ------
    FleetConfigError
        If the van type is not electric, ``risk`` is not in (0, 1), the forecast is not a
        Dataset or lacks the zip-level variables (or has them on other dims), or
        ``fleet_by_station`` is not a valid count of vans per station. Every message names
        the argument, the value and what was expected.
    """
    risk = _check_probability("risk", risk)
    _check_ev_inputs(forecast, van_type, ev_config)
    routes = forecast["routes_zip"].transpose("sample", "date", "zip")
    km = forecast["route_km_zip"].transpose("sample", "date", "zip")
    station_of = forecast["station_of"].transpose("date", "zip").to_numpy().astype(str)
    stations = np.array(sorted(set(np.unique(station_of)) - {""}), dtype=str)
    if not len(stations):
        raise FleetConfigError("forecast station_of names no station: expected active zips")

    factor = np.array([ev_config.range_factor(s) for s in stations.tolist()])
    usable = float(van_type.range_km) * factor  # (station,)
    code = np.searchsorted(stations, station_of)  # index of each zip-day's station
    active_zip = station_of != ""
    range_dz = np.where(active_zip, usable[np.minimum(code, len(stations) - 1)], np.nan)
    total, ok, ok_km = _station_sums(routes, km, range_dz, station_of, stations)

    owned = None if fleet_by_station is None else vans_by_station(fleet_by_station, stations)
    active = (station_of[:, :, None] == stations[None, None, :]).any(axis=1)  # (d, st)
    rows = []
    for i, station in enumerate(stations.tolist()):
        days = active[:, i]
        vans = None if owned is None else owned[i]
        row = {"station": station, "range_km": usable[i]}
        row |= _range_columns(total[:, days, i], ok[:, days, i], vans, risk)
        row |= _charger_columns(station, ok[:, days, i], ok_km[:, days, i], van_type, ev_config)
        row["ev_vans"] = min(row["range_cap"], row["charger_cap"])
        row["binding"] = "charger" if row["charger_cap"] < row["range_cap"] else "range"
        rows.append(row)
    return pd.DataFrame(rows)


def _check_ev_inputs(forecast: xr.Dataset, van_type: VanType, ev_config: EVConfig) -> None:
    """Raise FleetConfigError unless the van is electric and the forecast has zip routes."""
    if not isinstance(van_type, VanType):
        raise FleetConfigError(f"van_type = {van_type!r}: expected a bayesspr.fleet.VanType")
    if not van_type.electric:
        raise FleetConfigError(
            f"van_type: van type {van_type.name!r} has no range_km: expected an electric van "
            "type with range_km (km) and kwh_per_km (kWh per km)"
        )
    if not isinstance(ev_config, EVConfig):
        raise FleetConfigError(f"ev_config = {ev_config!r}: expected a bayesspr.fleet.EVConfig")
    if not isinstance(forecast, xr.Dataset):
        raise FleetConfigError(
            f"forecast is a {type(forecast).__name__}: expected the xarray.Dataset of draws "
            "of bayesspr.forecast(..., keep_zips=True) (its .draws)"
        )
    need = [v for v in ("routes_zip", "route_km_zip", "station_of") if v not in forecast]
    if need:
        raise FleetConfigError(
            f"forecast lacks {need}: expected routes_zip, route_km_zip (sample, date, zip) "
            "and station_of (date, zip); forecast with keep_zips=True"
        )
    for name, dims in (
        ("routes_zip", {"sample", "date", "zip"}),
        ("route_km_zip", {"sample", "date", "zip"}),
        ("station_of", {"date", "zip"}),
    ):
        if set(forecast[name].dims) != dims:
            raise FleetConfigError(
                f"forecast[{name!r}] has dims {forecast[name].dims}: expected the dims "
                f"{tuple(sorted(dims))} in any order"
            )


def _range_columns(
    total: np.ndarray, ok: np.ndarray, owned: float | None, risk: float
) -> dict[str, float | int]:
    """``p_exceed``, ``routes_in_range`` and ``range_cap`` of one station.

    ``total`` and ``ok`` are (sample, day) routes and routes within range on the station's
    days; ``owned`` the vans it owns (None: each electric van needs a route within range).
    """
    tot = total.sum()
    p_exceed = 1.0 - ok.sum() / tot if tot > 0 else math.nan
    working = total > 0  # (sample, day): the station runs routes
    n_range = _low_count(ok[working], risk)
    if owned is None:
        range_cap = n_range
    else:
        spare = owned - (total - ok)  # vans − out-of-range
        range_cap = min(max(_low_count(spare.reshape(-1), risk), 0), int(owned))
    return {"p_exceed": p_exceed, "routes_in_range": n_range, "range_cap": range_cap}


def _charger_columns(
    station: str, ok: np.ndarray, ok_km: np.ndarray, van_type: VanType, ev_config: EVConfig
) -> dict[str, float | int]:
    """``mean_route_km``, ``charger_kwh`` and ``charger_cap`` of one station.

    ``ok`` and ``ok_km`` are (sample, day) routes within range and their km on its days.
    """
    eligible = ok.sum()
    mean_km = ok_km.sum() / eligible if eligible > 0 else math.nan
    kwh = ev_config.charger_kw(station) * float(ev_config.charging_hours)
    per_van = float(van_type.kwh_per_km) * mean_km
    cap = math.floor(kwh / per_van + 1e-9) if eligible > 0 else 0
    return {"mean_route_km": mean_km, "charger_kwh": kwh, "charger_cap": cap}
