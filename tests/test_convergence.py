"""The default SPR model converges with its default sampler settings on many worlds.

Seeded small worlds of different shapes (cities × stations × zips × days), each fitted once
with ``SPRModel().fit(table)``. ``make test`` fits the first two worlds; ``make validate`` fits
ten and records each world's figures and the ESS per second in the validation table.
``benchmarks/convergence.py`` runs the same worlds (and more seeds) and prints the figures.
"""

import time
import warnings

import arviz as az
import numpy as np
import pytest

from bayesspr import SPRModel
from bayesspr.simulate.worlds import convergence_worlds

#: Worlds fitted by each size of the check.
N_WORLDS = {"small": 2, "full": 10}


@pytest.fixture(
    scope="module", params=["small", pytest.param("full", marks=pytest.mark.validation)]
)
def fits(request):
    out = []
    for label, world in convergence_worlds(N_WORLDS[request.param]):
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SPRModel().fit(world.table, random_seed=1)
        out.append((label, model, time.perf_counter() - started))
    return request.param, out


def test_worlds_differ_in_shape(fits):
    size, out = fits
    shapes = {label.split(":")[1] for label, _, _ in out}
    assert len(out) == N_WORLDS[size] and len(shapes) == min(N_WORLDS[size], 6)


def test_default_fit_converges_on_the_worlds(fits, evidence, request):
    """The strict verdict on at least 9 of 10 worlds (1 of the 2 of the small check); no
    world far from it.

    Runs of the same commit and seeds give different chains (floating-point order differs
    between processes), so a rare marginal miss (one divergence in 4,000 draws) is allowed
    once; it warns the user (``ConvergenceWarning``). With the HalfNormal(0.06) zip spread
    two runs met the verdict on 8 and 9 of 10 worlds (τ_z the lowest-ESS variable); with the
    zero-avoiding LogNormal(0.05, 0.5) of today's spec, 10 of 10 (2026-12-05). What this test
    refuses is a real regression — the earlier HalfNormal station spread gave R-hat 1.020
    and tail ESS 147 on the README world.
    """
    _, out = fits
    for label, model, seconds in out:
        d = model.diagnostics
        ess_per_s = min(d["ess_bulk_min"], d["ess_tail_min"]) / seconds
        evidence.record(
            request,
            f"SPR default fit converges: {label}",
            f"R-hat {d['rhat_max']:.4f}, bulk ESS {d['ess_bulk_min']:.0f}, tail ESS "
            f"{d['ess_tail_min']:.0f}, {d['divergences']} divergences, {seconds:.0f} s, "
            f"{ess_per_s:.1f} min-ESS/s",
            "R-hat ≤ 1.01, ESS ≥ 400, 0 divergences",
            d["ok"],
        )
    failed = {label: m.diagnostics["problems"] for label, m, _ in out if not m.diagnostics["ok"]}
    allowed = 1
    evidence.record(
        request,
        "SPR default fit: worlds meeting the strict verdict",
        f"{len(out) - len(failed)} of {len(out)}",
        f"≥ {len(out) - allowed} of {len(out)}",
        len(failed) <= allowed,
    )
    median_rate = np.median(
        [min(m.diagnostics["ess_bulk_min"], m.diagnostics["ess_tail_min"]) / s for _, m, s in out]
    )
    evidence.record(
        request,
        "SPR default fit: median min-ESS per second over the worlds",
        f"{median_rate:.1f} /s",
        "reported (speed is part of a good default)",
        True,
    )
    assert len(failed) <= allowed, failed
    for label, model, _ in out:
        d = model.diagnostics
        assert d["rhat_max"] <= 1.015 and d["divergences"] <= 2, (label, d["problems"])
        assert d["ess_bulk_min"] >= 400 and d["ess_tail_min"] >= 400, (label, d["problems"])
        assert d["ebfmi_min"] >= 0.3, (label, d["problems"])


def test_diagnostics_agree_with_arviz(fits):
    for label, model, _ in fits[1]:
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
