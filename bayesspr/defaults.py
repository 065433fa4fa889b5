"""The package's shared defaults: one definition of each number used in several modules.

Interval mass and coverage levels of the summaries, reports and backtests; the convergence
thresholds every fit is judged by (each model's sampler settings live in its spec file in
``models/``). Modules import them
from here (and keep their old names, e.g. ``bayesspr.spr.model.DEFAULT_INTERVAL``).
"""

from __future__ import annotations

__all__ = [
    "BACKTEST_COVERAGE_LEVELS",
    "COVERAGE_LEVELS",
    "DEFAULT_INTERVAL",
    "EBFMI_MIN",
    "ESS_MIN",
    "RHAT_MAX",
]

#: Central credible-interval mass of forecasts, summaries and report bands (–).
DEFAULT_INTERVAL = 0.9

#: Central-interval masses whose coverage the report and the demo print (–).
COVERAGE_LEVELS = (0.5, 0.8, DEFAULT_INTERVAL)

#: Central-interval masses whose coverage a backtest scores (–).
BACKTEST_COVERAGE_LEVELS = (*COVERAGE_LEVELS, 0.95)

#: A fit converged when every parameter has split R-hat at most this (–) ...
RHAT_MAX = 1.01
#: ... bulk and tail effective sample sizes at least this (draws) ...
ESS_MIN = 400
#: ... no divergent transition, and every chain's E-BFMI at least this (–).
EBFMI_MIN = 0.3
