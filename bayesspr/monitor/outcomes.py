"""Did the monitor find an injected event? The figures the monitor's validation reports."""

from __future__ import annotations

from bayesspr.monitor.surprise import MonitorReport
from bayesspr.simulate.events import InjectedEvent

__all__ = ["event_outcome"]


def event_outcome(report: MonitorReport, event: InjectedEvent) -> dict[str, object]:
    """What the monitor said about a month with a known injected event.

    Parameters
    ----------
    report : MonitorReport
        :func:`~bayesspr.monitor.monitor_month` on the month with the event.
    event : InjectedEvent
        What :func:`~bayesspr.simulate.inject_event` injected.

    Returns
    -------
    dict
        ``kind``, ``station``; ``flagged`` (the event's station flagged; None for a quiet
        month), ``false_alarms`` (other stations flagged), ``duration`` the monitor gave
        the event's station (``persistent``, ``transient`` or empty), ``part`` it gave it
        (``productivity``, ``volume``, ``both`` or empty), ``top_zip_right``
        (the injected zip ranked first at its new station; None unless a takeover) and
        ``zip_named`` (the cause names that zip; None unless a takeover).
    """
    stations = report.stations.set_index("station")
    flagged = set(stations.index[stations["flagged"]])
    out: dict[str, object] = {"kind": event.kind, "station": event.station}
    out["flagged"] = None if event.station is None else event.station in flagged
    out["false_alarms"] = len(flagged - {event.station})
    out["duration"] = "" if event.station is None else stations.at[event.station, "duration"]
    out["part"] = "" if event.station is None else stations.at[event.station, "part"]
    out["top_zip_right"] = out["zip_named"] = None
    if event.zip is not None:
        out["top_zip_right"] = stations.at[event.station, "top_zip"] == event.zip
        out["zip_named"] = f"zip {event.zip}" in stations.at[event.station, "cause"]
    return out
