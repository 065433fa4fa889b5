"""Shared, seeded fixtures: one demo-world fit serves many tests."""

import warnings

import pandas as pd
import pytest

from bayesspr import SPRModel, simulate_world
from bayesspr.data import validate
from bayesspr.demo import DEMO_HORIZON_DAYS


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SPRModel().fit(history, random_seed=1)


@pytest.fixture(scope="session")
def demo_volume_fit(demo_split):
    """The volume model fitted to the demo history with default settings."""
    from bayesspr.volume import VolumeModel

    history, _ = demo_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return VolumeModel().fit(history, random_seed=2)
