"""What every column of the fleet tables holds: unit and one-line meaning, per table.

:data:`COLUMN_LEGEND` lists them with symbols (α, peak share); :func:`legend_frame` writes
a plan's own service level, peak share and critical fractile into them, as a table to print
or write beside a CSV (``FleetPlan.legend``, ``forecast_summary_legend.csv``).
"""

from __future__ import annotations

import math

import pandas as pd

from bayesspr.defaults import DEFAULT_PEAK_SHARE
from bayesspr.errors import FleetConfigError

# Column → (unit, meaning) per table. ``{alpha}``, ``{risk}`` (1 − α), ``{peak}`` and
# ``{fractile}`` are filled by legend_frame with a plan's service level, peak share and
# critical fractile.
_PEAK_DAY = "a peak day is one of the draw's busiest {peak} of the month's days"
_LEGEND_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "table": {
        "station": ("–", "delivery station"),
        "month": ("month start", "calendar month (CSV: YYYY-MM)"),
        "van_type": ("–", "van type the routes were forecast for"),
        "days": ("days", "forecast days in the month"),
        "vans_needed": (
            "vans",
            "recommended fleet for the month; the rule column says which rule filled it",
        ),
        "rule": (
            "–",
            "'service': vans_needed = vans_at_service_level; 'cost': vans_needed = "
            "vans_cost_optimal",
        ),
        "vans_at_service_level": (
            "vans",
            "smallest fleet covering a peak day with probability ≥ {alpha} (" + _PEAK_DAY + "; "
            "not every day)",
        ),
        "service_level": ("probability", "target α of vans_at_service_level: {alpha}"),
        "vans_cost_optimal": (
            "vans",
            "newsvendor: least expected van + shortage cost, weighing every day of the month "
            "(smallest v with P(routes on a day ≤ v) ≥ critical_fractile)",
        ),
        "critical_fractile": (
            "probability",
            "1 − (van cost per day) / (shortage cost per van-day), at least 0{fractile}",
        ),
        "mean_routes_per_day": ("routes per day", "mean over draws and days of the month"),
        "mean_peak_day_routes": ("routes per day", "mean routes on peak days (" + _PEAK_DAY + ")"),
        "vans_point_forecast": (
            "vans",
            "fleet the point forecast would buy: the service rule on the mean of each day's routes",
        ),
        "margin_vans": ("vans", "vans_needed − vans_point_forecast: vans bought for uncertainty"),
        "p_short_peak_day": (
            "probability",
            "P(routes on a peak day > vans_needed); at most {risk} under the service rule",
        ),
        "p_short_any_day": (
            "probability",
            "P(at least one day of the month needs more than vans_needed)",
        ),
        "shortage_van_days": (
            "van-days",
            "expected Σ over the month's days of max(routes − vans_needed, 0)",
        ),
        "fleet_cost": ("currency", "van cost per day × days × vans_needed"),
        "shortage_cost": ("currency", "shortage cost per van-day × shortage_van_days"),
        "expected_cost": ("currency", "fleet_cost + shortage_cost"),
    },
    "horizon": {
        "station": ("–", "delivery station"),
        "van_type": ("–", "van type the routes were forecast for"),
        "vans_to_buy": (
            "vans",
            "recommended fleet to buy and keep for every day of the forecast; the rule "
            "column says which rule filled it",
        ),
        "rule": (
            "–",
            "'service': vans_to_buy = vans_at_service_level; 'cost': vans_to_buy = "
            "vans_cost_optimal",
        ),
        "vans_at_service_level": (
            "vans",
            "largest monthly fleet covering a peak day with probability ≥ {alpha} (the "
            "month is sizing_month; " + _PEAK_DAY + "; not every day)",
        ),
        "service_level": ("probability", "target α of vans_at_service_level: {alpha}"),
        "sizing_month": (
            "month start",
            "month with the largest vans_at_service_level (the first if tied), as its first day",
        ),
        "vans_cost_optimal": (
            "vans",
            "newsvendor: least expected van + shortage cost of one fleet kept over all days",
        ),
        "critical_fractile": (
            "probability",
            "1 − (van cost per day) / (shortage cost per van-day), at least 0{fractile}",
        ),
        "p_cover_peak_day": (
            "probability",
            "P(routes on a peak day ≤ vans_to_buy), pooled over every month's peak days",
        ),
        "p_cover_every_day": (
            "probability",
            "P(vans_to_buy covers every day of the forecast); never above p_cover_peak_day",
        ),
        "shortage_van_days": (
            "van-days",
            "expected Σ over the forecast's days of max(routes − vans_to_buy, 0)",
        ),
        "short_days": ("days", "expected number of days with routes > vans_to_buy"),
        "mean_routes_per_day": ("routes per day", "mean over draws and days of the forecast"),
        "fleet_cost": ("currency", "van cost per day × forecast days × vans_to_buy"),
        "shortage_cost": ("currency", "shortage cost per van-day × shortage_van_days"),
        "expected_cost": ("currency", "fleet_cost + shortage_cost, over the forecast"),
    },
    "absorb": {
        "station": ("–", "delivery station of the scenario"),
        "vans": ("vans", "fleet owned (0 for a station not listed, e.g. a launch)"),
        "p_cover_peak_day": (
            "probability",
            "P(routes on a peak day ≤ vans), pooled over every month's peak days ("
            + _PEAK_DAY
            + ")",
        ),
        "p_cover_every_day": ("probability", "P(the fleet covers every day of the forecast)"),
        "shortage_van_days": ("van-days", "expected Σ over days of max(routes − vans, 0)"),
        "short_days": ("days", "expected number of days with routes > vans"),
    },
    "evaluate": {
        "station": ("–", "delivery station"),
        "month": ("month start", "calendar month (CSV: YYYY-MM)"),
        "van_type": ("–", "van type (a name in FleetCosts)"),
        "vans": ("vans", "the fleet evaluated"),
        "p_cover_peak_day": (
            "probability",
            "P(routes on a peak day ≤ vans): the service level reached (" + _PEAK_DAY + ")",
        ),
        "p_short_peak_day": ("probability", "1 − p_cover_peak_day"),
        "p_short_any_day": ("probability", "P(at least one day of the month needs more vans)"),
        "shortage_van_days": (
            "van-days",
            "expected Σ over the month's days of max(routes − vans, 0)",
        ),
        "short_days": ("days", "expected number of days of the month with routes > vans"),
        "fleet_cost": ("currency", "van cost per day × days × vans"),
        "shortage_cost": ("currency", "shortage cost per van-day × shortage_van_days"),
        "expected_cost": ("currency", "fleet_cost + shortage_cost"),
    },
    "margin": {
        "station": ("–", "delivery station"),
        "month": ("month start", "calendar month (CSV: YYYY-MM)"),
        "vans_point_forecast": ("vans", "fleet the point forecast would buy (service rule)"),
        "extra": ("vans", "j: the j-th van above vans_point_forecast"),
        "fleet": ("vans", "vans_point_forecast + j"),
        "p_needed": (
            "probability",
            "P(routes on a peak day > fleet − 1): how often the j-th extra van is used",
        ),
        "bought": ("–", "whether vans_at_service_level includes the j-th extra van"),
        "vans_at_service_level": ("vans", "the service-level fleet of the month at {alpha}"),
    },
    "van_mix": {
        "station": ("–", "delivery station"),
        "van_type": ("–", "van type (a name in FleetCosts)"),
        "vans_to_buy": ("vans", "horizon fleet of this type by the rule"),
        "mean_routes_per_day": ("routes per day", "mean routes of this van type"),
        "p_cover_peak_day": ("probability", "P(routes on a peak day ≤ vans_to_buy)"),
        "shortage_van_days": ("van-days", "expected Σ over days of max(routes − vans_to_buy, 0)"),
        "fleet_cost": ("currency", "van cost per day × forecast days × vans_to_buy"),
        "shortage_cost": ("currency", "shortage cost per van-day × shortage_van_days"),
        "expected_cost": ("currency", "fleet_cost + shortage_cost, over the forecast"),
        "extra_cost": ("currency", "expected_cost above the station's cheapest van type"),
        "chosen": ("–", "the station's van type of least expected cost"),
    },
}


def _fill(template: str, alpha: str, risk: str, peak: str, fractile: str) -> str:
    """A legend line with the plan's settings written in."""
    return template.format(alpha=alpha, risk=risk, peak=peak, fractile=fractile)


def percent_text(p: float) -> str:
    """A probability as a percentage, e.g. 0.95 → '95 %'."""
    return f"{100 * p:.4g} %"


#: Unit and one-line meaning of every column of the fleet tables, by table: ``"table"``
#: (:attr:`FleetPlan.table`), ``"horizon"`` (:attr:`FleetPlan.horizon`), ``"absorb"``,
#: ``"evaluate"`` (:func:`evaluate_fleet`), ``"margin"`` (:func:`margin_table`) and
#: ``"van_mix"``. Values are ``(unit, meaning)``; :meth:`FleetPlan.legend` gives the same
#: with the plan's service level, peak share and critical fractile written in.
#:
#: :meta hide-value:
COLUMN_LEGEND: dict[str, dict[str, tuple[str, str]]] = {
    kind: {
        col: (unit, _fill(text, "α (service_level)", "1 − α", "peak_share", ""))
        for col, (unit, text) in cols.items()
    }
    for kind, cols in _LEGEND_TEMPLATES.items()
}


def legend_frame(
    kind: str,
    *,
    service_level: float | None = None,
    peak_share: float = DEFAULT_PEAK_SHARE,
    critical_fractile: float | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """The legend of a fleet table as a table: column, unit, meaning.

    Parameters
    ----------
    kind : str
        A key of :data:`COLUMN_LEGEND` (``"table"``, ``"horizon"``, ``"absorb"``,
        ``"evaluate"``, ``"margin"``, ``"van_mix"``).
    service_level : float, optional
        α written into the meanings (probability); default: the symbol α.
    peak_share : float
        Share of a month's days that are peak days, written into the meanings.
    critical_fractile : float, optional
        Newsvendor quantile written into the meanings (probability; NaN: no costs).
    columns : list of str, optional
        The columns to list, in this order (default: all of ``kind``).

    Returns
    -------
    pandas.DataFrame
        Columns ``column``, ``unit`` and ``meaning`` (one line each), one row per column.

    Raises
    ------
    FleetConfigError
        If ``kind`` is unknown or a column has no legend entry.
    """
    if kind not in _LEGEND_TEMPLATES:
        raise FleetConfigError(f"kind = {kind!r}: expected one of {sorted(_LEGEND_TEMPLATES)}")
    templates = _LEGEND_TEMPLATES[kind]
    columns = list(templates) if columns is None else list(columns)
    unknown = [c for c in columns if c not in templates]
    if unknown:
        raise FleetConfigError(f"column(s) {unknown} have no legend entry in {kind!r}")
    if service_level is None:
        alpha, risk = "α (service_level)", "1 − α"
    else:
        alpha, risk = percent_text(service_level), percent_text(1.0 - service_level)
    if critical_fractile is None:
        fractile = ""
    elif math.isfinite(critical_fractile):
        fractile = f" (here {critical_fractile:.3f})"
    else:
        fractile = " (empty: no costs given)"
    rows = [
        (c, unit, _fill(text, alpha, risk, percent_text(peak_share), fractile))
        for c in columns
        for unit, text in (templates[c],)
    ]
    return pd.DataFrame(rows, columns=["column", "unit", "meaning"])
