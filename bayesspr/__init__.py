"""bayesspr: physics-informed hierarchical Bayesian forecasts of shipments per route (SPR).

The package is split into rooms, one job each, and the pipeline runs one way:
:mod:`bayesspr.data` (the observation table and network) → :mod:`bayesspr.spr` (route
physics and :class:`SPRModel`) and :mod:`bayesspr.volume` (:class:`VolumeModel`) →
:mod:`bayesspr.forecasting` (:func:`forecast` under scenarios) → :mod:`bayesspr.fleet`
(decisions), :mod:`bayesspr.evaluation` (calibration, backtests, diagnostics) and
:mod:`bayesspr.reporting` (:func:`report`). :mod:`bayesspr.simulate` makes worlds with known
truth, :mod:`bayesspr.io` writes every file and :mod:`bayesspr.cli` is the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bayesspr.data.network import Network
from bayesspr.data.table import read_table, validate, write_table
from bayesspr.defaults import installed_version
from bayesspr.errors import (
    ArgumentError,
    BayessprError,
    DataError,
    EvaluationError,
    FleetConfigError,
    ForecastError,
    ModelVersionError,
    NetworkError,
    NotFittedError,
    ReportError,
    ScenarioError,
    SimulationError,
    SpecError,
    UnconvergedFitError,
    VolumeDataError,
)
from bayesspr.fleet.decisions import (
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
from bayesspr.forecasting.compose import Forecast, forecast
from bayesspr.forecasting.scenario import (
    Scenario,
    StationLaunch,
    VanChange,
    VolumeShock,
    ZipMove,
)
from bayesspr.inference.diagnostics import ConvergenceWarning
from bayesspr.simulate.worlds import demo_world, simulate_world
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel
from bayesspr.volume.zip_day import ZipDayVolumeModel

__version__ = installed_version()


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
        ``random_seed``: see :func:`bayesspr.reporting.html.write_report`.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from bayesspr.reporting.html import write_report  # plotting stack loads only when used

    return write_report(model, path, **kwargs)


__all__ = [
    "ArgumentError",
    "BayessprError",
    "ConvergenceWarning",
    "DataError",
    "EVConfig",
    "EvaluationError",
    "FleetConfigError",
    "FleetCosts",
    "FleetPlan",
    "Forecast",
    "ForecastError",
    "ModelVersionError",
    "Network",
    "NetworkError",
    "NotFittedError",
    "ReportError",
    "SPRModel",
    "Scenario",
    "ScenarioError",
    "SimulationError",
    "SpecError",
    "StationLaunch",
    "UnconvergedFitError",
    "VanChange",
    "VanType",
    "VolumeDataError",
    "VolumeModel",
    "VolumeShock",
    "ZipDayVolumeModel",
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
