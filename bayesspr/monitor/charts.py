"""The monitor's chart: the most surprising stations' days, history beside the month.

Built with matplotlib's object API on the Agg canvas (no pyplot, no global state) and written
atomically (:func:`bayesspr.io.files.write_png`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from bayesspr.io.files import write_png
from bayesspr.monitor.surprise import MonitorReport

__all__ = ["MONITOR_CHART", "monitor_figure", "write_monitor_chart"]

#: The file :func:`write_monitor_chart` writes.
MONITOR_CHART = "monitor_stations.png"
#: Days of history drawn before the month (days).
HISTORY_DAYS = 28


def monitor_figure(
    report: MonitorReport, history: pd.DataFrame | None = None, *, stations: int = 4
) -> Figure:
    """Routes per day at the most surprising stations: history, then the month's band.

    Parameters
    ----------
    report : MonitorReport
        The monitor's report.
    history : pandas.DataFrame, optional
        Earlier canonical rows with ``routes``; their last :data:`HISTORY_DAYS` days are drawn
        before the month.
    stations : int
        Most stations drawn (flagged first, then the most surprising).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per station: routes per day (routes) observed in the history (grey) and in
        the month (black dots; red where the day is a discovery) against the model's 90 %
        predictive band and mean for the month, titled with the reading.
    """
    chosen = report.stations.head(max(1, stations))
    fig = Figure(figsize=(10, 2.6 * len(chosen)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(chosen), 1, squeeze=False)[:, 0])
    days = report.station_days
    for ax, row in zip(axes, chosen.itertuples(), strict=True):
        mine = days[days["station"] == row.station].sort_values("date")
        if history is not None:
            past = history[history["station"] == row.station]
            past = past[past["date"] > past["date"].max() - pd.Timedelta(days=HISTORY_DAYS)]
            daily = past.groupby("date")["routes"].sum()
            ax.plot(daily.index, daily.to_numpy(), color="0.55", lw=1.2, label="history")
        ax.fill_between(
            mine["date"],
            mine["lower_90"],
            mine["upper_90"],
            color="tab:blue",
            alpha=0.25,
            step="mid",
            label="90 % predictive band",
        )
        ax.plot(mine["date"], mine["predicted_routes"], color="tab:blue", lw=1, label="forecast")
        hit = mine["flagged"].to_numpy()
        ax.plot(mine["date"][~hit], mine["observed_routes"][~hit], "k.", label="observed")
        if hit.any():
            ax.plot(
                mine["date"][hit],
                mine["observed_routes"][hit],
                "o",
                color="tab:red",
                label="surprising day",
            )
        reading = row.cause if row.flagged else "as forecast"
        ax.set_title(f"{row.station} ({row.city}): {reading}", fontsize=9, loc="left")
        ax.set_ylabel("routes per day")
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    labels: dict[str, object] = {}
    for ax in axes:  # one legend for the panels, each label once
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labels.setdefault(label, handle)
    fig.legend(list(labels.values()), list(labels), fontsize=8, ncols=5, loc="outside upper left")
    return fig


def write_monitor_chart(
    report: MonitorReport,
    folder: str | os.PathLike[str],
    history: pd.DataFrame | None = None,
    *,
    dpi: int = 110,
) -> Path:
    """Write :func:`monitor_figure` into ``folder`` as :data:`MONITOR_CHART` (atomically).

    Parameters
    ----------
    report : MonitorReport
        The monitor's report.
    folder : str or os.PathLike
        Destination folder (created if missing).
    history : pandas.DataFrame, optional
        Earlier rows, drawn before the month.
    dpi : int
        Resolution (dots per inch).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig = monitor_figure(report, history)
    return write_png(fig, Path(folder) / MONITOR_CHART, dpi)
