"""The log-probability of a standard normal interval, log(Φ(b) − Φ(a)), as one compiled op.

The whole-route likelihood (:mod:`bayesspr.spr.likelihood`) is this interval for every
zip-day. Written with PyTensor's own functions it took two ``erfcx``, two ``erfc``, three
logarithms and four exponentials a row, each a call into the C library or SciPy that keeps
the compiled loop scalar: 143 ns a row with its gradient, most of the SPR model's gradient
(2026-12-07, 134,404 rows, 19 ms of 35). Here the interval and its two partial derivatives
are one PyTensor op whose numba lowering is a loop with no call, which LLVM keeps in vector
registers: ``erfcx`` is a Chebyshev series (its coefficients interpolate SciPy's
``erfcx``; ``tests/spr/test_normal_interval.py`` recomputes them), ``exp`` and ``log`` are
:mod:`bayesspr.vector_math`'s. Other backends: Python and C run SciPy's ``log_ndtr`` on the
arrays (``perform``), JAX (where installed) ``jax.scipy.special.log_ndtr``.

Accuracy: within 3·10⁻¹³ nats or 5·10⁻¹⁴ relative of SciPy's ``log_ndtr`` difference over
scores in [−10⁶, 10⁶]; ``erfcx`` itself within 10⁻¹³ relative.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numba
import numpy as np
import pytensor.tensor as pt
import scipy.special
from pytensor.gradient import DisconnectedType, disconnected_type, grad_undefined
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

from bayesspr.errors import BayessprError
from bayesspr.vector_math import exp as vector_exp
from bayesspr.vector_math import kernel_source_key
from bayesspr.vector_math import log as vector_log

#: ½·erfcx(x) for 0 ≤ x ≤ 50 is a Chebyshev series in u, an affine map of
#: t = (x − K) / (x + K) from [−1, (50 − K)/(50 + K)] onto [−1, 1]
ERFCX_K = 3.0
ERFCX_SERIES_MAX = 50.0
_T_MAX = (ERFCX_SERIES_MAX - ERFCX_K) / (ERFCX_SERIES_MAX + ERFCX_K)
ERFCX_U_SCALE = 2.0 / (_T_MAX + 1.0)
#: The series' coefficients: ``numpy.polynomial.chebyshev.chebinterpolate`` of ½·erfcx at
#: degree 20 (the tests recompute them)
HALF_ERFCX_CHEBYSHEV = (
    0.17186007594374453,
    -0.22617284421543507,
    0.07680676026501188,
    -0.0204453918115254,
    0.004121813516200566,
    -0.0005664633375911674,
    3.2881982321808354e-05,
    5.0919544955816934e-06,
    -1.1747434520573704e-06,
    -7.432985836383979e-09,
    2.7795632755786622e-08,
    -1.1329494149430772e-09,
    -7.139641266284193e-10,
    4.342529219457295e-11,
    2.155335882353158e-11,
    -1.1149897660028713e-12,
    -7.446708726762907e-13,
    1.147805162664713e-14,
    2.717896518679131e-14,
    1.4314168155874488e-15,
    -1.3936192134995794e-15,
)
_C = HALF_ERFCX_CHEBYSHEV
_HALF_INV_SQRT_PI = 0.5 / math.sqrt(math.pi)
_SQRT_HALF = math.sqrt(0.5)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: the smallest normal float64: the interval's probability is kept at or above it, so its
#: logarithm stays finite (−708.4) and :func:`bayesspr.vector_math.log` defined
_TINY = float(np.finfo(np.float64).tiny)

# PyTensor's own fastmath flags for its numba loops: no "nnan" or "ninf", so infinities and
# NaN keep their meaning
_OPTIONS = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": {"arcp", "contract", "afn", "reassoc", "nsz"},
}


@numba.njit(inline="always", **_OPTIONS)
def half_erfcx(x):
    """½·erfcx(x) = ½·exp(x²)·erfc(x) for x ≥ 0 (–), without a call.

    A Chebyshev series (Clenshaw's recurrence, unrolled) up to x = 50 and the asymptotic
    series to 1/x¹¹ beyond, where its first omitted term is below 3·10⁻¹⁶ relative.
    """
    t = (x - ERFCX_K) / (x + ERFCX_K)
    u = (t + 1.0) * ERFCX_U_SCALE - 1.0
    u2 = 2.0 * u
    b1 = _C[20]
    b2 = 0.0
    b1, b2 = _C[19] + u2 * b1 - b2, b1
    b1, b2 = _C[18] + u2 * b1 - b2, b1
    b1, b2 = _C[17] + u2 * b1 - b2, b1
    b1, b2 = _C[16] + u2 * b1 - b2, b1
    b1, b2 = _C[15] + u2 * b1 - b2, b1
    b1, b2 = _C[14] + u2 * b1 - b2, b1
    b1, b2 = _C[13] + u2 * b1 - b2, b1
    b1, b2 = _C[12] + u2 * b1 - b2, b1
    b1, b2 = _C[11] + u2 * b1 - b2, b1
    b1, b2 = _C[10] + u2 * b1 - b2, b1
    b1, b2 = _C[9] + u2 * b1 - b2, b1
    b1, b2 = _C[8] + u2 * b1 - b2, b1
    b1, b2 = _C[7] + u2 * b1 - b2, b1
    b1, b2 = _C[6] + u2 * b1 - b2, b1
    b1, b2 = _C[5] + u2 * b1 - b2, b1
    b1, b2 = _C[4] + u2 * b1 - b2, b1
    b1, b2 = _C[3] + u2 * b1 - b2, b1
    b1, b2 = _C[2] + u2 * b1 - b2, b1
    b1, b2 = _C[1] + u2 * b1 - b2, b1
    series = _C[0] + u * b1 - b2
    y = 0.5 / (x * x)
    s = 1.0 - y * (1.0 - y * (3.0 - y * (15.0 - y * (105.0 - 945.0 * y))))
    asymptotic = _HALF_INV_SQRT_PI * s / x
    return series if x <= ERFCX_SERIES_MAX else asymptotic


@numba.njit(inline="always", **_OPTIONS)
def log_normal_interval(lo, hi):
    """log(Φ(hi) − Φ(lo)) for lo < hi (nats); lo may be −∞ (then log Φ(hi)).

    An interval above zero is mirrored below it (Φ(b) − Φ(a) = Φ(−a) − Φ(−b)), so a ≤ 0.
    With Φ(z) = ½·erfcx(−z/√2)·exp(−z²/2) for z ≤ 0 and 1 − ½·erfcx(z/√2)·exp(−z²/2)
    above, the difference needs two ``erfcx``, two ``exp`` and one ``log`` and never
    subtracts two probabilities near 1.
    """
    mirror = lo > 0.0
    a = -hi if mirror else lo
    b = -lo if mirror else hi
    ea = half_erfcx(-a * _SQRT_HALF)
    eb = half_erfcx(abs(b) * _SQRT_HALF)
    below = b <= 0.0
    # both ends below zero: Φ(b)·(1 − Φ(a)/Φ(b)), the ratio's exponent ≤ 0
    e1 = vector_exp(0.5 * (b - a) * (b + a) if below else -0.5 * b * b)
    e2 = vector_exp(-0.5 * a * a)
    p = eb * (1.0 - (ea / eb) * e1) if below else 1.0 - eb * e1 - ea * e2
    log_p = vector_log(max(p, _TINY)) - (0.5 * b * b if below else 0.0)
    # NaN in, NaN out (the bit arithmetic of vector_math's log would make it a number)
    return log_p if p == p else p


@numba.njit(inline="always", **_OPTIONS)
def normal_density_ratio(z, log_p):
    """φ(z) / exp(log_p): the standard normal density over a probability (1 / score unit).

    0 where it is below the float64 range (z = ±∞ among them).
    """
    exponent = -0.5 * z * z - _HALF_LOG_2PI - log_p
    return vector_exp(exponent) if exponent > -708.0 else 0.0


def log_normal_interval_reference(lo: Any, hi: Any) -> Any:
    """:func:`log_normal_interval` by SciPy's ``log_ndtr`` (nats): the reference, numpy.

    Parameters
    ----------
    lo, hi : array_like
        Interval ends in standard-normal scores (–), lo < hi; lo may be −∞.

    Returns
    -------
    numpy.ndarray or float
        log(Φ(hi) − Φ(lo)) (nats).
    """
    return interval_with_gradient_reference(lo, hi)[0]


def _interval_by_log_ndtr(lo: Any, hi: Any, xp: Any, log_ndtr: Any) -> tuple[Any, Any, Any]:
    """The interval and its derivatives from a ``log_ndtr``, in the array module ``xp``.

    One formula for the reference (numpy, SciPy) and the JAX lowering (``jax.numpy``).
    """
    mirror = lo > 0.0
    a, b = xp.where(mirror, -hi, lo), xp.where(mirror, -lo, hi)
    log_a, log_b = log_ndtr(a), log_ndtr(b)
    log_p = log_b + xp.log(-xp.expm1(log_a - log_b))
    d_lo = -xp.exp(-0.5 * xp.square(lo) - _HALF_LOG_2PI - log_p)
    d_hi = xp.exp(-0.5 * xp.square(hi) - _HALF_LOG_2PI - log_p)
    return log_p, xp.where(xp.isneginf(lo), 0.0, d_lo), d_hi


@numba.njit(**_OPTIONS)
def interval_with_gradient(lo, hi):
    """log(Φ(hi) − Φ(lo)) and its partial derivatives in lo and hi, elementwise.

    Parameters
    ----------
    lo, hi : numpy.ndarray
        Interval ends (standard-normal scores, –) of one shape, lo < hi; lo may be −∞.

    Returns
    -------
    tuple of numpy.ndarray
        The log-probability (nats) and its derivatives in lo and hi (1 / score unit).
    """
    lo_flat = np.ascontiguousarray(lo).reshape(-1)
    hi_flat = np.ascontiguousarray(hi).reshape(-1)
    n = lo_flat.size
    log_p = np.empty(n)
    d_lo = np.empty(n)
    d_hi = np.empty(n)
    for i in range(n):
        a = lo_flat[i]
        b = hi_flat[i]
        value = log_normal_interval(a, b)
        log_p[i] = value
        d_lo[i] = -normal_density_ratio(a, value)
        d_hi[i] = normal_density_ratio(b, value)
    return log_p.reshape(lo.shape), d_lo.reshape(lo.shape), d_hi.reshape(lo.shape)


def interval_with_gradient_reference(lo: Any, hi: Any) -> tuple[Any, Any, Any]:
    """:func:`interval_with_gradient` by SciPy's ``log_ndtr`` (numpy; the op's ``perform``)."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return _interval_by_log_ndtr(lo, hi, np, scipy.special.log_ndtr)


class LogNormalInterval(Op):
    """log(Φ(hi) − Φ(lo)) of two arrays of standard-normal scores of one shape (nats).

    Three outputs: the log-probability and its partial derivatives in ``lo`` and ``hi``
    (the gradient reads them). Only the first is differentiable.
    """

    __props__ = ()

    def make_node(self, lo: Any, hi: Any) -> Apply:
        """The op applied to ``lo`` and ``hi`` (float64 tensors of one rank)."""
        lo = pt.as_tensor_variable(lo).astype("float64")
        hi = pt.as_tensor_variable(hi).astype("float64")
        if lo.type.ndim != hi.type.ndim:
            raise BayessprError(
                f"log_normal_interval takes lo and hi of one shape, got {lo.type.ndim} and "
                f"{hi.type.ndim} dimensions; broadcast them first (log_normal_interval does)"
            )
        out = pt.TensorType("float64", shape=lo.type.shape)
        return Apply(self, [lo, hi], [out(), out(), out()])

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        """Python and C backends: SciPy's ``log_ndtr`` on the arrays."""
        for storage, value in zip(
            output_storage, interval_with_gradient_reference(*inputs), strict=True
        ):
            storage[0] = np.asarray(value, dtype=np.float64)

    def infer_shape(self, node: Apply, shapes: list) -> list:
        """Every output has the inputs' shape."""
        return [shapes[0]] * 3

    def pullback(self, inputs: list, outputs: list, output_grads: list) -> list:
        """The gradient from the derivatives the op computed with its value."""
        gz = output_grads[0]
        for position, g in enumerate(output_grads[1:], start=1):
            if not isinstance(g.type, DisconnectedType):
                return [
                    grad_undefined(self, k, x, f"output {position} is a derivative already")
                    for k, x in enumerate(inputs)
                ]
        if isinstance(gz.type, DisconnectedType):
            return [disconnected_type(), disconnected_type()]
        return [gz * outputs[1], gz * outputs[2]]

    def connection_pattern(self, node: Apply) -> list:
        """Each input reaches each output."""
        return [[True, True, True], [True, True, True]]


_LOG_NORMAL_INTERVAL = LogNormalInterval()


def log_normal_interval_op(lo: Any, hi: Any) -> pt.TensorVariable:
    """log(Φ(hi) − Φ(lo)) of tensors of standard-normal scores, broadcast together (nats).

    Parameters
    ----------
    lo, hi : tensor or array_like
        Interval ends (–), lo < hi; lo may be −∞ (then log Φ(hi)).

    Returns
    -------
    tensor
        The log-probability of each interval (nats), differentiable in both ends.
    """
    if "jax" in sys.modules:
        register_jax_lowering()
    lo, hi = pt.broadcast_arrays(pt.as_tensor_variable(lo), pt.as_tensor_variable(hi))
    return _LOG_NORMAL_INTERVAL(lo, hi)[0]


#: PyTensor caches compiled graphs by their ops' keys: this module's text and vector_math's
#: (the kernel inlines it), so an edit to either is never served a stale kernel
_SOURCE_KEY = kernel_source_key(__file__)


@register_funcify_and_cache_key(LogNormalInterval)
def _numba_interval(op: LogNormalInterval, node: Any = None, **kwargs: Any) -> tuple[Any, str]:
    """The op's numba lowering: :func:`interval_with_gradient`, with its cache key."""
    return interval_with_gradient, f"bayesspr.spr.normal_interval.LogNormalInterval:{_SOURCE_KEY}"


_JAX_REGISTERED: list[bool] = []


def register_jax_lowering() -> None:
    """Give the op its JAX lowering (``jax.scipy.special.log_ndtr``); idempotent.

    Called by :func:`log_normal_interval_op` whenever JAX is already loaded (importing JAX
    and PyTensor's JAX backend costs almost a second, so a process that never uses JAX does
    not pay it), and by fits with ``nuts_sampler="numpyro"`` or ``"blackjax"``, which load
    JAX before they build their graph.
    """
    if _JAX_REGISTERED:
        return
    import jax.numpy as jnp
    from jax.scipy.special import log_ndtr
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(LogNormalInterval)
    def _interval(op: Any, **kwargs: Any) -> Any:
        def interval(lo: Any, hi: Any) -> Any:
            return _interval_by_log_ndtr(lo, hi, jnp, log_ndtr)

        return interval

    _JAX_REGISTERED.append(True)
