"""The route need op: its value and gradient against PyTensor's own derivative of the physics."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

from bayesspr.errors import BayessprError
from bayesspr.spr import physics
from bayesspr.spr import route_need_op as rn
from bayesspr.spr.model import log_route_need

CIRCUITY = 1.3


def _rows(n=3000, seed=3):
    """Zip-days of every kind: time-bound, capacity-bound, near the switch, no time left."""
    rng = np.random.default_rng(seed)
    stops = np.round(np.exp(rng.uniform(np.log(20), np.log(900), n)))
    zone = physics.ZoneDay(
        stops=stops,
        packages=np.round(stops * rng.uniform(1.05, 3.5, n)),
        capacity=rng.choice([150.0, 250.0, 400.0], n),
        area_km2=rng.uniform(1.0, 40.0, n),
        stem_km=np.where(rng.random(n) < 0.03, 300.0, rng.uniform(1.0, 30.0, n)),
        shift_hours=rng.choice([6.0, 8.0, 10.0], n),
    )
    values = {
        "log_time_efficiency": rng.normal(0.0, 0.3, n),
        "overhead_hours": rng.uniform(0.2, 1.2, n),
        "service_min": rng.uniform(1.0, 4.0, n),
        "speed_kmh": rng.uniform(15.0, 40.0, n),
        "stem_speed_kmh": 45.0,
        "tour_constant": 0.75,
        "fill": 0.9,
    }
    return zone, values


def _constants(values, xp):
    return physics.RouteConstants(
        service_min=values["service_min"],
        speed_kmh=values["speed_kmh"],
        stem_speed_kmh=values["stem_speed_kmh"],
        circuity=CIRCUITY,
        tour_constant=values["tour_constant"],
        overhead_hours=values["overhead_hours"],
        fill=values["fill"],
        time_efficiency=xp.exp(values["log_time_efficiency"]),
    )


def _symbols(values):
    return {
        name: pt.dvector(name) if np.ndim(value) else pt.dscalar(name)
        for name, value in values.items()
    }


def test_the_rows_cover_both_bounds_and_the_clamp():
    zone, values = _rows()
    data = rn.route_need_data(zone, CIRCUITY)
    free = data.shift_hours - values["overhead_hours"] - data.stem_road_km / 45.0
    n_time = np.log(physics.time_bound_stops(zone, _constants(values, np)))
    n_capacity = data.log_capacity_stops + np.log(values["fill"])
    assert (free < physics.MIN_DELIVERY_HOURS).sum() > 20
    assert 0.2 < (n_time < n_capacity).mean() < 0.8


@pytest.mark.parametrize("mode", ["NUMBA", Mode(linker="py", optimizer="fast_run")])
def test_value_and_gradient_equal_pytensors_derivative_of_the_formula(mode):
    """The op (numba loop, or numpy in ``perform``) against autodiff of the physics graph."""
    zone, values = _rows()
    symbols = _symbols(values)
    constants = _constants(symbols, pt)
    weights = np.random.default_rng(5).normal(size=np.size(zone.stops))
    by_op = (log_route_need(zone, constants, for_gradient=True) * weights).sum()
    formula = pt.log(zone.stops) - physics.log_smooth_max_stops_per_route(zone, constants)
    by_formula = (formula * weights).sum()
    inputs = list(symbols.values())
    nodes = pytensor.graph.traversal.io_toposort(inputs, [by_op])
    assert any(isinstance(node.op, rn.LogRouteNeed) for node in nodes)
    got = pytensor.function(inputs, [by_op, *pytensor.grad(by_op, inputs)], mode=mode)
    want = pytensor.function(inputs, [by_formula, *pytensor.grad(by_formula, inputs)])
    args = list(values.values())
    for name, g, w in zip(["value", *values], got(*args), want(*args), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10, err_msg=name)


def test_the_value_equals_the_numpy_physics():
    zone, values = _rows()
    data = rn.route_need_data(zone, CIRCUITY)
    parameters = np.stack(np.broadcast_arrays(*values.values()))
    mu, _ = rn.need_with_gradient(np.stack(data), parameters)
    want = log_route_need(zone, _constants(values, np), for_gradient=True)
    np.testing.assert_allclose(mu, want, rtol=0, atol=1e-12)


def test_the_derivatives_are_those_of_the_value():
    zone, values = _rows(400)
    data = np.stack(rn.route_need_data(zone, CIRCUITY))
    parameters = np.stack(np.broadcast_arrays(*values.values())).astype(float)
    _, partials = rn.need_with_gradient(data, parameters)
    for k, name in enumerate(rn.PARAMETERS):
        step = 1e-6 * np.maximum(np.abs(parameters[k]), 1.0)
        up, down = parameters.copy(), parameters.copy()
        up[k] += step
        down[k] -= step
        slope = (rn.need_with_gradient(data, up)[0] - rn.need_with_gradient(data, down)[0]) / (
            2 * step
        )
        np.testing.assert_allclose(partials[k], slope, rtol=1e-5, atol=1e-7, err_msg=name)


def test_nan_or_infinite_parameters_give_nan():
    """A broken draw must not become a finite log density through vector_math's bit reads."""
    zone, values = _rows(4)
    data = np.stack(rn.route_need_data(zone, CIRCUITY))
    parameters = np.stack(np.broadcast_arrays(*values.values())).astype(float)
    parameters[0, 0] = np.nan  # log efficiency
    parameters[2, 1] = np.inf  # service minutes
    parameters[6, 2] = np.nan  # fill
    mu, _ = rn.need_with_gradient(data, parameters)
    assert np.isnan(mu[:3]).all()
    assert np.isfinite(mu[3])


def test_the_derivative_output_is_not_differentiable():
    data, parameters = pt.dmatrix("data"), pt.dmatrix("parameters")
    _, partials = rn.LogRouteNeed()(data, parameters)
    with pytest.raises(Exception, match="derivative already"):
        pytensor.grad(partials.sum(), parameters)


def test_wrong_inputs_are_refused_with_what_was_expected():
    with pytest.raises(BayessprError, match=r"expected \(7, n\)"):
        rn.LogRouteNeed()(np.ones((5, 3)), np.ones((6, 3)))
    zone, _ = _rows(5)
    with pytest.raises(BayessprError, match="takes the parameters"):
        rn.log_route_need_op(rn.route_need_data(zone, CIRCUITY), fill=0.9)


def test_jax_lowering_equals_numbas():
    jax = pytest.importorskip("jax", reason="JAX backend not installed: pip install -e '.[jax]'")
    jax.config.update("jax_enable_x64", True)
    zone, values = _rows(500)
    symbols = _symbols(values)
    rn.register_jax_lowering()
    total = log_route_need(zone, _constants(symbols, pt), for_gradient=True).sum()
    inputs = list(symbols.values())
    outputs = [total, *pytensor.grad(total, inputs)]
    args = list(values.values())
    on_jax = pytensor.function(inputs, outputs, mode="JAX")(*args)
    on_numba = pytensor.function(inputs, outputs, mode="NUMBA")(*args)
    for got, want in zip(on_jax, on_numba, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-11, atol=1e-11)
