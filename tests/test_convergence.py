"""The default SPR model converges with its default sampler settings on many worlds.

Ten seeded small worlds of different shapes (cities × stations × zips × days), each fitted
once with ``SPRModel().fit(table)``: every one must meet the thresholds of
:mod:`bayesspr.evaluation.diagnostics` (R-hat ≤ 1.01, bulk and tail ESS ≥ 400, no divergence,
E-BFMI ≥ 0.3). ``benchmarks/convergence.py`` runs the same worlds (and more seeds) and prints
the figures.
"""

import warnings

import arviz as az
import pytest

from bayesspr import SPRModel
from bayesspr.simulate.worlds import convergence_worlds

N_WORLDS = 10


@pytest.fixture(scope="module")
def fits():
    out = []
    for label, world in convergence_worlds(N_WORLDS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append((label, SPRModel().fit(world.table, random_seed=1)))
    return out


@pytest.mark.slow
def test_worlds_differ_in_shape(fits):
    shapes = {label.split(":")[1] for label, _ in fits}
    assert len(fits) == N_WORLDS and len(shapes) >= 5


@pytest.mark.slow
def test_default_fit_converges_on_every_world(fits):
    failed = {label: m.diagnostics["problems"] for label, m in fits if not m.diagnostics["ok"]}
    assert not failed, failed


@pytest.mark.slow
def test_diagnostics_agree_with_arviz(fits):
    for label, model in fits:
        post = model.idata["posterior"].to_dataset()
        rhat = max(float(v.max()) for v in az.rhat(post).data_vars.values())
        bulk = min(float(v.min()) for v in az.ess(post, method="bulk").data_vars.values())
        tail = min(float(v.min()) for v in az.ess(post, method="tail").data_vars.values())
        divergences = int(model.idata["sample_stats"]["diverging"].sum())
        assert rhat <= 1.01 and bulk >= 400 and tail >= 400 and divergences == 0, label
