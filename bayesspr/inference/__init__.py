"""Fitting machinery both models share: the model base, NUTS and the convergence verdict.

:mod:`.fitted_model` holds :class:`FittedModel`, the base of :class:`bayesspr.SPRModel` and
:class:`bayesspr.VolumeModel` (sampler settings, NUTS, the verdict, saved files);
:mod:`.diagnostics` computes the one convergence verdict every fit, the CLI and the report
share. The models' rooms (``spr``, ``volume``) build on this one; it imports none of them.

The public names of the modules below are re-exported here and load on first use.
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "ConvergenceWarning": "diagnostics",
    "EBFMI_MIN": "diagnostics",
    "ESS_MIN": "diagnostics",
    "RHAT_MAX": "diagnostics",
    "convergence": "diagnostics",
    "ebfmi_by_chain": "diagnostics",
    "parameter_diagnostics": "diagnostics",
    "worst_energy_block": "diagnostics",
    "FittedModel": "fitted_model",
    "SamplerConfig": "fitted_model",
    "default_nuts_sampler": "fitted_model",
    "run_nuts": "fitted_model",
    "run_nuts_blocks": "fitted_model",
    "stacked_samples": "fitted_model",
    "warm_start_values": "fitted_model",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
