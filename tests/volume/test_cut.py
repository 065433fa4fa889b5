"""The zips block's cut route: spreads from some cities' zips, every zip's scale given them."""

from __future__ import annotations

import numpy as np
import pytest

from bayesspr.volume import share_noise
from bayesspr.volume.cut import choose_cities
from bayesspr.volume.model import VolumeModel

SPREADS = ("share_growth_sd", "share_weekday_sd", "share_drift_sd", "ratio_growth_sd")


def cut_model(cut_zips: int = 1) -> VolumeModel:
    """A volume model that takes the cut route whatever the network's size."""
    model = VolumeModel()
    model.cut_min_zips = 0
    model.cut_zips = cut_zips
    return model


def test_cities_are_chosen_whole_until_they_hold_enough_zips():
    zip_city = np.repeat(np.arange(6), [5, 0, 7, 3, 9, 4])
    for seed in range(5):
        chosen = choose_cities(zip_city, 6, 10, seed)
        held = np.isin(zip_city, chosen).sum()
        assert held >= 10
        # the last city drawn was needed
        assert any(held - np.bincount(zip_city, minlength=6)[c] < 10 for c in chosen)
        assert 1 not in chosen  # a city without share zips is never chosen
        np.testing.assert_array_equal(chosen, choose_cities(zip_city, 6, 10, seed))
    assert len(choose_cities(zip_city, 6, 1_000, 0)) == 5  # every city, if they hold too few


def test_the_conditional_is_the_zips_block_s_own_density(demo_split):
    # the cut route's conditional of one zip's log scale, built from the fit's statistics,
    # moves with the scale exactly as the zips block's PyMC log density does
    history, _ = demo_split
    model = VolumeModel()
    tables = model._prepare(history)
    block = model.build_blocks(tables)["zips"]
    logp = block.compile_logp()
    point = block.initial_point()
    spreads = {"share_growth_sd": 0.07, "share_weekday_sd": 0.03, "share_drift_sd": 0.2}
    for name, value in spreads.items():
        point[f"{name}_log__"] = np.log(value)
    rows = model._zip_rows()
    prior_mean = np.zeros((len(rows.share_mean), rows.share.n_coefficients))
    prior_mean[:, 0] = rows.share_mean
    prior_var = model._share_prior_var(*(np.array([v]) for v in spreads.values()))[0]
    grid = np.linspace(-4.0, -1.0, 7)
    for zip_position in (0, 5):
        ours = share_noise.share_noise_log_density(
            rows.share.take(np.array([zip_position])),
            prior_mean[[zip_position]],
            prior_var,
            grid[:, None],
            np.log(model.priors["share_noise_sd"]),
            1.0,
        )[:, 0]
        theirs = []
        for t in grid:
            values = point["share_noise_sd_zip_log__"].copy()
            values[zip_position] = t
            theirs.append(float(logp({**point, "share_noise_sd_zip_log__": values})))
        difference = ours - np.array(theirs)
        np.testing.assert_allclose(difference, difference[0], rtol=0, atol=1e-7)


@pytest.fixture(scope="module")
def cut_fit(demo_split):
    history, _ = demo_split
    with pytest.warns(UserWarning, match="approximation"):
        return cut_model().fit(history, random_seed=5, draws=500, tune=500)


def test_the_route_says_what_it_did(cut_fit):
    record = cut_fit.diagnostics["approximate_blocks"]["zips"]
    assert record["route"] == "cut (approximate)"
    assert record["cities"] == ["Boston"]  # one of the demo's two cities holds one zip or more
    assert 0 < record["nuts_share_zips"] < record["share_zips"] == 17
    assert cut_fit.diagnostics["ok"]  # the spreads' NUTS and the station totals converged
    assert VolumeModel.cut_min_zips is not None  # by default, only past a size
    assert VolumeModel().approximate_blocks(None, None, None, {}) == {}


def test_the_cut_posterior_is_close_to_nuts_on_every_zip(cut_fit, demo_volume_fit):
    ours = cut_fit.idata["posterior"].to_dataset()
    reference = demo_volume_fit.idata["posterior"].to_dataset()
    assert set(ours.data_vars) == set(reference.data_vars)
    assert ours["share_noise_sd_zip"].dims == reference["share_noise_sd_zip"].dims
    np.testing.assert_array_equal(ours["share_zip"].to_numpy(), reference["share_zip"].to_numpy())

    def gap(name):
        mean = ours[name].mean(("chain", "draw")) - reference[name].mean(("chain", "draw"))
        return np.abs(mean / reference[name].std(("chain", "draw"))).to_numpy()

    # each zip's scale is pinned by its own days: within 0.2 NUTS sd (0.05 seen)
    assert gap("share_noise_sd_zip").max() < 0.2
    # the spreads come from about half the zips: near NUTS's, not narrower
    for name in SPREADS:
        assert gap(name) < 1.5, name
        ratio = float(ours[name].std() / reference[name].std())
        assert ratio > 0.8, (name, ratio)


def test_a_saved_cut_fit_still_says_it_is_approximate(cut_fit, tmp_path):
    path = cut_fit.save(tmp_path / "cut.nc", keep="posterior")
    loaded = VolumeModel.load(path)
    assert loaded.diagnostics["approximate_blocks"] == cut_fit.diagnostics["approximate_blocks"]
    assert loaded.diagnostics["ok"] == cut_fit.diagnostics["ok"]  # recomputed from the draws


def test_the_command_line_summary_names_the_approximate_block(cut_fit):
    from bayesspr.cli.verdict import convergence_summary

    summary = convergence_summary(cut_fit.diagnostics)
    assert "zips block: cut (approximate), 17 share zips" in summary
    assert "verdict: converged" in summary  # what NUTS sampled passed its checks


def test_a_network_without_shares_has_nothing_to_cut():
    from bayesspr.simulate.volume_worlds import simulate_volume_world

    world = simulate_volume_world(0, zips_per_station=1, n_days=60, horizon_days=0)
    model = cut_model()
    tables = model._prepare(world.table)
    assert not (model._group_means["multi"] > 0).any()  # every zip alone in its station
    assert model.approximate_blocks(tables, {"zips": None}, None, {}) == {}
