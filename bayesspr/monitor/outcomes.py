"""Did the monitor find an injected event? The figures the monitor's validation reports."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import pandas as pd

from bayesspr.data.table import validate
from bayesspr.monitor.surprise import MonitorReport, monitor_month
from bayesspr.simulate.events import EVENT_KINDS, InjectedEvent, inject_event
from bayesspr.simulate.worlds import Truth, simulate_world
from bayesspr.spr.model import SPRModel
from bayesspr.volume.base import ZipVolumeModel
from bayesspr.volume.model import VolumeModel

__all__ = ["event_outcome", "event_worlds", "month_outcomes", "summarise_outcomes"]


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


#: Events run besides :data:`EVENT_KINDS` at their default sizes: (kind, size, label); their
#: figures are reported, not held to a threshold.
EXTRA_EVENTS = (("overhead_jump", 0.5, "overhead_jump 0.5 h"),)
#: Seed of the first world of :func:`event_worlds`.
FIRST_WORLD_SEED = 300
#: Days in each world's monitored month.
MONTH_DAYS = 28


def month_outcomes(
    models: tuple[SPRModel, ZipVolumeModel | None],
    history: pd.DataFrame,
    month: pd.DataFrame,
    truth: Truth,
    seeds: Sequence[int],
) -> pd.DataFrame:
    """Each event of :data:`EVENT_KINDS` injected into one month, monitored, and scored.

    Parameters
    ----------
    models : (SPRModel, VolumeModel or None)
        Fits of ``history``.
    history, month : pandas.DataFrame
        The rows fitted and the month after them (canonical, with routes).
    truth : Truth
        The world's truth.
    seeds : sequence of int
        One injection (and monitor seed) per seed and kind.

    Returns
    -------
    pandas.DataFrame
        One row per kind and seed: :func:`event_outcome`'s figures and the ``seed``.
    """
    spr, volume = models
    rows = []
    events = [(kind, None, kind) for kind in EVENT_KINDS] + list(EXTRA_EVENTS)
    for kind, size, label in events:
        for seed in seeds:
            changed, event = inject_event(month, truth, kind, size=size, seed=seed)
            report = monitor_month(
                spr, changed, volume_model=volume, history=history, random_seed=seed
            )
            rows.append({**event_outcome(report, event), "kind": label, "seed": seed})
    return pd.DataFrame(rows)


def event_worlds(n_worlds: int, *, progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Fit both models on seeded worlds and score every event on each world's next month.

    World ``i`` is ``simulate_world(FIRST_WORLD_SEED + i)``; its last :data:`MONTH_DAYS`
    days are the month, the rest the history both models are fitted on (default settings,
    ``random_seed=1``); each event is injected once, at a station drawn with seed ``i``.

    Parameters
    ----------
    n_worlds : int
        Worlds (each two fits: minutes on two cores).
    progress : callable, optional
        Called with a line after each world.

    Returns
    -------
    pandas.DataFrame
        :func:`month_outcomes` of every world, with its ``world`` seed.
    """
    out = []
    for i in range(n_worlds):
        world = simulate_world(FIRST_WORLD_SEED + i)
        table = validate(world.table)
        cutoff = table["date"].max() - pd.Timedelta(days=MONTH_DAYS - 1)
        history, month = table[table["date"] < cutoff], table[table["date"] >= cutoff]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spr = SPRModel().fit(history, random_seed=1)
            volume = VolumeModel().fit(history, random_seed=1)
        found = month_outcomes((spr, volume), history, month, world.truth, seeds=(i,))
        out.append(found.assign(world=FIRST_WORLD_SEED + i))
        if progress is not None:
            expected = ~found["kind"].isin(["quiet", "new_van"])  # the others should flag
            right = found["flagged"].fillna(False).astype(bool) == expected
            progress(
                f"world {FIRST_WORLD_SEED + i}: {int(right.sum())} of {len(found)} events read "
                f"right; false alarms {found['false_alarms'].tolist()}"
            )
    return pd.concat(out, ignore_index=True)


def summarise_outcomes(outcomes: pd.DataFrame) -> dict[str, float]:
    """Issue 18's figures from :func:`event_worlds` (or :func:`month_outcomes`) rows.

    Returns
    -------
    dict of str to float
        ``recall`` (persistent events, volume jumps included, flagged at their station),
        ``zip_first`` (takeovers with the zip ranked first), ``outage_transient`` (outages
        flagged and labelled transient), ``volume_part`` (volume jumps read as volume only),
        ``quiet_alarm`` (quiet months with any station flagged), ``new_van_alarm`` (new-van
        months with any station flagged), ``small_overhead_recall`` (a +0.5 h overhead jump
        flagged at its station), all shares in [0, 1].
    """
    kind = outcomes.groupby("kind")
    small = outcomes[outcomes["kind"] == "overhead_jump 0.5 h"]
    persistent = outcomes[outcomes["kind"].isin(["overhead_jump", "zip_takeover", "volume_jump"])]
    outage = kind.get_group("outage")
    new_van = kind.get_group("new_van")
    return {
        "recall": float(persistent["flagged"].astype(bool).mean()),
        "zip_first": float(kind.get_group("zip_takeover")["top_zip_right"].astype(bool).mean()),
        "outage_transient": float(
            (outage["flagged"].astype(bool) & (outage["duration"] == "transient")).mean()
        ),
        "volume_part": float((kind.get_group("volume_jump")["part"] == "volume").mean()),
        "quiet_alarm": float((kind.get_group("quiet")["false_alarms"] > 0).mean()),
        "new_van_alarm": float(
            ((new_van["false_alarms"] > 0) | new_van["flagged"].astype(bool)).mean()
        ),
        "small_overhead_recall": float(small["flagged"].astype(bool).mean())
        if len(small)
        else float("nan"),
    }
