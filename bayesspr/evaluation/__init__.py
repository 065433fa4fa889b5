"""Judging forecasts and fits: scores, backtests and SBC.

Calibration scores, PIT and unit scores (:mod:`.scores`), rolling-origin backtests (the
engine :mod:`.backtest`, the variants it compares :mod:`.baselines`, the worlds it runs on
:mod:`.backtest_worlds`, its table and plots :mod:`.backtest_report`), and simulation-based
calibration (:mod:`.sbc`). Sampler health lives in :mod:`bayesspr.inference.diagnostics`.

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "Backtest": "backtest",
    "HARD_CASES": "backtest",
    "hard_case_flags": "backtest",
    "level_draws": "backtest",
    "rolling_backtest": "backtest",
    "plot_coverage": "backtest_report",
    "plot_pit": "backtest_report",
    "scores_table": "backtest_report",
    "BacktestWorld": "backtest_worlds",
    "demo_backtest_world": "backtest_worlds",
    "monthly_origins": "backtest_worlds",
    "with_demand_shock": "backtest_worlds",
    "BACKTEST_SAMPLER": "baselines",
    "GBM_QUANTILES": "baselines",
    "POOLING_SPREADS": "baselines",
    "VARIANTS": "baselines",
    "forecast_draws": "baselines",
    "gbm_route_draws": "baselines",
    "physics_parameters": "baselines",
    "prior_median": "baselines",
    "variant_spec": "baselines",
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
    "COVERAGE_LEVELS": "scores",
    "M5_QUANTILES": "scores",
    "baseline_design": "scores",
    "extrapolation_split": "scores",
    "gradient_boosting_spr": "scores",
    "pit_coverage": "scores",
    "randomised_pit": "scores",
    "score_draws": "scores",
    "station_day_pit": "scores",
    "summarise_scores": "scores",
    "unit_scores": "scores",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
