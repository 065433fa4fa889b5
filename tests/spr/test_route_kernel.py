"""The compiled route draws evaluate the same physics formulas as numpy does."""

import threading

import numpy as np
import pytest

from bayesspr import parallel
from bayesspr.errors import ForecastError
from bayesspr.spr import model as spr_model
from bayesspr.spr import physics
from bayesspr.spr.likelihood import route_counts
from bayesspr.spr.model import ParameterDraws, SPRModel, log_route_need
from bayesspr.spr.physics import ZoneDay

S, R, CITIES, STATIONS, ZIPS = 6, 500, 2, 3, 40


def _draws(rng: np.random.Generator, sigma_km: bool) -> ParameterDraws:
    def scalar(lo, hi):
        return rng.uniform(lo, hi, (S, 1))

    return ParameterDraws(
        stem_speed_kmh=scalar(40, 60),
        tour_constant=scalar(0.6, 0.8),
        fill=scalar(0.8, 0.95),
        sigma_route=scalar(0.05, 0.15),
        service_min_city=rng.uniform(1.5, 3.0, (S, CITIES)),
        speed_kmh_city=rng.uniform(20, 35, (S, CITIES)),
        overhead_hours_station=rng.uniform(0.3, 0.8, (S, STATIONS)),
        zip_effect=rng.normal(0, 0.05, (S, ZIPS)),
        sigma_km=scalar(0.02, 0.1) if sigma_km else None,
    )


def _rows(rng: np.random.Generator, per_sample: bool) -> tuple[ZoneDay, dict]:
    stops = rng.integers(20, 400, (S, R) if per_sample else R).astype(float)
    rows = ZoneDay(
        stops=stops,
        packages=stops * rng.uniform(1.2, 2.0, stops.shape),
        capacity=rng.choice([250.0, 400.0], R),
        area_km2=rng.uniform(2, 40, R),
        stem_km=rng.uniform(3, 30, R),
        shift_hours=rng.choice([8.0, 10.0], R),
    )
    index = {
        "city": rng.integers(0, CITIES, R),
        "station": rng.integers(0, STATIONS, R),
        "zip": rng.integers(0, ZIPS, R),
    }
    return rows, index


@pytest.mark.parametrize(("per_sample", "sigma_km"), [(True, True), (False, False)])
def test_compiled_route_draws_equal_the_numpy_formulas(per_sample, sigma_km):
    rng = np.random.default_rng(11)
    params, (rows, index) = _draws(rng, sigma_km), _rows(rng, per_sample)
    model = SPRModel()
    normals = rng.standard_normal((2, S, R))
    routes, km = model.route_draws(params, rows, index, normals=normals)
    constants = params.route_constants(index, float(model.spec["constants"]["circuity"]))
    floor = np.atleast_2d(physics.capacity_floor_routes(rows.packages, rows.capacity))
    expected = route_counts(log_route_need(rows, constants), params.sigma_route, floor, normals[0])
    expected_km = physics.expected_route_km(rows, constants, routes=expected)
    if sigma_km:
        expected_km = expected_km * np.exp(params.sigma_km * normals[1])
    assert routes.shape == km.shape == (S, R)
    np.testing.assert_array_equal(routes, expected)
    np.testing.assert_allclose(km, np.broadcast_to(expected_km, (S, R)), rtol=1e-12)
    # a generator gives the same draws as its normals handed over
    by_rng = model.route_draws(params, rows, index, np.random.default_rng(5))
    g = np.random.default_rng(5)
    given = np.stack([g.standard_normal((S, R)) for _ in range(1 + sigma_km)])
    np.testing.assert_array_equal(
        by_rng[0], model.route_draws(params, rows, index, normals=given)[0]
    )
    with pytest.raises(ForecastError, match="rng= or normals="):
        model.route_draws(params, rows, index)


def test_posterior_medians_draw_routes_too():
    """One-dimensional draws (medians: scalars (1,), groups (n,)) compile their own kernel."""
    rng = np.random.default_rng(12)
    params, (rows, index) = _draws(rng, True), _rows(rng, False)
    median = params.median()
    routes, km = SPRModel().route_draws(median, rows, index, np.random.default_rng(1))
    assert routes.shape == (1, R) and np.isfinite(km).all() and (routes >= 1).all()


def _unaligned(values: np.ndarray) -> np.ndarray:
    """A copy of ``values`` whose buffer starts one byte off alignment (as unpickled can)."""
    raw = bytearray(values.nbytes + 1)
    out = np.frombuffer(raw, dtype=values.dtype, count=values.size, offset=1)
    out = out.reshape(values.shape)
    out[...] = values
    assert not out.flags.aligned
    return out


def test_unaligned_inputs_draw_the_same_routes():
    rng = np.random.default_rng(12)
    params, (rows, index) = _draws(rng, True), _rows(rng, True)
    normals = rng.standard_normal((2, S, R))
    model = SPRModel()
    expected = model.route_draws(params, rows, index, normals=normals)
    shifted = ParameterDraws(
        **{k: None if v is None else _unaligned(v) for k, v in vars(params).items()}
    )
    got = model.route_draws(shifted, rows, index, normals=_unaligned(normals))
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_routes_split_over_threads_equal_one_call(monkeypatch):
    """The kernel runs on slices of the samples at once (own copy per thread), same values."""
    rng = np.random.default_rng(13)
    params, (rows, index) = _draws(rng, True), _rows(rng, True)
    normals = rng.standard_normal((2, S, R)).astype(np.float32)
    model = SPRModel()
    monkeypatch.setattr(spr_model, "sample_slices", lambda n, _values: [slice(0, n)])
    whole = model.route_draws(params, rows, index, normals=normals)
    monkeypatch.setattr(
        spr_model, "sample_slices", lambda n, _values: [slice(0, 1), slice(1, 4), slice(4, n)]
    )
    results: list[tuple[np.ndarray, np.ndarray]] = []

    def draw() -> None:  # as a Dask worker's threads would, each splitting its own call
        results.append(model.route_draws(params, rows, index, normals=normals))

    callers = [threading.Thread(target=draw) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=120)
    assert len(results) == 3
    results += parallel.map_on_threads(  # on the pool's own threads: run in place there
        lambda _: model.route_draws(params, rows, index, normals=normals), range(4)
    )
    for routes, km in results:
        np.testing.assert_array_equal(routes, whole[0])
        np.testing.assert_array_equal(km, whole[1])
