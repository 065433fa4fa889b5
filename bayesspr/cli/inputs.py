"""The user's input tables the commands read: planned volume and fleets, checked by row."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from bayesspr.cli.verdict import check_loaded, load_fit
from bayesspr.data import table as data
from bayesspr.data.network import Network
from bayesspr.errors import (
    ArgumentError,
    FleetConfigError,
    VolumeDataError,
)
from bayesspr.forecasting.scenario import ScenarioError
from bayesspr.io.files import (
    file_kind,
)
from bayesspr.volume.model import VolumeModel

#: Columns of a planned-volume table (``plan --volume table.csv``).
PLANNED_VOLUME_COLUMNS = ("date", "zip", "stops", "packages")
#: Columns of a fleet table that may hold the vans per station (``absorb --fleet``), by priority.
VANS_COLUMNS = ("vans_to_buy", "vans")


def parse_at(text: str, what: str) -> tuple[float, str]:
    """Parse ``VALUE@DATE`` (e.g. ``1.4@2026-03-01``)."""
    value, sep, day = text.partition("@")
    if not sep or not day:
        raise ScenarioError(f"{what} {text!r}: expected VALUE@DATE, e.g. 1.4@2026-03-01")
    try:
        return float(value), day
    except ValueError:
        raise ScenarioError(f"{what} {text!r}: {value!r} is not a number") from None


def _planned_problem(problem: data.Problem) -> data.Problem:
    """Word a problem of the canonical rules for a planned-volume table."""
    rule, value = problem.rule, problem.value
    if "(date, zip, van_capacity)" in rule:  # van_capacity is a stand-in here
        rule = rule.replace("(date, zip, van_capacity)", "(date, zip): one row per zip and day")
        value = tuple(value)[:2] if isinstance(value, tuple) else value
    if problem.column == "stops" and value == 0:
        rule += ", or stops = packages = 0 for a zip-day without deliveries"
    return data.Problem(problem.row, problem.column, value, rule)


def validate_planned_volume(table: pd.DataFrame, where: str = "volume table") -> pd.DataFrame:
    """Check a planned-volume table (``date``, ``zip``, ``stops``, ``packages`` per zip-day).

    The rules are the observation table's (:func:`bayesspr.data.table.validate`): ISO dates,
    non-empty zips, whole ``stops`` >= 1 and ``packages`` >= ``stops``, one row per zip and
    day; a zip-day without deliveries may give ``stops = packages = 0``.

    Parameters
    ----------
    table : pandas.DataFrame
        The table as read (other columns are ignored).
    where : str
        Where the table came from, for messages (e.g. ``"--volume plan.csv"``).

    Returns
    -------
    pandas.DataFrame
        ``date`` (datetime64), ``zip`` (str), ``stops`` and ``packages`` (int64: stops and
        packages per zip-day), same rows and index.

    Raises
    ------
    VolumeDataError
        Listing every problem: missing columns, no rows, and each bad cell by row, column,
        value and the rule it breaks.
    """
    missing = [c for c in PLANNED_VOLUME_COLUMNS if c not in table.columns]
    if missing or table.empty:
        lack = f"lacks column(s) {missing}" if missing else "has no rows"
        raise VolumeDataError(
            f"{where}: the planned-volume table {lack}; expected columns date, "
            "zip, stops, packages with one row per zip and forecast day"
        )
    frame = table[list(PLANNED_VOLUME_COLUMNS)].copy()
    numbers = {c: pd.to_numeric(frame[c], errors="coerce") for c in ("stops", "packages")}
    quiet = numbers["stops"].eq(0) & numbers["packages"].eq(0)  # a zip-day without deliveries
    frame.loc[quiet, ["stops", "packages"]] = 1  # checked as one stop; set back below
    stand_ins = {"city": "-", "station": "-", "van_capacity": 1.0, "area_km2": 1.0, "stem_km": 0.0}
    try:
        clean = data.validate(frame.assign(**stand_ins), require_routes=False)
    except data.DataError as exc:
        problems = [_planned_problem(p) for p in exc.problems]
        shown = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise VolumeDataError(
            f"{where}: the planned-volume table has {len(problems)} problem(s) (row: 0-based "
            f"data row; in a CSV, file line row + 2):\n{shown}{more}\nfix these rows and run "
            "again"
        ) from None
    clean = clean[list(PLANNED_VOLUME_COLUMNS)].copy()
    clean.loc[quiet, ["stops", "packages"]] = 0
    return clean


def volume_source(
    args: argparse.Namespace,
) -> tuple[Any, Network | None, pd.Timestamp | None, pd.DataFrame | None]:
    """The volume (a fit or a planned-volume table), network, first day and history table.

    The ``--history`` table is read once here (None without one). A planned-volume table is
    validated here; a fit is loaded later (:func:`load_volume`), after the cheap checks.
    """
    source = Path(args.volume)
    history = None if args.history is None else data.read_table(args.history, require_routes=False)
    network = None if history is None else Network.from_table(history)
    is_fit = source.suffix.lower() == ".nc" or (source.is_file() and file_kind(source) == "hdf5")
    if is_fit:
        return source, network, None, history
    if network is None:
        raise ArgumentError(
            f"--volume {source} is a table: give --history, the canonical table that "
            "describes the network (zips, stations, stem km, vans)"
        )
    table = validate_planned_volume(data.read_raw_table(source), f"--volume {source}")
    _check_planned_zips(table, network, f"--volume {source}", f"--history {args.history}")
    return table, network, pd.Timestamp(table["date"].min()).normalize(), history


def _check_planned_zips(table: pd.DataFrame, network: Network, where: str, history: str) -> None:
    """Every row's zip is one of the network's, and every zip of the network has rows."""
    known = set(network.zips.index.astype(str))
    unknown = table.index[~table["zip"].astype(str).isin(known)]
    if len(unknown):
        shown = "\n".join(
            f"  row {i}, column 'zip': value {table.at[i, 'zip']!r} is not a zip of "
            f"the network in {history}"
            for i in unknown[:20]
        )
        more = f"\n  ... and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        raise VolumeDataError(
            f"{where}: {len(unknown)} row(s) name a zip the network does not have (row: 0-based "
            f"data row; in a CSV, file line row + 2):\n{shown}{more}\nexpected one of "
            f"{sorted(known)[:10]}{' ...' if len(known) > 10 else ''}: fix the zip, or give a "
            "--history table in which that zip is served"
        )
    without = sorted(known - set(table["zip"].astype(str)))
    if without:
        raise VolumeDataError(
            f"{where}: no rows for {len(without)} zip(s) of the network in {history}: "
            f"{without[:10]}{' ...' if len(without) > 10 else ''}; expected rows for every zip "
            "the network serves (stops 0 and packages 0 for a zip with no volume)"
        )


def load_volume(
    args: argparse.Namespace, source: Any, network: Network | None, first_day: Any
) -> tuple[Any, Network, pd.Timestamp]:
    """Load a volume fit named by ``source`` (a table passes through)."""
    if not isinstance(source, Path):
        return source, network, first_day
    volume = load_fit(VolumeModel, source)
    check_loaded(volume, str(source), "--volume", args)
    network = volume.network if network is None else network
    if network is None:
        raise ArgumentError(
            f"--volume {source}: the volume fit carries no network (it was fitted "
            "on a table without the canonical columns); give --history"
        )
    return volume, network, volume.last_date + pd.Timedelta(days=1)


def read_fleet(path: str) -> pd.Series:
    """Vans per station from a fleet table, e.g. the fleet.csv of ``bayesspr plan``.

    The table needs ``station`` and the vans owned: ``vans_to_buy`` (plan's fleet.csv) or
    ``vans``.
    """
    table = data.read_raw_table(path)
    column = next((c for c in VANS_COLUMNS if c in table.columns), None)
    if column is None or "station" not in table.columns or table.empty:
        lack = "has no rows"
        if column is None or "station" not in table.columns:
            lack = f"has columns {list(table.columns)}"
        raise FleetConfigError(
            f"--fleet {path} {lack}: expected a table with a station column and "
            f"the vans per station in {' or '.join(VANS_COLUMNS)} (the fleet.csv "
            "'bayesspr plan' writes); or give --vans N"
        )
    vans = pd.to_numeric(table[column], errors="coerce")
    ok = vans.notna() & (vans >= 0) & (vans == vans.round()) & vans.lt(1e9)
    station = table["station"].astype(str).str.strip()
    ok &= table["station"].notna() & station.ne("")
    if not ok.all():
        i = int(ok.to_numpy().argmin())
        raise FleetConfigError(
            f"--fleet {path}: row {i}, station {table['station'].iloc[i]!r}, "
            f"column {column!r}, value {table[column].iloc[i]!r}: expected a "
            "station name and a whole number of vans >= 0; fix the row"
        )
    repeated = station[station.duplicated()].unique()
    if len(repeated):
        raise FleetConfigError(
            f"--fleet {path}: station {repeated[0]!r} appears in more than one row "
            "(several van types?): expected one row per station; keep the rows "
            "of one van type"
        )
    return pd.Series(vans.to_numpy(dtype="int64"), index=station.to_numpy(), name="vans")
