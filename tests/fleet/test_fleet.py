"""Fleet decisions on synthetic draws with known distributions (analytic answers)."""

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import bayesspr.fleet as fleet
from bayesspr.fleet.decisions import EVConfig, FleetCosts, VanType
from bayesspr.forecasting.compose import summarise
from bayesspr.spr import physics


def forecast(values, start="2026-01-01", stations=None):
    """A forecast Dataset with routes (sample, date, station) from an array."""
    n_s, n_d, n_st = values.shape
    stations = stations or [f"S{i}" for i in range(n_st)]
    return xr.Dataset(
        {"routes": (("sample", "date", "station"), values)},
        coords={
            "sample": np.arange(n_s),
            "date": pd.date_range(start, periods=n_d, freq="D"),
            "station": stations,
        },
    )


def tolerance_band(dist_ppf, alpha, n):
    """Quantiles at α ± 4 standard errors of an empirical CDF from n draws."""
    eps = 4 * math.sqrt(alpha * (1 - alpha) / n)
    return dist_ppf(alpha - eps), dist_ppf(alpha + eps)


def costs_for(fractile, cs=500.0, days=31, names=("van",)):
    """Costs whose newsvendor fractile 1 − c_o / c_s is ``fractile`` on a ``days`` horizon."""
    co_day = cs * (1 - fractile)
    vans = tuple(VanType(n, 300.0, co_day * days) for n in names)
    return FleetCosts(vans, shortage_cost_per_van_day=cs)


# --- analytic answers ------------------------------------------------------------------------


def test_service_rule_equals_poisson_quantile_when_every_day_counts():
    rng = np.random.default_rng(1)
    lam, alpha, n_s, n_d = 30.0, 0.9, 2000, 31
    fc = forecast(rng.poisson(lam, (n_s, n_d, 1)))
    table = fleet.plan(fc, alpha, peak_share=1.0).table
    lo, hi = tolerance_band(lambda q: stats.poisson.ppf(q, lam), alpha, n_s * n_d)
    assert lo <= table["vans_needed"].item() <= hi
    assert table["vans_needed"].item() == stats.poisson.ppf(alpha, lam)  # exact with 62 000 draws


def test_service_rule_on_peak_days_matches_order_statistics():
    # iid Poisson days: the 2 busiest of 31 days pool the largest and second largest day,
    # G(v) = F^D + (D/2)·F^(D-1)·(1 - F); the fleet is the smallest v with G(v) >= α.
    rng = np.random.default_rng(2)
    lam, alpha, n_s, n_d = 20.0, 0.95, 3000, 31
    fc = forecast(rng.poisson(lam, (n_s, n_d, 1)))
    vans = fleet.plan(fc, alpha).table["vans_needed"].item()  # default peak_share 5 % -> k = 2

    v = np.arange(0, 100)
    f = stats.poisson.cdf(v, lam)
    g = f**n_d + 0.5 * n_d * f ** (n_d - 1) * (1 - f)
    eps = 4 * math.sqrt(alpha * (1 - alpha) / n_s)
    assert v[np.argmax(g >= alpha - eps)] <= vans <= v[np.argmax(g >= alpha + eps)]


def test_service_rule_with_days_moving_together_is_the_draw_quantile():
    # one level per draw for the whole month: the peak day is that level
    rng = np.random.default_rng(3)
    lam, alpha, n_s = 40.0, 0.8, 4000
    level = rng.poisson(lam, (n_s, 1, 2))
    fc = forecast(np.repeat(level, 28, axis=1), start="2026-02-01")
    vans = fleet.plan(fc, alpha).table["vans_needed"].to_numpy()
    lo, hi = tolerance_band(lambda q: stats.poisson.ppf(q, lam), alpha, n_s)
    assert np.all((lo <= vans) & (vans <= hi))


@pytest.mark.parametrize(("alpha", "vans"), [(0.85, 9), (0.9, 9), (0.91, 10), (0.1, 1)])
def test_service_rule_on_a_small_sample_is_the_inverted_cdf(alpha, vans):
    fc = forecast(np.arange(1.0, 11.0)[:, None, None])  # draws 1..10 of a one-day month
    assert fleet.plan(fc, alpha, peak_share=1.0).table["vans_needed"].item() == vans


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_s=st.integers(1, 30),
    alpha=st.floats(0.01, 0.99),
    share=st.sampled_from([0.05, 0.2, 1.0]),
)
def test_service_rule_is_the_smallest_fleet_reaching_alpha(seed, n_s, alpha, share):
    fc = forecast(np.random.default_rng(seed).poisson(6.0, (n_s, 31, 2)).astype(float))
    vans = fleet.plan(fc, alpha, peak_share=share).table["vans_needed"].to_numpy()
    level = fleet.evaluate_fleet(fc, pd.Series(vans, ["S0", "S1"]), peak_share=share)
    assert (level["p_cover_peak_day"] >= alpha).all()
    below = fleet.evaluate_fleet(
        fc, pd.Series(np.maximum(vans - 1, 0), ["S0", "S1"]), peak_share=share
    )
    assert (below["p_cover_peak_day"][vans > 0] < alpha).all()


def test_newsvendor_is_the_critical_fractile_and_minimises_expected_cost():
    rng = np.random.default_rng(4)
    lam, fractile, n_s, n_d = 25.0, 0.8, 2000, 31
    fc = forecast(rng.poisson(lam, (n_s, n_d, 1)))
    costs = costs_for(fractile)
    table = fleet.plan(fc, 0.95, costs, rule="cost").table
    v = table["vans_needed"].item()
    assert table["critical_fractile"].item() == pytest.approx(fractile)
    lo, hi = tolerance_band(lambda q: stats.poisson.ppf(q, lam), fractile, n_s * n_d)
    assert lo <= v <= hi

    cost = {
        k: fleet.evaluate_fleet(fc, k, costs)["expected_cost"].item() for k in (v - 1, v, v + 1)
    }
    assert cost[v] < cost[v - 1]
    assert cost[v] <= cost[v + 1]
    assert cost[v] == pytest.approx(table["expected_cost"].item())

    # breakdown: fleet cost is c_o·days·v; shortage van-days match E[(R - v)+] of Poisson
    assert table["fleet_cost"].item() == pytest.approx(500 * (1 - fractile) * n_d * v)
    k = np.arange(v + 1, 200)
    analytic = n_d * np.sum((k - v) * stats.poisson.pmf(k, lam))
    assert table["shortage_van_days"].item() == pytest.approx(analytic, rel=0.05)
    assert table["expected_cost"].item() == pytest.approx(
        table["fleet_cost"].item() + 500 * table["shortage_van_days"].item()
    )


def test_no_van_pays_for_itself_when_shortage_is_cheaper_than_owning():
    fc = forecast(np.full((10, 31, 1), 7.0))
    costs = FleetCosts((VanType("van", 300.0, 31 * 100.0),), shortage_cost_per_van_day=80.0)
    table = fleet.plan(fc, 0.9, costs, rule="cost").table
    assert table["vans_needed"].item() == 0
    assert table["expected_cost"].item() == pytest.approx(80.0 * 7 * 31)


def test_without_uncertainty_the_plan_is_the_deterministic_ceiling():
    days = pd.date_range("2026-01-01", "2026-03-31", freq="D")
    need = 12.3 + 4.0 * np.sin(np.arange(len(days)) / 9.0)  # fractional route need per day
    values = np.tile(need[None, :, None], (50, 1, 2))
    values[..., 1] = 5.5  # a flat station
    fc = forecast(values)
    result = fleet.plan(fc, 0.95, costs_for(0.7), rule="service")
    t = result.table
    month = days.to_period("M")
    expected = pd.Series(need).groupby(month).max().map(math.ceil).to_numpy()
    np.testing.assert_array_equal(t.loc[t.station == "S0", "vans_needed"], expected)
    np.testing.assert_array_equal(t.loc[t.station == "S1", "vans_needed"], [6, 6, 6])
    np.testing.assert_array_equal(t.loc[t.station == "S1", "vans_cost_optimal"], [6, 6, 6])
    assert (t["margin_vans"] == 0).all()
    assert (t["p_short_peak_day"] == 0).all()
    assert (t["shortage_van_days"] == 0).all()
    h = result.horizon.set_index("station")
    assert h.loc["S0", "vans_to_buy"] == math.ceil(need.max())
    assert h.loc["S0", "p_cover_every_day"] == 1.0


# --- monotonicity ----------------------------------------------------------------------------

small_forecasts = st.builds(
    lambda seed, lam, n_s: forecast(
        np.random.default_rng(seed).poisson(lam, (n_s, 45, 2)), start="2026-03-10"
    ),
    st.integers(0, 2**32 - 1),
    st.floats(0.5, 40.0),
    st.integers(1, 40),
)


@settings(max_examples=40, deadline=None)
@given(fc=small_forecasts, a=st.integers(0, 60), extra=st.integers(0, 10))
def test_more_vans_never_lower_the_service_level(fc, a, extra):
    low = fleet.evaluate_fleet(fc, a)
    high = fleet.evaluate_fleet(fc, a + extra)
    assert (high["p_cover_peak_day"].to_numpy() >= low["p_cover_peak_day"].to_numpy()).all()
    assert (high["shortage_van_days"].to_numpy() <= low["shortage_van_days"].to_numpy()).all()
    assert (high["p_short_any_day"].to_numpy() <= low["p_short_any_day"].to_numpy()).all()


@settings(max_examples=40, deadline=None)
@given(
    fc=small_forecasts,
    shocks=st.lists(st.floats(0.0, 1.5), min_size=2, max_size=2).map(sorted),
    start=st.integers(0, 44),
    vans=st.integers(0, 50),
)
def test_a_larger_shock_never_lowers_the_expected_shortfall(fc, shocks, start, vans):
    def shocked(share):
        routes = fc["routes"].to_numpy().astype(float).copy()
        routes[:, start:] = np.ceil(routes[:, start:] * (1 + share))
        return fc.assign(routes=(fc["routes"].dims, routes))

    fleet_by_station = pd.Series(vans, index=["S0", "S1"])
    small, large = (fleet.absorb(fleet_by_station, shocked(s)) for s in shocks)
    assert (large["shortage_van_days"] >= small["shortage_van_days"]).all()
    assert (large["p_cover_every_day"] <= small["p_cover_every_day"]).all()
    assert (large["p_cover_peak_day"] <= small["p_cover_peak_day"]).all()


def test_absorb_a_shock_from_month_k_and_a_station_launch():
    rng = np.random.default_rng(5)
    base = forecast(rng.poisson(20.0, (500, 90, 2)).astype(float), start="2026-01-01")
    bought = fleet.plan(base, 0.95).horizon.set_index("station")["vans_to_buy"]
    routes = base["routes"].to_numpy().copy()
    routes[:, 59:] = np.ceil(routes[:, 59:] * 1.4)  # +40 % from March
    launch = np.concatenate([routes, rng.poisson(8.0, (500, 90, 1))], axis=2)
    shocked = forecast(launch, stations=["S0", "S1", "NEW"])
    out = fleet.absorb(bought, shocked).set_index("station")
    calm = fleet.absorb(bought, base).set_index("station")
    assert out.loc["NEW", "vans"] == 0
    assert out.loc["NEW", "p_cover_every_day"] == 0.0
    assert out.loc["NEW", "shortage_van_days"] == pytest.approx(8.0 * 90, rel=0.02)
    assert (out.loc[["S0", "S1"], "p_cover_every_day"] < 0.05).all()
    assert (calm["p_cover_peak_day"] >= 0.95).all()
    # E[shortfall] = 59 calm days of E(R - v)+ plus 31 March days of E(⌈1.4 R⌉ - v)+
    k = np.arange(0, 120)
    pmf = stats.poisson.pmf(k, 20.0)
    for station in ("S0", "S1"):
        v = bought[station]
        analytic = 59 * pmf @ np.maximum(k - v, 0) + 31 * pmf @ np.maximum(np.ceil(1.4 * k) - v, 0)
        assert out.loc[station, "shortage_van_days"] == pytest.approx(analytic, rel=0.05)
        assert out.loc[station, "shortage_van_days"] > 10 * calm.loc[station, "shortage_van_days"]


# --- margin ----------------------------------------------------------------------------------


def test_margin_lists_each_extra_van_with_its_probability():
    rng = np.random.default_rng(6)
    level = rng.normal(30.0, 3.0, (4000, 1, 1))  # uncertain level, calm days
    values = np.round(level + rng.normal(0, 1.0, (4000, 30, 1))).clip(0)
    fc = forecast(values, start="2026-04-01")
    alpha = 0.9
    m = fleet.margin_table(fc, alpha)
    plan_row = fleet.plan(fc, alpha).table.iloc[0]
    assert m["vans_point_forecast"].iloc[0] == plan_row["vans_point_forecast"]
    assert m["bought"].sum() == plan_row["margin_vans"] > 0
    assert (np.diff(m["p_needed"].to_numpy()) <= 0).all()
    assert (m.loc[m.bought, "p_needed"] > 1 - alpha).all()
    assert m.loc[~m.bought, "p_needed"].item() <= 1 - alpha
    # P(the j-th extra van is needed) by direct counting over draws × the 2 peak days
    peak = np.sort(values[:, :, 0], axis=1)[:, -2:].ravel()
    for _, row in m.iterrows():
        assert row["p_needed"] == pytest.approx(np.mean(peak > row["fleet"] - 1))
    assert len(fleet.margin_table(fc, alpha, max_extra=3)) == 3


def test_margin_without_uncertainty_is_one_unbought_van():
    m = fleet.margin_table(forecast(np.full((5, 30, 1), 9.0)), 0.95)
    assert len(m) == 1
    assert m["vans_point_forecast"].item() == 9
    assert m["p_needed"].item() == 0.0
    assert not m["bought"].item()


# --- van mix ---------------------------------------------------------------------------------


def test_van_mix_buys_the_larger_van_only_where_capacity_binds():
    # A: dense zips near the station (capacity binds); B: sparse zips far away (shift binds)
    rng = np.random.default_rng(7)
    n_s, n_d = 400, 30
    zones = {"A": dict(area_km2=4.0, stem_km=3.0), "B": dict(area_km2=200.0, stem_km=60.0)}
    small, large = VanType("small", 150.0, 30 * 100.0), VanType("large", 300.0, 30 * 125.0)
    out = {}
    stops = rng.poisson(600.0, (n_s, n_d, 3)).astype(float)  # 3 zips per station, same days
    for van in (small, large):
        per_station = []
        for zone in zones.values():
            day = physics.ZoneDay(
                stops=stops, packages=1.6 * stops, capacity=van.capacity_packages, **zone
            )
            routes = physics.expected_routes(day)
            per_station.append(routes.sum(axis=2))
        out[van.name] = forecast(np.stack(per_station, axis=2), stations=["A", "B"])
    mean = {k: v["routes"].mean(("sample", "date")).to_series() for k, v in out.items()}
    assert mean["large"]["A"] < 0.7 * mean["small"]["A"]  # the physics: capacity binds at A
    assert mean["large"]["B"] == pytest.approx(mean["small"]["B"])  # the shift binds at B

    costs = FleetCosts((small, large), shortage_cost_per_van_day=400.0)
    mix = fleet.van_mix(out, costs, 0.95).set_index(["station", "van_type"])
    assert mix.loc[("A", "large"), "chosen"] and not mix.loc[("A", "small"), "chosen"]
    assert mix.loc[("B", "small"), "chosen"] and not mix.loc[("B", "large"), "chosen"]
    assert mix.loc[("A", "small"), "extra_cost"] > 0
    assert mix.loc[("B", "large"), "extra_cost"] > 0


# --- input and validation --------------------------------------------------------------------


def test_routes_from_rows_sums_zips_per_station_day():
    rng = np.random.default_rng(8)
    dates = pd.date_range("2026-05-01", periods=6, freq="D")
    rows = pd.DataFrame(
        [
            (d, z, "X" if z in ("z1", "z2") or (z == "z3" and d.day > 3) else "Y")
            for d in dates
            for z in ("z1", "z2", "z3", "z4")
        ],
        columns=["date", "zip", "station"],
    )
    rows.index = rng.permutation(len(rows)) + 100
    draws = xr.Dataset(
        {"routes": (("sample", "row"), rng.poisson(5, (7, len(rows))))},
        coords={"sample": np.arange(7), "row": rows.index.to_numpy()},
    )
    got = fleet.routes_from_rows(rows, draws)
    assert got.dims == ("sample", "date", "station")
    assert list(got["station"].to_numpy()) == ["X", "Y"]
    by_row = pd.DataFrame(draws["routes"].to_numpy().T, index=rows.index)
    expected = by_row.groupby([rows["date"], rows["station"]]).sum()
    for (date, station), value in expected.iterrows():
        np.testing.assert_array_equal(got.sel(date=date, station=station), value.to_numpy())
    with pytest.raises(ValueError, match=r"share a \(date, zip\)"):
        fleet.routes_from_rows(
            pd.concat([rows, rows.iloc[:1].set_index(pd.Index([1]))]),
            draws.reindex(row=[*rows.index, 1], fill_value=0),
        )


def test_plan_takes_one_forecast_per_van_type():
    rng = np.random.default_rng(9)
    fcs = {
        "small": forecast(rng.poisson(30, (200, 60, 2))),
        "large": forecast(rng.poisson(20, (200, 60, 2))),
    }
    costs = FleetCosts((VanType("small", 150, 6e3), VanType("large", 300, 8e3)), 400.0)
    result = fleet.plan(fcs, 0.95, costs)
    assert set(result.table["van_type"]) == {"small", "large"}
    assert result.draws["vans"].dims == ("van_type", "month", "station")
    monthly = result.table.groupby(["station", "van_type"])["vans_at_service_level"].max()
    h = result.horizon.set_index(["station", "van_type"])
    pd.testing.assert_series_equal(
        h["vans_at_service_level"].sort_index(), monthly.sort_index(), check_names=False
    )
    assert (result.draws["shortfall"] >= 0).all()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: VanType("L", 300.0, -1.0), r"VanType\('L'\)\.cost_per_van = -1\.0: expected"),
        (lambda: VanType("L", 0.0, 1.0), r"capacity_packages = 0\.0: expected a finite number"),
        (lambda: VanType("E", 300.0, 1.0, range_km=150.0), r"expected both .* or neither"),
        (lambda: FleetCosts((VanType("L", 300, 1),), -5.0), r"shortage_cost_per_van_day = -5"),
        (
            lambda: FleetCosts((VanType("L", 300, 1), VanType("L", 400, 2)), 5.0),
            r"names \['L'\] repeat",
        ),
        (lambda: EVConfig(100.0, cold_derate=1.0), r"cold_derate = 1\.0: expected .* < 1"),
        (lambda: EVConfig({"A": -3.0}), r"charger_kw_per_station\['A'\] = -3\.0"),
        (lambda: EVConfig(100.0, charging_hours=30), r"charging_hours = 30: expected .* <= 24"),
    ],
)
def test_config_errors_name_the_field_value_and_expectation(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.2, -0.1, float("nan")])
def test_service_level_outside_zero_one_is_refused(alpha):
    fc = forecast(np.ones((3, 10, 1)))
    with pytest.raises(ValueError, match=rf"service_level = {alpha!r}: .*strictly between 0 and 1"):
        fleet.plan(fc, alpha)


def test_unknown_van_type_and_bad_forecasts_are_refused():
    fc = forecast(np.ones((3, 10, 1)))
    costs = FleetCosts((VanType("S", 150, 1.0), VanType("L", 300, 2.0)), 5.0)
    with pytest.raises(ValueError, match=r"van_type = 'XL' is not in FleetCosts.van_types"):
        fleet.plan(fc, 0.9, costs, van_type="XL")
    with pytest.raises(ValueError, match=r"van_type = 'XL' is not in .*one of 'S', 'L'"):
        fleet.van_mix({"S": fc, "XL": fc}, costs)
    with pytest.raises(ValueError, match=r"van_type = None with 2 van types"):
        fleet.plan(fc, 0.9, costs)
    with pytest.raises(ValueError, match=r"rule = 'cost' needs costs"):
        fleet.plan(fc, 0.9, rule="cost")
    with pytest.raises(ValueError, match=r"negative, NaN or infinite"):
        fleet.plan(forecast(-np.ones((3, 10, 1))), 0.9)
    with pytest.raises(ValueError, match=r"expected \('sample', 'date', 'station'\)"):
        fleet.plan(fc["routes"].rename(station="zip"), 0.9)
    weekly = fc.assign_coords(date=pd.date_range("2026-01-04", periods=10, freq="7D"))
    with pytest.raises(ValueError, match=r"7 days apart \(median\): expected daily"):
        fleet.plan(weekly, 0.9)
    with pytest.raises(ValueError, match=r"station\(s\) \['s0'\] that the forecast does not"):
        fleet.absorb(pd.Series({"s0": 3}), fc)  # a typo would leave S0 with no vans
    with pytest.raises(ValueError, match=r"non-finite vans \['S0=-1'\]"):
        fleet.absorb(pd.Series({"S0": -1}), fc)


def test_a_composed_forecast_object_is_accepted_as_it_is():
    class Composed:  # what bayesspr.forecasting.compose.forecast returns: draws in .draws
        draws = forecast(np.arange(30.0).reshape(3, 10, 1))

    assert fleet.plan(Composed(), 0.9).table.equals(fleet.plan(Composed.draws, 0.9).table)


# --- electrification -------------------------------------------------------------------------


MU_KM = math.log(150.0)  # log of the median route length (log km)


def ev_forecast(rng, n_s=300, n_d=40, n_z=12, mu=MU_KM, sigma=0.2, per_zip=None):
    """Zip-level forecast: 2 stations, 6 zips each, lognormal route km; zip z11 inactive."""
    routes = per_zip if per_zip is not None else rng.poisson(4.0, (n_s, n_d, n_z)) + 1
    km = np.exp(mu + sigma * rng.standard_normal((n_s, n_d, n_z)))
    station_of = np.array([["A"] * 6 + ["B"] * 6] * n_d, dtype=object)
    station_of[:, 11] = ""
    routes = routes.copy()
    routes[:, :, 11] = 0
    km[:, :, 11] = np.nan
    return xr.Dataset(
        {
            "routes_zip": (("sample", "date", "zip"), routes),
            "route_km_zip": (("sample", "date", "zip"), km),
        },
        coords={
            "date": pd.date_range("2026-01-01", periods=n_d, freq="D"),
            "zip": [f"z{i}" for i in range(n_z)],
            "station_of": (("date", "zip"), station_of.astype(str)),
        },
    )


def test_ev_probability_of_exceeding_range_matches_the_lognormal():
    rng = np.random.default_rng(10)
    mu, sigma = math.log(150.0), 0.2
    fc = ev_forecast(rng, mu=mu, sigma=sigma)
    ev = VanType("E", 250.0, 1.0, range_km=200.0, kwh_per_km=0.3)
    cfg = EVConfig(1e6, cold_derate=0.1, hill_derate={"B": 0.2})
    out = fleet.ev_feasibility(fc, ev, cfg).set_index("station")
    usable = {"A": 200.0 * 0.9, "B": 200.0 * 0.9 * 0.8}
    for station, r in usable.items():
        p = stats.norm.sf((math.log(r) - mu) / sigma)
        n = 300 * 40 * (6 if station == "A" else 5)
        assert out.loc[station, "range_km"] == pytest.approx(r)
        assert out.loc[station, "p_exceed"] == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n))
        # mean length of routes within range: truncated lognormal mean
        z = (math.log(r) - mu) / sigma
        mean_in = math.exp(mu + sigma**2 / 2) * stats.norm.cdf(z - sigma) / stats.norm.cdf(z)
        assert out.loc[station, "mean_route_km"] == pytest.approx(mean_in, rel=0.01)
    assert out.loc["B", "p_exceed"] > out.loc["A", "p_exceed"]
    assert (out["binding"] == "range").all()


def test_ev_routes_in_range_is_the_binomial_risk_quantile():
    # one route per zip-day: routes within range per station-day ~ Binomial(6, 1 - p)
    rng = np.random.default_rng(11)
    mu, sigma, n_s, n_d = math.log(150.0), 0.25, 400, 50
    fc = ev_forecast(
        rng, n_s=n_s, n_d=n_d, mu=mu, sigma=sigma, per_zip=np.ones((n_s, n_d, 12), dtype=int)
    )
    ev = VanType("E", 250.0, 1.0, range_km=160.0, kwh_per_km=0.3)
    risk = 0.1
    out = fleet.ev_feasibility(fc, ev, EVConfig(1e6), risk=risk).set_index("station")
    q = stats.norm.cdf((math.log(160.0) - mu) / sigma)
    n = n_s * n_d
    for station, zips in (("A", 6), ("B", 5)):
        # largest k with P(N >= k) >= 1 - risk, at risk ± 4 standard errors
        bounds = []
        for r in (risk - 4 * math.sqrt(risk * (1 - risk) / n), risk + 4 * math.sqrt(risk / n)):
            k = np.arange(zips + 1)
            bounds.append(k[stats.binom.sf(k - 1, zips, q) >= 1 - r].max())
        assert bounds[0] <= out.loc[station, "routes_in_range"] <= bounds[1]


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 9), min_size=1, max_size=40),
    risk=st.floats(0.01, 0.99),
)
def test_ev_routes_in_range_is_the_largest_count_met_at_the_risk(counts, risk):
    # one draw, one zip whose routes are all within range: the count per day is given
    n = len(counts)
    fc = xr.Dataset(
        {
            "routes_zip": (("sample", "date", "zip"), np.array(counts)[None, :, None]),
            "route_km_zip": (("sample", "date", "zip"), np.full((1, n, 1), 10.0)),
        },
        coords={
            "date": pd.date_range("2026-01-01", periods=n, freq="D"),
            "zip": ["z0"],
            "station_of": (("date", "zip"), np.full((n, 1), "A")),
        },
    )
    ev = VanType("E", 250.0, 1.0, range_km=100.0, kwh_per_km=0.3)
    k = fleet.ev_feasibility(fc, ev, EVConfig(1e6), risk=risk)["routes_in_range"].item()
    c = np.array(counts)
    c = c[c > 0]  # days without routes are left out
    if len(c) == 0:
        assert k == 0
    else:
        assert np.mean(c >= k) >= 1 - risk - 1e-12
        assert np.mean(c >= k + 1) < 1 - risk


def test_ev_with_a_fleet_sends_long_routes_to_combustion_vans_first():
    # one route per zip-day, 6 zips at A: out-of-range routes X ~ Binomial(6, p);
    # with F vans, n electric vans are safe when F - X >= n
    rng = np.random.default_rng(14)
    mu, sigma, n_s, n_d = math.log(150.0), 0.25, 400, 50
    per_zip = np.ones((n_s, n_d, 12), dtype=int)
    per_zip[:, ::7, :] = 0  # a day of the week without deliveries
    free = len(range(0, n_d, 7)) / n_d
    fc = ev_forecast(rng, n_s=n_s, n_d=n_d, mu=mu, sigma=sigma, per_zip=per_zip)
    ev = VanType("E", 250.0, 1.0, range_km=160.0, kwh_per_km=0.3)
    risk, owned = 0.1, pd.Series({"A": 8, "B": 5})
    plain = fleet.ev_feasibility(fc, ev, EVConfig(1e6), risk=risk).set_index("station")
    out = fleet.ev_feasibility(fc, ev, EVConfig(1e6), risk=risk, fleet_by_station=owned)
    out = out.set_index("station")
    p = stats.norm.sf((math.log(160.0) - mu) / sigma)
    n = n_s * n_d
    eps = 4 * math.sqrt(risk * (1 - risk) / n)
    for station, zips in (("A", 6), ("B", 5)):
        # without a fleet: days without deliveries do not pull the count to 0
        k = np.arange(zips + 1)
        lo, hi = (
            k[stats.binom.sf(k - 1, zips, 1 - p) >= 1 - r].max() for r in (risk - eps, risk + eps)
        )
        assert lo <= plain.loc[station, "routes_in_range"] <= hi
        assert plain.loc[station, "range_cap"] == plain.loc[station, "routes_in_range"]
        # with a fleet: n = F - (the 1 - risk quantile of X); days without deliveries have
        # X = 0, so X follows a mixture of 0 (share `free`) and Binomial(zips, p)
        x = np.arange(zips + 1)
        cdf = free + (1 - free) * stats.binom.cdf(x, zips, p)
        f = owned[station]
        q_lo, q_hi = x[cdf >= 1 - risk - eps].min(), x[cdf >= 1 - risk + eps].min()
        assert f - q_hi <= out.loc[station, "range_cap"] <= f - q_lo
        assert out.loc[station, "range_cap"] >= plain.loc[station, "range_cap"]


def test_ev_charger_cap_binds_when_power_is_small():
    rng = np.random.default_rng(12)
    fc = ev_forecast(rng)
    ev = VanType("E", 250.0, 1.0, range_km=300.0, kwh_per_km=0.3)
    cfg = EVConfig({"A": 50.0, "B": 1e6}, charging_hours=8.0)
    out = fleet.ev_feasibility(fc, ev, cfg).set_index("station")
    a = out.loc["A"]
    assert a["charger_kwh"] == pytest.approx(400.0)
    assert a["charger_cap"] == math.floor(400.0 / (0.3 * a["mean_route_km"]))
    assert a["ev_vans"] == a["charger_cap"] < a["routes_in_range"]
    assert a["binding"] == "charger"
    assert out.loc["B", "ev_vans"] == out.loc["B", "routes_in_range"]
    with pytest.raises(ValueError, match=r"van type 'D' has no range_km"):
        fleet.ev_feasibility(fc, VanType("D", 250.0, 1.0), cfg)
    with pytest.raises(ValueError, match=r"no entry for station 'B'"):
        fleet.ev_feasibility(fc, ev, EVConfig({"A": 50.0}))


# --- tables people read ------------------------------------------------------------------


def test_every_column_of_every_fleet_table_has_a_legend_line_with_a_unit():
    rng = np.random.default_rng(15)
    fc = forecast(rng.poisson(12, (200, 59, 2)).astype(float))
    costs = costs_for(0.7, days=59)
    result = fleet.plan(fc, 0.95, costs)
    tables = {
        "table": result.table,
        "horizon": result.horizon,
        "absorb": fleet.absorb(result.horizon.set_index("station")["vans_to_buy"], fc),
        "evaluate": fleet.evaluate_fleet(fc, 20, costs),
        "margin": fleet.margin_table(fc, 0.95),
        "van_mix": fleet.van_mix({"van": fc}, costs),
    }
    for kind, table in tables.items():
        unexplained = set(table.columns) - set(fleet.COLUMN_LEGEND[kind])
        assert not unexplained, (kind, unexplained)
        for column in table.columns:
            unit, meaning = fleet.COLUMN_LEGEND[kind][column]
            assert unit and len(meaning) > 10 and "\n" not in meaning, (kind, column)
    for which, table in (("horizon", result.horizon), ("table", result.table)):
        legend = result.legend(which)
        assert list(legend.columns) == ["column", "unit", "meaning"]
        assert legend["column"].tolist() == list(table.columns)
    meaning = result.legend("horizon").set_index("column")["meaning"]
    assert (
        "95 %" in meaning["vans_at_service_level"]
        and "peak day" in meaning["vans_at_service_level"]
    )
    assert "not every day" in meaning["vans_at_service_level"]
    assert "busiest 5 %" in meaning["vans_at_service_level"]
    assert "0.700" in meaning["critical_fractile"]
    assert "every day" in meaning["p_cover_every_day"]


@pytest.mark.parametrize("rule", ["service", "cost"])
def test_the_recommended_columns_say_which_rule_filled_them(rule):
    rng = np.random.default_rng(16)
    fc = forecast(rng.poisson(20, (300, 59, 2)).astype(float))
    result = fleet.plan(fc, 0.95, costs_for(0.6, days=59), rule=rule)
    source = {"service": "vans_at_service_level", "cost": "vans_cost_optimal"}[rule]
    t, h = result.table, result.horizon
    assert (t["rule"] == rule).all() and (h["rule"] == rule).all()
    np.testing.assert_array_equal(t["vans_needed"], t[source])
    np.testing.assert_array_equal(h["vans_to_buy"], h[source])
    assert (t["service_level"] == 0.95).all() and (h["service_level"] == 0.95).all()
    assert "vans" not in t.columns and "vans" not in h.columns  # no unnamed fleet
    # the horizon service-level fleet is the largest monthly one, and names its month
    for station, rows in t.groupby("station"):
        row = h.set_index("station").loc[station]
        biggest = rows.sort_values(["vans_at_service_level", "month"], ascending=[False, True])
        assert row["vans_at_service_level"] == biggest["vans_at_service_level"].iloc[0]
        assert row["sizing_month"] == biggest["month"].iloc[0]
    # a 95 % fleet covers 95 % of peak days, not every day: the table keeps both apart
    assert (h["p_cover_every_day"] <= h["p_cover_peak_day"]).all()


def test_summary_and_plan_months_are_the_same_month_start_timestamps():
    rng = np.random.default_rng(17)
    routes = rng.poisson(10, (50, 70, 2)).astype(float)
    fc = forecast(routes, start="2026-01-20")
    draws = fc.assign(packages=(("sample", "date", "station"), routes * 150.0))
    summary = summarise(draws)
    table = fleet.plan(fc, 0.9).table
    assert summary["month"].dtype == table["month"].dtype
    assert pd.api.types.is_datetime64_any_dtype(summary["month"])
    months = pd.DatetimeIndex(["2026-01-01", "2026-02-01", "2026-03-01"])
    assert (pd.DatetimeIndex(summary["month"].unique()) == months).all()
    assert (pd.DatetimeIndex(table["month"].unique()) == months).all()
    joined = summary.merge(table, on=["station", "month"], validate="one_to_one")
    assert len(joined) == len(table) == 6
    np.testing.assert_allclose(joined["routes_per_day_mean"], joined["mean_routes_per_day"])
