"""The monthly cycle: monitor, re-fit, re-plan, and record what changed and why.

One call of :func:`run_cycle` takes the history and a new month of observations and, step by
step (:data:`STEPS`):

1. validates the new month (a canonical table with routes, every day after the history);
2. monitors it against the last run's SPR and volume fits (:func:`monitor_month`), if there
   is a last run;
3. re-fits both models on the history with the new month;
4. forecasts routes (``horizon``, 16 months by default) and plans the fleet per station and
   month at a service level;
5. compares the plan with the one the last run's models make for the same months, and puts
   each station-month's change on the volume forecast, on SPR (a two-factor Shapley split
   over the four plans of old/new SPR × old/new volume, all on the same days, network and
   draws seed) and on zips the last run never saw;
6. writes a dated run folder, whole or not at all, beside the earlier runs (never over one):
   the fits, the updated history, the monitor tables, the plan, the plan diff and a manifest
   with each input's SHA-256, the models' spec ids, package versions, diagnostics and the
   last run it follows;
7. records the run's tables in a DuckDB file (:mod:`bayesspr.io.warehouse`), in one
   transaction.

A step that fails raises :class:`CycleError` naming it; nothing of the new run is left, and
the earlier runs are untouched.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesspr.data import table as data
from bayesspr.defaults import installed_version
from bayesspr.errors import BayessprError
from bayesspr.fleet import decisions as fleet
from bayesspr.forecasting.compose import forecast
from bayesspr.io.files import atomic_folder, sha256_of, write_csv
from bayesspr.io.warehouse import is_url, record_run, recorded_runs
from bayesspr.monitor.charts import write_monitor_chart
from bayesspr.monitor.surprise import MonitorReport, monitor_month
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel

__all__ = [
    "STEPS",
    "CycleError",
    "CycleResult",
    "CycleSettings",
    "last_run",
    "last_run_folder",
    "run_cycle",
]

#: The cycle's steps, in order (a failure names one of them).
STEPS = (
    "validate the new month",
    "monitor against the last run",
    "re-fit the SPR model",
    "re-fit the volume model",
    "forecast and plan the fleet",
    "compare with the last run's plan",
    "write the run folder",
    "record the run in the database",
)
#: Files of a run folder (with ``manifest.json``); the monitor's only after a first run.
RUN_FILES = (
    "history.parquet",
    "spr.nc",
    "volume.nc",
    "plan.csv",
    "forecast_summary.csv",
)
MONITOR_RUN_FILES = (
    "monitor_stations.csv",
    "monitor_zips.csv",
    "monitor_stations.png",
    "plan_diff.csv",
)
#: A station-month's change smaller than this (vans) is called no change.
NO_CHANGE_VANS = 0.5


class CycleError(BayessprError, RuntimeError):
    """A step of the monthly cycle failed; the earlier runs are as they were."""


@dataclass(frozen=True)
class CycleSettings:
    """What the cycle fits, forecasts and plans with.

    Attributes
    ----------
    horizon : str
        Forecast horizon (``"16M"``).
    service_level : float
        The fleet covers a peak day with this probability (–).
    n_samples : int
        Joint forecast draws.
    seed : int
        Seed of the fits, the forecasts and the monitor.
    draws, tune, chains : int, optional
        SPR sampler settings (default: the spec's).
    volume_draws, volume_tune, volume_chains : int, optional
        The volume model's sampler settings, per block (default: its spec's).
    fdr : float
        The monitor's false discovery rate (–).
    """

    horizon: str = "16M"
    service_level: float = 0.95
    n_samples: int = 400
    seed: int = 0
    draws: int | None = None
    tune: int | None = None
    chains: int | None = None
    volume_draws: int | None = None
    volume_tune: int | None = None
    volume_chains: int | None = None
    fdr: float = 0.05


@dataclass
class CycleResult:
    """What a cycle made.

    Attributes
    ----------
    run_id : str
        The run (the new month, ``YYYY-MM``, unless given).
    folder : pathlib.Path
        The run folder.
    previous : str or None
        The run it follows.
    report : MonitorReport or None
        The monitor's report (None on a first run).
    plan : pandas.DataFrame
        Vans needed per station and month (``fleet.plan``'s table).
    diff : pandas.DataFrame or None
        Per station and month: ``vans_before`` (the last run's models), ``vans_after``,
        ``change``, ``from_volume``, ``from_spr``, ``from_new_zips`` (vans; they sum to the
        change) and ``driver`` (``volume``, ``SPR`` or ``new zips`` when that part is at
        least twice each other, ``several`` otherwise, ``none`` when all are under half a
        van).
    """

    run_id: str
    folder: Path
    previous: str | None
    report: MonitorReport | None
    plan: pd.DataFrame
    diff: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Run:
    """An earlier run: its id, folder, fits and history."""

    run_id: str
    folder: Path
    spr: SPRModel
    volume: VolumeModel
    last_date: pd.Timestamp


def _step(name: str) -> Callable:
    """Run a step; any error becomes a CycleError that names it."""

    def wrap(fn: Callable) -> Callable:
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except CycleError:
                raise
            except Exception as exc:
                number = STEPS.index(name) + 1
                raise CycleError(
                    f"step {number} ({name}) failed: {exc}; nothing of the new run was kept "
                    "and the earlier runs are as they were"
                ) from exc

        return run

    return wrap


def last_run_folder(runs: Path) -> Path | None:
    """The folder of the latest complete run in ``runs`` (by its history's last day).

    Reads the manifests only; None when there is no run.
    """
    found = []
    for manifest in sorted(runs.glob("*/manifest.json")):
        record = json.loads(manifest.read_text(encoding="utf-8"))
        if record.get("kind") == "bayesspr cycle run":
            found.append((pd.Timestamp(record["history_last_date"]), manifest.parent))
    return max(found, key=lambda item: item[0])[1] if found else None


def last_run(runs: Path) -> _Run | None:
    """The latest complete run in ``runs`` with its fits loaded, or None."""
    folder = last_run_folder(runs) if runs.is_dir() else None
    if folder is None:
        return None
    record = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    last_date = pd.Timestamp(record["history_last_date"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spr = SPRModel.load(folder / "spr.nc")
        volume = VolumeModel.load(folder / "volume.nc")
    return _Run(record["run_id"], folder, spr, volume, last_date)


@_step("validate the new month")
def _validated(history: pd.DataFrame, new_month: pd.DataFrame) -> tuple:
    before = data.validate(history)
    month = data.validate(new_month)
    if month["date"].min() <= before["date"].max():
        raise CycleError(
            f"step 1 (validate the new month) failed: the new month starts "
            f"{month['date'].min():%Y-%m-%d}, not after the history's last day "
            f"{before['date'].max():%Y-%m-%d}; give the days after the history"
        )
    updated = pd.concat([before, month], ignore_index=True)
    return before, month, updated


@_step("monitor against the last run")
def _monitor(previous: _Run, before, month, settings: CycleSettings) -> MonitorReport:
    return monitor_month(
        previous.spr,
        month,
        volume_model=previous.volume,
        history=before,
        fdr=settings.fdr,
        random_seed=settings.seed,
    )


@_step("re-fit the SPR model")
def _fit_spr(updated: pd.DataFrame, settings: CycleSettings, client: Any = None) -> SPRModel:
    return SPRModel().fit(
        updated,
        random_seed=settings.seed,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        client=client,
    )


@_step("re-fit the volume model")
def _fit_volume(updated: pd.DataFrame, settings: CycleSettings, client: Any = None) -> VolumeModel:
    return VolumeModel().fit(
        updated,
        random_seed=settings.seed,
        draws=settings.volume_draws,
        tune=settings.volume_tune,
        chains=settings.volume_chains,
        client=client,
    )


def _vans(spr, volume, updated, start, settings: CycleSettings, client=None) -> tuple:
    """The forecast and the vans needed per station-month on the cycle's days and network.

    ``client``: a Dask client the forecast's blocks are drawn on (the same draws), or None.
    """
    result = forecast(
        spr,
        volume,
        settings.horizon,
        network=updated,
        start=start,
        n_samples=settings.n_samples,
        random_seed=settings.seed,
        keep_zips=False,
        client=client,
    )
    table = fleet.plan(result.draws, settings.service_level).table
    vans = table.groupby(["station", "month"])["vans_needed"].sum()
    return result, table, vans


@_step("forecast and plan the fleet")
def _plan(spr, volume, updated, start, settings, client=None):
    return _vans(spr, volume, updated, start, settings, client)


@_step("compare with the last run's plan")
def _diff(
    previous: _Run, spr, volume, updated, start, settings, after, client=None
) -> pd.DataFrame:
    """Vans before and after per station-month, the change split into volume and SPR.

    The four plans of the split run on the zips the last run's volume fit knows; zips it
    never saw (opened in the new month) are a part of their own, ``from_new_zips``: this
    run's plan with them less this run's plan without them.
    """
    known = updated["zip"].isin(previous.volume.zips.index)
    common = updated[known]
    new_new = after if known.all() else _vans(spr, volume, common, start, settings, client)[2]
    old_old = _vans(previous.spr, previous.volume, common, start, settings, client)[2]
    new_old = _vans(spr, previous.volume, common, start, settings, client)[2]  # new SPR
    old_new = _vans(previous.spr, volume, common, start, settings, client)[2]  # new volume
    frame = pd.DataFrame(
        {
            "vans_before": old_old,
            "vans_after": after,
            "new_both": new_new,
            "new_spr": new_old,
            "new_volume": old_new,
        }
    ).fillna(0.0)
    frame["change"] = frame["vans_after"] - frame["vans_before"]
    frame["from_volume"] = 0.5 * (
        (frame["new_both"] - frame["new_spr"]) + (frame["new_volume"] - frame["vans_before"])
    )
    frame["from_spr"] = 0.5 * (
        (frame["new_both"] - frame["new_volume"]) + (frame["new_spr"] - frame["vans_before"])
    )
    frame["from_new_zips"] = frame["vans_after"] - frame["new_both"]
    parts = frame[["from_volume", "from_spr", "from_new_zips"]].abs()
    biggest = parts.idxmax(axis=1).map(
        {"from_volume": "volume", "from_spr": "SPR", "from_new_zips": "new zips"}
    )
    ordered = np.sort(parts.to_numpy(), axis=1)
    frame["driver"] = np.where(
        ordered[:, -1] < NO_CHANGE_VANS,
        "none",
        np.where(ordered[:, -1] >= 2 * ordered[:, -2], biggest, "several"),
    )
    return frame.drop(columns=["new_both", "new_spr", "new_volume"]).reset_index()


def _run_id(month: pd.DataFrame, run_id: str | None) -> str:
    return run_id or f"{month['date'].min():%Y-%m}"


@_step("write the run folder")
def _write(folder: Path, parts: dict, manifest: dict, record: Callable[[], None]) -> None:
    """Write the run folder whole, beside the earlier runs.

    ``record`` (the database step) runs before the folder moves into place, so a run is in
    the folder and the database both, or in neither.
    """
    if folder.exists():
        raise CycleError(
            f"step 7 (write the run folder) failed: {folder} exists; runs are never "
            "overwritten: give --run-id or another --runs folder"
        )
    with atomic_folder(folder) as tmp:
        data.write_table(parts["history"], tmp / "history.parquet")
        parts["spr"].save(tmp / "spr.nc")
        parts["volume"].save(tmp / "volume.nc")
        write_csv(parts["plan"], tmp / "plan.csv")
        write_csv(parts["summary"], tmp / "forecast_summary.csv")
        report = parts["report"]
        if report is not None:
            write_csv(report.stations, tmp / "monitor_stations.csv")
            write_csv(report.zips, tmp / "monitor_zips.csv")
            write_monitor_chart(report, tmp, parts["before"])
            write_csv(parts["diff"], tmp / "plan_diff.csv")
        files = {p.name: sha256_of(p) for p in sorted(tmp.iterdir())}
        manifest = {**manifest, "files": files}
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, indent=2, default=str), encoding="utf-8"
        )
        record()


@_step("record the run in the database")
def _record(db: Path | str, run_id: str, tables: dict) -> None:
    record_run(db, run_id, tables)


def run_cycle(
    history: pd.DataFrame,
    new_month: pd.DataFrame,
    runs: str | Path,
    *,
    run_id: str | None = None,
    db: str | Path | None = None,
    settings: CycleSettings | None = None,
    inputs: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    client: Any = None,
) -> CycleResult:
    """One month of the operating cycle (see the module doc).

    Parameters
    ----------
    history : pandas.DataFrame
        The observations before the new month (canonical, with routes); the last run's
        ``history.parquet`` when there is one.
    new_month : pandas.DataFrame
        The new month's observations (canonical, with routes), every day after ``history``.
    runs : str or pathlib.Path
        Folder of the runs: the last complete run there is what the month is monitored and
        compared against; the new run becomes ``runs / run_id``.
    run_id : str, optional
        The new run's id (default: the new month's ``YYYY-MM``).
    db : str or pathlib.Path, optional
        DuckDB file or SQLAlchemy URL the run's tables are appended to (default
        ``runs / "runs.duckdb"``).
    settings : CycleSettings, optional
        Fits, forecast, plan and monitor settings.
    inputs : dict of str to str, optional
        The files the tables came from, by role (their SHA-256 go to the manifest); a role
        whose value is not a file (a SQL query, say) is recorded as given.
    progress : callable, optional
        Called with a line as each step ends.
    client : distributed.Client, optional
        A Dask client: the forecasts' blocks of zips are drawn on its workers (the same
        draws as without it; see :func:`bayesspr.forecast`), an SPR fit that takes the
        Laplace route holds its rows there (``SPRModel.fit(client=...)``), and so would the
        volume fit's zips block where ``VolumeModel.shard_min_zips`` says so (by default it
        does not).

    Returns
    -------
    CycleResult

    Raises
    ------
    CycleError
        Naming the step that failed; nothing of the new run is kept.
    """
    import time

    settings = settings or CycleSettings()
    say = progress or (lambda line: None)
    runs = Path(runs)
    db = runs / "runs.duckdb" if db is None else (str(db) if is_url(db) else Path(db))
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def done(step: str) -> None:
        nonlocal clock
        timings[step] = time.perf_counter() - clock
        clock = time.perf_counter()
        say(f"{step}: done in {timings[step]:.0f} s")

    before, month, updated = _validated(history, new_month)
    rid = _run_id(month, run_id)
    folder = runs / rid
    if folder.exists() or rid in recorded_runs(db):
        raise CycleError(
            f"step 1 (validate the new month) failed: run {rid!r} exists in {runs} or {db}; "
            "runs are never overwritten: give another run id"
        )
    done(STEPS[0])
    previous = last_run(runs)
    report = None
    if previous is not None:
        report = _monitor(previous, before, month, settings)
        done(STEPS[1])
        say(report.summary())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spr = _fit_spr(updated, settings, client)
        done(STEPS[2])
        volume = _fit_volume(updated, settings, client)
        done(STEPS[3])
    start = updated["date"].max() + pd.Timedelta(days=1)
    result, plan_table, after = _plan(spr, volume, updated, start, settings, client)
    done(STEPS[4])
    diff = None
    if previous is not None:
        diff = _diff(previous, spr, volume, updated, start, settings, after, client)
        done(STEPS[5])
    manifest = {
        "kind": "bayesspr cycle run",
        "run_id": rid,
        "previous_run": None if previous is None else previous.run_id,
        "history_last_date": str(updated["date"].max().date()),
        "new_month": [str(month["date"].min().date()), str(month["date"].max().date())],
        "bayesspr_version": installed_version(),
        "model_spec_ids": {"spr": spr.spec_id(), "volume": volume.spec_id()},
        "fits": {"spr": spr.verdict(), "volume": volume.verdict()},
        "settings": settings.__dict__,
        "inputs": {
            role: {"path": str(path), "sha256": sha256_of(path)}
            if Path(str(path)).is_file()
            else {"query": str(path)}
            for role, path in (inputs or {}).items()
        },
        "flagged": [] if report is None else report.flagged()["station"].tolist(),
        "steps_seconds": timings,
    }
    parts = {
        "history": updated,
        "before": before,
        "spr": spr,
        "volume": volume,
        "plan": plan_table,
        "summary": result.summary,
        "report": report,
        "diff": diff,
    }
    tables = {
        "runs": pd.DataFrame(
            [
                {
                    "recorded_at": pd.Timestamp.now(tz="UTC"),
                    "previous_run": manifest["previous_run"],
                    "history_last_date": pd.Timestamp(manifest["history_last_date"]),
                    "folder": str(folder),
                    "flagged_stations": len(manifest["flagged"]),
                    "spr_spec_id": spr.spec_id(),
                    "volume_spec_id": volume.spec_id(),
                }
            ]
        ),
        "plan": plan_table,
        "forecast_summary": result.summary,
    }
    if report is not None:
        tables["monitor_stations"] = report.stations
        tables["plan_diff"] = diff
    _write(folder, parts, manifest, lambda: _record(db, rid, tables))
    done(STEPS[6])
    return CycleResult(rid, folder, manifest["previous_run"], report, plan_table, diff, timings)
