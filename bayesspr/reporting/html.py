"""One self-contained HTML report that a reviewer reads to decide whether to trust a fit.

:func:`write_report` takes a fitted :class:`~bayesspr.SPRModel` or
:class:`~bayesspr.VolumeModel`. The SPR report's sections (in order, see :data:`SECTIONS`
and ``docs/report.md``): sampler health against fixed thresholds with advice, trace plots of
the hyper-parameters and rank plots of the parameters that miss a threshold (or the worst
ones), the energy plot, a pair plot of the physics constants with divergences marked, forest
plots of the city and station effects, posterior predictive checks of SPR by city, PSIS-LOO
with Pareto-k, calibration (randomised PIT) on held-out data, and attached forecast / fleet
charts. The volume report (:data:`VOLUME_SECTIONS`): the same sampler health and rank plots,
the energy plot, its priors against their posteriors, and observed vs posterior-predictive
daily stops per station over the history.

This module assembles the page; the sections live in :mod:`bayesspr.reporting.sections`
(shared by both reports: sampler health, trace, rank and energy plots, attached charts),
:mod:`bayesspr.reporting.spr_report` and :mod:`bayesspr.reporting.volume_report`. Which
parameters miss an R-hat or ESS threshold is decided once, by :func:`parameter_diagnostics`
(ArviZ, the thresholds of :mod:`bayesspr.inference.diagnostics`); the sampler-health table,
the verdict banner, the worst-parameters table and the rank plots all read that one table, so
they cannot disagree.

Statistics come from ``arviz_stats`` and plots from ``arviz_plots`` (matplotlib backend);
nothing is re-implemented here. Every axis is labelled with its quantity and unit. Images are
embedded as base64 PNG ``data:`` URIs, there is no external CSS or JavaScript, so the file
opens offline. The page's layout and style are package data beside this module, not code:
``templates/report.html`` (the page), ``templates/section.html`` (one section) and
``templates/report.css`` (embedded in the page), filled with :class:`string.Template`.
"""

from __future__ import annotations

import functools
import os
import string
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from bayesspr.data import table as data_mod
from bayesspr.errors import NotFittedError, ReportError
from bayesspr.inference.diagnostics import (
    parameter_diagnostics,
)
from bayesspr.io.files import atomic_write
from bayesspr.monitor.charts import monitor_figure
from bayesspr.monitor.surprise import READING_COLUMNS, MonitorReport
from bayesspr.reporting import markup
from bayesspr.reporting.sections import sampler_health
from bayesspr.reporting.spr_report import (
    PHYSICS_CONSTANTS,
    SECTIONS,
    check_spr_history,
    spr_report_body,
)
from bayesspr.reporting.volume_report import (
    VOLUME_SECTIONS,
    check_volume_history,
    volume_report_body,
)
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel

__all__ = [
    "PHYSICS_CONSTANTS",
    "SECTIONS",
    "VOLUME_SECTIONS",
    "parameter_diagnostics",
    "sampler_health",
    "write_report",
]

#: The report's page, section and style sheet, shipped as package data beside this module.
_TEMPLATES = resources.files("bayesspr.reporting") / "templates"


@functools.cache
def _template(name: str) -> string.Template:
    """A template of ``templates/`` (``$name`` placeholders, :class:`string.Template`)."""
    return string.Template((_TEMPLATES / name).read_text(encoding="utf-8"))


@functools.cache
def _style_sheet() -> str:
    """The report's CSS (``templates/report.css``), embedded in every page."""
    return (_TEMPLATES / "report.css").read_text(encoding="utf-8")


def write_report(
    model: SPRModel | VolumeModel,
    path: str | os.PathLike[str],
    *,
    history: pd.DataFrame | None = None,
    holdout: pd.DataFrame | None = None,
    extra_figures: Mapping[str, Figure | str | os.PathLike[str]] | None = None,
    monitor: MonitorReport | None = None,
    title: str = "bayesspr fit report",
    random_seed: int = 0,
) -> Path:
    """Write the diagnostic report of a fit as one self-contained HTML file.

    Every image is an embedded PNG and there is no external CSS or JavaScript, so the file
    opens offline. The file is written atomically (a temporary file in the same folder, then
    renamed), so a reader never sees half a report.

    Parameters
    ----------
    model : SPRModel or VolumeModel
        A fitted model, or one read with ``load``. An :class:`SPRModel` gets the sections of
        :data:`SECTIONS`, a :class:`VolumeModel` those of :data:`VOLUME_SECTIONS`.
    path : str or os.PathLike
        Destination ``.html`` file; its folder is created if needed.
    history : pandas.DataFrame, optional
        The table the model was fitted on (canonical columns). For an SPR fit (needs
        ``routes``): the posterior predictive check of SPR (packages per route) by city,
        checked against the fit's observed routes. For a volume fit: observed vs
        posterior-predictive daily stops per station, checked against the fit's observed
        stops. Without it, that section says so.
    holdout : pandas.DataFrame, optional
        SPR fits only: held-out rows with observed ``routes``, for the randomised PIT of the
        routes and the coverage of central 50 / 80 / 90 % intervals. Without it, that section
        says so.
    extra_figures : mapping of str to matplotlib Figure or PNG path, optional
        Charts to attach (forecast fan charts, fleet plans), each under its own heading (the
        key). Figures are rendered to PNG but not closed (they belong to the caller).
    monitor : MonitorReport, optional
        SPR fits only: :func:`bayesspr.monitor.monitor_month` of a later month against this
        fit. Adds a monitoring section: the summary, the ranked station table and, for the
        most surprising stations, the month's observed routes per day against the predictive
        band with the history's last weeks before them (``history``, when given).
    title : str
        Title of the report.
    random_seed : int
        Seed of the predictive draws and of the PIT randomisation.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    bayesspr.errors.NotFittedError
        If the model has no fit.
    TypeError
        If ``model`` is neither an :class:`SPRModel` nor a :class:`VolumeModel`.
    ReportError
        If ``history`` is not the table the model was fitted on, ``holdout`` is given with a
        volume fit, or an extra figure is neither a matplotlib figure nor a PNG file.
    bayesspr.data.table.DataError
        If an SPR fit's ``history`` or ``holdout`` fails validation (``holdout`` needs
        ``routes``).
    bayesspr.volume.model.VolumeDataError
        If a volume fit's ``history`` lacks a column or has invalid counts.
    FileNotFoundError
        If an extra figure's path does not exist.
    """
    if not isinstance(model, (SPRModel, VolumeModel)):
        raise TypeError(
            f"write_report takes an SPRModel or a VolumeModel, not a {type(model).__name__}"
        )
    idata = model.idata
    if idata is None:
        kind = type(model).__name__
        raise NotFittedError(f"{kind} has no fit: call model.fit(df) or {kind}.load(path)")
    if isinstance(model, VolumeModel) and (holdout is not None or monitor is not None):
        raise ReportError(
            "holdout and monitor are for SPRModel reports only; a VolumeModel report checks "
            "the history it was fitted on (history=...)"
        )
    # Read the inputs first, so a bad argument fails before any plotting.
    charts = {str(name): markup.png_of(name, fig) for name, fig in (extra_figures or {}).items()}
    if isinstance(model, VolumeModel):
        volume = None if history is None else check_volume_history(history, idata)
        body = volume_report_body(model, idata, volume, charts, random_seed)
        sections = VOLUME_SECTIONS
    else:
        if history is not None:
            history = check_spr_history(history, idata)
        if holdout is not None:
            holdout = data_mod.validate(holdout, require_routes=True)
        body = spr_report_body(model, idata, history, holdout, charts, random_seed)
        sections = SECTIONS
        if monitor is not None:
            sections = (*SECTIONS, MONITOR_SECTION)
            body = [*body, (MONITOR_SECTION[0], _monitor_section(monitor, history))]
    page = _page(title, body[0], sections, body[1:])
    return atomic_write(lambda tmp: Path(tmp).write_text(page, encoding="utf-8"), path)


#: The monitoring section of an SPR report given ``monitor=``.
MONITOR_SECTION = ("monitor", "Monitoring: a later month against this fit")
#: Columns of the monitoring section's table: what a planner reads, then the q-value.
_MONITOR_COLUMNS = [*READING_COLUMNS[:12], "q_value"]


def _monitor_section(report: MonitorReport, history: pd.DataFrame | None) -> str:
    """The summary, the ranked station table and the chart of the most surprising."""
    table = report.stations[[c for c in _MONITOR_COLUMNS if c in report.stations]]
    summary = "".join(
        f"<p>{markup.escape(line.strip())}</p>" for line in report.summary().split("\n")
    )
    return (
        summary
        + markup.attempt(lambda: markup.html_table(table.round(3)))
        + markup.plot(
            lambda: monitor_figure(report, history),
            "observed routes per day against the predictive band",
            "Routes per day at the most surprising stations: the history's last weeks (grey), "
            "then the month's observed routes (dots; red: a surprising day) against the "
            "fit's 90 % predictive band.",
        )
    )


def _page(
    title: str,
    facts: list[tuple[str, str]],
    sections: Sequence[tuple[str, str]],
    contents: Sequence[tuple[str, str]],
) -> str:
    """The whole HTML page (``templates/report.html``): title, facts, contents, sections."""
    toc = "".join(f'<li><a href="#{sid}">{markup.escape(head)}</a></li>' for sid, head in sections)
    headings = dict(sections)
    return _template("report.html").substitute(
        title=markup.escape(title),
        css=_style_sheet(),
        facts=markup.html_table(pd.DataFrame(facts, columns=["", ""]), header=False),
        toc=toc,
        sections="".join(
            _template("section.html").substitute(
                section_id=sid, heading=markup.escape(headings[sid]), content=content
            )
            for sid, content in contents
        ),
    )
