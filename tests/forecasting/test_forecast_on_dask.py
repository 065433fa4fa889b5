"""The composed forecast's blocks as tasks on a Dask cluster: the same draws as in process."""

from __future__ import annotations

import functools

import distributed
import numpy as np
import xarray as xr

from bayesspr import forecast
from bayesspr.forecasting import compose

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
    # and streamed to a store, read back lazily
    stored = same(client=cluster_client, store=tmp_path / "draws.zarr")
    for name in ("routes", "routes_zip", "route_km_zip"):
        np.testing.assert_array_equal(stored.draws[name].to_numpy(), local.draws[name].to_numpy())
