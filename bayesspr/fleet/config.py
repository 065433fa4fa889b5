"""Typed, validated settings of the fleet decisions: van types, costs, electric-van conditions.

One job: hold what a planner types in (prices, capacities, ranges, charger power) with units,
and refuse a bad value with an error that names the field, the value and what was expected.
:mod:`bayesspr.fleet.decisions` and :mod:`bayesspr.fleet.electric` consume these objects; they
are also available as ``bayesspr.fleet.VanType``, ``bayesspr.fleet.FleetCosts`` and
``bayesspr.fleet.EVConfig``.

Units: costs in one currency of the user's choice; capacities in packages; distances in km;
energy in kWh; power in kW; time in hours or days as named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesspr.defaults import MAX_DAYS
from bayesspr.errors import FleetConfigError

#: Bounds of the typed settings, with units: a van carries 1 to 100,000 packages; a battery
#: lasts at most 2,000 km; a van uses at most 10 kWh per km; a cost horizon is at most
#: 3,660 days (ten years).
MAX_CAPACITY_PACKAGES = 100_000.0
MAX_RANGE_KM = 2_000.0
MAX_KWH_PER_KM = 10.0
MAX_HORIZON_DAYS = MAX_DAYS


def _check_number(
    owner: str,
    name: str,
    value: object,
    unit: str,
    *,
    lower: float = 0.0,
    lower_open: bool = False,
    upper: float | None = None,
    upper_open: bool = False,
) -> float:
    """Return ``value`` as float, or raise FleetConfigError naming field, value and expectation."""
    lo = f"> {lower:g}" if lower_open else f">= {lower:g}"
    rule = lo if upper is None else f"{lo} and {'<' if upper_open else '<='} {upper:g}"
    expected = f"expected a finite number {rule} ({unit})"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise FleetConfigError(f"{owner}.{name} = {value!r}: {expected}")
    v = float(value)
    ok = math.isfinite(v) and (v > lower if lower_open else v >= lower)
    if upper is not None:
        ok = ok and (v < upper if upper_open else v <= upper)
    if not ok:
        raise FleetConfigError(f"{owner}.{name} = {value!r}: {expected}")
    return v


def _check_probability(name: str, value: object) -> float:
    """Return a probability strictly inside (0, 1), or raise FleetConfigError."""
    return _check_number(
        "fleet",
        name,
        value,
        "a probability strictly between 0 and 1",
        lower=0.0,
        lower_open=True,
        upper=1.0,
        upper_open=True,
    )


def _check_peak_share(value: object) -> float:
    """Return a share of days in (0, 1], or raise FleetConfigError."""
    return _check_number(
        "fleet",
        "peak_share",
        value,
        "share of a month's days counted as peak days",
        lower=0.0,
        lower_open=True,
        upper=1.0,
    )


@dataclass(frozen=True)
class VanType:
    """A van type that can be bought.

    Parameters
    ----------
    name : str
        Label used everywhere (e.g. ``"L"``), without leading or trailing whitespace.
    capacity_packages : float
        Load capacity (packages per van), in [1, 100,000]. The fleet rules count the routes of the
        forecast they are given, so forecast with this van (a
        :class:`~bayesspr.forecasting.scenario.VanChange` from the first day, or ``bayesspr plan
        --van-capacity``); :func:`bayesspr.fleet.decisions.van_mix` compares van types that way, one
        forecast per type.
    cost_per_van : float
        Cost of one van over the planning horizon (currency per van), ≥ 0: lease or
        depreciation, insurance, maintenance, driver base pay, whether the van is used or not.
    range_km : float, optional
        Battery range on a full charge in mild weather on flat roads (km), in (0, 2,000];
        None for a combustion van.
    kwh_per_km : float, optional
        Energy use (kWh per km), in (0, 10]; required with ``range_km``.
    """

    name: str
    capacity_packages: float
    cost_per_van: float
    range_km: float | None = None
    kwh_per_km: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise FleetConfigError(f"VanType.name = {self.name!r}: expected a non-empty string")
        if self.name != self.name.strip():
            raise FleetConfigError(
                f"VanType.name = {self.name!r}: expected no leading or trailing whitespace: "
                f"did you mean {self.name.strip()!r}?"
            )
        owner = f"VanType({self.name!r})"
        _check_number(
            owner,
            "capacity_packages",
            self.capacity_packages,
            "packages per van: a van carries at least one package",
            lower=1.0,
            upper=MAX_CAPACITY_PACKAGES,
        )
        _check_number(
            owner, "cost_per_van", self.cost_per_van, "currency per van over the planning horizon"
        )
        if (self.range_km is None) != (self.kwh_per_km is None):
            raise FleetConfigError(
                f"{owner}: range_km = {self.range_km!r} and kwh_per_km = {self.kwh_per_km!r}: "
                "expected both (an electric van) or neither (a combustion van)"
            )
        if self.range_km is not None:
            _check_number(
                owner,
                "range_km",
                self.range_km,
                "km on a full charge",
                lower_open=True,
                upper=MAX_RANGE_KM,
            )
            _check_number(
                owner,
                "kwh_per_km",
                self.kwh_per_km,
                "kWh per km",
                lower_open=True,
                upper=MAX_KWH_PER_KM,
            )

    @property
    def electric(self) -> bool:
        """Whether the van has a battery range (an electric van)."""
        return self.range_km is not None


@dataclass(frozen=True)
class FleetCosts:
    """Costs of the fleet decision.

    Parameters
    ----------
    van_types : sequence of VanType
        Van types that can be bought, with unique names.
    shortage_cost_per_van_day : float
        Full cost of one van-day the fleet cannot cover (currency per van-day), ≥ 0: renting
        a van, overtime, the value of missed deliveries. A short van-day costs this *instead
        of* nothing; an owned van costs ``cost_per_van`` whether used or not.
    horizon_days : int, optional
        Days over which ``cost_per_van`` is paid (days), in [1, 3,660]; None: the forecast's
        days.

    Notes
    -----
    The cost of owning a van for one day is c_o = ``cost_per_van / horizon_days``; the
    newsvendor buys vans up to the quantile 1 − c_o / c_s of daily routes (c_s the shortage
    cost), i.e. the textbook critical fractile c_u / (c_u + c_o) with underage cost
    c_u = c_s − c_o.
    """

    van_types: tuple[VanType, ...]
    shortage_cost_per_van_day: float
    horizon_days: int | None = None

    def __post_init__(self) -> None:
        types = self.van_types
        if isinstance(types, VanType):
            types = (types,)
        types = tuple(types)
        if not types:
            raise FleetConfigError("FleetCosts.van_types = (): expected at least one VanType")
        for i, vt in enumerate(types):
            if not isinstance(vt, VanType):
                raise FleetConfigError(
                    f"FleetCosts.van_types[{i}] = {vt!r}: expected a bayesspr.fleet.VanType"
                )
        names = [vt.name for vt in types]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise FleetConfigError(
                f"FleetCosts.van_types: names {dup} repeat: expected unique van type names"
            )
        object.__setattr__(self, "van_types", types)
        _check_number(
            "FleetCosts",
            "shortage_cost_per_van_day",
            self.shortage_cost_per_van_day,
            "currency per van-day short",
        )
        if self.horizon_days is not None and (
            isinstance(self.horizon_days, bool)
            or not isinstance(self.horizon_days, int | np.integer)
            or not 1 <= self.horizon_days <= MAX_HORIZON_DAYS
        ):
            raise FleetConfigError(
                f"FleetCosts.horizon_days = {self.horizon_days!r}: expected a whole number of "
                f"days from 1 to {MAX_HORIZON_DAYS} (ten years), or None for the forecast's days"
            )

    def van(self, name: str) -> VanType:
        """The van type called ``name``.

        Parameters
        ----------
        name : str
            A van type name.

        Returns
        -------
        VanType
            The van type.

        Raises
        ------
        FleetConfigError
            If no van type has that name.
        """
        for vt in self.van_types:
            if vt.name == name:
                return vt
        known = ", ".join(repr(vt.name) for vt in self.van_types)
        raise FleetConfigError(
            f"van_type = {name!r} is not in FleetCosts.van_types: expected one of {known}"
        )


@dataclass(frozen=True)
class EVConfig:
    """Conditions for running electric vans.

    Parameters
    ----------
    charger_kw_per_station : float or mapping of str to float
        Charging power available at a station (kW), ≥ 0; one number for all stations or
        one per station name.
    charging_hours : float
        Hours per day the vans can charge (h), in (0, 24].
    cold_derate : float
        Share of the range lost to cold weather (–), in [0, 1); plan for the coldest month.
    hill_derate : float or mapping of str to float
        Share of the range lost to hilly terrain (–), in [0, 1); one number or one per
        station (stations not listed get 0).

    Notes
    -----
    The usable range is ``range_km · (1 − cold_derate) · (1 − hill_derate)`` (km).
    """

    charger_kw_per_station: float | Mapping[str, float]
    charging_hours: float = 8.0
    cold_derate: float = 0.0
    hill_derate: float | Mapping[str, float] = 0.0

    def __post_init__(self) -> None:
        _check_number(
            "EVConfig",
            "charging_hours",
            self.charging_hours,
            "h per day",
            lower_open=True,
            upper=24.0,
        )
        _check_number(
            "EVConfig",
            "cold_derate",
            self.cold_derate,
            "share of range lost",
            upper=1.0,
            upper_open=True,
        )
        for name, unit, upper in (
            ("charger_kw_per_station", "kW", None),
            ("hill_derate", "share of range lost", 1.0),
        ):
            value = getattr(self, name)
            items = value.items() if isinstance(value, Mapping) else [(None, value)]
            for station, v in items:
                label = name if station is None else f"{name}[{station!r}]"
                _check_number("EVConfig", label, v, unit, upper=upper, upper_open=True)

    def charger_kw(self, station: str) -> float:
        """Charging power at ``station`` (kW); ValueError if a per-station map lacks it."""
        value = self.charger_kw_per_station
        if not isinstance(value, Mapping):
            return float(value)
        if station not in value:
            raise FleetConfigError(
                f"EVConfig.charger_kw_per_station has no entry for station {station!r}: "
                f"expected a power (kW) for every station; given for {sorted(value)}"
            )
        return float(value[station])

    def range_factor(self, station: str) -> float:
        """Share of the nominal range usable at ``station`` (–)."""
        hill = self.hill_derate
        h = float(hill.get(station, 0.0)) if isinstance(hill, Mapping) else float(hill)
        return (1.0 - float(self.cold_derate)) * (1.0 - h)


def vans_by_station(fleet_by_station: object, stations: np.ndarray) -> np.ndarray:
    """Vans owned per station, in the order of ``stations`` (0 for a station not listed).

    Parameters
    ----------
    fleet_by_station : pandas.Series
        Vans owned (count) indexed by station name.
    stations : numpy.ndarray
        Station names of the forecast.

    Returns
    -------
    numpy.ndarray
        Vans per station (float, ≥ 0).

    Raises
    ------
    FleetConfigError
        If it is not a Series, names a station the forecast does not have (a typo would
        otherwise leave the real station with no vans), lists a station twice, or holds a
        value that is not a finite number >= 0 (a missing value included).
    """
    if not isinstance(fleet_by_station, pd.Series):
        raise FleetConfigError(
            f"fleet_by_station is a {type(fleet_by_station).__name__}: expected a pandas Series "
            "of vans (count) indexed by station name"
        )
    names = [str(s) for s in stations]
    unknown = [str(s) for s in fleet_by_station.index if str(s) not in names]
    if unknown:
        raise FleetConfigError(
            f"fleet_by_station names station(s) {unknown} that the forecast does not have: "
            f"expected some of {names}"
        )
    series = fleet_by_station.copy()
    series.index = series.index.astype(str)
    repeated = sorted(set(series.index[series.index.duplicated()]))
    if repeated:
        raise FleetConfigError(
            f"fleet_by_station lists station(s) {repeated} more than once: expected one count "
            "of vans per station"
        )
    numbers = pd.to_numeric(series, errors="coerce")
    text = [f"{n}={v!r}" for n, v in series[numbers.isna() & series.notna()].items()]
    if text or pd.api.types.is_bool_dtype(series.dtype):
        raise FleetConfigError(
            f"fleet_by_station has values that are not numbers {text or list(series)}: "
            "expected a count of vans (>= 0) per station"
        )
    given = numbers.to_numpy(float)
    bad = [
        f"{n}={v:g}"
        for n, v in zip(numbers.index, given, strict=True)
        if not (v >= 0 and v < np.inf)
    ]
    if bad:
        raise FleetConfigError(
            f"fleet_by_station has negative or non-finite vans {bad}: expected a finite count "
            ">= 0 per station"
        )
    return numbers.reindex(names).fillna(0).to_numpy(float)
