"""A third model written in a few lines fits, saves, loads and refuses wrong files through
the base alone (:class:`bayesspr.inference.fitted_model.FittedModel`)."""

import os
import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from bayesspr import SPRModel
from bayesspr.errors import ArgumentError, ModelVersionError, SavedFitError, SpecError
from bayesspr.inference.fitted_model import FittedModel, SamplerConfig


class CoinModel(FittedModel):
    """Heads in batches of tosses: Beta prior, binomial likelihood. Nothing else is needed."""

    model_name = "CoinModel"
    format_attr = "test_coin_save_format"
    config_attr = "test_coin_config"
    parameter_supports: ClassVar[dict] = {"p": (0.0, 1.0)}

    def __init__(self, prior_a: float = 1.0, prior_b: float = 1.0) -> None:
        self.prior_a, self.prior_b = float(prior_a), float(prior_b)
        self.diagnostics = {}

    def sampler_config(self) -> SamplerConfig:
        return SamplerConfig(draws=1000, tune=500, chains=2)

    def config(self) -> dict:
        return {"prior_a": self.prior_a, "prior_b": self.prior_b}

    def build_model(self, data: pd.DataFrame) -> pm.Model:
        with pm.Model() as model:
            p = pm.Beta("p", self.prior_a, self.prior_b)
            pm.Binomial("heads", n=data["tosses"], p=p, observed=data["heads"])
        return model


TOSSES = pd.DataFrame({"tosses": [20, 20, 20, 20], "heads": [14, 12, 15, 13]})


@pytest.fixture(scope="module")
def coin():
    return CoinModel(2.0, 2.0).fit(TOSSES, random_seed=3)


def test_the_base_fits_a_new_model_and_judges_it(coin):
    # conjugate posterior Beta(2 + 54, 2 + 26): mean 0.667, sd 0.051
    assert coin.diagnostics["ok"], coin.diagnostics["problems"]
    draws = coin.idata["posterior"]["p"].to_numpy()
    assert draws.shape == (2, 1000)
    assert draws.mean() == pytest.approx(56 / 84, abs=0.015)
    assert draws.std() == pytest.approx(0.051, rel=0.15)
    assert coin.verdict()["converged"] is True and coin.verdict()["model"] == "CoinModel"
    assert isinstance(coin.pymc_model, pm.Model)


class TwoCoinModel(CoinModel):
    """Two coins with their own priors: a posterior of two independent blocks."""

    model_name = "TwoCoinModel"
    format_attr = "test_two_coin_save_format"
    parameter_supports: ClassVar[dict] = {"p": (0.0, 1.0), "q": (0.0, 1.0)}

    def _add(self, name: str, data: pd.DataFrame) -> None:
        p = pm.Beta(name, self.prior_a, self.prior_b)
        pm.Binomial(f"{name}_heads", n=data["tosses"], p=p, observed=data[f"{name}_heads"])

    def build_model(self, data: pd.DataFrame) -> pm.Model:
        with pm.Model() as model:
            for name in ("p", "q"):
                self._add(name, data)
        return model

    def build_blocks(self, data: pd.DataFrame) -> dict[str, pm.Model]:
        blocks = {}
        for name in ("p", "q"):
            with pm.Model() as blocks[name]:
                self._add(name, data)
        return blocks

    def block_sampler(
        self, block: str, sampler: SamplerConfig, parameters: int | None = None
    ) -> SamplerConfig:
        assert parameters == 1  # each block has one free parameter
        return sampler.with_overrides(target_accept=0.95 if block == "q" else None)


def test_a_posterior_of_independent_blocks_is_sampled_block_by_block():
    tosses = TOSSES.assign(p_heads=TOSSES["heads"], q_heads=[3, 5, 4, 2])
    fit = TwoCoinModel(2.0, 2.0).fit(tosses, random_seed=5)
    post = fit.idata["posterior"]
    assert post.sizes == {"chain": 2, "draw": 1000}
    # each block's conjugate posterior: Beta(2 + 54, 2 + 26) and Beta(2 + 14, 2 + 66)
    assert post["p"].mean() == pytest.approx(56 / 84, abs=0.015)
    assert post["q"].mean() == pytest.approx(16 / 84, abs=0.015)
    assert abs(np.corrcoef(post["p"].values.ravel(), post["q"].values.ravel())[0, 1]) < 0.1
    stats = fit.idata["sample_stats"]
    assert list(stats["block"].to_numpy()) == ["p", "q"]
    assert stats["diverging"].dims == ("chain", "draw", "block")
    assert fit.diagnostics["ok"], fit.diagnostics["problems"]
    assert np.asarray(fit.diagnostics["ebfmi_min"]) > 0.3
    # the settings each block ran with are recorded, with its size
    runs = fit.diagnostics["sampler"]
    assert [runs[b]["target_accept"] for b in ("p", "q")] == [0.9, 0.95]
    assert runs["q"]["parameters"] == 1 and runs["q"]["draws"] == 1000
    # the same seed gives the same fit; the blocks' seeds differ from each other
    again = TwoCoinModel(2.0, 2.0).fit(tosses, random_seed=5)
    assert np.array_equal(again.idata["posterior"]["q"], post["q"])


def test_blocks_of_different_lengths_are_refused():
    from bayesspr.inference.fitted_model import run_nuts_blocks

    with pm.Model() as one:
        pm.Normal("a")
    with pm.Model() as two:
        pm.Normal("b")
    with pytest.raises(ArgumentError, match="same chains and draws"):
        run_nuts_blocks(
            {"one": (one, SamplerConfig(draws=10)), "two": (two, SamplerConfig(draws=20))},
            random_seed=1,
            progressbar=False,
        )


def test_sampler_overrides_and_bad_settings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one short chain: no verdict expected
        quick = CoinModel().fit(TOSSES, random_seed=1, draws=200, chains=1)
    assert quick.idata["posterior"].sizes == {"chain": 1, "draw": 200}
    assert "R-hat needs at least 2 chains, the fit has 1" in quick.diagnostics["problems"]
    assert not quick.diagnostics["ok"]
    with pytest.raises(ArgumentError, match=r"target_accept = 1\.5"):
        CoinModel().fit(TOSSES, target_accept=1.5)
    with pytest.raises(
        ArgumentError, match=r"method must be one of \('auto', 'nuts', 'advi', 'laplace'\)"
    ):
        CoinModel().fit(TOSSES, method="gibbs")
    with pytest.raises(SpecError, match=r"unknown setting\(s\) \['thin'\]"):
        SamplerConfig.from_mapping({"draws": 10, "thin": 2})


def test_mass_matrix_setting_reaches_nutpie_and_reads_the_old_key():
    kwargs = SamplerConfig(mass_matrix="draw_diag", nuts_sampler="nutpie").pymc_kwargs()
    assert kwargs["nuts"] == {"adaptation": "draw_diag"}
    assert "nuts" not in SamplerConfig(nuts_sampler="nutpie").pymc_kwargs()  # nutpie's own
    assert "nuts" not in SamplerConfig(mass_matrix="low_rank", nuts_sampler="pymc").pymc_kwargs()
    # specs and fits saved before mass_matrix: true meant low rank; false left the default
    old = SamplerConfig.from_mapping({"low_rank_mass_matrix": True})
    assert old.mass_matrix == "low_rank"
    assert SamplerConfig.from_mapping({"low_rank_mass_matrix": False}).mass_matrix == "diag"
    kept = SamplerConfig.from_mapping({"low_rank_mass_matrix": False, "mass_matrix": "draw_diag"})
    assert kept.mass_matrix == "draw_diag"
    with pytest.raises(ArgumentError, match=r"mass_matrix = 'dense'; expected one of"):
        SamplerConfig(mass_matrix="dense")
    with pytest.raises(SpecError, match=r"\[sampler\] mass_matrix = 'dense'"):
        SamplerConfig.from_mapping({"mass_matrix": "dense"})
    with pytest.raises(SpecError, match=r"low_rank_mass_matrix = 'yes'; expected True or False"):
        SamplerConfig.from_mapping({"low_rank_mass_matrix": "yes"})


def test_chains_run_on_the_cores_this_process_may_use(monkeypatch):
    from bayesspr.inference import fitted_model

    assert 1 <= fitted_model.available_cores() <= (os.cpu_count() or 1)
    # PyMC's own default counts half the CPUs (1 on a 2-core machine: chains one by one)
    monkeypatch.setattr(fitted_model, "available_cores", lambda: 2)
    assert SamplerConfig(chains=4).pymc_kwargs()["cores"] == 2
    assert SamplerConfig(chains=1).pymc_kwargs()["cores"] == 1
    monkeypatch.setattr(fitted_model, "available_cores", lambda: 16)
    assert SamplerConfig(chains=4).pymc_kwargs()["cores"] == 4
    assert SamplerConfig(chains=4, cores=1).pymc_kwargs()["cores"] == 1
    assert SamplerConfig().with_overrides(cores=3, draws=None).cores == 3
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ArgumentError, match=r"sampler cores = .*whole number >= 1"):
            SamplerConfig(cores=bad)


def test_save_and_load_round_trip_through_the_base(coin, tmp_path):
    path = coin.save(tmp_path / "coin.nc")
    again = CoinModel.load(path)
    assert isinstance(again, CoinModel) and again.config() == {"prior_a": 2.0, "prior_b": 2.0}
    np.testing.assert_allclose(
        again.idata["posterior"]["p"].to_numpy(), coin.idata["posterior"]["p"].to_numpy(), 1e-6
    )
    assert again.diagnostics["ok"] and again.spec_id() == coin.spec_id()
    assert again.diagnostics["sampler"] == coin.diagnostics["sampler"]
    assert coin.diagnostics["sampler"]["model"]["parameters"] == 1
    assert again.idata.attrs["bayesspr_spec_id"] == coin.spec_id()


def _edited(path, tmp_path, edit):
    tree = xr.open_datatree(path).load()
    edit(tree)
    out = tmp_path / "edited.nc"
    tree.to_netcdf(out)
    return out


def test_the_base_refuses_the_wrong_file(coin, tmp_path):
    path = coin.save(tmp_path / "coin.nc")
    with pytest.raises(ModelVersionError, match="is a CoinModel fit, not a SPRModel fit"):
        SPRModel.load(path)

    def as_spr(tree):
        del tree.attrs["test_coin_save_format"]
        tree.attrs["bayesspr_save_format"] = "1"

    with pytest.raises(ModelVersionError, match="is a SPRModel fit, not a CoinModel fit"):
        CoinModel.load(_edited(path, tmp_path, as_spr))

    def out_of_support(tree):
        tree["posterior"]["p"] = tree["posterior"]["p"] + 1.0

    with pytest.raises(SavedFitError, match="'p'"):
        CoinModel.load(_edited(path, tmp_path, out_of_support))

    def bad_config(tree):
        tree.attrs["test_coin_config"] = '{"prior_a": 1, "unknown": 2}'

    with pytest.raises(SavedFitError, match="configuration is unusable"):
        CoinModel.load(_edited(path, tmp_path, bad_config))

    def edited_verdict(tree):
        tree["sample_stats"]["diverging"][...] = True

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = CoinModel.load(_edited(path, tmp_path, edited_verdict))
    assert not loaded.diagnostics["ok"] and any(
        "did not converge" in str(w.message) for w in caught
    )
