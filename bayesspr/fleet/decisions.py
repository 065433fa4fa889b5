"""Fleet decisions from joint posterior predictive draws of routes per station-day.

One job: turn a forecast (draws of routes per station-day, from
:func:`bayesspr.forecasting.compose.forecast` or :func:`routes_from_rows` on
:meth:`bayesspr.SPRModel.predict_draws`) into the vans to buy,
and the risks that go with them. Every decision is a pure function of the draws, computed on
all draws at once, so the dependence between a station's zips and between its days is kept.

Decisions (see ``docs/fleet.md``):

* :func:`plan`: vans per station, month and van type by a **service level** (the smallest
  fleet v with P(routes on a peak day ≤ v) ≥ α; peak days are each draw's busiest
  ``peak_share`` of the month's days) or the **cost-optimal newsvendor** rule (the smallest v
  with F(v) ≥ 1 − c_o / c_s over all days of the month), with expected cost and its
  breakdown; plus the fleet for the whole horizon (vans bought are kept). The recommended
  columns are ``vans_needed`` (per month) and ``vans_to_buy`` (horizon); ``rule`` says which
  rule filled them.
* :func:`margin_table`: the vans above the point forecast and, for each extra van, the
  probability it is needed.
* :func:`van_mix`: per station, the van type of least expected cost (a larger van lowers
  routes only where the capacity bound binds).
* :func:`absorb`: whether a fleet already bought absorbs a scenario (demand shock, moved zip,
  new station), and the expected shortfall in van-days.
* :func:`ev_feasibility` (in :mod:`bayesspr.fleet.electric`, re-exported here): how many of a
  station's routes can go electric given battery range (derated for cold and hills), the
  route lengths of the forecast and the charger power.

The settings (:class:`VanType`, :class:`FleetCosts`, :class:`EVConfig`) live in
:mod:`bayesspr.fleet.config` and are re-exported here.

Every column of the tables these functions return is explained, with its unit, in
:data:`COLUMN_LEGEND` and :meth:`FleetPlan.legend` (a table to print or write beside a CSV).

Units: routes and vans are counts per day; costs are in one currency of the user's choice;
distances in km; energy in kWh; power in kW.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.defaults import DEFAULT_PEAK_SHARE as DEFAULT_PEAK_SHARE  # re-exported
from bayesspr.defaults import DEFAULT_SERVICE_LEVEL as DEFAULT_SERVICE_LEVEL  # re-exported
from bayesspr.errors import FleetConfigError
from bayesspr.fleet.config import EVConfig as EVConfig
from bayesspr.fleet.config import (
    FleetCosts,
    VanType,
    _check_peak_share,
    _check_probability,
    vans_by_station,
)
from bayesspr.fleet.draws import Forecast as Forecast
from bayesspr.fleet.draws import (
    as_routes,
    fleet_quantile,
    month_slices,
    peak_days,
    sample_labels,
    scenario_name,
)

# re-exported: the fleet decisions' settings and the EV check are part of this API
from bayesspr.fleet.electric import ev_feasibility as ev_feasibility
from bayesspr.fleet.legend import legend_frame

#: Decision rules :func:`plan` knows.
RULES = ("service", "cost")

Rule = Literal["service", "cost"]


@dataclass(frozen=True)
class FleetPlan:
    """Result of :func:`plan`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per station, month and van type (see :func:`plan`); ``vans_needed`` is the
        recommended monthly fleet, filled by the rule named in ``rule``.
    horizon : pandas.DataFrame
        One row per station and van type: ``vans_to_buy``, the fleet to buy and keep for the
        whole horizon, filled by the rule named in ``rule``.
    draws : xarray.Dataset
        ``routes`` (routes per day), ``vans`` (vans per month) and ``shortfall`` (vans short
        per day) with dims ``van_type``, ``sample``, ``date``/``month``, ``station``.
    service_level : float
        Probability, in (0, 1), that the fleet covers a peak day: the setting the plan was
        made with. It is per peak day of each month, not for every day.
    peak_share : float
        Share of the busiest days, in (0, 1), that counted as peak days.
    rule : str
        ``"service"`` or ``"cost"``: which rule filled ``vans_needed`` and ``vans_to_buy``.
    scenario : str, optional
        Name of the forecast's scenario (its ``scenario`` attribute), if it had one.
    """

    table: pd.DataFrame
    horizon: pd.DataFrame
    draws: xr.Dataset
    service_level: float
    peak_share: float
    rule: str = field(default="service")
    scenario: str | None = field(default=None)

    def legend(self, which: Literal["table", "horizon"] = "horizon") -> pd.DataFrame:
        """Unit and one-line meaning of each column of :attr:`table` or :attr:`horizon`.

        Parameters
        ----------
        which : {"table", "horizon"}
            The table to explain.

        Returns
        -------
        pandas.DataFrame
            Columns ``column``, ``unit``, ``meaning``, one row per column of that table in
            its order, with this plan's service level, peak share and critical fractile
            written in. Write it next to the table's CSV (:func:`bayesspr.io.files.write_csv`).
        """
        if which not in ("table", "horizon"):
            raise FleetConfigError(f"which = {which!r}: expected 'table' or 'horizon'")
        frame = self.table if which == "table" else self.horizon
        fractiles = frame["critical_fractile"].dropna().unique()
        fractile = None  # several van types, several fractiles: the column holds them
        if len(fractiles) <= 1:
            fractile = float(fractiles[0]) if len(fractiles) else math.nan
        return legend_frame(
            which,
            service_level=self.service_level,
            peak_share=self.peak_share,
            critical_fractile=fractile,
            columns=list(frame.columns),
        )


# --- input -----------------------------------------------------------------------------------


def _critical_fractile(co_day: float, cs: float) -> float:
    """Newsvendor quantile max(0, 1 − c_o / c_s) (–); 0 means no van pays for itself."""
    return max(0.0, 1.0 - co_day / cs) if cs > 0 else 0.0


# --- plan ------------------------------------------------------------------------------------


def _is_mapping(value: object) -> bool:
    """Whether ``value`` is a mapping of forecasts (an xarray Dataset is a mapping too)."""
    return isinstance(value, Mapping) and not isinstance(value, xr.Dataset)


def _resolve_types(
    forecast_draws: Forecast | Mapping[str, Forecast],
    costs: FleetCosts | None,
    van_type: str | None,
) -> dict[str, tuple[Forecast, VanType | None]]:
    """Map van type name → (forecast, VanType or None), checking names against ``costs``."""
    if _is_mapping(forecast_draws):
        if van_type is not None:
            raise FleetConfigError(
                "van_type is given with a mapping of forecasts: expected the mapping's keys to "
                "name the van types"
            )
        if not forecast_draws:
            raise FleetConfigError(
                "forecast_draws is an empty mapping: expected one forecast per van"
            )
        items = dict(forecast_draws)
    else:
        if van_type is None:
            if costs is not None and len(costs.van_types) > 1:
                known = ", ".join(repr(v.name) for v in costs.van_types)
                raise FleetConfigError(
                    f"van_type = None with {len(costs.van_types)} van types in costs: expected "
                    f"one of {known}"
                )
            van_type = costs.van_types[0].name if costs is not None else "van"
        items = {van_type: forecast_draws}
    return {name: (fc, None if costs is None else costs.van(name)) for name, fc in items.items()}


def _evaluate(
    values: np.ndarray,
    slices: list[slice],
    vans: np.ndarray,
    peak_share: float,
) -> dict[str, np.ndarray]:
    """Risk of a fleet ``vans`` (month, station) against routes (sample, date, station)."""
    n_m, n_st = len(slices), values.shape[2]
    out = {k: np.zeros((n_m, n_st)) for k in ("p_shortfall", "p_short_any_day", "short_days")}
    out["shortage_van_days"] = np.zeros((n_m, n_st))
    for m, sl in enumerate(slices):
        block = values[:, sl, :]
        v = vans[m][None, None, :]
        peak = peak_days(block, peak_share)
        out["p_shortfall"][m] = (peak > vans[m][None, :]).mean(axis=0)
        out["p_short_any_day"][m] = (block.max(axis=1) > vans[m][None, :]).mean(axis=0)
        out["shortage_van_days"][m] = np.maximum(block - v, 0.0).sum(axis=1).mean(axis=0)
        out["short_days"][m] = (block > v).sum(axis=1).mean(axis=0)
    return out


@dataclass(frozen=True)
class _Months:
    """One van type's routes (sample, date, station) cut into calendar months."""

    values: np.ndarray
    dates: np.ndarray
    stations: np.ndarray
    starts: pd.DatetimeIndex
    slices: list[slice]

    @classmethod
    def of(cls, routes: xr.DataArray) -> _Months:
        dates = routes["date"].to_numpy()
        starts, slices = month_slices(dates)
        stations = routes["station"].to_numpy().astype(str)
        return cls(routes.to_numpy(), dates, stations, starts, slices)

    @property
    def days(self) -> np.ndarray:
        """Days in each month of the forecast (days)."""
        return np.array([sl.stop - sl.start for sl in self.slices])

    @property
    def shape(self) -> tuple[int, int]:
        """(months, stations)."""
        return len(self.slices), len(self.stations)


@dataclass(frozen=True)
class _Sizing:
    """How one van type's fleet is sized: the rule, its levels and the daily costs."""

    van_name: str
    rule: str
    service_level: float
    peak_share: float
    has_costs: bool
    co_day: float  # cost of owning one van for one day (currency), NaN without costs
    cs: float  # cost of one van-day short (currency), NaN without costs
    fractile: float  # the newsvendor critical fractile, NaN without costs

    @classmethod
    def of(
        cls,
        van_name: str,
        rule: str,
        service_level: float,
        peak_share: float,
        costs: FleetCosts | None,
        van: VanType | None,
        n_days: int,
    ) -> _Sizing:
        if costs is not None and van is not None:
            horizon_days = costs.horizon_days or n_days
            co_day = van.cost_per_van / horizon_days
            cs = float(costs.shortage_cost_per_van_day)
        else:
            co_day = cs = math.nan
        fractile = _critical_fractile(co_day, cs) if costs is not None else math.nan
        has_costs = costs is not None
        return cls(van_name, rule, service_level, peak_share, has_costs, co_day, cs, fractile)

    def vans(self, fleets: Mapping[str, np.ndarray]) -> np.ndarray:
        """The fleet this rule buys, of the service-level and cost-optimal ones."""
        return fleets["cost"] if self.rule == "cost" else fleets["service"]


def _monthly_fleets(grid: _Months, sizing: _Sizing) -> dict[str, np.ndarray]:
    """Per (month, station): the fleets of each rule, of the point forecast, and the routes."""
    values, service_level, peak_share = grid.values, sizing.service_level, sizing.peak_share
    n_m, n_st = grid.shape
    out = {k: np.zeros((n_m, n_st), dtype=np.int64) for k in ("service", "cost", "point")}
    out |= {k: np.zeros((n_m, n_st)) for k in ("mean_routes", "peak_routes")}
    point = values.mean(axis=0, keepdims=True)  # the point forecast: mean routes per day
    for m, sl in enumerate(grid.slices):
        block = values[:, sl, :]
        peak = peak_days(block, peak_share)
        out["service"][m] = fleet_quantile(peak, service_level)
        out["point"][m] = fleet_quantile(peak_days(point[:, sl, :], peak_share), service_level)
        if sizing.has_costs:
            out["cost"][m] = fleet_quantile(block.reshape(-1, n_st), sizing.fractile)
        out["mean_routes"][m] = block.mean(axis=(0, 1))
        out["peak_routes"][m] = peak.mean(axis=0)
    return out


def _plan_one(
    routes: xr.DataArray,
    van: VanType | None,
    van_name: str,
    costs: FleetCosts | None,
    service_level: float,
    peak_share: float,
    rule: str,
) -> tuple[pd.DataFrame, pd.DataFrame, xr.Dataset]:
    """Monthly table, horizon table and draws for one van type."""
    grid = _Months.of(routes)
    sizing = _Sizing.of(van_name, rule, service_level, peak_share, costs, van, grid.values.shape[1])
    fleets = _monthly_fleets(grid, sizing)
    table = _month_table(grid, fleets, sizing)
    horizon = _horizon_plan(grid, fleets["service"], sizing)
    return table, horizon, _plan_draws(routes, grid, sizing.vans(fleets), rule)


def _month_table(grid: _Months, fleets: dict[str, np.ndarray], sizing: _Sizing) -> pd.DataFrame:
    """The monthly plan: one row per station and month (see ``COLUMN_LEGEND``)."""
    n_m, n_st = grid.shape
    vans = sizing.vans(fleets)
    risk = _evaluate(grid.values, grid.slices, vans, sizing.peak_share)
    fleet_cost = sizing.co_day * grid.days[:, None] * vans
    shortage_cost = sizing.cs * risk["shortage_van_days"]
    keys = {
        "station": np.tile(grid.stations, n_m),
        "month": np.repeat(grid.starts.to_numpy(), n_st),
        "van_type": sizing.van_name,
        "days": np.repeat(grid.days, n_st),
    }
    cols = {
        "vans_needed": vans,
        "rule": np.full((n_m, n_st), sizing.rule),
        "vans_at_service_level": fleets["service"],
        "service_level": np.full((n_m, n_st), sizing.service_level),
        "vans_cost_optimal": fleets["cost"],
        "critical_fractile": np.full((n_m, n_st), sizing.fractile),
        "mean_routes_per_day": fleets["mean_routes"],
        "mean_peak_day_routes": fleets["peak_routes"],
        "vans_point_forecast": fleets["point"],
        "margin_vans": vans - fleets["point"],
        "p_short_peak_day": risk["p_shortfall"],
        "p_short_any_day": risk["p_short_any_day"],
        "shortage_van_days": risk["shortage_van_days"],
        "fleet_cost": fleet_cost,
        "shortage_cost": shortage_cost,
        "expected_cost": fleet_cost + shortage_cost,
    }
    table = pd.DataFrame({**keys, **{k: np.asarray(v).reshape(-1) for k, v in cols.items()}})
    if not sizing.has_costs:
        table["vans_cost_optimal"] = pd.array([pd.NA] * len(table), dtype="Int64")
    return table


def _horizon_plan(grid: _Months, vans_service: np.ndarray, sizing: _Sizing) -> pd.DataFrame:
    """The horizon plan: vans bought are kept, so one fleet per station serves every month."""
    values, n_st = grid.values, grid.shape[1]
    h_service = vans_service.max(axis=0)
    h_cost = (
        fleet_quantile(values.reshape(-1, n_st), sizing.fractile)
        if sizing.has_costs
        else np.zeros(n_st, dtype=np.int64)
    )
    h_vans = sizing.vans({"cost": h_cost, "service": h_service})
    horizon = _horizon_table(values, grid.slices, grid.stations, h_vans, sizing.peak_share)
    horizon = horizon.rename(columns={"vans": "vans_to_buy"})
    horizon.insert(1, "van_type", sizing.van_name)
    horizon.insert(3, "rule", sizing.rule)
    horizon.insert(4, "vans_at_service_level", h_service)
    horizon.insert(5, "service_level", sizing.service_level)
    horizon.insert(6, "sizing_month", grid.starts[np.argmax(vans_service, axis=0)])
    horizon.insert(7, "vans_cost_optimal", h_cost)
    horizon.insert(8, "critical_fractile", sizing.fractile)
    if not sizing.has_costs:
        horizon["vans_cost_optimal"] = pd.array([pd.NA] * len(horizon), dtype="Int64")
    horizon["mean_routes_per_day"] = values.mean(axis=(0, 1))
    horizon["fleet_cost"] = sizing.co_day * values.shape[1] * h_vans
    horizon["shortage_cost"] = sizing.cs * horizon["shortage_van_days"]
    horizon["expected_cost"] = horizon["fleet_cost"] + horizon["shortage_cost"]
    return horizon


def _plan_draws(routes: xr.DataArray, grid: _Months, vans: np.ndarray, rule: str) -> xr.Dataset:
    """Routes, the monthly fleet and the shortfall of every draw and day."""
    values = grid.values
    month_of_date = np.repeat(np.arange(grid.shape[0]), grid.days)
    vans_by_date = vans[month_of_date]
    return xr.Dataset(
        {
            "routes": (("sample", "date", "station"), values, {"units": "routes per day"}),
            "vans": (("month", "station"), vans, {"units": "vans", "rule": rule}),
            "shortfall": (
                ("sample", "date", "station"),
                np.maximum(values - vans_by_date[None], 0.0),
                {"units": "vans short per day"},
            ),
        },
        coords={
            "sample": sample_labels(routes),
            "date": grid.dates,
            "station": grid.stations,
            "month": grid.starts.to_numpy(),
            "month_of_date": ("date", grid.starts.to_numpy()[month_of_date]),
        },
    )


def _horizon_table(
    values: np.ndarray,
    slices: list[slice],
    stations: np.ndarray,
    vans: np.ndarray,
    peak_share: float,
) -> pd.DataFrame:
    """Risk over the whole forecast of one fleet per station, kept for every day."""
    v = vans[None, None, :]
    peaks = np.concatenate([peak_days(values[:, sl, :], peak_share) for sl in slices], axis=0)
    return pd.DataFrame(
        {
            "station": stations,
            "vans": vans.astype(np.int64),
            "p_cover_peak_day": (peaks <= vans[None, :]).mean(axis=0),
            "p_cover_every_day": (values.max(axis=1) <= vans[None, :]).mean(axis=0),
            "shortage_van_days": np.maximum(values - v, 0.0).sum(axis=1).mean(axis=0),
            "short_days": (values > v).sum(axis=1).mean(axis=0),
        }
    )


def plan(
    forecast_draws: Forecast | Mapping[str, Forecast],
    service_level: float = DEFAULT_SERVICE_LEVEL,
    costs: FleetCosts | None = None,
    *,
    rule: Rule = "service",
    van_type: str | None = None,
    peak_share: float = DEFAULT_PEAK_SHARE,
) -> FleetPlan:
    """Vans needed per station, month and van type, with their risk and expected cost.

    Parameters
    ----------
    forecast_draws : xarray.Dataset or xarray.DataArray, or mapping of str to them
        Forecast with ``routes`` (routes per station-day) on dims ``sample``, ``date``
        (daily datetime64), ``station``; each draw is one joint scenario of all stations and
        days. A mapping gives one forecast per van type (keys: van type names).
    service_level : float
        α in (0, 1): the fleet covers a peak day with probability at least α.
    costs : FleetCosts, optional
        Van and shortage costs; without them the cost columns are NaN and only the service
        rule is available.
    rule : {"service", "cost"}
        Which rule fills the recommended columns ``vans_needed`` (per month) and
        ``vans_to_buy`` (horizon): the service level, or the cost-optimal newsvendor. Both
        are always reported (``vans_at_service_level``, ``vans_cost_optimal``), and the
        ``rule`` column names the one used.
    van_type : str, optional
        Name of the van type in ``costs`` the forecast was made for; needed when ``costs``
        lists several types and ``forecast_draws`` is a single forecast.
    peak_share : float
        Share of a month's days that are peak days, in (0, 1]: on each draw, the
        ⌈peak_share · days⌉ busiest days of the month (default: the busiest 5 %).

    Returns
    -------
    FleetPlan
        ``table``: one row per station, month (month-start Timestamp) and van type with
        ``days``; ``vans_needed`` (the recommended fleet of the month, by ``rule``), ``rule``,
        ``vans_at_service_level`` (smallest v with P(routes on a peak day ≤ v) ≥ α: a
        service level per peak day, not for every day), ``service_level`` (α),
        ``vans_cost_optimal`` (smallest v with P(routes on a day of the month ≤ v) ≥ 1 −
        c_o/c_s, c_o the van cost per day, c_s the shortage cost per van-day),
        ``critical_fractile`` (max(0, 1 − c_o/c_s); 0: no van pays for itself, renting is
        cheaper); ``mean_routes_per_day``, ``mean_peak_day_routes`` (mean routes on peak
        days; routes per day), ``vans_point_forecast`` (the service rule applied to the
        point forecast, the mean of each day's routes), ``margin_vans`` = vans_needed −
        vans_point_forecast; ``p_short_peak_day`` (P(routes on a peak day > vans_needed)),
        ``p_short_any_day`` (P(some day of the month needs more than vans_needed)),
        ``shortage_van_days`` (E[Σ days max(routes − vans_needed, 0)], van-days),
        ``fleet_cost`` (c_o · days · vans_needed), ``shortage_cost`` (c_s ·
        shortage_van_days), ``expected_cost`` (their sum; currency).
        ``horizon``: per station and van type, one fleet kept over every day:
        ``vans_to_buy`` (the recommended fleet, by ``rule``), ``rule``,
        ``vans_at_service_level`` (the largest monthly service-level fleet),
        ``service_level``, ``sizing_month`` (the month that sets it), ``vans_cost_optimal``
        (newsvendor over all days), ``critical_fractile``, ``p_cover_peak_day`` (P(routes
        on a peak day ≤ vans_to_buy), over every month's peak days), ``p_cover_every_day``
        (P(vans_to_buy covers every day of the forecast)), ``shortage_van_days``,
        ``short_days`` (expected days with a shortage), ``mean_routes_per_day``, costs.
        :meth:`FleetPlan.legend` explains every column in one line with its unit.
        ``draws``: the draws behind the tables.

    Raises
    ------
    FleetConfigError
        If ``service_level`` is not in (0, 1), ``peak_share`` not in (0, 1], ``rule`` is
        unknown or needs missing costs, a van type is not in ``costs``, or the forecast is
        malformed.
    """
    service_level = _check_probability("service_level", service_level)
    peak_share = _check_peak_share(peak_share)
    if rule not in RULES:
        raise FleetConfigError(f"rule = {rule!r}: expected one of {RULES}")
    if rule == "cost" and costs is None:
        raise FleetConfigError("rule = 'cost' needs costs: expected a FleetCosts, got None")
    if costs is not None and not isinstance(costs, FleetCosts):
        raise FleetConfigError(f"costs = {costs!r}: expected a bayesspr.fleet.FleetCosts")
    tables, horizons, draws, scenarios = [], [], [], []
    for name, (fc, van) in _resolve_types(forecast_draws, costs, van_type).items():
        scenarios.append(scenario_name(fc))
        t, h, d = _plan_one(as_routes(fc), van, name, costs, service_level, peak_share, rule)
        tables.append(t)
        horizons.append(h)
        draws.append(d.expand_dims(van_type=[name]))
    return FleetPlan(
        table=pd.concat(tables, ignore_index=True),
        horizon=pd.concat(horizons, ignore_index=True),
        draws=xr.concat(draws, dim="van_type", join="outer"),
        service_level=service_level,
        peak_share=peak_share,
        rule=rule,
        scenario=" / ".join(dict.fromkeys(n for n in scenarios if n)) or None,
    )


def evaluate_fleet(
    forecast: Forecast,
    vans: int | pd.Series | pd.DataFrame,
    costs: FleetCosts | None = None,
    *,
    van_type: str | None = None,
    peak_share: float = DEFAULT_PEAK_SHARE,
) -> pd.DataFrame:
    """Service level, shortfall and expected cost of a given fleet, per station and month.

    Parameters
    ----------
    forecast : xarray.Dataset or xarray.DataArray
        Forecast with ``routes`` (sample, date, station), routes per station-day.
    vans : int, pandas.Series or pandas.DataFrame
        The fleet (vans): one number for every station and month; a Series indexed by
        station (kept every month; stations not listed have 0); or a DataFrame with columns
        ``station``, ``month`` (month start) and ``vans`` or ``vans_needed`` (a
        :attr:`FleetPlan.table`; missing pairs have 0).
    costs : FleetCosts, optional
        Costs; without them the cost columns are NaN.
    van_type : str, optional
        Van type in ``costs`` (needed when it lists several).
    peak_share : float
        Share of a month's days that are peak days, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per station and month: ``vans``, ``p_cover_peak_day`` (P(routes on a peak
        day ≤ vans): the service level reached), ``p_short_peak_day`` (1 −
        p_cover_peak_day), ``p_short_any_day``, ``shortage_van_days`` (van-days),
        ``short_days`` (days), ``fleet_cost``, ``shortage_cost``, ``expected_cost``
        (currency); see ``COLUMN_LEGEND["evaluate"]``.
    """
    peak_share = _check_peak_share(peak_share)
    if _is_mapping(forecast):
        raise FleetConfigError(
            "forecast is a mapping: expected one forecast (evaluate one van type)"
        )
    ((name, (fc, van)),) = _resolve_types(forecast, costs, van_type).items()
    routes = as_routes(fc)
    values = routes.to_numpy()
    stations = routes["station"].to_numpy().astype(str)
    month_starts, slices = month_slices(routes["date"].to_numpy())
    n_m, n_st = len(slices), len(stations)
    if isinstance(vans, pd.DataFrame):
        column = "vans" if "vans" in vans.columns else "vans_needed"
        wide = vans.assign(month=pd.to_datetime(vans["month"])).pivot_table(
            index="month", columns="station", values=column, aggfunc="max"
        )
        grid = wide.reindex(index=month_starts, columns=stations).fillna(0).to_numpy()
    elif isinstance(vans, pd.Series):
        grid = np.tile(vans.reindex(stations).fillna(0).to_numpy(float), (n_m, 1))
    else:
        grid = np.full((n_m, n_st), float(vans))
    if (grid < 0).any() or not np.isfinite(grid).all():
        raise FleetConfigError("vans has negative or non-finite values: expected vans >= 0")
    grid = np.ceil(grid - 1e-9).astype(np.int64)
    risk = _evaluate(values, slices, grid, peak_share)
    days = np.array([sl.stop - sl.start for sl in slices])
    if costs is not None:
        co_day = van.cost_per_van / (costs.horizon_days or values.shape[1])
        cs = float(costs.shortage_cost_per_van_day)
    else:
        co_day = cs = math.nan
    out = pd.DataFrame(
        {
            "station": np.tile(stations, n_m),
            "month": np.repeat(month_starts.to_numpy(), n_st),
            "van_type": name,
            "vans": grid.reshape(-1),
            "p_cover_peak_day": 1.0 - risk["p_shortfall"].reshape(-1),
            "p_short_peak_day": risk["p_shortfall"].reshape(-1),
            "p_short_any_day": risk["p_short_any_day"].reshape(-1),
            "shortage_van_days": risk["shortage_van_days"].reshape(-1),
            "short_days": risk["short_days"].reshape(-1),
            "fleet_cost": (co_day * days[:, None] * grid).reshape(-1),
        }
    )
    out["shortage_cost"] = cs * out["shortage_van_days"]
    out["expected_cost"] = out["fleet_cost"] + out["shortage_cost"]
    return out


# --- over-budget margin ----------------------------------------------------------------------


def margin_table(
    forecast: Forecast,
    service_level: float = DEFAULT_SERVICE_LEVEL,
    *,
    peak_share: float = DEFAULT_PEAK_SHARE,
    max_extra: int | None = None,
) -> pd.DataFrame:
    """The vans above the point forecast, and the probability each extra van is needed.

    The point-forecast fleet ``vans_point_forecast`` is what a planner would buy from the
    mean of each day's routes (the service rule on the point forecast). The j-th van above it
    is needed on a peak day when routes exceed ``vans_point_forecast + j − 1``.

    Parameters
    ----------
    forecast : xarray.Dataset or xarray.DataArray
        Forecast with ``routes`` (sample, date, station), routes per station-day.
    service_level : float
        α in (0, 1) of the service rule.
    peak_share : float
        Share of a month's days that are peak days, in (0, 1].
    max_extra : int, optional
        Extra vans to list per station and month; default: up to the service-level fleet
        plus one (the first van not bought).

    Returns
    -------
    pandas.DataFrame
        One row per station, month and extra van: ``vans_point_forecast`` (vans), ``extra``
        (j, 1, 2, ...), ``fleet`` (vans_point_forecast + j, vans), ``p_needed`` (P(routes on
        a peak day > vans_point_forecast + j − 1)), ``bought`` (whether the service-level
        fleet includes it), ``vans_at_service_level`` (the service-level fleet); see
        ``COLUMN_LEGEND["margin"]``.
    """
    service_level = _check_probability("service_level", service_level)
    peak_share = _check_peak_share(peak_share)
    if max_extra is not None and (not isinstance(max_extra, int) or max_extra < 1):
        raise FleetConfigError(f"max_extra = {max_extra!r}: expected a whole number >= 1 or None")
    routes = as_routes(forecast)
    values = routes.to_numpy()
    stations = routes["station"].to_numpy().astype(str)
    month_starts, slices = month_slices(routes["date"].to_numpy())
    point = values.mean(axis=0, keepdims=True)
    parts = []
    for m, sl in enumerate(slices):
        peak = peak_days(values[:, sl, :], peak_share)
        base = fleet_quantile(peak_days(point[:, sl, :], peak_share), service_level)
        bought = fleet_quantile(peak, service_level)
        n_extra = np.maximum(bought - base, 0) + 1 if max_extra is None else None
        width = max_extra if n_extra is None else int(n_extra.max())
        extra = np.arange(1, width + 1)
        level = base[None, :] + extra[:, None] - 1  # (extra, station)
        above = (peak[:, None, :] > level[None, :, :]).mean(axis=0)  # P(X > level)
        keep = np.ones(level.shape, dtype=bool)
        if n_extra is not None:
            keep = extra[:, None] <= n_extra[None, :]
        e_idx, s_idx = np.nonzero(keep)
        parts.append(
            pd.DataFrame(
                {
                    "station": stations[s_idx],
                    "month": month_starts[m],
                    "vans_point_forecast": base[s_idx],
                    "extra": extra[e_idx],
                    "fleet": base[s_idx] + extra[e_idx],
                    "p_needed": above[e_idx, s_idx],
                    "bought": base[s_idx] + extra[e_idx] <= bought[s_idx],
                    "vans_at_service_level": bought[s_idx],
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["station", "month", "extra"], ignore_index=True)


# --- van mix ---------------------------------------------------------------------------------


def van_mix(
    forecasts: Mapping[str, Forecast],
    costs: FleetCosts,
    service_level: float = DEFAULT_SERVICE_LEVEL,
    *,
    rule: Rule = "service",
    peak_share: float = DEFAULT_PEAK_SHARE,
) -> pd.DataFrame:
    """Per station, the van type of least expected cost over the horizon.

    A larger van lowers a station's routes only where the capacity bound binds (a dense,
    near zone); where the shift binds, routes stay and the larger van only costs more. The
    forecasts carry that physics, so the choice differs by station.

    Parameters
    ----------
    forecasts : mapping of str to xarray.Dataset or xarray.DataArray
        One forecast per van type (keys: names in ``costs``), each made with that van's
        capacity for the same stations and days.
    costs : FleetCosts
        Van and shortage costs.
    service_level : float
        α in (0, 1) of the service rule.
    rule : {"service", "cost"}
        Rule that sizes each van type's fleet (see :func:`plan`).
    peak_share : float
        Share of a month's days that are peak days, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per station and van type: ``vans_to_buy``, ``mean_routes_per_day``,
        ``p_cover_peak_day``, ``shortage_van_days``, ``fleet_cost``, ``shortage_cost``,
        ``expected_cost`` (currency over the forecast), ``extra_cost`` (above the station's
        cheapest type) and ``chosen`` (the cheapest); see ``COLUMN_LEGEND["van_mix"]``.
    """
    if not isinstance(costs, FleetCosts):
        raise FleetConfigError(f"costs = {costs!r}: expected a bayesspr.fleet.FleetCosts")
    if not _is_mapping(forecasts):
        raise FleetConfigError("forecasts: expected a mapping of van type name to forecast")
    result = plan(forecasts, service_level, costs, rule=rule, peak_share=peak_share)
    cols = [
        "station",
        "van_type",
        "vans_to_buy",
        "mean_routes_per_day",
        "p_cover_peak_day",
        "shortage_van_days",
        "fleet_cost",
        "shortage_cost",
        "expected_cost",
    ]
    out = result.horizon[cols].copy()
    best = out.groupby("station")["expected_cost"].transform("min")
    out["extra_cost"] = out["expected_cost"] - best
    first = out.sort_values(["station", "expected_cost", "van_type"]).groupby("station").head(1)
    out["chosen"] = out.index.isin(first.index)
    return out.sort_values(["station", "van_type"], ignore_index=True)


# --- scenarios -------------------------------------------------------------------------------


def absorb(
    fleet_by_station: pd.Series,
    shocked_forecast: Forecast,
    *,
    peak_share: float = DEFAULT_PEAK_SHARE,
) -> pd.DataFrame:
    """Whether a fleet already bought absorbs a scenario, per station.

    Parameters
    ----------
    fleet_by_station : pandas.Series
        Vans owned per station (index: station); stations of the scenario not listed (a
        station launch) own 0.
    shocked_forecast : xarray.Dataset or xarray.DataArray
        Forecast of the scenario (demand shock, moved zip, new station) with ``routes``
        (sample, date, station).
    peak_share : float
        Share of a month's days that are peak days, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per station of the scenario: ``vans``; ``p_cover_peak_day`` (P(routes on a
        peak day ≤ vans), over draws and every month's peak days); ``p_cover_every_day``
        (P(the fleet covers every day of the forecast)); ``shortage_van_days`` (E[Σ days
        max(routes − vans, 0)], van-days); ``short_days`` (expected days with a shortage);
        see ``COLUMN_LEGEND["absorb"]``.
    """
    peak_share = _check_peak_share(peak_share)
    routes = as_routes(shocked_forecast)
    stations = routes["station"].to_numpy().astype(str)
    vans = vans_by_station(fleet_by_station, stations)
    _, slices = month_slices(routes["date"].to_numpy())
    vans = np.ceil(vans - 1e-9).astype(np.int64)
    return _horizon_table(routes.to_numpy(), slices, stations, vans, peak_share)
