"""The bayesspr command: help everywhere, simulate, predict from a saved fit, clear errors."""

import pandas as pd
import pytest

from bayesspr.cli import build_parser, main

SUBCOMMANDS = ["demo", "simulate", "fit", "fit-volume", "predict", "plan", "backtest", "report"]


@pytest.mark.parametrize("command", [[], *[[c] for c in SUBCOMMANDS]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: bayesspr" in capsys.readouterr().out


def test_parser_lists_all_subcommands():
    text = build_parser().format_help()
    for command in SUBCOMMANDS:
        assert command in text


def test_counts_below_one_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--out", "x.csv", "--days", "0"])
    assert exit_info.value.code == 2
    assert "--days: '0': expected a whole number >= 1" in capsys.readouterr().err


def test_a_file_that_is_not_a_fit_exits_2_saying_so(tmp_path, capsys):
    fake = tmp_path / "fit.nc"
    fake.write_text("date,zip\n2026-01-01,10001\n")
    assert main(["report", "--model", str(fake), "--out", str(tmp_path / "r.html")]) == 2
    assert "is not a netCDF file written by SPRModel.save" in capsys.readouterr().err


def test_fit_volume_takes_a_table_without_route_physics_columns(tmp_path, monkeypatch):
    from bayesspr import cli

    world = tmp_path / "world.csv"
    assert main(["simulate", "--out", str(world), "--days", "10"]) == 0
    minimal = tmp_path / "volume.csv"
    columns = ["date", "city", "station", "zip", "stops", "packages"]
    pd.read_csv(world, dtype={"zip": str})[columns].to_csv(minimal, index=False)
    seen = {}

    def fake_fit(self, df, random_seed=None):  # the sampler is tested elsewhere
        seen["columns"] = list(df.columns)
        raise ValueError("stop here")

    monkeypatch.setattr(cli.VolumeModel, "fit", fake_fit)
    assert main(["fit-volume", "--data", str(minimal), "--out", str(tmp_path / "v.nc")]) == 2
    assert seen["columns"] == columns


def test_fit_and_backtest_pass_their_options_through(tmp_path, monkeypatch):
    from bayesspr import backtest, cli

    table = tmp_path / "world.csv"
    assert main(["simulate", "--out", str(table), "--days", "10"]) == 0
    seen = {}

    def fake_fit(self, df, **kwargs):  # the sampler is tested elsewhere
        seen["fit"] = kwargs
        raise ValueError("stop here")

    monkeypatch.setattr(cli.SPRModel, "fit", fake_fit)
    args = ["fit", "--data", str(table), "--out", str(tmp_path / "f.nc"), "--draws", "50"]
    assert main(args) == 2
    assert seen["fit"]["draws"] == 50 and seen["fit"]["method"] == "nuts"
    monkeypatch.setattr(backtest, "backtest_cli", lambda *a, **k: seen.update(backtest=k) or 0)
    assert main(["backtest", "--warm-start", "--origins", "2"]) == 0
    assert seen["backtest"]["warm_start"] is True and seen["backtest"]["n_origins"] == 2


def test_simulate_writes_a_valid_table(tmp_path):
    out = tmp_path / "world.csv"
    assert main(["simulate", "--out", str(out), "--days", "20"]) == 0
    table = pd.read_csv(out, dtype={"zip": str})
    assert len(table) > 0 and table["zip"].str.len().eq(5).all()


def test_predict_from_saved_fit(demo_fit, demo_split, tmp_path):
    _, future = demo_split
    fit_path = demo_fit.save(tmp_path / "fit.nc")
    plan = tmp_path / "plan.csv"
    future.drop(columns=["routes", "route_km"]).iloc[:25].to_csv(plan, index=False)
    out = tmp_path / "forecast.csv"
    code = main(["predict", "--model", str(fit_path), "--data", str(plan), "--out", str(out)])
    assert code == 0
    forecast = pd.read_csv(out)
    assert len(forecast) == 25
    assert {"spr_mean", "spr_lower", "spr_upper", "routes_mean"} <= set(forecast.columns)


def test_fit_on_bad_data_exits_2_naming_the_problem(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    assert main(["simulate", "--out", str(bad), "--days", "5"]) == 0
    table = pd.read_csv(bad, dtype={"zip": str})
    table.loc[2, "stops"] = -4
    table.to_csv(bad, index=False)
    code = main(["fit", "--data", str(bad), "--out", str(tmp_path / "fit.nc")])
    assert code == 2
    err = capsys.readouterr().err
    assert "stops" in err and "-4" in err
    assert not (tmp_path / "fit.nc").exists()


def test_plan_writes_fleet_tables_and_charts(demo_fit, demo_volume_fit, tmp_path, capsys):
    spr = demo_fit.save(tmp_path / "spr.nc")
    volume = demo_volume_fit.save(tmp_path / "volume.nc")
    out = tmp_path / "plan"
    code = main(["plan", "--model", str(spr), "--volume", str(volume), "--horizon", "2M",
                 "--samples", "60", "--shock", "1.4@2025-05-01", "--scenario", "shock",
                 "--van-cost", "60000", "--out", str(out)])
    assert code == 0
    plan = pd.read_csv(out / "plan.csv")
    assert {"station", "month", "vans", "p_shortfall", "expected_cost"} <= set(plan.columns)
    summary = pd.read_csv(out / "forecast_summary.csv")
    assert summary["scenario"].eq("shock").all()
    for chart in ("fan_chart.png", "shortfall.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "volume x1.4" in capsys.readouterr().out


def test_plan_with_a_malformed_shock_exits_2(demo_fit, demo_volume_fit, tmp_path, capsys):
    spr = demo_fit.save(tmp_path / "spr.nc")
    volume = demo_volume_fit.save(tmp_path / "volume.nc")
    code = main(["plan", "--model", str(spr), "--volume", str(volume), "--shock", "1.4",
                 "--out", str(tmp_path / "plan")])
    assert code == 2
    assert "expected VALUE@DATE" in capsys.readouterr().err
    assert not (tmp_path / "plan").exists()


def test_report_command_writes_html(demo_fit, tmp_path):
    spr = demo_fit.save(tmp_path / "spr.nc")
    out = tmp_path / "report.html"
    assert main(["report", "--model", str(spr), "--out", str(out)]) == 0
    assert "Sampler health" in out.read_text()


def test_demo_ends_with_the_fleet_plan(demo_fit, demo_volume_fit, tmp_path, capsys):
    from bayesspr.demo import run_demo

    assert run_demo(out=tmp_path, n_samples=80, spr=demo_fit, volume=demo_volume_fit) == 0
    text = capsys.readouterr().out
    for heading in ("16-month forecast", "Vans to buy per station", "Over-budget margin",
                    "absorb +40% volume", "Electric vans per station"):
        assert heading in text
    for name in ("plan.csv", "fleet.csv", "forecast_summary.csv", "fan_chart.png",
                 "shortfall.png", "report.html"):
        assert (tmp_path / name).stat().st_size > 0
    # the plan buys 300-package vans, so the routes it sizes are those of that van
    summary = pd.read_csv(tmp_path / "forecast_summary.csv")
    assert summary["scenario"].eq("300-package vans").all()
