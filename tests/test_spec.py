"""Model specs: priors as data, clear errors, user variants, fixed values."""

import copy

import pytest

from bayesspr import SPRModel, simulate_world
from bayesspr.spec import REQUIRED_PRIORS, SPEC_DIR, SpecError, load_spec, spec_id


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


def test_unknown_spec_name_lists_shipped_specs():
    with pytest.raises(SpecError, match="default"):
        load_spec("no_such_spec")


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
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("bayesspr-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bayesspr/models/default.toml" in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = subprocess.run(
        [sys.executable, "-c", "import bayesspr.spec as s; s.load_spec('default'); "
         "print(s.SPEC_DIR)"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert Path(probe.stdout.strip()) == unpacked / "bayesspr" / "models"
