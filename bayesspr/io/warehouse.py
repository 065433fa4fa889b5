"""Run tables in a SQL database, for planners who query their results with SQL.

Each monthly run appends its tables (forecast summary, fleet plan, plan diff, monitor
tables, one ``runs`` row) to one database, every row keyed by ``run_id``, in one
transaction: a run is recorded whole or not at all, and a run already recorded is refused
(runs are never overwritten). A column a later run adds is added to the table (earlier runs
read NULL there).

The database is a DuckDB file by default (a path: embedded, no server; tables move as Arrow,
not row by row), or any SQLAlchemy URL where a team has a server (``postgresql://...``; a
URL is anything with ``://``; needs ``pip install bayesspr[sql]``); observations can be read
from either with :func:`read_query`.

    SELECT station, month, vans_needed FROM plan WHERE run_id = '2025-04'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa

from bayesspr.errors import OutputPathError

__all__ = ["is_url", "read_query", "record_run", "recorded_runs"]

#: Table names a run may write (letters, digits, underscores).
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _connect(path: str | os.PathLike[str], read_only: bool = False):  # -> duckdb connection
    import duckdb

    return duckdb.connect(str(path), read_only=read_only)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """A frame as Arrow, without its index.

    A column of Python objects (text, or None throughout) becomes a string column, so an
    all-missing column still has a type.
    """
    out = frame.reset_index(drop=True)
    columns = {}
    for column in out.columns:
        values = out[column]
        if values.dtype == object:
            text = [None if v is None or v is pd.NA else str(v) for v in values]
            columns[str(column)] = pa.array(text, type=pa.string())
        else:
            columns[str(column)] = pa.Array.from_pandas(values)
    return pa.table(columns)


def is_url(target: str | os.PathLike[str]) -> bool:
    """Whether a database target is a SQLAlchemy URL (``scheme://...``) rather than a file."""
    return "://" in str(target)


def _engine(url: str):  # -> sqlalchemy.Engine
    try:
        import sqlalchemy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OutputPathError(
            f"{url}: a SQLAlchemy URL needs sqlalchemy; pip install 'bayesspr[sql]' (or give "
            "a DuckDB file path)"
        ) from exc
    return sqlalchemy.create_engine(_with_installed_driver(sqlalchemy.engine.make_url(url)))


def _with_installed_driver(url):  # sqlalchemy.URL -> sqlalchemy.URL
    """A plain ``postgresql://`` URL through psycopg 3 where psycopg2 is not installed.

    psycopg2 is SQLAlchemy's default PostgreSQL driver; ``bayesspr[sql]`` installs psycopg 3.
    """
    if url.drivername not in ("postgresql", "postgres"):
        return url
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return url.set(drivername="postgresql+psycopg")
    return url.set(drivername="postgresql")


_SQL_TYPES = {
    "f": "DOUBLE PRECISION",
    "i": "BIGINT",
    "u": "BIGINT",
    "b": "BOOLEAN",
    "M": "TIMESTAMP",
}


def _record_sqlalchemy(url: str, run_id: str, tables: Mapping[str, pd.DataFrame]) -> None:
    """:func:`record_run` through SQLAlchemy: one transaction, new columns added."""
    import sqlalchemy

    engine = _engine(url)
    try:
        with engine.begin() as conn:  # commits at the end, rolls back on any error
            inspector = sqlalchemy.inspect(conn)
            for name, frame in tables.items():
                rows = frame.assign(run_id=run_id).reset_index(drop=True)
                if inspector.has_table(name):
                    have = {c["name"] for c in inspector.get_columns(name)}
                    for column in rows.columns:
                        if column not in have:
                            kind = _SQL_TYPES.get(rows[column].dtype.kind, "TEXT")
                            conn.execute(
                                sqlalchemy.text(
                                    f'ALTER TABLE "{name}" ADD COLUMN "{column}" {kind}'
                                )
                            )
                rows.to_sql(name, conn, if_exists="append", index=False)
    finally:
        engine.dispose()


def recorded_runs(path: str | os.PathLike[str]) -> list[str]:
    """The run ids recorded in a database, oldest first (none if it has no runs yet).

    Parameters
    ----------
    path : str or os.PathLike
        A DuckDB file or a SQLAlchemy URL.

    Returns
    -------
    list of str
    """
    if is_url(path):
        import sqlalchemy

        engine = _engine(str(path))
        try:
            with engine.connect() as conn:
                if not sqlalchemy.inspect(conn).has_table("runs"):
                    return []
                query = sqlalchemy.text("SELECT run_id FROM runs ORDER BY recorded_at")
                return [r[0] for r in conn.execute(query)]
        finally:
            engine.dispose()
    if not Path(path).is_file():
        return []
    con = _connect(path, read_only=True)
    try:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "runs" not in tables:
            return []
        rows = con.execute("SELECT run_id FROM runs ORDER BY recorded_at").fetchall()
        return [r[0] for r in rows]
    finally:
        con.close()


def record_run(
    path: str | os.PathLike[str], run_id: str, tables: Mapping[str, pd.DataFrame]
) -> None:
    """Append one run's tables to a DuckDB file, in one transaction.

    Parameters
    ----------
    path : str or os.PathLike
        The DuckDB file (created if missing) or a SQLAlchemy URL.
    run_id : str
        The run's id; every row gets it in a ``run_id`` column. Must contain ``runs`` (one
        row describing the run).
    tables : mapping of str to pandas.DataFrame
        Table name (lower case, letters, digits, underscores) to its rows for this run.

    Raises
    ------
    bayesspr.errors.OutputPathError
        The run is already recorded (runs are never overwritten), a table name is not
        allowed, or ``runs`` is missing. Nothing is written then, nor when an insert fails.
    """
    bad = [name for name in tables if not _NAME.match(name)]
    if bad or "runs" not in tables:
        raise OutputPathError(
            f"tables {bad or list(tables)}: expected lower-case names of letters, digits and "
            "underscores, one of them 'runs'"
        )
    if run_id in recorded_runs(path):
        raise OutputPathError(
            f"run {run_id!r} is already recorded in {path}: runs are never overwritten; give "
            "the new run another id"
        )
    if is_url(path):
        _record_sqlalchemy(str(path), run_id, tables)
        return
    con = _connect(path)
    try:
        con.execute("BEGIN TRANSACTION")
        existing = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        for name, frame in tables.items():
            data = _arrow(frame.assign(run_id=run_id))
            con.register("incoming", data)
            if name not in existing:
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
            else:
                have = {
                    r[0]
                    for r in con.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                        [name],
                    ).fetchall()
                }
                for field in data.schema:
                    if field.name not in have:
                        kind = con.execute(
                            f'SELECT typeof("{field.name}") FROM incoming LIMIT 1'
                        ).fetchone()
                        sql_type = kind[0] if kind else "VARCHAR"
                        con.execute(f'ALTER TABLE "{name}" ADD COLUMN "{field.name}" {sql_type}')
                con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM incoming')
            con.unregister("incoming")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def read_query(path: str | os.PathLike[str], sql: str) -> pd.DataFrame:
    """The rows of a SQL query (a DuckDB file: read only, fetched as Arrow).

    Parameters
    ----------
    path : str or os.PathLike
        The DuckDB file, or a SQLAlchemy URL (read through :func:`pandas.read_sql`).
    sql : str
        The query.

    Returns
    -------
    pandas.DataFrame
    """
    if is_url(path):
        engine = _engine(str(path))
        try:
            return pd.read_sql(sql, engine)
        finally:
            engine.dispose()
    con = _connect(path, read_only=True)
    try:
        return con.sql(sql).to_arrow_table().to_pandas()
    finally:
        con.close()
