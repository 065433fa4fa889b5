"""The package's defaults and limits: one definition of each, and the installed version.

Interval mass and coverage levels of the summaries, reports and backtests; the convergence
thresholds every fit is judged by; the fleet decision's service level and peak share; the
shift length of a table without one; the longest horizons and the most Fourier pairs the API
and the CLI accept. Each model's sampler settings live in its spec file in ``models/`` (or its
class's ``default_sampler``). Modules import these from here (and keep their old names, e.g.
``bayesspr.spr.model.DEFAULT_INTERVAL``).
"""

from __future__ import annotations

from importlib import metadata

from bayesspr.errors import ArgumentError

__all__ = [
    "BACKTEST_COVERAGE_LEVELS",
    "COVERAGE_LEVELS",
    "DEFAULT_INTERVAL",
    "DEFAULT_PEAK_SHARE",
    "DEFAULT_SERVICE_LEVEL",
    "DEFAULT_SHIFT_HOURS",
    "EBFMI_MIN",
    "ESS_MIN",
    "MAX_DAYS",
    "MAX_HARMONICS",
    "MAX_HORIZON",
    "RHAT_MAX",
    "central_bounds",
    "installed_version",
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

#: Default service level α of a fleet plan: P(routes on a peak day ≤ vans) ≥ α (–).
DEFAULT_SERVICE_LEVEL = 0.95

#: Default share of a month's days that count as peak days, the busiest 5 % (–).
DEFAULT_PEAK_SHARE = 0.05

#: On-road hours a route may take when the table has no ``shift_hours`` column (h).
DEFAULT_SHIFT_HOURS = 8.0

#: Longest forecast horizon, per unit: 60 months, or as many weeks (261) or days
#: (1,827 = 261 × 7). ``forecast`` and ``bayesspr plan --horizon`` both accept these.
MAX_HORIZON = {"M": 60, "W": 261, "D": 1_827}

#: Longest span of days a simulated world or a fleet cost horizon may cover (ten years, days).
MAX_DAYS = 3_660

#: Most yearly Fourier pairs a volume model fits: more fits noise and slows the sampler.
MAX_HARMONICS = 10


def installed_version() -> str:
    """The installed bayesspr version, or ``"0+unknown"`` when run from an uninstalled tree.

    Returns
    -------
    str
        The version string every saved fit, manifest and report records.
    """
    try:
        return metadata.version("bayesspr")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def central_bounds(level: float) -> tuple[float, float]:
    """Lower and upper quantile levels of a central interval.

    Parameters
    ----------
    level : float
        Interval mass, in (0, 1), e.g. 0.9.

    Returns
    -------
    tuple of float
        ``((1 - level) / 2, (1 + level) / 2)``.

    Raises
    ------
    ArgumentError
        If ``level`` is not in (0, 1).
    """
    if not 0.0 < float(level) < 1.0:
        raise ArgumentError(f"interval level must be in (0, 1), got {level!r}")
    return (1.0 - level) / 2.0, (1.0 + level) / 2.0
