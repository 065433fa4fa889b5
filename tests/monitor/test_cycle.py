"""``bayesspr cycle`` twice on the demo world: monitor, re-fit, re-plan, diff, lineage, SQL.

Run 1 takes the first six weeks as history and the next four as its new month (no earlier run:
nothing to monitor); run 2 takes run 1's history and the four weeks after, with a zip taken
over at CHI2 injected. Fits are short (SPR 2 chains × 200 draws, volume 2 chains × 250 per
block): the cycle is under test, not the models.
"""

import hashlib
import json
import signal
import subprocess
import sys

import pandas as pd
import pytest

from bayesspr import simulate_world
from bayesspr.cli.main import main
from bayesspr.data.table import validate, write_table
from bayesspr.io.warehouse import read_query, record_run, recorded_runs
from bayesspr.monitor.cycle import STEPS
from bayesspr.simulate import inject_event

FAST = [
    *("--draws", "200", "--tune", "300", "--chains", "2", "--samples", "200"),
    *("--volume-draws", "250", "--volume-tune", "300", "--volume-chains", "2"),
]
WEEKS = pd.Timedelta(days=28)


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cycle")
    world = simulate_world()
    table = validate(world.table)
    first, second = pd.Timestamp("2025-02-17"), pd.Timestamp("2025-03-17")
    history = table[table["date"] < first]
    month1 = table[(table["date"] >= first) & (table["date"] < second)]
    month2 = table[(table["date"] >= second) & (table["date"] < second + WEEKS)]
    month2, event = inject_event(month2, world.truth, "zip_takeover", station="CHI2")
    # and BOS1 opens a zip the first run never saw (a copy of one of its zips, relabelled)
    opened = month2[month2["zip"] == "10002"].assign(zip="10098")
    month2 = pd.concat([month2, opened], ignore_index=True)
    month3 = table[table["date"] >= second + WEEKS]
    paths = {name: root / f"{name}.csv" for name in ("history", "month1", "month2", "month3")}
    for name, rows in zip(paths, (history, month1, month2, month3), strict=True):
        write_table(rows, paths[name])
    runs = root / "runs"
    argv = ["cycle", "--runs", str(runs), *FAST]
    assert (
        main([*argv, "--history", str(paths["history"]), "--new-month", str(paths["month1"])]) == 0
    )
    assert main([*argv, "--new-month", str(paths["month2"])]) == 0  # history: run 1's
    return runs, paths, event


def test_each_run_has_its_folder_and_lineage(two_runs):
    runs, _, _ = two_runs
    first, second = runs / "2025-02", runs / "2025-03"
    assert {p.name for p in second.iterdir()} >= {
        "manifest.json",
        "history.parquet",
        "spr.nc",
        "volume.nc",
        "plan.csv",
        "forecast_summary.csv",
        "monitor_stations.csv",
        "monitor_zips.csv",
        "monitor_stations.png",
        "plan_diff.csv",
    }
    assert not (first / "plan_diff.csv").exists()  # a first run has nothing to compare
    m1 = json.loads((first / "manifest.json").read_text())
    m2 = json.loads((second / "manifest.json").read_text())
    assert m1["previous_run"] is None and m2["previous_run"] == "2025-02"
    assert m2["history_last_date"] == "2025-04-13" and m2["new_month"][0] == "2025-03-17"
    assert set(m2["model_spec_ids"]) == {"spr", "volume"} and m2["bayesspr_version"]
    assert (m2["settings"]["volume_draws"], m2["settings"]["volume_chains"]) == (250, 2)
    assert m2["inputs"]["history"]["path"].endswith("2025-02/history.parquet")
    assert len(m2["inputs"]["new_month"]["sha256"]) == 64
    for name, digest in m2["files"].items():
        assert hashlib.sha256((second / name).read_bytes()).hexdigest() == digest


def test_the_second_run_flags_the_takeover_and_diffs_the_plan(two_runs):
    runs, _, event = two_runs
    second = runs / "2025-03"
    assert json.loads((second / "manifest.json").read_text())["flagged"] == ["CHI2"]
    monitor = pd.read_csv(second / "monitor_stations.csv")
    top = monitor.iloc[0]
    assert top["station"] == "CHI2" and f"zip {event.zip}" in top["cause"]
    diff = pd.read_csv(second / "plan_diff.csv")
    assert set(diff["driver"]) <= {"volume", "SPR", "new zips", "several", "none"}
    split = diff["from_volume"] + diff["from_spr"] + diff["from_new_zips"]
    assert (split - diff["change"]).abs().max() < 1e-9  # the parts add up
    chi2 = diff[diff["station"] == "CHI2"]
    assert chi2["from_spr"].mean() > 0  # the less efficient zip needs more vans
    new_zip = diff.groupby("station")["from_new_zips"].mean()
    # BOS1 needs vans for it; elsewhere only Monte Carlo noise (the draws' layout changed)
    assert new_zip["BOS1"] > 2 and (new_zip.drop("BOS1").abs() < 0.5).all()
    changes = monitor.set_index("station").loc["BOS1", "changes"]
    assert "zip 10098 newly served (never seen)" in changes


def test_two_runs_compare_with_plain_sql(two_runs):
    runs, _, _ = two_runs
    db = runs / "runs.duckdb"
    assert recorded_runs(db) == ["2025-02", "2025-03"]
    compared = read_query(
        db,
        """
        SELECT station, last.vans AS vans_last_run, this.vans AS vans_this_run
        FROM (SELECT station, max(vans_needed) AS vans FROM plan
              WHERE run_id = '2025-03' GROUP BY station) AS this
        JOIN (SELECT station, max(vans_needed) AS vans FROM plan
              WHERE run_id = '2025-02' GROUP BY station) AS last USING (station)
        ORDER BY station
        """,
    )
    assert compared["station"].tolist() == ["BOS1", "BOS2", "BOS3", "CHI1", "CHI2"]
    assert (compared[["vans_last_run", "vans_this_run"]] > 0).all().all()
    flagged = read_query(db, "SELECT run_id, station FROM monitor_stations WHERE flagged")
    assert flagged.values.tolist() == [["2025-03", "CHI2"]]


def test_a_run_is_never_overwritten(two_runs, capsys):
    runs, paths, _ = two_runs
    before = _hashes(runs / "2025-03")
    argv = ["cycle", "--runs", str(runs), "--new-month", str(paths["month2"]), *FAST]
    argv += ["--history", str(paths["history"])]
    assert main(argv) == 2
    assert "runs are never overwritten" in capsys.readouterr().err
    assert _hashes(runs / "2025-03") == before


def test_a_failed_step_names_itself_and_leaves_the_runs(two_runs, monkeypatch, capsys):
    runs, paths, _ = two_runs
    from bayesspr.volume.model import VolumeModel

    def broken(self, *args, **kwargs):
        raise RuntimeError("sampler crashed")

    monkeypatch.setattr(VolumeModel, "fit", broken)
    before = {run: _hashes(runs / run) for run in ("2025-02", "2025-03")}
    # the new month read with SQL from a warehouse file (a DuckDB table of observations)
    source = runs.parent / "warehouse.duckdb"
    record_run(
        source,
        "observations",
        {
            "runs": pd.DataFrame({"recorded_at": [pd.Timestamp(0)]}),
            "deliveries": pd.read_csv(paths["month3"], dtype={"zip": str}),
        },
    )
    query = "SELECT * EXCLUDE (run_id) FROM deliveries ORDER BY date, zip"
    argv = ["cycle", "--runs", str(runs), "--new-month-query", query, "--source", str(source)]
    assert main([*argv, *FAST]) == 2
    out, err = capsys.readouterr()
    assert f"{STEPS[1]}: done" in out  # the month from SQL was validated and monitored
    assert f"step 4 ({STEPS[3]}) failed: sampler crashed" in err
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == [
        "2025-02",
        "2025-03",
        "runs.duckdb",
    ]
    assert {run: _hashes(runs / run) for run in before} == before
    assert recorded_runs(runs / "runs.duckdb") == ["2025-02", "2025-03"]


def test_a_killed_cycle_leaves_the_earlier_runs_intact(two_runs):
    runs, paths, _ = two_runs
    before = {run: _hashes(runs / run) for run in ("2025-02", "2025-03")}
    code = "import sys; from bayesspr.cli.main import main; sys.exit(main(sys.argv[1:]))"
    argv = ["cycle", "--runs", str(runs), "--new-month", str(paths["month3"]), *FAST]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in proc.stdout:  # killed mid-way: after the monitor, while it re-fits
        if line.startswith(f"{STEPS[1]}: done"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert {run: _hashes(runs / run) for run in before} == before
    assert not (runs / "2025-04").exists()
    assert recorded_runs(runs / "runs.duckdb") == ["2025-02", "2025-03"]


def test_a_cycle_on_local_dask_workers_writes_the_same_plan(two_runs, tmp_path, monkeypatch):
    """``cycle --workers 2``: the forecasts' blocks on a 2-worker LocalCluster, the same plan
    and plan diff as in process (the fits are the last run's, so only the switch differs)."""
    import shutil

    pytest.importorskip("distributed")
    from bayesspr.monitor import cycle

    runs, paths, _ = two_runs
    last = cycle.last_run(runs)
    monkeypatch.setattr(cycle, "_fit_spr", lambda updated, settings, client: last.spr)
    monkeypatch.setattr(cycle, "_fit_volume", lambda updated, settings, client: last.volume)
    clients = []
    real_forecast = cycle.forecast

    def recorded(*args, client=None, **kwargs):
        clients.append(None if client is None else len(client.scheduler_info()["workers"]))
        return real_forecast(*args, client=client, **kwargs)

    monkeypatch.setattr(cycle, "forecast", recorded)
    written = {}
    for name, extra in (("local", []), ("dask", ["--workers", "2"])):
        copy = tmp_path / name
        shutil.copytree(runs, copy)
        argv = ["cycle", "--runs", str(copy), "--new-month", str(paths["month3"]), *FAST, *extra]
        assert main(argv) == 0
        written[name] = {
            part: pd.read_csv(copy / "2025-04" / f"{part}.csv") for part in ("plan", "plan_diff")
        }
    # 4 forecasts a run (this month's and the diff's three others: every zip is known to
    # both runs' fits); the second run's on 2 workers
    assert clients == [None] * 4 + [2] * 4
    for part in ("plan", "plan_diff"):
        pd.testing.assert_frame_equal(written["dask"][part], written["local"][part])
