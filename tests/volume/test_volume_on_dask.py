"""The volume model's zips block with its rows on Dask workers: the same density, same posterior."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import arviz as az
import numpy as np
import pytest

from bayesspr.errors import ArgumentError
from bayesspr.inference.sharded import ShardedLogDensity
from bayesspr.volume.model import VolumeModel

pytestmark = pytest.mark.filterwarnings("ignore")

ZIP_SPREADS = ("share_growth_sd", "share_weekday_sd", "share_drift_sd", "ratio_growth_sd")


def split_model() -> VolumeModel:
    """A volume model that splits its zips for the workers whatever their number."""
    model = VolumeModel()
    model.shard_min_zips = 0
    return model


@pytest.fixture(scope="module")
def prepared(demo_split):
    history, _ = demo_split
    model = split_model()
    return model, model._prepare(history)


def test_the_zips_go_to_workers_only_from_the_size_the_model_is_given(prepared):
    model, tables = prepared
    assert VolumeModel.shard_min_zips is None  # by default the fit stays in one process
    assert VolumeModel().part_shards(tables) == {}
    model.shard_min_zips = len(tables.zips) + 1
    assert model.part_shards(tables) == {}
    model.shard_min_zips = len(tables.zips)
    assert set(model.part_shards(tables)) == {"zips"}
    model.shard_min_zips = 0


def test_the_zips_block_splits_by_city_and_refuses_other_parts(prepared):
    model, tables = prepared
    shards = model.part_shards(tables)["zips"]
    assert shards.part == "zips"
    assert set(shards.blocks) == {str(city) for city in tables.cities}
    assert sum(shards.rows.values()) == len(tables.zips)
    with pytest.raises(ArgumentError, match="station_totals"):
        model.build_part("station_totals", shards.no_rows, shards.layout)


def test_the_zips_block_on_workers_is_the_block_in_process(prepared, cluster_client):
    model, tables = prepared
    whole = model.build_blocks(tables)["zips"]
    in_process = whole.logp_dlogp_function(ravel_inputs=True)
    in_process.set_extra_values({})
    shards = model.part_shards(tables)["zips"]
    prior = shards.build(model, shards.no_rows)
    assert [v.name for v in prior.value_vars] == [v.name for v in whole.value_vars]
    start = np.concatenate([np.ravel(v) for v in whole.initial_point().values()])
    points = start + np.random.default_rng(4).normal(0.0, 0.5, (6, start.size))
    with ShardedLogDensity(model, prior, shards, cluster_client) as density:
        assert len(density.assignment) == 2  # one city a worker
        # each worker is sent the five spreads and its own zips' noise scales alone
        sizes = [len(positions) for positions in density.positions]
        assert all(5 < size < start.size for size in sizes)
        assert sum(sizes) == start.size + 5 * (len(sizes) - 1)
        # NUTS chains call at once from threads: each answer is its own point's
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(density, points))
    for point, (value, gradient) in zip(points, answers, strict=True):
        expected_value, expected_gradient = in_process(point)
        np.testing.assert_allclose(value, expected_value, rtol=1e-10)
        np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-8, atol=1e-8)


def test_a_fit_with_its_zips_on_workers_matches_the_fit_in_process(
    demo_split, demo_volume_fit, cluster_client
):
    history, _ = demo_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = split_model().fit(
            history, random_seed=5, draws=250, tune=250, chains=2, client=cluster_client
        )
    record = fit.diagnostics["sharded"]["zips"]
    assert record["workers"] == 2
    assert sum(worker["rows"] for worker in record["by_worker"].values()) == 17
    assert record["calls"] > 1000
    assert fit.diagnostics["log_likelihood"].startswith("not kept")
    stats = fit.idata["sample_stats"].to_dataset()
    assert int(stats["diverging"].sel(block="zips").sum()) == 0
    ours = fit.idata["posterior"].to_dataset()
    reference = demo_volume_fit.idata["posterior"].to_dataset()
    assert set(ours.data_vars) == set(reference.data_vars)
    assert ours["share_noise_sd_zip"].dims == reference["share_noise_sd_zip"].dims
    # 500 draws against the default fit's 4,000: posterior means within 0.3 sd (about five
    # Monte Carlo errors of the difference)
    for name in (*ZIP_SPREADS, "ratio_noise_sd", "share_noise_sd_zip"):
        gap = np.abs(
            ours[name].mean(("chain", "draw")) - reference[name].mean(("chain", "draw"))
        ) / reference[name].std(("chain", "draw"))
        assert float(gap.max()) < 0.3, name
    # the zips block's chains agree (R-hat of 2 chains of 250 draws: 1.03 is its noise bar)
    rhat = az.rhat(ours[[*ZIP_SPREADS, "ratio_noise_sd", "share_noise_sd_zip"]])
    assert max(float(rhat[name].max()) for name in rhat.data_vars) <= 1.03


def test_the_cut_route_s_tasks_on_workers_give_the_local_draws(prepared, cluster_client):
    # the cut route's second stage, a task per city, draws as it does in this process
    from bayesspr.volume.cut import conditional_share_noise

    model, tables = prepared
    cities = [
        (rows.share, rows.share_mean, rows.share_positions)
        for rows in model._city_zip_rows(tables).values()
    ]
    n_share = sum(len(positions) for _, _, positions in cities)
    spreads = np.exp(np.random.default_rng(3).normal(np.log(0.1), 0.3, (40, 3)))
    prior_var = model._share_prior_var(*spreads.T)
    args = (cities, n_share, prior_var, np.log(0.1), 1.0, 7)
    local = conditional_share_noise(*args)
    on_workers = conditional_share_noise(*args, client=cluster_client)
    assert np.isfinite(local).all() and local.shape == (40, n_share)
    np.testing.assert_array_equal(on_workers, local)
