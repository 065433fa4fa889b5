"""Tests for bayesspr.data.table: the observation table and its validation."""

from __future__ import annotations

import datetime as dt
import os
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayesspr.data.table import (
    COLUMNS,
    DEFAULT_SHIFT_HOURS,
    KEY_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    DataError,
    Problem,
    read_table,
    validate,
    write_table,
)

NUMERIC = ("van_capacity", "routes", "packages", "stops", "area_km2", "stem_km", "shift_hours")
TEXT = ("city", "station", "zip")


def small_frame() -> pd.DataFrame:
    """A valid table of four rows with a non-default index and an extra column."""
    return pd.DataFrame(
        {
            "date": ["2024-01-05", "2024-01-05", "2024-01-06", "2024-01-06"],
            "city": ["Boston", "Boston", "Boston", "Cambridge"],
            "station": ["S1", "S1", "S2", "S2"],
            "zip": ["02134", "02135", "02134", "02139"],
            "van_capacity": [150, 150.0, 150, 100],
            "routes": [2, 3.0, 1, 1],
            "packages": [200, 300, 90, 50],
            "stops": [150, 200, 80, 40],
            "area_km2": [3.5, 2.0, 3.5, 4.0],
            "stem_km": [5.0, 0.0, 6.0, 3.0],
            "route_km": [40.0, 35.5, 50.0, 20.0],
            "notes": ["a", "b", "c", "d"],
        },
        index=[10, 11, 12, 13],
    )


def problems_of(df: pd.DataFrame, **kwargs) -> list[Problem]:
    with pytest.raises(DataError) as info:
        validate(df, **kwargs)
    return info.value.problems


def set_cell(df: pd.DataFrame, row, col: str, value) -> pd.DataFrame:
    """Return a copy with one cell replaced (the column becomes object so anything fits)."""
    out = df.copy()
    out[col] = out[col].astype(object)
    out.at[row, col] = value
    return out


def where(problems: list[Problem]) -> set[tuple]:
    return {(p.row, p.column) for p in problems}


# --- valid input ---------------------------------------------------------------------------


def test_valid_frame_is_typed_and_keeps_index_order_and_extras():
    df = small_frame()
    out = validate(df)
    assert out is not df
    assert list(out.index) == [10, 11, 12, 13]
    assert out["date"].dtype == "datetime64[ns]"
    assert list(out["date"]) == [pd.Timestamp("2024-01-05")] * 2 + [pd.Timestamp("2024-01-06")] * 2
    for col in TEXT:
        assert pd.api.types.is_string_dtype(out[col].dtype)
        assert all(isinstance(v, str) for v in out[col])
    assert out["zip"].tolist() == ["02134", "02135", "02134", "02139"]
    for col in ("routes", "packages", "stops"):
        assert out[col].dtype == np.int64
    for col in ("van_capacity", "area_km2", "stem_km", "shift_hours", "route_km"):
        assert out[col].dtype == np.float64
    assert out["routes"].tolist() == [2, 3, 1, 1]
    assert (out["shift_hours"] == DEFAULT_SHIFT_HOURS).all()
    assert list(out.columns) == [c for c in COLUMNS if c in out.columns] + ["notes"]
    pd.testing.assert_series_equal(out["notes"], df["notes"])
    # the input is not modified
    pd.testing.assert_frame_equal(df, small_frame())


def test_dates_are_normalised_to_midnight_and_accept_date_objects():
    df = small_frame()
    df["date"] = [
        dt.date(2024, 1, 5),
        pd.Timestamp("2024-01-05 13:45"),
        np.datetime64("2024-01-06T08:00"),
        "2024-01-06T23:59:59",
    ]
    out = validate(df)
    assert out["date"].dtype == "datetime64[ns]"
    assert out["date"].tolist() == validate(small_frame())["date"].tolist()


def test_present_shift_hours_is_kept_and_nan_in_it_is_a_problem():
    df = small_frame()
    df["shift_hours"] = [6.0, 7.5, 8.0, 10.0]
    assert validate(df)["shift_hours"].tolist() == [6.0, 7.5, 8.0, 10.0]
    df.loc[12, "shift_hours"] = np.nan
    (p,) = problems_of(df)
    assert (p.row, p.column) == (12, "shift_hours")
    assert "missing" in p.rule


def test_validate_is_idempotent_on_small_frame():
    once = validate(small_frame())
    pd.testing.assert_frame_equal(validate(once), once)


def test_forecast_input_without_routes():
    df = small_frame().drop(columns="routes")
    out = validate(df, require_routes=False)
    assert "routes" not in out.columns
    with pytest.raises(DataError, match="routes"):
        validate(df)


def test_forecast_input_with_routes_still_checks_them():
    df = set_cell(small_frame(), 11, "routes", 0)
    (p,) = problems_of(df, require_routes=False)
    assert (p.row, p.column, p.value) == (11, "routes", 0)


def test_integral_floats_accepted_non_integral_rejected():
    df = small_frame()
    df["stops"] = [150.0, 200.0, 80.0, 40.0]
    assert validate(df)["stops"].tolist() == [150, 200, 80, 40]
    (p,) = problems_of(set_cell(df, 13, "stops", 2.5))
    assert (p.row, p.column, p.value) == (13, "stops", 2.5)
    assert p.rule == "expected an integer >= 1 and <= 10000000"


def test_numeric_text_is_parsed_other_text_is_not():
    df = small_frame()
    df["area_km2"] = ["3.5", "2", "3.5", "4.0"]
    assert validate(df)["area_km2"].tolist() == [3.5, 2.0, 3.5, 4.0]
    (p,) = problems_of(set_cell(df, 10, "area_km2", "big"))
    assert (p.row, p.column, p.value) == (10, "area_km2", "big")


def test_nullable_dtypes_are_accepted():
    df = small_frame()
    df["stops"] = df["stops"].astype("Int64")
    df["zip"] = df["zip"].astype("string")
    out = validate(df)
    assert out["stops"].dtype == np.int64
    assert out["zip"].tolist() == ["02134", "02135", "02134", "02139"]
    df.loc[11, "stops"] = pd.NA
    (p,) = problems_of(df)
    assert (p.row, p.column) == (11, "stops")


# --- each rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("col", "value", "rule_part"),
    [
        ("stops", 0, "integer >= 1"),
        ("routes", 0, "integer >= 1"),
        ("packages", -1, "integer >= 0"),
        ("van_capacity", 0, ">= 1"),
        ("area_km2", -2.0, "> 0"),
        ("area_km2", np.inf, "> 0"),
        ("stem_km", -0.1, ">= 0"),
        ("stem_km", -np.inf, ">= 0"),
        ("route_km", 0.0, "> 0"),
        ("van_capacity", "lots", "number"),
        ("routes", 2.5, "integer"),
        ("packages", True, "integer"),
        ("date", "2024-13-45", "date"),
        ("date", "yesterday", "date"),
        ("date", 20240105, "date"),
        ("date", "2300-01-01", "between 1677-09-22 and 2262-04-11"),
        ("zip", 2134, "string"),
        ("city", "", "missing"),
        ("station", "   ", "missing"),
        ("zip", None, "missing"),
        ("stops", np.nan, "missing"),
        ("date", pd.NaT, "missing"),
        ("route_km", np.nan, "missing"),
    ],
)
def test_bad_cell_is_reported_with_row_column_value(col, value, rule_part):
    df = set_cell(small_frame(), 12, col, value)
    problems = problems_of(df)
    mine = [p for p in problems if (p.row, p.column) == (12, col)]
    assert len(mine) == 1, problems
    assert rule_part in mine[0].rule
    if value is not None and not pd.isna(value):
        assert mine[0].value == value
    # bad cells are not passed on to cross-column rules: exactly one problem
    assert len(problems) == 1, problems


def test_shift_hours_out_of_range():
    df = small_frame()
    df["shift_hours"] = [8.0, 0.0, 8.0, 30.0]
    p, q = problems_of(df)
    assert (p.row, p.column, p.value) == (11, "shift_hours", 0.0)
    assert (q.row, q.column, q.value) == (13, "shift_hours", 30.0)
    assert q.rule.startswith("expected a finite number >= 0.5 and <= 24 (h): ")


def test_packages_below_stops():
    df = small_frame()
    df.loc[11, "packages"] = 199  # stops 200
    (p,) = problems_of(df)
    assert (p.row, p.column, p.value) == (11, "packages", 199)
    assert "packages >= stops = 200" in p.rule


def test_packages_above_van_capacity():
    df = small_frame()
    df.loc[13, "packages"] = 101  # 1 route * 100 packages
    (p,) = problems_of(df)
    assert (p.row, p.column, p.value) == (13, "packages", 101)
    assert "routes * van_capacity" in p.rule
    df.loc[13, "packages"] = 100  # exactly full is fine
    validate(df)


def test_capacity_rule_skipped_without_routes():
    df = small_frame().drop(columns="routes")
    df.loc[13, "packages"] = 10_000
    validate(df, require_routes=False)


def test_duplicate_keys_report_every_duplicated_row():
    df = small_frame()
    df.loc[11, "zip"] = "02134"  # same date, zip and van capacity as row 10
    df.loc[13, ["zip", "city", "van_capacity", "date"]] = ["02134", "Boston", 150.0, "2024-01-06"]
    problems = problems_of(df)
    dup = [p for p in problems if "unique (date, zip, van_capacity)" in p.rule]
    assert sorted(p.row for p in dup) == [10, 11, 12, 13]
    by_row = {p.row: p for p in dup}
    assert by_row[10].value == ("2024-01-05", "02134", 150.0)
    assert "also in row(s) 11" in by_row[10].rule
    assert "also in row(s) 12" in by_row[13].rule
    assert len(problems) == len(dup)


def test_same_zip_with_other_van_type_is_not_a_duplicate():
    df = small_frame()
    df.loc[11, ["zip", "van_capacity"]] = ["02134", 120.0]
    validate(df)


def test_zip_in_two_cities_reports_rows_of_that_zip():
    df = small_frame()
    df.loc[12, "city"] = "Cambridge"  # zip 02134 is in Boston in row 10
    problems = problems_of(df)
    assert where(problems) == {(10, "city"), (12, "city")}
    values = {p.row: p.value for p in problems}
    assert values == {10: "Boston", 12: "Cambridge"}
    assert "'Boston', 'Cambridge'" in problems[0].rule


def test_zip_may_move_between_stations():
    df = small_frame()
    assert df.loc[10, "station"] != df.loc[12, "station"]  # same zip, two stations
    validate(df)


def test_missing_required_columns_are_all_named():
    df = small_frame().drop(columns=["stops", "area_km2"])
    problems = problems_of(df)
    assert {(p.row, p.column) for p in problems} == {(None, "stops"), (None, "area_km2")}


def test_not_a_dataframe():
    (p,) = problems_of([{"date": "2024-01-05"}])
    assert p.row is None and "DataFrame" in p.rule and "list" in p.rule


def test_empty_frame():
    df = small_frame().iloc[:0]
    (p,) = problems_of(df)
    assert p.rule == "expected at least one row"


def test_duplicate_column_names():
    df = pd.concat([small_frame(), small_frame()[["stops"]]], axis=1)
    problems = problems_of(df)
    assert [(p.column, p.rule) for p in problems] == [("stops", "expected unique column names")]


def test_duplicate_index_labels():
    df = small_frame()
    df.index = [1, 2, 2, 3]
    (p,) = problems_of(df)
    assert p.row is None and "unique index labels" in p.rule and "2" in p.rule


def test_no_silent_rounding_or_filling():
    df = set_cell(small_frame(), 10, "packages", 200.4)
    (p,) = problems_of(df)
    assert p.value == 200.4


# --- many problems, messages -------------------------------------------------------------------


def test_all_problems_reported_in_one_error():
    df = small_frame().drop(columns="stem_km")
    df = set_cell(df, 10, "stops", 0)
    df = set_cell(df, 11, "date", "not a date")
    df = set_cell(df, 13, "area_km2", -1.0)
    df.loc[12, "packages"] = 5  # < 80 stops
    with pytest.raises(DataError) as info:
        validate(df)
    problems = info.value.problems
    assert [(p.row, p.column) for p in problems] == [
        (None, "stem_km"),
        (10, "stops"),
        (11, "date"),
        (12, "packages"),
        (13, "area_km2"),
    ]
    message = str(info.value)
    assert message.startswith("observation table has 5 problems:")
    assert "row 10, column 'stops', value 0: expected an integer >= 1" in message
    assert "row 11, column 'date', value 'not a date'" in message


def test_message_is_capped_but_problems_are_not():
    n = 60
    df = pd.concat([small_frame().iloc[[0]]] * n, ignore_index=True)
    df["date"] = pd.date_range("2024-01-01", periods=n)
    df["stops"] = 0
    with pytest.raises(DataError) as info:
        validate(df)
    assert len(info.value.problems) == n
    lines = str(info.value).splitlines()
    assert len(lines) == 1 + 50 + 1
    assert lines[-1] == "  ... and 10 more"


def test_problem_str():
    assert str(Problem(17, "stops", 0, "expected an integer >= 1")) == (
        "row 17, column 'stops', value 0: expected an integer >= 1"
    )
    assert str(Problem(None, "zip", None, "required column is missing")) == (
        "column 'zip': required column is missing"
    )
    assert str(Problem(None, None, None, "expected at least one row")) == (
        "expected at least one row"
    )


def test_data_error_is_value_error_and_pickles():
    err = DataError([Problem(1, "stops", 0, "expected an integer >= 1")])
    assert isinstance(err, ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems and str(back) == str(err)


def test_constants():
    assert KEY_COLUMNS == ("date", "zip", "van_capacity")
    assert DEFAULT_SHIFT_HOURS == 8.0
    assert set(COLUMNS) == set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    assert not set(REQUIRED_COLUMNS) & set(OPTIONAL_COLUMNS)
    assert "(km²)" in COLUMNS["area_km2"] and "(packages)" in COLUMNS["van_capacity"]


# --- reading and writing -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pq"])
def test_round_trip(tmp_path, suffix):
    df = small_frame().reset_index(drop=True)
    path = tmp_path / f"obs{suffix}"
    write_table(df, path)
    back = read_table(path)
    pd.testing.assert_frame_equal(back, validate(df))
    assert back["zip"].tolist() == ["02134", "02135", "02134", "02139"]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_csv_round_trip_keeps_floats_exact(tmp_path):
    rng = np.random.default_rng(20240105)
    df = small_frame()
    df["area_km2"] = rng.uniform(0.01, 100.0, size=4)
    df["stem_km"] = [0.1 + 0.2, 1 / 3, 1e-9, 456.78901234567891]
    path = tmp_path / "obs.csv"
    write_table(df, path)
    back = read_table(path)
    np.testing.assert_array_equal(back["area_km2"], df["area_km2"])
    np.testing.assert_array_equal(back["stem_km"], df["stem_km"])


def test_csv_keeps_leading_zeros_written_by_hand(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(
        "date,city,station,zip,van_capacity,routes,packages,stops,area_km2,stem_km\n"
        "2024-01-05,Boston,S1,02134,150,2,200,150,3.5,5.0\n"
        "2024-01-05,Boston,S1,00501,150,1,20,10,1.5,0.5\n"
    )
    out = read_table(path)
    assert out["zip"].tolist() == ["02134", "00501"]
    assert out["routes"].dtype == np.int64


def test_read_csv_reports_rows_by_position(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(
        "date,city,station,zip,van_capacity,packages,stops,area_km2,stem_km\n"
        "2024-01-05,Boston,S1,02134,150,200,150,3.5,5.0\n"
        "2024-01-05,Boston,S1,02135,150,20,,1.5,oops\n"
    )
    with pytest.raises(DataError) as info:
        read_table(path, require_routes=False)
    stops, stem = info.value.problems
    assert (stops.row, stops.column) == (1, "stops") and pd.isna(stops.value)
    assert (stem.row, stem.column, stem.value) == (1, "stem_km", "oops")


def test_write_rejects_invalid_and_leaves_nothing(tmp_path):
    path = tmp_path / "obs.csv"
    with pytest.raises(DataError):
        write_table(set_cell(small_frame(), 10, "stops", 0), path)
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_existing_file_atomically(tmp_path):
    path = tmp_path / "obs.parquet"
    write_table(small_frame(), path)
    df = small_frame()
    df.loc[10, "packages"] = 250
    write_table(df, path)
    assert read_table(path).loc[0, "packages"] == 250
    assert [p.name for p in tmp_path.iterdir()] == ["obs.parquet"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_write_failure_removes_temp_file(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        write_table(small_frame(), tmp_path / "obs.csv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["obs.xlsx", "obs", "obs.csv.gz"])
def test_unknown_suffix(tmp_path, name):
    with pytest.raises(ValueError, match=r"expected \.csv, \.parquet or \.pq"):
        read_table(tmp_path / name)
    with pytest.raises(ValueError, match=r"expected \.csv, \.parquet or \.pq"):
        write_table(small_frame(), tmp_path / name)


# --- properties ---------------------------------------------------------------------------------

ZIPS = {"02134": "Boston", "02135": "Boston", "02139": "Cambridge", "00501": "Holtsville"}


@st.composite
def valid_frames(draw) -> pd.DataFrame:
    """Valid tables: unique keys, one city per zip, one station per zip-day (zips move between
    days), packages within [stops, routes * capacity]."""
    keys = draw(
        st.lists(
            st.tuples(
                st.dates(dt.date(2023, 1, 1), dt.date(2023, 1, 10)),
                st.sampled_from(sorted(ZIPS)),
                st.sampled_from([80.0, 120.0, 150.5]),
            ),
            min_size=1,
            max_size=15,
            unique=True,
        )
    )
    rows = []
    for day, zip_code, cap in keys:
        routes = draw(st.integers(1, 6))
        stops = draw(st.integers(1, int(routes * cap)))
        packages = draw(st.integers(stops, int(routes * cap)))
        rows.append(
            {
                "date": day.isoformat() if draw(st.booleans()) else day,
                "city": ZIPS[zip_code],
                "station": f"S{1 + (day.day + int(zip_code)) % 2}",  # one per zip-day
                "zip": zip_code,
                "van_capacity": cap,
                "routes": routes,
                "packages": packages,
                "stops": stops,
                "area_km2": draw(st.floats(0.01, 500.0)),
                "stem_km": draw(st.floats(0.0, 80.0)),
                "shift_hours": draw(st.floats(0.5, 14.0)),
                "route_km": draw(st.floats(0.1, 400.0)),
            }
        )
    df = pd.DataFrame(rows)
    drop = draw(st.sets(st.sampled_from(OPTIONAL_COLUMNS)))
    return df.drop(columns=sorted(drop))


INVALID = {
    "date": [np.nan, None, "", "not a date", "2023-02-30", 7],
    "city": [np.nan, None, "", " ", 3, "Boston "],
    "station": [np.nan, None, "", 3.5, " S1"],
    "zip": [np.nan, None, "", 2134, "02134\n"],
    "van_capacity": [np.nan, -1.0, 0.0, "abc", np.inf, -np.inf, 1e-300, 1e6],
    "routes": [np.nan, -1, 0, "abc", np.inf, 1.5],
    "packages": [np.nan, -1, "abc", np.inf, -np.inf, 0.5],
    "stops": [np.nan, -3, 0, "abc", np.inf, 2.5],
    "area_km2": [np.nan, -0.5, 0.0, "abc", np.inf],
    "stem_km": [np.nan, -0.5, "abc", np.inf, 1e7],
    "shift_hours": [np.nan, -8.0, 0.0, "abc", np.inf, 0.01, 25.0],
    "route_km": [np.nan, -1.0, 0.0, "abc", np.inf],
}


@settings(max_examples=50, deadline=None, derandomize=True)
@given(df=valid_frames(), data=st.data())
def test_property_corrupted_cell_is_reported(df, data):
    col = data.draw(st.sampled_from(list(df.columns)))
    row = data.draw(st.sampled_from(list(df.index)))
    value = data.draw(st.sampled_from(INVALID[col]))
    with pytest.raises(DataError) as info:
        validate(set_cell(df, row, col, value))
    assert (row, col) in where(info.value.problems)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(df=valid_frames())
def test_property_valid_frames_validate_idempotently(df):
    once = validate(df)
    assert list(once.index) == list(df.index)
    assert once["date"].dtype == "datetime64[ns]"
    pd.testing.assert_frame_equal(validate(once), once)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(df=valid_frames(), data=st.data())
def test_property_dropped_required_column_is_named(df, data):
    col = data.draw(st.sampled_from(REQUIRED_COLUMNS))
    with pytest.raises(DataError) as info:
        validate(df.drop(columns=col))
    assert (None, col) in where(info.value.problems)


def test_a_zip_served_by_two_stations_on_one_day_is_named():
    df = small_frame()
    df.loc[12, "van_capacity"] = 300  # a second van type for zip 02134 on 2024-01-06 ...
    extra = df.loc[[12]].assign(van_capacity=150, station="S3").rename(index={12: 14})
    problems = problems_of(pd.concat([df, extra]))  # ... dispatched from another station
    assert [(p.row, p.column, p.value) for p in problems] == [
        (12, "station", "S2"),
        (14, "station", "S3"),
    ]
    assert "expected one station per zip and day; date 2024-01-06 zip '02134'" in problems[0].rule
    assert "'S2', 'S3'" in problems[0].rule


# --- physical bounds and padded names ----------------------------------------------------------


@pytest.mark.parametrize(
    ("col", "value", "rule_part"),
    [
        ("van_capacity", 1e-300, ">= 1 and <= 100000 (packages per van)"),
        ("van_capacity", 0.5, ">= 1"),
        ("van_capacity", 2e5, "<= 100000"),
        ("stem_km", 1e7, "<= 500 (km): a last-mile station"),
        ("shift_hours", 0.01, ">= 0.5 and <= 24 (h)"),
        ("area_km2", 1e6, "<= 100000 (km²)"),
        ("stops", 10**8, "<= 10000000 (stops)"),
        ("routes", 10**8, "<= 10000000 (routes)"),
        ("packages", 10**8, "<= 10000000 (packages)"),
        ("route_km", 1e5, "<= 3000 (km)"),
    ],
)
def test_values_outside_physical_bounds_are_refused(col, value, rule_part):
    df = small_frame()
    df["shift_hours"] = 8.0
    df = set_cell(df, 12, col, value)
    problems = problems_of(df)
    mine = [p for p in problems if (p.row, p.column) == (12, col)]
    assert len(mine) == 1, problems
    assert mine[0].value == value
    assert rule_part in mine[0].rule, mine[0].rule


def test_tiny_van_capacity_no_longer_overflows_routes():
    """1e-300 packages per van used to pass and make routes overflow to -2**63."""
    df = set_cell(small_frame(), 10, "van_capacity", 1e-300)
    (p,) = [p for p in problems_of(df) if p.column == "van_capacity"]
    assert p.row == 10 and "expected a finite number >= 1" in p.rule


def test_bounds_themselves_are_allowed_and_just_beyond_is_not():
    df = small_frame()
    df["shift_hours"] = [0.5, 24.0, 8.0, 8.0]
    df["stem_km"] = [500.0, 0.0, 6.0, 3.0]
    df["van_capacity"] = [150.0, 150.0, 150.0, 100_000.0]
    validate(df)
    df["shift_hours"] = [0.49, 24.0, 8.0, 8.0]
    df["stem_km"] = [500.5, 0.0, 6.0, 3.0]
    assert where(problems_of(df)) == {(10, "shift_hours"), (10, "stem_km")}


@pytest.mark.parametrize(
    ("col", "value", "meant"),
    [("station", "S1 ", "S1"), ("zip", " 02135", "02135"), ("city", "Boston\t", "Boston")],
)
def test_names_with_leading_or_trailing_whitespace_are_refused(col, value, meant):
    df = small_frame()
    df.loc[11, col] = value
    problems = problems_of(df)
    assert [(p.row, p.column, p.value) for p in problems] == [(11, col, value)]
    assert problems[0].rule == (
        f"expected no leading or trailing whitespace (it would make a new {col}): "
        f"did you mean {meant!r}?"
    )
    assert f"row 11, column {col!r}, value {value!r}" in str(DataError(problems))


def test_padded_names_in_a_string_dtype_column_and_from_csv(tmp_path):
    df = small_frame()
    df["station"] = df["station"].astype("string")
    df.loc[13, "station"] = "S2 "
    (p,) = problems_of(df)
    assert (p.row, p.column, p.value) == (13, "station", "S2 ")
    path = tmp_path / "obs.csv"
    path.write_text(
        "date,city,station,zip,van_capacity,routes,packages,stops,area_km2,stem_km\n"
        "2024-01-05,Boston,BOS1 ,02134,150,2,200,150,3.5,5.0\n"
    )
    with pytest.raises(DataError, match=r"value 'BOS1 '.*did you mean 'BOS1'\?"):
        read_table(path)


def test_padded_names_are_listed_with_every_other_problem():
    df = set_cell(small_frame(), 10, "stops", 0)
    df.loc[12, "zip"] = "02134 "
    problems = problems_of(df)
    assert where(problems) == {(10, "stops"), (12, "zip")}
