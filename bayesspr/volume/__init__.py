"""The volume model: daily stops per ZIP and station (:class:`VolumeModel`).

Fits and forecasts the daily stop volume that the SPR model turns into routes
(:mod:`.model`).

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "VOLUME_PRIORS": "model",
    "VOLUME_SAMPLER": "model",
    "VOLUME_SAVE_FORMAT": "model",
    "VolumeDataError": "model",
    "VolumeModel": "model",
    "fourier_terms": "model",
    "zip_day_volume": "model",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
