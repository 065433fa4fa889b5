"""Shared, seeded fixtures: one demo-world fit serves many tests.

Set ``BAYESSPR_TEST_FIT_CACHE=/some/folder`` while developing to save the session fits there
and load them on the next run (keyed by spec id and seed); CI leaves it unset and fits afresh.
"""

import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from bayesspr import SPRModel, simulate_world
from bayesspr.cli.demo import DEMO_HORIZON_DAYS
from bayesspr.data.table import validate
from bayesspr.spr.spec import spec_id


def _cached(model_cls, name, fit):
    """Fit with ``fit()``, or load the fit a developer cached earlier (see module doc)."""
    folder = os.environ.get("BAYESSPR_TEST_FIT_CACHE")
    if not folder:
        return fit()
    blank = model_cls()
    config = getattr(blank, "spec", None) or {"priors": blank.priors, "h": blank.harmonics}
    path = Path(folder) / f"{name}-{spec_id(config)}.nc"
    if path.is_file():
        return model_cls.load(path)
    model = fit()
    model.save(path)
    return model


@pytest.fixture(scope="session")
def demo_split():
    """The demo world split as the demo splits it: history, and next month."""
    table = validate(simulate_world().table)
    cutoff = table["date"].max() - pd.Timedelta(days=DEMO_HORIZON_DAYS - 1)
    return table[table["date"] < cutoff], table[table["date"] >= cutoff]


@pytest.fixture(scope="session")
def demo_fit(demo_split):
    """The model fitted to the demo history with default settings (the slow part)."""
    history, _ = demo_split

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SPRModel().fit(history, random_seed=1)

    return _cached(SPRModel, "demo-spr-seed1", fit)


@pytest.fixture(scope="session")
def demo_volume_fit(demo_split):
    """The volume model fitted to the demo history with default settings."""
    from bayesspr.volume.model import VolumeModel

    history, _ = demo_split

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return VolumeModel().fit(history, random_seed=2)

    return _cached(VolumeModel, "demo-volume-seed2", fit)


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
