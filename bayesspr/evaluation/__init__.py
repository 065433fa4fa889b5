"""Judging forecasts and fits: scores, backtests, SBC and sampler diagnostics.

Calibration scores and PIT (:mod:`.scores`), rolling-origin backtests
(:mod:`.backtest`), simulation-based calibration (:mod:`.sbc`) and sampler health
(:mod:`.diagnostics`).

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "BACKTEST_FILES": "backtest",
    "BACKTEST_SAMPLER": "backtest",
    "Backtest": "backtest",
    "BacktestWorld": "backtest",
    "COVERAGE_LEVELS": "backtest",
    "GBM_QUANTILES": "backtest",
    "HARD_CASES": "backtest",
    "M5_QUANTILES": "backtest",
    "POOLING_SPREADS": "backtest",
    "VARIANTS": "backtest",
    "backtest_cli": "backtest",
    "demo_backtest_world": "backtest",
    "forecast_draws": "backtest",
    "gbm_route_draws": "backtest",
    "hard_case_flags": "backtest",
    "level_draws": "backtest",
    "monthly_origins": "backtest",
    "physics_parameters": "backtest",
    "plot_coverage": "backtest",
    "plot_pit": "backtest",
    "prior_median": "backtest",
    "rolling_backtest": "backtest",
    "score_draws": "backtest",
    "scores_table": "backtest",
    "summarise_scores": "backtest",
    "unit_scores": "backtest",
    "variant_spec": "backtest",
    "with_demand_shock": "backtest",
    "ConvergenceWarning": "diagnostics",
    "EBFMI_MIN": "diagnostics",
    "ESS_MIN": "diagnostics",
    "RHAT_MAX": "diagnostics",
    "convergence": "diagnostics",
    "parameter_diagnostics": "diagnostics",
    "LOG_LIKELIHOOD": "sbc",
    "SBCResult": "sbc",
    "SBC_PARAMETERS": "sbc",
    "STEM_SPEED_KMH": "sbc",
    "build_sbc_model": "sbc",
    "rank_uniformity_pvalue": "sbc",
    "run_sbc": "sbc",
    "sbc_design": "sbc",
    "simulate_sbc_data": "sbc",
    "BASELINE_FEATURES": "scores",
    "baseline_design": "scores",
    "extrapolation_split": "scores",
    "gradient_boosting_spr": "scores",
    "pit_coverage": "scores",
    "randomized_pit": "scores",
    "station_day_pit": "scores",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
