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
    libc = _glibc()
    if libc is None:
        _LOG.debug("reused_heap: not glibc, malloc left as it is")
        yield False
        return
    with _USERS_LOCK:
        if not _USERS:
            _raise_thresholds(libc)
        _USERS.append(True)
    try:
        yield True
    finally:
        with _USERS_LOCK:
            _USERS.pop()
            if not _USERS:
                _restore_thresholds(libc)


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
