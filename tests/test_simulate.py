"""Simulated worlds: seeded, valid, and containing the events the docs promise."""

import pandas as pd

from bayesspr import simulate_world, validate


def test_same_seed_same_world_and_other_seed_other_world():
    a, b = simulate_world(3, n_days=30), simulate_world(3, n_days=30)
    c = simulate_world(4, n_days=30)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not a.table["routes"].equals(c.table["routes"])


def test_world_is_a_valid_table_with_truth_for_every_group():
    world = simulate_world(n_days=40)
    table = validate(world.table)
    assert set(world.truth.groups["zip_effect"].index) == set(table["zip"])
    assert set(world.truth.groups["overhead_hours_station"].index) == set(table["station"])
    assert set(world.truth.groups["service_min_city"].index) == set(table["city"])
    assert (table["packages"] <= table["routes"] * table["van_capacity"]).all()


def test_moved_zip_changes_station_and_stem_on_its_date():
    world = simulate_world()
    zip_rows = world.table[world.table["zip"] == world.events["moved_zip"]]
    before = zip_rows[zip_rows["date"] < world.events["move_date"]]
    after = zip_rows[zip_rows["date"] >= world.events["move_date"]]
    assert before["station"].nunique() == 1 and after["station"].nunique() == 1
    assert set(after["station"]) == {world.events["moved_to"]}
    assert before["station"].iloc[0] != after["station"].iloc[0]
    assert before["stem_km"].iloc[0] != after["stem_km"].iloc[0]


def test_launched_station_has_no_rows_before_its_launch():
    world = simulate_world()
    rows = world.table[world.table["station"] == world.events["launched_station"]]
    assert rows["date"].min() == world.events["launch_date"]
    assert world.events["new_zip"] in set(rows["zip"])


def test_volume_grows_and_shifts_vary_within_a_station():
    world = simulate_world(n_days=100, annual_growth=0.5)
    daily = world.table.groupby("date")["stops"].sum()
    assert daily.iloc[-28:].mean() > daily.iloc[:28].mean()
    assert (world.table.groupby("station")["shift_hours"].nunique() > 1).all()
