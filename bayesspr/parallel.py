"""Loops over draws on every core: numba's ``prange``, and compiled kernels run on threads.

A forecast's largest arrays (sample × day × zip) are made by compiled loops whose samples are
independent: :func:`loops_over_samples` compiles such a loop twice, once with
``parallel=True`` (numba splits the ``prange`` over the samples across its threads, each
sample's values the same as in order) and once serial, and calls the parallel one where a
thread-safe threading layer loads.

Numba's default layer (``workqueue``) ends the process when two threads start parallel
loops at once, which Dask's threaded workers and a user's own threads do. So, unless the
user chose a layer (``NUMBA_THREADING_LAYER``), the package asks numba for a thread-safe one
before its first parallel loop: TBB or OpenMP (``"threadsafe"``). Where neither loads, or
another library started numba's pool with ``workqueue`` first, the serial loops run, with the
same values.

A compiled function that numba did not write for us (the route kernel, a PyTensor graph
compiled by its numba backend without the interpreter lock) is split instead over
contiguous slices of its samples (:func:`sample_slices`), run on a thread pool
(:func:`map_on_threads`, :mod:`concurrent.futures`), and put back together in order.

``NUMBA_NUM_THREADS`` (or :func:`numba.set_num_threads`) sets how many threads both use.
A task on a Dask cluster uses its share of its host's cores (:func:`task_threads`,
:func:`run_with_threads`), so that workers side by side do not each start a thread per core.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import numba
import numpy as np

_log = logging.getLogger("bayesspr")

#: Threading layers that allow parallel loops started from several threads at once.
THREAD_SAFE_LAYERS = frozenset({"omp", "tbb"})

if "NUMBA_THREADING_LAYER" not in os.environ and numba.config.THREADING_LAYER == "default":
    numba.config.THREADING_LAYER = "threadsafe"

#: Fewest values a slice of a kernel's samples gets: below that, threads cost more than they
#: save.
MIN_VALUES_PER_THREAD = 250_000

_probe_lock = threading.Lock()
_pool_lock = threading.Lock()
_parallel_ok: bool | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_on_pool = threading.local()


@numba.njit(parallel=True, cache=True)
def _probe(out):
    for i in numba.prange(out.shape[0]):
        out[i] = i


def parallel_loops_available() -> bool:
    """Whether numba's parallel loops run here, on a thread-safe threading layer.

    Decided once a process, by running a tiny parallel loop: False where no thread-safe
    layer (TBB, OpenMP) loads, or where numba's pool had already started on another layer.
    """
    global _parallel_ok
    with _probe_lock:
        if _parallel_ok is None:
            try:
                _probe(np.zeros(2))
                layer = numba.threading_layer()
            except (ValueError, RuntimeError, OSError) as error:
                layer = f"none ({error})"
            _parallel_ok = layer in THREAD_SAFE_LAYERS
            if not _parallel_ok:
                _log.info(
                    "numba threading layer %s is not thread-safe: compiled loops run on one "
                    "thread (install TBB or an OpenMP runtime for all cores)",
                    layer,
                )
        return _parallel_ok


def thread_count() -> int:
    """Threads the package's loops use: numba's count (``NUMBA_NUM_THREADS``).

    :func:`numba.set_num_threads` changes it for the calling thread. Where no thread-safe
    layer loads, numba's configured count, without starting its pool.
    """
    if parallel_loops_available():
        return int(numba.get_num_threads())
    return int(numba.config.NUMBA_NUM_THREADS)


def _renamed(loop: Callable[..., Any], suffix: str) -> types.FunctionType:
    """A copy of ``loop`` under its own name.

    numba's on-disk cache files a compiled function by name and signature, not by its
    ``parallel`` flag: the two versions of one loop need two names, or one would load the
    other's code.
    """
    copy = types.FunctionType(
        loop.__code__,
        loop.__globals__,
        f"{loop.__name__}_{suffix}",
        loop.__defaults__,
        loop.__closure__,
    )
    copy.__qualname__ = f"{loop.__qualname__}_{suffix}"
    copy.__module__ = loop.__module__
    copy.__doc__ = loop.__doc__
    return copy


def loops_over_samples(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: compile a loop whose outer ``numba.prange`` runs over independent samples.

    Parameters
    ----------
    **options
        Options of :func:`numba.njit` for both versions (``cache``, ``fastmath``, ...);
        ``nogil`` is always on.

    Returns
    -------
    callable
        A decorator giving a function that calls the parallel version where
        :func:`parallel_loops_available`, else the serial one. Both are reachable as its
        ``parallel`` and ``serial`` attributes.
    """

    def wrap(loop: Callable[..., Any]) -> Callable[..., Any]:
        parallel = numba.njit(parallel=True, nogil=True, **options)(_renamed(loop, "parallel"))
        serial = numba.njit(nogil=True, **options)(_renamed(loop, "serial"))

        def run(*args: Any) -> Any:
            return (parallel if parallel_loops_available() else serial)(*args)

        run.__name__ = loop.__name__
        run.__qualname__ = loop.__qualname__
        run.__doc__ = loop.__doc__
        run.parallel = parallel  # type: ignore[attr-defined]
        run.serial = serial  # type: ignore[attr-defined]
        return run

    return wrap


def sample_slices(
    n_samples: int, values_per_sample: int, threads: int | None = None
) -> list[slice]:
    """Contiguous slices of ``n_samples`` samples, one per thread that is worth starting.

    Parameters
    ----------
    n_samples : int
        Samples S.
    values_per_sample : int
        Values a kernel makes per sample (e.g. rows).
    threads : int, optional
        Threads to use at most (default: :func:`thread_count`).

    Returns
    -------
    list of slice
        At most ``threads`` slices, each of at least
        :data:`MIN_VALUES_PER_THREAD` values where there are that many, covering 0 … S − 1
        in order.
    """
    total = n_samples * max(1, values_per_sample)
    threads = thread_count() if threads is None else threads
    parts = max(1, min(threads, n_samples, total // MIN_VALUES_PER_THREAD))
    bounds = np.linspace(0, n_samples, parts + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def map_on_threads(task: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``[task(item) for item in items]``, the items run at once on the package's threads.

    Worth it only where ``task`` spends its time in compiled code that releases the
    interpreter lock. One item runs in the calling thread, and so do all items when called
    from a task already on the pool. An error of any item is raised.
    """
    if len(items) <= 1 or getattr(_on_pool, "active", False):
        return [task(item) for item in items]  # one item, or already on a pool thread
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < len(items):
            if _pool is not None:  # too small: its threads end once idle
                _pool.shutdown(wait=False)
            _pool_size = max(len(items), thread_count())
            _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="bayesspr")
        pool = _pool
    return list(pool.map(functools.partial(_on_pool_thread, task), items))


def _on_pool_thread(task: Callable[[Any], Any], item: Any) -> Any:
    """Run ``task(item)`` marked as on a pool thread.

    Its own calls of :func:`map_on_threads` then run in place: a pool whose threads all
    waited on tasks of their own would never finish.
    """
    _on_pool.active = True
    return task(item)


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask, so a container's limit counts).

    Where the platform has no affinity masks, all of the machine's. PyMC's own default for
    ``cores`` assumes half the CPUs are hyper-threads, which on a 2-core machine runs every
    chain one after the other.

    Returns
    -------
    int
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity masks
        return os.cpu_count() or 1


def task_threads(client: Any) -> dict[str, int]:
    """Threads a task may use on each worker of a Dask cluster.

    A host's usable cores divided by the task slots (worker threads) of all workers on that
    host, at least 1: two single-threaded workers on 2 cores get 1 thread each, one worker
    with one thread on 16 cores gets 16.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.

    Returns
    -------
    dict
        Threads per worker address.
    """
    slots = client.nthreads()
    cores = client.run(available_cores)
    host = {address: urlsplit(address).hostname or address for address in slots}
    per_host: Counter[str] = Counter()
    for address, n in slots.items():
        per_host[host[address]] += n
    return {address: max(1, cores[address] // per_host[host[address]]) for address in slots}


@contextlib.contextmanager
def threads_capped(threads: int) -> Iterator[None]:
    """Within the block, the calling thread's compiled loops and kernels use ``threads``.

    Both numba's parallel loops (:func:`numba.set_num_threads`, which holds for the calling
    thread) and :func:`sample_slices` follow it. The thread's earlier count comes back after.
    """
    if not parallel_loops_available():
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), int(numba.config.NUMBA_NUM_THREADS))))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def run_with_threads(threads: Mapping[str, int], task: Callable[..., Any], *args: Any) -> Any:
    """``task(*args)`` on a Dask worker, its threads capped to the worker's share.

    Parameters
    ----------
    threads : Mapping
        Threads per worker address, from :func:`task_threads`.
    task : callable
        The work.
    *args
        Its arguments.

    Returns
    -------
    object
        What ``task`` returns.
    """
    from distributed import get_worker  # only on a worker

    with threads_capped(threads.get(get_worker().address, 1)):
        return task(*args)
