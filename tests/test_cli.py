"""The bayesspr command: help everywhere, simulate, predict from a saved fit, clear errors."""

import pandas as pd
import pytest

from bayesspr.cli import build_parser, main

SUBCOMMANDS = ["demo", "simulate", "fit", "predict"]


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
