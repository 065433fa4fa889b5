"""The spreads at the mode of their Laplace marginal (:mod:`bayesspr.inference.marginal_spreads`),
checked on a normal hierarchy, where Laplace's marginal is exact and the marginal posterior of
the spreads has a closed form."""

import numpy as np
import pymc as pm
import pytest
import scipy.optimize
import scipy.sparse
from pymc.blocking import DictToArrayBijection

from bayesspr.inference import marginal_spreads
from bayesspr.inference.marginal_spreads import marginal_spread_mode
from bayesspr.inference.mode import find_mode

GROUPS, PER_GROUP = 40, 20
TRUE_TAU, TRUE_SIGMA = 0.5, 1.0
PRIOR_SCALE = 2.0


def grouped_data(seed: int = 5) -> np.ndarray:
    """(groups, per group) values: a group effect of sd ``TRUE_TAU`` plus noise of sd 1."""
    rng = np.random.default_rng(seed)
    effects = rng.normal(0.0, TRUE_TAU, GROUPS)
    return effects[:, None] + rng.normal(0.0, TRUE_SIGMA, (GROUPS, PER_GROUP))


def hierarchy(y: np.ndarray) -> pm.Model:
    """y_gj ~ N(u_g, σ), u_g ~ N(0, τ), τ and σ HalfNormal: Gaussian in u given (τ, σ).

    Centred, as the SPR model's zips with a year of days are. The joint density grows without
    bound as τ and every u_g go to 0, but with ``PER_GROUP`` values a group a local mode
    stands clear of that neck: the joint mode the Laplace route starts from."""
    group = np.repeat(np.arange(GROUPS), PER_GROUP)
    with pm.Model() as model:
        tau = pm.HalfNormal("tau", PRIOR_SCALE)
        sigma = pm.HalfNormal("sigma", PRIOR_SCALE)
        effect = pm.Normal("effect", 0.0, tau, shape=GROUPS)
        pm.Normal("y", effect[group], sigma, observed=y.ravel())
    return model


def value_positions(model: pm.Model) -> dict[str, int]:
    """Where each value variable starts in the raveled point."""
    info = DictToArrayBijection.map(model.initial_point()).point_map_info
    offsets = np.cumsum([0] + [size for _, _, size, _ in info])
    return {name: int(offset) for (name, *_), offset in zip(info, offsets, strict=False)}


def hessian_pattern(model: pm.Model) -> scipy.sparse.csr_array:
    """Each group's effect couples with itself and the two spreads; the spreads with all."""
    n = sum(np.size(v) for v in model.initial_point().values())
    pattern = np.eye(n, dtype=bool)
    start = value_positions(model)
    for name in ("tau_log__", "sigma_log__"):
        pattern[start[name], :] = pattern[:, start[name]] = True
    return scipy.sparse.csr_array(pattern)


def exact_marginal_mode(y: np.ndarray) -> np.ndarray:
    """The mode of p(log τ, log σ | y) with the effects integrated out exactly.

    A group's values are N(0, σ²·I + τ²·11ᵀ): log det = (n−1)·log σ² + log(σ² + n·τ²),
    quadratic form SS/σ² + n·ȳ²/(σ² + n·τ²), SS the within-group sum of squares.
    """
    n = PER_GROUP
    means = y.mean(axis=1)
    within = ((y - means[:, None]) ** 2).sum(axis=1)

    def negative(log_scales: np.ndarray) -> float:
        tau2, sigma2 = np.exp(2 * log_scales)
        between = sigma2 + n * tau2
        likelihood = -0.5 * np.sum(
            (n - 1) * np.log(sigma2) + np.log(between) + within / sigma2 + n * means**2 / between
        )
        # HalfNormal priors on τ and σ, and the log-transform's Jacobian (+ log scale)
        prior = np.sum(-0.5 * np.exp(2 * log_scales) / PRIOR_SCALE**2 + log_scales)
        return -(likelihood + prior)

    return scipy.optimize.minimize(negative, np.log([TRUE_TAU, TRUE_SIGMA]), tol=1e-12).x


@pytest.mark.parametrize("trace", ["exact", "probes"])
def test_the_spreads_reach_the_exact_marginal_mode_where_the_joint_mode_shrinks_them(
    trace, monkeypatch
):
    """Both ways of the log determinant's derivative: the exact trace (small models) and
    Hutchinson's probes (past ``SPREAD_EXACT_TRACE_MAX`` parameters, forced here)."""
    if trace == "probes":
        monkeypatch.setattr(marginal_spreads, "SPREAD_EXACT_TRACE_MAX", 0)
    y = grouped_data()
    model = hierarchy(y)
    pattern = hessian_pattern(model)
    joint = find_mode(model, random_seed=0, pattern=pattern)
    marginal = marginal_spread_mode(model, joint, ["tau", "sigma"], pattern=pattern, random_seed=0)
    exact = exact_marginal_mode(y)
    found = np.array([marginal.point["tau_log__"], marginal.point["sigma_log__"]]).ravel()
    shrunk = np.array([joint.point["tau_log__"], joint.point["sigma_log__"]]).ravel()
    # the marginal sd of log τ and log σ, from the Gaussian at the marginal mode
    covariance = np.linalg.inv(marginal.precision.toarray())
    start = value_positions(model)
    spreads = [start["tau_log__"], start["sigma_log__"]]
    sd = np.sqrt(np.diag(covariance)[spreads])
    # without the correction the joint mode is far from the marginal one: the check can fail
    assert np.all((exact - shrunk) / sd > 0.7)
    assert np.abs(found - exact) / sd == pytest.approx([0, 0], abs=0.1)
    record = marginal.spreads
    assert record["trace"] == trace
    assert set(record["moved_sd"]) == {"tau", "sigma"}
    assert record["last_step_sd"] <= 0.05
    assert marginal.record()["spreads"] == record
    # the rest at its mode given the spreads (within a hundredth of its sd)
    assert marginal.newton_decrement <= 0.01
    # the joint mode's spreads are not a stationary point of the marginal
    assert record["step_sizes_sd"][0] > 1.0
