"""The inputs: the observation table and the delivery network.

Reads, validates and writes the station-day observation table (:mod:`.table`) and holds
the station/ZIP delivery network (:mod:`.network`). Nothing here models or forecasts.

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "Network": "network",
    "NetworkError": "network",
    "RECENT_DAYS": "network",
    "COLUMNS": "table",
    "DEFAULT_SHIFT_HOURS": "table",
    "DataError": "table",
    "KEY_COLUMNS": "table",
    "OPTIONAL_COLUMNS": "table",
    "Problem": "table",
    "REQUIRED_COLUMNS": "table",
    "read_raw_table": "table",
    "read_table": "table",
    "validate": "table",
    "write_table": "table",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
