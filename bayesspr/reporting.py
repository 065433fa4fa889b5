"""One self-contained HTML report that a reviewer reads to decide whether to trust a fit.

Sections (in order, see :data:`SECTIONS` and ``docs/report.md``): sampler health against
fixed thresholds with advice, trace and rank plots of the hyper-parameters, the energy plot,
a pair plot of the physics constants with divergences marked, forest plots of the city and
station effects, posterior predictive checks of SPR by city, PSIS-LOO with Pareto-k,
calibration (randomised PIT) on held-out data, and attached forecast / fleet charts.

Statistics come from ``arviz_stats`` and plots from ``arviz_plots`` (matplotlib backend);
nothing is re-implemented here. Images are embedded as base64 PNG ``data:`` URIs, there is
no external CSS or JavaScript, so the file opens offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import version as _pkg_version
from pathlib import Path
from typing import Any

import arviz_plots as azp
import arviz_stats as azs
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from bayesspr import data as data_mod
from bayesspr.diagnostics import EBFMI_MIN, ESS_MIN, RHAT_MAX, convergence
from bayesspr.evaluate import pit_coverage, randomized_pit
from bayesspr.io import atomic_write
from bayesspr.model import DEFAULT_INTERVAL, NotFittedError, SPRModel

__all__ = ["PHYSICS_CONSTANTS", "SECTIONS", "sampler_health", "write_report"]

#: (anchor id, heading) of every section, in the order they appear in the report.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("health", "Sampler health"),
    ("trace", "Trace and rank plots of the hyper-parameters"),
    ("energy", "Energy"),
    ("pair", "Pair plot of the physics constants"),
    ("forest", "City and station effects"),
    ("ppc", "Posterior predictive check: SPR by city"),
    ("loo", "PSIS-LOO and Pareto k"),
    ("pit", "Calibration on held-out data (PIT)"),
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

#: Group effects shown as forest plots: (posterior name, title with unit).
_FOREST = (
    ("service_min_city", "Service time per stop by city (min)"),
    ("speed_kmh_city", "Speed between stops by city (km/h)"),
    ("overhead_hours_station", "Dispatch overhead by station (h per route)"),
)

#: Central interval masses whose coverage is read off the held-out PIT.
_COVERAGE_LEVELS = (0.5, 0.8, 0.9)

_DPI = 80
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

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

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1em 2em; color: #1a1a1a; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0 1em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.PASS { background: #d9f2d9; font-weight: bold; }
.FAIL { background: #f8d0d0; font-weight: bold; }
.WARN { background: #fbefc8; font-weight: bold; }
.NA { background: #eeeeee; }
.verdict { font-size: 1.1em; padding: .5em .8em; border-radius: 4px; display: inline-block; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; }
.note { color: #444; font-style: italic; }
.error { color: #a00000; }
nav ol { columns: 2; }
"""


# --------------------------------------------------------------------------- sampler health
def sampler_health(idata: xr.DataTree) -> pd.DataFrame:
    """Sampler health of a fit, one row per check, judged against the usual thresholds.

    R-hat, bulk and tail ESS, divergences and E-BFMI come from
    :func:`bayesspr.diagnostics.convergence` (ArviZ), so the verdict matches
    ``SPRModel.diagnostics``; the share of draws whose tree hit the maximum depth is added as
    an efficiency warning.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit with ``posterior`` and, for MCMC, ``sample_stats`` groups.

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
    conv = convergence(idata)
    stats = idata["sample_stats"].to_dataset()
    ebfmi = np.atleast_1d(np.asarray(azs.bfmi(idata)["energy"], dtype=float))
    hit_name = next((n for n in ("maxdepth_reached", "reached_max_treedepth") if n in stats), None)
    depth_name = next((n for n in ("depth", "tree_depth") if n in stats), None)
    n_draws = stats.sizes.get("chain", 1) * stats.sizes.get("draw", 1)
    hits = int(stats[hit_name].sum()) if hit_name else 0
    deepest = f"; deepest tree {int(stats[depth_name].max())}" if depth_name else ""

    rows = [
        ("rhat", f"{conv['rhat_max']:.3f} ({conv['rhat_worst']})", conv["rhat_max"] <= RHAT_MAX),
        (
            "ess_bulk",
            f"{conv['ess_bulk_min']:.0f} ({conv['ess_bulk_worst']})",
            conv["ess_bulk_min"] >= ESS_MIN,
        ),
        (
            "ess_tail",
            f"{conv['ess_tail_min']:.0f} ({conv['ess_tail_worst']})",
            conv["ess_tail_min"] >= ESS_MIN,
        ),
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


def _worst_parameters(idata: xr.DataTree, n: int = 12) -> pd.DataFrame:
    """R-hat and ESS of the ``n`` worst posterior parameters (ArviZ summary)."""
    summary = azs.summary(idata, kind="diagnostics", round_to="none")
    table = pd.DataFrame(summary)[["r_hat", "ess_bulk", "ess_tail"]].astype(float)
    fails = (
        (table["r_hat"] > RHAT_MAX).astype(int)
        + (table["ess_bulk"] < ESS_MIN).astype(int)
        + (table["ess_tail"] < ESS_MIN).astype(int)
    )
    order = pd.DataFrame({"fails": fails, "ess": table[["ess_bulk", "ess_tail"]].min(axis=1)})
    order = order.sort_values(["fails", "ess"], ascending=[False, True])
    worst = table.loc[order.index[:n]]
    problems = [
        ", ".join(
            label
            for label, bad in (
                ("R-hat", r > RHAT_MAX),
                ("bulk ESS", b < ESS_MIN),
                ("tail ESS", t < ESS_MIN),
            )
            if bad
        )
        or "–"
        for r, b, t in worst[["r_hat", "ess_bulk", "ess_tail"]].itertuples(index=False)
    ]
    return pd.DataFrame(
        {
            "parameter": worst.index,
            "R-hat": [f"{v:.3f}" for v in worst["r_hat"]],
            "bulk ESS": [f"{v:.0f}" for v in worst["ess_bulk"]],
            "tail ESS": [f"{v:.0f}" for v in worst["ess_tail"]],
            "misses threshold": problems,
        }
    )


# --------------------------------------------------------------------------- the report
def write_report(
    model: SPRModel,
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
    model : SPRModel
        A fitted model, or one read with :meth:`SPRModel.load`.
    path : str or os.PathLike
        Destination ``.html`` file; its folder is created if needed.
    history : pandas.DataFrame, optional
        The table the model was fitted on (canonical columns, with ``routes``). Needed for the
        posterior predictive check of SPR (packages per route) by city; checked against the
        fit's observed routes. Without it, that section says so.
    holdout : pandas.DataFrame, optional
        Held-out rows with observed ``routes``: the randomised PIT of the routes and the
        coverage of central 50 / 80 / 90 % intervals. Without it, that section says so.
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
    bayesspr.model.NotFittedError
        If the model has no fit.
    ValueError
        If ``history`` is not the table the model was fitted on, or an extra figure is neither
        a matplotlib figure nor a PNG file.
    bayesspr.data.DataError
        If ``history`` or ``holdout`` fails validation (``holdout`` needs ``routes``).
    FileNotFoundError
        If an extra figure's path does not exist.
    """
    idata = model.idata
    if idata is None:
        raise NotFittedError("SPRModel has no fit: call model.fit(df) or SPRModel.load(path)")
    # Read the inputs first, so a bad argument fails before any plotting.
    charts = {str(name): _png_of(name, fig) for name, fig in (extra_figures or {}).items()}
    if history is not None:
        history = _check_history(history, idata)
    if holdout is not None:
        holdout = data_mod.validate(holdout, require_routes=True)

    body = [
        _header(model, idata, title),
        _section("health", _health_html(idata)),
        _section("trace", _trace_html(idata)),
        _section("energy", _energy_html(idata)),
        _section("pair", _pair_html(idata)),
        _section("forest", _forest_html(idata)),
        _section("ppc", _ppc_html(model, history, random_seed)),
        _section("loo", _loo_html(idata, history)),
        _section("pit", _pit_html(model, holdout, random_seed)),
        _section("charts", _charts_html(charts)),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    return atomic_write(lambda tmp: Path(tmp).write_text(page, encoding="utf-8"), path)


# --------------------------------------------------------------------------- sections
def _header(model: SPRModel, idata: xr.DataTree, title: str) -> str:
    post = idata["posterior"]
    attrs = post.attrs
    sampler = attrs.get("inference_library", "unknown sampler")
    if model.diagnostics.get("method") == "advi":
        sampler = "ADVI (approximate)"
    n_rows = idata["observed_data"].sizes.get("row", "?") if "observed_data" in idata else "?"
    facts = [
        ("sampler", sampler),
        ("chains × draws", f"{post.sizes.get('chain', 1)} × {post.sizes.get('draw', 0)}"),
        ("tuning steps", str(attrs.get("tuning_steps", "–"))),
        ("sampling time", _seconds(attrs.get("sampling_time"))),
        ("training rows (zip-days × van types)", str(n_rows)),
        ("model spec id", idata.attrs.get("bayesspr_spec_id", "–")),
        ("fitted with bayesspr", idata.attrs.get("bayesspr_version", "–")),
        ("fitted at", attrs.get("created_at", "–")),
        (
            "report written",
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by bayesspr {_pkg_version('bayesspr')}",
        ),
    ]
    toc = "".join(f'<li><a href="#{sid}">{_esc(head)}</a></li>' for sid, head in SECTIONS)
    return (
        f"<h1>{_esc(title)}</h1>\n"
        + _table(pd.DataFrame(facts, columns=["", ""]), header=False)
        + f"\n<nav><ol>{toc}</ol></nav>"
    )


def _section(section_id: str, content: str) -> str:
    heading = dict(SECTIONS)[section_id]
    return f'<section id="{section_id}">\n<h2>{_esc(heading)}</h2>\n{content}\n</section>'


def _health_html(idata: xr.DataTree) -> str:
    health = sampler_health(idata)
    failed = health.loc[health["status"] == "FAIL", "check"].tolist()
    warned = health.loc[health["status"] == "WARN", "check"].tolist()
    if (health["status"] == "N/A").all():
        verdict = ("NA", "NOT CHECKED: this is not an MCMC fit; its intervals are approximate.")
    elif failed:
        verdict = (
            "FAIL",
            f"FAIL: {len(failed)} check(s) failed ({', '.join(failed)}). Do not "
            "use this fit for decisions until they pass; see the advice below.",
        )
    else:
        verdict = ("PASS", "PASS: every sampler check is met.")
    if warned and not failed:
        verdict = (verdict[0], verdict[1] + f" Efficiency warning: {', '.join(warned)}.")
    parts = [
        f'<p class="verdict {verdict[0]}">{_esc(verdict[1])}</p>',
        _table(health, status_col="status"),
        "<p>Thresholds: R-hat and ESS after Vehtari et al. (2021), E-BFMI after Betancourt "
        "(2016). R-hat and ESS are taken over every parameter of the posterior, worst value "
        "shown with its parameter.</p>",
    ]
    if "sample_stats" in idata.children:
        parts.append("<h3>Worst parameters (R-hat, bulk and tail ESS; ArviZ summary)</h3>")
        parts.append(_try(lambda: _table(_worst_parameters(idata))))
    return "\n".join(parts)


def _hyper_parameters(post: xr.Dataset) -> list[str]:
    """Scalar posterior variables, in natural units where a log version has a twin."""
    scalar = [name for name in post.data_vars if set(post[name].dims) <= {"chain", "draw"}]
    return [n for n in scalar if not (n.startswith("log_") and n.removeprefix("log_") in post)]


def _trace_html(idata: xr.DataTree) -> str:
    names = _hyper_parameters(idata["posterior"].to_dataset())
    if not names:
        return _note("The posterior has no scalar hyper-parameters to plot.")
    size = (13.0, 2.6 * -(-len(names) // 4))  # arviz_plots wraps 4 panels a row
    return "\n".join(
        [
            _plot(
                lambda: azp.plot_trace_dist(idata, var_names=names, backend="matplotlib"),
                "Trace plots of the hyper-parameters",
                "Left: marginal density per chain; right: draws in order, one line per chain. "
                "Chains should overlap and look like stationary noise, with no trend, stuck "
                "stretch or chain apart from the others; divergences appear as ticks.",
            ),
            _plot(
                lambda: azp.plot_rank(
                    idata, var_names=names, backend="matplotlib", figure_kwargs={"figsize": size}
                ),
                "Rank plots of the hyper-parameters",
                "Each chain's fractional-rank ECDF minus the uniform CDF, with ArviZ's test of "
                "uniform ranks (p-value and α shown). Curves far from zero, one per chain "
                "pulling apart from the others, mean the chains sample different regions.",
                tight=True,
            ),
        ]
    )


def _energy_html(idata: xr.DataTree) -> str:
    if "sample_stats" not in idata.children or "energy" not in idata["sample_stats"]:
        return _note("No energy statistics: this fit was not made with Hamiltonian Monte Carlo.")
    return _plot(
        lambda: azp.plot_energy(idata, backend="matplotlib"),
        "Energy plot",
        "Marginal energy and energy transition distributions, with E-BFMI per chain. The two "
        "should be of similar width; a transition distribution much narrower than the marginal "
        f"one (E-BFMI < {EBFMI_MIN}) means the sampler cannot explore the tails.",
    )


def _pair_html(idata: xr.DataTree) -> str:
    post = idata["posterior"]
    names = [n for n in PHYSICS_CONSTANTS if n in post]
    if len(names) < 2:
        return _note("Fewer than two physics constants in the posterior: no pair plot.")
    n_div = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        n_div = int(idata["sample_stats"]["diverging"].sum())
    mark = (
        f"{n_div} divergent transitions are marked in red in the scatter panels; look for where "
        "they cluster (a funnel or a ridge)."
        if n_div
        else "The fit has no divergent transitions, so none are marked."
    )
    return _plot(
        lambda: azp.plot_pair(
            idata, var_names=names, visuals={"divergence": {"color": "red"}}, backend="matplotlib"
        ),
        "Pair plot of the physics constants",
        "Joint posterior of the global and population physics constants. Strong correlations "
        "show what the data cannot tell apart (docs/model.md, identifiability). " + mark,
    )


def _forest_html(idata: xr.DataTree) -> str:
    post = idata["posterior"]
    n_samples = post.sizes.get("chain", 1) * post.sizes.get("draw", 1)
    parts = [
        _plot(
            lambda name=name: azp.plot_forest(
                idata,
                var_names=[name],
                combined=True,
                point_estimate="median",
                ci_kind="eti",
                ci_probs=(0.5, DEFAULT_INTERVAL),
                backend="matplotlib",
                figure_kwargs={"figsize": (10.0, 1.0 + 0.5 * post[name].size / n_samples)},
            ),
            title,
            f"Posterior median with central 50 % (thick) and {100 * DEFAULT_INTERVAL:.0f} % (thin) "
            "credible intervals, chains combined.",
        )
        for name, title in _FOREST
        if name in post
    ]
    return "\n".join(parts) or _note("No city or station effects in the posterior.")


def _ppc_html(model: SPRModel, history: pd.DataFrame | None, seed: int) -> str:
    if history is None:
        return _note(
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
            _plot(
                lambda: azp.plot_ppc_dist(tree, kind="kde", num_samples=50, backend="matplotlib"),
                "Observed and replicated SPR by city",
                "Distribution of SPR (packages per route) over the training rows: observed "
                "(black) and 50 datasets replicated from the posterior (blue), one panel per "
                "city. The observed curve should lie inside the band of replicated ones.",
            ),
            "<p>Aggregate SPR per city (all packages over all routes) in the data and in 500 "
            "replicated datasets. A tail probability near 0 or 1 means the model misses the "
            "city's level.</p>",
            _table(table),
        ]
    )


def _loo_html(idata: xr.DataTree, history: pd.DataFrame | None) -> str:
    if "log_likelihood" not in idata.children:
        return _note("The fit has no log_likelihood group: PSIS-LOO cannot be computed.")
    names = list(idata["log_likelihood"].data_vars)
    parts, stats_rows, k_rows = [], [], []
    results = {}
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the table below reports the k's
            loo = azs.loo(idata, var_name=name, pointwise=True)
        results[name] = loo
        k = np.asarray(loo.pareto_k).ravel()
        good = float(loo.good_k)
        stats_rows.append(
            (
                name,
                f"{loo.elpd:.1f}",
                f"{loo.se:.1f}",
                f"{loo.p:.1f}",
                loo.n_data_points,
                loo.n_samples,
            )
        )
        for label, inside in (
            (f"good (k ≤ {good:.2f})", k <= good),
            (f"bad ({good:.2f} < k ≤ 1)", (k > good) & (k <= 1.0)),
            ("very bad (k > 1)", k > 1.0),
        ):
            k_rows.append((name, label, int(inside.sum()), f"{100 * inside.mean():.1f} %"))
    parts.append(
        _table(
            pd.DataFrame(
                stats_rows,
                columns=["observed variable", "elpd_loo", "SE", "p_loo", "rows", "posterior draws"],
            )
        )
    )
    parts.append("<h3>Pareto k of each row</h3>")
    parts.append(
        _table(pd.DataFrame(k_rows, columns=["observed variable", "range", "rows", "share"]))
    )
    parts.append(
        "<p>Ranges as ArviZ reports them: the good-k threshold is min(1 − 1/log10(S), 0.7) for "
        "S posterior draws. Rows with k above it are influential: their LOO estimate is not "
        "reliable, and they are often data errors or rows unlike the rest.</p>"
    )
    for name, loo in results.items():
        parts.append(
            _plot(
                lambda loo=loo: azp.plot_khat(loo, backend="matplotlib"),
                f"Pareto k per row: {name}",
                f"Pareto k of each training row for the {name} likelihood.",
            )
        )
    worst = _worst_k_rows(results, history)
    if worst is not None:
        parts.append("<h3>Rows with the highest Pareto k</h3>")
        parts.append(_table(worst))
    return "\n".join(parts)


def _worst_k_rows(results: dict[str, Any], history: pd.DataFrame | None) -> pd.DataFrame | None:
    """Training rows whose k exceeds the good-k threshold for any likelihood (at most 15)."""
    if not results:
        return None
    ks = pd.DataFrame({name: np.asarray(loo.pareto_k).ravel() for name, loo in results.items()})
    good = min(float(loo.good_k) for loo in results.values())
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
        return _note(
            "No held-out data was given (pass holdout=... with observed routes), so the "
            "calibration of forecasts was not checked."
        )
    plan = holdout.drop(columns=["routes", "route_km"], errors="ignore")
    draws = model.predict_draws(plan, random_seed=seed, max_samples=1000)["routes"].to_numpy()
    observed = holdout["routes"].to_numpy()
    pit = randomized_pit(draws, observed, np.random.default_rng(seed))
    groups = [("all", np.ones(len(holdout), bool))] + [
        (city, (holdout["city"] == city).to_numpy()) for city in sorted(holdout["city"].unique())
    ]
    rows = [
        (label, int(mask.sum()), *(f"{pit_coverage(pit[mask], lv):.3f}" for lv in _COVERAGE_LEVELS))
        for label, mask in groups
    ]
    table = pd.DataFrame(
        rows, columns=["held-out rows", "rows", *(f"coverage {lv:.0%}" for lv in _COVERAGE_LEVELS)]
    )
    span = f"{holdout['date'].min():%Y-%m-%d} to {holdout['date'].max():%Y-%m-%d}"
    tree = xr.DataTree.from_dict({"pit": xr.Dataset({"routes (held out)": ("row", pit)})})
    return "\n".join(
        [
            f"<p>{len(holdout)} held-out rows ({_esc(span)}), forecast from the fit. Routes "
            "are whole numbers, so calibration is read off the randomised PIT, which is "
            "uniform on [0, 1] under a calibrated forecast (<code>bayesspr.evaluate</code>). "
            "Coverage of the central intervals should be close to 0.50 / 0.80 / 0.90.</p>",
            _table(table),
            _plot(
                lambda: azp.plot_ecdf_pit(
                    tree, group="pit", sample_dims=["row"], backend="matplotlib"
                ),
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
        return _note(
            "No forecast or fleet charts were attached (pass extra_figures={name: figure or "
            "PNG path} to write_report)."
        )
    return "\n".join(
        f"<h3>{_esc(name)}</h3>\n{_figure(png, name, '')}" for name, png in charts.items()
    )


# --------------------------------------------------------------------------- helpers
def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _note(text: str) -> str:
    return f'<p class="note">{_esc(text)}</p>'


def _seconds(value: Any) -> str:
    try:
        return f"{float(value):.0f} s"
    except (TypeError, ValueError):
        return "–"


def _table(df: pd.DataFrame, *, header: bool = True, status_col: str | None = None) -> str:
    """An HTML table of ``df`` with every cell escaped; numbers right-aligned."""
    lines = ["<table>"]
    if header:
        lines.append("<tr>" + "".join(f"<th>{_esc(c)}</th>" for c in df.columns) + "</tr>")
    for values in df.itertuples(index=False):
        cells = []
        for column, value in zip(df.columns, values, strict=True):
            if column == status_col:
                css = "NA" if value == "N/A" else str(value)
                cells.append(f'<td class="{_esc(css)}">{_esc(value)}</td>')
            elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                cells.append(f'<td class="num">{_esc(value)}</td>')
            else:
                cells.append(f"<td>{_esc(value)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _figure(png: bytes, alt: str, caption: str) -> str:
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{src}" alt="{_esc(alt)}">{cap}</figure>'


def _fig_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def _plot(make: Callable[[], Any], alt: str, caption: str, *, tight: bool = False) -> str:
    """Run an arviz_plots function, embed its matplotlib figure as PNG, close what it opened.

    A plot that fails is reported in the page (and as a ``RuntimeWarning``) instead of
    aborting the whole report.
    """
    before = set(plt.get_fignums())
    try:
        fig = make().get_viz("figure")  # PlotCollection / PlotMatrix: the matplotlib Figure
        if tight:
            fig.tight_layout()
        return _figure(_fig_png(fig), alt, caption)
    except Exception as exc:  # one failed plot must not lose the report
        warnings.warn(f"report: {alt} could not be drawn: {exc!r}", RuntimeWarning, stacklevel=2)
        return f'<p class="error">{_esc(alt)} could not be drawn: {_esc(repr(exc))}</p>'
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


def _try(make: Callable[[], str]) -> str:
    try:
        return make()
    except Exception as exc:  # one failed table must not lose the report
        warnings.warn(f"report: a table could not be made: {exc!r}", RuntimeWarning, stacklevel=2)
        return f'<p class="error">could not be computed: {_esc(repr(exc))}</p>'


def _png_of(name: Any, figure: Figure | str | os.PathLike[str]) -> bytes:
    """PNG bytes of an attached chart: a matplotlib figure (rendered) or a PNG file (read)."""
    if isinstance(figure, Figure):
        return _fig_png(figure)
    if isinstance(figure, (str, os.PathLike)):
        path = Path(figure)
        if not path.is_file():
            raise FileNotFoundError(f"extra figure {name!r}: no file at {path}")
        png = path.read_bytes()
        if not png.startswith(_PNG_SIGNATURE):
            raise ValueError(
                f"extra figure {name!r}: {path} is not a PNG file (expected a file "
                "starting with the PNG signature)"
            )
        return png
    raise ValueError(
        f"extra figure {name!r} is a {type(figure).__name__}; expected a "
        "matplotlib Figure or the path of a PNG file"
    )


def _check_history(history: pd.DataFrame, idata: xr.DataTree) -> pd.DataFrame:
    """Validate ``history`` and check that it is the table the fit's routes came from."""
    clean = data_mod.validate(history, require_routes=True)
    if "observed_data" not in idata.children or "routes" not in idata["observed_data"]:
        return clean
    fitted = idata["observed_data"]["routes"].to_numpy()
    if len(fitted) != len(clean):
        raise ValueError(
            f"history has {len(clean)} rows but the fit was made on {len(fitted)}: "
            "pass the table the model was fitted on"
        )
    if not np.array_equal(fitted, clean["routes"].to_numpy(float)):
        bad = int(np.sum(fitted != clean["routes"].to_numpy(float)))
        raise ValueError(
            f"history's routes differ from the fit's observed routes in {bad} "
            "rows: pass the table the model was fitted on, in the same order"
        )
    return clean
