"""Simulated worlds with known truth.

Makes synthetic networks and observation tables from a known truth (:mod:`.worlds`), for
the demo, the tests and the benchmarks.

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "CITY_NAMES": "worlds",
    "EVENT_KINDS": "events",
    "RUNGS": "ladder",
    "simulate_network": "ladder",
    "InjectedEvent": "events",
    "inject_event": "events",
    "CONVERGENCE_SHAPES": "worlds",
    "DEFAULT_TRUTH": "worlds",
    "LIMITS": "worlds",
    "SEASON_PEAK_DAY": "worlds",
    "SHIFT_HOURS": "worlds",
    "SHIFT_SHARES": "worlds",
    "Truth": "worlds",
    "WEEKDAY_FACTORS": "worlds",
    "World": "worlds",
    "convergence_worlds": "worlds",
    "demo_world": "worlds",
    "draw_routes": "worlds",
    "holiday_days": "worlds",
    "seasonal_factor": "worlds",
    "simulate_world": "worlds",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
