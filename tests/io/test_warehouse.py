"""Run tables in a real DuckDB file and, through SQLAlchemy, a real SQLite file and a real
PostgreSQL server (pgserver's binaries, started in a temporary folder; no mocks)."""

import itertools
import warnings

import pandas as pd
import pytest

from bayesspr.errors import OutputPathError
from bayesspr.io.warehouse import is_url, read_query, record_run, recorded_runs


def _run(when, vans, **extra):
    runs = pd.DataFrame({"recorded_at": [pd.Timestamp(when, tz="UTC")], "previous_run": [None]})
    plan = pd.DataFrame(
        {"station": ["A", "B"], "month": pd.to_datetime(["2025-04-01"] * 2), "vans": vans, **extra}
    )
    return {"runs": runs, "plan": plan}


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A PostgreSQL server of its own for this module; skipped where pgserver is missing."""
    pgserver = pytest.importorskip("pgserver", reason="pip install pgserver (a dev dependency)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR not set
        try:
            server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
        except Exception as exc:  # e.g. a sandbox without shared memory
            pytest.skip(f"a PostgreSQL server could not start here: {exc}")
    databases = itertools.count()
    yield server, databases
    server.cleanup()


@pytest.fixture(params=["duckdb", "sqlite", "postgresql"])
def target(request, tmp_path):
    if request.param == "duckdb":
        return tmp_path / "runs.duckdb"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/r.db"
    server, databases = request.getfixturevalue("postgres")
    name = f"runs_{next(databases)}"
    server.psql(f"CREATE DATABASE {name};")
    return server.get_uri(name)  # a plain postgresql:// URL, as a team would give it


def test_two_runs_compare_with_sql_and_a_later_column_is_added(target):
    assert recorded_runs(target) == []
    record_run(target, "2025-03", _run("2025-04-01", [3, 4]))
    record_run(target, "2025-04", _run("2025-05-01", [5, 4], share=[0.5, 0.25]))
    assert recorded_runs(target) == ["2025-03", "2025-04"]
    compared = read_query(
        target,
        "SELECT a.station, a.vans AS last_run, b.vans AS this_run FROM plan a JOIN plan b "
        "ON a.station = b.station WHERE a.run_id = '2025-03' AND b.run_id = '2025-04' "
        "ORDER BY a.station",
    )
    assert compared.values.tolist() == [["A", 3, 5], ["B", 4, 4]]
    shares = read_query(target, "SELECT run_id, share FROM plan ORDER BY run_id, station")
    assert shares["share"].isna().tolist() == [True, True, False, False]
    assert is_url(target) == isinstance(target, str)


def test_a_run_is_never_overwritten_and_a_failed_run_leaves_nothing(target):
    record_run(target, "2025-03", _run("2025-04-01", [3, 4]))
    with pytest.raises(OutputPathError, match="already recorded"):
        record_run(target, "2025-03", _run("2025-04-02", [9, 9]))
    broken = _run("2025-05-01", [5, 4])
    broken["extra"] = pd.DataFrame({"z": [1 + 2j]})  # complex numbers: no SQL type takes them
    with pytest.raises(Exception):  # noqa: B017 - the database driver's own error
        record_run(target, "2025-04", broken)
    assert recorded_runs(target) == ["2025-03"]  # the runs row rolled back with the plan
    assert read_query(target, "SELECT count(*) AS n FROM plan")["n"].item() == 2


def test_bad_table_names_are_refused(tmp_path):
    with pytest.raises(OutputPathError, match="one of them 'runs'"):
        record_run(tmp_path / "x.duckdb", "r", {"plan": pd.DataFrame({"a": [1]})})
    with pytest.raises(OutputPathError, match="lower-case names"):
        record_run(
            tmp_path / "x.duckdb", "r", {"runs": pd.DataFrame(), "Drop Table": pd.DataFrame()}
        )
