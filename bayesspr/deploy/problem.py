"""The inputs of a network deployment: van types, periods, limits and forecast draws, validated.

:class:`DeployProblem` holds everything the stochastic program needs, with units, and checks
it on construction: every problem found is listed in one
:class:`~bayesspr.errors.DeployInputError` (table, column, value, what was expected).

Draws are labelled arrays: ``demand`` (routes on a station-month's design day, usually its
busiest day, dims ``sample``, ``station``, ``month``), ``in_range`` (of those routes, how many
an electric van type can run on one charge, dims ``sample``, ``van``, ``station``, ``month``
and, optionally, ``km_class``: route-length classes), ``kwh_per_route`` (overnight energy of
one route of each class, kWh) and ``route_km`` (mean km of a
route, for emissions). :func:`bayesspr.deploy.demand.from_forecast` builds them from
:func:`bayesspr.forecast` draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.errors import DeployInputError, Problem
from bayesspr.fleet.config import VanType

__all__ = ["DeployCosts", "DeployProblem"]


@dataclass(frozen=True)
class DeployCosts:
    """Costs of a deployment (currency units throughout).

    Parameters
    ----------
    holding_per_van_month : mapping of str to float
        Cost of keeping one van of each type for a month (currency per van-month), ≥ 0:
        driver base pay, insurance, maintenance. Purchase prices are ``VanType.cost_per_van``.
    shortage_per_van_day : float
        Cost of one route short on the design day (currency per van-day), > 0: a rented van
        or a missed route.
    shortage_days_per_month : float
        Days of a month that one van short on the design day costs (days), > 0; 1 counts the
        design day only.
    move_per_van : float
        Cost of moving one van between two stations of a city (currency per van), ≥ 0.
    emission_price_per_kg : float
        Price on CO2 (currency per kg), ≥ 0.
    emission_kg_per_km : float
        CO2 of a combustion or rented van (kg per km), ≥ 0.
    emission_days_per_month : float
        Days a month whose routes the design day stands for in the emission cost (days), ≥ 0.
    storage_module_packages : float
        Packages a station's storage grows by with one more module (packages), ≥ 0; 0: the
        storage cannot grow.
    storage_per_module : float
        Price of one storage module (currency per module), ≥ 0.
    van_life_months : float or mapping of str to float, optional
        Service life over which a van's price is written off in a straight line (calendar
        months; one number for every type or one per type), > 0. A van still owned at the
        horizon's end is credited the unused part of its price (its residual value), so a
        van bought in the last year costs that year's share of its price, not all of it.
        None: no residual value (every purchase costs its whole price).
    """

    holding_per_van_month: Mapping[str, float]
    shortage_per_van_day: float
    shortage_days_per_month: float = 1.0
    move_per_van: float = 0.0
    emission_price_per_kg: float = 0.0
    emission_kg_per_km: float = 0.0
    emission_days_per_month: float = 0.0
    storage_module_packages: float = 0.0
    storage_per_module: float = 0.0
    van_life_months: float | Mapping[str, float] | None = 96.0

    def life_months(self, vans: Sequence[str]) -> np.ndarray:
        """Service life of each van type (calendar months; inf where none is given)."""
        life = self.van_life_months
        if life is None:
            return np.full(len(vans), math.inf)
        if isinstance(life, Mapping):
            return np.array([float(life[v]) for v in vans])
        return np.full(len(vans), float(life))


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class DeployProblem:
    """A network deployment to plan: what may be bought, where, under which limits.

    Parameters
    ----------
    van_types : sequence of VanType
        Van types that can be bought (electric ones have ``range_km``, ``kwh_per_km``);
        ``cost_per_van`` is the purchase price (currency per van).
    station_city : pandas.Series
        City of each station (index: station). Vans move only between stations of a city.
    month_period : pandas.Series
        Period (e.g. year) of each month (index: month labels in order, values: period labels);
        purchases are made at the start of a period.
    demand : xarray.DataArray
        Routes on each station-month's design day (routes ≥ 0; whole on draws, a mean forecast
        may not be), dims ``sample``, ``station``, ``month``.
    in_range : xarray.DataArray, optional
        Of those routes, how many each electric type can run on one charge (routes), dims
        ``sample``, ``van``, ``station``, ``month`` and optionally ``km_class``
        (route-length classes: the routes of each class that the type can run); summed over
        the classes ≤ demand, and not fewer for a longer range in any class.
    kwh_per_route : xarray.DataArray, optional
        Overnight energy of one route of each class per electric type (kWh per route), same
        dims. Give the energy of the class's routes, not of its in-range ones only: then a
        longer range adds routes without changing the energy of those already in range, and
        the power rows charge each route its own class's energy. Without ``km_class`` every
        route is charged one mean.
    route_km : xarray.DataArray, optional
        Mean length of a route (km), dims ``sample``, ``station``, ``month``; for emissions.
    costs : DeployCosts
        Costs.
    budget : pandas.Series, optional
        Purchase budget per period (currency); missing or infinite: no limit.
    ev_supply : pandas.Series, optional
        Electric vans that can be delivered per period (vans); missing: no limit.
    station_power_kw : pandas.DataFrame, optional
        Charging power per station (rows) and period (columns) (kW); missing: no limit.
    city_power_kw : pandas.DataFrame, optional
        Charging power per city (rows) and period (columns) (kW), shared by its stations.
    charging_hours : float
        Hours a night the vans charge (h), in (0, 24].
    bays : pandas.Series, optional
        Parking bays per station (vans); the fleet assigned there must fit.
    initial_fleet : pandas.DataFrame, optional
        Vans owned before the first period per city (rows) and van type (columns) (vans).
    min_electric_share : pandas.Series, optional
        Hard target: share of the network's fleet that is electric in every month of a
        period (–, in [0, 1]), per period.
    hard_service : bool
        If True no shortage is allowed on any draw (the fleet covers every draw's design day).
    partners : pandas.DataFrame, optional
        Delivery service partners: one row per station and partner, columns ``station``,
        ``partner``, ``max_vans`` (vans it can run, whole ≥ 0 or inf), ``min_vans`` (its
        contract minimum, vans; default 0) and ``cost_per_van_month`` (its rate, currency per
        van-month, ≥ 0). A station with partners has its whole fleet split among them each
        month (whole vans); a station without runs its own.
    packages : xarray.DataArray, optional
        Packages a station stages on the design day (packages ≥ 0), dims ``sample``,
        ``station``, ``month``; with ``storage_packages``.
    storage_packages : pandas.Series, optional
        Packages each station can store (index: station; packages ≥ 0, inf for no limit).
        The storage, grown by whole modules (``DeployCosts.storage_module_packages``), must
        hold the design day's packages on all but a share ``storage_risk`` of the draws.
    storage_risk : float
        Largest accepted share of draws whose packages overflow the storage (–, in [0, 1)).
    month_weight : pandas.Series, optional
        Calendar months each modelled month stands for (months, > 0; index: the months in
        order). Holding, shortage and emission costs of a month count this many times, so a
        year planned on two representative months weighs as much as one planned on twelve.
        Missing: 1 each, which is right only when the months are consecutive calendar months;
        ``YYYY-MM`` labels that skip months are refused without it.
    """

    van_types: Sequence[VanType]
    station_city: pd.Series
    month_period: pd.Series
    demand: xr.DataArray
    costs: DeployCosts
    in_range: xr.DataArray | None = None
    kwh_per_route: xr.DataArray | None = None
    route_km: xr.DataArray | None = None
    budget: pd.Series | None = None
    ev_supply: pd.Series | None = None
    station_power_kw: pd.DataFrame | None = None
    city_power_kw: pd.DataFrame | None = None
    charging_hours: float = 8.0
    bays: pd.Series | None = None
    initial_fleet: pd.DataFrame | None = None
    min_electric_share: pd.Series | None = None
    hard_service: bool = False
    month_weight: pd.Series | None = None
    partners: pd.DataFrame | None = None
    packages: xr.DataArray | None = None
    storage_packages: pd.Series | None = None
    storage_risk: float = 0.05
    _problems: list[Problem] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        found = self._problems
        found.clear()
        self._check_vans(found)
        self._check_network(found)
        self._check_draws(found)
        self._check_limits(found)
        self._check_partners(found)
        self._check_storage(found)
        if found:
            raise DeployInputError(found)

    # ---- labels -------------------------------------------------------------------------
    @property
    def vans(self) -> list[str]:
        """Van type names, in the order given."""
        return [v.name for v in self.van_types]

    @property
    def electric(self) -> list[str]:
        """Electric van type names, shortest nominal range first."""
        evs = [v for v in self.van_types if v.electric]
        return [v.name for v in sorted(evs, key=lambda v: float(v.range_km))]

    @property
    def stations(self) -> list[str]:
        """Station names, in the order of ``station_city``."""
        return [str(s) for s in self.station_city.index]

    @property
    def cities(self) -> list[str]:
        """City names, sorted."""
        return sorted({str(c) for c in self.station_city})

    @property
    def months(self) -> list[object]:
        """Month labels, in order."""
        return list(self.month_period.index)

    @property
    def periods(self) -> list[object]:
        """Period labels, in order of first month."""
        return list(dict.fromkeys(self.month_period.tolist()))

    def partner_table(self) -> pd.DataFrame:
        """The partners in station order, ``min_vans`` filled (empty without partners).

        Returns
        -------
        pandas.DataFrame
            ``station``, ``partner``, ``min_vans``, ``max_vans``, ``cost_per_van_month``.
        """
        columns = ["station", "partner", "min_vans", "max_vans", "cost_per_van_month"]
        if self.partners is None:
            return pd.DataFrame(columns=columns)
        tab = self.partners.copy()
        if "min_vans" not in tab:
            tab["min_vans"] = 0.0
        tab["station"] = tab["station"].astype(str)
        order = {s: i for i, s in enumerate(self.stations)}
        tab = tab.sort_values("station", key=lambda c: c.map(order), kind="stable")
        return tab[columns].reset_index(drop=True)

    @property
    def n_samples(self) -> int:
        """Number of joint forecast draws."""
        return int(self.demand.sizes["sample"])

    # ---- checks -------------------------------------------------------------------------
    def _check_vans(self, found: list[Problem]) -> None:
        names = [getattr(v, "name", None) for v in self.van_types]
        if not names:
            found.append(Problem("van_types", None, None, "expected at least one VanType"))
        for i, v in enumerate(self.van_types):
            if not isinstance(v, VanType):
                found.append(Problem("van_types", str(i), repr(v), "expected a VanType"))
        if len(set(names)) != len(names):
            found.append(Problem("van_types", "name", str(names), "expected unique names"))
        hold = self.costs.holding_per_van_month
        for name in names:
            value = hold.get(name) if isinstance(hold, Mapping) else None
            if not _finite(value) or float(value) < 0:  # type: ignore[arg-type]
                found.append(
                    Problem(
                        "costs.holding_per_van_month",
                        name,
                        value,
                        "expected a finite cost ≥ 0 (currency per van-month)",
                    )
                )
        c = self.costs
        for col, value, lower_open in (
            ("shortage_per_van_day", c.shortage_per_van_day, True),
            ("shortage_days_per_month", c.shortage_days_per_month, True),
            ("move_per_van", c.move_per_van, False),
            ("emission_price_per_kg", c.emission_price_per_kg, False),
            ("emission_kg_per_km", c.emission_kg_per_km, False),
            ("emission_days_per_month", c.emission_days_per_month, False),
            ("storage_module_packages", c.storage_module_packages, False),
            ("storage_per_module", c.storage_per_module, False),
        ):
            bad = not _finite(value) or float(value) < 0 or (lower_open and float(value) == 0)
            if bad:
                rule = "expected a finite number " + ("> 0" if lower_open else "≥ 0")
                found.append(Problem("costs", col, value, rule))
        self._check_life(names, found)
        if not _finite(self.charging_hours) or not 0 < float(self.charging_hours) <= 24:
            found.append(
                Problem(
                    "charging_hours", None, self.charging_hours, "expected hours a night in (0, 24]"
                )
            )

    def _check_life(self, names: list, found: list[Problem]) -> None:
        """Each van type's service life is a number of calendar months > 0 (or no life)."""
        life = self.costs.van_life_months
        if life is None:
            return
        per_type = life if isinstance(life, Mapping) else dict.fromkeys(names, life)
        for name in names:
            value = per_type.get(name)
            if not _finite(value) or float(value) <= 0:  # type: ignore[arg-type]
                found.append(
                    Problem(
                        "costs.van_life_months",
                        name,
                        value,
                        "expected a service life > 0 (calendar months), or None for no "
                        "residual value",
                    )
                )

    def _check_network(self, found: list[Problem]) -> None:
        if not isinstance(self.station_city, pd.Series) or self.station_city.empty:
            found.append(
                Problem(
                    "station_city", None, None, "expected a non-empty pandas.Series station → city"
                )
            )
        elif not self.station_city.index.is_unique:
            dup = self.station_city.index[self.station_city.index.duplicated()][0]
            found.append(Problem("station_city", "station", dup, "expected unique stations"))
        if not isinstance(self.month_period, pd.Series) or self.month_period.empty:
            found.append(
                Problem(
                    "month_period", None, None, "expected a non-empty pandas.Series month → period"
                )
            )
            return
        if not self.month_period.index.is_unique:
            found.append(Problem("month_period", "month", None, "expected unique months"))
        seen: list[object] = []
        for p in self.month_period.tolist():
            if seen and p != seen[-1] and p in seen:
                found.append(
                    Problem(
                        "month_period",
                        "period",
                        p,
                        "expected each period's months to be consecutive",
                    )
                )
                break
            if not seen or p != seen[-1]:
                seen.append(p)
        self._check_month_weight(found)

    def _check_month_weight(self, found: list[Problem]) -> None:
        """Weights match the months and are > 0; skipped calendar months need weights."""
        months = self.months
        if self.month_weight is None:
            labels = [str(m) for m in months]
            if not all(
                len(m) == 7 and m[4] == "-" and m.replace("-", "").isdigit() for m in labels
            ):
                return
            steps = np.diff([int(m[:4]) * 12 + int(m[5:]) for m in labels])
            if len(steps) and (steps != 1).any():
                t = int(np.flatnonzero(steps != 1)[0])
                found.append(
                    Problem(
                        "month_weight",
                        None,
                        None,
                        f"months {labels[t]} and {labels[t + 1]} are not consecutive calendar "
                        "months: give month_weight, the calendar months each modelled month "
                        "stands for (e.g. 6 each for two months a year)",
                    )
                )
            return
        weight = self.month_weight
        if not isinstance(weight, pd.Series) or list(weight.index) != months:
            found.append(
                Problem(
                    "month_weight",
                    "month",
                    str(getattr(weight, "index", None))[:80],
                    f"expected a pandas.Series with the months {months!s:.80} in that order",
                )
            )
            return
        for month, value in weight.items():
            if not _finite(value) or float(value) <= 0:
                found.append(
                    Problem("month_weight", str(month), value, "expected calendar months > 0")
                )

    def _check_draws(self, found: list[Problem]) -> None:
        if found:  # labels are needed to check the draws
            return
        self._check_draw_arrays(found)
        if found or not self.electric:
            return
        self._check_ev_samples(found)
        if found:
            return
        self._check_nested_ranges(found)

    def _check_draw_arrays(self, found: list[Problem]) -> None:
        """Each draw array is present with the dims and labels of the problem."""
        want = {"sample": None, "station": self.stations, "month": self.months}
        self._check_array("demand", self.demand, want, found, integer=False)
        evs = self.electric
        if evs:
            want_ev = {"sample": None, "van": evs, "station": self.stations, "month": self.months}
            if isinstance(self.in_range, xr.DataArray) and "km_class" in self.in_range.dims:
                want_ev["km_class"] = None  # any labels, the same in both arrays (below)
            for name in ("in_range", "kwh_per_route"):
                arr = getattr(self, name)
                if arr is None:
                    found.append(
                        Problem(
                            name,
                            None,
                            None,
                            "expected draws for the electric van types "
                            f"{evs} (dims sample, van, station, month[, km_class])",
                        )
                    )
                else:
                    self._check_array(name, arr, want_ev, found, integer=False)
            self._check_same_classes(found)
        if self.route_km is not None:
            self._check_array("route_km", self.route_km, want, found, integer=False)
        elif self.costs.emission_price_per_kg * self.costs.emission_kg_per_km > 0:
            found.append(
                Problem("route_km", None, None, "expected route km draws when emissions are priced")
            )

    def _check_same_classes(self, found: list[Problem]) -> None:
        """``kwh_per_route`` has the route-length classes of ``in_range``, in its order."""
        r, k = self.in_range, self.kwh_per_route
        if not (isinstance(r, xr.DataArray) and isinstance(k, xr.DataArray)):
            return
        if "km_class" not in r.dims or "km_class" not in k.dims:
            return
        have, want = list(k["km_class"].values), list(r["km_class"].values)
        if have != want:
            found.append(
                Problem(
                    "kwh_per_route",
                    "km_class",
                    str(have)[:80],
                    f"expected the route-length classes of in_range {want!s:.80} in that order",
                )
            )

    def _check_ev_samples(self, found: list[Problem]) -> None:
        """The electric draws have as many samples as the demand."""
        n = self.n_samples
        for name in ("in_range", "kwh_per_route"):
            if getattr(self, name).sizes["sample"] != n:
                found.append(
                    Problem(
                        name,
                        "sample",
                        getattr(self, name).sizes["sample"],
                        f"expected {n} samples, as in demand",
                    )
                )

    @property
    def km_classes(self) -> list[object]:
        """Labels of the route-length classes of ``in_range`` (one unnamed class without)."""
        if self.in_range is not None and "km_class" in self.in_range.dims:
            return list(self.in_range["km_class"].values)
        return [None]

    def _ev_array(self, name: str) -> np.ndarray:
        """``in_range`` or ``kwh_per_route`` as (sample, van, station, month, km_class)."""
        arr = getattr(self, name)
        if "km_class" not in arr.dims:
            arr = arr.expand_dims(km_class=1, axis=-1)
        dims = ("sample", "van", "station", "month", "km_class")
        return arr.transpose(*dims).to_numpy().astype(float)

    def _check_nested_ranges(self, found: list[Problem]) -> None:
        """Routes in range are at most the demand and grow with the range (first offender)."""
        evs, classes = self.electric, self.km_classes
        d = self.demand.transpose("sample", "station", "month").to_numpy()
        per_class = self._ev_array("in_range")
        r = per_class.sum(axis=4)
        over = np.argwhere(r > d[:, None] + 1e-9)
        if len(over):
            w, e, s, t = over[0]
            found.append(
                Problem(
                    "in_range",
                    f"sample {w}, van {evs[e]!r}, station "
                    f"{self.stations[s]!r}, month {self.months[t]}",
                    float(r[w, e, s, t]),
                    f"expected ≤ demand {d[w, s, t]:g}",
                )
            )
        shrink = np.argwhere(np.diff(per_class, axis=1) < -1e-9)
        if len(shrink):
            w, e, s, t, k = shrink[0]
            km_class = "" if classes == [None] else f", km_class {classes[k]!r}"
            found.append(
                Problem(
                    "in_range",
                    f"van {evs[e + 1]!r}, station {self.stations[s]!r}{km_class}",
                    float(per_class[w, e + 1, s, t, k]),
                    f"expected ≥ {per_class[w, e, s, t, k]:g} of the shorter-range "
                    f"{evs[e]!r}: a longer range serves every route a shorter "
                    "one does",
                )
            )

    @staticmethod
    def _check_array(
        name: str,
        arr: object,
        want: dict[str, list | None],
        found: list[Problem],
        *,
        integer: bool,
    ) -> None:
        if not isinstance(arr, xr.DataArray):
            found.append(Problem(name, None, type(arr).__name__, "expected an xarray.DataArray"))
            return
        if set(arr.dims) != set(want):
            found.append(Problem(name, "dims", str(arr.dims), f"expected dims {tuple(want)}"))
            return
        for dim, labels in want.items():
            if labels is None:
                continue
            have = [*arr[dim].values.tolist()] if dim in arr.coords else None
            if have != [*labels]:
                found.append(
                    Problem(
                        name,
                        dim,
                        str(have)[:80],
                        f"expected the labels {[*labels]!s:.80} in that order",
                    )
                )
        values = np.asarray(arr.values, dtype=float)
        bad = ~np.isfinite(values) | (values < 0)
        if integer:
            bad |= np.abs(values - np.round(values)) > 1e-9
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            rule = "expected whole numbers ≥ 0" if integer else "expected finite numbers ≥ 0"
            found.append(
                Problem(
                    name,
                    f"position {dict(zip(arr.dims, where, strict=True))}",
                    float(values[where]),
                    rule,
                )
            )

    def _check_limits(self, found: list[Problem]) -> None:
        periods = self.periods
        for name, ser, integer, upper in (
            ("budget", self.budget, False, None),
            ("ev_supply", self.ev_supply, True, None),
            ("min_electric_share", self.min_electric_share, False, 1.0),
        ):
            if ser is None:
                continue
            self._check_table(
                name,
                pd.DataFrame({name: ser}).T,
                periods,
                found,
                integer=integer,
                upper=upper,
                allow_inf=name == "budget",
            )
        if self.min_electric_share is not None and not self.electric:
            found.append(
                Problem(
                    "min_electric_share",
                    None,
                    None,
                    "expected an electric van type to meet an electric share",
                )
            )
        for name, tab, rows in (
            ("station_power_kw", self.station_power_kw, self.stations),
            ("city_power_kw", self.city_power_kw, self.cities),
        ):
            if tab is not None:
                self._check_table(name, tab, periods, found, rows=rows, allow_inf=True)
        if self.bays is not None:
            self._check_table(
                "bays",
                pd.DataFrame({"bays": self.bays}),
                ["bays"],
                found,
                rows=self.stations,
                integer=True,
            )
        if self.initial_fleet is not None:
            self._check_table(
                "initial_fleet",
                self.initial_fleet,
                self.vans,
                found,
                rows=self.cities,
                integer=True,
            )

    def _check_partners(self, found: list[Problem]) -> None:
        """Each partner row names a station once, with capacity ≥ minimum ≥ 0 and a rate."""
        tab = self.partners
        if tab is None:
            return
        columns = ("station", "partner", "max_vans", "cost_per_van_month")
        if not isinstance(tab, pd.DataFrame) or any(c not in tab.columns for c in columns):
            found.append(
                Problem("partners", None, None, f"expected a table with columns {list(columns)}")
            )
            return
        stations = set(self.stations)
        for i, row in tab.reset_index(drop=True).iterrows():
            where = f"partners row {i + 1}"
            if str(row["station"]) not in stations:
                found.append(Problem(where, "station", row["station"], "expected a station"))
            low = row.get("min_vans", 0.0)
            for col, value in (("max_vans", row["max_vans"]), ("min_vans", low)):
                x = float(value) if _finite(value) or value == math.inf else math.nan
                if not (x >= 0 and (x == math.inf or x == round(x))):
                    found.append(Problem(where, col, value, "expected a whole number of vans ≥ 0"))
            if _finite(low) and float(low) > float(row["max_vans"]):
                found.append(
                    Problem(where, "min_vans", low, f"expected ≤ max_vans {row['max_vans']}")
                )
            rate = row["cost_per_van_month"]
            if not _finite(rate) or float(rate) < 0:
                found.append(
                    Problem(where, "cost_per_van_month", rate, "expected a finite cost ≥ 0")
                )
        pairs = tab[["station", "partner"]].astype(str)
        if pairs.duplicated().any():
            dup = pairs[pairs.duplicated()].iloc[0].tolist()
            found.append(Problem("partners", "partner", str(dup), "expected each pair once"))

    def _check_storage(self, found: list[Problem]) -> None:
        """Storage needs package draws, a capacity per station and a risk in [0, 1)."""
        if self.storage_packages is None:
            return
        if not _finite(self.storage_risk) or not 0 <= float(self.storage_risk) < 1:
            found.append(
                Problem("storage_risk", None, self.storage_risk, "expected a share in [0, 1)")
            )
        if self.packages is None:
            found.append(
                Problem(
                    "packages",
                    None,
                    None,
                    "expected design-day package draws (sample, station, month) with "
                    "storage_packages",
                )
            )
        else:
            want = {"sample": None, "station": self.stations, "month": self.months}
            self._check_array("packages", self.packages, want, found, integer=False)
        self._check_table(
            "storage_packages",
            pd.DataFrame({"packages": self.storage_packages}),
            ["packages"],
            found,
            rows=self.stations,
            allow_inf=True,
        )

    @staticmethod
    def _check_table(
        name: str,
        tab: pd.DataFrame,
        columns: list,
        found: list[Problem],
        *,
        rows: list | None = None,
        integer: bool = False,
        upper: float | None = None,
        allow_inf: bool = False,
    ) -> None:
        if not isinstance(tab, pd.DataFrame):
            found.append(Problem(name, None, type(tab).__name__, "expected a pandas table"))
            return
        missing = [c for c in columns if c not in tab.columns]
        if missing:
            found.append(Problem(name, None, str(missing), "expected a value for each of these"))
            return
        if rows is not None:
            lacking = [r for r in rows if r not in tab.index]
            if lacking:
                found.append(Problem(name, None, str(lacking), "expected a row for each of these"))
                return
        for r in tab.index if rows is None else rows:
            for c in columns:
                v = tab.at[r, c]
                try:
                    x = float(v)
                except (TypeError, ValueError):
                    x = math.nan
                ok = (math.isfinite(x) or (allow_inf and x == math.inf)) and x >= 0
                ok = ok and (upper is None or x <= upper)
                ok = ok and (not integer or x == math.inf or x == round(x))
                if not ok:
                    span = f"in [0, {upper:g}]" if upper is not None else "≥ 0"
                    kind = "a whole number" if integer else "a number"
                    found.append(Problem(f"{name} row {r!r}", str(c), v, f"expected {kind} {span}"))

    # ---- arrays for the program ---------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """The inputs as plain arrays in a fixed order (for the program builder).

        Returns
        -------
        dict of str to numpy.ndarray
            ``demand`` (W, S, T), ``in_range`` and ``kwh`` (W, E, S, T, K: route-length
            classes, 1 without), ``km`` (W, S, T),
            ``period_of`` (T,) int, ``month_weight`` (T,) calendar months, ``city_of`` (S,)
            int, and per period ``budget``, ``ev_supply``, ``share``; ``station_kw`` (S, P),
            ``city_kw`` (C, P), ``bays`` (S,), ``storage`` (S,) packages and ``packages``
            (W, S, T), ``initial`` (V, C); ``inf`` where a limit is not given.
        """
        periods, stations, cities = self.periods, self.stations, self.cities
        n_w, n_s, n_t, n_p = self.n_samples, len(stations), len(self.months), len(periods)
        n_e = len(self.electric)
        out: dict[str, np.ndarray] = {
            "demand": self.demand.transpose("sample", "station", "month").to_numpy().astype(float),
            "period_of": np.array([periods.index(p) for p in self.month_period.tolist()]),
            "month_weight": (
                np.ones(len(self.months))
                if self.month_weight is None
                else self.month_weight.to_numpy(dtype=float)
            ),
            "city_of": np.array([cities.index(str(c)) for c in self.station_city]),
        }
        if n_e:
            out["in_range"] = self._ev_array("in_range")
            out["kwh"] = self._ev_array("kwh_per_route")
        else:
            out["in_range"] = np.zeros((n_w, 0, n_s, n_t, 1))
            out["kwh"] = np.zeros((n_w, 0, n_s, n_t, 1))
        out["km"] = (
            self.route_km.transpose("sample", "station", "month").to_numpy().astype(float)
            if self.route_km is not None
            else np.zeros((n_w, n_s, n_t))
        )

        def per_period(ser: pd.Series | None, fill: float) -> np.ndarray:
            if ser is None:
                return np.full(n_p, fill)
            return np.array([float(ser[p]) for p in periods])

        out["budget"] = per_period(self.budget, math.inf)
        out["ev_supply"] = per_period(self.ev_supply, math.inf)
        out["share"] = per_period(self.min_electric_share, 0.0)
        out["station_kw"] = (
            np.full((n_s, n_p), math.inf)
            if self.station_power_kw is None
            else self.station_power_kw.loc[stations, periods].to_numpy().astype(float)
        )
        out["city_kw"] = (
            np.full((len(cities), n_p), math.inf)
            if self.city_power_kw is None
            else self.city_power_kw.loc[cities, periods].to_numpy().astype(float)
        )
        out["bays"] = (
            np.full(n_s, math.inf)
            if self.bays is None
            else self.bays.loc[stations].to_numpy().astype(float)
        )
        out["storage"] = (
            np.full(n_s, math.inf)
            if self.storage_packages is None
            else self.storage_packages.loc[stations].to_numpy().astype(float)
        )
        out["packages"] = (
            np.zeros((n_w, n_s, n_t))
            if self.packages is None
            else self.packages.transpose("sample", "station", "month").to_numpy().astype(float)
        )
        out["initial"] = (
            np.zeros((len(self.vans), len(cities)))
            if self.initial_fleet is None
            else self.initial_fleet.loc[cities, self.vans].to_numpy().astype(float).T
        )
        return out
