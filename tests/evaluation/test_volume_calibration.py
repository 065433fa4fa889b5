"""The coverage bands of the volume calibration: the forecast's own, dependence included."""

import numpy as np
import pandas as pd

from bayesspr.simulate.volume_worlds import coverage_by_horizon

DATES = pd.date_range("2027-01-01", periods=30)


def _forecast(rng, n_draws, n_stations, month_sd, day_sd):
    """Log-normal station-days: a shock per station-month shared by its days, and day noise."""
    month = rng.normal(0.0, month_sd, (n_draws, 1, n_stations))
    day = rng.normal(0.0, day_sd, (n_draws, 30, n_stations))
    return 100.0 * np.exp(month + day)


def test_independent_days_get_the_binomial_band():
    rng = np.random.default_rng(0)
    draws = _forecast(rng, 1000, 40, 0.0, 0.1)
    row = coverage_by_horizon(draws, _forecast(rng, 1, 40, 0.0, 0.1)[0], DATES, horizons=(1,))
    row = row.loc[1]
    assert row["day_n"] == 1200
    # as wide as the binomial band (the floor), and not much wider: days are independent
    assert row["day_lo"] <= row["day_binom_lo"] and row["day_hi"] >= row["day_binom_hi"]
    assert row["day_hi"] - row["day_lo"] < 1.3 * (row["day_binom_hi"] - row["day_binom_lo"])


def test_days_sharing_a_monthly_shock_widen_the_band_and_a_calibrated_forecast_falls_in_it():
    rng = np.random.default_rng(1)
    inside_own, inside_binomial, inside_own_narrow = [], [], []
    for _ in range(30):
        draws = _forecast(rng, 600, 20, 0.1, 0.03)
        truth = _forecast(rng, 1, 20, 0.1, 0.03)[0]
        row = coverage_by_horizon(draws, truth, DATES, horizons=(1,)).loc[1]
        inside_own.append(row["day_lo"] <= row["day_cover"] <= row["day_hi"])
        inside_binomial.append(row["day_binom_lo"] <= row["day_cover"] <= row["day_binom_hi"])
        # a forecast that ignores the shared shock is too narrow, and the band catches it
        narrow = _forecast(rng, 600, 20, 0.0, 0.03)
        row = coverage_by_horizon(narrow, truth, DATES, horizons=(1,)).loc[1]
        inside_own_narrow.append(row["day_lo"] <= row["day_cover"] <= row["day_hi"])
    # 99 % bands: at most a couple of the 30 calibrated worlds outside by chance
    assert sum(inside_own) >= 27
    # the binomial band, as if 600 station-days were 600 independent trials, fails most
    assert sum(inside_binomial) <= 20
    assert sum(inside_own_narrow) <= 3
