"""Forecast draws streamed to a Zarr store block by block and read back lazily."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesspr.errors import ForecastError
from bayesspr.forecasting import compose
from bayesspr.forecasting.compose import forecast, horizon_days
from bayesspr.io.draw_store import open_draws

SAMPLES = 40
HORIZON = "2M"


#: Zips per block here, so the store is written in several appends.
BLOCK_ZIPS = 3


@pytest.fixture(scope="module")
def blocks(demo_volume_fit):
    """Blocks of three zips for the streamed forecasts."""
    days = len(horizon_days(demo_volume_fit.last_date + pd.Timedelta(days=1), HORIZON))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compose, "CHUNK_ELEMENTS", BLOCK_ZIPS * SAMPLES * days)
        yield BLOCK_ZIPS


@pytest.fixture(scope="module")
def in_memory(demo_fit, demo_volume_fit):
    """All zips in one block: a zip's draws do not depend on which zips share its block."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compose, "CHUNK_ELEMENTS", 10**12)
        return forecast(demo_fit, demo_volume_fit, HORIZON, n_samples=SAMPLES, random_seed=5)


def test_a_streamed_forecast_equals_the_one_in_memory(
    demo_fit, demo_volume_fit, in_memory, blocks, tmp_path
):
    store = tmp_path / "draws.zarr"
    streamed = forecast(
        demo_fit, demo_volume_fit, HORIZON, n_samples=SAMPLES, random_seed=5, store=store
    )
    lazy = streamed.draws
    # read lazily: nothing is loaded until asked, one chunk per block of zips
    assert lazy["routes_zip"].chunks is not None
    n_zips = lazy.sizes["zip"]
    assert lazy["routes_zip"].chunks[2] == (blocks,) * (n_zips // blocks) + (
        (n_zips % blocks,) if n_zips % blocks else ()
    )
    expected = in_memory.draws
    assert set(lazy.data_vars) == set(expected.data_vars)
    for name in expected.data_vars:
        assert lazy[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(lazy[name].to_numpy(), expected[name].to_numpy(), name)
    np.testing.assert_array_equal(lazy["station_of"].to_numpy(), expected["station_of"].to_numpy())
    assert lazy.attrs["scenario"] == expected.attrs["scenario"]
    pd.testing.assert_frame_equal(streamed.summary, in_memory.summary)
    # the store stands alone: opened again later, it is the same forecast
    again = open_draws(store)
    xr.testing.assert_identical(again.load(), lazy.load())


def test_a_failed_forecast_leaves_the_earlier_store(
    demo_fit, demo_volume_fit, blocks, tmp_path, monkeypatch
):
    store = tmp_path / "draws.zarr"
    forecast(demo_fit, demo_volume_fit, HORIZON, n_samples=SAMPLES, random_seed=5, store=store)
    before = open_draws(store)["routes"].to_numpy()
    calls = {"n": 0}
    real = type(demo_fit).route_draws

    def fails_on_the_third_block(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker lost")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(demo_fit), "route_draws", fails_on_the_third_block)
    with pytest.raises(RuntimeError, match="worker lost"):
        forecast(demo_fit, demo_volume_fit, HORIZON, n_samples=SAMPLES, random_seed=6, store=store)
    np.testing.assert_array_equal(open_draws(store)["routes"].to_numpy(), before)
    assert [p.name for p in tmp_path.iterdir()] == ["draws.zarr"]  # no temporary left


def test_station_days_only_when_zips_are_not_kept(demo_fit, demo_volume_fit, in_memory, tmp_path):
    store = tmp_path / "stations.zarr"
    result = forecast(
        demo_fit,
        demo_volume_fit,
        HORIZON,
        n_samples=SAMPLES,
        random_seed=5,
        keep_zips=False,
        store=store,
    )
    assert set(result.draws.data_vars) == {"routes", "packages", "stops"}
    np.testing.assert_array_equal(
        result.draws["routes"].to_numpy(), in_memory.draws["routes"].to_numpy()
    )


def test_opening_what_is_not_a_store_says_what_to_do(tmp_path):
    with pytest.raises(ForecastError, match=r"store=path"):
        open_draws(tmp_path / "missing.zarr")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(ForecastError, match=r"not a forecast store"):
        open_draws(tmp_path / "empty.zarr")


def test_volume_draws_in_dask_chunks_are_read_one_chunk_a_block(
    demo_fit, demo_volume_fit, in_memory, blocks, monkeypatch
):
    """Zips are ordered by the chunk they are read from, so no block reads two chunks."""
    given = in_memory.draws[["stops_zip", "packages_zip"]].rename(
        stops_zip="stops", packages_zip="packages"
    )
    given = given.drop_vars("station_of").sortby("zip").astype(float).load()
    per_chunk = 4  # chunks in name order: the demo's stations do not follow zip names
    chunked = given.chunk(zip=per_chunk)
    names = given["zip"].to_numpy()
    chunk_of = dict(zip(names, np.arange(len(names)) // per_chunk, strict=True))
    read = []
    real = compose._chunk_volume

    def spy(source, layout, cols, *args):
        read.append({chunk_of[z] for z in layout.zips[cols]})
        return real(source, layout, cols, *args)

    monkeypatch.setattr(compose, "_chunk_volume", spy)
    network = demo_volume_fit.network
    lazy = forecast(demo_fit, chunked, network=network, n_samples=SAMPLES, random_seed=5)
    assert len(read) >= given.sizes["zip"] // per_chunk  # blocks of at most 3 zips
    assert all(len(chunks) == 1 for chunks in read), read
    # the same draws as from the same volume held in memory (a different zip order)
    monkeypatch.setattr(compose, "_chunk_volume", real)
    eager = forecast(demo_fit, given, network=network, n_samples=SAMPLES, random_seed=5)
    assert list(lazy.draws["zip"].to_numpy()) != list(eager.draws["zip"].to_numpy())
    for name in ("routes", "routes_zip", "stops_zip"):
        expected = eager.draws[name]
        if "zip" in expected.dims:
            expected = expected.sel(zip=lazy.draws["zip"])
        np.testing.assert_array_equal(lazy.draws[name].to_numpy(), expected.to_numpy(), name)
