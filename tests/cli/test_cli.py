"""The bayesspr command: help, options and their bounds, safe outputs, strict fits, each command."""

import copy
import importlib.util
import json
import os
import re
import stat
import sys
from importlib import metadata

import pandas as pd
import pytest

from bayesspr import SPRModel, VolumeModel
from bayesspr.cli import commands
from bayesspr.cli.main import build_parser, main

SUBCOMMANDS = [
    "demo",
    "simulate",
    "fit",
    "fit-volume",
    "predict",
    "plan",
    "absorb",
    "backtest",
    "deploy",
    "report",
]
HDF5 = b"\x89HDF\r\n\x1a\n" + bytes(64)  # the first bytes of a netCDF-4 file (a saved fit)
NOT_CONVERGED = {
    "rhat_max": 1.2,
    "rhat_worst": "sigma_city",
    "ess_bulk_min": 35.0,
    "ess_bulk_worst": "sigma_city",
    "ess_tail_min": 50.0,
    "ess_tail_worst": "beta_stop",
    "divergences": 7,
    "ebfmi_min": 0.5,
    "max_treedepth_hits": 0,
    "ok": False,
    "method": "nuts",
    "problems": [
        "R-hat 1.200 > 1.01 (sigma_city)",
        "bulk ESS 35 < 400 (sigma_city)",
        "7 divergent transitions",
    ],
}


@pytest.fixture(scope="module")
def saved_fits(tmp_path_factory, demo_fit, demo_volume_fit):
    """The session's demo fits saved once for this module: (SPR fit path, volume fit path)."""
    folder = tmp_path_factory.mktemp("fits")
    return str(demo_fit.save(folder / "spr.nc")), str(demo_volume_fit.save(folder / "volume.nc"))


def _snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _world(tmp_path, days=5):
    path = tmp_path / "world.csv"
    assert main(["simulate", "--out", str(path), "--days", str(days)]) == 0
    return path


# --- the parser -----------------------------------------------------------------------------


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


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"bayesspr {metadata.version('bayesspr')}"


def test_counts_below_one_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--out", "x.csv", "--days", "0"])
    assert exit_info.value.code == 2
    assert "--days: '0': expected a whole number >= 1" in capsys.readouterr().err


FITS = ["--model", "spr.nc", "--volume", "volume.nc"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["simulate", "--out", "x.csv", "--days", "5000"],
            "--days: '5000': expected a whole number <= 3,660",
        ),
        (
            ["plan", *FITS, "--out", "p", "--horizon", "61M"],
            "horizon = '61M'; expected at most 60M",
        ),
        (
            ["plan", *FITS, "--out", "p", "--horizon", "300W"],
            "horizon = '300W'; expected at most 261W",
        ),
        (
            ["absorb", *FITS, "--vans", "3", "--shock", "1.4@2026-01-01", "--horizon", "2000D"],
            "horizon = '2000D'; expected at most 1827D",
        ),
        (
            ["plan", *FITS, "--out", "p", "--samples", "10001"],
            "--samples: '10001': expected a whole number <= 10,000",
        ),
        (
            ["fit-volume", "--data", "d.csv", "--out", "v.nc", "--harmonics", "11"],
            "--harmonics: '11': expected a whole number <= 10",
        ),
        (
            ["fit-volume", "--data", "d.csv", "--out", "v.nc", "--harmonics", "-1"],
            "--harmonics: '-1': expected a whole number >= 0",
        ),
        (["backtest", "--horizon", "61"], "--horizon: '61': expected a whole number <= 60"),
    ],
)
def test_huge_options_are_refused_by_the_parser(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def no_work(*args, **kwargs):
        raise AssertionError("the command ran: the parser let the option through")

    from bayesspr.cli import backtest

    monkeypatch.setattr(commands, "simulate_world", no_work)
    monkeypatch.setattr(backtest, "backtest_cli", no_work)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_fit_keep_posterior_writes_a_smaller_file_that_still_predicts(
    demo_fit, demo_split, tmp_path, monkeypatch
):
    table = _world(tmp_path, days=10)
    monkeypatch.setattr(SPRModel, "fit", lambda self, df, **kwargs: demo_fit)
    sizes = {}
    for keep in ("report", "posterior"):
        out = tmp_path / f"{keep}.nc"
        assert main(["fit", "--data", str(table), "--out", str(out), "--keep", keep]) == 0
        sizes[keep] = out.stat().st_size
    assert sizes["posterior"] * 3 < sizes["report"]
    light = SPRModel.load(tmp_path / "posterior.nc")
    assert "log_likelihood" not in light.idata.children
    rows = demo_split[1].drop(columns=["routes", "route_km"]).iloc[:20]
    pd.testing.assert_frame_equal(
        light.predict(rows, random_seed=2), demo_fit.predict(rows, random_seed=2)
    )


def test_fit_and_backtest_pass_their_options_through(tmp_path, monkeypatch):
    from bayesspr.cli import backtest

    table = _world(tmp_path, days=10)
    seen = {}

    def fake_fit(self, df, **kwargs):  # the sampler is tested elsewhere
        seen["fit"] = kwargs
        raise ValueError("stop here")

    monkeypatch.setattr(SPRModel, "fit", fake_fit)
    monkeypatch.setattr(VolumeModel, "fit", fake_fit)
    args = [
        "fit",
        "--data",
        str(table),
        "--out",
        str(tmp_path / "f.nc"),
        "--draws",
        "50",
        "--chains",
        "2",
        "--target-accept",
        "0.95",
    ]
    assert main(args) == 2
    assert seen["fit"]["draws"] == 50 and seen["fit"]["method"] == "auto"  # the model picks by size
    assert seen["fit"]["chains"] == 2 and seen["fit"]["target_accept"] == 0.95
    assert seen["fit"]["start"] is None  # the model's own: "auto"
    assert main([*args, "--method", "laplace", "--start", "mode"]) == 2
    assert seen["fit"]["method"] == "laplace" and seen["fit"]["start"] == "mode"
    assert seen["fit"]["client"] is None  # no cluster unless asked for
    if importlib.util.find_spec("distributed") is not None:
        assert main([*args, "--workers", "2"]) == 2  # the fit gets a 2-worker local cluster
        client = seen["fit"]["client"]
        assert type(client).__name__ == "Client" and client.status == "closed"
    args = [
        "fit-volume",
        "--data",
        str(table),
        "--out",
        str(tmp_path / "v.nc"),
        "--draws",
        "60",
        "--tune",
        "70",
        "--chains",
        "3",
    ]
    assert main(args) == 2
    assert {k: seen["fit"][k] for k in ("draws", "tune", "chains")} == {
        "draws": 60,
        "tune": 70,
        "chains": 3,
    }
    monkeypatch.setattr(backtest, "backtest_cli", lambda *a, **k: seen.update(backtest=k) or 0)
    assert main(["backtest", "--warm-start", "--origins", "2"]) == 0
    assert seen["backtest"]["warm_start"] is True and seen["backtest"]["n_origins"] == 2
    assert seen["backtest"]["client"] is None
    if importlib.util.find_spec("distributed") is not None:
        assert main(["backtest", "--workers", "2"]) == 0  # the tasks go to a local cluster
        assert type(seen["backtest"]["client"]).__name__ == "Client"


# --- outputs are checked before any work ----------------------------------------------------


def test_an_output_onto_an_input_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    world = _world(tmp_path)
    before = world.read_bytes()

    def no_fit(self, df, **kwargs):
        raise AssertionError("fitted although --out is the input")

    monkeypatch.setattr(SPRModel, "fit", no_fit)
    assert main(["fit", "--data", str(world), "--out", str(tmp_path / "." / "world.csv")]) == 2
    assert "is the same file as the input --data" in capsys.readouterr().err
    assert world.read_bytes() == before
    model = tmp_path / "spr.nc"
    model.write_bytes(HDF5)
    assert main(["report", "--model", str(model), "--out", str(model)]) == 2
    assert "is the same file as the input --model" in capsys.readouterr().err
    assert model.read_bytes() == HDF5


def _fifo(tmp_path):
    path = tmp_path / "out.csv"
    os.mkfifo(path)
    return path, lambda: stat.S_ISFIFO(os.lstat(path).st_mode)


def _symlink(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("mine\n")
    path = tmp_path / "out.csv"
    path.symlink_to(real)
    return path, lambda: path.is_symlink() and real.read_text() == "mine\n"


def _read_only(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("mine\n")
    path.chmod(0o444)
    return path, lambda: path.read_text() == "mine\n" and not path.stat().st_mode & 0o222


def _folder(tmp_path):
    path = tmp_path / "out.csv"
    path.mkdir()
    return path, path.is_dir


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_fifo, "is a FIFO (named pipe), not a regular file"),
        (_symlink, "is a symbolic link"),
        (_read_only, "is read-only; it is not replaced"),
        (_folder, "is a folder; expected a file"),
    ],
)
def test_unsafe_output_paths_are_refused(make, message, tmp_path, monkeypatch, capsys):
    path, untouched = make(tmp_path)

    def no_work(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(commands, "simulate_world", no_work)
    assert main(["simulate", "--out", str(path), "--days", "5"]) == 2
    err = capsys.readouterr().err
    assert f"--out {path} {message}" in err and "choose another --out" in err
    assert untouched()


def test_a_file_of_another_kind_is_not_overwritten(tmp_path, monkeypatch, capsys):
    table = tmp_path / "table.csv"
    table.write_text("date,zip\n2026-01-01,10001\n")

    def no_fit(self, df, **kwargs):
        raise AssertionError("fitted before checking --out")

    monkeypatch.setattr(SPRModel, "fit", no_fit)
    assert main(["fit", "--data", str(table), "--out", str(tmp_path / "x.nc")]) == 2  # bad data
    capsys.readouterr()
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    assert main(["fit", "--data", str(table), "--out", str(other)]) == 2
    assert "exists and is a text file (a CSV table?); this command writes a saved fit" in (
        capsys.readouterr().err
    )
    fit = tmp_path / "fit.nc"
    fit.write_bytes(HDF5)
    assert main(["report", "--model", str(tmp_path / "m.nc"), "--out", str(fit)]) == 2
    assert "exists and is a netCDF/HDF5 file (a saved fit?); this command writes an HTML" in (
        capsys.readouterr().err
    )
    assert other.read_text() == "a,b\n1,2\n" and fit.read_bytes() == HDF5


def test_a_file_that_is_not_a_fit_exits_2_saying_so(tmp_path, capsys):
    fake = tmp_path / "fit.nc"
    fake.write_text("date,zip\n2026-01-01,10001\n")
    assert main(["report", "--model", str(fake), "--out", str(tmp_path / "r.html")]) == 2
    assert "is not a netCDF file written by SPRModel.save" in capsys.readouterr().err


# --- fitting --------------------------------------------------------------------------------


def test_fit_volume_takes_a_table_without_route_physics_columns(tmp_path, monkeypatch):
    world = _world(tmp_path, days=10)
    minimal = tmp_path / "volume.csv"
    columns = ["date", "city", "station", "zip", "stops", "packages"]
    pd.read_csv(world, dtype={"zip": str})[columns].to_csv(minimal, index=False)
    seen = {}

    def fake_fit(self, df, **kwargs):  # the sampler is tested elsewhere
        seen["columns"] = list(df.columns)
        raise ValueError("stop here")

    monkeypatch.setattr(VolumeModel, "fit", fake_fit)
    assert main(["fit-volume", "--data", str(minimal), "--out", str(tmp_path / "v.nc")]) == 2
    assert seen["columns"] == columns


@pytest.mark.parametrize(
    ("command", "model_class"), [("fit", "SPRModel"), ("fit-volume", "VolumeModel")]
)
def test_strict_refuses_an_unconverged_fit_and_keeps_the_earlier_file(
    command, model_class, tmp_path, monkeypatch, capsys
):
    world = _world(tmp_path)
    out = tmp_path / "fit.nc"
    out.write_bytes(HDF5)  # an earlier good fit
    saved = []

    def fake_fit(self, df, **kwargs):  # a fit that missed the thresholds
        self.diagnostics = copy.deepcopy(NOT_CONVERGED)
        return self

    cls = {"SPRModel": SPRModel, "VolumeModel": VolumeModel}[model_class]
    monkeypatch.setattr(cls, "fit", fake_fit)
    monkeypatch.setattr(cls, "save", lambda self, path, keep="report": saved.append(path))
    capsys.readouterr()
    assert main([command, "--data", str(world), "--out", str(out), "--strict"]) == 3
    assert out.read_bytes() == HDF5 and saved == []
    captured = capsys.readouterr()
    assert "R-hat max         1.200  (sigma_city)" in captured.out
    assert "bulk ESS min         35  (sigma_city)" in captured.out
    assert "verdict: NOT CONVERGED" in captured.out and "7 divergent transitions" in captured.out
    assert f"--strict: nothing written to {out}" in captured.err
    # without --strict the fit is saved, after the same readable summary (not a raw dict)
    assert main([command, "--data", str(world), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert saved == [str(out)] and "verdict: NOT CONVERGED" in text and "{'" not in text


def test_fit_on_bad_data_exits_2_naming_the_problem(tmp_path, capsys):
    bad = _world(tmp_path)
    table = pd.read_csv(bad, dtype={"zip": str})
    table.loc[2, "stops"] = -4
    table.to_csv(bad, index=False)
    code = main(["fit", "--data", str(bad), "--out", str(tmp_path / "fit.nc")])
    assert code == 2
    err = capsys.readouterr().err
    assert "stops" in err and "-4" in err
    assert not (tmp_path / "fit.nc").exists()


def test_simulate_writes_a_valid_table(tmp_path):
    out = _world(tmp_path, days=20)
    table = pd.read_csv(out, dtype={"zip": str})
    assert len(table) > 0 and table["zip"].str.len().eq(5).all()


# --- using saved fits -----------------------------------------------------------------------


def test_predict_from_saved_fit(saved_fits, demo_split, tmp_path):
    _, future = demo_split
    plan = tmp_path / "plan.csv"
    future.drop(columns=["routes", "route_km"]).iloc[:25].to_csv(plan, index=False)
    out = tmp_path / "forecast.csv"
    code = main(["predict", "--model", saved_fits[0], "--data", str(plan), "--out", str(out)])
    assert code == 0
    forecast = pd.read_csv(out)
    assert len(forecast) == 25
    assert {"spr_mean", "routes_mean"} <= set(forecast.columns)
    assert forecast.columns.str.startswith("spr_lower").any()


def test_predict_warns_about_an_unconverged_fit_and_strict_refuses_it(
    demo_fit, demo_volume_fit, demo_split, tmp_path, capsys
):
    # a fit whose chains disagree: the verdict is recomputed from the draws on load
    unconverged = copy.copy(demo_fit)
    tree = demo_fit.idata.copy()
    post = tree["posterior"].to_dataset()
    tour = post["tour_constant"]
    tree["posterior"] = post.assign(tour_constant=tour + (tour["chain"] == 0) * 0.05)
    unconverged.idata = tree
    model = str(unconverged.save(tmp_path / "unconverged.nc"))
    plan = tmp_path / "plan.csv"
    demo_split[1].drop(columns=["routes", "route_km"]).iloc[:5].to_csv(plan, index=False)
    out = tmp_path / "forecast.csv"
    assert main(["predict", "--model", model, "--data", str(plan), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"warning: the fit --model {model} did not pass its convergence checks" in err
    assert re.search(r"R-hat \d\.\d{3} > 1\.01 \(tour_constant\)", err)
    strict = tmp_path / "strict.csv"
    argv = ["predict", "--model", model, "--data", str(plan), "--out", str(strict), "--strict"]
    assert main(argv) == 3
    assert "--strict refuses such fits" in capsys.readouterr().err
    assert not strict.exists()
    # a plan made from it says so in its manifest
    volume = demo_volume_fit.save(tmp_path / "volume.nc")
    folder = tmp_path / "plan"
    argv = [
        "plan",
        "--model",
        model,
        "--volume",
        str(volume),
        "--horizon",
        "1M",
        "--samples",
        "40",
        "--out",
        str(folder),
    ]
    assert main(argv) == 0
    verdict = json.loads((folder / "manifest.json").read_text())["fits"]["--model"]
    assert verdict["converged"] is False and verdict["rhat_max"] > 1.01
    assert any("tour_constant" in problem for problem in verdict["problems"])


def test_plan_writes_one_folder_that_records_what_it_holds(saved_fits, tmp_path, capsys):
    spr, volume = saved_fits
    out = tmp_path / "plan"
    code = main(
        [
            "plan",
            "--model",
            spr,
            "--volume",
            volume,
            "--horizon",
            "2M",
            "--samples",
            "60",
            "--shock",
            "1.4@2025-05-01",
            "--van-cost",
            "60000",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    name = "shock x1.4 from 2025-05-01"  # no --scenario: named for its change
    assert f"scenario: {name}\n  - volume x1.4 from 2025-05-01" in capsys.readouterr().out
    plan = pd.read_csv(out / "plan.csv")
    assert {"station", "month", "expected_cost"} <= set(plan.columns)
    assert plan["month"].str.fullmatch(r"\d{4}-\d{2}").all()
    for table in ("plan.csv", "fleet.csv", "forecast_summary.csv"):
        frame = pd.read_csv(out / table)
        assert frame.columns[0] == "scenario" and frame["scenario"].eq(name).all()
    for chart in ("fan_chart.png", "shortfall.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # every column of the summary is explained, its interval's mass in its name
    summary = pd.read_csv(out / "forecast_summary.csv")
    assert {"routes_per_day_lower_90", "routes_per_day_upper_90"} <= set(summary.columns)
    legend = pd.read_csv(out / "forecast_summary_legend.csv", keep_default_na=False)
    assert legend["column"].tolist() == summary.columns.tolist()
    assert (legend["meaning"] != "").all() and (legend["unit"] != "").all()
    lower = legend.set_index("column").loc["routes_per_day_lower_90"]
    assert lower["unit"] == "routes per day" and "central 90 % interval" in lower["meaning"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"] == {"name": name, "changes": ["volume x1.4 from 2025-05-01"]}
    assert set(manifest["inputs"]) == {"--model", "--volume"}
    from bayesspr.io.files import sha256_of

    assert manifest["inputs"]["--model"]["sha256"] == sha256_of(spr)
    assert manifest["bayesspr_version"] == metadata.version("bayesspr")
    assert manifest["model_spec_id"] and manifest["created_utc"].endswith("Z")
    assert manifest["command_line"].startswith("bayesspr plan --model")
    assert sorted(manifest["files"]) == sorted(commands.PLAN_FILES)
    for option in ("--model", "--volume"):  # each fit's verdict, recomputed on load
        verdict = manifest["fits"][option]
        assert verdict["converged"] is True and verdict["problems"] == []
        assert verdict["rhat_max"] <= 1.01 and verdict["ess_tail_min"] >= 400
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]  # no temporary leftovers


def test_plan_keeps_its_draws_in_a_zarr_store_when_asked(saved_fits, tmp_path):
    from bayesspr.io.draw_store import open_draws

    spr, volume = saved_fits
    out = tmp_path / "plan"
    argv = ["plan", "--model", spr, "--volume", volume, "--horizon", "1M", "--samples", "20"]
    assert main([*argv, "--keep-draws", "--out", str(out)]) == 0
    draws = open_draws(out / commands.PLAN_DRAWS)
    assert draws["routes_zip"].chunks is not None  # lazy
    assert draws.sizes["sample"] == 20
    for station in draws["station"].to_numpy():
        summed = draws["routes_zip"].where(draws["station_of"] == station, 0).sum("zip")
        assert (summed == draws["routes"].sel(station=station)).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["keep_draws"] is True
    # the folder is an earlier plan: a plan without --keep-draws replaces it whole
    assert main([*argv, "--out", str(out)]) == 0
    assert not (out / commands.PLAN_DRAWS).exists()


def test_a_plan_killed_midway_leaves_the_earlier_plan_intact(
    saved_fits, tmp_path, monkeypatch, capsys
):
    from bayesspr.fleet import charts as fleet_charts

    spr, volume = saved_fits
    out = tmp_path / "plan"
    argv = [
        "plan",
        "--model",
        spr,
        "--volume",
        volume,
        "--horizon",
        "2M",
        "--samples",
        "40",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    earlier = _snapshot(out)

    def dies(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(fleet_charts, "shortfall_chart", dies)  # after the CSVs and fan chart
    assert main([*argv, "--shock", "1.4@2025-04-01"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _snapshot(out) == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_plan_refuses_a_planned_volume_table_with_bad_rows(saved_fits, tmp_path, capsys):
    history = _world(tmp_path)
    zips = pd.read_csv(history, dtype={"zip": str})["zip"].unique()[:2]
    table = tmp_path / "volume.csv"
    pd.DataFrame(
        {
            "date": ["2025-04-01", "2025-04-01", "2025-04-02", "03/04/2025"],
            "zip": [zips[0], zips[1], zips[0], zips[1]],
            "stops": [40, 41, 2.5, 40],
            "packages": [80, -5, 80, 80],
        }
    ).to_csv(table, index=False)
    code = main(
        [
            "plan",
            "--model",
            saved_fits[0],
            "--volume",
            str(table),
            "--history",
            str(history),
            "--out",
            str(tmp_path / "plan"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert f"--volume {table}: the planned-volume table has 3 problem(s)" in err
    assert "row 1, column 'packages', value -5: expected an integer >= 0" in err
    assert "row 2, column 'stops', value 2.5: expected an integer >= 1" in err
    assert "row 3, column 'date', value '03/04/2025': expected a date (ISO 8601" in err
    assert not (tmp_path / "plan").exists()


def test_plan_names_the_row_of_an_unknown_zip_and_the_zips_without_rows(
    saved_fits, tmp_path, capsys
):
    history = _world(tmp_path)
    zips = sorted(pd.read_csv(history, dtype={"zip": str})["zip"].unique())
    table = tmp_path / "volume.csv"
    rows = [{"date": "2025-04-01", "zip": z, "stops": 40, "packages": 80} for z in zips]
    rows[3]["zip"] = "99999"  # a typo: no such zip in the network
    pd.DataFrame(rows).to_csv(table, index=False)
    argv = [
        "plan",
        "--model",
        saved_fits[0],
        "--volume",
        str(table),
        "--history",
        str(history),
        "--out",
        str(tmp_path / "plan"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "1 row(s) name a zip the network does not have" in err
    expected = "row 3, column 'zip': value '99999' is not a zip of the network in --history"
    assert f"{expected} {history}" in err
    # with the row's zip fixed but another zip's rows left out, that zip is named
    pd.DataFrame(rows[:3] + rows[4:]).to_csv(table, index=False)
    assert main(argv) == 2
    assert f"no rows for 1 zip(s) of the network in --history {history}: ['{zips[3]}']" in (
        capsys.readouterr().err
    )


def test_plan_draws_the_history_it_is_given_beside_the_forecast(
    saved_fits, demo_split, tmp_path, monkeypatch
):
    from bayesspr.fleet import charts as fleet_charts

    history = tmp_path / "history.csv"
    demo_split[0].to_csv(history, index=False)
    seen = {}
    real = fleet_charts.fan_chart

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(fleet_charts, "fan_chart", spy)
    argv = [
        "plan",
        "--model",
        saved_fits[0],
        "--volume",
        saved_fits[1],
        "--history",
        str(history),
        "--horizon",
        "1M",
        "--samples",
        "40",
        "--van",
        "450@2025-04-10",
        "--out",
        str(tmp_path / "plan"),
    ]
    assert main(argv) == 0
    assert seen["history"] is not None and len(seen["history"]) == len(demo_split[0])
    assert "Forecast: 450-package vans from 2025-04-10" in seen["note"]


def test_plan_with_a_malformed_shock_exits_2(saved_fits, tmp_path, capsys):
    spr, volume = saved_fits
    code = main(
        [
            "plan",
            "--model",
            spr,
            "--volume",
            volume,
            "--shock",
            "1.4",
            "--out",
            str(tmp_path / "plan"),
        ]
    )
    assert code == 2
    assert "expected VALUE@DATE" in capsys.readouterr().err
    assert not (tmp_path / "plan").exists()


def test_absorb_says_whether_a_bought_fleet_absorbs_a_shock(
    saved_fits, demo_volume_fit, tmp_path, capsys
):
    spr, volume = saved_fits
    stations = sorted(demo_volume_fit.network.stations.index.astype(str))
    bought = tmp_path / "fleet.csv"
    pd.DataFrame({"station": stations, "vans_to_buy": 40}).to_csv(bought, index=False)
    start = f"{demo_volume_fit.last_date + pd.Timedelta(days=20):%Y-%m-%d}"
    out = tmp_path / "absorb.csv"
    common = [
        "absorb",
        "--model",
        spr,
        "--volume",
        volume,
        "--shock",
        f"1.4@{start}",
        "--horizon",
        "2M",
        "--samples",
        "40",
    ]
    assert main([*common, "--fleet", str(bought), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["station"].tolist() == stations and table["vans"].eq(40).all()
    assert table["scenario"].eq(f"shock x1.4 from {start}").all()
    cover = table.filter(like="p_cover")
    assert cover.shape[1] >= 1 and cover.ge(0).all().all() and cover.le(1).all().all()
    capsys.readouterr()
    assert main([*common, "--vans", "0"]) == 0  # no vans absorb nothing
    text = capsys.readouterr().out
    assert f"scenario: shock x1.4 from {start}" in text and all(s in text for s in stations)


def test_report_command_writes_html(saved_fits, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", "--model", saved_fits[0], "--out", str(out)]) == 0
    assert "Sampler health" in out.read_text()


def test_report_reads_the_kind_of_fit_from_the_file(saved_fits, tmp_path):
    out = tmp_path / "volume.html"
    assert main(["report", "--model", saved_fits[1], "--out", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_demo_ends_with_the_fleet_plan(demo_fit, demo_volume_fit, tmp_path, capsys):
    from bayesspr.cli.demo import run_demo

    assert run_demo(out=tmp_path, n_samples=80, spr=demo_fit, volume=demo_volume_fit) == 0
    text = capsys.readouterr().out
    for heading in (
        "16-month forecast",
        "Vans to buy per station",
        "Over-budget margin",
        "absorb +40% volume",
        "Electric vans per station",
        "Monitor: next month as it happened, with CHI2 taking over zip",
    ):
        assert heading in text
    assert "1 flagged" in text and "CHI2 (Chicago)" in text and "newly served" in text
    from bayesspr.cli.demo import DEMO_FILES

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(DEMO_FILES)  # nothing else
    for name in DEMO_FILES:
        assert (tmp_path / name).stat().st_size > 0
    assert set(pd.read_csv(tmp_path / "fleet_legend.csv")["column"]) >= {"vans_to_buy"}
    # the plan buys 300-package vans, so the routes it sizes are those of that van
    summary = pd.read_csv(tmp_path / "forecast_summary.csv")
    assert summary["scenario"].eq("300-package vans").all()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["fits"]["spr"]["converged"] is demo_fit.diagnostics["ok"]
    assert manifest["fits"]["volume"]["model"] == "VolumeModel"
    assert manifest["fits"]["volume"]["converged"] is demo_volume_fit.diagnostics["ok"]
    assert sorted(manifest["files"]) == sorted(set(DEMO_FILES) - {"manifest.json"})


def test_demo_says_loudly_when_a_fit_did_not_converge(demo_fit, demo_volume_fit, tmp_path, capsys):
    from bayesspr.cli.demo import run_demo

    unconverged = copy.copy(demo_volume_fit)
    unconverged.diagnostics = copy.deepcopy(NOT_CONVERGED)
    assert run_demo(out=tmp_path, n_samples=40, spr=demo_fit, volume=unconverged) == 0
    err = capsys.readouterr().err
    assert "warning: the volume fit did not converge" in err
    fits = json.loads((tmp_path / "manifest.json").read_text())["fits"]
    assert fits["volume"]["converged"] is False and fits["spr"]["converged"] is True


def test_demo_output_folder_is_checked_before_any_work_and_written_whole(tmp_path, monkeypatch):
    from bayesspr.cli import demo
    from bayesspr.io.files import OutputPathError

    mine = tmp_path / "out"
    mine.mkdir()
    (mine / "thesis.docx").write_text("not the demo's")
    monkeypatch.setattr(demo, "simulate_world", lambda *a, **k: pytest.fail("work started"))
    with pytest.raises(OutputPathError, match=r"thesis\.docx"):
        demo.run_demo(out=mine)
    assert (mine / "thesis.docx").read_text() == "not the demo's"
    assert "plan_legend.csv" in demo.DEMO_FILES and "report.html" in demo.DEMO_FILES


def test_plan_on_a_local_dask_cluster_writes_the_same_plan(
    saved_fits, tmp_path, monkeypatch, capsys
):
    spr, volume = saved_fits
    argv = ["plan", "--model", spr, "--volume", volume, "--horizon", "2M", "--samples", "40"]
    assert main([*argv, "--out", str(tmp_path / "here")]) == 0
    assert main([*argv, "--workers", "2", "--out", str(tmp_path / "dask")]) == 0
    for table in ("plan.csv", "fleet.csv", "forecast_summary.csv"):
        here = pd.read_csv(tmp_path / "here" / table)
        pd.testing.assert_frame_equal(here, pd.read_csv(tmp_path / "dask" / table))
    # a scheduler that does not answer: a clear error, no folder
    from bayesspr.cli import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    out = tmp_path / "nowhere"
    capsys.readouterr()
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:9", "--out", str(out)]) == 2
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered" in capsys.readouterr().err
    assert not out.exists()


def test_workers_without_dask_installed_say_what_to_install(
    saved_fits, tmp_path, monkeypatch, capsys
):
    spr, volume = saved_fits
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    out = tmp_path / "plan"
    argv = ["plan", "--model", spr, "--volume", volume, "--horizon", "1M", "--samples", "10"]
    assert main([*argv, "--workers", "2", "--out", str(out)]) == 2
    assert "--workers needs Dask's distributed package: pip install 'bayesspr[dask]'" in (
        capsys.readouterr().err
    )
    assert not out.exists()
