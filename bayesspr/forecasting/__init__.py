"""The composed forecast: volume × SPR under scenarios, and its summaries.

Composes the volume and SPR posteriors into route forecasts (:mod:`.compose`, with the
public :func:`forecast`), defines what-if scenarios (:mod:`.scenario`) and summarises
draws into tables (:mod:`.summaries`). Named ``forecasting`` so that ``bayesspr.forecast``
stays the public function.

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "CHUNK_ELEMENTS": "compose",
    "Forecast": "compose",
    "MAX_HORIZON": "compose",
    "forecast": "compose",
    "horizon_days": "compose",
    "parse_horizon": "compose",
    "summarise": "compose",
    "BASELINE": "scenario",
    "CAPACITY_RANGE": "scenario",
    "MAX_FACTOR": "scenario",
    "SHIFT_HOURS_RANGE": "scenario",
    "STEM_KM_RANGE": "scenario",
    "Scenario": "scenario",
    "ScenarioError": "scenario",
    "StationLaunch": "scenario",
    "VanChange": "scenario",
    "VolumeShock": "scenario",
    "ZipMove": "scenario",
    "central_bounds": "summaries",
    "observed_vs_physics": "summaries",
    "physics_spr": "summaries",
    "station_forecast": "summaries",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
