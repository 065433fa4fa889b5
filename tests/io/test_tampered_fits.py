"""A saved fit edited by hand is refused or judged again, never trusted for its attributes."""

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from bayesspr import SPRModel, VolumeModel
from bayesspr.errors import SavedFitError
from bayesspr.inference.diagnostics import ConvergenceWarning


def _edited(model, tmp_path, edit):
    """Save ``model``, apply ``edit`` to the file's tree, and write it back as a new file."""
    tree = xr.open_datatree(model.save(tmp_path / "fit.nc", keep="posterior")).load()
    edit(tree)
    path = tmp_path / "edited.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    return path


def _set_posterior(name, change):
    def edit(tree):
        post = tree["posterior"].to_dataset()
        tree["posterior"] = xr.DataTree(post.assign({name: change(post[name])}))

    return edit


def test_a_volume_fit_with_a_negative_noise_is_refused(demo_volume_fit, tmp_path):
    path = _edited(
        demo_volume_fit, tmp_path, _set_posterior("noise_sd_station", lambda v: v * 0 - 2)
    )
    with pytest.raises(SavedFitError, match=r"'noise_sd_station'.*outside its support 0 < value"):
        VolumeModel.load(path)


def test_an_spr_fit_whose_fill_exceeds_the_van_is_refused(demo_fit, tmp_path):
    path = _edited(demo_fit, tmp_path, _set_posterior("fill", lambda v: v * 0 + 5))
    with pytest.raises(SavedFitError, match=r"'fill'.*support 0 < value ≤ 1 \(first 5\.0\)"):
        SPRModel.load(path)


@pytest.mark.parametrize(
    ("model_fixture", "cls", "name"),
    [("demo_fit", SPRModel, "fill"), ("demo_volume_fit", VolumeModel, "ratio_noise_sd")],
)
def test_a_fit_missing_a_learned_parameter_is_refused_by_name(
    model_fixture, cls, name, request, tmp_path
):
    model = request.getfixturevalue(model_fixture)

    def drop(tree):
        tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset().drop_vars(name))

    with pytest.raises(SavedFitError, match=rf"variable\(s\) \['{name}'\] missing"):
        cls.load(_edited(model, tmp_path, drop))


@pytest.mark.parametrize(
    ("model_fixture", "cls", "name"),
    [("demo_fit", SPRModel, "tour_constant"), ("demo_volume_fit", VolumeModel, "growth_city")],
)
def test_an_edited_verdict_is_recomputed_from_the_draws(
    model_fixture, cls, name, request, tmp_path
):
    """Chains moved apart (R-hat far above 1.01) with the stored verdict edited to ok."""
    model = request.getfixturevalue(model_fixture)

    def split_chains(values):
        shift = np.zeros(values.sizes["chain"])
        shift[0] = 10 * float(values.std())
        return values + xr.DataArray(shift, dims="chain")

    def tamper(tree):
        _set_posterior(name, split_chains)(tree)
        tree.attrs["bayesspr_diagnostics"] = json.dumps({**model.diagnostics, "ok": True})

    path = _edited(model, tmp_path, tamper)
    with pytest.warns(ConvergenceWarning, match=r"stored verdict said ok=True.*ok=False"):
        loaded = cls.load(path)
    assert loaded.diagnostics["ok"] is False and loaded.diagnostics["rhat_worst"] == name


def test_an_untouched_fit_loads_with_the_verdict_it_was_saved_with(demo_fit, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        loaded = SPRModel.load(demo_fit.save(tmp_path / "fit.nc"))
    for key in ("ok", "rhat_max", "ess_bulk_min", "ess_tail_min", "divergences"):
        assert loaded.diagnostics[key] == pytest.approx(demo_fit.diagnostics[key], rel=1e-6)


def test_load_refuses_a_fit_without_its_spec(demo_fit, tmp_path):
    path = _edited(demo_fit, tmp_path, lambda t: t.attrs.pop("bayesspr_spec"))
    with pytest.raises(SavedFitError, match="bayesspr_spec"):
        SPRModel.load(path)


def test_load_refuses_a_nan_posterior(demo_fit, tmp_path):
    def poison(tree):
        post = tree["posterior"].to_dataset()
        values = post["tour_constant"].values.copy()
        values[0, 5] = np.nan
        tree["posterior"] = xr.DataTree(
            post.assign(tour_constant=(post["tour_constant"].dims, values))
        )

    with pytest.raises(SavedFitError, match=r"tour_constant.*non-finite"):
        SPRModel.load(_edited(demo_fit, tmp_path, poison))


def test_load_refuses_a_negative_circuity(demo_fit, tmp_path):
    def tamper(tree):
        spec = json.loads(tree.attrs["bayesspr_spec"])
        spec["constants"]["circuity"] = -1.3
        tree.attrs["bayesspr_spec"] = json.dumps(spec)

    with pytest.raises(SavedFitError, match="circuity"):
        SPRModel.load(_edited(demo_fit, tmp_path, tamper))
