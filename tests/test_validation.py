"""Arguments and settings are validated where they enter: fleet settings, EV inputs, the
forecast's draws and horizon, the volume model's harmonics. No fit is needed: every check
runs before any work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesspr.fleet import decisions as fleet
from bayesspr.fleet.config import EVConfig, FleetCosts, VanType, vans_by_station
from bayesspr.forecasting.compose import MAX_HORIZON, forecast, horizon_days
from bayesspr.volume.model import VolumeModel

START = pd.Timestamp("2026-01-15")

# --- fleet settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: VanType("L", 1e-300, 1.0),
            r"VanType\('L'\)\.capacity_packages = 1e-300: expected a finite number >= 1 and "
            r"<= 100000 \(packages per van",
        ),
        (lambda: VanType("L", 0.5, 1.0), r"capacity_packages = 0\.5: expected .* >= 1"),
        (lambda: VanType("L", 1e9, 1.0), r"capacity_packages = 1000000000\.0: expected"),
        (
            lambda: VanType("E", 300.0, 1.0, range_km=1e7, kwh_per_km=0.3),
            r"VanType\('E'\)\.range_km = 10000000\.0: expected a finite number > 0 and <= 2000",
        ),
        (
            lambda: VanType("E", 300.0, 1.0, range_km=200.0, kwh_per_km=50.0),
            r"kwh_per_km = 50\.0: expected a finite number > 0 and <= 10 \(kWh per km\)",
        ),
        (
            lambda: VanType("L ", 300.0, 1.0),
            r"VanType\.name = 'L ': expected no leading or trailing whitespace: did you mean 'L'",
        ),
        (
            lambda: FleetCosts((VanType("L", 300, 1),), 5.0, horizon_days=10**9),
            r"FleetCosts\.horizon_days = 1000000000: expected a whole number of days from 1 "
            r"to 3660",
        ),
        (
            lambda: FleetCosts((VanType("L", 300, 1),), 5.0, horizon_days=30.0),
            r"horizon_days = 30\.0: expected a whole number",
        ),
    ],
)
def test_fleet_settings_out_of_range_name_field_value_and_range(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fleet_setting_bounds_themselves_are_allowed_and_just_beyond_is_not():
    assert VanType("S", 1, 0.0).capacity_packages == 1
    assert VanType("XL", 100_000, 1.0, range_km=2_000.0, kwh_per_km=10.0).electric
    assert FleetCosts((VanType("L", 300, 1),), 0.0, horizon_days=3_660).horizon_days == 3_660
    with pytest.raises(ValueError, match=r"range_km = 2000\.5: expected"):
        VanType("XL", 300, 1.0, range_km=2_000.5, kwh_per_km=0.3)
    with pytest.raises(ValueError, match=r"horizon_days = 3661: expected"):
        FleetCosts((VanType("L", 300, 1),), 0.0, horizon_days=3_661)


@pytest.mark.parametrize(
    ("owned", "message"),
    [
        ({"S0": 3}, r"fleet_by_station is a dict: expected a pandas Series"),
        (pd.Series({"S0": np.nan}), r"negative or non-finite vans \['S0=nan'\]"),
        (pd.Series({"S0": "three"}), r"not numbers \[\"S0='three'\"\]"),
        (pd.Series([1, 2], index=["S0", "S0"]), r"lists station\(s\) \['S0'\] more than once"),
    ],
)
def test_fleet_by_station_is_checked_value_by_value(owned, message):
    with pytest.raises(ValueError, match=message):
        vans_by_station(owned, np.array(["S0", "S1"]))


# --- EV inputs ---------------------------------------------------------------------------------

EV = VanType("E", 250.0, 1.0, range_km=160.0, kwh_per_km=0.3)


def tiny_forecast(**swap: tuple) -> xr.Dataset:
    shape = (2, 3, 2)  # sample, date, zip
    dims = ("sample", "date", "zip")
    data = {
        "routes_zip": (dims, np.ones(shape, dtype=int)),
        "route_km_zip": (dims, np.full(shape, 80.0)),
        "station_of": (("date", "zip"), np.full((3, 2), "S0")),
    }
    data.update(swap)
    coords = {"date": pd.date_range("2026-01-01", periods=3), "zip": ["1", "2"]}
    return xr.Dataset(data, coords=coords)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"forecast": pd.DataFrame()}, r"forecast is a DataFrame: expected the xarray\.Dataset"),
        ({"forecast": None}, r"forecast is a NoneType: expected the xarray\.Dataset"),
        (
            {"forecast": tiny_forecast().drop_vars("route_km_zip")},
            r"forecast lacks \['route_km_zip'\].*keep_zips=True",
        ),
        (
            {
                "forecast": tiny_forecast(
                    route_km_zip=(("sample", "date", "station"), np.ones((2, 3, 2)))
                )
            },
            r"forecast\['route_km_zip'\] has dims \('sample', 'date', 'station'\): expected",
        ),
        ({"fleet_by_station": [3]}, r"fleet_by_station is a list: expected a pandas Series"),
    ],
)
def test_ev_feasibility_names_the_argument_the_value_and_the_expectation(kwargs, message):
    args = {"forecast": tiny_forecast(), "van_type": EV, "ev_config": EVConfig(1e6)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fleet.ev_feasibility(**args)


# --- forecast: draws and horizon -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": -3}, r"forecast\(n_samples=-3\): expected a whole number >= 1"),
        ({"n_samples": 0}, r"forecast\(n_samples=0\): expected a whole number >= 1"),
        ({"n_samples": 2.5}, r"forecast\(n_samples=2\.5\): expected a whole number >= 1"),
        ({"n_samples": True}, r"forecast\(n_samples=True\)"),
        ({"random_seed": -1}, r"forecast\(random_seed=-1\): expected a whole number >= 0"),
        ({"random_seed": "7"}, r"forecast\(random_seed='7'\)"),
    ],
)
def test_forecast_refuses_bad_draw_counts_and_seeds_before_any_work(kwargs, message):
    # the models are never touched: the arguments are refused first
    with pytest.raises(ValueError, match=message):
        forecast(None, None, "1M", **kwargs)


@pytest.mark.parametrize(
    "horizon", ["100000M", "61M", "262W", "1828D", 1_828, 10**12, "99999999999999999999D"]
)
def test_horizon_is_capped_at_sixty_months(horizon):
    with pytest.raises(
        ValueError, match=r"expected at most \d+[MWD] \(60 months: '60M', '261W' or 1827 days\)"
    ):
        horizon_days(START, horizon)


def test_horizon_caps_themselves_are_allowed_and_a_bool_is_not_a_horizon():
    assert MAX_HORIZON == {"M": 60, "W": 261, "D": 1_827}
    assert len(horizon_days(START, "60M")) == (START + pd.DateOffset(months=60) - START).days
    assert len(horizon_days(START, "261W")) == 1_827
    assert len(horizon_days(START, 1_827)) == 1_827
    with pytest.raises(ValueError, match=r"horizon = True; expected e\.g\."):
        horizon_days(START, True)


# --- volume model ----------------------------------------------------------------------------


@pytest.mark.parametrize("harmonics", [10**6, 11, -1, 2.5, True, "2"])
def test_volume_model_harmonics_are_capped_and_whole(harmonics):
    with pytest.raises(
        ValueError,
        match=r"VolumeModel\(harmonics=.*\): expected a whole number "
        r"from 0 to 10",
    ):
        VolumeModel(harmonics=harmonics)


def test_volume_model_accepts_harmonics_zero_to_ten_and_refuses_infinite_priors():
    assert VolumeModel(harmonics=0).harmonics == 0
    assert VolumeModel(harmonics=10).harmonics == 10
    assert VolumeModel(harmonics=np.int64(3)).harmonics == 3
    with pytest.raises(ValueError, match=r"volume prior 'noise_sd_station' = inf; expected a"):
        VolumeModel(priors={"noise_sd_station": float("inf")})
    with pytest.raises(ValueError, match=r"volume prior 'growth_mean' = nan; expected a finite"):
        VolumeModel(priors={"growth_mean": float("nan")})
