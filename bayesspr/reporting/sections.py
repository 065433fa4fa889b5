"""The report sections both models share, and the check that a history is the fitted one.

Sampler health against fixed thresholds with advice (:func:`sampler_health`), trace and rank
plots, the energy plot and attached charts. Which parameters miss an R-hat or ESS threshold is
decided once, by :func:`~bayesspr.inference.diagnostics.parameter_diagnostics`; the health
table, the verdict banner, the worst-parameters table and the rank plots all read that one
table, so they cannot disagree. Each ``*_section`` function returns the HTML of one section.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.defaults import (
    EBFMI_MIN,
    ESS_MIN,
    RHAT_MAX,
    installed_version,
)
from bayesspr.errors import ReportError
from bayesspr.inference.diagnostics import (
    convergence,
    ebfmi_by_chain,
    parameter_diagnostics,
    worst_energy_block,
)
from bayesspr.reporting import figures, markup
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel

#: At most this many parameters that miss a threshold get a rank plot (the worst first); when
#: none misses one, the rank plots show this many of the worst for reference.
_RANK_MAX = 12


_RANK_REFERENCE = 4


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
    ebfmi_da = ebfmi_by_chain(idata)
    blocks = [str(b) for b in ebfmi_da["block"].to_numpy()] if "block" in ebfmi_da.dims else []
    ebfmi = np.atleast_1d(np.asarray(ebfmi_da.transpose(..., "chain"), dtype=float))
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
            _ebfmi_text(ebfmi, blocks),
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


def _ebfmi_text(ebfmi: np.ndarray, blocks: list[str]) -> str:
    """E-BFMI values per chain, grouped by block for a fit sampled in blocks."""
    if not blocks:
        return "per chain: " + ", ".join(f"{v:.2f}" for v in ebfmi.ravel())
    return "per chain, by block: " + "; ".join(
        f"{name} " + ", ".join(f"{v:.2f}" for v in row)
        for name, row in zip(blocks, ebfmi, strict=True)
    )


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


def sampler_facts(model: SPRModel | VolumeModel, idata: xr.DataTree) -> list[tuple[str, str]]:
    """Header facts of a fit: sampler, chains × draws, tuning steps, sampling time (s)."""
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


def written_facts(idata: xr.DataTree) -> list[tuple[str, str]]:
    """Header facts: when the fit was made and when (and by which version) the report was."""
    return [
        ("fitted at", str(idata["posterior"].attrs.get("created_at", "–"))),
        (
            "report written",
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by bayesspr {installed_version()}",
        ),
    ]


def diagnostics_table(idata: xr.DataTree) -> pd.DataFrame | None:
    """The fit's :func:`parameter_diagnostics`, or None for a fit without sampler statistics."""
    if "sample_stats" not in idata.children:
        return None
    return parameter_diagnostics(idata)


def health_section(idata: xr.DataTree, table: pd.DataFrame | None) -> str:
    """HTML of the sampler-health section: verdict banner, checks with advice, worst parameters."""
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


def trace_section(idata: xr.DataTree) -> str:
    """HTML of the trace plots of every scalar hyper-parameter."""
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


def rank_section(idata: xr.DataTree, table: pd.DataFrame | None) -> str:
    """HTML of the rank plots of the parameters that miss a threshold (else the worst few)."""
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


def energy_section(idata: xr.DataTree) -> str:
    """HTML of the energy plot (E-BFMI per chain; marginal vs transition energy)."""
    if "sample_stats" not in idata.children or "energy" not in idata["sample_stats"]:
        return markup.note(
            "No energy statistics: this fit was not made with Hamiltonian Monte Carlo."
        )
    shown, block = worst_energy_block(idata)
    which = (
        f"The fit was sampled in independent blocks; this is the block of lowest E-BFMI ({block}). "
        if block
        else ""
    )
    return markup.plot(
        lambda: figures.energy_figure(shown),
        "Energy plot",
        which + "Left: E-BFMI per chain (dashed line: the threshold). Right: marginal energy "
        "and energy transition distributions. The two should be of similar width; a transition "
        f"distribution much narrower than the marginal one (E-BFMI < {EBFMI_MIN}) means the "
        "sampler cannot explore the tails.",
    )


def charts_section(charts: dict[str, bytes]) -> str:
    """HTML of the attached forecast and fleet charts (PNG bytes by heading)."""
    if not charts:
        return markup.note(
            "No forecast or fleet charts were attached (pass extra_figures={name: figure or "
            "PNG path} to write_report)."
        )
    return "\n".join(
        f"<h3>{markup.escape(name)}</h3>\n{markup.embed_png(png, name, '')}"
        for name, png in charts.items()
    )


def check_fitted_on(
    idata: xr.DataTree, variable: str, given: np.ndarray, other_size: str, other_values: str
) -> None:
    """Raise ReportError unless ``given`` are the fit's observed ``variable``, in order.

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
