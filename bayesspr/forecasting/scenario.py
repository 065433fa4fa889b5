"""Forecast scenarios: small typed, validated, composable changes to volume and network.

A :class:`Scenario` is a name and a tuple of changes, applied in order from their dates:

* :class:`VolumeShock` — multiply volume (all zips, some stations or some zips) by a factor;
* :class:`ZipMove` — a zip is served by another station;
* :class:`StationLaunch` — a new station takes over zips;
* :class:`VanChange` — stations switch to a van of another capacity.

``Scenario("shock", (VolumeShock(1.4, "2026-03-01"),)) + Scenario("big van", ...)`` combines
two scenarios; the name of the combination joins both names.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

import numpy as np
import pandas as pd

from bayesspr.errors import ScenarioError

#: Dates given as text must be ISO calendar days, like the observation table's.
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


#: Bounds of scenario numbers, as in the observation table (``docs/data.md``): a volume
#: factor in (0, 100]; a van of 1 to 100,000 packages; a stem of 0 to 500 km; a shift of
#: 0.5 to 24 h.
MAX_FACTOR = 100.0
CAPACITY_RANGE = (1.0, 100_000.0)
STEM_KM_RANGE = (0.0, 500.0)
SHIFT_HOURS_RANGE = (0.5, 24.0)


def _day(value: object, what: str) -> pd.Timestamp:
    expected = "expected an ISO date such as '2026-03-01', a datetime or a pandas.Timestamp"
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value.strip()):
        # pandas would read "June" as 0001-06-01 and "06/01/2025" as a US date
        raise ScenarioError(f"{what} = {value!r}; {expected}")
    if not isinstance(value, str | dt.date | np.datetime64):
        # pandas would read a number as nanoseconds since 1970
        raise ScenarioError(f"{what} = {value!r}; {expected}")
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        raise ScenarioError(f"{what} = {value!r}; {expected}") from None
    if pd.isna(day):
        raise ScenarioError(f"{what} = {value!r}; {expected}")
    return day.normalize()


def _number(
    value: object,
    what: str,
    low: float,
    high: float,
    unit: str,
    *,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a float in its range, or raise ScenarioError naming it."""
    span = f"{'>' if low_open else '>='} {low:g} and <= {high:g}"
    expected = f"expected a finite number {span} ({unit})"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ScenarioError(f"{what} = {value!r}; {expected}")
    number = float(value)
    ok = math.isfinite(number) and (number > low if low_open else number >= low)
    if not (ok and number <= high):
        raise ScenarioError(f"{what} = {value!r}; {expected}")
    return number


def _positive(value: float, what: str) -> float:
    """A volume factor, (0, MAX_FACTOR]."""
    return _number(
        value, what, 0.0, MAX_FACTOR, "volume multiplier, e.g. 1.4 for +40 %", low_open=True
    )


def _capacity(value: float, what: str) -> float:
    return _number(value, what, *CAPACITY_RANGE, "packages per van")


def _stem(value: float, what: str) -> float:
    return _number(value, what, *STEM_KM_RANGE, "km from the station to the zip's centroid")


def _name(value: object, what: str) -> str:
    """A station, city or zip name: non-empty text without surrounding whitespace."""
    name = str(value)
    if not name.strip():
        raise ScenarioError(f"{what} = {value!r}; expected a non-empty name")
    if name != name.strip():
        raise ScenarioError(
            f"{what} = {value!r}; expected no leading or trailing whitespace: did you mean "
            f"{name.strip()!r}?"
        )
    return name


def _names(values: object, what: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = (values,)
    names = tuple(_name(v, f"{what}[{i}]") for i, v in enumerate(values))  # type: ignore[arg-type]
    if not names:
        raise ScenarioError(f"{what} is empty; give at least one, or None for all")
    return names


@dataclass(frozen=True)
class VolumeShock:
    """Multiply daily volume by ``factor`` from ``start`` (to ``end``, inclusive).

    Parameters
    ----------
    factor : float
        Volume multiplier (–), e.g. 1.4 for +40 %; finite, in (0, 100].
    start : date-like
        First day of the shock.
    end : date-like, optional
        Last day (default: to the end of the horizon).
    stations, zips : sequence of str, optional
        Restrict the shock to zips served by these stations, or to these zips.
    """

    factor: float
    start: object
    end: object = None
    stations: tuple[str, ...] | None = None
    zips: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", _positive(self.factor, "VolumeShock.factor"))
        object.__setattr__(self, "start", _day(self.start, "VolumeShock.start"))
        if self.end is not None:
            end = _day(self.end, "VolumeShock.end")
            if end < self.start:
                raise ScenarioError(
                    f"VolumeShock.end {end:%Y-%m-%d} is before its start {self.start:%Y-%m-%d}"
                )
            object.__setattr__(self, "end", end)
        object.__setattr__(self, "stations", _names(self.stations, "VolumeShock.stations"))
        object.__setattr__(self, "zips", _names(self.zips, "VolumeShock.zips"))

    def describe(self) -> str:
        """One line naming the change."""
        where = f" at {', '.join(self.stations)}" if self.stations else ""
        where += f" in zips {', '.join(self.zips)}" if self.zips else ""
        until = f" to {self.end:%Y-%m-%d}" if self.end is not None else ""
        return f"volume x{self.factor:g}{where} from {self.start:%Y-%m-%d}{until}"


@dataclass(frozen=True)
class ZipMove:
    """Zip ``zip`` is served by ``station`` from ``start``.

    Parameters
    ----------
    zip : str
        The zip code.
    station : str
        The station that takes it over (existing, or launched by an earlier change).
    start : date-like
        First day at the new station.
    stem_km : float, optional
        Stem distance from the new station (km), in [0, 500]; needed unless the pair is in
        the history.
    """

    zip: str
    station: str
    start: object
    stem_km: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "zip", _name(self.zip, "ZipMove.zip"))
        object.__setattr__(self, "station", _name(self.station, "ZipMove.station"))
        object.__setattr__(self, "start", _day(self.start, "ZipMove.start"))
        if self.stem_km is not None:
            object.__setattr__(self, "stem_km", _stem(self.stem_km, "ZipMove.stem_km"))

    def describe(self) -> str:
        """One line naming the change."""
        return f"zip {self.zip} to {self.station} from {self.start:%Y-%m-%d}"


@dataclass(frozen=True)
class StationLaunch:
    """A new station opens on ``start`` and takes over ``zips``.

    Parameters
    ----------
    station, city : str
        Name of the new station and its city.
    start : date-like
        Opening day.
    stem_km : dict of str to float
        Stem distance (km), in [0, 500], from the new station to each zip it takes over.
    shift_hours : float
        Shift length of its routes (h), in [0.5, 24].
    van_capacity : float
        Its van (packages), in [1, 100,000].
    """

    station: str
    city: str
    start: object
    stem_km: dict[str, float] = field(default_factory=dict)
    shift_hours: float = 8.0
    van_capacity: float = 300.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "station", _name(self.station, "StationLaunch.station"))
        object.__setattr__(self, "city", _name(self.city, "StationLaunch.city"))
        object.__setattr__(self, "start", _day(self.start, "StationLaunch.start"))
        if not self.stem_km:
            raise ScenarioError(
                "StationLaunch.stem_km is empty; give the km to each zip it "
                "takes over, e.g. {'10001': 4.5}"
            )
        if not isinstance(self.stem_km, Mapping):
            raise ScenarioError(
                f"StationLaunch.stem_km = {self.stem_km!r}; expected a dict "
                "of zip -> km, e.g. {'10001': 4.5}"
            )
        stems = {
            _name(z, "StationLaunch.stem_km key"): _stem(km, f"StationLaunch.stem_km[{z!r}]")
            for z, km in self.stem_km.items()
        }
        object.__setattr__(self, "stem_km", stems)
        shift = _number(
            self.shift_hours,
            "StationLaunch.shift_hours",
            *SHIFT_HOURS_RANGE,
            "h on the road per route",
        )
        object.__setattr__(self, "shift_hours", shift)
        object.__setattr__(
            self, "van_capacity", _capacity(self.van_capacity, "StationLaunch.van_capacity")
        )

    @property
    def zips(self) -> tuple[str, ...]:
        """Zips the station takes over."""
        return tuple(self.stem_km)

    def describe(self) -> str:
        """One line naming the change."""
        return (
            f"station {self.station} ({self.city}) opens {self.start:%Y-%m-%d} with "
            f"zips {', '.join(self.zips)}"
        )


@dataclass(frozen=True)
class VanChange:
    """Stations use vans of ``capacity`` packages from ``start``.

    Parameters
    ----------
    capacity : float
        Van capacity (packages), in [1, 100,000].
    start : date-like
        First day with the new van.
    stations : sequence of str, optional
        Which stations (default: all).
    """

    capacity: float
    start: object
    stations: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "capacity", _capacity(self.capacity, "VanChange.capacity"))
        object.__setattr__(self, "start", _day(self.start, "VanChange.start"))
        object.__setattr__(self, "stations", _names(self.stations, "VanChange.stations"))

    def describe(self) -> str:
        """One line naming the change."""
        where = f" at {', '.join(self.stations)}" if self.stations else ""
        return f"vans of {self.capacity:g} packages{where} from {self.start:%Y-%m-%d}"


Change = Union[VolumeShock, ZipMove, StationLaunch, VanChange]  # noqa: UP007


@dataclass(frozen=True)
class Scenario:
    """A named set of changes.

    Parameters
    ----------
    name : str
        Name carried into every output of the forecast.
    changes : tuple or one change
        :class:`VolumeShock`, :class:`ZipMove`, :class:`StationLaunch` and
        :class:`VanChange` objects, applied in order (a single change is accepted too).
    """

    name: str = "baseline"
    changes: tuple[Change, ...] = ()

    def __post_init__(self) -> None:
        if not str(self.name).strip():
            raise ScenarioError("Scenario.name is empty; give it a name for the outputs")
        kinds = VolumeShock | ZipMove | StationLaunch | VanChange
        changes = (self.changes,) if isinstance(self.changes, kinds) else tuple(self.changes)
        for i, change in enumerate(changes):
            if not isinstance(change, kinds):
                raise ScenarioError(
                    f"Scenario.changes[{i}] is a {type(change).__name__}; expected VolumeShock, "
                    "ZipMove, StationLaunch or VanChange"
                )
        object.__setattr__(self, "changes", changes)

    def __add__(self, other: Scenario) -> Scenario:
        if not isinstance(other, Scenario):
            return NotImplemented
        return Scenario(f"{self.name} + {other.name}", self.changes + other.changes)

    def describe(self) -> str:
        """The name and one line per change."""
        lines = [self.name] + [f"  - {c.describe()}" for c in self.changes]
        return "\n".join(lines)

    def record(self) -> dict[str, object]:
        """The name and each change's description, as an output's manifest records them."""
        return {"name": self.name, "changes": [c.describe() for c in self.changes]}


#: The scenario with no changes.
BASELINE = Scenario()
