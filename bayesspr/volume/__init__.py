"""The volume model: daily stops per ZIP and station (:class:`VolumeModel`).

Fits and forecasts the daily stop volume that the SPR model turns into routes:
:mod:`.model` (station totals × zip shares, the default), :mod:`.spec` (its spec file,
checked), :mod:`.gaussian_groups` (the marginalised group regressions it stands on) with its
compiled kernels :mod:`.group_kernels`, :mod:`.keyed` (counter-based draws),
:mod:`.volume_kernels` (the forecast's zip-day draws) with :mod:`bayesspr.vector_math` (vectorisable
``exp``, ``log`` and angles), :mod:`.inputs` (zip-day volume, Fourier features, regressors)
and :mod:`.zip_day` (the zip-day reference model).

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "VOLUME_PRIORS": "spec",
    "VOLUME_SAMPLER": "model",
    "VOLUME_SAVE_FORMAT": "model",
    "VolumeDataError": "inputs",
    "VolumeModel": "model",
    "ZipDayVolumeModel": "zip_day",
    "fourier_terms": "inputs",
    "load_volume_spec": "spec",
    "zip_day_volume": "inputs",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
