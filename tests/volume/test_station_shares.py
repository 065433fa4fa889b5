"""The volume model (station totals × zip shares): recovery, chunks, files.

The recovery fits run 2 chains of 1,000 draws (R-hat and ESS asserted on them); the
intervals' coverage is in ``test_volume_intervals.py``.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from bayesspr.errors import SpecError, VolumeDataError
from bayesspr.simulate.volume_worlds import EFFECT_WORLDS, simulate_volume_world
from bayesspr.volume.model import TimeDesign, VolumeModel, station_cities

#: The recovery fits: two chains (nutpie's chains share the GIL in the volume Ops' object-mode
#: calls, so four chains on two cores take twice as long) of the default 1,000 draws.
RECOVERY_FIT = {"random_seed": 1, "chains": 2}


@pytest.fixture(scope="module")
def shock_world():
    """Station-day shocks shared by each station's zips: what the zip-day model missed."""
    return simulate_volume_world(
        4,
        n_cities=2,
        stations_per_city=3,
        zips_per_station=2,
        **EFFECT_WORLDS["station_day_shocks"],
    )


@pytest.fixture(scope="module")
def shock_fit(shock_world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return VolumeModel(regressors=shock_world.regressors).fit(shock_world.table, **RECOVERY_FIT)


@pytest.fixture(scope="module")
def drift_world():
    """Each city's level wanders as a random walk (sd 0.1 after a year) shared by its stations."""
    return simulate_volume_world(
        5, n_cities=3, stations_per_city=2, zips_per_station=2, **EFFECT_WORLDS["growth_drift"]
    )


@pytest.fixture(scope="module")
def drift_fit(drift_world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return VolumeModel(regressors=drift_world.regressors).fit(drift_world.table, **RECOVERY_FIT)


def test_a_city_walk_is_learned_and_moves_the_city_stations_together(drift_fit, drift_world):
    d = drift_fit.diagnostics
    assert d["divergences"] == 0 and d["rhat_max"] <= 1.01, d
    post = drift_fit.idata["posterior"]
    city_sd = post["drift_sd_city"].to_numpy().ravel()
    lo, hi = np.quantile(city_sd, [0.005, 0.995])
    assert lo <= drift_world.truth["growth_drift_sd"] <= hi, (lo, hi)
    # the walk is the city's, not each station's: the stations' own drift stays small
    assert np.median(city_sd) > 3 * float(post["drift_sd_station"].median())
    # 16 months ahead, a city's two stations move together; stations of two cities do not
    days = pd.date_range(drift_fit.last_date + pd.Timedelta(days=451), periods=30)
    month = np.log(
        drift_fit.forecast(days, n_samples=400, random_seed=4)["stops"]
        .groupby("station")
        .sum("zip")
        .sum("date")
        .transpose("sample", "station")
    )
    corr = np.corrcoef(month.to_numpy().T)
    city = station_cities_of(drift_fit, month["station"].to_numpy())
    same = city[:, None] == city[None, :]
    off = ~np.eye(len(city), dtype=bool)
    assert corr[same & off].min() > 0.6, corr
    assert np.abs(corr[~same]).max() < 0.4, corr


@pytest.fixture(scope="module")
def city_day_world():
    """A daily shock shared by each city's stations (sd 0.08), three cities of three."""
    return simulate_volume_world(
        6, n_cities=3, stations_per_city=3, zips_per_station=2, **EFFECT_WORLDS["city_day_shocks"]
    )


@pytest.fixture(scope="module")
def city_day_fit(city_day_world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return VolumeModel(regressors=city_day_world.regressors).fit(
            city_day_world.table, **RECOVERY_FIT
        )


def test_city_day_shocks_are_learned_and_shared_by_the_city_stations(city_day_fit, city_day_world):
    d = city_day_fit.diagnostics
    assert d["divergences"] == 0 and d["rhat_max"] <= 1.01, d
    post = city_day_fit.idata["posterior"]
    shock_sd = post["city_day_sd"].to_numpy().ravel()
    lo, hi = np.quantile(shock_sd, [0.005, 0.995])
    assert lo <= city_day_world.truth["city_day_sd"] <= hi, (lo, hi)
    # a forecast day moves a city's stations together; stations of two cities do not
    days = pd.date_range(city_day_fit.last_date + pd.Timedelta(days=1), periods=60)
    daily = np.log(
        city_day_fit.forecast(days, n_samples=100, random_seed=4)["stops"]
        .groupby("station")
        .sum("zip")
        .transpose("sample", "date", "station")
        .to_numpy()
        + 0.5
    )
    # each station-day's draws around their mean over the samples
    dev = daily - daily.mean(axis=0, keepdims=True)
    corr = np.corrcoef(dev.reshape(-1, dev.shape[2]).T)
    stations = city_day_fit._station_labels().to_numpy()
    city = station_cities_of(city_day_fit, stations)
    same = city[:, None] == city[None, :]
    off = ~np.eye(len(city), dtype=bool)
    assert corr[same & off].min() > 0.5, corr
    assert np.abs(corr[~same]).max() < 0.3, corr


def station_cities_of(model, stations):
    """Each station's city, from the fit's zips."""
    return model.zips.groupby("station")["city"].first().reindex(stations).to_numpy()


def test_bad_settings_are_refused():
    with pytest.raises(SpecError, match="unknown volume prior"):
        VolumeModel(priors={"growth_speed": 1.0})
    with pytest.raises(SpecError, match="'drift_sd_station' = -1"):
        VolumeModel(priors={"drift_sd_station": -1})
    with pytest.raises(SpecError, match="knot_days"):
        VolumeModel(knot_days=3)
    with pytest.raises(SpecError, match="harmonics"):
        VolumeModel(harmonics=2.5)


def test_ramps_rise_over_their_knot_and_weekday_contrasts_sum_to_zero():
    start = pd.Timestamp("2025-01-01")
    design = TimeDesign(start, start, 0, np.zeros(0), knot_days=10, history_knots=3)
    days = pd.date_range(start, periods=35)
    ramps = design.ramps(days, 3)
    np.testing.assert_allclose(
        ramps[[0, 5, 10, 20, 34]], [[0, 0, 0], [0.5, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]]
    )
    assert design.knots_through(days) == 4
    week = TimeDesign.weekday(pd.date_range("2025-01-06", periods=7))
    np.testing.assert_allclose(week.sum(axis=0), 0.0)


def test_hats_times_the_walk_equal_ramps_times_its_steps():
    start = pd.Timestamp("2025-01-01")
    model = VolumeModel(knot_days=10)
    model.design = TimeDesign(start, start, 0, np.zeros(0), knot_days=10, history_knots=3)
    days = pd.date_range(start, periods=60)
    steps = np.random.default_rng(3).normal(size=(8 + 6, 5))
    walk = steps.copy()
    walk[8:] = np.cumsum(steps[8:], axis=0)
    hats = model._hat_share_design(days, 6)
    np.testing.assert_allclose(hats @ walk, model.share_design(days, 6) @ steps, atol=1e-12)
    # a day's knots: at most two hats are not zero
    assert ((hats[:, 8:] != 0).sum(axis=1) <= 2).all()


def test_fit_converges_and_recovers_growth(shock_fit, shock_world):
    d = shock_fit.diagnostics
    assert d["divergences"] == 0 and d["rhat_max"] <= 1.01 and d["ess_bulk_min"] >= 400
    growth = shock_fit.idata["posterior"]["growth_city"]
    for city, truth in shock_world.truth["growth_city"].items():
        lo, hi = np.quantile(growth.sel(city=city).to_numpy(), [0.005, 0.995])
        assert lo <= truth <= hi, (city, lo, truth, hi)
    # the station-day noise holds the shared shock (0.08) and the zips' own noise
    noise = float(shock_fit.idata["posterior"]["noise_sd_station"].median())
    assert 0.06 < noise < 0.11


def test_chunks_of_zips_agree_and_zips_add_up_to_their_station(shock_fit):
    days = pd.date_range(shock_fit.last_date + pd.Timedelta(days=1), periods=40)
    post = shock_fit.posterior_samples(30, random_seed=2)
    zips = shock_fit.zips.index.to_numpy()
    whole, whole_pk = shock_fit.volume_draws(post, days, zips)
    shock_fit._walk_cache = None  # the part draws its cities' walks afresh, from all stations
    shock_fit._share_cache = None  # and its stations' shares afresh
    part, part_pk = shock_fit.volume_draws(post, days, zips[2:5])
    np.testing.assert_array_equal(whole[:, :, 2:5], part)
    np.testing.assert_array_equal(whole_pk[:, :, 2:5], part_pk)
    assert (whole_pk >= whole).all() and (whole >= 0).all()
    # a scenario factor from day 20 on leaves the first 20 days as they were
    factor = np.ones((len(days), len(zips)))
    factor[20:] = 1.4
    shocked, _ = shock_fit.volume_draws(post, days, zips, factor=factor)
    np.testing.assert_array_equal(shocked[:, :20], whole[:, :20])
    ratio = shocked[:, 20:].sum() / whole[:, 20:].sum()
    assert 1.38 < ratio < 1.42


def test_saved_fit_forecasts_the_same_draws(shock_fit, tmp_path):
    path = shock_fit.save(tmp_path / "volume.nc")
    again = VolumeModel.load(path)
    days = pd.date_range(shock_fit.last_date + pd.Timedelta(days=1), periods=30)
    a = shock_fit.forecast(days, n_samples=40, random_seed=3)
    b = again.forecast(days, n_samples=40, random_seed=3)
    np.testing.assert_array_equal(a["stops"].to_numpy(), b["stops"].to_numpy())
    np.testing.assert_array_equal(a["packages"].to_numpy(), b["packages"].to_numpy())
    with pytest.raises(VolumeDataError, match="no volume history"):
        again.forecast(days, zips=["99999"])


def test_a_moved_zip_takes_its_history_to_its_new_station(shock_world):
    table = shock_world.table.copy()
    moved = table["zip"] == table["zip"].iloc[0]
    late = table["date"] >= table["date"].max() - pd.Timedelta(days=30)
    table.loc[moved & late, "station"] = "NEW1"
    model = VolumeModel()
    tables = model._prepare(table)
    assert model.zips.loc[table["zip"].iloc[0], "station"] == "NEW1"
    totals, present = tables.station_totals()
    new = list(tables.stations).index("NEW1")
    assert present[new].all()
    zip_stops = table.loc[moved].groupby("date")["stops"].sum().to_numpy()
    np.testing.assert_allclose(totals[new], zip_stops)


def test_a_stations_city_is_its_zips_most_common_the_first_by_name_on_a_tie():
    zips = pd.DataFrame(
        {
            "station": ["S2", "S2", "S2", "S1", "S1", "S3"],
            "city": ["Oslo", "Bergen", "Oslo", "Oslo", "Bergen", "Tromsø"],
        },
        index=pd.Index([f"Z{i}" for i in range(6)], name="zip"),
    )
    got = station_cities(zips)
    assert got.to_dict() == {"S1": "Bergen", "S2": "Oslo", "S3": "Tromsø"}
    # the definition, one station at a time (pandas' mode sorts its ties)
    pd.testing.assert_series_equal(got, zips.groupby("station")["city"].agg(lambda c: c.mode()[0]))
