"""The SPR model's rows on Dask workers (:mod:`bayesspr.inference.sharded`): the same log
density, gradient and Laplace fit as in one process."""

from __future__ import annotations

import multiprocessing
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from pymc.blocking import DictToArrayBijection

from bayesspr import SPRModel, simulate_world
from bayesspr.data.table import validate
from bayesspr.errors import ArgumentError
from bayesspr.inference import heap
from bayesspr.inference.sharded import (
    ShardedLogDensity,
    assign_blocks,
    compile_likelihood,
    peak_rss_mib,
)
from bayesspr.spr import model as spr_model

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def three_cities():
    """A small world of three cities: three blocks of rows for two workers."""
    return validate(simulate_world(seed=11, n_cities=3, n_days=60).table, require_routes=True)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of at most 700 rows: the small world's 1,470 rows make three blocks."""
    monkeypatch.setattr(spr_model, "BLOCK_MAX_ROWS", 700)


def test_blocks_go_largest_first_to_the_least_loaded_worker():
    given = assign_blocks({"a": 50, "b": 40, "c": 30, "d": 5}, ["w1", "w2", "w3"])
    assert given == {"w1": ["a"], "w2": ["b"], "w3": ["c", "d"]}
    assert assign_blocks({"a": 1}, ["w1", "w2"]) == {"w1": ["a"]}


def _peak_in_child(queue) -> None:
    queue.put(peak_rss_mib())


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux's VmHWM")
def test_a_spawned_worker_reports_its_own_peak_memory_not_its_parents():
    """Dask spawns workers from the calling process; ``ru_maxrss`` would carry its peak."""
    held = np.ones(60_000_000)  # 458 MiB here, none of it in the child
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_in_child, args=(queue,))
    child.start()
    peak = queue.get(timeout=120)
    child.join()
    assert 0 < peak < peak_rss_mib() - held.nbytes / 2**20 / 2


def test_a_layout_refuses_rows_of_a_group_it_does_not_hold(three_cities):
    model = SPRModel()
    boston = three_cities[three_cities["city"] == three_cities["city"].iloc[0]]
    layout = model.model_layout(boston)
    other = three_cities[three_cities["city"] != boston["city"].iloc[0]]
    with pytest.raises(ArgumentError, match=r"column 'city'.*not one of the 1 city groups"):
        model.build_model(other, layout)


def test_the_compiled_likelihood_takes_an_unaligned_vector(three_cities):
    """A vector from a Dask message may sit at an odd offset of its buffer. The likelihood
    is the whole log density less that of the same model with no rows (the priors)."""
    spr = SPRModel()
    model = spr.build_model(three_cities)
    priors = spr.build_model(three_cities.iloc[:0], spr.model_layout(three_cities))
    start = model.initial_point(0)
    x = DictToArrayBijection.map({v.name: start[v.name] for v in model.value_vars}).data
    unaligned = np.frombuffer(b"\0" + x.astype(float).tobytes(), dtype=float, offset=1)
    assert not unaligned.flags.aligned
    value, gradient = compile_likelihood(model)(unaligned)
    whole_value, whole_gradient = model.logp_dlogp_function(ravel_inputs=True)(x)
    prior_value, prior_gradient = priors.logp_dlogp_function(ravel_inputs=True)(x)
    assert value == pytest.approx(float(whole_value - prior_value), rel=1e-12)
    np.testing.assert_allclose(gradient, whole_gradient - prior_gradient, rtol=1e-9, atol=1e-9)


def _heap_held() -> bool:
    """On a worker: whether :func:`~bayesspr.inference.heap.reused_heap` is held there."""
    return bool(heap._USERS) and "MALLOC_MMAP_THRESHOLD_" in os.environ


def test_blocks_on_workers_sum_to_the_whole_log_density(three_cities, cluster_client):
    model = SPRModel()
    whole = model.build_model(three_cities)
    shards = model.row_shards(three_cities)
    assert sum(shards.rows.values()) == len(three_cities)
    assert max(shards.rows.values()) <= 700
    # whole stations, a block's name its first (city/station)
    for name, block in shards.blocks.items():
        first = block.sort_values(["city", "station"]).iloc[0]
        assert name == f"{first['city']}/{first['station']}"
    stations = [set(block["station"]) for block in shards.blocks.values()]
    assert sum(map(len, stations)) == len(set().union(*stations))
    prior = model.build_model(shards.no_rows, shards.layout)
    assert [v.name for v in prior.value_vars] == [v.name for v in whole.value_vars]
    start = whole.initial_point(0)
    x = DictToArrayBijection.map({v.name: start[v.name] for v in whole.value_vars}).data
    x = x + np.random.default_rng(2).normal(0.0, 0.2, x.size)
    expected_value, expected_gradient = whole.logp_dlogp_function(ravel_inputs=True)(x)
    assert set(cluster_client.run(_heap_held).values()) == {False}
    with ShardedLogDensity(model, prior, shards, cluster_client) as sharded:
        value, gradient = sharded(x)
        record = sharded.record()
        # the workers keep freed memory for the next gradient while they hold the blocks
        assert set(cluster_client.run(_heap_held).values()) == {heap._glibc() is not None}
    assert set(cluster_client.run(_heap_held).values()) == {False}
    assert value == pytest.approx(float(expected_value), rel=1e-12)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-9, atol=1e-9)
    # three cities on two workers: one holds two blocks, both are used
    by_worker = record["by_worker"]
    assert record["workers"] == 2
    assert sorted(len(w["blocks"]) for w in by_worker.values()) == [1, 2]
    assert sum(w["rows"] for w in by_worker.values()) == len(three_cities)
    assert all(w["calls"] == 1 and w["peak_rss_mib"] > 0 for w in by_worker.values())


def test_a_laplace_fit_on_workers_matches_the_fit_in_process(three_cities, cluster_client):
    """The same mode and Gaussian (to the search's rounding: the sums are added in another
    order), the same seeded draws; the record says where the rows were."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        local = SPRModel().fit(three_cities, method="laplace", random_seed=4)
        on_dask = SPRModel().fit(
            three_cities, method="laplace", random_seed=4, client=cluster_client
        )
    here, there = local.idata["posterior"], on_dask.idata["posterior"]
    for name in ("stem_speed_kmh", "tour_constant", "fill", "overhead_hours_station"):
        gap = np.abs(here[name].mean(("chain", "draw")) - there[name].mean(("chain", "draw")))
        assert float((gap / here[name].std(("chain", "draw"))).max()) < 0.01, name
        spread = there[name].std(("chain", "draw")) / here[name].std(("chain", "draw"))
        assert np.allclose(spread, 1.0, atol=0.01), name
    sharded = on_dask.diagnostics["sharded"]
    assert sharded["workers"] == 2
    assert (
        sharded["calls"]
        == on_dask.diagnostics["mode"]["search_gradients"]
        + on_dask.diagnostics["mode"]["hessian_gradients"]
    )
    assert "Dask workers" in on_dask.diagnostics["log_likelihood"]
    assert local.diagnostics["log_likelihood"] == "kept"


def test_a_forced_method_that_is_not_laplace_cuts_no_blocks(three_cities, monkeypatch, caplog):
    """With ``client=`` and method "nuts" the rows stay in this process, uncopied."""

    def no_blocks(*args, **kwargs):
        raise AssertionError("row_shards was called for a fit that cannot use it")

    spr = SPRModel()
    monkeypatch.setattr(spr, "row_shards", no_blocks)
    sampler = spr.sampler_config()
    with caplog.at_level("INFO", logger="bayesspr"):
        model, shards, method, _ = spr._model_for(three_cities, "nuts", sampler, object())
    assert shards is None and method == "nuts" and len(model.observed_RVs) > 0
    assert "not on the Dask cluster (method 'nuts')" in caplog.text
