"""Energy per route, P(run out of charge), and the design days taken from zip-day draws."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesspr.deploy import DeployInputError
from bayesspr.deploy.demand import from_forecast
from bayesspr.deploy.energy import EnergyModel
from bayesspr.deploy.plan import deploy
from bayesspr.deploy.problem import DeployCosts, DeployProblem
from bayesspr.fleet.config import VanType

EV = VanType("ev", 250, 30_000.0, range_km=150.0, kwh_per_km=0.25)
DIESEL = VanType("diesel", 250, 25_000.0)


def test_cold_climb_and_payload_raise_consumption():
    m = EnergyModel()
    base = m.kwh_per_km(EV, 15.0, 0.0, 0.0)
    assert base == pytest.approx(0.25)
    assert m.kwh_per_km(EV, -5.0, 0.0, 0.0) == pytest.approx(0.25 * (1 + 0.015 * 20))
    assert m.kwh_per_km(EV, 25.0, 0.0, 0.0) == pytest.approx(0.25)  # warmth is no bonus
    lift = 2.5 * 1000 * 9.81 * 10 / 3.6e6 * 0.5 / 0.85  # 10 m climbed per km, empty
    assert m.kwh_per_km(EV, 15.0, 10.0, 0.0) == pytest.approx(0.25 + lift)
    assert m.kwh_per_km(EV, 15.0, 0.0, 1.0) == pytest.approx(0.25 * 1.08)


def test_p_run_out_equals_risk_at_reach():
    m = EnergyModel(risk=0.02)
    assert m.p_run_out(EV, m.reach_kwh(EV)) == pytest.approx(0.02)
    assert m.p_run_out(EV, 0.5 * m.reach_kwh(EV)) < 0.02 < m.p_run_out(EV, 1.2 * m.reach_kwh(EV))
    with pytest.raises(DeployInputError, match=r"EnergyModel.*'risk'.*value 1.5"):
        EnergyModel(risk=1.5)


def _draws():
    dates = pd.date_range("2027-01-01", periods=3).append(pd.date_range("2027-07-01", periods=2))
    rng = np.random.default_rng(3)
    routes = rng.integers(0, 6, (2, 5, 3)).astype(float)
    km = rng.uniform(60, 160, (2, 5, 3))
    station_of = np.array([["A", "A", "B"]] * 5)
    station_of[4, 1] = ""  # zip z2 not served on the last day
    return xr.Dataset(
        {
            "routes_zip": (("sample", "date", "zip"), routes),
            "route_km_zip": (("sample", "date", "zip"), km),
            "station_of": (("date", "zip"), station_of),
        },
        coords={"sample": [0, 1], "date": dates, "zip": ["z1", "z2", "z3"]},
    )


def test_design_days_match_a_loop():
    ds = _draws()
    city = pd.Series(["X", "X"], index=["A", "B"])
    temp = pd.DataFrame({1: [-10.0], 7: [20.0]}, index=["X"])
    climb = pd.Series({"z2": 30.0})
    m = EnergyModel()
    out = from_forecast(ds, city, [DIESEL, EV], temp, climb_m_per_km=climb, energy=m)
    r, k = ds["routes_zip"].values, ds["route_km_zip"].values
    st = ds["station_of"].values
    months = {"2027-01": [0, 1, 2], "2027-07": [3, 4]}
    # four route-length classes: quartiles of the km of every zip-day with routes
    edges = np.quantile(k[r > 0], [0.25, 0.5, 0.75])
    assert out.in_range.sizes["km_class"] == 4

    def km_class(x):
        return int(np.sum(x >= edges))

    for w in range(2):
        for s in ("A", "B"):
            for label, days in months.items():
                per_day = [sum(r[w, d, z] for z in range(3) if st[d, z] == s) for d in days]
                d = days[int(np.argmax(per_day))]
                zs = [z for z in range(3) if st[d, z] == s]
                assert out.demand.sel(sample=w, station=s, month=label) == sum(
                    r[w, d, z] for z in zs
                )
                t = -10.0 if label == "2027-01" else 20.0

                def kwh(z, t=t, d=d, w=w):
                    z_name = ["z1", "z2", "z3"][z]
                    return k[w, d, z] * m.kwh_per_km(EV, t, climb.get(z_name, 0.0), 0.5)

                ok = [z for z in zs if kwh(z) <= m.reach_kwh(EV)]
                n_ok = sum(r[w, d, z] for z in ok)
                got = out.in_range.sel(sample=w, van="ev", station=s, month=label)
                assert got.sum() == n_ok
                for j in range(4):  # per class: its routes in range, the energy of all of them
                    in_j = [z for z in zs if km_class(k[w, d, z]) == j and r[w, d, z] > 0]
                    assert got[j] == sum(r[w, d, z] for z in in_j if z in ok)
                    n_j = sum(r[w, d, z] for z in in_j)
                    want = sum(r[w, d, z] * kwh(z) for z in in_j) / n_j if n_j else 0.0
                    energy = out.kwh_per_route.sel(sample=w, van="ev", station=s, month=label)
                    assert float(energy[j]) == pytest.approx(want)
                if n_ok:
                    assert out.p_run_out.sel(sample=w, van="ev", station=s, month=label) <= m.risk
    assert list(out.month_period) == [2027, 2027]
    # the draws fill a problem, once it says what the two months (Jan, Jul) stand for
    fields = {
        "van_types": [DIESEL, EV],
        "station_city": city,
        "costs": DeployCosts({"diesel": 1.0, "ev": 1.0}, 100.0),
        **out.problem_fields(),
    }
    with pytest.raises(DeployInputError, match=r"2027-01 and 2027-07 are not consecutive"):
        DeployProblem(**fields)
    weight = pd.Series([6.0, 6.0], index=["2027-01", "2027-07"])
    problem = DeployProblem(**fields, month_weight=weight)
    assert problem.n_samples == 2


def test_cold_month_has_fewer_routes_in_range():
    ds = _draws()
    ds["route_km_zip"][:] = 95.0  # within reach in July (≈ 24.7 kWh), not in January
    ds["routes_zip"][:] = 2.0
    city = pd.Series(["X", "X"], index=["A", "B"])
    temp = pd.DataFrame({1: [-15.0], 7: [20.0]}, index=["X"])
    out = from_forecast(ds, city, [EV], temp)
    jan = out.in_range.sel(month="2027-01").sum("km_class").values
    jul = out.in_range.sel(month="2027-07").sum("km_class").values
    assert (jan == 0).all() and (jul > 0).all()


def test_bad_forecast_inputs_are_named():
    ds = _draws()
    city = pd.Series(["X"], index=["A"])
    temp = pd.DataFrame({1: [0.0], 7: [0.0]}, index=["X"])
    with pytest.raises(DeployInputError, match=r"station_city.*'B'"):
        from_forecast(ds, city, [EV], temp)
    with pytest.raises(DeployInputError, match=r"routes_zip"):
        from_forecast(ds.drop_vars("routes_zip"), city, [EV], temp)
    with pytest.raises(DeployInputError, match=r"temperature_c.*\[7\]"):
        from_forecast(ds, pd.Series(["X", "X"], index=["A", "B"]), [EV], temp[[1]])


def _range_problem(range_km, station_kw):
    """One station, one January: six short routes (40 km) and two long (350 km) a day."""
    dates = pd.date_range("2027-01-01", periods=31)
    routes = np.broadcast_to([6.0, 2.0], (2, 31, 2)).copy()
    km = np.broadcast_to([40.0, 350.0], (2, 31, 2)).copy()
    ds = xr.Dataset(
        {
            "routes_zip": (("sample", "date", "zip"), routes),
            "route_km_zip": (("sample", "date", "zip"), km),
            "station_of": (("date", "zip"), np.full((31, 2), "A")),
        },
        coords={"sample": [0, 1], "date": dates, "zip": ["near", "far"]},
    )
    city = pd.Series(["X"], index=["A"])
    ev = VanType("ev", 250, 30_000.0, range_km=range_km, kwh_per_km=0.25)
    days = from_forecast(ds, city, [DIESEL, ev], pd.DataFrame({1: [5.0]}, index=["X"]))
    return DeployProblem(
        van_types=[DIESEL, ev],
        station_city=city,
        costs=DeployCosts(
            {"diesel": 2_000.0, "ev": 800.0},
            shortage_per_van_day=900.0,
            shortage_days_per_month=20.0,
            emission_price_per_kg=0.5,
            emission_kg_per_km=0.25,
            emission_days_per_month=22.0,
        ),
        station_power_kw=pd.DataFrame({2027: [station_kw]}, index=["A"]),
        **days.problem_fields(),
    )


@pytest.mark.parametrize("station_kw", [5.0, 8.0])
def test_a_longer_range_never_costs_more_under_a_binding_power_limit(station_kw):
    # 400 km reaches the short routes only, 600 km the long ones too. Charged one mean energy
    # for all in-range routes, the long routes raised the energy of the short ones and fewer
    # ran electric under the power limit: the optimal cost rose with the range.
    short, long = (deploy(_range_problem(r, station_kw), mip_rel_gap=0.0) for r in (400, 600))
    assert short.problem.in_range.sum() < long.problem.in_range.sum()  # the range matters
    unlimited = deploy(_range_problem(400, 1e6), mip_rel_gap=0.0)
    assert unlimited.cost["total"] < short.cost["total"] - 1.0  # the power limit binds
    assert long.cost["total"] <= short.cost["total"] + 1e-6
