"""reused_heap: freed arrays are reused inside the block, and everything is put back after."""

import ctypes
import os
import resource

import numpy as np
import pytest

from bayesspr.inference import heap


def _page_faults_of_fresh_arrays(rounds: int = 40, arrays: int = 8, rows: int = 131_072) -> int:
    """Minor page faults while allocating, filling and freeing ``arrays`` 1 MiB arrays."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        held = [np.empty(rows) for _ in range(arrays)]
        for array in held:
            array.fill(1.0)
        del held
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mapped_arrays_while_holding(arrays: int = 8, rows: int = 131_072) -> int:
    """How many of ``arrays`` new 1 MiB arrays glibc served by mmap (its ``hblks`` count).

    Deterministic where page-fault counts are not (transparent huge pages can fault a
    merged mapping in 2 MiB at a time).
    """
    mallinfo2 = heap._glibc().mallinfo2
    mallinfo2.restype = _MallInfo2
    before = mallinfo2().hblks
    held = [np.empty(rows) for _ in range(arrays)]
    mapped = mallinfo2().hblks - before
    del held
    return mapped


@pytest.fixture
def glibc():
    if heap._glibc() is None:
        pytest.skip("not glibc: reused_heap does nothing here")


def test_freed_arrays_are_reused_not_faulted_in_again(glibc):
    every_page = 40 * 8 * 131_072 * 8 // 4096  # 40 rounds of 8 MiB: 81,920 pages
    with heap.reused_heap() as raised:
        faults = _page_faults_of_fresh_arrays()
        assert _mapped_arrays_while_holding() == 0
    assert raised
    # the first round faults its 2,048 pages in; the other 39 reuse them
    assert faults < every_page / 10


class _RecordingLibc:
    """glibc's two calls, recorded: what the process does after the block depends on its
    history (freed chunks stay in the heap's bins after ``malloc_trim``), what is asked of
    glibc does not."""

    def __init__(self):
        self.calls = []

    def mallopt(self, parameter, value):
        self.calls.append(("mallopt", parameter, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def recording(monkeypatch):
    libc = _RecordingLibc()
    monkeypatch.setattr(heap, "_glibc", lambda: libc)
    return libc


RAISE = [
    ("mallopt", heap.M_MMAP_THRESHOLD, heap.FIT_MMAP_THRESHOLD),
    ("mallopt", heap.M_TRIM_THRESHOLD, heap.FIT_TRIM_THRESHOLD),
]


def test_thresholds_and_environment_are_put_back(recording, monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # as Dask's nanny sets it
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    with heap.reused_heap():
        assert os.environ["MALLOC_TRIM_THRESHOLD_"] == str(heap.FIT_TRIM_THRESHOLD)
        assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(heap.FIT_MMAP_THRESHOLD)
        assert recording.calls == RAISE
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"
    assert "MALLOC_MMAP_THRESHOLD_" not in os.environ
    # the environment's trim threshold, glibc's default mmap threshold, the memory returned
    assert recording.calls[2:] == [
        ("mallopt", heap.M_MMAP_THRESHOLD, heap.DEFAULT_THRESHOLD),
        ("mallopt", heap.M_TRIM_THRESHOLD, 65536),
        ("malloc_trim", 0),
    ]


def test_an_error_inside_still_puts_everything_back(glibc, monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)

    @heap.with_reused_heap
    def failing_fit():
        assert "MALLOC_TRIM_THRESHOLD_" in os.environ
        raise RuntimeError("the fit failed")

    with pytest.raises(RuntimeError, match="the fit failed"):
        failing_fit()
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ


def test_elsewhere_it_says_it_did_nothing(monkeypatch):
    monkeypatch.setattr(heap, "_glibc", lambda: None)
    with heap.reused_heap() as raised:
        assert not raised


def test_overlapping_blocks_in_threads_keep_the_heap_until_the_last_leaves(recording, monkeypatch):
    """Two fits in a Dask worker's threads: the first to finish must not undo the other's."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    first, second = heap.reused_heap(), heap.reused_heap()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == str(heap.FIT_TRIM_THRESHOLD)
    assert recording.calls == RAISE
    second.__exit__(None, None, None)
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    assert recording.calls[-1] == ("malloc_trim", 0)
    assert len(recording.calls) == len(RAISE) + 3


def test_a_hold_outlives_a_call_and_counts_with_blocks(recording, monkeypatch):
    """A Dask worker's hold for a whole fit: blocks inside it neither raise nor restore."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert heap.hold_reused_heap()
    with heap.reused_heap():
        pass
    assert recording.calls == RAISE  # the block inside the hold changed nothing
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == str(heap.FIT_TRIM_THRESHOLD)
    assert heap.release_reused_heap()
    assert recording.calls[-1] == ("malloc_trim", 0)
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    # a release with nothing held does nothing (a worker that joined after the hold)
    assert not heap.release_reused_heap()
    assert len(recording.calls) == len(RAISE) + 3
