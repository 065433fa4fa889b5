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

Which parameters miss an R-hat or ESS threshold is decided once, by
:func:`parameter_diagnostics` (ArviZ, the thresholds of :mod:`bayesspr.inference.diagnostics`); the
sampler-health table, the verdict banner, the worst-parameters table and the rank plots all
read that one table, so they cannot disagree.

Statistics come from ``arviz_stats`` and plots from ``arviz_plots`` (matplotlib backend);
nothing is re-implemented here. Every axis is labelled with its quantity and unit. Images are
embedded as base64 PNG ``data:`` URIs, there is no external CSS or JavaScript, so the file
opens offline. The page's layout and style are package data beside this module, not code:
``templates/report.html`` (the page), ``templates/section.html`` (one section) and
``templates/report.css`` (embedded in the page), filled with :class:`string.Template`.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import string
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from bayesspr.data import table as data_mod
from bayesspr.defaults import (
    COVERAGE_LEVELS,
    DEFAULT_INTERVAL,
    EBFMI_MIN,
    ESS_MIN,
    RHAT_MAX,
    central_bounds,
    installed_version,
)
from bayesspr.errors import NotFittedError, ReportError
from bayesspr.evaluation.loo import LooResult, psis_loo
from bayesspr.evaluation.scores import pit_coverage, randomised_pit
from bayesspr.inference.diagnostics import (
    convergence,
    parameter_diagnostics,
)
from bayesspr.io.files import atomic_write
from bayesspr.reporting import figures, markup
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel, zip_day_volume

__all__ = [
    "PHYSICS_CONSTANTS",
    "SECTIONS",
    "VOLUME_SECTIONS",
    "parameter_diagnostics",
    "sampler_health",
    "write_report",
]

#: (anchor id, heading) of every section of the SPR report, in the order they appear.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("health", "Sampler health"),
    ("trace", "Trace and rank plots"),
    ("energy", "Energy"),
    ("pair", "Pair plot of the physics constants"),
    ("forest", "City and station effects"),
    ("ppc", "Posterior predictive check: SPR by city"),
    ("loo", "PSIS-LOO and Pareto k"),
    ("pit", "Calibration on held-out data (PIT)"),
    ("charts", "Forecasts and fleet plans"),
)

#: (anchor id, heading) of every section of the volume-model report, in order.
VOLUME_SECTIONS: tuple[tuple[str, str], ...] = (
    ("health", "Sampler health"),
    ("rank", "Rank plots of the worst parameters"),
    ("energy", "Energy"),
    ("priors", "Priors and posteriors"),
    ("ppc", "Posterior predictive check: daily stops by station"),
    ("charts", "Forecasts and fleet plans"),
)

#: Global and population-level physics constants shown in the pair plot (when in the fit).
PHYSICS_CONSTANTS: tuple[str, ...] = (
    "tour_constant",
    "stem_speed_kmh",
    "fill",
    "service_min_pop",
    "speed_kmh_pop",
    "overhead_hours_pop",
)

#: Group effects shown as forest plots: (posterior name, title with unit, axis label).
_FOREST = (
    ("service_min_city", "Service time per stop by city (min)", "service time per stop (min)"),
    ("speed_kmh_city", "Speed between stops by city (km/h)", "speed between stops (km/h)"),
    (
        "overhead_hours_station",
        "Dispatch overhead by station (h per route)",
        "dispatch overhead (h per route)",
    ),
)


#: The volume model's priors: (prior option(s), posterior variable it governs, distribution).
#: Levels are Normal(the group's history mean, level_sd) and, like every station's and zip's
#: coefficients, integrated out of the fit (bayesspr.volume.gaussian_groups).
_VOLUME_PRIORS: tuple[tuple[str, str, str], ...] = (
    (
        "growth_mean, growth_mean_sd",
        "growth_city",
        "Normal(μ = {growth_mean}, σ = {growth_mean_sd})",
    ),
    ("growth_sd_station", "growth_sd_station", "HalfNormal(σ = {growth_sd_station})"),
    ("weekday_sd", "weekday_city", "Normal(μ = 0, σ = {weekday_sd}) per weekday contrast"),
    ("weekday_sd_station", "weekday_sd_station", "HalfNormal(σ = {weekday_sd_station})"),
    ("yearly_sd", "yearly_network", "Normal(μ = 0, σ = {yearly_sd}) per Fourier coefficient"),
    ("yearly_sd_station", "yearly_sd_station", "HalfNormal(σ = {yearly_sd_station})"),
    ("regressor_sd", "regressor_effect", "Normal(μ = 0, σ = {regressor_sd})"),
    ("regressor_sd_station", "regressor_sd_station", "HalfNormal(σ = {regressor_sd_station})"),
    ("drift_sd_station", "drift_sd_station", "HalfNormal(σ = {drift_sd_station})"),
    (
        "noise_sd_station",
        "noise_sd_station",
        "LogNormal(median = {noise_sd_station}, σ = 1) per station",
    ),
    ("share_growth_sd", "share_growth_sd", "HalfNormal(σ = {share_growth_sd})"),
    ("share_weekday_sd", "share_weekday_sd", "HalfNormal(σ = {share_weekday_sd})"),
    ("share_drift_sd", "share_drift_sd", "HalfNormal(σ = {share_drift_sd})"),
    (
        "share_noise_sd",
        "share_noise_sd_zip",
        "LogNormal(median = {share_noise_sd}, σ = 1) per zip",
    ),
    ("ratio_growth_sd", "ratio_growth_sd", "HalfNormal(σ = {ratio_growth_sd})"),
    ("ratio_noise_sd", "ratio_noise_sd", "HalfNormal(σ = {ratio_noise_sd})"),
)

#: At most this many parameters that miss a threshold get a rank plot (the worst first); when
#: none misses one, the rank plots show this many of the worst for reference.
_RANK_MAX = 12
_RANK_REFERENCE = 4

#: At most this many station panels in the volume predictive check (the table has all).
_PPC_STATIONS_MAX = 12

#: Display name of each per-parameter check of :func:`parameter_diagnostics`.

_ADVICE = {
    "rhat": (
        "Chains disagree about the posterior. Rerun with more tuning and draws (e.g. tune=2000, "
        "draws=2000); if it persists, read the trace and rank plots of the worst parameter for a "
        "stuck chain or two modes, and change that effect's parameterisation in the spec's "
        "[hierarchy] table."
    ),
    "ess_bulk": (
        "Too few effective draws for stable means and intervals. Run more draws or chains; if "
        "ESS per draw is very low, the worst parameter mixes slowly: reparameterise its group "
        "([hierarchy]) or tighten a weakly identified prior."
    ),
    "ess_tail": (
        "The 5 % and 95 % quantiles (the interval ends used for fleet decisions) are unstable. "
        "Run more draws; look at the rank plot of the worst parameter for poor mixing in the "
        "tails."
    ),
    "divergences": (
        "The sampler met curvature it could not follow, so the posterior may be biased, however "
        "few they are. Raise target_accept (e.g. 0.99); if divergences cluster in a funnel in "
        "the pair plot, non-centre that effect in [hierarchy] or tighten the prior of its "
        "spread."
    ),
    "ebfmi": (
        "Momentum resampling explores the energy distribution poorly (typically a hierarchical "
        "spread with heavy tails or a funnel); compare the two curves of the energy plot, then "
        "reparameterise or tighten the priors of the spread parameters."
    ),
    "treedepth": (
        "An efficiency warning, not a validity one: trajectories were cut at the maximum tree "
        "depth, so sampling is slow and ESS per draw low. Check the pair plot for strongly "
        "correlated parameters; keep the low-rank mass matrix on, or reparameterise."
    ),
    "none": "Not an MCMC fit: refit with NUTS before using the intervals for decisions.",
}

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


# --------------------------------------------------------------------------- sampler health
def sampler_health(idata: xr.DataTree, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sampler health of a fit, one row per check, judged against the usual thresholds.

    R-hat and bulk / tail ESS are judged per parameter by :func:`parameter_diagnostics`
    (the rows name the worst parameter and every parameter that misses the threshold);
    divergences and E-BFMI come from :func:`bayesspr.inference.diagnostics.convergence`. The checks
    and thresholds are ``convergence``'s, so the verdict matches the fit's ``diagnostics``.
    The share of draws whose tree hit the maximum depth is added as an efficiency warning.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit with ``posterior`` and, for MCMC, ``sample_stats`` groups.
    table : pandas.DataFrame, optional
        The fit's :func:`parameter_diagnostics`, when already computed.

    Returns
    -------
    pandas.DataFrame
        Columns ``check``, ``value`` (text: the measured value and the worst parameter),
        ``threshold`` (text), ``status`` (``"PASS"``, ``"FAIL"``, ``"WARN"`` or ``"N/A"``) and
        ``advice`` (what to do when the check does not pass; empty when it passes). R-hat is
        dimensionless, ESS in effective draws, divergences a count, E-BFMI dimensionless and
        tree depth a share of draws (%).
    """
    checks = [
        "R-hat (max)",
        "Bulk ESS (min)",
        "Tail ESS (min)",
        "Divergences",
        "E-BFMI (min)",
        "Tree depth at maximum",
    ]
    thresholds = [
        f"≤ {RHAT_MAX}",
        f"≥ {ESS_MIN}",
        f"≥ {ESS_MIN}",
        "= 0",
        f"≥ {EBFMI_MIN}",
        "0 % of draws (efficiency)",
    ]
    if "sample_stats" not in idata.children:
        return pd.DataFrame(
            {
                "check": checks,
                "value": "not an MCMC fit (no sample_stats)",
                "threshold": thresholds,
                "status": "N/A",
                "advice": _ADVICE["none"],
            }
        )
    table = parameter_diagnostics(idata) if table is None else table
    conv = convergence(idata)
    stats = idata["sample_stats"].to_dataset()
    ebfmi = np.atleast_1d(np.asarray(azs.bfmi(idata)["energy"], dtype=float))
    hit_name = next((n for n in ("maxdepth_reached", "reached_max_treedepth") if n in stats), None)
    depth_name = next((n for n in ("depth", "tree_depth") if n in stats), None)
    n_draws = stats.sizes.get("chain", 1) * stats.sizes.get("draw", 1)
    hits = int(stats[hit_name].sum()) if hit_name else 0
    deepest = f"; deepest tree {int(stats[depth_name].max())}" if depth_name else ""

    rows = [
        _parameter_check(table, "r_hat", largest=True),
        _parameter_check(table, "ess_bulk", largest=False),
        _parameter_check(table, "ess_tail", largest=False),
        ("divergences", f"{conv['divergences']} of {n_draws} draws", conv["divergences"] == 0),
        (
            "ebfmi",
            "per chain: " + ", ".join(f"{v:.2f}" for v in ebfmi),
            bool(np.all(ebfmi >= EBFMI_MIN)),
        ),
    ]
    out = []
    for (key, value, ok), check, threshold in zip(rows, checks, thresholds, strict=False):
        status = "PASS" if ok else "FAIL"
        out.append((check, value, threshold, status, "" if ok else _ADVICE[key]))
    if hit_name is None:
        out.append((checks[5], "not recorded by this sampler", thresholds[5], "N/A", ""))
    else:
        share = 100.0 * hits / n_draws
        status = "PASS" if hits == 0 else "WARN"
        out.append(
            (
                checks[5],
                f"{share:.1f} % ({hits} of {n_draws} draws){deepest}",
                thresholds[5],
                status,
                "" if hits == 0 else _ADVICE["treedepth"],
            )
        )
    return pd.DataFrame(out, columns=["check", "value", "threshold", "status", "advice"])


def _parameter_check(table: pd.DataFrame, column: str, *, largest: bool) -> tuple[str, str, bool]:
    """(advice key, value text, passed) of one per-parameter check, read off ``table``."""
    key = {"r_hat": "rhat"}.get(column, column)
    values = table[column].dropna()
    if values.empty:
        return key, "not computable (NaN for every parameter)", True
    worst = values.idxmax() if largest else values.idxmin()
    fmt = ".3f" if largest else ".0f"
    failing = table.index[table[f"fails_{column}"]].tolist()
    text = f"{values[worst]:{fmt}} ({worst})"
    if len(failing) == 1:
        text += "; 1 parameter misses it"
    elif failing:
        text += f"; {len(failing)} parameters miss it: {_name_list(failing)}"
    return key, text, not failing


def _name_list(names: Sequence[str], most: int = 8) -> str:
    """``a, b, c`` or ``a, b, … and 7 more``."""
    names = list(names)
    if len(names) <= most:
        return ", ".join(names)
    return ", ".join(names[:most]) + f" and {len(names) - most} more"


def _worst_parameters(table: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    """Every parameter that misses a threshold (at most 30), or the ``n`` worst when none do."""
    failing = table[table["failing"]]
    worst = failing.head(30) if len(failing) else table.head(n)
    return pd.DataFrame(
        {
            "parameter": worst.index,
            "R-hat": [f"{v:.3f}" for v in worst["r_hat"]],
            "bulk ESS": [f"{v:.0f}" for v in worst["ess_bulk"]],
            "tail ESS": [f"{v:.0f}" for v in worst["ess_tail"]],
            "misses threshold": [m or "–" for m in worst["misses"]],
        }
    )


def _rank_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """The parameters with a rank plot: those that miss a threshold, else the worst few."""
    failing = table[table["failing"]]
    if len(failing):
        return failing.head(_RANK_MAX), True
    return table.head(_RANK_REFERENCE), False


# --------------------------------------------------------------------------- the report
def write_report(
    model: SPRModel | VolumeModel,
    path: str | os.PathLike[str],
    *,
    history: pd.DataFrame | None = None,
    holdout: pd.DataFrame | None = None,
    extra_figures: Mapping[str, Figure | str | os.PathLike[str]] | None = None,
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
    if isinstance(model, VolumeModel) and holdout is not None:
        raise ReportError(
            "holdout is checked for SPRModel reports only; a VolumeModel report checks the "
            "history it was fitted on (history=...)"
        )
    # Read the inputs first, so a bad argument fails before any plotting.
    charts = {str(name): markup.png_of(name, fig) for name, fig in (extra_figures or {}).items()}
    if isinstance(model, VolumeModel):
        volume = None if history is None else _check_volume_history(history, idata)
        body = _volume_body(model, idata, volume, charts, random_seed)
        sections = VOLUME_SECTIONS
    else:
        if history is not None:
            history = _check_history(history, idata)
        if holdout is not None:
            holdout = data_mod.validate(holdout, require_routes=True)
        body = _spr_body(model, idata, history, holdout, charts, random_seed)
        sections = SECTIONS
    page = _page(title, body[0], sections, body[1:])
    return atomic_write(lambda tmp: Path(tmp).write_text(page, encoding="utf-8"), path)


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


def _spr_body(
    model: SPRModel,
    idata: xr.DataTree,
    history: pd.DataFrame | None,
    holdout: pd.DataFrame | None,
    charts: dict[str, bytes],
    seed: int,
) -> list[Any]:
    """The facts of the header, then (section id, content) of every SPR report section."""
    table = _try_table(idata)
    n_rows = idata["observed_data"].sizes.get("row", "?") if "observed_data" in idata else "?"
    facts = [
        *_sampler_facts(model, idata),
        ("training rows (zip-days × van types)", str(n_rows)),
        ("model spec id", idata.attrs.get("bayesspr_spec_id", "–")),
        ("fitted with bayesspr", idata.attrs.get("bayesspr_version", "–")),
        *_written_facts(idata),
    ]
    return [
        facts,
        ("health", _health_html(idata, table)),
        ("trace", _trace_html(idata) + "\n" + _rank_html(idata, table)),
        ("energy", _energy_html(idata)),
        ("pair", _pair_html(idata)),
        ("forest", _forest_html(idata)),
        ("ppc", _ppc_html(model, history, seed)),
        ("loo", _loo_html(idata, history)),
        ("pit", _pit_html(model, holdout, seed)),
        ("charts", _charts_html(charts)),
    ]


def _volume_body(
    model: VolumeModel,
    idata: xr.DataTree,
    volume: pd.DataFrame | None,
    charts: dict[str, bytes],
    seed: int,
) -> list[Any]:
    """The facts of the header, then (section id, content) of every volume report section."""
    table = _try_table(idata)
    zips = model.zips
    first = f"{zips['first_date'].min():%Y-%m-%d}" if len(zips) else "–"
    last = "–" if model.last_date is None else f"{model.last_date:%Y-%m-%d}"
    regressors = "none" if model.regressors is None else ", ".join(model.regressors.columns)
    n_rows = "?"
    if "constant_data" in idata.children and "ratio_n" in idata["constant_data"]:
        n_rows = f"{int(idata['constant_data']['ratio_n'].sum()):,}"
    facts = [
        (
            "model",
            "VolumeModel: station-day totals × zip shares (log scale; station and zip "
            "coefficients integrated out)",
        ),
        *_sampler_facts(model, idata),
        ("training zip-days", n_rows),
        (
            "zips / stations / cities",
            f"{len(zips)} / {zips['station'].nunique() if len(zips) else 0} / "
            f"{zips['city'].nunique() if len(zips) else 0}",
        ),
        ("history", f"{first} to {last}"),
        ("yearly Fourier pairs", str(model.harmonics)),
        ("known regressors", regressors),
        *_written_facts(idata),
    ]
    return [
        facts,
        ("health", _health_html(idata, table)),
        ("rank", _rank_html(idata, table)),
        ("energy", _energy_html(idata)),
        ("priors", _volume_priors_html(model, idata)),
        ("ppc", _volume_ppc_html(model, volume, seed)),
        ("charts", _charts_html(charts)),
    ]


# --------------------------------------------------------------------------- sections
def _sampler_facts(model: SPRModel | VolumeModel, idata: xr.DataTree) -> list[tuple[str, str]]:
    post = idata["posterior"]
    attrs = post.attrs
    sampler = attrs.get("inference_library", "unknown sampler")
    if model.diagnostics.get("method") == "advi":
        sampler = "ADVI (approximate)"
    return [
        ("sampler", str(sampler)),
        ("chains × draws", f"{post.sizes.get('chain', 1)} × {post.sizes.get('draw', 0)}"),
        ("tuning steps", str(attrs.get("tuning_steps", "–"))),
        ("sampling time", markup.seconds(attrs.get("sampling_time"))),
    ]


def _written_facts(idata: xr.DataTree) -> list[tuple[str, str]]:
    return [
        ("fitted at", str(idata["posterior"].attrs.get("created_at", "–"))),
        (
            "report written",
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by bayesspr {installed_version()}",
        ),
    ]


def _try_table(idata: xr.DataTree) -> pd.DataFrame | None:
    """The fit's :func:`parameter_diagnostics`, or None for a fit without sampler statistics."""
    if "sample_stats" not in idata.children:
        return None
    return parameter_diagnostics(idata)


def _health_html(idata: xr.DataTree, table: pd.DataFrame | None) -> str:
    health = sampler_health(idata, table)
    failed = health.loc[health["status"] == "FAIL", "check"].tolist()
    warned = health.loc[health["status"] == "WARN", "check"].tolist()
    if (health["status"] == "N/A").all():
        verdict = ("NA", "NOT CHECKED: this is not an MCMC fit; its intervals are approximate.")
    elif failed:
        failing = [] if table is None else table.index[table["failing"]].tolist()
        named = (
            f" Parameters that miss an R-hat or ESS threshold: {_name_list(failing)}."
            if failing
            else ""
        )
        verdict = (
            "FAIL",
            f"FAIL: {len(failed)} check(s) failed ({', '.join(failed)}).{named} Do not "
            "use this fit for decisions until they pass; see the advice below.",
        )
    else:
        n = 0 if table is None else len(table)
        verdict = (
            "PASS",
            f"PASS: every sampler check is met (R-hat and ESS of all {n} parameters, "
            "divergences, E-BFMI).",
        )
    if warned and not failed:
        verdict = (verdict[0], verdict[1] + f" Efficiency warning: {', '.join(warned)}.")
    parts = [
        f'<p class="verdict {verdict[0]}">{markup.escape(verdict[1])}</p>',
        markup.html_table(health, status_col="status"),
        "<p>Thresholds: R-hat and ESS after Vehtari et al. (2021), E-BFMI after Betancourt "
        "(2016). R-hat and ESS are judged for every parameter of the posterior (each element "
        "of a vector), worst value shown with its parameter; the same per-parameter table "
        "decides the verdict, the table below and which parameters get rank plots.</p>",
    ]
    if table is not None:
        heading = (
            "Parameters that miss a threshold"
            if table["failing"].any()
            else "Worst parameters (all within the thresholds)"
        )
        parts.append(f"<h3>{markup.escape(heading)} (R-hat, bulk and tail ESS; ArviZ)</h3>")
        parts.append(markup.html_table(_worst_parameters(table)))
    return "\n".join(parts)


def _hyper_parameters(post: xr.Dataset) -> list[str]:
    """Scalar posterior variables, in natural units where a log version has a twin."""
    scalar = [name for name in post.data_vars if set(post[name].dims) <= {"chain", "draw"}]
    return [n for n in scalar if not (n.startswith("log_") and n.removeprefix("log_") in post)]


def _trace_html(idata: xr.DataTree) -> str:
    names = _hyper_parameters(idata["posterior"].to_dataset())
    if not names:
        return markup.note("The posterior has no scalar hyper-parameters to plot.")
    return markup.plot(
        lambda: figures.trace_figure(idata, names),
        "Trace plots of the hyper-parameters",
        "Every scalar parameter of the posterior. Left: marginal density per chain; right: "
        "draws in order, one line per chain. Chains should overlap and look like stationary "
        "noise, with no trend, stuck stretch or chain apart from the others; divergences "
        "appear as ticks.",
    )


def _rank_html(idata: xr.DataTree, table: pd.DataFrame | None) -> str:
    if table is None:
        return markup.note("No sampler statistics: not an MCMC fit, so no rank plots.")
    rows, failing = _rank_rows(table)
    n_failing = int(table["failing"].sum())
    if failing:
        shown = (
            f"all {n_failing}"
            if n_failing <= _RANK_MAX
            else f"the {_RANK_MAX} worst of {n_failing}"
        )
        lead = (
            f"Rank plots of {shown} parameters that miss an R-hat or ESS threshold (titles in "
            f"red, FAIL): {_name_list(rows.index)}."
        )
    else:
        lead = (
            f"No parameter misses a threshold; the {len(rows)} with the smallest ESS are shown "
            "for reference."
        )
    return markup.plot(
        lambda: figures.rank_figure(idata, rows),
        "Rank plots of the worst parameters",
        lead + " Each chain's fractional-rank ECDF minus the uniform CDF, one line per chain; "
        "a chain whose curve pulls away from zero samples a different region than the others "
        "(the picture behind a high R-hat). Which parameters are flagged is decided by the "
        "R-hat and ESS thresholds above, not by the plot.",
    )


def _energy_html(idata: xr.DataTree) -> str:
    if "sample_stats" not in idata.children or "energy" not in idata["sample_stats"]:
        return markup.note(
            "No energy statistics: this fit was not made with Hamiltonian Monte Carlo."
        )
    return markup.plot(
        lambda: figures.energy_figure(idata),
        "Energy plot",
        "Left: E-BFMI per chain (dashed line: the threshold). Right: marginal energy and energy "
        "transition distributions. The two should be of similar width; a transition "
        f"distribution much narrower than the marginal one (E-BFMI < {EBFMI_MIN}) means the "
        "sampler cannot explore the tails.",
    )


def _pair_html(idata: xr.DataTree) -> str:
    post = idata["posterior"]
    names = [n for n in PHYSICS_CONSTANTS if n in post]
    if len(names) < 2:
        return markup.note("Fewer than two physics constants in the posterior: no pair plot.")
    n_div = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        n_div = int(idata["sample_stats"]["diverging"].sum())
    mark = (
        f"{n_div} divergent transitions are marked in red in the scatter panels; look for where "
        "they cluster (a funnel or a ridge)."
        if n_div
        else "The fit has no divergent transitions, so none are marked."
    )
    return markup.plot(
        lambda: figures.pair_figure(idata, names),
        "Pair plot of the physics constants",
        "Joint posterior of the global and population physics constants; the diagonal shows "
        "each one's marginal density. Strong correlations show what the data cannot tell "
        "apart (docs/model.md, identifiability). " + mark,
    )


def _forest_html(idata: xr.DataTree) -> str:
    post = idata["posterior"]
    parts = [
        markup.plot(
            lambda name=name, label=label: figures.forest_figure(idata, name, label),
            title,
            f"Posterior median with central 50 % (thick) and {100 * DEFAULT_INTERVAL:.0f} % (thin) "
            "credible intervals, chains combined.",
        )
        for name, title, label in _FOREST
        if name in post
    ]
    return "\n".join(parts) or markup.note("No city or station effects in the posterior.")


def _ppc_html(model: SPRModel, history: pd.DataFrame | None, seed: int) -> str:
    if history is None:
        return markup.note(
            "No training table was given (pass history=... to write_report), so the observed "
            "and replicated SPR cannot be compared: the fit's observed data holds routes but "
            "not the packages they carried."
        )
    plan = history.drop(columns=["routes", "route_km"], errors="ignore")
    draws = model.predict_draws(plan, random_seed=seed, max_samples=500)
    routes = draws["routes"].to_numpy()
    packages = history["packages"].to_numpy(float)
    observed = packages / history["routes"].to_numpy(float)
    cities = sorted(history["city"].unique())
    predictive, obs, rows = {}, {}, []
    for city in cities:
        mask = (history["city"] == city).to_numpy()
        dim = f"row_{len(predictive)}"
        name = f"SPR {city}"
        spr = packages[mask][None, :] / routes[:, mask]
        predictive[name] = xr.DataArray(spr[None], dims=("chain", "draw", dim))
        obs[name] = xr.DataArray(observed[mask], dims=(dim,))
        total = packages[mask].sum() / routes[:, mask].sum(axis=1)
        lo, med, hi = np.quantile(total, [0.05, 0.5, 0.95])
        seen = packages[mask].sum() / history["routes"].to_numpy(float)[mask].sum()
        rows.append(
            (
                city,
                int(mask.sum()),
                f"{seen:.1f}",
                f"{med:.1f}",
                f"{lo:.1f} – {hi:.1f}",
                f"{(total >= seen).mean():.2f}",
            )
        )
    tree = xr.DataTree.from_dict(
        {
            "posterior_predictive": xr.Dataset(predictive),
            "observed_data": xr.Dataset(obs),
        }
    )
    table = pd.DataFrame(
        rows,
        columns=[
            "city",
            "rows",
            "observed SPR (packages per route)",
            "replicated SPR, median",
            "replicated SPR, 90 % interval",
            "P(replicated ≥ observed)",
        ],
    )
    return "\n".join(
        [
            markup.plot(
                lambda: figures.ppc_figure(tree),
                "Observed and replicated SPR by city",
                "Distribution of SPR (packages per route) over the training rows: observed "
                "(black) and 50 datasets replicated from the posterior (blue), one panel per "
                "city. The observed curve should lie inside the band of replicated ones.",
            ),
            "<p>Aggregate SPR per city (all packages over all routes) in the data and in 500 "
            "replicated datasets. A tail probability near 0 or 1 means the model misses the "
            "city's level.</p>",
            markup.html_table(table),
        ]
    )


def _loo_html(idata: xr.DataTree, history: pd.DataFrame | None) -> str:
    if "log_likelihood" not in idata.children:
        return markup.note("The fit has no log_likelihood group: PSIS-LOO cannot be computed.")
    results = {name: psis_loo(idata, name) for name in idata["log_likelihood"].data_vars}
    stats_rows, k_rows = [], []
    for name, loo in results.items():
        k = loo.pareto_k
        good = loo.good_k
        stats_rows.append(
            (
                name,
                f"{loo.elpd:.1f}",
                f"{loo.se:.1f}",
                f"{loo.p_loo:.1f}",
                loo.n_rows,
                loo.n_certain,
                loo.n_samples,
            )
        )
        for label, inside in (
            (f"good (k ≤ {good:.2f})", k <= good),
            (f"bad ({good:.2f} < k ≤ 1)", (k > good) & (k <= 1.0)),
            ("very bad (k > 1)", k > 1.0),
            ("exact (certain outcome)", np.isnan(k)),
        ):
            k_rows.append((name, label, int(inside.sum()), f"{100 * inside.mean():.1f} %"))
    columns = [
        "observed variable",
        "elpd_loo",
        "SE",
        "p_loo",
        "rows",
        "certain rows",
        "posterior draws",
    ]
    parts = [
        markup.html_table(pd.DataFrame(stats_rows, columns=columns)),
        "<h3>Pareto k of each row</h3>",
        markup.html_table(
            pd.DataFrame(k_rows, columns=["observed variable", "range", "rows", "share"])
        ),
        "<p>Ranges as ArviZ reports them: the good-k threshold is min(1 − 1/log10(S), 0.7) for "
        "S posterior draws. Rows with k above it are influential: their LOO estimate is not "
        "reliable, and they are often data errors or rows unlike the rest. A row whose "
        "log-likelihood is the same on every draw (a certain outcome, such as one possible "
        "route count) has an exact leave-one-out term and no Pareto k; it is counted as "
        "“certain” and kept out of the smoothing.</p>",
    ]
    for name, loo in results.items():
        if loo.smoothed is None:
            continue
        parts.append(
            markup.plot(
                lambda loo=loo: figures.khat_figure(loo.smoothed),
                f"Pareto k per row: {name}",
                f"Pareto k of each training row for the {name} likelihood (certain rows left out).",
            )
        )
    worst = _worst_k_rows(results, history)
    if worst is not None:
        parts.append("<h3>Rows with the highest Pareto k</h3>")
        parts.append(markup.html_table(worst))
    return "\n".join(parts)


def _worst_k_rows(
    results: dict[str, LooResult], history: pd.DataFrame | None
) -> pd.DataFrame | None:
    """Training rows whose k exceeds the good-k threshold for any likelihood (at most 15)."""
    if not results:
        return None
    ks = pd.DataFrame({name: loo.pareto_k for name, loo in results.items()})
    good = min(loo.good_k for loo in results.values())
    worst = ks.max(axis=1).sort_values(ascending=False)
    worst = worst[worst > good].head(15)
    if worst.empty:
        return None
    out = ks.loc[worst.index].round(2).rename(columns={name: f"k ({name})" for name in ks})
    out.insert(0, "row", worst.index)
    if history is not None:
        cols = ["date", "city", "station", "zip", "van_capacity", "packages", "stops", "routes"]
        rows = history.iloc[worst.index.to_numpy()][cols].reset_index(drop=True)
        rows["date"] = rows["date"].dt.strftime("%Y-%m-%d")
        rows = rows.rename(columns={"routes": "observed routes"})
        out = pd.concat([out.reset_index(drop=True), rows], axis=1)
    return out


def _pit_html(model: SPRModel, holdout: pd.DataFrame | None, seed: int) -> str:
    if holdout is None:
        return markup.note(
            "No held-out data was given (pass holdout=... with observed routes), so the "
            "calibration of forecasts was not checked."
        )
    plan = holdout.drop(columns=["routes", "route_km"], errors="ignore")
    draws = model.predict_draws(plan, random_seed=seed, max_samples=1000)["routes"].to_numpy()
    observed = holdout["routes"].to_numpy()
    pit = randomised_pit(draws, observed, np.random.default_rng(seed))
    groups = [("all", np.ones(len(holdout), bool))] + [
        (city, (holdout["city"] == city).to_numpy()) for city in sorted(holdout["city"].unique())
    ]
    rows = [
        (label, int(mask.sum()), *(f"{pit_coverage(pit[mask], lv):.3f}" for lv in COVERAGE_LEVELS))
        for label, mask in groups
    ]
    table = pd.DataFrame(
        rows, columns=["held-out rows", "rows", *(f"coverage {lv:.0%}" for lv in COVERAGE_LEVELS)]
    )
    span = f"{holdout['date'].min():%Y-%m-%d} to {holdout['date'].max():%Y-%m-%d}"
    tree = xr.DataTree.from_dict({"pit": xr.Dataset({"routes (held out)": ("row", pit)})})
    return "\n".join(
        [
            f"<p>{len(holdout)} held-out rows ({markup.escape(span)}), forecast from the fit. "
            "Routes are whole numbers, so calibration is read off the randomised PIT, which is "
            "uniform on [0, 1] under a calibrated forecast (<code>bayesspr.evaluation</code>). "
            "Coverage of the central intervals should be close to 0.50 / 0.80 / 0.90.</p>",
            markup.html_table(table),
            markup.plot(
                lambda: figures.pit_figure(tree),
                "PIT ECDF difference of the held-out routes",
                "ECDF of the randomised PIT values minus the uniform CDF, with ArviZ's test of "
                "uniformity (p-value and α shown); a calibrated forecast stays near zero. Too "
                "narrow forecasts: above zero at low PIT, below at high PIT; too wide: the "
                "reverse. Mostly below zero: observed routes fall high in their forecasts "
                "(forecasts too low); mostly above zero: forecasts too high.",
            ),
        ]
    )


def _charts_html(charts: dict[str, bytes]) -> str:
    if not charts:
        return markup.note(
            "No forecast or fleet charts were attached (pass extra_figures={name: figure or "
            "PNG path} to write_report)."
        )
    return "\n".join(
        f"<h3>{markup.escape(name)}</h3>\n{markup.embed_png(png, name, '')}"
        for name, png in charts.items()
    )


# --------------------------------------------------------------------------- volume sections
def _volume_priors_html(model: VolumeModel, idata: xr.DataTree) -> str:
    post = idata["posterior"].to_dataset()
    rows = []
    for options, variable, dist in _VOLUME_PRIORS:
        if variable not in post:
            continue
        draws = post[variable]
        stacked = draws.stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()
        flat = stacked.reshape(stacked.shape[0], -1)
        medians = np.median(flat, axis=0)
        lo, hi = np.quantile(flat, central_bounds(DEFAULT_INTERVAL), axis=0)
        if flat.shape[1] == 1:
            posterior = f"{medians[0]:.3g} ({lo[0]:.3g} – {hi[0]:.3g})"
        else:
            posterior = (
                f"{flat.shape[1]} elements; medians {medians.min():.3g} – {medians.max():.3g}, "
                f"intervals within {lo.min():.3g} – {hi.max():.3g}"
            )
        rows.append(
            (variable, figures.unit_of(variable), options, dist.format(**model.priors), posterior)
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "parameter",
            "unit",
            "prior option",
            "prior",
            f"posterior median ({100 * DEFAULT_INTERVAL:.0f} % interval)",
        ],
    )
    return "\n".join(
        [
            "<p>Each prior of the volume model (<code>VolumeModel(priors=...)</code>, defaults "
            "in <code>bayesspr.volume.VOLUME_PRIORS</code>) next to the posterior of the "
            "parameter it governs. Each station's and zip's own coefficients (level, growth, "
            "weekday, yearly cycle, drift) are integrated out of the fit, so only the city "
            "means, spreads, drifts and noise scales have posteriors here. A posterior that "
            "fills its "
            "prior (a spread near the prior's scale) says the data add little about that "
            "parameter; a posterior against zero, or at the prior's edge, may call for "
            "another prior.</p>",
            markup.html_table(table),
        ]
    )


def _volume_ppc_html(model: VolumeModel, volume: pd.DataFrame | None, seed: int) -> str:
    if volume is None:
        return markup.note(
            "No training table was given (pass history=... to write_report), so the observed "
            "and replicated daily stops cannot be compared."
        )
    days = _volume_replicates(model, volume, seed)
    pit = randomised_pit(days["draws"], days["observed"], np.random.default_rng(seed))
    frame = days["frame"].assign(pit=pit)
    groups = [("all", np.ones(len(frame), bool))] + [
        (station, (frame["station"] == station).to_numpy())
        for station in sorted(frame["station"].unique())
    ]
    rows = []
    for label, mask in groups:
        per_draw = days["draws"][:, mask].mean(axis=1)
        lo, hi = np.quantile(per_draw, central_bounds(DEFAULT_INTERVAL))
        rows.append(
            (
                label,
                int(mask.sum()),
                f"{frame['observed'][mask].mean():.1f}",
                f"{np.median(per_draw):.1f} ({lo:.1f} – {hi:.1f})",
                *(f"{pit_coverage(pit[mask], lv):.3f}" for lv in (0.5, DEFAULT_INTERVAL)),
            )
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "station",
            "station-days",
            "observed stops per day (mean)",
            f"replicated stops per day, mean ({100 * DEFAULT_INTERVAL:.0f} % interval)",
            "coverage 50 %",
            f"coverage {100 * DEFAULT_INTERVAL:.0f} %",
        ],
    )
    stations = sorted(frame["station"].unique())
    shown = stations[:_PPC_STATIONS_MAX]
    more = (
        f" The first {len(shown)} of {len(stations)} stations are drawn; the table has all."
        if len(shown) < len(stations)
        else ""
    )
    n_samples = days["draws"].shape[0]
    return "\n".join(
        [
            f"<p>Daily stops per station (the zip-days of the history summed by the station "
            f"that served them) against {n_samples} datasets replicated from the posterior: "
            "<code>VolumeModel.volume_draws</code> on the history's own days and zips, the "
            "draws its forecast makes. Coverage is read off the randomised PIT "
            "(<code>bayesspr.evaluation</code>), as for routes; it should be close to 0.50 / "
            f"{DEFAULT_INTERVAL:.2f}. Low coverage with the observed days outside the band on "
            "one side means the level or trend is off; outside on both sides, too little "
            "day-to-day spread (noise_sd_station).</p>",
            markup.html_table(table),
            markup.plot(
                lambda: figures.volume_ppc_figure(frame, shown),
                "Observed and replicated daily stops by station",
                "Observed daily stops per station (black dots) with the median (line) and "
                f"central 50 % and {100 * DEFAULT_INTERVAL:.0f} % intervals (bands) of the "
                "replicated ones." + more,
            ),
        ]
    )


def _volume_replicates(model: VolumeModel, volume: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Posterior-predictive daily stops of every station-day of the history.

    The draws are :meth:`VolumeModel.volume_draws` on the history's days and zips (chunked
    over zips), summed over the zips each station served that day.
    """
    post = model.posterior_samples(300, random_seed=seed)
    n_samples = post.sizes["sample"]
    dates = pd.DatetimeIndex(np.sort(volume["date"].unique()))
    zips = np.asarray(sorted(volume["zip"].unique()))
    day_idx = dates.get_indexer(volume["date"])
    zip_idx = pd.Index(zips).get_indexer(volume["zip"])
    keys = volume.groupby(["station", "date"], sort=True).ngroup().to_numpy()
    station_days = volume.groupby(["station", "date"], sort=True)["stops"].sum()
    totals = np.zeros((n_samples, len(station_days)))
    chunk = max(1, int(2e7 // (n_samples * len(dates))))
    for k, start in enumerate(range(0, len(zips), chunk)):
        block = zips[start : start + chunk]
        stops, _ = model.volume_draws(post, dates, block, np.random.SeedSequence([seed, 7, k]))
        rows = np.flatnonzero((zip_idx >= start) & (zip_idx < start + len(block)))
        np.add.at(totals, (slice(None), keys[rows]), stops[:, day_idx[rows], zip_idx[rows] - start])
    frame = station_days.rename("observed").reset_index()
    quantiles = np.quantile(totals, [*central_bounds(DEFAULT_INTERVAL), 0.25, 0.5, 0.75], axis=0)
    for name, values in zip(("lo", "hi", "q25", "median", "q75"), quantiles, strict=True):
        frame[name] = values
    return {"frame": frame, "draws": totals, "observed": frame["observed"].to_numpy(float)}


def _check_volume_history(history: pd.DataFrame, idata: xr.DataTree) -> pd.DataFrame:
    """Daily volume per zip of ``history``, checked to be what the volume fit was made on.

    A two-level fit keeps each zip's days and total stops (``constant_data``); a zip-day fit
    keeps every observed zip-day.
    """
    volume = zip_day_volume(history)
    kept = idata["constant_data"] if "constant_data" in idata.children else None
    if kept is not None and "history_zip_stops" in kept:
        fitted = int(kept["ratio_n"].sum())
        if len(volume) != fitted:
            raise ReportError(
                f"history has {len(volume)} zip-days but the volume fit was made on {fitted}: "
                "pass the table the model was fitted on"
            )
        sums = volume.groupby("zip")["stops"].sum().reindex(kept["zip"].to_numpy())
        bad = int(
            np.sum(sums.to_numpy(float) != kept["history_zip_stops"].to_numpy().astype(float))
        )
        if bad:
            raise ReportError(
                f"history's daily stops differ from the fit's observed stops in {bad} zips: "
                "pass the table the model was fitted on"
            )
        return volume
    _check_fitted_on(
        idata,
        "stops",
        volume["stops"].to_numpy(),
        "history has {given} zip-days but the volume fit was made on {fitted}: pass the table "
        "the model was fitted on",
        "history's daily stops differ from the fit's observed stops on {bad} zip-days: pass "
        "the table the model was fitted on",
    )
    return volume


def _check_fitted_on(
    idata: xr.DataTree, variable: str, given: np.ndarray, other_size: str, other_values: str
) -> None:
    """Raise ValueError unless ``given`` are the fit's observed ``variable``, in order.

    A fit saved without its observed data cannot be checked and passes. ``other_size`` is
    the message when the counts differ (``{given}``, ``{fitted}``: their lengths),
    ``other_values`` when values do (``{bad}``: how many).
    """
    if "observed_data" not in idata.children or variable not in idata["observed_data"]:
        return
    fitted = idata["observed_data"][variable].to_numpy()
    if len(fitted) != len(given):
        raise ReportError(other_size.format(given=len(given), fitted=len(fitted)))
    if not np.array_equal(fitted, given):
        raise ReportError(other_values.format(bad=int(np.sum(fitted != given))))


def _check_history(history: pd.DataFrame, idata: xr.DataTree) -> pd.DataFrame:
    """Validate ``history`` and check that it is the table the fit's routes came from."""
    clean = data_mod.validate(history, require_routes=True)
    _check_fitted_on(
        idata,
        "routes",
        clean["routes"].to_numpy(float),
        "history has {given} rows but the fit was made on {fitted}: pass the table the model "
        "was fitted on",
        "history's routes differ from the fit's observed routes in {bad} rows: pass the table "
        "the model was fitted on, in the same order",
    )
    return clean
