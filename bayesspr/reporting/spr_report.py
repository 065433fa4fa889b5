"""The SPR report's sections (:data:`SECTIONS`).

Sampler health, trace and rank plots and the energy plot (shared,
:mod:`bayesspr.reporting.sections`), a pair plot of the physics constants with divergences
marked, forest plots of the city and station effects, posterior predictive checks of SPR by
city, PSIS-LOO with Pareto-k, calibration (randomised PIT) on held-out data, and attached
charts. :func:`bayesspr.reporting.html.write_report` assembles the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.data import table as data_mod
from bayesspr.defaults import (
    COVERAGE_LEVELS,
    DEFAULT_INTERVAL,
)
from bayesspr.evaluation.loo import LooResult, psis_loo
from bayesspr.evaluation.scores import pit_coverage, randomised_pit
from bayesspr.reporting import figures, markup
from bayesspr.reporting.sections import (
    charts_section,
    check_fitted_on,
    diagnostics_table,
    energy_section,
    health_section,
    rank_section,
    sampler_facts,
    trace_section,
    written_facts,
)
from bayesspr.spr.model import SPRModel

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


def spr_report_body(
    model: SPRModel,
    idata: xr.DataTree,
    history: pd.DataFrame | None,
    holdout: pd.DataFrame | None,
    charts: dict[str, bytes],
    seed: int,
) -> list[Any]:
    """The facts of the header, then (section id, content) of every SPR report section."""
    table = diagnostics_table(idata)
    n_rows = idata["observed_data"].sizes.get("row", "?") if "observed_data" in idata else "?"
    facts = [
        *sampler_facts(model, idata),
        ("training rows (zip-days × van types)", str(n_rows)),
        ("model spec id", idata.attrs.get("bayesspr_spec_id", "–")),
        ("fitted with bayesspr", idata.attrs.get("bayesspr_version", "–")),
        *written_facts(idata),
    ]
    return [
        facts,
        ("health", health_section(idata, table)),
        ("trace", trace_section(idata) + "\n" + rank_section(idata, table)),
        ("energy", energy_section(idata)),
        ("pair", _pair_html(idata)),
        ("forest", _forest_html(idata)),
        ("ppc", _ppc_html(model, history, seed)),
        ("loo", _loo_html(idata, history)),
        ("pit", _pit_html(model, holdout, seed)),
        ("charts", charts_section(charts)),
    ]


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


def check_spr_history(history: pd.DataFrame, idata: xr.DataTree) -> pd.DataFrame:
    """Validate ``history`` and check that it is the table the fit's routes came from."""
    clean = data_mod.validate(history, require_routes=True)
    check_fitted_on(
        idata,
        "routes",
        clean["routes"].to_numpy(float),
        "history has {given} rows but the fit was made on {fitted}: pass the table the model "
        "was fitted on",
        "history's routes differ from the fit's observed routes in {bad} rows: pass the table "
        "the model was fitted on, in the same order",
    )
    return clean
