"""The SPR model's physics mean, log route need μ = log N − log n*, as one compiled op.

In the PyMC model μ is a chain of PyTensor operations a row: the time bound's delivery
hours and hours per stop, three logarithms, the soft minimum's ``exp`` and ``log1p``, and
their derivatives. PyTensor's numba backend fuses them into loops that call the C library
for each ``log`` and ``exp``, which keeps the loops scalar: at rung S of the size ladder
(134,404 zip-days, 2026-12-07) μ with its gradient took about 13 ms of the model's 18.7 ms
log density and gradient, against 3.8 ms for everything else (measured by swapping μ for a
linear function of the same parameters). Here μ and its seven partial derivatives are one
op whose numba lowering is a loop with no call (:mod:`bayesspr.vector_math`'s ``exp`` and
``log``), so LLVM keeps it in vector registers.

The op takes the row data the physics needs as arrays that do not change during a fit
(:func:`route_need_data`) and the parameters gathered per row; the gathers and the sums of
their gradients stay PyTensor's. Its value is log N less
:func:`bayesspr.spr.physics.log_smooth_max_stops_per_route`;
``tests/spr/test_route_need_op.py`` checks value and gradient against PyTensor's derivative
of that formula. Other backends: Python and C evaluate the
same formula with numpy (``perform``), JAX (where installed) with ``jax.numpy``.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import (
    DisconnectedType,
    disconnected_type,
    grad_not_implemented,
    grad_undefined,
)
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

from bayesspr.errors import BayessprError
from bayesspr.spr.physics import MIN_DELIVERY_HOURS, SOFTMIN_SHARPNESS, ZoneDay, stem_road_km
from bayesspr.vector_math import exp as vector_exp
from bayesspr.vector_math import kernel_source_key
from bayesspr.vector_math import log as vector_log

_KAPPA = SOFTMIN_SHARPNESS
_MIN_HOURS = MIN_DELIVERY_HOURS

# PyTensor's own fastmath flags for its numba loops: no "nnan" or "ninf", so infinities and
# NaN keep their meaning
_OPTIONS = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": {"arcp", "contract", "afn", "reassoc", "nsz"},
}


class RouteNeedData(NamedTuple):
    """The rows' data of the route need, computed once per table (numpy, one value a row).

    Attributes
    ----------
    log_stops : numpy.ndarray
        log N (log stops).
    shift_hours : numpy.ndarray
        Shift T (h).
    stem_road_km : numpy.ndarray
        Stem drive out and back, 2·r̄·c (km); over the stem speed it is the stem's hours.
    stop_spacing_road_km : numpy.ndarray
        Road km between neighbouring stops per unit of tour constant, c / √δ (km per stop).
    log_capacity_stops : numpy.ndarray
        log(C / p), the capacity bound before the fill share (log stops per route).
    """

    log_stops: np.ndarray
    shift_hours: np.ndarray
    stem_road_km: np.ndarray
    stop_spacing_road_km: np.ndarray
    log_capacity_stops: np.ndarray


#: the parameters the op takes, in its input order after the data
PARAMETERS = (
    "log_time_efficiency",
    "overhead_hours",
    "service_min",
    "speed_kmh",
    "stem_speed_kmh",
    "tour_constant",
    "fill",
)


def route_need_data(zone: ZoneDay, circuity: float) -> RouteNeedData:
    """The rows' fixed inputs of the op from a zone-day table (numpy arrays).

    Parameters
    ----------
    zone : bayesspr.spr.physics.ZoneDay
        Numbers or numpy arrays: stops N, packages, capacity C, area A (km²), stem r (km),
        shift T (h); broadcast together.
    circuity : float
        Road km per straight-line km c (dimensionless).

    Returns
    -------
    RouteNeedData
        One float64 array a field, all of the zone's broadcast shape.
    """
    stops = np.asarray(zone.stops, dtype=float)
    area = np.asarray(zone.area_km2, dtype=float)
    fields = (
        np.log(stops),
        np.asarray(zone.shift_hours, dtype=float),
        np.asarray(stem_road_km(zone, circuity), dtype=float),
        circuity / np.sqrt(stops / area),
        np.log(np.asarray(zone.capacity, dtype=float)) - np.log(zone.packages / stops),
    )
    shape = np.broadcast_shapes(*(f.shape for f in fields))
    return RouteNeedData(*(np.broadcast_to(f, shape).astype(float) for f in fields))


def _need_by_formula(inputs: list[Any], xp: Any) -> tuple[Any, ...]:
    """μ and its partial derivatives in the seven parameters, array by array in ``xp``.

    One formula for ``perform`` (numpy) and the JAX lowering (``jax.numpy``); the numba
    kernel :func:`need_with_gradient` is the same arithmetic a row at a time.
    """
    log_stops, shift, stem_km, spacing_km, log_cap = inputs[:5]
    log_eff, overhead, service, speed, stem_speed, tour, fill = inputs[5:]
    free = shift - overhead - stem_km / stem_speed
    clamped = free < _MIN_HOURS
    hours = xp.where(clamped, _MIN_HOURS, free)
    per_stop = service / 60.0 + tour * spacing_km / speed
    log_time = log_eff + xp.log(hours) - xp.log(per_stop)
    log_capacity = xp.log(fill) + log_cap
    gap = log_time - log_capacity
    tail = xp.exp(-_KAPPA * xp.abs(gap))
    mu = log_stops - xp.minimum(log_time, log_capacity) + xp.log1p(tail) / _KAPPA
    time_weight = xp.where(gap <= 0.0, 1.0, tail) / (1.0 + tail)
    per_hour = xp.where(clamped, 0.0, time_weight / hours)
    per_stop_weight = time_weight / per_stop
    return (
        mu,
        -time_weight,
        per_hour,
        per_stop_weight / 60.0,
        -per_stop_weight * tour * spacing_km / (speed * speed),
        -per_hour * stem_km / (stem_speed * stem_speed),
        per_stop_weight * spacing_km / speed,
        -(1.0 - time_weight) / fill,
    )


@numba.njit(**_OPTIONS)
def _need_rows(data, parameters, mu, out):
    """Fill ``mu`` (n,) with μ and ``out`` (7, n) with its partial derivatives.

    Three arrays, not twenty: LLVM vectorises a loop only where it can rule out that the
    outputs overlap the inputs, and it stops checking past a few pointers (twelve inputs and
    eight outputs as separate arrays kept this loop scalar, four times slower).
    """
    for i in range(data.shape[1]):
        stem_km = data[2, i]
        spacing_km = data[3, i]
        speed = parameters[3, i]
        stem_speed = parameters[4, i]
        tour = parameters[5, i]
        fill = parameters[6, i]
        free = data[1, i] - parameters[1, i] - stem_km / stem_speed
        clamped = free < _MIN_HOURS
        hours = _MIN_HOURS if clamped else free
        per_stop = parameters[2, i] / 60.0 + tour * spacing_km / speed
        log_time = parameters[0, i] + vector_log(hours) - vector_log(per_stop)
        log_capacity = vector_log(fill) + data[4, i]
        gap = log_time - log_capacity
        tail = vector_exp(-_KAPPA * abs(gap))
        value = data[0, i] - min(log_time, log_capacity) + vector_log(1.0 + tail) / _KAPPA
        # NaN or ±∞ in, NaN out (vector_math's log reads bits and would make them numbers)
        # (a comparison: fastmath's "reassoc" would fold check − check to 0)
        check = hours + per_stop + fill + parameters[0, i]
        mu[i] = value if abs(check) < np.inf else np.nan
        # ∂ log n* / ∂ log n_T: the soft minimum's weight on the time bound
        time_weight = (1.0 if gap <= 0.0 else tail) / (1.0 + tail)
        per_hour = 0.0 if clamped else time_weight / hours
        per_stop_weight = time_weight / per_stop
        out[0, i] = -time_weight
        out[1, i] = per_hour
        out[2, i] = per_stop_weight / 60.0
        out[3, i] = -per_stop_weight * tour * spacing_km / (speed * speed)
        out[4, i] = -per_hour * stem_km / (stem_speed * stem_speed)
        out[5, i] = per_stop_weight * spacing_km / speed
        out[6, i] = -(1.0 - time_weight) / fill


@numba.njit(**_OPTIONS)
def need_with_gradient(data, parameters):
    """μ = log N − log n* and its partial derivatives in the parameters, for each row.

    Parameters
    ----------
    data : numpy.ndarray
        (5, n): the fields of :class:`RouteNeedData` in rows.
    parameters : numpy.ndarray
        (7, n): the parameters of :data:`PARAMETERS` in rows, one value a zip-day.

    Returns
    -------
    tuple of numpy.ndarray
        μ (n,) (log routes) and (7, n) ∂μ/∂ each parameter in :data:`PARAMETERS` order.
    """
    mu = np.empty(data.shape[1])
    partials = np.empty((7, data.shape[1]))
    _need_rows(np.ascontiguousarray(data), np.ascontiguousarray(parameters), mu, partials)
    return mu, partials


def need_with_gradient_reference(data: Any, parameters: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`need_with_gradient` by numpy's array functions (the op's ``perform``)."""
    rows = [*np.asarray(data, dtype=float), *np.asarray(parameters, dtype=float)]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        mu, *partials = _need_by_formula(rows, np)
    return np.asarray(mu, dtype=float), np.stack(np.broadcast_arrays(*partials)).astype(float)


class LogRouteNeed(Op):
    """μ = log N − log n* from the rows' data and their parameters (log routes).

    Inputs: ``data`` (5, n), the :class:`RouteNeedData` fields in rows, and ``parameters``
    (7, n), the :data:`PARAMETERS` in rows, float64. Outputs: μ (n,) and its partial
    derivatives (7, n) (the gradient reads them). Only μ is differentiable, and only in the
    parameters.
    """

    __props__ = ()

    def make_node(self, data: Any, parameters: Any) -> Apply:
        """The op applied to ``data`` (5, n) and ``parameters`` (7, n)."""
        data = pt.as_tensor_variable(data).astype("float64")
        parameters = pt.as_tensor_variable(parameters).astype("float64")
        expected = (len(RouteNeedData._fields), len(PARAMETERS))
        named = zip(("data", "parameters"), (data, parameters), expected, strict=True)
        for name, tensor, rows in named:
            if tensor.type.ndim != 2 or tensor.type.shape[0] not in (None, rows):
                raise BayessprError(
                    f"LogRouteNeed: {name} has shape {tensor.type.shape}; expected ({rows}, n)"
                    " (log_route_need_op builds it)"
                )
        rows = pt.TensorType("float64", shape=(None,))
        partials = pt.TensorType("float64", shape=(len(PARAMETERS), None))
        return Apply(self, [data, parameters], [rows(), partials()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        """Python and C backends: the formula with numpy's array functions."""
        for storage, value in zip(
            output_storage, need_with_gradient_reference(*inputs), strict=True
        ):
            storage[0] = value

    def infer_shape(self, node: Apply, shapes: list) -> list:
        """μ has a value a row, the derivatives one a parameter and row."""
        n = shapes[0][1]
        return [(n,), (len(PARAMETERS), n)]

    def pullback(self, inputs: list, outputs: list, output_grads: list) -> list:
        """The parameters' gradient from the derivatives the op computed with its value."""
        gz, g_partials = output_grads
        if not isinstance(g_partials.type, DisconnectedType):
            return [
                grad_undefined(self, k, x, "output 1 is a derivative already")
                for k, x in enumerate(inputs)
            ]
        if isinstance(gz.type, DisconnectedType):
            return [disconnected_type(), disconnected_type()]
        data = grad_not_implemented(self, 0, inputs[0], "the row data are fixed")
        return [data, gz[None, :] * outputs[1]]

    def connection_pattern(self, node: Apply) -> list:
        """Each input reaches each output."""
        return [[True, True], [True, True]]


_LOG_ROUTE_NEED = LogRouteNeed()


def log_route_need_op(data: RouteNeedData, **parameters: Any) -> pt.TensorVariable:
    """μ = log N − log n* of every row as one op (log routes), differentiable in the parameters.

    Parameters
    ----------
    data : RouteNeedData
        The rows' fixed inputs (:func:`route_need_data`).
    **parameters : tensor or array_like
        Each of :data:`PARAMETERS`, broadcast against the rows: ``log_time_efficiency``
        (log of the dimensionless multiplier on the time bound), ``overhead_hours`` (h),
        ``service_min`` (min per stop), ``speed_kmh`` and ``stem_speed_kmh`` (km/h),
        ``tour_constant`` and ``fill`` (dimensionless).

    Returns
    -------
    tensor
        μ of each row (log routes), the rows' shape; equal to
        ``log N − log_smooth_max_stops_per_route`` to rounding.

    Raises
    ------
    BayessprError
        If a parameter is missing or unknown.
    """
    if set(parameters) != set(PARAMETERS):
        raise BayessprError(
            f"log_route_need_op takes the parameters {', '.join(PARAMETERS)}; got "
            f"{', '.join(sorted(parameters))}"
        )
    if "jax" in sys.modules:
        register_jax_lowering()
    shape = np.broadcast_shapes(*(np.shape(field) for field in data))
    fixed = np.stack([np.broadcast_to(field, shape).reshape(-1) for field in data])
    tensors = [pt.as_tensor_variable(parameters[name]) for name in PARAMETERS]
    tensors = pt.broadcast_arrays(*tensors, pt.zeros(shape))[:-1]
    stacked = pt.stack([tensor.reshape((-1,)) for tensor in tensors])
    return _LOG_ROUTE_NEED(fixed, stacked)[0].reshape(shape)


#: PyTensor caches compiled graphs by their ops' keys: this module's text and vector_math's
#: (the kernel inlines it), so an edit to either is never served a stale kernel
_SOURCE_KEY = kernel_source_key(__file__)


@register_funcify_and_cache_key(LogRouteNeed)
def _numba_need(op: LogRouteNeed, node: Any = None, **kwargs: Any) -> tuple[Any, str]:
    """The op's numba lowering: :func:`need_with_gradient`, with its cache key."""
    return need_with_gradient, f"bayesspr.spr.route_need_op.LogRouteNeed:{_SOURCE_KEY}"


_JAX_REGISTERED: list[bool] = []


def register_jax_lowering() -> None:
    """Give the op its JAX lowering (the formula in ``jax.numpy``); idempotent.

    Called by :func:`log_route_need_op` whenever JAX is already loaded, as
    :func:`bayesspr.spr.normal_interval.register_jax_lowering` is.
    """
    if _JAX_REGISTERED:
        return
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(LogRouteNeed)
    def _need(op: Any, **kwargs: Any) -> Any:
        def need(data: Any, parameters: Any) -> Any:
            mu, *partials = _need_by_formula([*data, *parameters], jnp)
            return mu, jnp.stack(jnp.broadcast_arrays(*partials))

        return need

    _JAX_REGISTERED.append(True)
