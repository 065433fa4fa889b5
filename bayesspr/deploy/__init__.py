"""Network deployment under uncertainty: which vans to buy, where, and how fast to electrify.

A sample-average stochastic program over joint forecast draws (:mod:`.program`), with its
validated inputs (:mod:`.problem`), the plan and its tables (:mod:`.plan`), the value of the
stochastic solution (:mod:`.vss`), large networks city by city (:mod:`.decompose`) or by
Benders cuts per city-month (:mod:`.benders`), energy per route and the demand draws from a
composed forecast (:mod:`.energy`, :mod:`.demand`) and a simulated network to try it on
(:mod:`.example`). Names load on first use (no import cycles).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "CityRecourse": "benders",
    "deploy_by_benders": "benders",
    "recourse_cost": "benders",
    "DecomposedPlan": "decompose",
    "city_problem": "decompose",
    "deploy_by_city": "decompose",
    "DesignDays": "demand",
    "from_forecast": "demand",
    "EnergyModel": "energy",
    "DeployInputError": "problem",  # defined in bayesspr.errors
    "InfeasibleDeploymentError": "plan",  # defined in bayesspr.errors
    "DeploySolveError": "plan",  # defined in bayesspr.errors
    "example_problem": "example",
    "DeployPlan": "plan",
    "DeployWarning": "plan",
    "check_plan": "plan",
    "deploy": "plan",
    "evaluate_plan": "plan",
    "DeployCosts": "problem",
    "DeployProblem": "problem",
    "LIMITS": "program",
    "Program": "program",
    "Solution": "program",
    "CHART_FILES": "charts",
    "cost_figure": "charts",
    "deploy_charts": "charts",
    "electric_share_figure": "charts",
    "shortfall_figure": "charts",
    "build_first_stage": "program",
    "build_program": "program",
    "recourse_rates": "program",
    "solve_program": "program",
    "mean_problem": "vss",
    "out_of_sample_cost": "vss",
    "per_draw_cost": "vss",
    "replicated_value_of_stochastic_solution": "vss",
    "value_of_stochastic_solution": "vss",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
