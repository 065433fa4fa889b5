"""Continuous-approximation route physics: how many stops and packages one route can serve.

One implementation serves numpy arrays (broadcasting) and pytensor tensors (inside a PyMC
model): every function picks its math backend from its arguments, so the mean function the
sampler sees is the very code that predictions and decisions use.

Quantities and units (see ``docs/physics.md``), in two frozen dataclasses every formula
takes: :class:`ZoneDay`, what is routed —

* ``stops`` N (stops), ``area_km2`` A (km²), stop density δ = N / A (stops/km²);
* ``packages`` (packages; p = packages / N per stop), ``capacity`` C (packages per van);
* ``stem_km`` r (km), ``shift_hours`` T (h);

and :class:`RouteConstants`, the constants (textbook values in :data:`TEXTBOOK`, or
posterior draws) —

* ``service_min`` s (min per stop), ``overhead_hours`` (h per route: loading, dispatch),
  ``speed_kmh`` v between stops, ``stem_speed_kmh`` v_s station ↔ zone;
* ``circuity`` c (road km per straight-line km), ``tour_constant`` k, ``fill`` (usable share
  of the van), ``time_efficiency`` (multiplier on the time bound).

The model
---------
* RMS station→stop distance r̄ = √(r² + A/6) (km); stem time 2·r̄·c / v_s (h).
* Per-stop time s/60 + k·c / (v·√δ) (h).
* Time bound n_T = (T − overhead − stem time) / per-stop time (stops per route).
* Capacity bound n_C = fill·C / p (stops per route).
* n* = min(n_T, n_C); routes R = ⌈N / n*⌉ (exact); SPR = p·N / R.

Sanity check
------------
:func:`short_time_bound` flags rows whose shift leaves room for fewer than one stop per route
(a stem so long that the drive alone eats the shift): the formulas still return a number
there, but it is not a route plan, so callers should warn.

Exact and smooth forms
----------------------
``smooth=False`` (default) is the exact form: a hard minimum and whole routes. It is the form
for predictions and decisions. ``smooth=True`` replaces min by a soft minimum
(``(n_T^-q + n_C^-q)^(-1/q)``, ``q = SOFTMIN_SHARPNESS``) and ⌈x⌉ by its expectation under a
uniformly distributed fractional part, a smooth maximum of 1 and x + ½. Both are
differentiable, for NUTS. Away from the kink of the minimum and for more than a few routes the
two agree to within half a route plus 0.005 (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from types import ModuleType
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from bayesspr.errors import ArgumentError

#: Sharpness q of the soft minimum used by ``smooth=True``; at the kink the soft minimum is
#: 2^(-1/q) ≈ 0.977 of the hard one, and within 1 % once the two bounds differ by 25 %.
SOFTMIN_SHARPNESS = 30.0

#: Asymptotic Beardwood–Halton–Hammersley constant for uniformly scattered points.
BHH_TOUR_CONSTANT = 0.7124

#: Shortest on-road time left for deliveries (h); guards n_T against stems longer than a shift.
MIN_DELIVERY_HOURS = 0.05

Array = Any  # numpy array, scalar, or pytensor tensor


def backend(*values: Array) -> ModuleType:
    """Array module for the values: ``pytensor.tensor`` if any is symbolic, else ``numpy``.

    Parameters
    ----------
    *values : array_like or tensor
        Inputs of a physics formula.

    Returns
    -------
    module
        ``pytensor.tensor`` or ``numpy``; the one rule by which every formula here (and
        :func:`bayesspr.spr.model.log_route_need`) runs in a PyMC model or on posterior draws.
    """
    if any(isinstance(v, Variable) for v in values):
        return pt
    return np


def soft_minimum(a: Array, b: Array, sharpness: float = SOFTMIN_SHARPNESS) -> Array:
    """Smooth, differentiable minimum of two positive quantities.

    Parameters
    ----------
    a, b : array_like or tensor
        Positive values (any unit, the same for both).
    sharpness : float
        Exponent q of the p-norm form ``(a^-q + b^-q)^(-1/q)``; larger is closer to ``min``.

    Returns
    -------
    array_like or tensor
        A value never above ``min(a, b)`` and at least ``2^(-1/q)·min(a, b)``.
    """
    xp = backend(a, b)
    lo = xp.minimum(a, b)
    hi = xp.maximum(a, b)
    # factor out the minimum for numerical stability: min·(1 + (min/max)^q)^(-1/q)
    return lo * (1.0 + (lo / hi) ** sharpness) ** (-1.0 / sharpness)


def log_soft_minimum(log_a: Array, log_b: Array, sharpness: float = SOFTMIN_SHARPNESS) -> Array:
    """Logarithm of :func:`soft_minimum` (a, b) from log a and log b, with no power.

    log(min·(1 + (min/max)^q)^(−1/q)) = log min − log1p(exp(−q·g)) / q, g = abs(log a − log b): one
    ``exp`` and one ``log1p`` instead of two fractional powers and a logarithm, forward and
    in the gradient (the SPR model's log density and gradient at rung S, 134,404 rows: 21.5
    → 17.6 ms, 2026-12-07).

    Parameters
    ----------
    log_a, log_b : array_like or tensor
        Logarithms of two positive quantities of one unit (log of that unit).
    sharpness : float
        The exponent q of :func:`soft_minimum`.

    Returns
    -------
    array_like or tensor
        log soft_minimum(a, b) (log of the unit).
    """
    xp = backend(log_a, log_b)
    gap = xp.abs(log_a - log_b)
    return xp.minimum(log_a, log_b) - xp.log1p(xp.exp(-sharpness * gap)) / sharpness


def smooth_route_count(route_need: Array) -> Array:
    """Expected whole routes ⌈x⌉ for a fractional route need x, as a smooth function.

    With the fractional part of x uniformly distributed, E⌈x⌉ = x + ½ for x ≥ 1, and a zone
    always needs at least one route; the two are joined by a smooth maximum.

    Parameters
    ----------
    route_need : array_like or tensor
        Fractional number of routes x = N / n* (routes).

    Returns
    -------
    array_like or tensor
        Smooth route count (routes), ≥ 1 and within 0.505 of ⌈x⌉ for x ≥ 1.
    """
    xp = backend(route_need)
    x = route_need + 0.5
    # smooth max(1, x) with a small width: ½(x + 1 + √((x − 1)² + ε²))
    eps = 0.1
    return 0.5 * (x + 1.0 + xp.sqrt((x - 1.0) ** 2 + eps**2))


def rms_stem_km(stem_km: Array, area_km2: Array) -> Array:
    """Root-mean-square straight-line distance from the station to a stop of the zone (km).

    Parameters
    ----------
    stem_km : array_like or tensor
        Straight-line distance station → zone centroid r (km).
    area_km2 : array_like or tensor
        Zone area A (km²), modelled as a square.

    Returns
    -------
    array_like or tensor
        r̄ = √(r² + A/6) (km).
    """
    xp = backend(stem_km, area_km2)
    return xp.sqrt(stem_km**2 + area_km2 / 6.0)


@dataclass(frozen=True, kw_only=True)
class ZoneDay:
    """What a route plan is for: one zone on one day, or arrays of them that broadcast.

    Every field is a number, a numpy array or a pytensor tensor; arrays broadcast together
    (posterior draws × rows, say).

    Attributes
    ----------
    stops : array_like or tensor
        Delivery stops N in the zone that day (stops).
    area_km2 : array_like or tensor
        Zone area A (km²), modelled as a square.
    stem_km : array_like or tensor
        Straight-line distance station → zone centroid r (km).
    packages : array_like or tensor, optional
        Packages to deliver (packages); packages per stop p = packages / N. Needed by the
        capacity bound only.
    capacity : array_like or tensor, optional
        Van capacity C (packages per van). Needed by the capacity bound only.
    shift_hours : array_like or tensor
        On-road hours T a route may take (h); default 8.
    """

    stops: Array
    area_km2: Array
    stem_km: Array
    packages: Array = None
    capacity: Array = None
    shift_hours: Array = 8.0

    @property
    def packages_per_stop(self) -> Array:
        """Packages per stop p = packages / N (packages)."""
        return self.packages / self.stops

    def values(self) -> tuple[Array, ...]:
        """The fields that are set, in field order (for :func:`backend`)."""
        return tuple(v for v in (getattr(self, f.name) for f in fields(self)) if v is not None)


@dataclass(frozen=True, kw_only=True)
class RouteConstants:
    """The constants of the route physics: textbook values by default, or posterior draws.

    Every field is a number, a numpy array or a pytensor tensor that broadcasts against the
    :class:`ZoneDay` it is used with (one value per draw and row, say).

    Attributes
    ----------
    service_min : array_like or tensor
        Service time per stop s (min); default 2.5.
    speed_kmh : array_like or tensor
        Road speed between stops v (km/h); default 25.
    stem_speed_kmh : array_like or tensor
        Road speed on the stem v_s, station ↔ zone (km/h); default 50.
    circuity : array_like or tensor
        Road km per straight-line km c (dimensionless); default 1.3.
    tour_constant : array_like or tensor
        Tour constant k (dimensionless); default :data:`BHH_TOUR_CONSTANT`.
    overhead_hours : array_like or tensor
        Fixed time per route for loading and dispatch (h); default 0.
    fill : array_like or tensor
        Usable share of the van capacity (dimensionless, 0 < fill ≤ 1); default 1.
    time_efficiency : array_like or tensor
        Multiplier on the time bound (dimensionless, 1 = textbook physics); the SPR model's
        zip effect, exp(zip_effect), enters here.
    """

    service_min: Array = 2.5
    speed_kmh: Array = 25.0
    stem_speed_kmh: Array = 50.0
    circuity: Array = 1.3
    tour_constant: Array = BHH_TOUR_CONSTANT
    overhead_hours: Array = 0.0
    fill: Array = 1.0
    time_efficiency: Array = 1.0

    def values(self) -> tuple[Array, ...]:
        """Every field, in field order (for :func:`backend`)."""
        return tuple(getattr(self, f.name) for f in fields(self))


#: The textbook constants (every :class:`RouteConstants` default).
TEXTBOOK = RouteConstants()


def stem_road_km(zone: ZoneDay, circuity: Array) -> Array:
    """Road km of a route's stem, out and back, 2·r̄·c (km).

    Parameters
    ----------
    zone : ZoneDay
        Stem r (km) and area A (km²) of the zone.
    circuity : array_like or tensor
        Road km per straight-line km c (dimensionless).

    Returns
    -------
    array_like or tensor
        2·r̄·c, r̄ the root-mean-square stem (:func:`rms_stem_km`) (km).
    """
    return 2.0 * rms_stem_km(zone.stem_km, zone.area_km2) * circuity


def _stem_hours(zone: ZoneDay, constants: RouteConstants) -> Array:
    """Stem drive of a route, out and back, 2·r̄·c / v_s (h)."""
    return stem_road_km(zone, constants.circuity) / constants.stem_speed_kmh


def time_bound_stops(zone: ZoneDay, constants: RouteConstants = TEXTBOOK) -> Array:
    """Stops one route can serve within its shift, n_T (stops per route).

    Parameters
    ----------
    zone : ZoneDay
        Stops N (stops), area A (km²), stem r (km) and shift T (h); packages and capacity
        are not used.
    constants : RouteConstants
        Service time s (min per stop), speeds v and v_s (km/h), circuity c and tour
        constant k (dimensionless), overhead (h per route), time efficiency (dimensionless).

    Returns
    -------
    array_like or tensor
        efficiency·(T − overhead − 2·r̄·c/v_s) / (s/60 + k·c/(v·√δ)) (stops per route).
    """
    delivery_hours, hours_per_stop = _time_bound_terms(zone, constants)
    return constants.time_efficiency * delivery_hours / hours_per_stop


def _time_bound_terms(zone: ZoneDay, constants: RouteConstants) -> tuple[Array, Array]:
    """The time bound's delivery hours per route (h) and hours per stop (h per stop)."""
    xp = backend(*zone.values(), *constants.values())
    c = constants
    density = zone.stops / zone.area_km2
    delivery_hours = xp.maximum(
        zone.shift_hours - c.overhead_hours - _stem_hours(zone, c), MIN_DELIVERY_HOURS
    )
    hours_per_stop = c.service_min / 60.0 + c.tour_constant * c.circuity / (
        c.speed_kmh * xp.sqrt(density)
    )
    return delivery_hours, hours_per_stop


def short_time_bound(
    zone: ZoneDay, constants: RouteConstants = TEXTBOOK, *, min_stops: float = 1.0
) -> np.ndarray:
    """Flag rows whose shift leaves room for fewer than ``min_stops`` stops per route.

    A row is flagged when the exact time bound n_T of :func:`time_bound_stops` is below
    ``min_stops`` (stops per route), or when the stem drive and the overhead leave less than
    :data:`MIN_DELIVERY_HOURS` of the shift for deliveries (there n_T is computed from that
    floor, not from the shift, and means nothing). Such a row gives absurd routes (close to one
    route per stop) without any error; callers warn about it. Pure numpy; no pytensor.

    Parameters
    ----------
    zone : ZoneDay
        As in :func:`time_bound_stops`: stops N (stops), area A (km²), stem r (km), shift T
        (h); numpy arrays or numbers that broadcast together (posterior draws × rows, say).
    constants : RouteConstants
        As in :func:`time_bound_stops`, numpy arrays or numbers.
    min_stops : float
        Fewest stops per route a sane row allows (stops per route), > 0; default 1.

    Returns
    -------
    numpy.ndarray of bool
        True where the row's time bound is below ``min_stops`` (or is not a number) or its
        stem (with the overhead) fills the shift; the broadcast shape of the inputs.

    Raises
    ------
    TypeError
        If an input is a pytensor tensor (this is a check on numbers, not a model term).
    ArgumentError
        If ``min_stops`` is not a finite number > 0.
    """
    if backend(*zone.values(), *constants.values()) is not np:
        raise TypeError(
            "short_time_bound: got a pytensor tensor; expected numpy arrays or numbers (it "
            "checks predictions, it is not a model term)"
        )
    if isinstance(min_stops, bool) or not (
        isinstance(min_stops, int | float | np.integer | np.floating)
        and np.isfinite(min_stops)
        and min_stops > 0
    ):
        raise ArgumentError(f"min_stops = {min_stops!r}: expected a finite number > 0 (stops)")
    zone = _as_float(zone)
    constants = _as_float(constants)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        no_time = (
            zone.shift_hours - constants.overhead_hours - _stem_hours(zone, constants)
            < MIN_DELIVERY_HOURS
        )
        n_time = time_bound_stops(zone, constants)
        return np.asarray(no_time | ~(n_time >= min_stops))


def _as_float(values: ZoneDay | RouteConstants) -> ZoneDay | RouteConstants:
    """The same zone or constants with every set field a float numpy array."""
    return replace(
        values,
        **{
            f.name: np.asarray(getattr(values, f.name), dtype=float)
            for f in fields(values)
            if getattr(values, f.name) is not None
        },
    )


def capacity_bound_stops(packages_per_stop: Array, capacity: Array, fill: Array = 1.0) -> Array:
    """Stops one van can serve before it is full, n_C = fill·C / p (stops per route).

    Parameters
    ----------
    packages_per_stop : array_like or tensor
        Packages per stop p (packages).
    capacity : array_like or tensor
        Van capacity C (packages).
    fill : array_like or tensor
        Usable share of the capacity (dimensionless, 0 < fill ≤ 1).

    Returns
    -------
    array_like or tensor
        Capacity bound (stops per route).
    """
    return fill * capacity / packages_per_stop


def capacity_floor_routes(packages: Array, capacity: Array) -> Array:
    """Fewest whole routes that can carry the packages, max(1, ⌈packages / C⌉) (routes).

    Whatever the fill share, a van never carries more than its capacity, so no day can be
    served with fewer routes than this.

    Parameters
    ----------
    packages : array_like or tensor
        Packages to deliver (packages).
    capacity : array_like or tensor
        Van capacity C (packages per route).

    Returns
    -------
    array_like or tensor
        Lower bound on routes (routes), a whole number ≥ 1.
    """
    xp = backend(packages, capacity)
    return xp.maximum(xp.ceil(packages / capacity - 1e-9), 1.0)


def max_stops_per_route(
    zone: ZoneDay, constants: RouteConstants = TEXTBOOK, *, smooth: bool = False
) -> Array:
    """Stops per route n* = min(time bound, capacity bound) (stops per route).

    Parameters
    ----------
    zone : ZoneDay
        Stops N (stops), packages (packages), van capacity C (packages), zone area A (km²),
        station → zone-centroid distance r (km), shift T (h).
    constants : RouteConstants
        The physics constants (see :func:`time_bound_stops`); ``fill`` is the usable share
        of van capacity (dimensionless).
    smooth : bool
        Use the differentiable soft minimum instead of ``min``.

    Returns
    -------
    array_like or tensor
        n* (stops per route).
    """
    n_time = time_bound_stops(zone, constants)
    n_capacity = capacity_bound_stops(zone.packages_per_stop, zone.capacity, constants.fill)
    if smooth:
        return soft_minimum(n_time, n_capacity)
    return backend(n_time, n_capacity).minimum(n_time, n_capacity)


def log_smooth_max_stops_per_route(zone: ZoneDay, constants: RouteConstants = TEXTBOOK) -> Array:
    """Logarithm of the smooth n*, from the logarithms of its two bounds (log stops per route).

    The same value as ``log(max_stops_per_route(zone, constants, smooth=True))`` (to rounding),
    built from log n_T = log efficiency + log delivery hours − log hours per stop and
    log n_C = log fill + log C − log p by :func:`log_soft_minimum`: the SPR model's mean
    takes this form, which needs no fractional power.

    Parameters
    ----------
    zone, constants
        As in :func:`max_stops_per_route`.

    Returns
    -------
    array_like or tensor
        log n* (log stops per route).
    """
    xp = backend(*zone.values(), *constants.values())
    delivery_hours, hours_per_stop = _time_bound_terms(zone, constants)
    log_time = xp.log(constants.time_efficiency) + xp.log(delivery_hours) - xp.log(hours_per_stop)
    log_capacity = xp.log(constants.fill) + xp.log(zone.capacity) - xp.log(zone.packages_per_stop)
    return log_soft_minimum(log_time, log_capacity)


def expected_routes(
    zone: ZoneDay, constants: RouteConstants = TEXTBOOK, *, smooth: bool = False
) -> Array:
    """Routes needed to serve the zone, R = ⌈N / n*⌉ (routes).

    Parameters are those of :func:`max_stops_per_route`. With ``smooth=False`` the result is a
    whole number ≥ 1; with ``smooth=True`` it is the smooth expectation of the rounding
    (:func:`smooth_route_count`) of the soft-minimum route need.

    Returns
    -------
    array_like or tensor
        Routes (routes).
    """
    need = zone.stops / max_stops_per_route(zone, constants, smooth=smooth)
    if smooth:
        return smooth_route_count(need)
    xp = backend(need)
    floor = capacity_floor_routes(zone.packages_per_stop * zone.stops, zone.capacity)
    return xp.maximum(xp.ceil(need - 1e-9), floor)


def expected_spr(
    zone: ZoneDay, constants: RouteConstants = TEXTBOOK, *, smooth: bool = False
) -> Array:
    """Shipments per route, SPR = p·N / R (packages per route).

    Parameters are those of :func:`max_stops_per_route`.

    Returns
    -------
    array_like or tensor
        Packages per route (packages); never above ``capacity`` in the exact form.
    """
    routes = expected_routes(zone, constants, smooth=smooth)
    return zone.packages_per_stop * zone.stops / routes


def expected_route_km(
    zone: ZoneDay,
    constants: RouteConstants = TEXTBOOK,
    *,
    smooth: bool = False,
    routes: Array | None = None,
) -> Array:
    """Mean road length of one route, 2·r̄·c + (N/R)·k·c/√δ (km).

    Parameters
    ----------
    zone, constants, smooth
        As in :func:`max_stops_per_route`; with ``routes`` given, only stops, area and stem
        of the zone and circuity and tour constant of the constants are used.
    routes : array_like or tensor, optional
        Routes actually run (routes); computed with :func:`expected_routes` when omitted.

    Returns
    -------
    array_like or tensor
        Road kilometres per route (km), for EV range checks.
    """
    if routes is None:
        routes = expected_routes(zone, constants, smooth=smooth)
    c = constants
    xp = backend(zone.stops, zone.area_km2, routes, c.tour_constant, c.circuity)
    density = zone.stops / zone.area_km2
    stem_km = stem_road_km(zone, c.circuity)
    return stem_km + (zone.stops / routes) * c.tour_constant * c.circuity / xp.sqrt(density)
