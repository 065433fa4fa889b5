"""Shared, seeded fixtures: one demo-world fit serves many tests.

Set ``BAYESSPR_TEST_FIT_CACHE=/some/folder`` while developing to save the session fits there
and load them on the next run (keyed by spec id and seed); CI leaves it unset and fits afresh.

Two sizes of statistical evidence: ``make test`` runs each statistical check small and seeded
(so a regression still fails CI); ``make validate`` runs the tests marked ``validation`` (many
worlds, long fits), and each records its figure, threshold and verdict with the ``evidence``
fixture into the file named by ``BAYESSPR_VALIDATION_RECORD``, from which
``benchmarks/validation_table.py`` writes the table the docs include.

Under pytest-xdist (``make test`` runs two workers, ``--dist loadfile``) each test module
stays whole on one worker, so a module fixture's fit is made once; the demo-world fits are
made once per run by whichever worker first needs them, under a file lock, and the other
worker loads them from the run's shared temporary folder.
"""

import json
import os
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from bayesspr import SPRModel, simulate_world
from bayesspr.cli.demo import DEMO_HORIZON_DAYS, DEMO_SEED
from bayesspr.data.table import validate

#: The modules with the longest fits, run first (longest first). ``make test``'s two workers
#: take whole modules in collection order (``--no-loadscope-reorder``: by default xdist sorts
#: modules by their number of tests, which put the seven-test cycle module near the end); in
#: name order the volume modules came last, and one worker finished them while the other
#: stood idle.
SLOW_MODULES_FIRST = (
    "tests/monitor/test_cycle.py",
    "tests/cli/test_cli.py",
    "tests/volume/test_station_shares.py",
    "tests/test_statistical.py",
    "tests/reporting/test_report.py",
    "tests/volume/test_volume_intervals.py",
    "tests/spr/test_model.py",
    "tests/inference/test_sharded.py",
    "tests/evaluation/test_backtest.py",
    "tests/deploy/test_benders.py",
    "tests/test_convergence.py",
    "tests/test_docs.py",
)


def pytest_collection_modifyitems(config, items):
    """Put :data:`SLOW_MODULES_FIRST` first, in its order; the rest keep theirs."""
    rank = {path: i for i, path in enumerate(SLOW_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def _cached(model_cls, name, fit, tmp_path_factory):
    """Fit with ``fit()``, or load the fit cached earlier (see module doc)."""
    folder = os.environ.get("BAYESSPR_TEST_FIT_CACHE")
    if not folder and os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "shared-fits"  # this run's workers
    if not folder:
        return fit()
    blank = model_cls()  # the key: the spec in use and the file format
    path = Path(folder) / f"{name}-{blank.spec_id()}-format{model_cls.save_format}.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):  # one worker fits; the other waits, then loads
        if path.is_file():
            return model_cls.load(path)
        model = fit()
        model.save(path)
        return model


class Evidence:
    """Records what a statistical check measured, for ``make validate``'s table."""

    def __init__(self, path: str | None):
        self.path = Path(path) if path else None

    def record(self, request, check, figure, threshold, passed, **extra):
        """Append one row (check, figure, threshold, passed, the test's node id) if recording."""
        if self.path is None:
            return
        row = {
            "check": check,
            "figure": figure,
            "threshold": threshold,
            "passed": bool(passed),
            "test": request.node.nodeid,
            "time": time.strftime("%Y-%m-%d %H:%M"),
            **extra,
        }
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, default=str) + "\n")


@pytest.fixture(scope="session")
def evidence():
    """The validation recorder (a no-op unless ``BAYESSPR_VALIDATION_RECORD`` is set)."""
    return Evidence(os.environ.get("BAYESSPR_VALIDATION_RECORD"))


@pytest.fixture(scope="session")
def demo_split():
    """The demo world split as the demo splits it: history, and next month."""
    table = validate(simulate_world().table)
    cutoff = table["date"].max() - pd.Timedelta(days=DEMO_HORIZON_DAYS - 1)
    return table[table["date"] < cutoff], table[table["date"] >= cutoff]


@pytest.fixture(scope="session")
def demo_fit(demo_split, tmp_path_factory):
    """The model fitted to the demo history with default settings (the slow part).

    With ``DEMO_SEED``, the seed ``make demo`` fits with: this is the demo's own fit, so the
    tests of its convergence are the demo's.
    """
    history, _ = demo_split

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SPRModel().fit(history, random_seed=DEMO_SEED)

    return _cached(SPRModel, f"demo-spr-seed{DEMO_SEED}", fit, tmp_path_factory)


@pytest.fixture(scope="session")
def demo_volume_fit(demo_split, tmp_path_factory):
    """The volume model fitted to the demo history with default settings."""
    from bayesspr.volume.model import VolumeModel

    history, _ = demo_split

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return VolumeModel().fit(history, random_seed=DEMO_SEED)

    return _cached(VolumeModel, f"demo-volume-seed{DEMO_SEED}", fit, tmp_path_factory)


@pytest.fixture(scope="session")
def frame_hash():
    """Sum of pandas' row hashes (index included) of a frame with floats rounded to 1e-6.

    Rounding keeps a pinned hash about the simulation, not the machine: numpy's ``exp`` and
    ``log`` pick SIMD kernels by CPU, and their last bit differs between processors (the
    unrounded hashes pinned on one machine failed on an AMD EPYC with the same versions).
    """

    def digest(frame: pd.DataFrame) -> int:
        if not len(frame):
            return 0
        floats = frame.select_dtypes("float").columns
        rounded = frame.assign(**{name: frame[name].round(6) for name in floats})
        return int(pd.util.hash_pandas_object(rounded, index=True).sum())

    return digest


@pytest.fixture(scope="module")
def cluster_client():
    """A 2-worker Dask ``LocalCluster`` (one thread each) for a test module that fans out.

    Module-scoped: closed when the module's tests end, so the rest of the suite does not run
    beside its processes and its client's event loop.
    """
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
