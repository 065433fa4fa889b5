"""Tests for bayesspr.spr.physics: the continuous-approximation route physics.

Every property is checked on the exact form (hard minimum, whole routes) and, where the spec
asks for it, on the smooth form that NUTS sees. The numpy and pytensor paths run the same
code; a compiled pytensor graph is compared with numpy on the same numbers.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bayesspr.spr.physics import (
    BHH_TOUR_CONSTANT,
    MIN_DELIVERY_HOURS,
    SOFTMIN_SHARPNESS,
    RouteConstants,
    ZoneDay,
    capacity_bound_stops,
    capacity_floor_routes,
    expected_route_km,
    expected_routes,
    expected_spr,
    log_smooth_max_stops_per_route,
    log_soft_minimum,
    max_stops_per_route,
    short_time_bound,
    smooth_route_count,
    soft_minimum,
    time_bound_stops,
)

TIME_ORDER = (
    "stops",
    "area_km2",
    "stem_km",
    "shift_hours",
    "service_min",
    "speed_kmh",
    "stem_speed_kmh",
    "circuity",
    "tour_constant",
    "overhead_hours",
    "time_efficiency",
)
ROUTE_ORDER = (
    "stops",
    "packages_per_stop",
    "capacity",
    "area_km2",
    "stem_km",
    "shift_hours",
    "service_min",
    "speed_kmh",
    "stem_speed_kmh",
    "circuity",
    "tour_constant",
)
ZONE_FIELDS = ("stops", "area_km2", "stem_km", "capacity", "shift_hours")


def call(func, *args, **kw):
    """Call a physics function with the zone and its constants given as flat arguments.

    Positional arguments follow the order in which PHYSICS.md lists them (``TIME_ORDER``
    for the time bound, ``ROUTE_ORDER`` for the others); ``packages_per_stop`` p becomes
    the zone's ``packages`` = p·N.
    """
    order = TIME_ORDER if func in (time_bound_stops, short_time_bound) else ROUTE_ORDER
    kw = {**dict(zip(order, args, strict=False)), **kw}
    options = {k: kw.pop(k) for k in ("smooth", "routes", "min_stops") if k in kw}
    zone = {k: kw.pop(k) for k in ZONE_FIELDS if k in kw}
    if "packages_per_stop" in kw:
        zone["packages"] = kw.pop("packages_per_stop") * zone["stops"]
    return func(ZoneDay(**zone), RouteConstants(**kw), **options)


SETTINGS = settings(max_examples=100, deadline=None, derandomize=True)


def fl(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


# Realistic ranges, a little wider than the Amazon 2021 sample in PHYSICS.md.
STOPS = fl(1.0, 5000.0)
PPS = fl(1.0, 4.0)
CAPACITY = fl(20.0, 1000.0)
AREA = fl(0.2, 50.0)
STEM = fl(0.0, 40.0)
SHIFT = fl(4.0, 12.0)
SERVICE = fl(0.3, 6.0)
SPEED = fl(8.0, 60.0)
STEM_SPEED = fl(15.0, 90.0)
CIRCUITY = fl(1.0, 1.6)
TOUR = fl(0.6, 1.2)
FILL = fl(0.5, 1.0)  # usable share of the van
EFFICIENCY = fl(0.5, 1.5)


@st.composite
def zones(draw: st.DrawFn) -> dict[str, float]:
    """One zone-day with every parameter of the physics drawn."""
    return {
        "stops": draw(STOPS),
        "packages_per_stop": draw(PPS),
        "capacity": draw(CAPACITY),
        "area_km2": draw(AREA),
        "stem_km": draw(STEM),
        "shift_hours": draw(SHIFT),
        "service_min": draw(SERVICE),
        "speed_kmh": draw(SPEED),
        "stem_speed_kmh": draw(STEM_SPEED),
        "circuity": draw(CIRCUITY),
        "tour_constant": draw(TOUR),
    }


def time_kwargs(z: dict[str, float]) -> dict[str, float]:
    """The arguments of time_bound_stops taken from a zone."""
    keys = (
        "stops",
        "area_km2",
        "stem_km",
        "shift_hours",
        "service_min",
        "speed_kmh",
        "stem_speed_kmh",
        "circuity",
        "tour_constant",
    )
    return {key: z[key] for key in keys}


def with_(z: dict[str, float], **changes: float) -> dict[str, float]:
    return {**z, **changes}


# --------------------------------------------------------------------------------------------
# One configuration computed by hand
# --------------------------------------------------------------------------------------------

HAND = {
    "stops": 400.0,
    "packages_per_stop": 1.5,
    "area_km2": 4.0,
    "stem_km": 6.0,
    "shift_hours": 8.0,
    "service_min": 2.0,
    "speed_kmh": 25.0,
    "stem_speed_kmh": 50.0,
    "circuity": 1.3,
    "tour_constant": 0.8,
}


def test_hand_computed_configuration():
    n, p, a, r = 400.0, 1.5, 4.0, 6.0
    shift, service_min, v, v_stem, c, k = 8.0, 2.0, 25.0, 50.0, 1.3, 0.8

    density = n / a  # 100 stops/km²
    r_bar = math.sqrt(r**2 + a / 6.0)  # √(36 + 2/3) km
    stem_hours = 2.0 * r_bar * c / v_stem
    per_stop_hours = service_min / 60.0 + k * c / (v * math.sqrt(density))  # 1/30 + 1.04/250
    n_time = (shift - stem_hours) / per_stop_hours
    # the same numbers worked out on paper
    assert density == 100.0
    assert r_bar == pytest.approx(6.05530, abs=1e-5)
    assert stem_hours == pytest.approx(0.314876, abs=1e-6)
    assert per_stop_hours == pytest.approx(0.0374933, abs=1e-7)
    assert n_time == pytest.approx(204.973, abs=1e-3)

    got_time = call(time_bound_stops, 400, 4.0, 6.0, 8.0, 2.0, 25.0, 50.0, 1.3, 0.8)
    assert got_time == pytest.approx(n_time, rel=1e-12)

    # small van: capacity binds, n_C = 250 / 1.5 = 166.67 stops, 400 / 166.67 = 2.4 → 3 routes
    n_cap = 250.0 / p
    assert capacity_bound_stops(p, 250.0) == pytest.approx(n_cap, rel=1e-12)
    assert call(max_stops_per_route, capacity=250.0, **HAND) == pytest.approx(n_cap, rel=1e-12)
    assert call(expected_routes, capacity=250.0, **HAND) == 3.0
    assert call(expected_spr, capacity=250.0, **HAND) == pytest.approx(600.0 / 3.0, rel=1e-12)
    km = 2.0 * r_bar * c + (n / 3.0) * k * c / math.sqrt(density)
    assert km == pytest.approx(29.6104, abs=1e-4)
    assert call(expected_route_km, capacity=250.0, **HAND) == pytest.approx(km, rel=1e-12)

    # big van: n_C = 400 > n_T = 204.97, time binds: 400 / 204.97 = 1.95 → 2 routes, SPR 300
    assert call(max_stops_per_route, capacity=600.0, **HAND) == pytest.approx(n_time, rel=1e-12)
    assert call(expected_routes, capacity=600.0, **HAND) == 2.0
    assert call(expected_spr, capacity=600.0, **HAND) == pytest.approx(300.0, rel=1e-12)
    km = 2.0 * r_bar * c + (n / 2.0) * k * c / math.sqrt(density)
    assert call(expected_route_km, capacity=600.0, **HAND) == pytest.approx(km, rel=1e-12)

    # smooth form: soft minimum of the bounds, then E⌈x⌉ = x + ½ joined smoothly to 1
    n_soft = n_time * (1.0 + (n_time / 400.0) ** SOFTMIN_SHARPNESS) ** (-1 / SOFTMIN_SHARPNESS)
    assert n_soft == pytest.approx(n_time, rel=1e-9)  # bounds 2x apart: no visible softening
    u = n / n_soft - 0.5  # ½(x + 1 + √((x − 1)² + 0.1²)) with x = need + ½
    join = 0.5 * (math.sqrt(u**2 + 0.01) - u)
    assert join == pytest.approx(0.00172, abs=1e-5)
    smooth = call(expected_routes, capacity=600.0, smooth=True, **HAND)
    assert smooth == pytest.approx(n / n_soft + 0.5 + join, rel=1e-12)
    assert call(expected_spr, capacity=600.0, smooth=True, **HAND) == pytest.approx(600.0 / smooth)


def test_overhead_fill_and_efficiency_by_hand():
    kw = with_(HAND, capacity=600.0)
    base = call(time_bound_stops, **time_kwargs(kw))
    per_stop_hours = 2.0 / 60.0 + 0.8 * 1.3 / (25.0 * 10.0)
    stem_hours = 2.0 * math.sqrt(36.0 + 4.0 / 6.0) * 1.3 / 50.0
    with_overhead = call(time_bound_stops, **time_kwargs(kw), overhead_hours=0.5)
    assert with_overhead == pytest.approx((8.0 - 0.5 - stem_hours) / per_stop_hours, rel=1e-12)
    assert call(time_bound_stops, **time_kwargs(kw), time_efficiency=0.8) == pytest.approx(
        0.8 * base
    )
    assert capacity_bound_stops(2.0, 300.0, fill=0.9) == pytest.approx(135.0)
    # a stem longer than the shift leaves the guard's delivery hours, not a negative bound
    far = call(time_bound_stops, **time_kwargs(with_(kw, stem_km=500.0)))
    assert far == pytest.approx(MIN_DELIVERY_HOURS / per_stop_hours, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Properties of the exact form
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(zones(), fl(0.5, 1.5), EFFICIENCY)
def test_spr_never_exceeds_capacity(z, fill, efficiency):
    # even a fill share above 1 (a data error) must not load a van beyond its capacity
    spr = call(expected_spr, **z, fill=fill, time_efficiency=efficiency)
    # ⌈x − 1e-9⌉ may round x = k + 1e-10 down to k: a relative 1e-9 overshoot at most
    assert spr <= z["capacity"] * (1.0 + 1e-9)


@SETTINGS
@given(zones(), FILL, EFFICIENCY)
def test_routes_are_whole_and_cover_the_packages(z, fill, efficiency):
    routes = call(expected_routes, **z, fill=fill, time_efficiency=efficiency)
    assert routes >= 1.0
    assert routes == math.floor(routes)
    packages = z["packages_per_stop"] * z["stops"]
    assert routes >= math.ceil(packages / z["capacity"] - 1e-6)
    # never more routes than the rounded-up route need (nor than a one-stop-per-route fleet)
    need = z["stops"] / call(max_stops_per_route, **z, fill=fill, time_efficiency=efficiency)
    assert routes <= max(math.ceil(need), math.ceil(packages / z["capacity"]), 1)
    assert capacity_floor_routes(packages, z["capacity"]) <= routes


@SETTINGS
@given(zones(), fl(0.0, 3.0))
def test_spr_non_decreasing_in_capacity(z, log_ratio):
    bigger = z["capacity"] * math.exp(log_ratio)
    assert call(expected_spr, **z) <= call(expected_spr, **with_(z, capacity=bigger))
    assert call(expected_routes, **z) >= call(expected_routes, **with_(z, capacity=bigger))


@SETTINGS
@given(zones(), fl(1e-3, 5.0), fl(0.0, 10.0))
def test_spr_stops_rising_once_time_binds(z, margin, more):
    n_time = call(time_bound_stops, **time_kwargs(z))
    binding = z["packages_per_stop"] * n_time * (1.0 + margin)  # n_C just above n_T
    spr = call(expected_spr, **with_(z, capacity=binding))
    assert call(expected_spr, **with_(z, capacity=binding * (1.0 + more))) == spr
    assert call(expected_spr, **with_(z, capacity=1e12)) == spr
    assert call(max_stops_per_route, **with_(z, capacity=binding)) == n_time


@SETTINGS
@given(zones())
def test_growth_with_volume_is_sub_linear(z):
    n2 = 2.0 * z["stops"]
    n_time = call(time_bound_stops, **time_kwargs(z))
    n_time2 = call(time_bound_stops, **time_kwargs(with_(z, stops=n2)))
    # denser zone: less driving per stop, so more stops per route ...
    assert n_time2 > n_time
    # ... but doubling the stops less than doubles them (at most √2: travel falls as 1/√δ)
    assert n_time2 < 2.0 * n_time
    assert n_time2 <= math.sqrt(2.0) * n_time * (1.0 + 1e-12)
    # whole routes never fall with volume, so SPR at most doubles
    assert call(expected_routes, **with_(z, stops=n2)) >= call(expected_routes, **z)
    assert call(expected_spr, **with_(z, stops=n2)) <= 2.0 * call(expected_spr, **z) * (1.0 + 1e-12)
    # the smooth form rises strictly and strictly sub-linearly
    smooth = call(expected_spr, **z, smooth=True)
    smooth2 = call(expected_spr, **with_(z, stops=n2), smooth=True)
    assert smooth < smooth2 < 2.0 * smooth


@SETTINGS
@given(zones(), fl(0.1, 20.0))
def test_longer_stem_lowers_and_longer_shift_raises_time_bound(z, extra):
    z = with_(z, stem_km=min(z["stem_km"], 5.0), shift_hours=max(z["shift_hours"], 6.0))
    n_time = call(time_bound_stops, **time_kwargs(z))
    farther = call(time_bound_stops, **time_kwargs(with_(z, stem_km=z["stem_km"] + extra)))
    longer = call(
        time_bound_stops, **time_kwargs(with_(z, shift_hours=z["shift_hours"] + extra / 10))
    )
    assert farther < n_time
    assert longer > n_time
    # and the route count follows (weakly, through the rounding)
    assert call(expected_routes, **with_(z, stem_km=z["stem_km"] + extra)) >= call(
        expected_routes, **z
    )


@SETTINGS
@given(zones(), st.sampled_from([None, 1.0, 2.0, 7.0]))
def test_route_km_formula(z, routes):
    density = z["stops"] / z["area_km2"]
    r_bar = math.sqrt(z["stem_km"] ** 2 + z["area_km2"] / 6.0)
    rr = call(expected_routes, **z) if routes is None else routes
    c, k = z["circuity"], z["tour_constant"]
    want = 2.0 * r_bar * c + (z["stops"] / rr) * k * c / math.sqrt(density)
    assert call(expected_route_km, **z, routes=routes) == pytest.approx(want, rel=1e-12)
    # the in-zone part is k·c·√(n·a) for n = N/R stops on the route's share a = A/R
    in_zone = k * c * math.sqrt((z["stops"] / rr) * (z["area_km2"] / rr))
    assert want - 2.0 * r_bar * c == pytest.approx(in_zone, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Smooth form
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(fl(1e-3, 1e4), fl(1e-3, 1e4), st.sampled_from([5.0, SOFTMIN_SHARPNESS, 100.0]))
def test_soft_minimum_bounds(a, b, q):
    lo = min(a, b)
    soft = soft_minimum(a, b, q)
    assert soft <= lo
    assert soft >= 2.0 ** (-1.0 / q) * lo * (1.0 - 1e-12)
    assert soft_minimum(b, a, q) == soft
    assert soft_minimum(a, a, q) == pytest.approx(2.0 ** (-1.0 / q) * a, rel=1e-12)


@SETTINGS
@given(fl(1e-3, 1e4), fl(1e-3, 1e4), st.sampled_from([5.0, SOFTMIN_SHARPNESS, 100.0]))
def test_log_soft_minimum_is_the_log_of_the_soft_minimum(a, b, q):
    assert log_soft_minimum(math.log(a), math.log(b), q) == pytest.approx(
        math.log(soft_minimum(a, b, q)), abs=1e-13
    )


@SETTINGS
@given(zones(), fl(0.5, 1.0), EFFICIENCY)
def test_log_smooth_n_star_is_the_log_of_the_smooth_n_star(z, fill, efficiency):
    """The SPR model's mean (log space) and the smooth physics (linear space) agree."""
    n_star = call(max_stops_per_route, **z, fill=fill, time_efficiency=efficiency, smooth=True)
    log_n_star = call(log_smooth_max_stops_per_route, **z, fill=fill, time_efficiency=efficiency)
    assert log_n_star == pytest.approx(math.log(n_star), abs=1e-12)


def test_soft_minimum_close_once_bounds_differ():
    # documented: within 1 % once the bounds differ by 25 %
    assert soft_minimum(100.0, 125.0) >= 0.99 * 100.0
    assert soft_minimum(100.0, 130.0) >= 0.999 * 100.0


@SETTINGS
@given(fl(1.0, 1e4))
def test_smooth_route_count_is_x_plus_half(need):
    smooth = smooth_route_count(need)
    # the smooth join with 1 adds ½(√(u² + 0.1²) − u) ≤ 0.0025/u, u = need − ½
    rounding = 1e-12 * need  # cancellation in √(u² + ε²) − u at large u
    assert need + 0.5 - rounding <= smooth <= need + 0.5 + 0.0025 / (need - 0.5) + rounding
    assert abs(smooth - math.ceil(need)) <= 0.5 + 0.005


def test_smooth_route_count_joins_one():
    x = np.linspace(0.0, 3.0, 301)
    y = smooth_route_count(x)
    assert np.all(y >= 1.0)
    assert np.all(np.diff(y) > 0)
    assert y[0] == pytest.approx(1.0, abs=0.01)


@SETTINGS
@given(zones())
def test_smooth_and_exact_agree_away_from_rounding_steps(z):
    n_time = call(time_bound_stops, **time_kwargs(z))
    n_cap = capacity_bound_stops(z["packages_per_stop"], z["capacity"])
    need = z["stops"] / min(n_time, n_cap)
    assume(20.0 < need <= 200.0)
    assume(max(n_time, n_cap) > 1.3 * min(n_time, n_cap))
    exact = call(expected_routes, **z)
    smooth = call(expected_routes, **z, smooth=True)
    # ½ route from E⌈x⌉ = x + ½, plus the join term (≤ 1.3e-4 here) and the soft minimum's
    # bias (≤ 1.3e-5 relative at a 30 % gap, so ≤ 0.003 routes at 200 routes): exactly at a
    # whole route need the gap is ½ + those terms, so ½ + 1e-9 does not hold there.
    assert abs(smooth - exact) <= 0.5 + 0.005
    spr_exact, spr_smooth = call(expected_spr, **z), call(expected_spr, **z, smooth=True)
    assert abs(spr_smooth - spr_exact) / spr_exact < 0.03


def test_smooth_and_exact_differ_by_slightly_more_than_half_at_whole_need():
    # capacity binds at 20 stops, need exactly 30 routes
    z = with_(HAND, stops=600.0, packages_per_stop=2.0, capacity=40.0)
    assert call(expected_routes, **z) == 30.0
    gap = call(expected_routes, **z, smooth=True) - 30.0
    assert 0.5 < gap < 0.5 + 1e-3


# --------------------------------------------------------------------------------------------
# Backends and broadcasting
# --------------------------------------------------------------------------------------------

VARS = ("stops", "packages_per_stop", "capacity", "area_km2", "stem_km", "service_min", "speed_kmh")
FIXED = {"shift_hours": 8.0, "stem_speed_kmh": 40.0, "circuity": 1.3, "tour_constant": 0.8}


def numpy_outputs(values: dict[str, np.ndarray]) -> list[np.ndarray]:
    kw = {**values, **FIXED}
    out = [
        call(time_bound_stops, **time_kwargs(kw)),
        capacity_bound_stops(kw["packages_per_stop"], kw["capacity"]),
    ]
    for smooth in (False, True):
        out += [
            call(max_stops_per_route, **kw, smooth=smooth),
            call(expected_routes, **kw, smooth=smooth),
            call(expected_spr, **kw, smooth=smooth),
            call(expected_route_km, **kw, smooth=smooth),
        ]
    return out


@functools.cache
def compiled() -> tuple[pytensor.compile.function.types.Function, int]:
    """The numpy_outputs graph, built from pytensor vectors, plus smooth-form gradients."""
    symbols = {name: pt.dvector(name) for name in VARS}
    outputs = numpy_outputs(symbols)
    smooth_routes, smooth_spr = outputs[7], outputs[8]
    wrt = [symbols["stops"], symbols["service_min"], symbols["speed_kmh"]]
    grads = pt.grad(smooth_spr.sum(), wrt) + pt.grad(smooth_routes.sum(), wrt)
    fn = pytensor.function([symbols[name] for name in VARS], outputs + grads)
    return fn, len(outputs)


def vectors(size: int) -> st.SearchStrategy[dict[str, np.ndarray]]:
    ranges = {
        "stops": (1.0, 3000.0),
        "packages_per_stop": (1.0, 4.0),
        "capacity": (20.0, 800.0),
        "area_km2": (0.2, 30.0),
        "stem_km": (0.0, 30.0),
        "service_min": (0.5, 5.0),
        "speed_kmh": (10.0, 50.0),
    }
    return st.fixed_dictionaries(
        {
            name: hnp.arrays(np.float64, size, elements=fl(lo, hi))
            for name, (lo, hi) in ranges.items()
        }
    )


@SETTINGS
@given(st.integers(1, 6).flatmap(vectors))
def test_numpy_and_pytensor_agree(values):
    fn, n_out = compiled()
    symbolic = fn(*[values[name] for name in VARS])
    numeric = numpy_outputs(values)
    for got, want in zip(symbolic[:n_out], numeric, strict=True):
        np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), rtol=1e-9)
    for grad in symbolic[n_out:]:
        assert np.all(np.isfinite(grad))


@SETTINGS
@given(st.integers(1, 3).flatmap(vectors))
def test_pytensor_smooth_gradients_match_finite_differences(values):
    fn, n_out = compiled()
    grads = fn(*[values[name] for name in VARS])[n_out:]
    for i, name in enumerate(("stops", "service_min", "speed_kmh")):
        h = 1e-6 * values[name]
        up = {**values, name: values[name] + h}
        down = {**values, name: values[name] - h}
        kw_up, kw_down = {**up, **FIXED}, {**down, **FIXED}
        fd_spr = (
            call(expected_spr, **kw_up, smooth=True) - call(expected_spr, **kw_down, smooth=True)
        ) / (2 * h)
        fd_routes = (
            call(expected_routes, **kw_up, smooth=True)
            - call(expected_routes, **kw_down, smooth=True)
        ) / (2 * h)
        scale_spr = np.abs(call(expected_spr, **values, **FIXED, smooth=True)) / values[name]
        scale_routes = np.abs(call(expected_routes, **values, **FIXED, smooth=True)) / values[name]
        np.testing.assert_allclose(grads[i], fd_spr, rtol=1e-4, atol=1e-6 * scale_spr.max())
        np.testing.assert_allclose(
            grads[3 + i], fd_routes, rtol=1e-4, atol=1e-6 * scale_routes.max()
        )


def test_pytensor_gradients_point_the_right_way():
    fn, n_out = compiled()
    values = {
        "stops": np.array([300.0]),
        "packages_per_stop": np.array([1.6]),
        "capacity": np.array([1000.0]),  # time binds
        "area_km2": np.array([5.0]),
        "stem_km": np.array([10.0]),
        "service_min": np.array([2.0]),
        "speed_kmh": np.array([25.0]),
    }
    d_spr = fn(*[values[name] for name in VARS])[n_out : n_out + 3]
    assert d_spr[0][0] > 0  # more stops, denser zone: SPR rises
    assert d_spr[1][0] < 0  # slower service: SPR falls
    assert d_spr[2][0] > 0  # faster driving: SPR rises


def test_broadcasting_gives_outer_shape():
    stops = np.array([[80.0], [250.0], [900.0]])
    capacity = np.array([60.0, 150.0, 300.0, 1000.0])
    kw = {
        "packages_per_stop": 1.6,
        "area_km2": 3.0,
        "stem_km": 8.0,
        "service_min": 2.0,
        "tour_constant": BHH_TOUR_CONSTANT,
    }
    funcs = (max_stops_per_route, expected_routes, expected_spr, expected_route_km)
    for func in funcs:
        for smooth in (False, True):
            grid = call(func, stops, kw["packages_per_stop"], capacity, **_rest(kw), smooth=smooth)
            assert grid.shape == (3, 4)
            for i in range(3):
                for j in range(4):
                    one = call(
                        func,
                        stops[i, 0],
                        kw["packages_per_stop"],
                        capacity[j],
                        **_rest(kw),
                        smooth=smooth,
                    )
                    assert grid[i, j] == pytest.approx(one, rel=1e-12)
    assert call(time_bound_stops, stops, np.array([1.0, 2.0, 4.0, 8.0]), 5.0).shape == (3, 4)
    assert capacity_floor_routes(stops * 1.6, capacity).shape == (3, 4)


def _rest(kw: dict[str, float]) -> dict[str, float]:
    return {key: value for key, value in kw.items() if key != "packages_per_stop"}


def test_short_time_bound_flags_stems_that_leave_no_stop_per_route():
    stops = np.array([300.0, 300.0, 300.0, 300.0, 300.0])
    stem = np.array([10.0, 150.0, 160.0, 400.0, 10.0])
    shift = np.array([8.0, 8.0, 8.0, 0.5, 8.0])
    overhead = np.array([0.5, 0.5, 0.5, 0.0, 7.99])
    n_t = call(time_bound_stops, stops, 6.0, stem, shift, overhead_hours=overhead)
    flags = call(short_time_bound, stops, 6.0, stem, shift, overhead_hours=overhead)
    assert flags.dtype == bool and flags.shape == (5,)
    # 10 km: ~150 stops; 150 km: 2·150·1.3/50 = 7.8 h of stem + 0.5 h overhead > 8 h shift
    assert n_t[0] > 100 and not flags[0]
    assert flags[1] and flags[2]
    # 400 km on a half-hour shift: the floor MIN_DELIVERY_HOURS gives n_T >= 1, still flagged
    assert n_t[3] >= 1.0 and flags[3]
    assert flags[4]  # the overhead alone eats the shift
    # the threshold is a parameter (stops per route)
    loose = call(short_time_bound, stops[:1], 6.0, stem[:1], 8.0, overhead_hours=0.5, min_stops=1e3)
    assert loose.tolist() == [True]


def test_short_time_bound_broadcasts_over_draws_and_refuses_tensors_and_bad_thresholds():
    speeds = np.array([[10.0], [25.0], [60.0]])  # (draw, 1) × (row,)
    flags = call(
        short_time_bound,
        np.array([50.0, 300.0]),
        6.0,
        np.array([90.0, 5.0]),
        8.0,
        stem_speed_kmh=speeds,
    )
    assert flags.shape == (3, 2)
    assert flags[:, 1].tolist() == [False, False, False]
    assert flags[0, 0]  # 2·90·1.3/10 = 23 h of stem at 10 km/h
    with pytest.raises(TypeError, match="pytensor"):
        call(short_time_bound, pt.vector("stops"), 6.0, 10.0)
    for bad in (0.0, -1.0, np.nan, True):
        with pytest.raises(ValueError, match=r"min_stops = .*expected a finite number > 0"):
            call(short_time_bound, 300.0, 6.0, 10.0, min_stops=bad)
