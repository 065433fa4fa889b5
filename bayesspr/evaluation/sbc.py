"""Simulation-based calibration (SBC) of a small version of the SPR model.

SBC (Talts et al. 2018) checks the whole inference pipeline: draw parameters θ' from the
prior, simulate data y' from them, fit the model to y', and record the rank of θ' among the
posterior draws. If the simulator, the likelihood and the sampler agree, θ' is one more draw
from the posterior, so its rank is uniform over 0 … L (L posterior draws). Parameter ranks
alone cannot catch a likelihood that ignores the data (posterior = prior also gives uniform
ranks), so the ranks of a *data-dependent* test quantity are checked too (Modrák et al.
2023): the log-likelihood f(θ, y') = Σ log p(y'_i | θ) of the simulated data at each
posterior draw against its value at the true θ'.

The small model keeps the SPR model's mean function (:func:`bayesspr.spr.model.log_route_need`)
and its observation model (:func:`bayesspr.spr.likelihood.route_count_logp`), with six learned
parameters (tour constant, fill, one city's service time and speed, one station's overhead,
σ of the route need) on a fixed design of zip-days with varied stops, packages, shifts and
vans. Priors come from the default spec. The ``"bad"`` variant simulates with whole routes
but fits a log-normal density to the route counts as if they were continuous (no interval
censoring, no capacity floor); SBC must flag it.

The PyMC model is compiled once per variant (nutpie, with the routes as ``pm.Data``) and the
compiled sampler is re-used for every simulated data set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import arviz_stats as azs
import numpy as np
import nutpie
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from scipy import stats

from bayesspr.errors import EvaluationError
from bayesspr.spr import physics
from bayesspr.spr.likelihood import draw_route_counts, route_count_logp
from bayesspr.spr.model import log_route_need
from bayesspr.spr.physics import RouteConstants, ZoneDay
from bayesspr.spr.spec import load_spec, prior_rv

#: Learned parameters of the small model, with the default spec's prior each one takes.
SBC_PARAMETERS = {
    "tour_constant": "tour_constant",
    "fill": "fill",
    "service_min": "service_min_pop",
    "speed_kmh": "speed_kmh_pop",
    "overhead_hours": "overhead_hours_pop",
    "sigma_route": "sigma_route",
}

#: Name of the data-dependent test quantity (the log-likelihood of the simulated routes).
LOG_LIKELIHOOD = "log_likelihood"

#: Stem speed of the small model, fixed at the default spec's prior median (km/h).
STEM_SPEED_KMH = 45.0

VARIANTS = ("good", "bad")


def sbc_design(n_rows: int = 60, seed: int = 0) -> ZoneDay:
    """A fixed, seeded design of zip-days for the small model (one city, one station).

    Parameters
    ----------
    n_rows : int
        Number of zip-day rows.
    seed : int
        Seed of the design (the design is covariates only, no routes).

    Returns
    -------
    bayesspr.spr.physics.ZoneDay
        ``stops`` (stops, 60–900), ``packages`` (packages, 1.1–1.9 per stop), ``capacity``
        (packages per van: 200, 300 or 450), ``area_km2`` (km², 2–25), ``stem_km`` (km,
        2–20) and ``shift_hours`` (h: 6, 8 or 10); each of length ``n_rows``.
    """
    rng = np.random.default_rng(seed)
    stops = np.round(np.exp(rng.uniform(np.log(60), np.log(900), n_rows)))
    per_stop = rng.uniform(1.1, 1.9, n_rows)
    return ZoneDay(
        stops=stops,
        packages=np.round(stops * per_stop),
        capacity=rng.choice([200.0, 300.0, 450.0], n_rows),
        area_km2=rng.uniform(2.0, 25.0, n_rows),
        stem_km=rng.uniform(2.0, 20.0, n_rows),
        shift_hours=rng.choice([6.0, 8.0, 10.0], n_rows),
    )


def _observation_logp(variant: str):
    """Per-row log-probability of observed routes for a variant (pytensor function)."""
    if variant == "good":
        return route_count_logp
    if variant == "bad":

        def continuous_logp(routes, log_need, sigma, floor):
            # mis-specified: routes treated as a continuous log-normal, no rounding or floor
            del floor
            return pm.logp(pm.LogNormal.dist(mu=log_need, sigma=sigma), routes)

        return continuous_logp
    raise EvaluationError(f"variant must be one of {VARIANTS}, got {variant!r}")


def _log_need(design: ZoneDay, params: dict[str, Any], circuity: float) -> Any:
    """μ = log route need of each row for the small model's parameters (log routes)."""
    constants = RouteConstants(
        service_min=params["service_min"],
        speed_kmh=params["speed_kmh"],
        stem_speed_kmh=STEM_SPEED_KMH,
        circuity=circuity,
        tour_constant=params["tour_constant"],
        overhead_hours=params["overhead_hours"],
        fill=params["fill"],
    )
    return log_route_need(design, constants, for_gradient=True)


def build_sbc_model(
    design: ZoneDay,
    *,
    variant: str = "good",
    spec: str | dict[str, Any] = "default",
) -> pm.Model:
    """Build the small SPR model with its routes as ``pm.Data`` (swap them per simulation).

    Parameters
    ----------
    design : dict of numpy.ndarray
        Row covariates, as from :func:`sbc_design`.
    variant : {"good", "bad"}
        ``"good"``: the SPR model's interval-censored whole-route likelihood. ``"bad"``: a
        continuous log-normal density on the route counts (mis-specified).
    spec : str or dict
        Model spec whose priors the parameters take (see :data:`SBC_PARAMETERS`).

    Returns
    -------
    pymc.Model
        Free variables named as in :data:`SBC_PARAMETERS`; observed ``routes`` (routes)
        backed by the data container ``routes_data``, initially the capacity floor.
    """
    logp = _observation_logp(variant)
    loaded = load_spec(spec)
    priors, circuity = loaded["priors"], float(loaded["constants"]["circuity"])
    floor = physics.capacity_floor_routes(design.packages, design.capacity)
    with pm.Model(coords={"row": np.arange(len(floor))}) as model:
        params = {name: prior_rv(name, priors[key]) for name, key in SBC_PARAMETERS.items()}
        routes = pm.Data("routes_data", floor, dims="row")
        mu = _log_need(design, params, circuity)
        pm.CustomDist(
            "routes", mu, params["sigma_route"], floor, logp=logp, observed=routes, dims="row"
        )
    return model


def _log_likelihood_fn(design: ZoneDay, variant: str, spec: Any):
    """Compile Σ_rows log p(routes | θ) for a batch of S parameter draws → (S,) (nats)."""
    circuity = float(load_spec(spec)["constants"]["circuity"])
    inputs = {name: pt.vector(name) for name in SBC_PARAMETERS}
    routes = pt.vector("routes")
    params = {name: v[:, None] for name, v in inputs.items()}
    mu = _log_need(design, params, circuity)
    floor = physics.capacity_floor_routes(design.packages, design.capacity)
    logp = _observation_logp(variant)(routes[None, :], mu, params["sigma_route"], floor[None, :])
    return pytensor.function([*inputs.values(), routes], logp.sum(axis=1))


def simulate_sbc_data(
    model: pm.Model,
    design: ZoneDay,
    n_simulations: int,
    *,
    seed: int = 0,
    spec: str | dict[str, Any] = "default",
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draw parameters from the model's prior and whole routes from the true likelihood.

    Parameters
    ----------
    model : pymc.Model
        A model from :func:`build_sbc_model` (its priors are used; either variant).
    design : dict of numpy.ndarray
        Row covariates, as from :func:`sbc_design`.
    n_simulations : int
        Number of data sets.
    seed : int
        Seed of the parameters and the route noise.
    spec : str or dict
        Model spec (for the circuity constant).

    Returns
    -------
    truth : dict of numpy.ndarray
        True value of each parameter, shape (n_simulations,), units as in the spec.
    routes : numpy.ndarray
        (n_simulations, n_rows) whole routes, R = max(⌈x⌉, L) as in the SPR model.
    """
    circuity = float(load_spec(spec)["constants"]["circuity"])
    rng = np.random.default_rng(seed)
    names = list(SBC_PARAMETERS)
    values = pm.draw([model[n] for n in names], draws=n_simulations, random_seed=rng)
    truth = {n: np.asarray(v, dtype=float) for n, v in zip(names, values, strict=True)}
    mu = _log_need(design, {n: v[:, None] for n, v in truth.items()}, circuity)
    floor = physics.capacity_floor_routes(design.packages, design.capacity)
    routes = draw_route_counts(mu, truth["sigma_route"][:, None], floor[None, :], rng)
    return truth, routes


@dataclass
class SBCResult:
    """Ranks and uniformity tests of one SBC run.

    Attributes
    ----------
    variant : str
        ``"good"`` or ``"bad"``.
    ranks : xarray.Dataset
        Rank of the truth among the L posterior draws, per quantity (every parameter of
        :data:`SBC_PARAMETERS` and :data:`LOG_LIKELIHOOD`), dim ``simulation``; 0 … L.
    truth : xarray.Dataset
        True parameter values per simulation (units as in the spec), dim ``simulation``.
    n_draws : int
        L, posterior draws per fit after thinning (all chains).
    p_values : dict of float
        Chi-square uniformity p-value of each quantity's ranks
        (:func:`rank_uniformity_pvalue`).
    divergences : numpy.ndarray
        Divergent transitions of each fit (after tuning), shape (n_simulations,).
    ess_ratio : numpy.ndarray
        Per fit, the smallest bulk ESS / L over the parameters, of the kept (thinned) draws;
        near or above 1 means the kept draws are close to independent. Shape
        (n_simulations,).
    seconds : float
        Wall time of the run, compilation included (s).
    """

    variant: str
    ranks: xr.Dataset
    truth: xr.Dataset
    n_draws: int
    p_values: dict[str, float] = field(default_factory=dict)
    divergences: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    ess_ratio: np.ndarray = field(default_factory=lambda: np.zeros(0))
    seconds: float = 0.0


def rank_uniformity_pvalue(ranks: np.ndarray, n_draws: int, bins: int | None = None) -> float:
    """Chi-square p-value that ranks are uniform on 0 … ``n_draws``.

    Parameters
    ----------
    ranks : numpy.ndarray
        Ranks (whole numbers 0 … ``n_draws``), one per simulation.
    n_draws : int
        L, posterior draws per fit; there are L + 1 possible ranks.
    bins : int, optional
        Number of equal-width bins of the ranks; default about one bin per 10 simulations
        (between 4 and 20). Expected counts are exact when L + 1 is not a multiple of
        ``bins``.

    Returns
    -------
    float
        p-value of the chi-square goodness-of-fit test with ``bins - 1`` degrees of freedom.
    """
    ranks = np.asarray(ranks, dtype=int)
    if bins is None:
        bins = int(np.clip(ranks.size // 10, 4, 20))
    bins = min(bins, n_draws + 1)
    bin_of_rank = np.arange(n_draws + 1) * bins // (n_draws + 1)
    expected = np.bincount(bin_of_rank, minlength=bins) / (n_draws + 1) * ranks.size
    observed = np.bincount(bin_of_rank[ranks], minlength=bins)
    return float(stats.chisquare(observed, expected).pvalue)


def run_sbc(
    n_simulations: int,
    *,
    variant: str = "good",
    draws: int = 100,
    thin: int = 4,
    tune: int = 300,
    chains: int = 2,
    target_accept: float = 0.95,
    seed: int = 0,
    n_rows: int = 60,
    bins: int | None = None,
    spec: str | dict[str, Any] = "default",
) -> SBCResult:
    """Run SBC of the small SPR model.

    Parameters
    ----------
    n_simulations : int
        Number of simulated data sets (one fit each).
    variant : {"good", "bad"}
        Fitted likelihood: the SPR model's own (``"good"``) or a continuous log-normal that
        ignores whole routes and the capacity floor (``"bad"``). Data are always simulated
        from the SPR model's generative story.
    draws : int
        Posterior draws kept per chain after thinning; L = ``draws · chains``.
    thin : int
        Keep every ``thin``-th draw (nutpie runs ``draws · thin`` per chain), so that the
        kept draws are nearly independent and the ranks are not distorted by
        autocorrelation.
    tune : int
        Tuning steps per chain.
    chains : int
        Chains per fit.
    target_accept : float
        NUTS target acceptance rate (nutpie).
    seed : int
        Seed of the design-independent randomness: parameters, routes, sampler.
    n_rows : int
        Zip-day rows of the design (:func:`sbc_design`, seed 0).
    bins : int, optional
        Bins of the chi-square test (see :func:`rank_uniformity_pvalue`).
    spec : str or dict
        Model spec whose priors are used.

    Returns
    -------
    SBCResult
        Ranks per quantity, p-values, divergences, thinning check and wall time.

    Raises
    ------
    ValueError
        If ``variant`` is not one of :data:`VARIANTS`.
    """
    started = time.perf_counter()
    design = sbc_design(n_rows)
    model = build_sbc_model(design, variant=variant, spec=spec)
    truth, routes = simulate_sbc_data(model, design, n_simulations, seed=seed, spec=spec)
    compiled = nutpie.compile_pymc_model(model)
    log_lik = _log_likelihood_fn(design, variant, spec)
    seeds = np.random.default_rng([seed, 1]).integers(2**31, size=n_simulations)
    names = list(SBC_PARAMETERS)
    ranks = {name: np.zeros(n_simulations, dtype=int) for name in [*names, LOG_LIKELIHOOD]}
    divergences = np.zeros(n_simulations, dtype=int)
    ess_ratio = np.zeros(n_simulations)
    for i in range(n_simulations):
        fit = nutpie.sample(
            compiled.with_data(routes_data=routes[i]),
            draws=draws * thin,
            tune=tune,
            chains=chains,
            target_accept=target_accept,
            seed=int(seeds[i]),
            progress_bar=False,
        )
        kept = fit["posterior"].to_dataset().isel(draw=slice(thin - 1, None, thin))
        divergences[i] = int(fit["sample_stats"]["diverging"].sum())
        ess = azs.ess(kept, method="bulk")
        ess_ratio[i] = min(float(ess[n]) for n in names) / (draws * chains)
        post = kept.stack(sample=("chain", "draw"))
        for name in names:
            ranks[name][i] = int((post[name].to_numpy() < truth[name][i]).sum())
        at_draws = log_lik(*(post[n].to_numpy() for n in names), routes[i])
        at_truth = log_lik(*(truth[n][i : i + 1] for n in names), routes[i])
        ranks[LOG_LIKELIHOOD][i] = int((at_draws < at_truth[0]).sum())
    n_draws = draws * chains
    coords = {"simulation": np.arange(n_simulations)}
    rank_ds = xr.Dataset(
        {name: ("simulation", r) for name, r in ranks.items()},
        coords=coords,
        attrs={"n_draws": n_draws, "variant": variant},
    )
    truth_ds = xr.Dataset({name: ("simulation", v) for name, v in truth.items()}, coords=coords)
    p_values = {name: rank_uniformity_pvalue(r, n_draws, bins) for name, r in ranks.items()}
    return SBCResult(
        variant=variant,
        ranks=rank_ds,
        truth=truth_ds,
        n_draws=n_draws,
        p_values=p_values,
        divergences=divergences,
        ess_ratio=ess_ratio,
        seconds=time.perf_counter() - started,
    )
