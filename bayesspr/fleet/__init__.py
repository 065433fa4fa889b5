"""Fleet decisions from route forecasts: plans, settings, electrification and charts.

Turns forecast route draws into risk-aware fleet decisions (:mod:`.decisions`), with the
user's fleet settings (:mod:`.config`), electric-van feasibility (:mod:`.electric`) and
the fleet charts (:mod:`.charts`).

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "FAN_BANDS": "charts",
    "fan_chart": "charts",
    "fan_figure": "charts",
    "observed_monthly": "charts",
    "shortfall_chart": "charts",
    "shortfall_figure": "charts",
    "EVConfig": "config",
    "FleetConfigError": "config",
    "FleetCosts": "config",
    "MAX_CAPACITY_PACKAGES": "config",
    "MAX_HORIZON_DAYS": "config",
    "MAX_KWH_PER_KM": "config",
    "MAX_RANGE_KM": "config",
    "VanType": "config",
    "vans_by_station": "config",
    "COLUMN_LEGEND": "legend",
    "DEFAULT_PEAK_SHARE": "decisions",
    "DEFAULT_SERVICE_LEVEL": "decisions",
    "FleetPlan": "decisions",
    "RULES": "decisions",
    "absorb": "decisions",
    "as_routes": "draws",
    "ev_feasibility": "decisions",
    "evaluate_fleet": "decisions",
    "legend_frame": "legend",
    "margin_table": "decisions",
    "plan": "decisions",
    "routes_from_rows": "draws",
    "van_mix": "decisions",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
