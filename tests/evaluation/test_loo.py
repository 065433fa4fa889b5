"""PSIS-LOO with rows of a certain outcome (the same log-likelihood on every draw)."""

import arviz_base as azb
import arviz_stats as azs
import numpy as np
import pytest

from bayesspr.evaluation.loo import psis_loo


def _tree(log_lik):
    rng = np.random.default_rng(1)
    return azb.from_dict(
        {
            "posterior": {"a": rng.normal(size=log_lik.shape[:2])},
            "log_likelihood": {"routes": log_lik},
        },
        dims={"routes": ["row"]},
    )


def test_without_certain_rows_it_is_arviz_loo():
    log_lik = np.random.default_rng(0).normal(-2.0, 0.3, size=(4, 250, 40))
    ours, theirs = psis_loo(_tree(log_lik), "routes"), azs.loo(_tree(log_lik), var_name="routes")
    assert ours.n_certain == 0 and ours.n_rows == 40
    assert ours.elpd == pytest.approx(theirs.elpd, rel=1e-12)
    assert ours.se == pytest.approx(theirs.se, rel=1e-12)
    assert ours.p_loo == pytest.approx(theirs.p, rel=1e-9)


def test_certain_rows_enter_exactly_and_arviz_alone_fails_on_them():
    log_lik = np.random.default_rng(0).normal(-2.0, 0.3, size=(4, 250, 40))
    log_lik[:, :, :5] = -0.25  # five zip-days with one possible route count
    with pytest.raises(ValueError, match="tail values are the same"):
        azs.loo(_tree(log_lik), var_name="routes")
    rest = azs.loo(_tree(log_lik[:, :, 5:]), var_name="routes")
    ours = psis_loo(_tree(log_lik), "routes")
    assert ours.n_certain == 5 and ours.n_rows == 40
    assert ours.elpd == pytest.approx(rest.elpd + 5 * -0.25, rel=1e-12)
    assert np.isnan(ours.pareto_k[:5]).all() and np.isfinite(ours.pareto_k[5:]).all()
    assert ours.p_loo == pytest.approx(rest.p, rel=1e-9)  # a certain row adds no parameter
