"""The ``bayesspr`` command line: the commands and the demo.

The argument parser and commands (:mod:`.main`, entry point ``bayesspr.cli.main:main``;
``python -m bayesspr.cli`` runs it too), the backtest command and its printing
(:mod:`.backtest`), the deployment command and its input tables (:mod:`.deploy`) and the
end-to-end demo (:mod:`.demo`). ``main`` is
not re-exported here: it would shadow the :mod:`.main` module.

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "BACKTEST_FILES": "backtest",
    "backtest_cli": "backtest",
    "fit_line": "backtest",
    "DEMO_FILES": "demo",
    "DEMO_FLEET_VAN": "demo",
    "DEMO_HORIZON_DAYS": "demo",
    "DEMO_LARGER_VAN": "demo",
    "DEMO_SHOCK": "demo",
    "DEMO_SHORTAGE_COST": "demo",
    "DEMO_VANS": "demo",
    "run_demo": "demo",
    "DEPLOY_FILES": "deploy",
    "LIMITS_COLUMNS": "deploy",
    "STATIONS_COLUMNS": "deploy",
    "deploy_cli": "deploy",
    "read_limits": "deploy",
    "read_stations": "deploy",
    "EXIT_UNCONVERGED": "main",
    "MAX_CHAINS": "main",
    "MAX_HARMONICS": "main",
    "MAX_HORIZON": "main",
    "MAX_SAMPLES": "main",
    "MAX_SIMULATED_DAYS": "main",
    "PLANNED_VOLUME_COLUMNS": "inputs",
    "PLAN_FILES": "commands",
    "UnconvergedFitError": "verdict",
    "VANS_COLUMNS": "inputs",
    "build_parser": "main",
    "convergence_summary": "verdict",
    "validate_planned_volume": "inputs",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
