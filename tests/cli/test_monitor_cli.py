"""``bayesspr monitor``: the demo fits against a month with a known event, end to end."""

import json

import pandas as pd
import pytest

from bayesspr import simulate_world
from bayesspr.cli.main import main
from bayesspr.cli.monitor import MONITOR_FILES
from bayesspr.data.table import write_table
from bayesspr.simulate import inject_event


@pytest.fixture(scope="module")
def saved(demo_fit, demo_volume_fit, demo_split, tmp_path_factory):
    folder = tmp_path_factory.mktemp("monitor")
    history, month = demo_split
    changed, event = inject_event(month, simulate_world().truth, "zip_takeover", station="CHI2")
    paths = {
        "spr": folder / "spr.nc",
        "volume": folder / "volume.nc",
        "history": folder / "history.csv",
        "month": folder / "month.csv",
    }
    demo_fit.save(paths["spr"])
    demo_volume_fit.save(paths["volume"])
    write_table(history, paths["history"])
    write_table(changed, paths["month"])
    return {k: str(v) for k, v in paths.items()}, event


def _argv(paths, out):
    return [
        "monitor",
        "--model",
        paths["spr"],
        "--volume-model",
        paths["volume"],
        "--history",
        paths["history"],
        "--new-month",
        paths["month"],
        "--samples",
        "400",
        "--out",
        str(out),
    ]


def test_monitor_writes_the_short_list_and_the_folder(saved, tmp_path, capsys):
    paths, event = saved
    out = tmp_path / "monitor"
    assert main(_argv(paths, out)) == 0
    printed = capsys.readouterr().out
    assert "5 stations tested at a 5% false discovery rate: 1 flagged" in printed
    assert "CHI2 (Chicago)" in printed and f"zip {event.zip} (newly served" in printed
    assert sorted(p.name for p in out.iterdir()) == sorted([*MONITOR_FILES, "manifest.json"])
    stations = pd.read_csv(out / "stations.csv")
    assert stations.columns[:6].tolist() == [
        "station",
        "city",
        "flagged",
        "part",
        "duration",
        "cause",
    ]
    top = stations.iloc[0]
    assert top["station"] == "CHI2" and top["flagged"] and top["part"] == "productivity"
    assert stations["flagged"].sum() == 1
    zips = pd.read_csv(out / "zips.csv", dtype={"zip": str})
    assert zips.query("station == 'CHI2' and rank == 1")["zip"].item() == event.zip
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["flagged"] == ["CHI2"] and manifest["settings"]["samples"] == 400
    assert set(manifest["fits"]) == {"--model", "--volume-model"}


def test_a_failed_monitor_leaves_the_earlier_folder(saved, tmp_path, capsys):
    paths, _ = saved
    out = tmp_path / "monitor"
    assert main(_argv(paths, out)) == 0
    before = (out / "stations.csv").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        pd.read_csv(paths["month"]).drop(columns="routes").to_csv(index=False), encoding="utf-8"
    )
    assert main(_argv({**paths, "month": str(bad)}, out)) == 2
    assert "routes" in capsys.readouterr().err
    assert (out / "stations.csv").read_bytes() == before


def test_report_with_a_new_month_has_the_monitoring_section(saved, tmp_path, capsys):
    paths, event = saved
    out = tmp_path / "report.html"
    argv = ["report", "--model", paths["spr"], "--history", paths["history"]]
    assert main([*argv, "--new-month", paths["month"], "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "Monitoring: a later month against this fit" in text and f"zip {event.zip}" in text
    wrong = ["report", "--model", paths["volume"], "--new-month", paths["month"]]
    assert main([*wrong, "--out", str(tmp_path / "v.html")]) == 2
    assert "--new-month is for SPR fits" in capsys.readouterr().err
