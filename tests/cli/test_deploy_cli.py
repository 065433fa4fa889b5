"""``bayesspr deploy``: the worked example end to end, its input tables and their errors."""

import json

import pandas as pd
import pytest

from bayesspr.cli.deploy import DEPLOY_FILES
from bayesspr.cli.main import main
from bayesspr.deploy import check_plan, deploy, example_problem


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_deploy_example_writes_the_plan_it_solved_and_it_passes_check_plan(tmp_path, capsys):
    out = tmp_path / "plan"
    assert main(["deploy", "--example", "--samples", "12", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "expected cost" in printed and "wrote purchases.csv" in printed
    assert sorted(p.name for p in out.iterdir()) == sorted([*DEPLOY_FILES, "manifest.json"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == set(DEPLOY_FILES)
    assert manifest["settings"]["samples"] == 12 and manifest["settings"]["example"] is True

    plan = deploy(example_problem(n_samples=12))  # the same problem, solved to optimality
    assert check_plan(plan) == []
    purchases = pd.read_csv(out / "purchases.csv")
    assert purchases["vans"].tolist() == plan.purchases["vans"].tolist()
    fleet = pd.read_csv(out / "fleet.csv")
    written = fleet.set_index(["van", "station", "month"])["vans"]
    expected = plan.fleet.to_series().rename("vans")
    assert written.sort_index().tolist() == expected.sort_index().tolist()
    cost = pd.read_csv(out / "cost.csv").set_index("part")
    assert cost.loc["total", "in_sample"] == pytest.approx(plan.cost["total"], rel=1e-9)
    for column in ("in_sample", "out_of_sample"):
        parts = cost[column].drop("total").sum()
        assert parts == pytest.approx(cost.loc["total", column], rel=1e-9)
    # priced on 100 fresh draws: the plan's own draws flatter it
    fresh = manifest["out_of_sample"]
    assert fresh["out_of_sample"] == pytest.approx(cost.loc["total", "out_of_sample"])
    assert fresh["out_of_sample_se"] > 0 and fresh["n_fresh"] == 100
    assert f"on 100 fresh draws the plan costs {fresh['out_of_sample']:,.0f}" in printed
    share = pd.read_csv(out / "electric_share.csv").set_index("city")
    assert ((share >= 0) & (share <= 1)).all().all()
    months = pd.read_csv(out / "station_months.csv")
    assert len(months) == 4 * 4 and months["p_shortfall"].between(0, 1).all()


def test_deploy_tables_set_bays_power_and_limits(tmp_path):
    stations = _write(
        tmp_path / "stations.csv", "station,bays,power_kw\nS000,9,\nS001,9,500\nS002,9,\nS003,9,\n"
    )
    limits = _write(tmp_path / "limits.csv", "period,budget,ev_supply\n2027,500000,3\n2028,,0\n")
    out = tmp_path / "plan"
    argv = ["deploy", "--example", "--stations", stations, "--limits", limits, "--out", str(out)]
    assert main(argv) == 0
    fleet = pd.read_csv(out / "fleet.csv")
    assert fleet.groupby(["station", "month"])["vans"].sum().max() <= 9
    purchases = pd.read_csv(out / "purchases.csv")
    assert purchases.query("period == 2027")["spend"].sum() <= 500_000
    electric = purchases[purchases["van"].str.startswith("ev")].groupby("period")["vans"].sum()
    assert electric[2027] <= 3 and electric[2028] == 0
    record = json.loads((out / "manifest.json").read_text())["inputs"]
    assert set(record) == {"--stations", "--limits"}


def test_a_bad_limits_table_names_row_column_value_and_expected(tmp_path, capsys):
    limits = _write(tmp_path / "limits.csv", "period,budget,ev_supply\n2027,100,2\n2028,-5,1.5\n")
    out = tmp_path / "plan"
    assert main(["deploy", "--example", "--limits", limits, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bayesspr deploy: error: deployment inputs have 2 problems" in err
    assert f"row 2 of --limits {limits}, column 'budget', value '-5': expected a purchase" in err
    assert "column 'ev_supply', value '1.5': expected a whole number" in err
    assert not out.exists()


def test_a_bad_stations_table_names_unknown_columns_stations_and_missing_rows(tmp_path, capsys):
    stations = _write(tmp_path / "stations.csv", "station,bays,colour\nS000,3,red\n")
    assert main(["deploy", "--example", "--stations", stations, "--out", str(tmp_path / "o")]) == 2
    assert "column 'colour': expected only the columns ['station', 'bays', 'power_kw']" in (
        capsys.readouterr().err
    )
    stations = _write(tmp_path / "stations.csv", "station,bays\nS000,3\nS999,2\nS000,x\n")
    assert main(["deploy", "--example", "--stations", stations, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "row 2 of --stations" in err and "value 'S999': expected one of ['S000'" in err
    assert "row 3 of --stations" in err and "value 'S000': expected each station once" in err
    assert "column 'bays', value 'x': expected a whole number of parking bays" in err
    assert "value \"['S001', 'S002', 'S003']\": expected a row for every station" in err


def test_an_infeasible_example_exits_2_naming_the_limit(tmp_path, capsys):
    limits = _write(tmp_path / "limits.csv", "period,budget\n2027,0\n2028,0\n")
    out = tmp_path / "plan"
    argv = ["deploy", "--example", "--limits", limits, "--hard-service", "--out", str(out)]
    assert main(argv) == 2
    assert "budget" in capsys.readouterr().err
    assert not out.exists()


def test_infinite_bays_and_an_empty_table_are_named_errors(tmp_path, capsys):
    stations = _write(tmp_path / "stations.csv", "station,bays\nS000,inf\nS001,3\nS002,3\nS003,3\n")
    assert main(["deploy", "--example", "--stations", stations, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"row 1 of --stations {stations}, column 'bays', value 'inf'" in err
    empty = _write(tmp_path / "limits.csv", "")
    assert main(["deploy", "--example", "--limits", empty, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"--limits {empty}" in err and "expected a header row (period, budget" in err
    assert not (tmp_path / "o").exists()


def test_a_plan_whose_shortage_dominates_is_written_with_a_warning(tmp_path, capsys):
    # an electric share of 0.8 with one electric van a year: only a network that barely
    # runs meets it
    limits = _write(
        tmp_path / "limits.csv",
        "period,ev_supply,min_electric_share\n2027,1,0.8\n2028,1,0.8\n",
    )
    out = tmp_path / "plan"
    assert main(["deploy", "--example", "--limits", limits, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: shortage is" in err and "electric share target" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["warnings"]) == 1 and "shortage is" in manifest["warnings"][0]
    cost = pd.read_csv(out / "cost.csv").set_index("part")["in_sample"]
    assert cost["shortage"] > 0.5 * cost["total"]


def test_vss_over_replicated_planning_draws_is_written_and_one_replicate_is_refused(
    tmp_path, capsys
):
    out = tmp_path / "plan"
    argv = ["deploy", "--example", "--samples", "8", "--fresh-samples", "40", "--vss", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "vss.csv")
    assert len(table) == 3 and {"vss", "vss_se", "saa_cost", "mean_cost"} <= set(table.columns)
    summary = json.loads((out / "manifest.json").read_text())["vss"]
    assert summary["vss"] == pytest.approx(table["vss"].mean())
    assert summary["vss_se"] == pytest.approx(table["vss"].std(ddof=1) / 3**0.5)
    assert "value of the stochastic solution over 3 sets of planning draws" in printed
    assert main([*argv[:-1], "1", "--out", str(tmp_path / "one")]) == 2
    err = capsys.readouterr().err
    assert "--vss" in err and "at least 2 replicates" in err
    assert not (tmp_path / "one").exists()


def test_partners_and_storage_tables_split_the_fleet_and_grow_the_storage(tmp_path):
    partners = _write(
        tmp_path / "partners.csv",
        "station,partner,max_vans,min_vans,cost_per_van_month\n"
        "S000,DSP-A,6,2,150\nS000,DSP-B,,0,250\nS001,DSP-C,20,,100\n",
    )
    storage = _write(tmp_path / "storage.csv", "station,storage_packages\nS000,1500\nS002,\n")
    out = tmp_path / "plan"
    argv = ["deploy", "--example", "--samples", "12", "--partners", partners]
    argv += ["--storage", storage, "--storage-risk", "0.1", "--fresh-samples", "10"]
    assert main([*argv, "--out", str(out)]) == 0
    assert {"partners.csv", "storage.csv"} <= {p.name for p in out.iterdir()}
    fleet = pd.read_csv(out / "fleet.csv").groupby(["station", "month"])["vans"].sum()
    split = pd.read_csv(out / "partners.csv")
    by_pair = split.set_index(["station", "partner"])
    assert (by_pair.loc[("S000", "DSP-A"), "vans"].between(2, 6)).all()
    assert (by_pair.loc[("S001", "DSP-C"), "vans"] <= 20).all()
    run = split.groupby(["station", "month"])["vans"].sum()
    assert (run == fleet.loc[run.index]).all()  # the partners run the whole fleet
    grown = pd.read_csv(out / "storage.csv")
    assert grown["station"].unique().tolist() == ["S000"]  # blank: no limit
    months = pd.read_csv(out / "station_months.csv").set_index("station")
    assert (months.loc["S000", "p_storage_overflow"] <= 0.1 + 1e-9).all()
    assert (grown["capacity_packages"] > 1500).all()  # the example's packages need modules

    # the Python API on the same problem gives the same plan and cost
    from dataclasses import replace

    from bayesspr.cli.deploy import read_partners, read_storage

    base = example_problem(n_samples=12)
    fields = {**read_partners(partners, base), **read_storage(storage, base)}
    plan = deploy(replace(base, **fields, storage_risk=0.1))
    cost = pd.read_csv(out / "cost.csv").set_index("part")
    assert cost.loc["total", "in_sample"] == pytest.approx(plan.cost["total"], rel=1e-6)
    assert cost.loc["partners", "in_sample"] > 0 and cost.loc["storage", "in_sample"] > 0
    settings = json.loads((out / "manifest.json").read_text())["settings"]
    assert settings["storage_risk"] == 0.1


def test_a_bad_partners_table_names_each_row_column_and_value(tmp_path, capsys):
    partners = _write(
        tmp_path / "partners.csv",
        "station,partner,max_vans,min_vans,cost_per_van_month\n"
        "S000,DSP-A,6,2,150\nS000,DSP-A,4,0,100\nS009,DSP-B,3,0,100\n"
        "S001,,3,0,100\nS002,DSP-C,2.5,0,-1\n",
    )
    out = tmp_path / "plan"
    assert main(["deploy", "--example", "--partners", partners, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    where = f"--partners {partners}"
    assert f"row 3 of {where}, column 'station', value 'S009': expected one of" in err
    assert f"row 4 of {where}, column 'partner', value '': expected a name" in err
    assert f"row 5 of {where}, column 'max_vans', value '2.5': expected a whole number" in err
    assert f"row 5 of {where}, column 'cost_per_van_month', value '-1': expected" in err
    assert not out.exists()

    twice = _write(
        tmp_path / "twice.csv",
        "station,partner,max_vans,min_vans,cost_per_van_month\n"
        "S000,DSP-A,6,2,150\nS000,DSP-A,4,5,100\n",
    )
    assert main(["deploy", "--example", "--partners", twice, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "row 2 of --partners" in err and "expected each partner once per station" in err
    assert "column 'min_vans', value 5.0: expected ≤ max_vans (4)" in err
    missing = _write(tmp_path / "missing.csv", "station,partner\nS000,DSP-A\n")
    assert main(["deploy", "--example", "--partners", missing, "--out", str(out)]) == 2
    assert "expected a 'max_vans' column" in capsys.readouterr().err


def test_a_bad_storage_table_is_refused(tmp_path, capsys):
    storage = _write(tmp_path / "storage.csv", "station,storage_packages\nS000,-3\nS000,100\n")
    out = tmp_path / "plan"
    assert main(["deploy", "--example", "--storage", storage, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "value '-3': expected packages the station can store ≥ 0" in err
    assert "row 2 of --storage" in err and "expected each station once" in err
