"""SPRModel on the demo world: convergence, the predict API, scenarios, save and load."""

import json
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesspr import DataError, SPRModel, simulate_world
from bayesspr.cli.demo import DEMO_SEED
from bayesspr.data.table import validate
from bayesspr.errors import ModelVersionError, NotFittedError
from bayesspr.evaluation.scores import pit_coverage, randomised_pit
from bayesspr.spr.model import PhysicsWarning, warm_start_values

PREDICT_COLUMNS = [
    "spr_mean",
    "spr_median",
    "spr_lower_90",
    "spr_upper_90",
    "routes_mean",
    "routes_median",
    "routes_lower_90",
    "routes_upper_90",
    "unseen",
]


def plan_of(df):
    return df.drop(columns=["routes", "route_km"])


def test_demo_fit_converges_with_default_settings(demo_fit):
    idata = demo_fit.idata
    post = idata["posterior"].to_dataset()
    # recompute with ArviZ rather than trusting the model's own summary
    assert max(float(v.max()) for v in az.rhat(post).data_vars.values()) <= 1.01
    assert min(float(v.min()) for v in az.ess(post, method="bulk").data_vars.values()) >= 400
    assert min(float(v.min()) for v in az.ess(post, method="tail").data_vars.values()) >= 400
    assert int(idata["sample_stats"]["diverging"].sum()) == 0
    assert demo_fit.diagnostics["ok"], demo_fit.diagnostics["problems"]


def test_idata_has_the_groups_users_expect(demo_fit):
    assert isinstance(demo_fit.idata, xr.DataTree)
    for group in ("posterior", "sample_stats", "observed_data", "log_likelihood"):
        assert group in demo_fit.idata.children
    assert "routes" in demo_fit.idata["log_likelihood"]


def test_predict_returns_one_row_per_input_with_ordered_intervals(demo_fit, demo_split):
    _, future = demo_split
    plan = plan_of(future)
    fc = demo_fit.predict(plan, interval=0.9)
    assert list(fc.columns) == PREDICT_COLUMNS
    assert fc.index.equals(plan.index)
    assert (fc["spr_lower_90"] <= fc["spr_median"]).all()
    assert (fc["spr_median"] <= fc["spr_upper_90"]).all()
    assert (fc["routes_lower_90"] <= fc["routes_median"]).all()
    assert (fc["routes_median"] <= fc["routes_upper_90"]).all()
    assert (fc["routes_median"] == fc["routes_median"].round()).all()  # a count that can happen
    assert (fc["unseen"] == "").all()
    # whole routes never carry more than the van holds
    assert (fc["spr_upper_90"] <= plan["van_capacity"] + 1e-9).all()
    assert "spr_lower_80" in demo_fit.predict(plan.iloc[:3], interval=0.8)


def test_predict_draws_are_labelled(demo_fit, demo_split):
    _, future = demo_split
    draws = demo_fit.predict_draws(plan_of(future.iloc[:40]), max_samples=200)
    assert draws["spr"].dims == ("sample", "row")
    assert draws.sizes == {"sample": 200, "row": 40}
    np.testing.assert_array_equal(draws["row"].to_numpy(), future.index[:40].to_numpy())
    assert np.all(draws["routes"].to_numpy() >= 1)


def test_next_month_interval_coverage_is_near_nominal(demo_fit, demo_split):
    _, future = demo_split
    draws = demo_fit.predict_draws(plan_of(future))["routes"].to_numpy()
    pit = randomised_pit(draws, future["routes"].to_numpy(), np.random.default_rng(1))
    # ~480 rows: the 99% binomial band around 0.9 is about 0.865-0.93; rows share
    # parameters, so allow a little more
    assert 0.85 <= pit_coverage(pit, 0.9) <= 0.95, pit_coverage(pit, 0.9)
    fc = demo_fit.predict(plan_of(future), interval=0.9)
    routes = future["routes"]
    inside = (routes >= fc["routes_lower_90"]) & (routes <= fc["routes_upper_90"])
    assert inside.mean() >= 0.85  # inclusive whole-route intervals cover at least nominal


def test_larger_van_raises_spr_only_where_capacity_binds(demo_fit, demo_split):
    _, future = demo_split
    small = plan_of(future[future["van_capacity"] == 200.0])
    base = demo_fit.predict(small)
    big = demo_fit.predict(small.assign(van_capacity=450.0))
    vast = demo_fit.predict(small.assign(van_capacity=2000.0))
    huge = demo_fit.predict(small.assign(van_capacity=5000.0))
    binds = base["spr_mean"] > 0.8 * 200.0  # rows where the 200-package van runs nearly full
    assert binds.sum() >= 10
    assert (big["spr_mean"][binds] > 1.05 * base["spr_mean"][binds]).mean() >= 0.8
    # once the time bound binds everywhere a bigger van buys nothing: 2000 -> 5000
    assert np.allclose(huge["spr_mean"], vast["spr_mean"], rtol=0.01)
    assert (vast["spr_mean"] >= big["spr_mean"] - 1e-9).all()


def test_unseen_zip_station_and_city_get_wider_intervals(demo_fit, demo_split):
    _, future = demo_split
    seen = plan_of(future[future["zip"] == future["zip"].iloc[0]])
    unseen = seen.assign(zip="99999", station="NEW1", city="Nowhere")
    a, b = demo_fit.predict(seen), demo_fit.predict(unseen)
    width = lambda fc: (fc["spr_upper_90"] - fc["spr_lower_90"]).mean()  # noqa: E731
    assert np.isfinite(b.drop(columns="unseen").to_numpy(float)).all()
    assert (a["unseen"] == "").all() and (b["unseen"] == "zip+station+city").all()
    assert (demo_fit.predict(seen.assign(zip="99999"))["unseen"] == "zip").all()
    assert width(b) > 1.2 * width(a)


def test_same_seed_same_predictions(demo_fit, demo_split):
    _, future = demo_split
    plan = plan_of(future.iloc[:30])
    pd.testing.assert_frame_equal(
        demo_fit.predict(plan, random_seed=5), demo_fit.predict(plan, random_seed=5)
    )


def test_save_load_round_trip_gives_same_predictions(demo_fit, demo_split, tmp_path):
    _, future = demo_split
    plan = plan_of(future.iloc[:30])
    path = demo_fit.save(tmp_path / "fit.nc")
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]  # atomic: no temp file left
    loaded = SPRModel.load(path)
    assert loaded.spec == demo_fit.spec
    assert loaded.diagnostics["ok"] == demo_fit.diagnostics["ok"]
    pd.testing.assert_frame_equal(
        loaded.predict(plan, random_seed=3), demo_fit.predict(plan, random_seed=3)
    )


def test_load_refuses_another_save_format(demo_fit, tmp_path):
    path = demo_fit.save(tmp_path / "fit.nc")
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    tree.attrs["bayesspr_save_format"] = "999"
    other = tmp_path / "other.nc"
    tree.to_netcdf(other, engine="h5netcdf")
    with pytest.raises(ModelVersionError, match="999"):
        SPRModel.load(other)
    assert json.loads(tree.attrs["bayesspr_spec"])["model"]["name"] == "default"


def test_fit_refuses_invalid_data(demo_split):
    history, _ = demo_split
    bad = history.copy()
    bad.loc[bad.index[3], "routes"] = 0
    with pytest.raises(DataError, match="routes"):
        SPRModel().fit(bad)


def test_predict_before_fit_is_a_clear_error(demo_split):
    _, future = demo_split
    with pytest.raises(NotFittedError, match="fit"):
        SPRModel().predict(plan_of(future))


def test_interval_outside_unit_interval_is_refused(demo_fit, demo_split):
    _, future = demo_split
    with pytest.raises(ValueError, match="interval"):
        demo_fit.predict(plan_of(future.iloc[:5]), interval=1.5)


def test_advi_is_fast_and_labelled_approximate():
    from bayesspr import simulate_world

    table = simulate_world(5, zips_per_station=2, n_days=20).table
    with pytest.warns(UserWarning, match="approximation"):
        model = SPRModel().fit(table, method="advi", advi_iterations=3000, random_seed=2)
    assert model.diagnostics["approximate"] is True
    assert model.idata.attrs["bayesspr_diagnostics"].count("approximate") >= 1
    fc = model.predict(table.drop(columns=["routes", "route_km"]).iloc[:10])
    assert np.isfinite(fc.drop(columns="unseen").to_numpy(float)).all()


def test_unknown_method_is_refused(demo_split):
    history, _ = demo_split
    with pytest.raises(ValueError, match="advi"):
        SPRModel().fit(history.iloc[:50], method="gibbs")


def test_warm_start_takes_the_shared_parameters_of_an_earlier_fit(demo_fit, demo_split):
    history, _ = demo_split
    post = demo_fit.idata["posterior"].to_dataset()
    same = warm_start_values(demo_fit.build_model(validate(history)), demo_fit.idata)
    scalars = [n for n in same if post[n].ndim == 2]
    assert "tour_constant" in scalars or "fill" in scalars
    for name, value in same.items():
        np.testing.assert_allclose(value, post[name].mean(("chain", "draw")).to_numpy())
    # one zip fewer: the zip-level groups change labels and start as usual; the rest is kept
    dropped = history[history["zip"] != history["zip"].iloc[0]]
    fewer = warm_start_values(demo_fit.build_model(validate(dropped)), demo_fit.idata)
    zip_level = {n for n in same if "zip" in post[n].dims}
    assert zip_level and not zip_level & set(fewer)
    assert set(scalars) <= set(fewer)


def test_save_keep_posterior_is_over_ten_times_smaller_and_predicts_the_same(
    demo_fit, demo_split, tmp_path
):
    _, future = demo_split
    plan = plan_of(future.iloc[:30])
    full = demo_fit.save(tmp_path / "all.nc", keep="all")
    small = demo_fit.save(tmp_path / "posterior.nc", keep="posterior")
    default = demo_fit.save(tmp_path / "default.nc")
    before = tmp_path / "uncompressed.nc"  # what save wrote before keep= and compression
    demo_fit.idata.to_netcdf(before, engine="h5netcdf")
    assert before.stat().st_size > 10 * small.stat().st_size
    assert small.stat().st_size < default.stat().st_size <= full.stat().st_size
    light = SPRModel.load(small)
    assert "log_likelihood" not in light.idata.children
    assert light.idata.attrs["bayesspr_keep"] == "posterior"
    # the default keeps what the report needs: the pointwise log-likelihood for PSIS-LOO
    assert "log_likelihood" in SPRModel.load(default).idata.children
    pd.testing.assert_frame_equal(
        light.predict(plan, random_seed=3), demo_fit.predict(plan, random_seed=3)
    )


def test_save_refuses_an_unknown_keep(demo_fit, tmp_path):
    with pytest.raises(ValueError, match="keep"):
        demo_fit.save(tmp_path / "fit.nc", keep="everything")
    assert not list(tmp_path.iterdir())


def test_a_volume_fit_given_to_spr_load_says_so_by_name(demo_volume_fit, tmp_path):
    path = demo_volume_fit.save(tmp_path / "volume.nc")
    with pytest.raises(ModelVersionError, match="VolumeModel fit"):
        SPRModel.load(path)


def test_predict_warns_about_rows_whose_shift_cannot_hold_a_stop(demo_fit, demo_split):
    _, future = demo_split
    plan = plan_of(future.iloc[:6])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhysicsWarning)
        demo_fit.predict(plan)  # the demo's own rows are fine
    absurd = plan.assign(stem_km=450.0, shift_hours=1.0)
    with pytest.warns(PhysicsWarning, match="less than one stop per route"):
        demo_fit.predict(absurd)


def test_an_spr_fit_given_to_volume_load_says_so_by_name(demo_fit, tmp_path):
    from bayesspr.volume.model import VolumeModel

    path = demo_fit.save(tmp_path / "spr.nc", keep="posterior")
    with pytest.raises(ModelVersionError, match=r"SPRModel fit.*bayesspr\.SPRModel\.load"):
        VolumeModel.load(path)


def test_both_models_share_one_base_for_fit_files_and_not_fitted_checks():
    from bayesspr.inference.fitted_model import FittedModel
    from bayesspr.volume.model import VolumeModel

    for cls in (SPRModel, VolumeModel):
        assert issubclass(cls, FittedModel)
        with pytest.raises(NotFittedError, match=f"{cls.__name__} has no fit"):
            cls().posterior_samples()


def test_the_hessian_pattern_holds_every_coupling_of_the_log_density():
    """Every entry of the dense finite-difference Hessian outside the model's pattern is zero,
    and the coloured Hessian from a few gradients equals it (a moved zip in two stations)."""
    import scipy.optimize
    from pymc.blocking import DictToArrayBijection

    from bayesspr.inference.sparse_hessian import colour_columns, coloured_hessian

    table = simulate_world().table
    assert table.groupby("zip")["station"].nunique().max() == 2
    model = SPRModel()
    prepared = model._prepare(table)
    pymc_model = model.build_model(prepared)
    pattern = model.hessian_pattern(prepared, pymc_model).toarray()
    start = pymc_model.initial_point()
    start = {value.name: start[value.name] for value in pymc_model.value_vars}
    x = DictToArrayBijection.map(start).data
    x = x + 0.1 * np.random.default_rng(0).standard_normal(x.size)
    logp_dlogp = pymc_model.logp_dlogp_function(ravel_inputs=True, initial_point=start)

    def gradient(point):
        return -np.asarray(logp_dlogp(point)[1], dtype=float)

    dense = scipy.optimize.approx_fprime(x, gradient)
    dense = 0.5 * (dense + dense.T)
    assert pattern.shape == dense.shape
    assert np.all(dense[~pattern] == 0.0)
    assert not pattern.all()  # zips and stations leave most of it empty
    colouring = colour_columns(pattern)
    assert colouring.n_colours < len(x) / 2
    coloured = coloured_hessian(gradient, x, colouring).toarray()
    assert coloured == pytest.approx(dense, rel=1e-5, abs=1e-7 * np.abs(dense).max())


def test_the_laplace_route_agrees_with_nuts_on_the_demo_history(demo_fit, demo_split):
    """The approximate route against the demo's own NUTS fit, seeded: the physics constants'
    posterior means within a fraction of NUTS's posterior sd, and their spread alike; and the
    spreads, which the route puts at their Laplace-marginal mode.

    On this world of 2 cities and 5 stations the population median of overhead is the least
    Gaussian (measured: 0.39 sd apart). At the joint mode the zips' spread was 5.6 NUTS sd
    away with 3.2 times NUTS's sd, and σ_route 0.60 sd; at the marginal mode 0.17 and 0.03
    (docs/scale.md).
    """
    from bayesspr.reporting.spr_report import PHYSICS_CONSTANTS

    history, _ = demo_split
    with pytest.warns(UserWarning, match="approximation"):
        laplace = SPRModel().fit(history, method="laplace", random_seed=DEMO_SEED)
    assert laplace.diagnostics["mode"]["hessian_gradients"] < 36
    approximate, exact = laplace.idata["posterior"], demo_fit.idata["posterior"]
    assert laplace.diagnostics["mode"]["spreads"]["last_step_sd"] <= 0.05
    pooled = ("overhead_hours_pop",)
    spreads = ("zip_effect_sd", "overhead_hours_sd", "sigma_route", "sigma_km")
    for name in (*PHYSICS_CONSTANTS, *spreads):
        gap = float((approximate[name].mean() - exact[name].mean()) / exact[name].std())
        assert abs(gap) < (0.6 if name in pooled else 0.25), (name, gap)
        ratio = float(approximate[name].std() / exact[name].std())
        assert 0.85 < ratio < 1.25, (name, ratio)
