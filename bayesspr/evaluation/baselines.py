"""The variants a backtest compares: Bayesian spec variants, textbook physics, boosting.

One job: turn a variant's name and a training table into predictive draws of whole routes
for test rows (:func:`forecast_draws`), all through the same code path:

* ``full``: the default spec, fitted;
* ``no_pooling``: every group spread fixed wide (1.0 on the log scale), fitted;
* ``complete_pooling``: every group spread fixed tiny (0.001), fitted;
* ``physics``: no learning; the route physics with the spec's prior medians ("textbook"
  constants) and the same log-normal day noise on the route need (σ at its prior median);
* ``gbm``: scikit-learn gradient boosting with quantile loss on the physics' columns at
  :data:`GBM_QUANTILES` levels, read as an ensemble.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bayesspr.errors import EvaluationError
from bayesspr.evaluation.scores import baseline_design
from bayesspr.spr.model import LEVELS, ParameterDraws, SPRModel, row_inputs
from bayesspr.spr.spec import load_spec, prior_kwargs

#: Model variants compared in a backtest, in table order.
VARIANTS = ("full", "no_pooling", "complete_pooling", "physics", "gbm")

#: Quantile levels the gradient-boosting baseline is trained at: an ensemble of 50 members.
GBM_QUANTILES = tuple((k + 0.5) / 50 for k in range(50))

#: Group spreads (log scale) that the pooling variants fix.
POOLING_SPREADS = ("service_min_sd", "speed_kmh_sd", "overhead_hours_sd", "zip_effect_sd")

#: Sampler settings for backtest fits: shorter than a production fit, diagnostics still kept.
BACKTEST_SAMPLER = {"draws": 300, "tune": 400, "chains": 4}


def variant_spec(variant: str, base: str | Path | dict[str, Any] = "default") -> dict[str, Any]:
    """The model spec of a Bayesian variant, derived from a base spec.

    Parameters
    ----------
    variant : {"full", "no_pooling", "complete_pooling", "physics"}
        ``full``: the base spec unchanged. ``complete_pooling``: every group spread
        (:data:`POOLING_SPREADS`) fixed at 0.001 on the log scale, so all cities, stations
        and zips share one value; every effect non-centred. ``no_pooling``: the spreads fixed
        at 1.0 (a factor e either way), so each group is estimated on its own data and a
        group never seen is nearly unknown. ``physics``: the base spec (its priors give the
        textbook constants).
    base : str, pathlib.Path or dict
        The spec to derive from (see :func:`bayesspr.spr.spec.load_spec`).

    Returns
    -------
    dict
        A checked spec.

    Raises
    ------
    EvaluationError
        If ``variant`` is not one of the Bayesian variants.
    """
    spec = copy.deepcopy(load_spec(base))
    if variant in ("full", "physics"):
        return spec
    if variant not in ("no_pooling", "complete_pooling"):
        raise EvaluationError(
            f"variant {variant!r} has no spec; expected 'full', 'no_pooling', "
            "'complete_pooling' or 'physics'"
        )
    spread = 1e-3 if variant == "complete_pooling" else 1.0
    for name in POOLING_SPREADS:
        spec["priors"][name] = spread
    spec["model"]["name"] = variant
    if variant == "complete_pooling":  # a centred effect with a tiny fixed spread is a ridge
        hierarchy = spec.setdefault("hierarchy", {})
        for effect in (
            "service_min_city",
            "speed_kmh_city",
            "overhead_hours_station",
            "zip_effect",
        ):
            hierarchy[effect] = "non-centred"
    return load_spec(spec)


def prior_median(prior: dict[str, Any] | float) -> float:
    """Median of a spec prior in its natural unit (a fixed number is returned as is).

    Parameters
    ----------
    prior : dict or float
        An entry of a spec's ``[priors]``.

    Returns
    -------
    float
        The prior median.
    """
    if isinstance(prior, int | float):
        return float(prior)
    dist, kw = prior_kwargs(prior)
    frozen = {
        "LogNormal": lambda: stats.lognorm(kw["sigma"], scale=math.exp(kw["mu"])),
        "Normal": lambda: stats.norm(kw["mu"], kw["sigma"]),
        "HalfNormal": lambda: stats.halfnorm(scale=kw["sigma"]),
        "Beta": lambda: stats.beta(kw["alpha"], kw["beta"]),
        "Gamma": lambda: stats.gamma(kw["alpha"], scale=1.0 / kw["beta"]),
        "Exponential": lambda: stats.expon(scale=1.0 / kw["lam"]),
    }
    if dist not in frozen:
        raise EvaluationError(f"no median for prior {prior!r}; use a fixed number in the spec")
    return float(frozen[dist]().median())


def physics_parameters(spec: dict[str, Any], n_samples: int) -> ParameterDraws:
    """Textbook constants: every physics parameter at its prior median, for every group.

    Parameters
    ----------
    spec : dict
        A spec (its ``[priors]``).
    n_samples : int
        Number of predictive samples (rows of each array).

    Returns
    -------
    bayesspr.spr.model.ParameterDraws
        The layout of :meth:`bayesspr.SPRModel.parameter_draws` with one column per effect
        (every group shares it): scalars as (S, 1); ``service_min_city`` (min),
        ``speed_kmh_city`` (km/h), ``overhead_hours_station`` (h) at the population medians,
        ``zip_effect`` 0 (log).
    """
    priors = spec["priors"]

    def full(value: float) -> np.ndarray:
        return np.full((n_samples, 1), value)

    return ParameterDraws(
        stem_speed_kmh=full(prior_median(priors["stem_speed_kmh"])),
        tour_constant=full(prior_median(priors["tour_constant"])),
        fill=full(prior_median(priors["fill"])),
        sigma_route=full(prior_median(priors["sigma_route"])),
        service_min_city=full(prior_median(priors["service_min_pop"])),
        speed_kmh_city=full(prior_median(priors["speed_kmh_pop"])),
        overhead_hours_station=full(prior_median(priors["overhead_hours_pop"])),
        zip_effect=full(0.0),
    )


def gbm_route_draws(
    train: pd.DataFrame, test: pd.DataFrame, *, random_state: int = 0
) -> np.ndarray:
    """Gradient-boosting baseline: an ensemble of quantile forecasts of whole routes.

    One :class:`sklearn.ensemble.HistGradientBoostingRegressor` with quantile loss per level
    of :data:`GBM_QUANTILES`, trained on SPR (packages per route) as
    :func:`bayesspr.evaluation.scores.gradient_boosting_spr` is; each row's quantiles are sorted
    (no crossing) and turned into routes, ``max(1, round(packages / SPR))``.

    Parameters
    ----------
    train : pandas.DataFrame
        Validated table with ``routes``.
    test : pandas.DataFrame
        Rows to forecast.
    random_state : int
        Seed of the boosters.

    Returns
    -------
    numpy.ndarray
        (member, row) whole routes; members are quantile levels, not random draws.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    x_train, x_test = baseline_design(train), baseline_design(test)
    spr = train["packages"] / train["routes"]
    members = np.empty((len(GBM_QUANTILES), len(test)))
    with threadpool_limits(1):  # 50 small fits: OpenMP threads only contend on a busy machine
        for i, q in enumerate(GBM_QUANTILES):
            model = HistGradientBoostingRegressor(
                loss="quantile",
                quantile=q,
                max_iter=200,
                early_stopping=False,
                random_state=random_state,
            )
            members[i] = model.fit(x_train, spr).predict(x_test)
    members = np.sort(np.maximum(members, 1e-6), axis=0)
    routes = np.rint(test["packages"].to_numpy(float)[None, :] / members)
    return np.maximum(routes, 1.0)


def forecast_draws(
    variant: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    seed: int = 0,
    sampler: dict[str, int] | None = None,
    max_samples: int = 400,
    warm_start: SPRModel | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Predictive draws of whole routes for test rows from one variant trained on ``train``.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS`.
    train : pandas.DataFrame
        Validated history with ``routes`` (ignored by ``physics``).
    test : pandas.DataFrame
        Rows to forecast, with their realised packages and stops (``routes`` is not read).
    seed : int
        Seed of the sampler, the predictive noise and the boosters.
    sampler : dict, optional
        ``draws``, ``tune``, ``chains`` for the fitted variants (default
        :data:`BACKTEST_SAMPLER`).
    max_samples : int
        Posterior samples used for prediction (and samples of the physics variant).
    warm_start : SPRModel, optional
        The same variant's fit at the previous origin: chains start at its posterior means
        (see :meth:`bayesspr.SPRModel.fit`). Ignored by ``gbm`` and ``physics``.

    Returns
    -------
    draws : numpy.ndarray
        (sample, row) routes per test row (routes).
    info : dict
        ``variant``, ``seconds``, ``warm_start`` (bool) and, for fitted variants, the fit's
        ``diagnostics`` and the fitted ``model``.
    """
    t0 = time.perf_counter()
    plan = test.drop(columns=[c for c in ("routes", "route_km") if c in test])
    info: dict[str, Any] = {"variant": variant, "warm_start": False}
    if variant == "gbm":
        draws = gbm_route_draws(train, test, random_state=seed)
    elif variant == "physics":
        model = SPRModel(variant_spec("physics"))
        rng = np.random.default_rng(seed)
        params = physics_parameters(model.spec, max_samples)
        zeros = np.zeros(len(plan), dtype=int)
        draws, _ = model.route_draws(params, row_inputs(plan), dict.fromkeys(LEVELS, zeros), rng)
    elif variant in VARIANTS:
        settings = {**BACKTEST_SAMPLER, **(sampler or {})}
        model = SPRModel(variant_spec(variant))
        with warnings.catch_warnings():  # not hidden: the diagnostics travel in ``info``
            warnings.simplefilter("ignore")
            model.fit(train, random_seed=seed, warm_start=warm_start, **settings)
        info["diagnostics"] = model.diagnostics
        info["model"] = model
        info["warm_start"] = warm_start is not None
        draws = model.predict_draws(plan, random_seed=seed, max_samples=max_samples)
        draws = draws["routes"].to_numpy()
    else:
        raise EvaluationError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    info["seconds"] = time.perf_counter() - t0
    return np.asarray(draws, dtype=float), info
