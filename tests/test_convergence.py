"""The default SPR model converges with its default sampler settings on many worlds.

Ten seeded small worlds of different shapes (cities × stations × zips × days), each fitted
once with ``SPRModel().fit(table)``: at least 8 must meet every threshold of
:mod:`bayesspr.evaluation.diagnostics` (R-hat ≤ 1.01, bulk and tail ESS ≥ 400, no divergence,
E-BFMI ≥ 0.3) and none may be far from them (see the test's docstring for why not all 10).
``benchmarks/convergence.py`` runs the same worlds (and more seeds) and prints
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
def test_default_fit_converges_on_the_worlds(fits):
    """The strict verdict on at least 8 of 10 worlds; no world far from it.

    Two clean-clone runs of the same commit and seeds on one kind of machine gave different
    chains (floating-point order differs between processes): one run met the strict verdict
    on all 10 worlds, the other on 8 (seed 104: one divergence in 4,000 draws; seed 107:
    R-hat 1.0100 on ``zip_effect_sd``). A marginal miss like those warns the user
    (``ConvergenceWarning``); what this test refuses is a real regression — the earlier
    HalfNormal spread prior gave R-hat 1.020 and tail ESS 147 on the README world.
    """
    failed = {label: m.diagnostics["problems"] for label, m in fits if not m.diagnostics["ok"]}
    assert len(failed) <= 2, failed
    for label, model in fits:
        d = model.diagnostics
        assert d["rhat_max"] <= 1.015 and d["divergences"] <= 2, (label, d["problems"])
        assert d["ess_bulk_min"] >= 400 and d["ess_tail_min"] >= 400, (label, d["problems"])
        assert d["ebfmi_min"] >= 0.3, (label, d["problems"])


@pytest.mark.slow
def test_diagnostics_agree_with_arviz(fits):
    for label, model in fits:
        post = model.idata["posterior"].to_dataset()
        rhat = max(float(v.max()) for v in az.rhat(post).data_vars.values())
        bulk = min(float(v.min()) for v in az.ess(post, method="bulk").data_vars.values())
        tail = min(float(v.min()) for v in az.ess(post, method="tail").data_vars.values())
        divergences = int(model.idata["sample_stats"]["diverging"].sum())
        d = model.diagnostics
        # the verdict's figures are ArviZ's own (so the thresholds above judge real numbers)
        assert d["rhat_max"] == pytest.approx(rhat, rel=1e-9), label
        assert d["ess_bulk_min"] == pytest.approx(bulk, rel=1e-9), label
        assert d["ess_tail_min"] == pytest.approx(tail, rel=1e-9), label
        assert d["divergences"] == divergences, label
