"""The shipments-per-route model: route physics, likelihood, specs and :class:`SPRModel`.

Route physics (:mod:`.physics`), the whole-route observation model (:mod:`.likelihood`),
model specifications read from ``models/*.toml`` (:mod:`.spec`) and the hierarchical
Bayesian SPR model itself (:mod:`.model`).

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "draw_route_counts": "likelihood",
    "route_count_logp": "likelihood",
    "route_counts": "likelihood",
    "DEFAULT_INTERVAL": "model",
    "GROUP_EFFECTS": "model",
    "LEVELS": "model",
    "ParameterDraws": "model",
    "POSITIVE_PARAMETERS": "model",
    "PhysicsWarning": "model",
    "SAVE_FORMAT": "model",
    "SPRModel": "model",
    "log_route_need": "model",
    "pooled_offsets": "model",
    "row_inputs": "model",
    "stacked_samples": "model",
    "warm_start_values": "model",
    "BHH_TOUR_CONSTANT": "physics",
    "MIN_DELIVERY_HOURS": "physics",
    "RouteConstants": "physics",
    "SOFTMIN_SHARPNESS": "physics",
    "TEXTBOOK": "physics",
    "ZoneDay": "physics",
    "backend": "physics",
    "capacity_bound_stops": "physics",
    "capacity_floor_routes": "physics",
    "expected_route_km": "physics",
    "expected_routes": "physics",
    "expected_spr": "physics",
    "max_stops_per_route": "physics",
    "rms_stem_km": "physics",
    "short_time_bound": "physics",
    "smooth_route_count": "physics",
    "soft_minimum": "physics",
    "stem_road_km": "physics",
    "log_soft_minimum": "physics",
    "log_smooth_max_stops_per_route": "physics",
    "time_bound_stops": "physics",
    "ALLOWED_DISTS": "spec",
    "CIRCUITY_RANGE": "spec",
    "DIST_PARAMETERS": "spec",
    "PARAMETER_RANGES": "spec",
    "POPULATION_PRIORS": "spec",
    "REQUIRED_PRIORS": "spec",
    "SPEC_DIR": "spec",
    "SpecError": "spec",
    "load_spec": "spec",
    "log_normal_location": "spec",
    "prior_kwargs": "spec",
    "prior_rv": "spec",
    "spec_id": "spec",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
