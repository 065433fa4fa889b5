"""The composed forecast's blocks as tasks on a Dask cluster: the same draws as in process."""

from __future__ import annotations

import functools

import distributed
import numba
import numpy as np
import pytest
import xarray as xr

from bayesspr import forecast
from bayesspr.forecasting import compose
from bayesspr.inference import heap
from bayesspr.parallel import (
    available_cores,
    parallel_loops_available,
    run_with_threads,
    task_threads,
    thread_count,
)

SAMPLES = 40


def test_blocks_on_two_workers_give_the_same_draws(
    demo_fit, demo_volume_fit, cluster_client, monkeypatch, tmp_path
):
    # blocks of 3 zips: the demo's 17 zips make 6 tasks, some on each worker
    monkeypatch.setattr(compose, "CHUNK_ELEMENTS", SAMPLES * 487 * 3)
    same = functools.partial(
        forecast, demo_fit, demo_volume_fit, "16M", n_samples=SAMPLES, random_seed=5
    )
    local = same()
    with distributed.get_task_stream(cluster_client) as stream:
        on_dask = same(client=cluster_client)
    xr.testing.assert_identical(local.draws, on_dask.draws)
    assert local.summary.equals(on_dask.summary)
    blocks = [task for task in stream.data if "_draw_block" in str(task["key"])]
    assert len(blocks) == 6
    assert len({task["worker"] for task in blocks}) == 2  # both workers drew blocks
    # the workers kept freed memory across blocks, and gave it back at the end
    assert set(cluster_client.run(lambda: len(heap._USERS)).values()) == {0}
    # and streamed to a store, read back lazily
    stored = same(client=cluster_client, store=tmp_path / "draws.zarr")
    for name in ("routes", "routes_zip", "route_km_zip"):
        np.testing.assert_array_equal(stored.draws[name].to_numpy(), local.draws[name].to_numpy())


def test_a_task_uses_its_workers_share_of_the_cores(cluster_client):
    """Two single-threaded workers on one host split its cores; the count comes back after."""
    threads = task_threads(cluster_client)
    assert set(threads) == set(cluster_client.nthreads())
    assert set(threads.values()) == {max(1, available_cores() // 2)}
    if not parallel_loops_available():
        pytest.skip("no thread-safe numba layer: the loops run on one thread anyway")
    for address, share in threads.items():
        capped = cluster_client.submit(
            run_with_threads, threads, thread_count, workers=[address], pure=False
        ).result()
        assert capped == min(share, numba.config.NUMBA_NUM_THREADS)
        after = cluster_client.submit(thread_count, workers=[address], pure=False).result()
        assert after == numba.config.NUMBA_NUM_THREADS  # the worker thread's own count again
