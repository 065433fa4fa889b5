"""Station-day shocks: keyed forecast noise, the volume worlds, the switch."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesspr.simulate.volume_worlds import simulate_volume_world
from bayesspr.volume.model import VolumeModel, _day_keys, _name_keys, keyed_normals


def test_keyed_normals_are_standard_normal_and_agree_across_chunks():
    days = _day_keys(pd.date_range("2025-01-01", periods=200))
    groups = _name_keys(np.array(["BOS1", "BOS2", "CHI1"]))
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


def test_day_shocks_option_is_checked_and_in_the_spec_id():
    with pytest.raises(ValueError, match="day_shocks='city'"):
        VolumeModel(day_shocks="city")
    assert VolumeModel(day_shocks="station").spec_id() != VolumeModel().spec_id()
