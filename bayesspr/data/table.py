"""The observation table: one row per delivery day × zip × van type.

Every other part of bayesspr reads its data through :func:`validate`,
:func:`read_table` or :func:`write_table`, so the checks live in one place.
A table either comes back clean and typed, or one :class:`DataError` lists
every problem found; nothing is silently dropped, rounded or filled (except
``shift_hours``, which defaults to :data:`DEFAULT_SHIFT_HOURS` when the
column is absent altogether).

See ``docs/data.md`` for the column reference and the validation rules.
"""

from __future__ import annotations

import datetime as dt
import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from bayesspr.defaults import DEFAULT_SHIFT_HOURS as DEFAULT_SHIFT_HOURS  # re-exported
from bayesspr.errors import ArgumentError, DataError, Problem
from bayesspr.io.files import atomic_write, table_format

__all__ = [
    "COLUMNS",
    "DEFAULT_SHIFT_HOURS",
    "KEY_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "DataError",
    "Problem",
    "read_raw_table",
    "read_table",
    "validate",
    "write_table",
]

COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "date": "delivery day (calendar date)",
        "city": "city of the zip (text)",
        "station": "station that served the zip that day (text)",
        "zip": "zip / postal code (text, leading zeros kept)",
        "van_capacity": "packages one van of this type carries (packages)",
        "routes": "routes dispatched to this zip that day with this van type (routes)",
        "packages": "packages delivered; in forecast input, planned volume (packages)",
        "stops": "delivery stops, i.e. addresses (stops)",
        "area_km2": "service area of the zip (km²)",
        "stem_km": "straight-line distance from the station to the zip's centroid (km)",
        "shift_hours": "on-road hours a route may take (h)",
        "route_km": "mean road length of the routes (km)",
    }
)
"""Column name -> short description with unit, in canonical column order."""

REQUIRED_COLUMNS: tuple[str, ...] = (
    "date",
    "city",
    "station",
    "zip",
    "van_capacity",
    "routes",
    "packages",
    "stops",
    "area_km2",
    "stem_km",
)
"""Columns every table must have (``routes`` may be absent in forecast input)."""

OPTIONAL_COLUMNS: tuple[str, ...] = ("shift_hours", "route_km")
"""Columns that may be absent; when present they are validated like the rest."""

KEY_COLUMNS: tuple[str, ...] = ("date", "zip", "van_capacity")
"""Columns that identify a row; no two rows may share them."""


_STR_DTYPE = "str"  # pandas' default string dtype (object in pandas 2)


class _Spec(NamedTuple):
    """How one column is parsed and bounded."""

    kind: str  # "date", "text", "int" or "float"
    lower: float | None = None  # lower bound of a numeric column
    inclusive: bool = True  # whether the lower bound itself is allowed
    upper: float | None = None  # inclusive upper bound of a numeric column, if any
    why: str = ""  # unit and reason of the bounds, shown after an out-of-range value

    @property
    def expect(self) -> str:
        """Describe a valid value, e.g. ``"an integer >= 1 and <= 10000000"``."""
        if self.kind == "date":
            return "a date (ISO 8601 text such as '2024-03-15', or a date value)"
        if self.kind == "text":
            return "a non-empty string"
        noun = "an integer" if self.kind == "int" else "a finite number"
        rule = f"{noun} {'>=' if self.inclusive else '>'} {_bound(self.lower)}"
        return rule if self.upper is None else f"{rule} and <= {_bound(self.upper)}"


def _bound(value: float | None) -> str:
    """Print a bound as people write it: ``10000000``, ``0.5``, not ``1e+07``."""
    v = float(value)  # type: ignore[arg-type]
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:g}"


# Largest count of routes, packages or stops in one row (a zip-day of one van type).
_MAX_COUNT = 10_000_000

_SPECS: Mapping[str, _Spec] = MappingProxyType(
    {
        "date": _Spec("date"),
        "city": _Spec("text"),
        "station": _Spec("text"),
        "zip": _Spec("text"),
        "van_capacity": _Spec(
            "float",
            1.0,
            upper=100_000.0,
            why="(packages per van): a van carries at least one package, and no van 100,000",
        ),
        "routes": _Spec(
            "int",
            1.0,
            upper=_MAX_COUNT,
            why="(routes): a row has at least one route; more than 10 million is not one zip-day",
        ),
        "packages": _Spec(
            "int",
            0.0,
            upper=_MAX_COUNT,
            why="(packages): a count is not negative; more than 10 million is not one zip-day",
        ),
        "stops": _Spec(
            "int",
            1.0,
            upper=_MAX_COUNT,
            why="(stops): a row has at least one stop; more than 10 million is not one zip-day",
        ),
        "area_km2": _Spec(
            "float",
            0.0,
            inclusive=False,
            upper=100_000.0,
            why="(km²): a last-mile zip is not larger than 100,000 km²; check the unit is "
            "km², not m²",
        ),
        "stem_km": _Spec(
            "float",
            0.0,
            upper=500.0,
            why="(km): a last-mile station is not more than 500 km from its zips; check the "
            "unit is km, not m",
        ),
        "shift_hours": _Spec(
            "float",
            0.5,
            upper=24.0,
            why="(h): a route takes at least half an hour and at most a day; check the unit "
            "is hours, not minutes",
        ),
        "route_km": _Spec(
            "float",
            0.0,
            inclusive=False,
            upper=3_000.0,
            why="(km): a one-day route is not longer than 3,000 km (24 h at 125 km/h); check "
            "the unit is km, not m",
        ),
    }
)


def validate(df: pd.DataFrame, *, require_routes: bool = True) -> pd.DataFrame:
    """Check an observation table and return a clean, typed copy.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per delivery day × zip × van type, with the columns of
        :data:`COLUMNS`. Any index with unique labels; extra columns are
        allowed and returned unchanged.
    require_routes : bool, default True
        Whether ``routes`` must be present. Pass False for forecast input,
        where routes are what is being forecast; when present it is
        validated all the same.

    Returns
    -------
    pandas.DataFrame
        A new frame with the same index and row order and the known columns
        in canonical order, then the extra ones: ``date`` as datetime64[ns] at
        midnight, ``city``/``station``/``zip`` as strings, ``routes``,
        ``packages``, ``stops`` as int64, the other numbers as float64 (km,
        km², h, packages per van). ``shift_hours`` is added, filled with
        :data:`DEFAULT_SHIFT_HOURS` (h), only if the column is absent.

    Raises
    ------
    DataError
        Listing every problem found: not a DataFrame, no rows, missing or
        duplicated columns, duplicated index labels, missing, unparseable,
        non-integral or out-of-range values (each numeric column has physical
        bounds, e.g. ``1 <= van_capacity <= 100000`` packages, ``stem_km <= 500``
        km, ``0.5 <= shift_hours <= 24`` h; see ``docs/data.md``), names with
        leading or trailing whitespace (``'BOS1 '``), ``packages < stops``,
        ``packages > routes * van_capacity``, duplicated
        (date, zip, van_capacity) keys, zips that belong to two cities, and a zip served by
        two stations on one day.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            [Problem(None, None, None, f"expected a pandas DataFrame, got {type(df).__name__}")]
        )
    problems = _frame_problems(df, require_routes)
    if any(p.rule.startswith("expected unique column") for p in problems):
        raise DataError(problems)  # df[col] would be ambiguous; nothing more to check

    present = [c for c in COLUMNS if c in df.columns]
    found: list[tuple[int, int, Problem]] = []  # (row position, order, problem)
    parsed: dict[str, pd.Series] = {}
    valid: dict[str, np.ndarray] = {}
    for col in present:
        parsed[col], valid[col], cell_problems = _check_column(df[col], _SPECS[col])
        found += [(pos, len(found) + i, p) for i, (pos, p) in enumerate(cell_problems)]
    for pos, p in _row_problems(df.index, parsed, valid):
        found.append((pos, len(found), p))
    problems += [p for _, _, p in sorted(found, key=lambda t: t[:2])]
    if problems:
        raise DataError(problems)

    out = pd.DataFrame({col: parsed[col] for col in present}, index=df.index)
    if "shift_hours" not in df.columns:
        out.insert(
            out.columns.get_loc("stem_km") + 1,
            "shift_hours",
            np.full(len(df), DEFAULT_SHIFT_HOURS, dtype="float64"),
        )
    extras = [c for c in df.columns if c not in COLUMNS]
    return pd.concat([out, df[extras]], axis=1) if extras else out


def read_table(path: str | os.PathLike[str], *, require_routes: bool = True) -> pd.DataFrame:
    """Read an observation table from CSV or Parquet and validate it.

    Parameters
    ----------
    path : str or os.PathLike
        File ending in ``.csv``, ``.parquet`` or ``.pq``. In CSV, ``zip``,
        ``city`` and ``station`` are read as text (a zip such as ``02134``
        keeps its leading zero) and dates as ISO 8601 text.
    require_routes : bool, default True
        Passed to :func:`validate`; False for forecast input.

    Returns
    -------
    pandas.DataFrame
        The validated table, with a fresh RangeIndex (row labels in errors
        are 0-based data rows; in CSV that is file line ``row + 2``).

    Raises
    ------
    ValueError
        If the suffix is not a known one.
    DataError
        If the table breaks any rule (see :func:`validate`).
    """
    return validate(read_raw_table(path), require_routes=require_routes)


def read_raw_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet table as it is, without validating it.

    For tables that are not observation tables (a volume history with only date, zip, stops
    and packages, for instance); ``city``, ``station`` and ``zip`` are read as text.

    Parameters
    ----------
    path : str or os.PathLike
        ``.csv``, ``.parquet`` or ``.pq`` file.

    Returns
    -------
    pandas.DataFrame
        The table as read.

    Raises
    ------
    ValueError
        If the suffix is not a known one.
    """
    if _kind(path) == "csv":
        return pd.read_csv(path, dtype={"city": str, "station": str, "zip": str})
    return pd.read_parquet(path)


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Validate an observation table and write it atomically to CSV or Parquet.

    The table is validated with ``require_routes=False`` and the clean, typed
    frame is written (without its index) to a temporary file in the target's
    folder, which then replaces ``path`` in one step, so readers never see a
    half-written file.

    Parameters
    ----------
    df : pandas.DataFrame
        The observation table.
    path : str or os.PathLike
        Target ending in ``.csv``, ``.parquet`` or ``.pq``; its folder is created if missing.

    Raises
    ------
    ValueError
        If the suffix is not a known one.
    DataError
        If the table breaks any rule (see :func:`validate`); nothing is written.
    """
    kind = _kind(path)
    clean = validate(df, require_routes=False)
    if kind == "csv":
        atomic_write(lambda tmp: clean.to_csv(tmp, index=False), path)
    else:
        atomic_write(lambda tmp: clean.to_parquet(tmp, index=False), path)


# --- helpers ---------------------------------------------------------------------------------


def _kind(path: str | os.PathLike[str]) -> str:
    """Return ``"csv"`` or ``"parquet"`` from a file suffix, or raise ValueError."""
    found = table_format(path)
    if found is None:
        raise ArgumentError(
            f"cannot tell the format of {os.fspath(path)!r} from suffix "
            f"{Path(path).suffix.lower()!r}: expected .csv, .parquet or .pq"
        )
    return found


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python ones so problems print as ``2.5``, not ``np.float64``."""
    return value.item() if isinstance(value, np.generic) else value


def _is_typed(s: pd.Series) -> bool:
    """Whether a column has a numeric or datetime dtype (so it holds no text)."""
    return pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype)


def _frame_problems(df: pd.DataFrame, require_routes: bool) -> list[Problem]:
    """Problems with the frame as a whole: no rows, missing or duplicated columns, index."""
    problems = []
    if len(df) == 0:
        problems.append(Problem(None, None, None, "expected at least one row"))
    required = [c for c in REQUIRED_COLUMNS if require_routes or c != "routes"]
    for col in required:
        if col not in df.columns:
            problems.append(Problem(None, col, None, f"required column is missing: {COLUMNS[col]}"))
    for col in dict.fromkeys(df.columns[df.columns.duplicated()]):
        problems.append(Problem(None, col, None, "expected unique column names"))
    dup_labels = df.index[df.index.duplicated()].unique()
    if len(dup_labels):
        shown = ", ".join(map(str, dup_labels[:10])) + (", ..." if len(dup_labels) > 10 else "")
        problems.append(
            Problem(None, None, None, f"expected unique index labels; repeated: {shown}")
        )
    return problems


def _check_column(
    s: pd.Series, spec: _Spec
) -> tuple[pd.Series, np.ndarray, list[tuple[int, Problem]]]:
    """Parse one column and find its bad cells.

    Returns
    -------
    parsed : pandas.Series
        The typed column (meaningful only where ``valid``).
    valid : numpy.ndarray of bool
        Which cells passed.
    problems : list of (int, Problem)
        Row position and problem for each bad cell (at most one per cell).
    """
    missing = _missing_cells(s)
    parse = {"text": _parse_text, "date": _parse_date_column}.get(spec.kind, _parse_numeric)
    # bad_type: not a number / date / string at all; bad_value: the right type, out of range
    parsed, bad_type, bad_value, value_rule = parse(s, spec, missing)
    problems = _cell_problems(s, spec, missing, bad_type, bad_value, value_rule)
    return parsed, ~(missing | bad_type | bad_value), problems


def _missing_cells(s: pd.Series) -> np.ndarray:
    """Which cells are missing: NA, or text that is empty or only whitespace."""
    missing = s.isna().to_numpy(copy=True)
    if isinstance(s.dtype, pd.StringDtype):  # every present value is a str
        missing |= s.str.strip().eq("").to_numpy(dtype=bool, na_value=False)
    elif not _is_typed(s):
        missing |= s.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
    return missing


_Parsed = tuple[pd.Series, np.ndarray, np.ndarray, str]  # parsed, bad type, bad value, rule


def _parse_text(s: pd.Series, spec: _Spec, missing: np.ndarray) -> _Parsed:
    """Parse a text column; a value padded with whitespace is a bad value."""
    bad_type = np.zeros(len(s), dtype=bool)
    if not isinstance(s.dtype, pd.StringDtype):
        bad_type = ~missing & ~s.map(lambda v: isinstance(v, str)).to_numpy(bool)
    text = s.astype(object).where(~(missing | bad_type), "")
    bad_value = text.map(lambda v: v != v.strip()).to_numpy(bool)
    return text.astype(_STR_DTYPE), bad_type, bad_value, f"expected {spec.expect}"


def _parse_date_column(s: pd.Series, spec: _Spec, missing: np.ndarray) -> _Parsed:
    """Parse a date column; a date pandas cannot hold (before 1677, after 2262) is bad."""
    parsed, bad_type = _parse_dates(s, missing)
    lo, hi = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
    in_range = ((parsed >= lo) & (parsed <= hi)).to_numpy(dtype=bool, na_value=False)
    bad_type |= ~missing & parsed.isna().to_numpy()  # text that is not a date
    bad_value = ~missing & ~bad_type & ~in_range
    value_rule = f"expected a date between {lo.date()} and {hi.date()}"
    parsed = parsed.where(in_range).dt.normalize().astype("datetime64[ns]")
    return parsed, bad_type, bad_value, value_rule


def _parse_numeric(s: pd.Series, spec: _Spec, missing: np.ndarray) -> _Parsed:
    """Parse an integer or float column and check it against the spec's bounds."""
    values, bad_type = _parse_numbers(s, missing)
    with np.errstate(invalid="ignore"):
        above = values >= spec.lower if spec.inclusive else values > spec.lower
        in_range = np.isfinite(values) & above
        if spec.upper is not None:
            in_range &= values <= spec.upper
        whole = (values == np.floor(values)) if spec.kind == "int" else in_range
    ok = in_range & whole
    # out of range: the rule with its unit and reason; a fraction in an integer column:
    # the plain rule (the bounds' reason is beside the point)
    bad_value = ~missing & ~bad_type & ~in_range
    bad_type |= ~missing & in_range & ~whole
    value_rule = f"expected {spec.expect}" + (f" {spec.why}" if spec.why else "")
    if spec.kind == "int":
        if pd.api.types.is_integer_dtype(s.dtype) and ok.all():
            values = s.to_numpy(dtype="int64")  # exact, no trip through float
        else:
            values = np.where(ok, values, 0).astype("int64")
    return pd.Series(values, index=s.index, dtype=values.dtype), bad_type, bad_value, value_rule


def _cell_problems(
    s: pd.Series,
    spec: _Spec,
    missing: np.ndarray,
    bad_type: np.ndarray,
    bad_value: np.ndarray,
    value_rule: str,
) -> list[tuple[int, Problem]]:
    """One problem per bad cell (missing, wrong type, bad value), by row position."""
    problems = []
    raw = s.to_numpy(dtype=object) if (missing | bad_type | bad_value).any() else None
    for mask, rule in (
        (missing, f"missing value: expected {spec.expect}"),
        (bad_type, f"expected {spec.expect}"),
        (bad_value, value_rule),
    ):
        for pos in np.flatnonzero(mask):
            value = _plain(raw[pos])
            if spec.kind == "text" and mask is bad_value:  # a name padded with whitespace
                rule = (
                    "expected no leading or trailing whitespace (it would make a new "
                    f"{s.name}): did you mean {value.strip()!r}?"
                )
            problems.append((int(pos), Problem(_plain(s.index[pos]), s.name, value, rule)))
    problems.sort(key=lambda t: t[0])
    return problems


def _parse_dates(s: pd.Series, missing: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Parse a date column; return timestamps (NaT where unparseable) and a wrong-type mask."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        tz = getattr(s.dtype, "tz", None)
        return (s.dt.tz_localize(None) if tz is not None else s), np.zeros(len(s), dtype=bool)
    obj = s.astype(object)
    is_date = obj.map(lambda v: isinstance(v, str | dt.date | np.datetime64)).to_numpy(bool)
    bad_type = ~missing & ~is_date
    candidates = obj.where(is_date & ~missing)
    try:
        parsed = pd.to_datetime(candidates, errors="coerce", format="ISO8601")
    except (ValueError, TypeError):  # e.g. mixed time zones: parse one by one
        parsed = pd.to_datetime(candidates.map(_one_date), errors="coerce")
    if getattr(parsed.dtype, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed, bad_type


def _one_date(value: Any) -> pd.Timestamp:
    """Parse a single date, dropping any time zone (keeps the local wall-clock day)."""
    try:
        ts = pd.Timestamp(pd.to_datetime(value, format="ISO8601"))
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def _parse_numbers(s: pd.Series, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse a numeric column to float64 (NaN where not a number) and a wrong-type mask.

    Numbers and numeric text (as read from CSV) are accepted; booleans, dates
    and other text are wrong types.
    """
    if pd.api.types.is_bool_dtype(s.dtype):
        return np.full(len(s), np.nan), ~missing
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(s), dtype=bool)
    obj = s.astype(object)
    is_number = obj.map(
        lambda v: isinstance(v, str | numbers.Real) and not isinstance(v, bool | np.bool_)
    ).to_numpy(bool)
    values = pd.to_numeric(obj.where(is_number & ~missing), errors="coerce")
    values = values.to_numpy(dtype="float64", na_value=np.nan)
    bad_type = ~missing & (~is_number | np.isnan(values))
    return values, bad_type


#: The one-parent-per-child rules: (child key columns, parent column, rule). A zip lies in
#: one city, and one station serves a zip on a given day (a zip may move to another station
#: from one day to the next; a station may serve zips of two cities).
_ONE_PARENT = (
    (("zip",), "city", "one city per zip"),
    (("date", "zip"), "station", "one station per zip and day"),
)

_Columns = Mapping[str, np.ndarray]


def _row_problems(
    index: pd.Index, parsed: Mapping[str, pd.Series], valid: Mapping[str, np.ndarray]
) -> list[tuple[int, Problem]]:
    """Rules across columns and rows, checked only where the cells involved are valid."""
    col = {c: s.to_numpy() for c, s in parsed.items()}

    def usable(*cols: str) -> np.ndarray | None:
        if not all(c in parsed for c in cols):
            return None
        return np.logical_and.reduce([valid[c] for c in cols])

    checks = [
        (usable("packages", "stops"), _packages_below_stops),
        (usable("packages", "routes", "van_capacity"), _packages_over_capacity),
        (usable(*KEY_COLUMNS), _duplicate_keys),
    ]
    out: list[tuple[int, Problem]] = []
    for ok, check in checks:
        if ok is not None:
            out += check(index, col, ok)
    for keys, parent, noun in _ONE_PARENT:
        ok = usable(*keys, parent)
        if ok is not None:
            out += _two_parents(index, col, ok, keys, parent, noun)
    return out


def _rows(index: pd.Index, mask: np.ndarray) -> Iterable[tuple[int, Any]]:
    """(row position, row label) of every row where ``mask`` holds."""
    return ((int(p), _plain(index[p])) for p in np.flatnonzero(mask))


def _packages_below_stops(
    index: pd.Index, col: _Columns, ok: np.ndarray
) -> list[tuple[int, Problem]]:
    """Rows with fewer packages than stops (every stop receives at least one package)."""
    pk, st = col["packages"], col["stops"]
    out = []
    for pos, row in _rows(index, ok & (pk < st)):
        rule = f"expected packages >= stops = {st[pos]} (every stop receives at least one package)"
        out.append((pos, Problem(row, "packages", int(pk[pos]), rule)))
    return out


def _packages_over_capacity(
    index: pd.Index, col: _Columns, ok: np.ndarray
) -> list[tuple[int, Problem]]:
    """Rows with more packages than their routes' vans could carry."""
    pk, rt, cap = col["packages"], col["routes"], col["van_capacity"]
    with np.errstate(invalid="ignore", over="ignore"):
        over = ok & (pk > rt * cap * (1 + 1e-12))
    out = []
    for pos, row in _rows(index, over):
        rule = (
            f"expected packages <= routes * van_capacity = {rt[pos]} * {cap[pos]:g} "
            f"= {rt[pos] * cap[pos]:g} (the vans could not have carried more)"
        )
        out.append((pos, Problem(row, "packages", int(pk[pos]), rule)))
    return out


def _duplicate_keys(index: pd.Index, col: _Columns, ok: np.ndarray) -> list[tuple[int, Problem]]:
    """Rows that share their (date, zip, van_capacity) with another row, naming the others."""
    keys = pd.DataFrame({c: col[c] for c in KEY_COLUMNS})
    dup = ok & keys.duplicated(keep=False).to_numpy()
    group = keys.groupby(list(KEY_COLUMNS), sort=False).ngroup().to_numpy()
    dup_pos = np.flatnonzero(dup)
    members = pd.Series(dup_pos).groupby(group[dup_pos]).agg(list).to_dict()
    days = pd.DatetimeIndex(col["date"][dup_pos]).strftime("%Y-%m-%d")
    out = []
    for i, (pos, row) in enumerate(_rows(index, dup)):
        same = members[group[pos]]
        others = [str(_plain(index[p])) for p in same[:6] if p != pos][:5]
        shown = ", ".join(others) + (", ..." if len(same) > 6 else "")
        key = (days[i], col["zip"][pos], float(col["van_capacity"][pos]))
        rule = f"expected a unique (date, zip, van_capacity); also in row(s) {shown}"
        out.append((pos, Problem(row, None, key, rule)))
    return out


def _two_parents(
    index: pd.Index,
    col: _Columns,
    ok: np.ndarray,
    keys: tuple[str, ...],
    parent: str,
    noun: str,
) -> list[tuple[int, Problem]]:
    """Rows whose key (a zip, a zip-day) appears with more than one ``parent``."""
    frame = pd.DataFrame({c: col[c] for c in (*keys, parent)})[ok]
    n_parents = frame.groupby(list(keys), sort=False)[parent].nunique()
    torn = n_parents.index[n_parents > 1]
    if not len(torn):
        return []
    parents = (
        frame.set_index(list(keys)).loc[torn].groupby(level=list(range(len(keys))))[parent].unique()
    )
    key_of = (
        pd.MultiIndex.from_arrays([col[k] for k in keys])
        if len(keys) > 1
        else (pd.Index(col[keys[0]]))
    )
    out = []
    for pos, row in _rows(index, ok & key_of.isin(torn)):
        key = key_of[pos]
        shown = ", ".join(repr(_plain(v)) for v in sorted(parents[key]))
        label = " ".join(
            f"{k} {pd.Timestamp(v):%Y-%m-%d}" if k == "date" else f"{k} {v!r}"
            for k, v in zip(keys, key if len(keys) > 1 else (key,), strict=True)
        )
        rule = f"expected {noun}; {label} appears with {parent} {shown}"
        out.append((pos, Problem(row, parent, col[parent][pos], rule)))
    return out
