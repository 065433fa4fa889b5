"""PNG charts of fleet decisions: routes against the fleet, and shortfall risk by month.

One job: draw what :mod:`bayesspr.fleet.decisions` decided, as a planner would show it in a review.
Figures are built with matplotlib's object API on the Agg canvas (no pyplot, no global
backend state) and written atomically through :func:`bayesspr.io.files.write_png`.

* :func:`fan_chart` (:func:`fan_figure`): one panel per station, by month: the routes of a
  mean day and of a peak day (median, 50 % and 90 % intervals over the joint draws), the
  observed months beside them, the fleet, and the forecast origin.
* :func:`shortfall_chart` (:func:`shortfall_figure`): P(routes on a peak day > vans) by
  month, one line per station, against the target 1 − α.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from bayesspr.defaults import DEFAULT_PEAK_SHARE
from bayesspr.errors import FleetConfigError
from bayesspr.fleet.config import _check_peak_share
from bayesspr.fleet.decisions import FleetPlan
from bayesspr.fleet.draws import as_routes, month_slices, peak_count, scenario_name
from bayesspr.fleet.legend import percent_text
from bayesspr.io.files import write_png

#: Central interval masses of the fan chart's bands, widest first.
FAN_BANDS = (0.9, 0.5)

#: Colours of the two monthly series: the mean day and the peak day.
_COLOURS = {"mean": "tab:blue", "peak": "tab:orange"}
_FLEET_COLOUR = "tab:red"


# --- monthly aggregates ----------------------------------------------------------------------


def _monthly_draws(
    values: np.ndarray, dates: pd.DatetimeIndex, peak_share: float
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray]:
    """Per month: its centre date, and per draw the mean day and the peak day (routes/day).

    ``values`` is (sample, date) for one station. The peak day of a month on a draw is the
    mean of that draw's ⌈peak_share · days⌉ busiest days, as :func:`bayesspr.fleet.decisions.plan`
    counts them. Returns the month starts, the centres (mean date of the month's days),
    and arrays (sample, month) of mean-day and peak-day routes.
    """
    starts, slices = month_slices(dates.to_numpy())
    centres = pd.DatetimeIndex([dates[sl].mean() for sl in slices])
    mean = np.stack([values[:, sl].mean(axis=1) for sl in slices], axis=1)
    peak = np.stack(
        [
            np.sort(values[:, sl], axis=1)[:, -peak_count(sl.stop - sl.start, peak_share) :].mean(
                axis=1
            )
            for sl in slices
        ],
        axis=1,
    )
    return starts, centres, mean, peak


def observed_monthly(history: pd.DataFrame, peak_share: float = DEFAULT_PEAK_SHARE) -> pd.DataFrame:
    """Observed routes per station-day, aggregated by month as the fan chart draws them.

    Parameters
    ----------
    history : pandas.DataFrame
        The canonical observation table (one row per zip-day, columns ``date``, ``station``
        and ``routes``, routes per zip-day; see :mod:`bayesspr.data.table`).
    peak_share : float
        Share of a month's observed days that are peak days, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per station and month: ``station``, ``month`` (month start), ``centre``
        (mean date of the observed days), ``days`` (observed station-days),
        ``mean_routes_per_day`` (mean over the month's days of the station's routes per
        day) and ``mean_peak_day_routes`` (mean of the ⌈peak_share · days⌉ busiest days;
        routes per day). A station-day with a zip of unknown routes is left out.

    Raises
    ------
    FleetConfigError
        If a column is missing.
    """
    peak_share = _check_peak_share(peak_share)
    missing = [c for c in ("date", "station", "routes") if c not in history.columns]
    if missing:
        raise FleetConfigError(
            f"history lacks column(s) {missing}: expected the canonical observation table "
            "(date, station, routes per zip-day)"
        )
    rows = pd.DataFrame(
        {
            "station": history["station"].astype(str).to_numpy(),
            "date": pd.to_datetime(history["date"]).dt.normalize().to_numpy(),
            "routes": pd.to_numeric(history["routes"], errors="coerce").to_numpy(float),
        }
    )
    by_day = rows.groupby(["station", "date"])["routes"]
    daily = by_day.sum().where(by_day.count() == by_day.size()).dropna().reset_index()
    daily["month"] = daily["date"].dt.to_period("M").dt.to_timestamp()
    parts = []
    for (station, month), g in daily.groupby(["station", "month"], sort=True):
        r = np.sort(g["routes"].to_numpy())
        k = peak_count(len(r), peak_share)
        parts.append(
            {
                "station": station,
                "month": month,
                "centre": g["date"].mean(),
                "days": len(r),
                "mean_routes_per_day": r.mean(),
                "mean_peak_day_routes": r[-k:].mean(),
            }
        )
    columns = ["station", "month", "centre", "days", "mean_routes_per_day", "mean_peak_day_routes"]
    return pd.DataFrame(parts, columns=columns)


# --- the fleet -------------------------------------------------------------------------------


def _fleet_lines(
    fleet: FleetPlan | pd.DataFrame | pd.Series | None,
    months: pd.DatetimeIndex,
    stations: Sequence[str],
    van_type: str | None,
) -> tuple[dict[str, np.ndarray], dict[str, float], str | None, str | None]:
    """Monthly vans and a constant fleet per station, with their legend labels."""
    if fleet is None:
        return {}, {}, None, None
    if isinstance(fleet, pd.Series):
        flat = {s: float(fleet[s]) for s in stations if s in fleet.index}
        return {}, flat, None, "fleet (vans)"
    plan = fleet if isinstance(fleet, FleetPlan) else None
    table = fleet.table if plan is not None else fleet
    if "van_type" in table.columns:
        kinds = table["van_type"].unique()
        if van_type is None and len(kinds) > 1:
            raise FleetConfigError(
                f"the fleet table holds van types {sorted(kinds)}: expected van_type to pick one"
            )
        van_type = van_type or kinds[0]
        table = table[table["van_type"] == van_type]
    column = "vans_needed" if "vans_needed" in table.columns else "vans"
    if column not in table.columns:
        raise FleetConfigError(
            "the fleet table has no vans_needed column: expected a fleet.plan table"
        )
    monthly = {}
    for station, rows in table.groupby("station"):
        per_month = rows.set_index(pd.to_datetime(rows["month"]))[column]
        monthly[str(station)] = per_month.reindex(months).to_numpy(float)
    if plan is None:
        return monthly, {}, "vans per month", None
    rule = (
        f"P ≥ {percent_text(plan.service_level)} per peak day"
        if plan.rule == "service"
        else "cost-optimal"
    )
    horizon = plan.horizon
    if "van_type" in horizon.columns:
        horizon = horizon[horizon["van_type"] == van_type]
    flat = dict(
        zip(horizon["station"].astype(str), horizon["vans_to_buy"].astype(float), strict=True)
    )
    return monthly, flat, f"vans needed per month ({rule})", "vans to buy, kept all horizon"


def _resolve_scenario(scenario: str | None, *sources: object) -> str | None:
    """The scenario name given, else the first one a source carries."""
    if scenario:
        return scenario
    for source in sources:
        name = getattr(source, "scenario", None) if isinstance(source, FleetPlan) else None
        name = name or (scenario_name(source) if source is not None else None)
        if name:
            return name
    return None


# --- fan chart -------------------------------------------------------------------------------


def fan_figure(
    forecast: xr.Dataset | xr.DataArray,
    fleet: FleetPlan | pd.DataFrame | pd.Series | None,
    *,
    history: pd.DataFrame | None = None,
    scenario: str | None = None,
    stations: Sequence[str] | None = None,
    van_type: str | None = None,
    peak_share: float | None = None,
    ncols: int = 2,
    note: str | None = None,
) -> Figure:
    """The figure of :func:`fan_chart` (see there), for display or further editing.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per station (titled with the station), the scenario in the figure title,
        the legend in a panel or band of its own outside every data area.
    """
    routes = as_routes(forecast)
    all_stations = [str(s) for s in routes["station"].to_numpy()]
    chosen = _chosen_stations(all_stations, stations)
    if peak_share is None:
        peak_share = fleet.peak_share if isinstance(fleet, FleetPlan) else DEFAULT_PEAK_SHARE
    peak_share = _check_peak_share(peak_share)
    scenario = _resolve_scenario(scenario, forecast, fleet)
    dates = pd.DatetimeIndex(routes["date"].to_numpy())
    values = routes.to_numpy()
    starts, centres, *_ = _monthly_draws(values[:, :, 0], dates, peak_share)
    monthly, flat, monthly_label, flat_label = _fleet_lines(fleet, starts, chosen, van_type)
    edges = pd.DatetimeIndex([dates[0], *starts[1:], dates[-1] + pd.Timedelta(days=1)])
    observed = None if history is None else observed_monthly(history, peak_share)

    n = len(chosen)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    spare = nrows * ncols > n  # an empty panel holds the legend
    fig = Figure(figsize=(5.2 * ncols, 3.0 * nrows + (0 if spare else 1.2)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharex=True)).ravel()
    handles: dict[str, object] = {}
    for i, (ax, station) in enumerate(zip(axes, chosen, strict=False)):
        _, _, mean, peak = _monthly_draws(
            values[:, :, all_stations.index(station)], dates, peak_share
        )
        _draw_forecast(ax, centres, mean, peak, handles)
        if observed is not None:
            _draw_history(ax, observed[observed["station"] == station], handles)
        if station in monthly:
            (line,) = ax.step(
                edges,
                np.r_[monthly[station], monthly[station][-1]],
                where="post",
                color=_FLEET_COLOUR,
                lw=1.5,
                gid="fleet_monthly",
            )
            handles[monthly_label] = line
        if station in flat:
            handles[flat_label] = _draw_bought(ax, edges, flat[station])
        origin = ax.axvline(dates[0], color="0.3", lw=1, ls="-.", gid="forecast_origin")
        handles[f"forecast origin, {dates[0]:%Y-%m-%d}"] = origin
        _style_panel(ax, station, label_months=i + ncols >= n)
    for ax in axes[n:]:
        ax.set_axis_off()
    _fan_legend(fig, axes[-1] if spare else None, handles, peak_share, values.shape[0])
    title = "Routes per day by month, forecast" + (" and history" if observed is not None else "")
    if scenario:
        title += f" — scenario: {scenario}"
    fig.suptitle(title, fontsize=13, fontweight="bold")
    if note:  # what a reader must know to compare history with forecast (units, van sizes)
        # a figure-level x label: the layout keeps it clear of the panels' own labels
        fig.supxlabel(textwrap.fill(note, 150), fontsize=9, color="0.25", gid="chart_note")
    return fig


def _chosen_stations(all_stations: list[str], stations: Sequence[str] | None) -> list[str]:
    """The stations to draw (default: all), refusing any the forecast does not have."""
    chosen = list(all_stations if stations is None else stations)
    unknown = sorted(set(chosen) - set(all_stations))
    if unknown:
        raise FleetConfigError(
            f"stations {unknown} are not in the forecast: expected {all_stations}"
        )
    return chosen


def _draw_forecast(
    ax: Axes, centres: pd.DatetimeIndex, mean: np.ndarray, peak: np.ndarray, handles: dict
) -> None:
    """The mean-day and peak-day fans of one panel: median line and central bands."""
    for key, draws_, what in (("mean", mean, "mean day"), ("peak", peak, "peak day")):
        parts = []
        for mass, alpha in zip(FAN_BANDS, (0.18, 0.35), strict=True):
            lo, hi = np.quantile(draws_, [(1 - mass) / 2, (1 + mass) / 2], axis=0)
            parts.append(ax.fill_between(centres, lo, hi, color=_COLOURS[key], alpha=alpha, lw=0))
        (line,) = ax.plot(
            centres, np.median(draws_, axis=0), color=_COLOURS[key], lw=1.8, gid=f"forecast_{key}"
        )
        bands = ", ".join(percent_text(m) for m in FAN_BANDS[::-1])
        handles[f"forecast {what} (median; {bands})"] = (*parts, line)


def _draw_history(ax: Axes, mine: pd.DataFrame, handles: dict) -> None:
    """The observed mean-day and peak-day months of one station (rows of observed_monthly)."""
    if not len(mine):
        return
    for key, column, what in (
        ("mean", "mean_routes_per_day", "mean day"),
        ("peak", "mean_peak_day_routes", "peak day"),
    ):
        (line,) = ax.plot(
            mine["centre"],
            mine[column],
            color=_COLOURS[key],
            lw=1.2,
            ls="--",
            marker="o",
            ms=4,
            mfc="white",
            gid=f"history_{key}",
        )
        handles[f"observed {what}"] = line


def _draw_bought(ax: Axes, edges: pd.DatetimeIndex, vans: float) -> object:
    """The vans bought for the whole horizon: a dotted line labelled "buy N"; returns it."""
    (line,) = ax.plot(
        [edges[0], edges[-1]], [vans] * 2, color="darkred", lw=1.6, ls=":", gid="fleet_horizon"
    )
    ax.annotate(
        f"buy {vans:.0f}",
        (edges[0], vans),
        xytext=(3, 2),
        textcoords="offset points",
        ha="left",
        va="bottom",
        fontsize=9.5,
        color="darkred",
    )
    return line


def _style_panel(ax: Axes, station: str, *, label_months: bool) -> None:
    """Title, axes and grid of one station's panel; ``label_months`` for the bottom row."""
    ax.set_title(station, fontsize=12, fontweight="bold")
    ax.set_ylabel("routes per day", fontsize=10.5)
    ax.tick_params(labelsize=10)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.08)  # room for the "buy" label
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    _month_axis(ax)
    if label_months:  # nothing drawn below this panel: label its month axis
        ax.tick_params(axis="x", labelbottom=True)
        ax.set_xlabel("month", fontsize=10.5)


def _fan_legend(
    fig: Figure, spare: Axes | None, handles: dict, peak_share: float, n_draws: int
) -> None:
    """The legend, in the spare panel if there is one, else in a band below the panels."""
    labels, artists = list(handles), list(handles.values())
    options = {
        "fontsize": 10,
        "title_fontsize": 10,
        "frameon": False,
        "alignment": "left",
        "handler_map": {tuple: _tuple_handler()},
        "title": f"peak day: mean of a month's busiest {percent_text(peak_share)} of days\n"
        f"intervals: central, over {n_draws} joint draws",
    }
    if spare is not None:
        spare.legend(artists, labels, loc="center", **options)
    else:
        fig.legend(artists, labels, loc="outside lower center", ncols=2, **options)


def _month_axis(ax: Axes) -> None:
    """Quarterly month ticks ("Apr"), with the year under January and the first tick."""

    def label(x: float, pos: int | None) -> str:
        day = mdates.num2date(x)
        return f"{day:%b}\n{day:%Y}" if day.month == 1 or pos == 0 else f"{day:%b}"

    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.xaxis.set_minor_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(label))


def _tuple_handler() -> HandlerTuple:
    """Legend handler drawing a (band, band, line) tuple as one entry."""
    return HandlerTuple(ndivide=1, pad=0)


def fan_chart(
    forecast: xr.Dataset | xr.DataArray,
    fleet: FleetPlan | pd.DataFrame | pd.Series | None,
    path: str | os.PathLike[str],
    *,
    history: pd.DataFrame | None = None,
    scenario: str | None = None,
    stations: Sequence[str] | None = None,
    van_type: str | None = None,
    peak_share: float | None = None,
    ncols: int = 2,
    dpi: int = 110,
    note: str | None = None,
) -> Path:
    """Routes per day by month against the fleet, one panel per station (PNG).

    For each forecast month the panel shows, over the joint draws, the routes of a **mean
    day** (the month's mean routes per day) and of a **peak day** (the mean of each draw's
    ⌈peak_share · days⌉ busiest days, the days the service level is about): median, 50 %
    and 90 % central intervals. Beside them, the observed months of ``history`` aggregated
    the same way, the fleet, and a vertical line at the forecast origin.

    Parameters
    ----------
    forecast : xarray.Dataset or xarray.DataArray
        Forecast with ``routes`` (sample, date, station), routes per station-day; its
        ``scenario`` attribute names the scenario in the title.
    fleet : FleetPlan, pandas.DataFrame, pandas.Series or None
        The fleet (vans): a :func:`bayesspr.fleet.decisions.plan` result (the monthly
        ``vans_needed`` as steps, labelled with the service level, and the horizon's
        ``vans_to_buy`` as a dotted line), its ``table`` (monthly steps), a Series of vans
        by station (a constant line), or None.
    path : str or os.PathLike
        Destination PNG file; its folder is created if missing.
    history : pandas.DataFrame, optional
        The canonical observation table (``date``, ``station``, ``routes`` per zip-day):
        routes are summed per station-day, then drawn by month as the forecast is.
    scenario : str, optional
        Scenario name for the title (default: the forecast's, or the plan's).
    stations : sequence of str, optional
        Stations to draw (default: all).
    van_type : str, optional
        Van type of the fleet table to draw when it holds several.
    peak_share : float, optional
        Share of a month's days that are peak days, in (0, 1] (default: the plan's, else
        :data:`bayesspr.fleet.decisions.DEFAULT_PEAK_SHARE`).
    ncols : int
        Panels per row.
    dpi : int
        Resolution (dots per inch).
    note : str, optional
        A line under the panels saying what a reader needs to compare history with the
        forecast, such as a forecast made for another van than the history's.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig = fan_figure(
        forecast,
        fleet,
        history=history,
        scenario=scenario,
        stations=stations,
        van_type=van_type,
        peak_share=peak_share,
        ncols=ncols,
        note=note,
    )
    return write_png(fig, path, dpi)


# --- shortfall chart -------------------------------------------------------------------------


def shortfall_figure(
    plan_df: FleetPlan | pd.DataFrame,
    *,
    service_level: float | None = None,
    scenario: str | None = None,
) -> Figure:
    """The figure of :func:`shortfall_chart` (see there)."""
    plan = plan_df if isinstance(plan_df, FleetPlan) else None
    if plan is not None:
        service_level = plan.service_level if service_level is None else service_level
        plan_df = plan.table
    scenario = _resolve_scenario(scenario, plan)
    need = [c for c in ("station", "month", "p_short_peak_day") if c not in plan_df.columns]
    if need:
        raise FleetConfigError(f"plan_df lacks column(s) {need}: expected a fleet.plan table")
    keys = ["station", "van_type"] if "van_type" in plan_df.columns else ["station"]
    several = "van_type" in plan_df.columns and plan_df["van_type"].nunique() > 1
    fig = Figure(figsize=(8.0, 4.2), layout="constrained")
    ax = fig.subplots()
    for key, rows in plan_df.groupby(keys, sort=True):
        label = " / ".join(map(str, key)) if several else str(key[0])
        rows = rows.sort_values("month")
        ax.plot(
            pd.to_datetime(rows["month"]),
            rows["p_short_peak_day"],
            marker="o",
            ms=4,
            lw=1.2,
            label=label,
        )
    if service_level is not None:
        ax.axhline(
            1 - service_level,
            color="0.2",
            ls="--",
            lw=1.2,
            gid="target",
            label=f"target: at most {percent_text(1 - service_level)}\n(service level "
            f"{percent_text(service_level)} of peak days)",
        )
    ax.set_ylabel("P(routes on a peak day > vans needed)", fontsize=10.5)
    ax.set_xlabel("month", fontsize=10.5)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    _month_axis(ax)
    top = max(float(plan_df["p_short_peak_day"].max()), 1 - (service_level or 1.0))
    ax.set_ylim(0, max(top * 1.25, 0.01))
    ax.grid(axis="y", color="0.9", lw=0.8)
    ax.set_axisbelow(True)
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=10,
        frameon=False,
        title="station",
        title_fontsize=10,
        alignment="left",
    )
    title = "Risk of a peak-day shortfall by month, with the monthly fleet (vans needed)"
    if scenario:
        title += f"\nscenario: {scenario}"
    ax.set_title(title, fontsize=12, fontweight="bold", loc="left")
    ax.tick_params(labelsize=10)
    return fig


def shortfall_chart(
    plan_df: FleetPlan | pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    service_level: float | None = None,
    scenario: str | None = None,
    dpi: int = 110,
) -> Path:
    """Probability of a peak-day shortfall by month, one line per station (PNG).

    Parameters
    ----------
    plan_df : FleetPlan or pandas.DataFrame
        A :func:`bayesspr.fleet.decisions.plan` result or its ``table`` (columns ``station``,
        ``month``, ``p_short_peak_day`` and optionally ``van_type``); the probability is
        that of the month's ``vans_needed``.
    path : str or os.PathLike
        Destination PNG file; its folder is created if missing.
    service_level : float, optional
        α: the target 1 − α is drawn as a dashed line (taken from a FleetPlan when omitted).
    scenario : str, optional
        Scenario name for the title (default: the plan's, if it has one).
    dpi : int
        Resolution (dots per inch).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig = shortfall_figure(plan_df, service_level=service_level, scenario=scenario)
    return write_png(fig, path, dpi)
