"""The monthly monitor: last month's models against the month that happened.

:func:`monitor_month` scores each station's observed routes against the SPR model's predictive
draws for the volume seen, tests the stations together at a false discovery rate, and says
for each flagged one whether the surprise is one day or persistent, which zips carry it and
what the data show changed (:mod:`.surprise`); :func:`event_outcome` reads a report against
an injected event of known truth (:mod:`.outcomes`, for the validation); :func:`run_cycle`
is the monthly cycle (:mod:`.cycle`). Names load on first use (no import cycles).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "CycleError": "cycle",
    "CycleResult": "cycle",
    "CycleSettings": "cycle",
    "run_cycle": "cycle",
    "event_outcome": "outcomes",
    "event_worlds": "outcomes",
    "month_outcomes": "outcomes",
    "summarise_outcomes": "outcomes",
    "MonitorReport": "surprise",
    "monitor_month": "surprise",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
