"""The normal interval op: its erfcx series, its values and gradients, on every backend."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.special
from numpy.polynomial import chebyshev
from pytensor.compile.mode import Mode

from bayesspr.spr import normal_interval as ni


def test_the_erfcx_coefficients_are_the_interpolant_of_scipys_erfcx():
    t_max = (ni.ERFCX_SERIES_MAX - ni.ERFCX_K) / (ni.ERFCX_SERIES_MAX + ni.ERFCX_K)

    def half_erfcx_of_u(u):
        t = -1.0 + (u + 1.0) * (t_max + 1.0) / 2.0
        return 0.5 * scipy.special.erfcx(ni.ERFCX_K * (1.0 + t) / (1.0 - t))

    expected = chebyshev.chebinterpolate(half_erfcx_of_u, len(ni.HALF_ERFCX_CHEBYSHEV) - 1)
    np.testing.assert_allclose(ni.HALF_ERFCX_CHEBYSHEV, expected, rtol=0, atol=1e-16)


def test_half_erfcx_agrees_with_scipy_from_zero_to_a_million():
    x = np.concatenate([np.linspace(0.0, 60.0, 6001), np.geomspace(60.0, 1e6, 200)])
    ours = np.array([ni.half_erfcx(v) for v in x])
    np.testing.assert_allclose(ours, 0.5 * scipy.special.erfcx(x), rtol=1e-13, atol=0)


def _intervals():
    """Intervals of every kind: both ends below 0, straddling it, above it, from −∞, far out."""
    rng = np.random.default_rng(7)
    hi = np.concatenate([rng.normal(0, 4, 3000), rng.uniform(-60, 60, 1000)])
    lo = hi - rng.exponential(1.0, hi.size) - 1e-3
    lo[:300] = -np.inf
    # (the derivatives are exp(−z²/2 − log p): at |z| = 10⁶ both terms are 5·10¹¹ and their
    # difference keeps 4 digits, in SciPy's reference as here)
    far = np.array([[-1e3, -1e3 + 1], [1e3 - 1, 1e3], [-40.0, -39.9], [39.0, 39.5], [-3, 1e3]])
    return np.concatenate([lo, far[:, 0]]), np.concatenate([hi, far[:, 1]])


def test_values_agree_with_scipys_log_ndtr_a_million_sd_out():
    lo, hi = np.array([-1e6, 1e6 - 1, -3.0]), np.array([-1e6 + 1, 1e6, 1e6])
    log_p, _, _ = ni.interval_with_gradient(lo, hi)
    np.testing.assert_allclose(log_p, ni.log_normal_interval_reference(lo, hi), rtol=5e-14)


def test_values_and_derivatives_agree_with_scipys_log_ndtr():
    lo, hi = _intervals()
    log_p, d_lo, d_hi = ni.interval_with_gradient(lo, hi)
    ref_p, ref_lo, ref_hi = ni.interval_with_gradient_reference(lo, hi)
    np.testing.assert_allclose(log_p, ref_p, rtol=5e-14, atol=3e-13)
    np.testing.assert_allclose(d_lo, ref_lo, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(d_hi, ref_hi, rtol=1e-10, atol=1e-300)
    # from −∞ the interval is the whole lower tail, and lo has no pull
    np.testing.assert_allclose(log_p[:300], scipy.special.log_ndtr(hi[:300]), atol=3e-13)
    assert (d_lo[:300] == 0.0).all()


def test_nan_scores_give_nan_not_a_number_from_the_bits():
    """A NaN score (a broken mean) must not become a finite log density NUTS would accept."""
    log_p, _, _ = ni.interval_with_gradient(np.array([np.nan, -1.0]), np.array([0.0, np.nan]))
    assert np.isnan(log_p).all()


def test_the_derivatives_are_those_of_the_value():
    lo, hi = _intervals()
    keep = np.isfinite(lo) & (np.abs(hi) < 30)
    lo, hi = lo[keep][:500], hi[keep][:500]
    step = 1e-6
    _, d_lo, d_hi = ni.interval_with_gradient(lo, hi)
    up = ni.interval_with_gradient(lo + step, hi)[0]
    down = ni.interval_with_gradient(lo - step, hi)[0]
    np.testing.assert_allclose((up - down) / (2 * step), d_lo, rtol=1e-5, atol=1e-7)
    up = ni.interval_with_gradient(lo, hi + step)[0]
    down = ni.interval_with_gradient(lo, hi - step)[0]
    np.testing.assert_allclose((up - down) / (2 * step), d_hi, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["NUMBA", Mode(linker="py", optimizer="fast_run")])
def test_the_op_and_its_gradient_on_numba_and_python(mode):
    """The numba lowering and the Python ``perform`` give the same value and gradient."""
    lo, hi = pt.dvector("lo"), pt.dvector("hi")
    total = ni.log_normal_interval_op(lo, hi).sum()
    fn = pytensor.function([lo, hi], [total, *pytensor.grad(total, [lo, hi])], mode=mode)
    a, b = _intervals()
    value, g_lo, g_hi = fn(a, b)
    ref_p, ref_lo, ref_hi = ni.interval_with_gradient_reference(a, b)
    assert value == pytest.approx(ref_p.sum(), rel=1e-13)
    np.testing.assert_allclose(g_lo, ref_lo, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(g_hi, ref_hi, rtol=1e-10, atol=1e-300)


def test_the_op_broadcasts_a_scalar_end():
    hi = pt.dvector("hi")
    fn = pytensor.function([hi], ni.log_normal_interval_op(-np.inf, hi))
    z = np.array([-5.0, 0.0, 2.0])
    np.testing.assert_allclose(fn(z), scipy.special.log_ndtr(z), atol=3e-13)


def test_the_derivative_outputs_are_not_differentiable():
    lo, hi = pt.dvector("lo"), pt.dvector("hi")
    _, d_lo, _ = ni.LogNormalInterval()(lo, hi)
    with pytest.raises(Exception, match="derivative already"):
        pytensor.function([lo, hi], pytensor.grad(d_lo.sum(), lo))([-1.0], [0.0])


def test_jax_lowering_equals_numbas():
    jax = pytest.importorskip("jax", reason="JAX backend not installed: pip install -e '.[jax]'")
    jax.config.update("jax_enable_x64", True)
    lo, hi = pt.dvector("lo"), pt.dvector("hi")
    total = ni.log_normal_interval_op(lo, hi).sum()
    outputs = [total, *pytensor.grad(total, [lo, hi])]
    a, b = _intervals()
    on_jax = pytensor.function([lo, hi], outputs, mode="JAX")(a, b)
    on_numba = pytensor.function([lo, hi], outputs, mode="NUMBA")(a, b)
    assert float(on_jax[0]) == pytest.approx(float(on_numba[0]), rel=1e-12)
    # JAX's log_ndtr is an asymptotic series past 20 sd: its derivatives there differ by
    # up to 10⁻⁵ relative
    for got, want in zip(on_jax[1:], on_numba[1:], strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=1e-300)
