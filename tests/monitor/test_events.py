"""Events injected into a simulated month change what they say and nothing else."""

import numpy as np
import pandas as pd
import pytest

from bayesspr import simulate_world
from bayesspr.data.table import validate
from bayesspr.errors import SimulationError
from bayesspr.simulate import EVENT_KINDS, inject_event


@pytest.fixture(scope="module")
def world_month():
    world = simulate_world()
    table = validate(world.table)
    month = table[table["date"] >= table["date"].max() - pd.Timedelta(days=27)]
    return world, month


def _changed(before, after):
    return (before["routes"].to_numpy() != after["routes"].to_numpy()) | (
        before["station"].to_numpy() != after["station"].to_numpy()
    )


def test_quiet_returns_the_month_unchanged(world_month):
    world, month = world_month
    after, event = inject_event(month, world.truth, "quiet")
    pd.testing.assert_frame_equal(after, month)
    assert event.station is None and not event.persistent


def test_an_overhead_jump_adds_routes_at_its_station_only(world_month):
    world, month = world_month
    after, event = inject_event(month, world.truth, "overhead_jump", station="CHI2", size=1.0)
    assert event.persistent and event.size == 1.0
    other = (month["station"] != "CHI2").to_numpy()
    assert (after["routes"].to_numpy()[other] == month["routes"].to_numpy()[other]).all()
    here = ~other
    # an hour less of each shift: clearly more routes there, never fewer than half as many
    assert after["routes"].to_numpy()[here].sum() > 1.05 * month["routes"].to_numpy()[here].sum()
    pd.testing.assert_frame_equal(
        after.drop(columns=["routes", "route_km"]), month.drop(columns=["routes", "route_km"])
    )


def test_a_takeover_moves_one_zip_into_the_station_with_its_stem(world_month):
    world, month = world_month
    after, event = inject_event(month, world.truth, "zip_takeover", station="CHI2", seed=3)
    rows = (month["zip"] == event.zip).to_numpy()
    assert event.zip is not None and (month.loc[rows, "station"] != "CHI2").all()
    assert (after.loc[rows, "station"] == "CHI2").all()
    stem = month.loc[month["station"] == "CHI2", "stem_km"].median()
    assert np.allclose(after.loc[rows, "stem_km"], stem)
    assert not _changed(month, after)[~rows].any()  # the other zips keep their routes
    # 0.35 less efficient: more routes on the zip than before, summed over the month
    assert after.loc[rows, "routes"].sum() > month.loc[rows, "routes"].sum()


def test_an_outage_changes_one_day_at_one_station(world_month):
    world, month = world_month
    after, event = inject_event(month, world.truth, "outage", station="BOS1")
    changed = _changed(month, after)
    assert not event.persistent
    assert set(month.loc[changed, "date"]) <= {event.date}
    assert set(month.loc[changed, "station"]) <= {"BOS1"}
    day = ((month["station"] == "BOS1") & (month["date"] == event.date)).to_numpy()
    assert after.loc[day, "routes"].sum() > month.loc[day, "routes"].sum()


def test_a_new_van_sets_the_capacity_at_its_station(world_month):
    world, month = world_month
    after, event = inject_event(month, world.truth, "new_van", station="BOS2")
    here = (month["station"] == "BOS2").to_numpy()
    assert event.size == 1.5 * month.loc[here, "van_capacity"].max()
    assert (after.loc[here, "van_capacity"] == event.size).all()
    assert (after.loc[~here, "van_capacity"] == month.loc[~here, "van_capacity"]).all()


def test_bad_events_are_named(world_month):
    world, month = world_month
    with pytest.raises(SimulationError, match="event kind 'flood': expected one of"):
        inject_event(month, world.truth, "flood")
    with pytest.raises(SimulationError, match="station 'XXX'"):
        inject_event(month, world.truth, "outage", station="XXX")
    alone = month[month["city"] == "Boston"].assign(city=lambda t: t["station"])
    with pytest.raises(SimulationError, match="two stations"):
        inject_event(alone, world.truth, "zip_takeover")
    assert set(EVENT_KINDS) == {
        "quiet",
        "overhead_jump",
        "zip_takeover",
        "outage",
        "new_van",
        "volume_jump",
    }


def test_a_volume_jump_raises_stops_and_packages_at_its_station(world_month):
    world, month = world_month
    after, event = inject_event(month, world.truth, "volume_jump", station="BOS2", size=0.2)
    assert event.persistent and event.size == 0.2
    here = (month["station"] == "BOS2").to_numpy()
    for column in ("stops", "packages"):
        ratio = after.loc[here, column].sum() / month.loc[here, column].sum()
        assert ratio == pytest.approx(1.2, abs=0.01)
        assert (after.loc[~here, column] == month.loc[~here, column]).all()
    assert after.loc[here, "routes"].sum() > month.loc[here, "routes"].sum()
