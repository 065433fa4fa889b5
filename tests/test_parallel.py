"""Compiled loops over samples: on every core, with the values of one thread."""

from __future__ import annotations

import itertools
import threading

import numba
import numpy as np
import pytest

from bayesspr import parallel
from bayesspr.forecasting.compose import _station_day_sums
from bayesspr.volume.keyed import _keyed_normal_pairs, _keyed_normals
from bayesspr.volume.volume_kernels import _share_normalisers, _zip_day_draws

S, D, G, P = 9, 17, 23, 4


def _kernels() -> list[tuple[object, tuple[np.ndarray, ...]]]:
    """Each parallel loop of the package with inputs, its outputs last."""
    rng = np.random.default_rng(3)
    samples = rng.integers(0, 2**63, S, dtype=np.uint64)
    days = np.arange(19_000, 19_000 + D, dtype=np.uint64)
    groups = rng.integers(0, 2**63, G, dtype=np.uint64)
    station = rng.integers(0, 3, G)
    return [
        (_keyed_normals, (samples, groups, days, np.empty((S, D, G)))),
        (
            _share_normalisers,
            (
                samples,
                days,
                groups,
                rng.normal(size=(D, P)),
                rng.normal(size=(S, P, G)) * 0.1,
                rng.random((S, G)),
                np.zeros(G),
                station,
                np.empty((S, D, 3)),
            ),
        ),
        (_keyed_normal_pairs, (np.uint64(77), days, groups, np.empty((2, S, D, G), np.float32))),
        (
            _zip_day_draws,
            (
                samples,
                days,
                groups,
                rng.normal(size=(D, P)),
                rng.normal(size=(S, P, G)) * 0.1,
                rng.random((S, G)),
                np.zeros(G),
                rng.normal(size=(D, 2)),
                rng.normal(0.3, 0.1, (S, 2, G)),
                rng.random((S, G)) * 0.1,
                rng.uniform(100, 900, (S, D, 3)),
                rng.uniform(5, 20, (S, D, 3)),
                station,
                rng.uniform(0.8, 1.2, (D, G)),
                np.empty((S, D, G)),
                np.empty((S, D, G)),
            ),
        ),
    ]


def _outputs(kernel, args):
    """Run one version of a kernel on fresh output arrays; its outputs."""
    fresh = [a.copy() if a.flags.writeable and a.ndim >= 3 else a for a in args]
    kernel(*fresh)
    return [a for a in fresh if a.ndim >= 3][-2:]


@pytest.mark.parametrize("index", range(4))
def test_parallel_and_serial_loops_give_the_same_values(index):
    kernel, args = _kernels()[index]
    for got, expected in zip(
        _outputs(kernel.parallel, args), _outputs(kernel.serial, args), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


def test_station_day_sums_in_parallel_equal_numpy():
    """Routes, packages and stops summed per station-day; a day with no stops adds no route."""
    rng = np.random.default_rng(4)
    stops = rng.integers(0, 4, (S, D, G)).astype(float)
    packages, routes = stops * 1.5, rng.integers(1, 3, (S, D, G)).astype(float)
    station = rng.integers(0, 3, (D, G))
    got = _station_day_sums.parallel(stops, packages, routes, station, 3)
    for k, values in enumerate((np.where(stops < 1, 0.0, routes), packages, stops)):
        expected = np.stack(
            [np.where(station[None] == j, values, 0.0).sum(axis=2) for j in range(3)], axis=2
        )
        np.testing.assert_allclose(got[k], expected)
    assert (stops < 1).any()
    np.testing.assert_array_equal(
        got, _station_day_sums.serial(stops, packages, routes, station, 3)
    )


def test_a_parallel_loop_started_from_several_threads_at_once_is_safe():
    """numba's workqueue layer would end the process here; the package asks for a safe one."""
    if not parallel.parallel_loops_available():
        pytest.skip("no thread-safe numba threading layer (TBB or OpenMP) here")
    assert numba.threading_layer() in parallel.THREAD_SAFE_LAYERS
    kernel, args = _kernels()[1]
    expected = _outputs(kernel.serial, args)[-1]
    results: list[np.ndarray] = []

    def run() -> None:
        for _ in range(20):
            results.append(_outputs(kernel, args)[-1])

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 60
    for got in results:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("n_samples", "per_sample", "threads", "parts"),
    [(200, 4_000_000, 2, 2), (200, 10, 2, 1), (3, 10**7, 8, 3), (7, 10**6, 4, 4), (1, 10**8, 2, 1)],
)
def test_sample_slices_cover_the_samples_in_order(n_samples, per_sample, threads, parts):
    slices = parallel.sample_slices(n_samples, per_sample, threads)
    assert len(slices) == parts
    assert slices[0].start == 0 and slices[-1].stop == n_samples
    assert all(a.stop == b.start for a, b in itertools.pairwise(slices))
    assert all(s.stop > s.start for s in slices)


def test_map_on_threads_keeps_the_order_and_raises_an_item_error():
    assert parallel.map_on_threads(lambda x: x * x, list(range(7))) == [x * x for x in range(7)]
    # a task that maps again (all the pool's threads busy with such tasks) finishes
    nested: list[list[list[int]]] = []
    outer = threading.Thread(
        target=lambda: nested.append(
            parallel.map_on_threads(
                lambda x: parallel.map_on_threads(lambda y: x * y, [1, 2, 3]), list(range(9))
            )
        )
    )
    outer.start()
    outer.join(timeout=60)
    assert nested == [[[x, 2 * x, 3 * x] for x in range(9)]]

    def fail(x: int) -> int:
        if x == 2:
            raise ZeroDivisionError("item 2")
        return x

    with pytest.raises(ZeroDivisionError, match="item 2"):
        parallel.map_on_threads(fail, [0, 1, 2, 3])


def test_without_a_thread_safe_layer_the_serial_loops_run(monkeypatch):
    """Where no thread-safe layer loads: the serial loop, and no start of numba's pool."""
    monkeypatch.setattr(parallel, "_parallel_ok", False)
    kernel, args = _kernels()[1]
    expected = _outputs(kernel.serial, args)[-1]
    np.testing.assert_array_equal(_outputs(kernel, args)[-1], expected)
    assert parallel.thread_count() == numba.config.NUMBA_NUM_THREADS
