"""Station-day shocks: keyed forecast noise, the volume worlds, the switch."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesspr.simulate.volume_worlds import simulate_volume_world
from bayesspr.volume.keyed import day_keys, keyed_normals, name_keys_64
from bayesspr.volume.zip_day import ZipDayVolumeModel as VolumeModel


def test_keyed_normals_are_standard_normal_and_agree_across_chunks():
    days = day_keys(pd.date_range("2025-01-01", periods=200))
    groups = name_keys_64(["BOS1", "BOS2", "CHI1"])
    e = keyed_normals(np.arange(1000, dtype=np.uint64), groups, days)
    assert e.shape == (1000, 200, 3)
    assert stats.kstest(e[:, :, 0].ravel()[:50_000], "norm").pvalue > 1e-3
    assert abs(np.corrcoef(e[:, :-1, 0].ravel(), e[:, 1:, 0].ravel())[0, 1]) < 0.02
    assert abs(np.corrcoef(e[:, :, 0].ravel(), e[:, :, 1].ravel())[0, 1]) < 0.02
    part = keyed_normals(np.arange(5, 9, dtype=np.uint64), groups[1:2], days[10:13])
    np.testing.assert_array_equal(part, e[5:9, 10:13, 1:2])


def test_volume_worlds_are_seeded_and_effects_switch_on_alone():
    a = simulate_volume_world(4, n_days=60, horizon_days=30)
    b = simulate_volume_world(4, n_days=60, horizon_days=30)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.future, b.future)
    longer = simulate_volume_world(4, n_days=60, horizon_days=90)
    pd.testing.assert_frame_equal(a.table, longer.table)
    shocked = simulate_volume_world(4, n_days=60, horizon_days=30, station_day_sd=0.3)

    # a station-day shock moves every zip of the station the same way: station sums vary more
    def station_cv(world):
        s = world.table.groupby(["date", "station"])["stops"].sum().unstack()
        return float((np.log(s).diff(7).std()).mean())

    assert station_cv(shocked) > 1.5 * station_cv(a)
    with pytest.raises(ValueError, match="station_day_sd=-1"):
        simulate_volume_world(4, station_day_sd=-1)


def test_volume_worlds_grow_past_six_cities_with_unique_names():
    world = simulate_volume_world(
        2, n_cities=20, stations_per_city=3, zips_per_station=99, n_days=20, horizon_days=5
    )
    zips = world.table.drop_duplicates("zip")
    assert len(zips) == 20 * 3 * 99 and zips["station"].nunique() == 60
    assert zips.groupby("city")["station"].nunique().eq(3).all()
    assert {"Boston", "Atlanta", "C07", "C20"} <= set(zips["city"])
    # the six named cities keep their zips whatever comes after them
    six = simulate_volume_world(2, n_cities=6, stations_per_city=3, n_days=20, horizon_days=5)
    assert set(six.table["zip"]) < set(
        simulate_volume_world(2, n_cities=7, stations_per_city=3, n_days=20, horizon_days=5).table[
            "zip"
        ]
    )
    with pytest.raises(ValueError, match="zips_per_station=100"):
        simulate_volume_world(2, zips_per_station=100)


def test_day_shocks_option_is_checked_and_in_the_spec_id():
    with pytest.raises(ValueError, match="day_shocks='city'"):
        VolumeModel(day_shocks="city")
    assert VolumeModel(day_shocks="station").spec_id() != VolumeModel().spec_id()


@pytest.fixture(scope="module")
def tiny_shock_fit():
    """A tiny, quick fit with station-day shocks (API checks only, not statistics)."""
    import warnings

    world = simulate_volume_world(
        8, n_cities=1, stations_per_city=2, zips_per_station=2, n_days=60, horizon_days=20
    )
    model = VolumeModel(regressors=world.regressors, day_shocks="station")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(world.table, random_seed=1, draws=50, tune=50, chains=1)
    return model, world


def test_shocked_forecast_keeps_its_shape_and_survives_save_and_load(tiny_shock_fit, tmp_path):
    model, world = tiny_shock_fit
    days = pd.DatetimeIndex(sorted(world.future["date"].unique()))
    draws = model.forecast(days, n_samples=40, random_seed=1)
    assert draws["stops"].dims == ("sample", "date", "zip")
    assert draws["stops"].shape == (40, len(days), world.table["zip"].nunique())
    again = VolumeModel.load(model.save(tmp_path / "shocked.nc"))
    assert again.day_shocks == "station" and again.spec_id() == model.spec_id()
    np.testing.assert_array_equal(
        again.forecast(days, n_samples=40, random_seed=1)["stops"].to_numpy(),
        draws["stops"].to_numpy(),
    )


def test_zips_of_one_station_share_the_shock_when_drawn_in_separate_chunks(tiny_shock_fit):
    model, _ = tiny_shock_fit
    post = model.posterior_samples(400, random_seed=3)
    post = post.copy(deep=True)
    post["station_day_sd"].values[...] = 1.0  # shocks dominate
    days = pd.date_range(model.last_date + pd.Timedelta(days=1), periods=10)
    zips = model.zips.sort_values("station").index.to_numpy()
    same, other = zips[:2], zips[[0, 2]]
    assert model.zips.loc[same, "station"].nunique() == 1
    assert model.zips.loc[other, "station"].nunique() == 2

    def log_stops(z, k):
        s, _ = model.volume_draws(post, days, np.array([z]), np.random.SeedSequence([k]))
        return np.log1p(s[:, :, 0].astype(float))

    def corr(a, b):
        return np.mean([np.corrcoef(a[:, d], b[:, d])[0, 1] for d in range(len(days))])

    assert corr(log_stops(same[0], 1), log_stops(same[1], 2)) > 0.8
    assert abs(corr(log_stops(other[0], 1), log_stops(other[1], 2))) < 0.3
