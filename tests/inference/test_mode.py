"""The posterior mode, the Gaussian there and NUTS started from it
(:mod:`bayesspr.inference.mode`), checked where the posterior is known exactly."""

import logging
import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import scipy.sparse

from bayesspr.errors import ArgumentError, UnconvergedFitError
from bayesspr.inference import fitted_model
from bayesspr.inference.fitted_model import FittedModel, SamplerConfig
from bayesspr.inference.mode import find_mode, laplace_posterior

PRIOR_SD = 10.0
SCALE_SD = 0.5


def regression_table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = 1.0 + 2.0 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(size=n)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


class RegressionModel(FittedModel):
    """Normal regression with known noise (a Gaussian posterior), and a positive ``scale``
    that no data inform (its posterior is its LogNormal prior: Gaussian on the log scale)."""

    model_name = "RegressionModel"
    format_attr = "test_regression_save_format"
    config_attr = "test_regression_config"
    parameter_supports: ClassVar[dict] = {"beta": (-np.inf, np.inf)}

    def __init__(self, start: str = "auto", mode_min_rows: int = 100) -> None:
        self.start, self.mode_min_rows = start, mode_min_rows
        self.diagnostics = {}

    def sampler_config(self) -> SamplerConfig:
        return SamplerConfig(
            draws=500, tune=300, chains=2, start=self.start, mode_min_rows=self.mode_min_rows
        )

    def data_rows(self, data: pd.DataFrame) -> int:
        return len(data)

    def build_model(self, data: pd.DataFrame) -> pm.Model:
        design = np.column_stack([np.ones(len(data)), data[["x1", "x2"]].to_numpy()])
        with pm.Model(coords={"term": ["intercept", "x1", "x2"]}) as model:
            beta = pm.Normal("beta", 0.0, PRIOR_SD, dims="term")
            scale = pm.LogNormal("scale", 0.0, SCALE_SD)
            pm.Deterministic("double_scale", 2.0 * scale)
            pm.Normal("y", design @ beta, 1.0, observed=data["y"].to_numpy())
        return model


def exact_posterior(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    design = np.column_stack([np.ones(len(data)), data[["x1", "x2"]].to_numpy()])
    precision = design.T @ design + np.eye(3) / PRIOR_SD**2
    covariance = np.linalg.inv(precision)
    return covariance @ design.T @ data["y"].to_numpy(), covariance


def test_the_mode_and_its_gaussian_are_exact_where_the_posterior_is_gaussian():
    data = regression_table()
    mean, covariance = exact_posterior(data)
    mode = find_mode(RegressionModel().build_model(data))
    assert mode.point["beta"] == pytest.approx(mean, abs=1e-5)
    assert mode.point["scale_log__"] == pytest.approx(0.0, abs=1e-5)
    # beta first, then log scale: the order of the model's value variables
    assert mode.covariance[:3, :3] == pytest.approx(covariance, rel=1e-3, abs=1e-9)
    assert mode.covariance[3, 3] == pytest.approx(SCALE_SD**2, rel=1e-3)
    assert mode.covariance[:3, 3] == pytest.approx(np.zeros(3), abs=1e-6)
    assert mode.gradient_norm < 1e-3 and mode.record()["parameters"] == 4


def test_laplace_draws_come_back_on_the_models_own_scale_and_dims():
    data = regression_table()
    model = RegressionModel().build_model(data)
    tree = laplace_posterior(model, find_mode(model), draws=2000, chains=2, random_seed=1)
    post = tree["posterior"].to_dataset()
    assert post["beta"].dims == ("chain", "draw", "term")
    assert list(post["term"].to_numpy()) == ["intercept", "x1", "x2"]
    log_scale = np.log(post["scale"].to_numpy())
    assert log_scale.mean() == pytest.approx(0.0, abs=0.03)
    assert log_scale.std() == pytest.approx(SCALE_SD, rel=0.05)
    np.testing.assert_allclose(post["double_scale"], 2.0 * post["scale"])
    mean, covariance = exact_posterior(data)
    draws = post["beta"].to_numpy().reshape(-1, 3)
    assert np.all(np.abs(draws.mean(0) - mean) < 4 * np.sqrt(np.diag(covariance) / 4000))


def test_nuts_from_the_mode_samples_the_exact_posterior_and_says_so(caplog):
    data = regression_table()
    mean, covariance = exact_posterior(data)
    with caplog.at_level(logging.INFO, logger="bayesspr"):
        model = RegressionModel(start="auto", mode_min_rows=100).fit(data, random_seed=2)
    assert model.diagnostics["ok"], model.diagnostics["problems"]
    start = model.diagnostics["sampler"]["model"]["start"]
    assert start["route"] == "mode" and "200 rows" in start["reason"]
    assert start["mode"]["parameters"] == 4
    assert model.diagnostics["sampler"]["model"]["mass_matrix"] == "dense (the mode's covariance)"
    assert "searching the posterior mode" in caplog.text
    draws = model.idata["posterior"]["beta"].to_numpy().reshape(-1, 3)
    sd = np.sqrt(np.diag(covariance))
    assert np.all(np.abs(draws.mean(0) - mean) < 5 * sd / np.sqrt(500))
    assert np.all(np.abs(draws.std(0) / sd - 1) < 0.15)


def test_auto_keeps_the_default_start_below_its_size_and_a_forced_start_is_kept():
    data = regression_table(n=50)
    small = RegressionModel(start="auto", mode_min_rows=100)
    model = small.build_model(data)
    route = small._start_route(small.sampler_config(), data, model, None, "nuts")
    assert route == {"route": "default", "reason": "50 rows, fewer than mode_min_rows = 100"}
    forced = RegressionModel(start="mode", mode_min_rows=100)
    route = forced._start_route(forced.sampler_config(), data, model, None, "nuts")
    assert route["route"] == "mode" and "asked for" in route["reason"]


def test_a_failed_mode_search_falls_back_under_auto_and_is_raised_when_forced(monkeypatch):
    def no_mode(*args, **kwargs):
        raise UnconvergedFitError("the posterior is not locally Gaussian at the mode")

    monkeypatch.setattr(fitted_model, "find_mode", no_mode)
    data = regression_table()
    model = RegressionModel(start="auto").fit(data, random_seed=3)
    start = model.diagnostics["sampler"]["model"]["start"]
    assert start["route"] == "default" and "the mode search failed" in start["reason"]
    with pytest.raises(UnconvergedFitError, match="not locally Gaussian"):
        RegressionModel(start="mode").fit(data, random_seed=3)


def test_a_flat_posterior_has_no_gaussian_at_its_mode():
    with pm.Model() as model:
        pm.Flat("anything")
    with pytest.raises(UnconvergedFitError, match="not positive definite"):
        find_mode(model)


def test_method_laplace_is_an_approximation_and_labelled_one():
    data = regression_table()
    with pytest.warns(UserWarning, match="approximation"):
        model = RegressionModel().fit(data, method="laplace", random_seed=4)
    assert model.diagnostics["approximate"] is True and model.diagnostics["ok"] is None
    assert model.diagnostics["method"] == "laplace"
    assert model.diagnostics["mode"]["parameters"] == 4
    assert model.idata["posterior"]["beta"].shape == (2, 500, 3)


def test_bad_start_settings_are_refused():
    with pytest.raises(ArgumentError, match="start = 'middle'"):
        SamplerConfig(start="middle")
    with pytest.raises(ArgumentError, match="mode_min_rows"):
        SamplerConfig(mode_min_rows=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SamplerConfig().start == "auto"


def test_a_pointwise_log_likelihood_too_big_to_keep_is_left_out_and_said(monkeypatch):
    data = regression_table()
    monkeypatch.setattr(RegressionModel, "keeps_log_likelihood", True)
    kept = RegressionModel().fit(data, random_seed=5)
    assert kept.diagnostics["log_likelihood"] == "kept"
    draws = SamplerConfig().mode_draws
    assert kept.idata["log_likelihood"]["y"].shape == (2, draws, 200)
    monkeypatch.setattr(RegressionModel, "log_likelihood_max_values", 200 * 2 * draws - 1)
    big = RegressionModel().fit(data, random_seed=5)
    assert "log_likelihood" not in big.idata.children
    assert big.diagnostics["log_likelihood"].startswith(
        f"not kept: 200 observations × {2 * draws} draws = {200 * 2 * draws:,} values, over "
        f"{200 * 2 * draws - 1:,}"
    )


class PatternedRegression(RegressionModel):
    """The regression with its Hessian's sparsity given: ``scale`` couples with nothing."""

    has_hessian_pattern = True

    def hessian_pattern(self, data, model):
        pattern = np.zeros((4, 4), dtype=bool)
        pattern[:3, :3] = True
        pattern[3, 3] = True
        return scipy.sparse.csr_array(pattern)


def test_auto_takes_laplace_with_a_sparse_hessian_where_nuts_from_the_mode_is_too_big(
    monkeypatch, caplog
):
    data = regression_table()
    monkeypatch.setattr(fitted_model, "MODE_MAX_PARAMETERS", 3)  # the model has 4
    with caplog.at_level(logging.INFO, logger="bayesspr"):
        with pytest.warns(UserWarning, match="approximation"):
            model = PatternedRegression(mode_min_rows=100).fit(data, random_seed=5)
    choice = model.diagnostics["method_choice"]
    assert choice["method"] == "laplace" and "4 free parameters" in choice["reason"]
    assert "method laplace" in caplog.text
    # the coloured Hessian: three colours (beta's three are coupled; scale shares one)
    assert model.diagnostics["mode"]["hessian_gradients"] == 3 + 2
    mean, covariance = exact_posterior(data)
    draws = model.idata["posterior"]["beta"].to_numpy().reshape(-1, 3)
    sd = np.sqrt(np.diag(covariance))
    assert np.all(np.abs(draws.mean(0) - mean) < 5 * sd / np.sqrt(len(draws)))
    assert np.all(np.abs(draws.std(0) / sd - 1) < 0.1)
    # below the rows, without a pattern, or forced: NUTS
    few = PatternedRegression(mode_min_rows=1000)
    built = few.build_model(data)
    assert few._choose_method("auto", few.sampler_config(), data, built)[0] == "nuts"
    plain = RegressionModel(mode_min_rows=100)
    assert plain._choose_method("auto", plain.sampler_config(), data, built)[0] == "nuts"
    forced = PatternedRegression(mode_min_rows=100)
    assert forced._choose_method("nuts", forced.sampler_config(), data, built) == (
        "nuts",
        {"method": "nuts", "reason": "method='nuts' was asked for"},
    )


def test_newton_steps_with_a_sparse_hessian_find_the_same_mode_as_lbfgs():
    model = RegressionModel().build_model(regression_table())
    quasi = find_mode(model)
    newton = find_mode(model, pattern=PatternedRegression().hessian_pattern(None, model))
    assert newton.point["beta"] == pytest.approx(quasi.point["beta"], abs=1e-6)
    assert newton.precision.toarray() == pytest.approx(quasi.precision.toarray(), rel=1e-4)
    assert newton.hessian_gradients == 3 + 2 and quasi.hessian_gradients == 4 + 1
    with pytest.raises(ArgumentError, match="the model has 4 free parameters"):
        find_mode(model, pattern=scipy.sparse.eye_array(3))


def test_draws_from_the_mode_are_the_same_whatever_the_chunk():
    data = regression_table()
    mode = find_mode(RegressionModel().build_model(data))
    whole = np.concatenate(list(mode.draw_chunks(500, random_seed=3, chunk=500)))
    pieces = list(mode.draw_chunks(500, random_seed=3, chunk=64))
    assert [len(piece) for piece in pieces] == [64] * 7 + [52]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    points = mode.draws(500, random_seed=3)
    np.testing.assert_array_equal(points[-1]["beta"], whole[-1, :3])
    assert not np.array_equal(whole, np.concatenate(list(mode.draw_chunks(500, 4))))
    # the draws' covariance is the mode's (500 draws: within a few sampling errors)
    _, covariance = exact_posterior(data)
    sd = np.sqrt(np.diag(covariance))
    assert np.all(np.abs(whole[:, :3].std(0) / sd - 1) < 0.15)
    with pytest.raises(ArgumentError, match="chunk is 0"):
        next(mode.draw_chunks(5, 1, chunk=0))


def test_a_search_stopped_early_is_finished_by_newton_steps_with_the_modes_hessian(caplog):
    """Two L-BFGS steps leave the point far out; Newton steps with the Hessian there bring
    it to the mode, and the Newton decrement (posterior sd from it) says how close."""
    data = regression_table()
    mean, _ = exact_posterior(data)
    model = RegressionModel().build_model(data)
    with caplog.at_level(logging.WARNING, logger="bayesspr"):
        finished = find_mode(model, max_iterations=2)
    assert 1 <= finished.polish_steps <= 3
    assert finished.newton_decrement <= 0.01
    assert finished.point["beta"] == pytest.approx(mean, abs=1e-4)
    assert finished.record()["newton_decrement"] == finished.newton_decrement
    assert "posterior sd from the mode" not in caplog.text
    converged = find_mode(model)
    assert converged.polish_steps == 0 and converged.newton_decrement < 1e-3
