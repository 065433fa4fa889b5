"""The self-contained HTML diagnostic report of a fit.

Writes the report of an SPR or volume fit (:mod:`.html`). The plotting stack loads only
when a name from here is first used.

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "PHYSICS_CONSTANTS": "html",
    "SECTIONS": "html",
    "VOLUME_SECTIONS": "html",
    "parameter_diagnostics": "html",
    "sampler_health": "html",
    "write_report": "html",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
