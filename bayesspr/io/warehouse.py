"""Run tables in an embedded DuckDB file, for planners who query their results with SQL.

Each monthly run appends its tables (forecast summary, fleet plan, plan diff, monitor
tables, one ``runs`` row) to one DuckDB file, every row keyed by ``run_id``, in one
transaction: a run is recorded whole or not at all, and a run already recorded is refused
(runs are never overwritten). Tables move as Arrow, not row by row; a column a later run adds
is added to the table (earlier runs read NULL there).

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

__all__ = ["read_query", "record_run", "recorded_runs"]

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


def recorded_runs(path: str | os.PathLike[str]) -> list[str]:
    """The run ids recorded in a DuckDB file, oldest first (none if the file is absent)."""
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
        The DuckDB file (created if missing).
    run_id : str
        The run's id; every row gets it in a ``run_id`` column. Must contain ``runs`` (one
        row describing the run).
    tables : mapping of str to pandas.DataFrame
        Table name (lower case, letters, digits, underscores) to its rows for this run.

    Raises
    ------
    OutputPathError
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
    """The rows of a SQL query on a DuckDB file (read only; fetched as Arrow).

    Parameters
    ----------
    path : str or os.PathLike
        The DuckDB file.
    sql : str
        The query.

    Returns
    -------
    pandas.DataFrame
    """
    con = _connect(path, read_only=True)
    try:
        return con.sql(sql).to_arrow_table().to_pandas()
    finally:
        con.close()
