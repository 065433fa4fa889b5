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
