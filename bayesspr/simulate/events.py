"""Events injected into a simulated month, for testing the monthly monitor against known truth.

A month of observations (canonical rows with routes, e.g. the last weeks of a
:class:`~bayesspr.simulate.worlds.World`'s table or its ``future``) is changed as a real
station would change it, and the changed rows' routes are drawn again from the world's truth
with the change applied (:func:`~bayesspr.simulate.worlds.draw_routes`):

``quiet``
    Nothing happens: the month is returned as it is.
``overhead_jump``
    The station's dispatch overhead grows by ``size`` hours (default 1 h, about +10 % routes
    where time binds) from the month's first day: every route there loses that much of its
    shift (persistent).
``zip_takeover``
    The station takes over a zip from another station of its city (its stem distance becomes
    the station's), and that zip is served ``size`` less efficiently on the log scale (default
    0.35: about 40 % more time per stop): a zip that does not behave like the ones it had.
    The zip is the city's most time-bound one at the other stations (highest routes over
    their van-capacity floor): a capacity-bound zip's routes would not show the change.
``outage``
    One day (the middle day the station delivers), the station loses a share ``size`` of that
    day's shift (default 0.5, half of it): a one-day event, not a shift.
``new_van``
    The station's vans become ``size`` packages (default 1.5 × its largest van) from the
    month's first day: the physics explains it, so a calibrated model should not be
    surprised.
``volume_jump``
    The station's zips get ``size`` more stops and packages (default 0.25: +25 %) from the
    month's first day, and their routes follow from the truth: the volume moved, the
    productivity did not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesspr.errors import SimulationError
from bayesspr.simulate.worlds import Truth, draw_routes

__all__ = ["EVENT_KINDS", "InjectedEvent", "inject_event"]

#: The events :func:`inject_event` knows, with their default size (unit in the module doc).
EVENT_KINDS: dict[str, float | None] = {
    "quiet": None,
    "overhead_jump": 1.0,
    "zip_takeover": 0.35,
    "outage": 0.5,
    "new_van": None,
    "volume_jump": 0.25,
}


@dataclass(frozen=True)
class InjectedEvent:
    """What was injected: the truth a monitor should find.

    Attributes
    ----------
    kind : str
        One of :data:`EVENT_KINDS`.
    station : str or None
        The station it happened at (None for ``quiet``).
    zip : str or None
        The zip taken over (``zip_takeover`` only).
    date : pandas.Timestamp or None
        The day of an ``outage``; the first day of the month otherwise.
    size : float or None
        Its size (hours, log efficiency or packages; see the module doc).
    persistent : bool
        Whether it lasts the rest of the month (False for ``outage`` and ``quiet``).
    """

    kind: str
    station: str | None
    zip: str | None
    date: pd.Timestamp | None
    size: float | None
    persistent: bool

    def record(self) -> dict[str, object]:
        """The event as plain values (for a table or a manifest)."""
        out = dataclasses.asdict(self)
        out["date"] = None if self.date is None else str(self.date.date())
        return out


def _with_group(truth: Truth, group: str, key: str, change: float) -> Truth:
    """The truth with one group effect moved by ``change``."""
    groups = {name: series.copy() for name, series in truth.groups.items()}
    groups[group].loc[key] = groups[group].loc[key] + change
    return dataclasses.replace(truth, groups=groups)


def _redraw(month: pd.DataFrame, rows: np.ndarray, truth: Truth, seed: int) -> pd.DataFrame:
    """The month with the chosen rows' routes (and route km) drawn again from ``truth``."""
    out = month.copy()
    km = "route_km" in out.columns
    routes, route_km = draw_routes(
        out.loc[rows], truth, np.random.default_rng([seed, 7]), with_route_km=km
    )
    out.loc[rows, "routes"] = routes
    if km:
        out.loc[rows, "route_km"] = route_km
    return out


def inject_event(
    month: pd.DataFrame,
    truth: Truth,
    kind: str,
    *,
    station: str | None = None,
    size: float | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, InjectedEvent]:
    """A month of observations with one event injected at one station.

    Parameters
    ----------
    month : pandas.DataFrame
        Canonical rows with ``routes`` (one month, say), of a world whose truth is ``truth``.
    truth : Truth
        The world's parameters (:attr:`World.truth`).
    kind : str
        One of :data:`EVENT_KINDS` (see the module doc).
    station : str, optional
        Where it happens; default one drawn with ``seed`` (for ``zip_takeover``, among the
        stations with another station in their city).
    size : float, optional
        Its size (default in :data:`EVENT_KINDS`; ``new_van``: 1.5 × the station's largest
        van, in packages).
    seed : int
        Seed of the choices and of the redrawn day noise.

    Returns
    -------
    month : pandas.DataFrame
        The rows after the event (a copy; the input is not changed).
    event : InjectedEvent
        What happened, where and when.

    Raises
    ------
    SimulationError
        An unknown kind or station, or a takeover at a station alone in its city.
    """
    if kind not in EVENT_KINDS:
        raise SimulationError(f"event kind {kind!r}: expected one of {list(EVENT_KINDS)}")
    rng = np.random.default_rng(seed)
    first = pd.Timestamp(month["date"].min())
    if kind == "quiet":
        return month.copy(), InjectedEvent("quiet", None, None, first, None, False)
    stations = sorted(month["station"].unique())
    if kind == "zip_takeover":
        city_size = month.groupby("city")["station"].nunique()
        stations = [s for s in stations if city_size[_city_of(month, s)] > 1]
    if station is None:
        if not stations:
            raise SimulationError("zip_takeover needs a city with two stations in the month")
        station = str(rng.choice(stations))
    elif station not in stations:
        raise SimulationError(f"station {station!r}: expected one of {stations} for {kind}")
    here = (month["station"] == station).to_numpy()
    size = EVENT_KINDS[kind] if size is None else float(size)
    return _HANDLERS[kind](_Where(month, truth, station, here, first), size, rng, seed)


_Injected = tuple[pd.DataFrame, InjectedEvent]


@dataclass(frozen=True)
class _Where:
    """The month, the truth, the station and its rows, and the month's first day."""

    month: pd.DataFrame
    truth: Truth
    station: str
    here: np.ndarray
    first: pd.Timestamp


def _overhead_jump(w: _Where, size: float, rng: np.random.Generator, seed: int) -> _Injected:
    changed = _with_group(w.truth, "overhead_hours_station", w.station, size)
    event = InjectedEvent("overhead_jump", w.station, None, w.first, size, True)
    return _redraw(w.month, w.here, changed, seed), event


def _outage(w: _Where, size: float, rng: np.random.Generator, seed: int) -> _Injected:
    days = np.sort(w.month.loc[w.here, "date"].unique())
    day = pd.Timestamp(days[len(days) // 2])
    rows = w.here & (w.month["date"] == day).to_numpy()
    lost = size * float(w.month.loc[rows, "shift_hours"].mean())  # hours of that day's shift
    changed = _with_group(w.truth, "overhead_hours_station", w.station, lost)
    event = InjectedEvent("outage", w.station, None, day, size, False)
    return _redraw(w.month, rows, changed, seed), event


def _new_van(w: _Where, size: float | None, rng: np.random.Generator, seed: int) -> _Injected:
    size = 1.5 * float(w.month.loc[w.here, "van_capacity"].max()) if size is None else size
    out = w.month.copy()
    out.loc[w.here, "van_capacity"] = size
    event = InjectedEvent("new_van", w.station, None, w.first, size, True)
    return _redraw(out, w.here, w.truth, seed), event


def _volume_jump(w: _Where, size: float, rng: np.random.Generator, seed: int) -> _Injected:
    out = w.month.copy()
    for column in ("stops", "packages"):
        more = np.round(w.month.loc[w.here, column].to_numpy() * (1.0 + size))
        out.loc[w.here, column] = more.astype(w.month[column].dtype)
    event = InjectedEvent("volume_jump", w.station, None, w.first, size, True)
    return _redraw(out, w.here, w.truth, seed), event


def _city_of(month: pd.DataFrame, station: str) -> str:
    return str(month.loc[month["station"] == station, "city"].iloc[0])


def _takeover(w: _Where, size: float, rng: np.random.Generator, seed: int) -> _Injected:
    """The station takes over a zip of another station of its city, less efficient there."""
    month, station = w.month, w.station
    city = _city_of(month, station)
    others = month[(month["city"] == city) & (month["station"] != station)]
    # the zip whose routes are set by time the most, not by van capacity: its efficiency
    # shows in its routes (a capacity-bound zip's routes do not change with it)
    floor = np.ceil(others["packages"] / others["van_capacity"])
    by_time = (others["routes"] / floor).groupby(others["zip"]).mean()
    zip_code = str(by_time.idxmax())
    rows = (month["zip"] == zip_code).to_numpy()
    out = month.copy()
    out.loc[rows, "station"] = station
    out.loc[rows, "stem_km"] = float(month.loc[w.here, "stem_km"].median())
    changed = _with_group(w.truth, "zip_effect", zip_code, -size)
    event = InjectedEvent("zip_takeover", station, zip_code, w.first, size, True)
    return _redraw(out, rows, changed, seed), event


_HANDLERS = {
    "overhead_jump": _overhead_jump,
    "zip_takeover": _takeover,
    "outage": _outage,
    "new_van": _new_van,
    "volume_jump": _volume_jump,
}
