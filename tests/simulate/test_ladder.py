"""The size ladder: seeded, vectorised networks with the demo world's realism."""

import numpy as np
import pandas as pd
import pytest

from bayesspr.data.table import validate
from bayesspr.errors import SimulationError
from bayesspr.simulate.ladder import RUNGS, simulate_network


@pytest.fixture(scope="module")
def rung_s():
    return simulate_network("S", seed=3)


def test_rung_s_is_a_year_of_every_zip_and_validates(rung_s):
    table = validate(rung_s.table)
    n_zips, n_stations, n_cities = RUNGS["S"]
    assert table["zip"].nunique() == n_zips and table["station"].nunique() == n_stations
    assert table["city"].nunique() == n_cities and table["date"].nunique() == 365
    late = rung_s.zips["first_day"].to_numpy()
    assert len(table) == int((365 - late).sum())  # every zip every day from its first day
    assert not table.duplicated(["date", "zip"]).any()


def test_the_same_seed_gives_the_same_network_and_another_seed_another():
    a, b = simulate_network("S", seed=5), simulate_network("S", seed=5)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not simulate_network("S", seed=6).table["routes"].equals(a.table["routes"])


def test_the_network_changes_as_real_ones_do(rung_s):
    table, events = rung_s.table, rung_s.events
    launched = events["launched_stations"]
    opened = table.groupby("station", observed=True)["date"].min()
    assert (opened[launched] > table["date"].min()).all()  # opened mid-year
    for zip_index, target, day in events["moves"]:
        code = rung_s.zips.index[zip_index]
        rows = table[table["zip"] == code]
        after = rows[rows["date"] >= pd.Timestamp(day)]
        assert (after["station"] == f"S{target:04d}").all()
        assert (rows[rows["date"] < pd.Timestamp(day)]["station"] != f"S{target:04d}").all()
    large = table[table["van_capacity"] == events["large_van"]]
    assert set(large["station"]) <= set(events["large_van_stations"])
    assert large["date"].min() >= events["large_van_date"]
    shifts = table.groupby(["station", "date"], observed=True)["shift_hours"].nunique()
    assert (shifts == 1).all() and set(table["shift_hours"]) == {6.0, 8.0, 10.0}


def test_volume_grows_and_routes_follow_the_truth(rung_s):
    table = rung_s.table
    by_month = table.groupby(table["date"].dt.to_period("M"))["stops"].mean()
    assert by_month.iloc[9:11].mean() > by_month.iloc[1:3].mean()  # growth + the autumn peak
    spr = table["packages"] / table["routes"]
    floor = np.ceil(table["packages"] / table["van_capacity"])
    assert (table["routes"] >= floor).all() and spr.median() > 50
    assert set(rung_s.truth.groups) == {
        "service_min_city",
        "speed_kmh_city",
        "overhead_hours_station",
        "zip_effect",
    }


def test_bad_sizes_are_refused():
    with pytest.raises(SimulationError, match="rung 'XL'"):
        simulate_network("XL")
    with pytest.raises(SimulationError, match="cities ≤ stations ≤ zips / 2"):
        simulate_network(None, n_zips=10, n_stations=20, n_cities=1)
    with pytest.raises(SimulationError, match="give a rung"):
        simulate_network(None, n_zips=10)
