"""Keep freed memory for reuse while a fit evaluates its log density (glibc's malloc).

A compiled PyTensor function allocates its intermediate arrays on every call and frees
them on return: a log density and gradient of the SPR model at rung S of the size ladder
(134,404 zip-days) allocates some forty arrays of about 1 MiB. glibc's malloc serves an
allocation that large with a fresh ``mmap`` (or, past its adaptive threshold, hands the
freed top of the heap back to the system), so each call faults every page of every array
in again: measured 2026-12-07 on the 2-core development machine, the call took 18 ms, and
10 ms with freed memory kept (``benchmarks/spr_gradient.py``). The difference is page faults,
not arithmetic; it also varied from run to run as the adaptive threshold moved.

:func:`reused_heap` raises glibc's mmap and trim thresholds for the length of a fit
(``mallopt``, and the ``MALLOC_*_`` environment variables that chains started as new
processes read), then puts them back and returns the freed memory to the system
(``malloc_trim``). Elsewhere (macOS, musl, Windows) it does nothing and says so.

:func:`reused_heap_on_workers` does the same on a Dask cluster's workers for the length of a
sharded fit or a forecast, whose tasks and actor calls allocate the same arrays again and
again: rung L's first 8 cities on 2 workers, 0.402 → 0.204 s a gradient.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import platform
import threading
from collections.abc import Callable, Iterator
from typing import Any

_LOG = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: During a fit: arrays below this come from the heap (bytes); glibc caps it at 32 MiB
FIT_MMAP_THRESHOLD = 32 * 1024 * 1024
#: During a fit: free memory at the heap's top kept before it goes back (bytes)
FIT_TRIM_THRESHOLD = 1024 * 1024 * 1024
#: glibc's defaults, put back after a fit unless the environment set others (bytes)
DEFAULT_THRESHOLD = 128 * 1024
_ENVIRONMENT = {
    M_MMAP_THRESHOLD: ("MALLOC_MMAP_THRESHOLD_", FIT_MMAP_THRESHOLD),
    M_TRIM_THRESHOLD: ("MALLOC_TRIM_THRESHOLD_", FIT_TRIM_THRESHOLD),
}


@functools.cache
def _glibc() -> Any:
    """The C library through ctypes where it is glibc, else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc


def _threshold_from_environment(name: str) -> int:
    """The threshold the environment gave glibc at start (bytes), else its default."""
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else DEFAULT_THRESHOLD


@contextlib.contextmanager
def reused_heap() -> Iterator[bool]:
    """Keep freed memory in the heap for reuse inside the block (glibc only).

    Yields
    ------
    bool
        True where the thresholds were raised (Linux with glibc), else False.

    Notes
    -----
    The process's resident memory stays near its peak inside the block; on leaving it the
    thresholds are back to those the environment gave (glibc's defaults where none) and the
    freed memory is returned with ``malloc_trim``, so a Dask worker's memory monitor sees
    it again. Processes started inside the block (PyMC's chains under ``spawn`` or
    ``forkserver``) read the same thresholds from their environment; forked ones inherit
    them. Blocks may nest and run in several threads at once: the thresholds are raised by
    the first to enter and put back by the last to leave.
    """
    if not hold_reused_heap():
        _LOG.debug("reused_heap: not glibc, malloc left as it is")
        yield False
        return
    try:
        yield True
    finally:
        release_reused_heap()


def hold_reused_heap() -> bool:
    """Enter :func:`reused_heap` without a block; :func:`release_reused_heap` leaves it.

    For a hold that outlives one call, such as a Dask worker's for the length of a fit or
    a forecast (:func:`reused_heap_on_workers`). Holds count like nested blocks.

    Returns
    -------
    bool
        True where the thresholds are raised (glibc), else False (nothing to release).
    """
    libc = _glibc()
    if libc is None:
        return False
    with _USERS_LOCK:
        if not _USERS:
            _raise_thresholds(libc)
        _USERS.append(True)
    return True


def release_reused_heap() -> bool:
    """Leave one :func:`hold_reused_heap`; the last one out puts the thresholds back.

    Returns
    -------
    bool
        True where a hold was released, False where none was held (or not glibc).
    """
    libc = _glibc()
    if libc is None:
        return False
    with _USERS_LOCK:
        if not _USERS:
            return False
        _USERS.pop()
        if not _USERS:
            _restore_thresholds(libc)
    return True


@contextlib.contextmanager
def reused_heap_on_workers(client: Any, workers: list[str] | None = None) -> Iterator[None]:
    """:func:`reused_heap` on a Dask cluster's worker processes for the length of the block.

    A worker runs many tasks, or many calls of an actor, whose arrays have the same sizes:
    held across them, each reuses the memory the one before freed (a block inside each task
    would give it back at the task's end, and the next would fault it in again). On leaving,
    each worker's thresholds go back to those its environment gave (a Dask nanny's
    ``MALLOC_TRIM_THRESHOLD_``) and its freed memory to the system, so the worker's memory
    monitor sees it again.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.
    workers : list of str, optional
        Worker addresses (default: all of them now).

    Notes
    -----
    A worker that left the cluster meanwhile is skipped on leaving; one that joins inside
    the block is not held.
    """
    answers = client.run(hold_reused_heap, workers=workers)
    held = [address for address, raised in answers.items() if raised]
    try:
        yield
    finally:
        if held:
            client.run(release_reused_heap, workers=held, on_error="ignore")


#: the blocks inside reused_heap now, any thread: the first in raises the thresholds, the
#: last out puts them back (two fits in a Dask worker's threads must not undo each other)
_USERS: list[bool] = []
_USERS_LOCK = threading.Lock()
_SAVED: dict[str, str | None] = {}


def _raise_thresholds(libc: Any) -> None:
    """Raise glibc's thresholds and set the environment to match, saving what was there."""
    _SAVED.clear()
    _SAVED.update({name: os.environ.get(name) for name, _ in _ENVIRONMENT.values()})
    for parameter, (name, value) in _ENVIRONMENT.items():
        os.environ[name] = str(value)
        if libc.mallopt(parameter, value) != 1:
            _LOG.warning("reused_heap: glibc refused %s = %d", name, value)


def _restore_thresholds(libc: Any) -> None:
    """Put the saved environment and its thresholds back and return freed memory."""
    for name, value in _SAVED.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for parameter, (name, _) in _ENVIRONMENT.items():
        libc.mallopt(parameter, _threshold_from_environment(name))
    libc.malloc_trim(0)


def with_reused_heap[F: Callable[..., Any]](function: F) -> F:
    """``function`` run inside :func:`reused_heap` (a decorator).

    Parameters
    ----------
    function : callable
        Typically a fit.

    Returns
    -------
    callable
        The same call, with freed memory kept for reuse while it runs.
    """

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with reused_heap():
            return function(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
