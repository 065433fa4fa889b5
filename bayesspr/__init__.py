"""bayesspr: physics-informed hierarchical Bayesian forecasts of shipments per route (SPR).

The pipeline runs one way: :mod:`bayesspr.data` (the observation table) →
:mod:`bayesspr.physics` (route physics) → :mod:`bayesspr.model` (:class:`SPRModel`) and
:mod:`bayesspr.volume` (:class:`VolumeModel`) → :mod:`bayesspr.compose` (:func:`forecast`,
with :mod:`bayesspr.scenario` and :mod:`bayesspr.network`) → :mod:`bayesspr.fleet`
(decisions), :mod:`bayesspr.evaluate` (calibration) and :mod:`bayesspr.reporting`
(:func:`report`). :mod:`bayesspr.simulate` makes worlds with known truth.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bayesspr.compose import Forecast, forecast
from bayesspr.data import DataError, read_table, validate, write_table
from bayesspr.diagnostics import ConvergenceWarning
from bayesspr.fleet import (
    EVConfig,
    FleetCosts,
    FleetPlan,
    VanType,
    absorb,
    ev_feasibility,
    margin_table,
    plan,
    van_mix,
)
from bayesspr.model import ModelVersionError, NotFittedError, SPRModel
from bayesspr.network import Network, NetworkError
from bayesspr.scenario import (
    Scenario,
    ScenarioError,
    StationLaunch,
    VanChange,
    VolumeShock,
    ZipMove,
)
from bayesspr.simulate import demo_world, simulate_world
from bayesspr.spec import SpecError
from bayesspr.volume import VolumeDataError, VolumeModel

try:
    __version__ = version("bayesspr")
except PackageNotFoundError:  # pragma: no cover - imported from a checkout, not installed
    __version__ = "0+unknown"


def report(model: SPRModel | VolumeModel, path: str | Path, **kwargs: Any) -> Path:
    """Write the self-contained HTML diagnostic report of a fit.

    Parameters
    ----------
    model : SPRModel or VolumeModel
        A fitted (or loaded) model: the SPR report, or the volume model's report (sampler
        health, rank plots, priors, daily stops per station against the history).
    path : str or pathlib.Path
        HTML file to write (atomically).
    **kwargs
        ``history``, ``holdout`` (SPR fits only), ``extra_figures``, ``title``,
        ``random_seed``: see :func:`bayesspr.reporting.write_report`.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from bayesspr.reporting import write_report  # plotting stack loads only when used

    return write_report(model, path, **kwargs)


__all__ = [
    "ConvergenceWarning",
    "DataError",
    "EVConfig",
    "FleetCosts",
    "FleetPlan",
    "Forecast",
    "ModelVersionError",
    "Network",
    "NetworkError",
    "NotFittedError",
    "SPRModel",
    "Scenario",
    "ScenarioError",
    "SpecError",
    "StationLaunch",
    "VanChange",
    "VanType",
    "VolumeDataError",
    "VolumeModel",
    "VolumeShock",
    "ZipMove",
    "__version__",
    "absorb",
    "demo_world",
    "ev_feasibility",
    "forecast",
    "margin_table",
    "plan",
    "read_table",
    "report",
    "simulate_world",
    "validate",
    "van_mix",
    "write_table",
]
