"""The volume-model report's sections (:data:`VOLUME_SECTIONS`).

Sampler health and rank plots (shared, :mod:`bayesspr.reporting.sections`), the energy plot,
the priors against their posteriors, and observed vs posterior-predictive daily stops per
station over the history. :func:`bayesspr.reporting.html.write_report` assembles the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.defaults import (
    DEFAULT_INTERVAL,
    central_bounds,
)
from bayesspr.errors import ReportError
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
    written_facts,
)
from bayesspr.volume.model import VolumeModel, zip_day_volume

#: (anchor id, heading) of every section of the volume-model report, in order.
VOLUME_SECTIONS: tuple[tuple[str, str], ...] = (
    ("health", "Sampler health"),
    ("rank", "Rank plots of the worst parameters"),
    ("energy", "Energy"),
    ("priors", "Priors and posteriors"),
    ("ppc", "Posterior predictive check: daily stops by station"),
    ("charts", "Forecasts and fleet plans"),
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
    ("drift_sd_city", "drift_sd_city", "HalfNormal(σ = {drift_sd_city})"),
    ("city_day_sd", "city_day_sd", "HalfNormal(σ = {city_day_sd})"),
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


#: At most this many station panels in the volume predictive check (the table has all).
_PPC_STATIONS_MAX = 12


def volume_report_body(
    model: VolumeModel,
    idata: xr.DataTree,
    volume: pd.DataFrame | None,
    charts: dict[str, bytes],
    seed: int,
) -> list[Any]:
    """The facts of the header, then (section id, content) of every volume report section."""
    table = diagnostics_table(idata)
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
        *sampler_facts(model, idata),
        ("training zip-days", n_rows),
        (
            "zips / stations / cities",
            f"{len(zips)} / {zips['station'].nunique() if len(zips) else 0} / "
            f"{zips['city'].nunique() if len(zips) else 0}",
        ),
        ("history", f"{first} to {last}"),
        ("yearly Fourier pairs", str(model.harmonics)),
        ("known regressors", regressors),
        *written_facts(idata),
    ]
    return [
        facts,
        ("health", health_section(idata, table)),
        ("rank", rank_section(idata, table)),
        ("energy", energy_section(idata)),
        ("priors", _volume_priors_html(model, idata)),
        ("ppc", _volume_ppc_html(model, volume, seed)),
        ("charts", charts_section(charts)),
    ]


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


def check_volume_history(history: pd.DataFrame, idata: xr.DataTree) -> pd.DataFrame:
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
    check_fitted_on(
        idata,
        "stops",
        volume["stops"].to_numpy(),
        "history has {given} zip-days but the volume fit was made on {fitted}: pass the table "
        "the model was fitted on",
        "history's daily stops differ from the fit's observed stops on {bad} zip-days: pass "
        "the table the model was fitted on",
    )
    return volume
