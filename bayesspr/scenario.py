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

import re
from dataclasses import dataclass, field
from typing import Union

import pandas as pd


class ScenarioError(ValueError):
    """A scenario change is invalid or does not fit the network."""


#: Dates given as text must be ISO calendar days, like the observation table's.
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: object, what: str) -> pd.Timestamp:
    expected = "expected an ISO date such as '2026-03-01', a datetime or a pandas.Timestamp"
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value.strip()):
        # pandas would read "June" as 0001-06-01 and "06/01/2025" as a US date
        raise ScenarioError(f"{what} = {value!r}; {expected}")
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"{what} = {value!r}; {expected}") from None
    if pd.isna(day):
        raise ScenarioError(f"{what} = {value!r}; {expected}")
    return day.normalize()


def _positive(value: float, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"{what} = {value!r}; expected a positive number") from None
    if not number > 0 or number == float("inf"):
        raise ScenarioError(f"{what} = {value!r}; expected a positive finite number")
    return number


def _names(values: object, what: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = (values,)
    names = tuple(str(v) for v in values)  # type: ignore[union-attr]
    if not names:
        raise ScenarioError(f"{what} is empty; give at least one, or None for all")
    return names


@dataclass(frozen=True)
class VolumeShock:
    """Multiply daily volume by ``factor`` from ``start`` (to ``end``, inclusive).

    Parameters
    ----------
    factor : float
        Volume multiplier (–), e.g. 1.4 for +40 %.
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
                raise ScenarioError(f"VolumeShock.end {end:%Y-%m-%d} is before its start "
                                    f"{self.start:%Y-%m-%d}")  # fmt: skip
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
        Stem distance from the new station (km); needed unless the pair is in the history.
    """

    zip: str
    station: str
    start: object
    stem_km: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "zip", str(self.zip))
        object.__setattr__(self, "station", str(self.station))
        object.__setattr__(self, "start", _day(self.start, "ZipMove.start"))
        if self.stem_km is not None:
            object.__setattr__(self, "stem_km", _positive(self.stem_km, "ZipMove.stem_km"))

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
        Stem distance (km) from the new station to each zip it takes over.
    shift_hours : float
        Shift length of its routes (h).
    van_capacity : float
        Its van (packages).
    """

    station: str
    city: str
    start: object
    stem_km: dict[str, float] = field(default_factory=dict)
    shift_hours: float = 8.0
    van_capacity: float = 300.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "station", str(self.station))
        object.__setattr__(self, "city", str(self.city))
        object.__setattr__(self, "start", _day(self.start, "StationLaunch.start"))
        if not self.stem_km:
            raise ScenarioError("StationLaunch.stem_km is empty; give the km to each zip it "
                                "takes over, e.g. {'10001': 4.5}")  # fmt: skip
        stems = {str(z): _positive(km, f"StationLaunch.stem_km[{z!r}]")
                 for z, km in self.stem_km.items()}  # fmt: skip
        object.__setattr__(self, "stem_km", stems)
        shift = _positive(self.shift_hours, "StationLaunch.shift_hours")
        if shift > 24:
            raise ScenarioError(f"StationLaunch.shift_hours = {shift!r}; expected at most 24")
        object.__setattr__(self, "shift_hours", shift)
        object.__setattr__(self, "van_capacity",
                           _positive(self.van_capacity, "StationLaunch.van_capacity"))  # fmt: skip

    @property
    def zips(self) -> tuple[str, ...]:
        """Zips the station takes over."""
        return tuple(self.stem_km)

    def describe(self) -> str:
        """One line naming the change."""
        return (f"station {self.station} ({self.city}) opens {self.start:%Y-%m-%d} with "
                f"zips {', '.join(self.zips)}")  # fmt: skip


@dataclass(frozen=True)
class VanChange:
    """Stations use vans of ``capacity`` packages from ``start``.

    Parameters
    ----------
    capacity : float
        Van capacity (packages).
    start : date-like
        First day with the new van.
    stations : sequence of str, optional
        Which stations (default: all).
    """

    capacity: float
    start: object
    stations: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "capacity", _positive(self.capacity, "VanChange.capacity"))
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


#: The scenario with no changes.
BASELINE = Scenario()
