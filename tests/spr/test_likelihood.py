"""The whole-route likelihood: a proper pmf that matches its own random draws."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayesspr.spr.likelihood import draw_route_counts, route_count_logp


def _logp_fn():
    r, mu, s, f = pt.dvector("r"), pt.dscalar("mu"), pt.dscalar("s"), pt.dscalar("f")
    return pytensor.function([r, mu, s, f], route_count_logp(r, mu, s, f))


@pytest.mark.parametrize(
    ("need", "sigma", "floor"),
    [(0.4, 0.3, 1.0), (3.2, 0.1, 1.0), (7.5, 0.07, 5.0), (40.0, 0.05, 1.0), (2.0, 0.8, 2.0)],
)
def test_pmf_sums_to_one_and_matches_draws(need, sigma, floor):
    logp = _logp_fn()
    support = np.arange(floor, floor + 400.0)
    pmf = np.exp(logp(support, np.log(need), sigma, floor))
    assert np.isfinite(pmf).all()
    assert pmf.sum() == pytest.approx(1.0, abs=1e-7)
    rng = np.random.default_rng(3)
    draws = draw_route_counts(np.full(200_000, np.log(need)), np.array(sigma), np.array(floor), rng)
    freq = np.bincount(draws.astype(int), minlength=int(support[-1]) + 1)[support.astype(int)]
    freq = freq / draws.size
    # Monte Carlo error of a frequency is at most 0.5/sqrt(n) ~ 0.0011; allow 5 of those
    assert np.max(np.abs(freq - pmf)) < 0.006


def test_below_floor_is_impossible_and_floor_takes_lower_tail():
    logp = _logp_fn()
    out = logp(np.array([2.0, 3.0]), np.log(1.5), 0.2, 3.0)
    assert out[0] == -np.inf
    # need 1.5 with floor 3: almost all mass sits on the floor
    assert np.exp(out[1]) > 0.99


def test_logp_finite_and_gradient_finite_far_in_both_tails():
    r, mu = pt.dvector("r"), pt.dscalar("mu")
    lp = route_count_logp(r, mu, pt.constant(0.05), pt.constant(1.0)).sum()
    f = pytensor.function([r, mu], [lp, pt.grad(lp, mu)])
    for m in (np.log(0.01), np.log(3.0), np.log(500.0)):
        val, grad = f(np.array([1.0, 2.0, 5.0, 50.0]), m)
        assert np.isfinite(val)
        assert np.isfinite(grad)


# --- the JAX backend (numpyro / blackjax NUTS, GPUs) -----------------------------------------


def test_the_likelihood_has_finite_gradients_far_in_both_tails():
    """No 0·inf: the gradient is finite at scores of ±50 and more, on PyTensor's backend."""
    r, mu, s, f = pt.dvector("r"), pt.dvector("mu"), pt.dscalar("s"), pt.dvector("f")
    total = route_count_logp(r, mu, s, f).sum()
    grad = pytensor.function([r, mu, s, f], pytensor.grad(total, [mu, s]))
    routes = np.array([1.0, 2.0, 3.0, 5.0, 8.0, 40.0, 100.0, 60.0])
    floor = np.array([1.0, 1.0, 2.0, 5.0, 3.0, 1.0, 50.0, 60.0])
    for centre in (-10.0, -3.0, 0.0, 3.0, 6.0, 10.0):
        g_mu, g_s = grad(routes, np.full(routes.size, centre), 0.02, floor)
        assert np.isfinite(g_mu).all() and np.isfinite(g_s), centre


def test_jax_gradient_of_the_spr_model_equals_pytensors():
    """The whole SPR model differentiates the same under JAX as under PyTensor.

    PyMC's ``normal_lcdf`` evaluates both branches of a ``switch``; under JAX the untaken
    branch was ±inf and its gradient 0·inf = NaN, so numpyro's NUTS diverged on every
    transition. The fixed likelihood feeds each branch only scores from its own range.
    """
    jax = pytest.importorskip("jax", reason="JAX backend not installed: pip install -e '.[jax]'")
    from pymc.sampling.jax import get_jaxified_graph

    from bayesspr import SPRModel, simulate_world

    jax.config.update("jax_enable_x64", True)
    world = simulate_world(5, zips_per_station=2, n_days=20)
    model = SPRModel().build_model(world.table)
    logp_jax = get_jaxified_graph(inputs=model.value_vars, outputs=[model.logp()])
    grad_jax = jax.grad(lambda *x: logp_jax(*x)[0], argnums=tuple(range(len(model.value_vars))))
    logp_pt, dlogp_pt = model.compile_logp(), model.compile_dlogp()
    start = model.initial_point()
    rng = np.random.default_rng(11)
    for scale in (0.0, 0.5, 1.5, 3.0):  # the start, then ever farther into the tails
        point = {
            v.name: start[v.name] + scale * rng.standard_normal(np.shape(start[v.name]))
            for v in model.value_vars
        }
        args = [point[v.name] for v in model.value_vars]
        grad = np.concatenate([np.ravel(g) for g in grad_jax(*args)])
        assert np.isfinite(grad).all(), f"NaN or inf in the JAX gradient at scale {scale}"
        np.testing.assert_allclose(float(logp_jax(*args)[0]), logp_pt(point), rtol=1e-10)
        np.testing.assert_allclose(grad, dlogp_pt(point), rtol=1e-8, atol=1e-8)
