"""bayesspr: physics-informed hierarchical Bayesian forecasts of shipments per route (SPR).

The pipeline runs one way: :mod:`bayesspr.data` (the observation table) →
:mod:`bayesspr.physics` (route physics) → :mod:`bayesspr.model` (:class:`SPRModel`) →
forecasts and decisions. :mod:`bayesspr.simulate` makes worlds with known truth.
"""

from bayesspr.data import DataError, read_table, validate, write_table
from bayesspr.diagnostics import ConvergenceWarning
from bayesspr.model import SPRModel
from bayesspr.simulate import demo_world, simulate_world

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "SPRModel",
    "demo_world",
    "read_table",
    "simulate_world",
    "validate",
    "write_table",
]
