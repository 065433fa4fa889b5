"""Scenarios and the network: validated, composable, and clear about what is wrong."""

import pandas as pd
import pytest

from bayesspr import simulate_world
from bayesspr.data.network import Network
from bayesspr.forecasting import scenario as sc


def test_changes_parse_dates_and_describe_themselves():
    shock = sc.VolumeShock(1.4, "2026-03-01", stations=["BOS1"])
    assert shock.start == pd.Timestamp("2026-03-01")
    assert shock.stations == ("BOS1",)
    assert "x1.4" in shock.describe() and "BOS1" in shock.describe()
    move = sc.ZipMove("10001", "BOS2", "2026-04-01", stem_km=7.5)
    assert move.stem_km == 7.5 and "10001" in move.describe()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: sc.VolumeShock(-1.0, "2026-03-01"), "VolumeShock.factor = -1.0"),
        (lambda: sc.VolumeShock(1.2, "not a date"), "VolumeShock.start = 'not a date'"),
        (lambda: sc.VolumeShock(1.2, "2026-03-01", end="2026-02-01"), "before its start"),
        (lambda: sc.VolumeShock(1.2, "2026-03-01", stations=[]), "VolumeShock.stations is empty"),
        (lambda: sc.VanChange(0, "2026-03-01"), "VanChange.capacity = 0"),
        (lambda: sc.StationLaunch("NEW", "Boston", "2026-03-01"), "StationLaunch.stem_km is empty"),
        (
            lambda: sc.StationLaunch("NEW", "Boston", "2026-03-01", {"1": 2.0}, shift_hours=30),
            "StationLaunch.shift_hours = 30; expected a finite number >= 0.5 and <= 24 (h",
        ),
        (lambda: sc.ZipMove("10001", "BOS2", "2026-04-01", stem_km=float("inf")), "finite"),
        (lambda: sc.Scenario("", ()), "Scenario.name is empty"),
        (lambda: sc.Scenario("x", ("volume up",)), "Scenario.changes[0] is a str"),
        (lambda: sc.VolumeShock(1.4, "June"), "VolumeShock.start = 'June'; expected an ISO date"),
        (
            lambda: sc.ZipMove("1", "B", "06/01/2025"),
            "ZipMove.start = '06/01/2025'; expected an ISO",
        ),
    ],
)
def test_bad_changes_are_refused_with_the_field_and_value(make, message):
    with pytest.raises(sc.ScenarioError) as info:
        make()
    assert message in str(info.value)


def test_scenarios_compose_in_order_and_keep_both_names():
    a = sc.Scenario("shock", (sc.VolumeShock(1.4, "2026-03-01"),))
    b = sc.Scenario("big van", (sc.VanChange(450, "2026-01-01"),))
    both = a + b
    assert both.name == "shock + big van"
    assert both.changes == a.changes + b.changes
    assert "volume x1.4" in both.describe() and "450" in both.describe()


def test_network_reads_latest_station_usual_van_and_every_stem():
    world = simulate_world()
    net = Network.from_table(world.table)
    moved = world.events["moved_zip"]
    assert net.zips.loc[moved, "station"] == world.events["moved_to"]
    # the stem of the zip's old station is kept, so a scenario can move it back
    old = world.table.loc[world.table["zip"] == moved, "station"].iloc[0]
    assert (moved, old) in net.stem_km.index
    recent = world.table[world.table["date"] > world.table["date"].max() - pd.Timedelta(days=28)]
    for station, rows in recent.groupby("station"):
        counts = rows["van_capacity"].value_counts()
        assert counts[net.stations.loc[station, "van_capacity"]] == counts.max()
    again = Network.from_json(net.to_json())
    pd.testing.assert_series_equal(again.stem_km, net.stem_km, check_names=False)
    assert again.stations.equals(net.stations)


def test_a_single_change_needs_no_tuple():
    shock = sc.VolumeShock(1.4, "2026-03-01")
    assert sc.Scenario("shock", shock).changes == (shock,)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: sc.VolumeShock(float("nan"), "2026-03-01"),
            "VolumeShock.factor = nan; expected a finite",
        ),
        (
            lambda: sc.VolumeShock(1e6, "2026-03-01"),
            "VolumeShock.factor = 1000000.0; expected a finite number > 0 and <= 100",
        ),
        (lambda: sc.VolumeShock(True, "2026-03-01"), "VolumeShock.factor = True"),
        (lambda: sc.VolumeShock("1.4", "2026-03-01"), "VolumeShock.factor = '1.4'"),
        (
            lambda: sc.VanChange(1e-300, "2026-03-01"),
            "VanChange.capacity = 1e-300; expected a finite number >= 1 and <= 100000 (packages",
        ),
        (lambda: sc.VanChange(1e9, "2026-03-01"), "VanChange.capacity = 1000000000.0"),
        (lambda: sc.ZipMove("10001", "BOS2", "2026-04-01", stem_km=501), "ZipMove.stem_km = 501"),
        (
            lambda: sc.StationLaunch("N", "Boston", "2026-03-01", {"1": 2.0}, van_capacity=0.5),
            "StationLaunch.van_capacity = 0.5; expected a finite number >= 1",
        ),
        (
            lambda: sc.StationLaunch("N", "Boston", "2026-03-01", {"1": 2.0}, shift_hours=0.01),
            "StationLaunch.shift_hours = 0.01; expected a finite number >= 0.5 and <= 24",
        ),
        (
            lambda: sc.StationLaunch("N", "Boston", "2026-03-01", {"1": 1e7}),
            "StationLaunch.stem_km['1'] = 10000000.0; expected a finite number >= 0 and <= 500",
        ),
        (
            lambda: sc.ZipMove("10001", "BOS2 ", "2026-04-01"),
            "ZipMove.station = 'BOS2 '; expected no leading or trailing whitespace: did you mean "
            "'BOS2'?",
        ),
        (lambda: sc.ZipMove(" 10001", "BOS2", "2026-04-01"), "ZipMove.zip = ' 10001'; expected no"),
        (
            lambda: sc.VolumeShock(1.2, "2026-03-01", stations=["BOS1 "]),
            "VolumeShock.stations[0] = 'BOS1 '",
        ),
        (
            lambda: sc.VanChange(300, "2026-03-01", stations=["A", ""]),
            "VanChange.stations[1] = ''; expected a non-empty name",
        ),
        (
            lambda: sc.StationLaunch("N ", "Boston", "2026-03-01", {"1": 2.0}),
            "StationLaunch.station = 'N '",
        ),
        (
            lambda: sc.VolumeShock(1.2, 20260301),
            "VolumeShock.start = 20260301; expected an ISO date",
        ),
        (
            lambda: sc.StationLaunch("N", "B", "2026-03-01", [("1", 2.0)]),
            "StationLaunch.stem_km = [('1', 2.0)]; expected a dict",
        ),
    ],
)
def test_numbers_names_and_dates_outside_their_range_are_refused(make, message):
    with pytest.raises(sc.ScenarioError) as info:
        make()
    assert message in str(info.value)


def test_bounds_of_scenario_numbers_are_allowed():
    assert sc.VolumeShock(100, "2026-03-01").factor == 100.0
    assert sc.VanChange(1, "2026-03-01").capacity == 1.0
    launch = sc.StationLaunch("N", "Boston", "2026-03-01", {"1": 0.0, "2": 500}, shift_hours=0.5)
    assert launch.stem_km == {"1": 0.0, "2": 500.0}
    assert sc.ZipMove("1", "B", pd.Timestamp("2026-03-01").date()).start == pd.Timestamp(
        "2026-03-01"
    )
