"""Model specs: priors as data, clear errors, user variants, fixed values."""

import copy

import pandas as pd
import pytest

from bayesspr import SPRModel, simulate_world
from bayesspr.spr.spec import REQUIRED_PRIORS, SPEC_DIR, SpecError, load_spec, spec_id


def test_default_spec_has_every_prior_with_units_documented():
    spec = load_spec("default")
    assert set(REQUIRED_PRIORS) <= set(spec["priors"])
    text = (SPEC_DIR / "default.toml").read_text()
    for unit in ("km/h", "min per stop", "h per route"):
        assert unit in text


def test_missing_prior_is_named():
    spec = copy.deepcopy(load_spec())
    del spec["priors"]["fill"]
    with pytest.raises(SpecError, match="fill"):
        load_spec(spec)


def test_unknown_distribution_is_refused():
    spec = copy.deepcopy(load_spec())
    spec["priors"]["fill"] = {"dist": "Cauchyish", "alpha": 1.0}
    with pytest.raises(SpecError, match="Cauchyish"):
        load_spec(spec)


def test_unknown_spec_name_lists_shipped_specs_and_where_they_live():
    with pytest.raises(SpecError, match="default") as info:
        load_spec("no_such_spec")
    message = str(info.value)
    assert "'no_such_spec' not found" in message
    assert str(SPEC_DIR) in message
    assert "'volume'" not in message  # the volume spec is not an SPR spec


@pytest.mark.parametrize("given", ["volume", SPEC_DIR / "volume.toml"])
def test_the_volume_spec_given_for_an_spr_model_says_so(given):
    with pytest.raises(SpecError, match="volume model's spec") as info:
        SPRModel(given)
    message = str(info.value)
    assert "not an SPR spec" in message
    assert "['default']" in message and str(SPEC_DIR) in message


def test_an_invalid_toml_spec_file_is_a_spec_error_naming_the_file(tmp_path):
    from bayesspr.spr.spec import read_spec_file

    path = tmp_path / "broken.toml"
    path.write_text('[model]\nname = "broken\n[priors]\n')  # unterminated string
    with pytest.raises(SpecError, match=rf"model spec {path} is not valid TOML: "):
        read_spec_file(path)
    with pytest.raises(SpecError, match="is not valid TOML"):
        load_spec(path)


def test_user_variant_file_changes_the_model(tmp_path):
    text = (
        (SPEC_DIR / "default.toml")
        .read_text()
        .replace(
            'tour_constant = { dist = "LogNormal", median = 0.8, sigma = 0.12 }',
            "tour_constant = 0.9",
        )
    )
    variant = tmp_path / "fixed_k.toml"
    variant.write_text(text)
    spec = load_spec(variant)
    assert spec["priors"]["tour_constant"] == 0.9
    assert spec_id(spec) != spec_id(load_spec())
    table = simulate_world(n_days=10).table
    model = SPRModel(variant).build_model(table)
    free = {rv.name for rv in model.free_RVs}
    assert "tour_constant" not in free  # fixed, not learned
    assert "fill" in free


def test_a_built_wheel_carries_the_default_spec(tmp_path):
    """A non-editable install must find models/default.toml too (it ships in the wheel)."""
    import importlib.util
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed: cannot build a wheel without the network")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(root),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("bayesspr-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bayesspr/models/default.toml" in names
    for template in ("report.html", "section.html", "report.css"):  # the report's layout
        assert f"bayesspr/reporting/templates/{template}" in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import bayesspr.spr.spec as s; s.load_spec('default'); print(s.SPEC_DIR)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert Path(probe.stdout.strip()) == unpacked / "bayesspr" / "models"


def tampered(edit) -> dict:
    spec = copy.deepcopy(load_spec())
    edit(spec)
    return spec


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s["constants"].update(circuity=-1.3),
            r"\[constants\] circuity = -1.3; expected a finite number from 1 to 3",
        ),
        (lambda s: s["constants"].update(circuity=0.9), r"circuity = 0.9; expected"),
        (lambda s: s["constants"].update(circuity=float("nan")), r"circuity = nan; expected"),
        (lambda s: s["constants"].update(circuity="1.3"), r"circuity = '1.3'; expected"),
        (
            lambda s: s["priors"]["tour_constant"].update(sigma=-0.12),
            r"\[priors\] tour_constant: LogNormal sigma = -0.12; expected a finite number > 0",
        ),
        (
            lambda s: s["priors"]["tour_constant"].update(median=0.0),
            r"tour_constant: LogNormal median = 0.0; expected a finite number > 0",
        ),
        (
            lambda s: s["priors"]["fill"].update(alpha=float("inf")),
            r"fill: Beta alpha = inf; expected a finite number > 0",
        ),
        (lambda s: s["priors"]["fill"].update(beta=0), r"fill: Beta beta = 0; expected"),
        (
            lambda s: s["priors"]["sigma_route"].update(sigma=0.0),
            r"sigma_route: HalfNormal sigma = 0.0; expected a finite number > 0",
        ),
        (
            lambda s: s["priors"]["tour_constant"].update(mu=0.0),
            r"tour_constant: LogNormal with \['median', 'mu'\]; expected",
        ),
        (
            lambda s: s["priors"]["fill"].update(mean=0.9),
            r"fill: Beta takes no parameter\(s\) \['mean'\]",
        ),
        (
            lambda s: s["priors"].update(fill=1.5),
            r"\[priors\] fill = 1.5; expected a fixed value in \(0, 1\]",
        ),
        (lambda s: s["priors"].update(fill=0.0), r"fill = 0.0; expected a fixed value in \(0, 1\]"),
        (
            lambda s: s["priors"].update(service_min_sd=-0.1),
            r"service_min_sd = -0.1; expected a fixed value > 0",
        ),
        (lambda s: s["priors"].update(tour_constant=float("nan")), r"tour_constant = nan"),
        (lambda s: s["priors"].update(tour_constant=True), r"tour_constant = True"),
        (
            lambda s: s["priors"].update(stem_speed_kmh={"dist": "Normal", "mu": 45, "sigma": 5}),
            r"stem_speed_kmh: Normal draws values from -inf to inf; expected .* > 0 \(km/h\)",
        ),
        (
            lambda s: s["priors"].update(fill={"dist": "HalfNormal", "sigma": 1.0}),
            r"fill: HalfNormal draws values from 0 to inf; expected .* in \(0, 1\]",
        ),
        (
            lambda s: s["priors"].update(
                fill={"dist": "TruncatedNormal", "mu": 0.9, "sigma": 0.1, "lower": 1, "upper": 0}
            ),
            r"lower = 1 and upper = 0; expected lower < upper",
        ),
        (
            lambda s: s["priors"].update(speed_kmh_pop={"dist": "Gamma", "alpha": 2, "beta": 1}),
            r"speed_kmh_pop has dist 'Gamma'; expected 'LogNormal'",
        ),
        (
            lambda s: s["priors"].update(speed_kmh_pop=25.0),
            r"speed_kmh_pop = 25.0; expected a LogN",
        ),
        (
            lambda s: s["sampler"].update(draws=0),
            r"\[sampler\] draws = 0; expected a whole number >= 1",
        ),
        (lambda s: s["sampler"].update(chains=2.5), r"\[sampler\] chains = 2.5; expected"),
        (
            lambda s: s["sampler"].update(target_accept=1.2),
            r"target_accept = 1.2; expected a number strictly between 0 and 1",
        ),
        (
            lambda s: s["hierarchy"].update(zip_effect="centered"),
            r"\[hierarchy\] zip_effect = 'centered'; expected 'auto', 'centred' or 'non-centred'",
        ),
        (
            lambda s: s["hierarchy"].update(centred_min_rows={"zip_efect": 200}),
            r"centred_min_rows = \{'zip_efect': 200\}; 'zip_efect' is not a pooled effect",
        ),
        (
            lambda s: s["hierarchy"].update(centred_min_rows={"zip_effect": -5}),
            r"expected a whole number of rows >= 0, or one per effect",
        ),
        (lambda s: s.update(priors=[1, 2]), r"\[priors\] = \[1, 2\]; expected a table"),
    ],
)
def test_values_outside_their_support_are_refused_by_entry_value_and_rule(edit, message):
    with pytest.raises(SpecError, match=message):
        load_spec(tampered(edit))


def test_a_tampered_spec_file_names_the_file_and_entry(tmp_path):
    text = (SPEC_DIR / "default.toml").read_text().replace("circuity = 1.3", "circuity = -1.3")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=rf"{path}: \[constants\] circuity = -1.3"):
        load_spec(path)


def test_valid_variants_load_and_a_share_above_one_does_not():
    spec = tampered(
        lambda s: s["priors"].update(
            fill={"dist": "TruncatedNormal", "mu": 0.9, "sigma": 0.05, "lower": 0.5, "upper": 1.0},
            tour_constant={"dist": "Gamma", "mu": 0.8, "sigma": 0.1},
            stem_speed_kmh={"dist": "LogNormal", "mu": 3.8, "sigma": 0.2},
            sigma_route={"dist": "Exponential", "lam": 10.0},
            service_min_sd=1e-3,
        )
    )
    assert load_spec(spec) == spec
    spec["priors"]["fill"]["upper"] = 1.5
    with pytest.raises(SpecError, match=r"fill: TruncatedNormal draws values from 0.5 to 1.5"):
        load_spec(spec)


def test_groups_are_centred_from_their_effects_own_row_count():
    """The default centres a zip from 200 rows and a station from 2,000 (a year of days)."""
    from bayesspr import SPRModel
    from bayesspr.simulate.ladder import simulate_network

    table = simulate_network("S", seed=0).table
    year = SPRModel()
    year.build_model(table)
    zips_rich = int((table.groupby("zip", observed=True).size() >= 200).sum())
    assert year.parameterisation["zip_effect"] == f"{zips_rich} of 400 groups centred"
    assert zips_rich > 380
    stations_rich = int((table.groupby("station", observed=True).size() >= 2000).sum())
    assert year.parameterisation["overhead_hours_station"].startswith(f"{stations_rich} of")
    assert stations_rich >= 9
    month = table[table["date"] < table["date"].min() + pd.Timedelta(days=150)]
    short = SPRModel()
    short.build_model(month)
    assert short.parameterisation["zip_effect"].startswith("0 of")


def test_the_spec_knows_the_models_pooled_effects():
    """[hierarchy] checks against the effects the model pools, whether the table names them
    or leaves them "auto"."""
    from bayesspr.spr.model import GROUP_EFFECTS
    from bayesspr.spr.spec import HIERARCHY_EFFECTS

    assert HIERARCHY_EFFECTS == (*(name for name, *_ in GROUP_EFFECTS), "zip_effect")
    spec = tampered(
        lambda s: s.update(hierarchy={"centred_min_rows": {"overhead_hours_station": 10}})
    )
    assert load_spec(spec)["hierarchy"]["centred_min_rows"] == {"overhead_hours_station": 10}
