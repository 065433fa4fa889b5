"""The posterior mode, the Gaussian at it, and NUTS started there: how big fits stay fast.

On a network of hundreds of zips with a year of days each, the SPR posterior is close to
Gaussian in the sampler's unconstrained space, but it is narrow and its directions are
strongly correlated (the stem speed trades off against every station's overhead and every
zip's effect). NUTS with its own adaptation, started where PyMC starts, spends most of its
tuning finding the posterior and learning those correlations, at about 50 gradient steps a
draw (rung S of :mod:`bayesspr.simulate.ladder`: 145,604 zip-days, 30 ms a gradient).

Here the work is done once, exactly, before sampling:

1. :func:`find_mode`: L-BFGS (:func:`scipy.optimize.minimize`) on the exact log density and
   gradient PyMC compiles, from PyMC's initial point;
2. the curvature there: the Hessian of the negative log density by forward differences of the
   exact gradient (one gradient per parameter, :func:`scipy.optimize.approx_fprime`), whose
   inverse is the covariance of the Gaussian at the mode (the Laplace approximation);
3. :func:`nuts_from_mode`: PyMC's NUTS with that covariance as its dense mass matrix, each
   chain started at its own draw from the Gaussian, tuning only the step size. The chains
   are exact MCMC of the model's posterior (the mass matrix changes only how fast they
   move), so the usual R-hat, ESS and divergence checks judge them.

:func:`laplace_posterior` turns draws from the Gaussian into a posterior like a sampler's; it
is an approximation and is labelled so wherever it is used.

The dense covariance needs one gradient per free parameter and memory for their square, so
this route suits models of up to a few thousand parameters (:data:`MODE_MAX_PARAMETERS`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pymc as pm
import scipy.linalg
import scipy.optimize
import xarray as xr
from pymc.blocking import DictToArrayBijection, RaveledVars
from pymc.step_methods.hmc.quadpotential import QuadPotentialFull

from bayesspr.errors import UnconvergedFitError

if TYPE_CHECKING:
    from bayesspr.inference.fitted_model import SamplerConfig

#: Most free parameters the dense Hessian and mass matrix of this route are built for: one
#: gradient each for the Hessian and 8 bytes times their square for the covariance.
MODE_MAX_PARAMETERS = 3000


@dataclass(frozen=True)
class PosteriorMode:
    """The posterior mode in the sampler's unconstrained space and the Gaussian there.

    Attributes
    ----------
    point : dict of str to numpy.ndarray
        The mode, by value variable (unconstrained: log of a scale, log-odds of a share).
    covariance : numpy.ndarray
        Inverse of the Hessian of the negative log density at the mode, in the order of
        ``point`` raveled (unconstrained units squared).
    iterations : int
        L-BFGS iterations to the mode.
    seconds : float
        Wall time of the search and of the Hessian together (s).
    gradient_norm : float
        Largest absolute gradient component at the mode (nats per unconstrained unit).
    """

    point: dict[str, np.ndarray]
    covariance: np.ndarray
    iterations: int
    seconds: float
    gradient_norm: float

    def draws(self, n: int, random_seed: int | None) -> list[dict[str, np.ndarray]]:
        """``n`` draws from the Gaussian at the mode, each as a point by value variable.

        Parameters
        ----------
        n : int
            Number of draws.
        random_seed : int, optional
            Seed.

        Returns
        -------
        list of dict
        """
        raveled = DictToArrayBijection.map(self.point)
        chol = scipy.linalg.cholesky(self.covariance, lower=True)
        normals = np.random.default_rng(random_seed).standard_normal((n, len(raveled.data)))
        values = raveled.data + normals @ chol.T
        return [
            DictToArrayBijection.rmap(RaveledVars(row, raveled.point_map_info)) for row in values
        ]

    def record(self) -> dict[str, Any]:
        """What the search took, as JSON-able data (kept in a fit's diagnostics).

        Returns
        -------
        dict
        """
        return {
            "parameters": len(self.covariance),
            "iterations": int(self.iterations),
            "seconds": round(float(self.seconds), 2),
            "gradient_norm": float(self.gradient_norm),
        }


def find_mode(
    model: pm.Model, *, max_iterations: int = 20_000, random_seed: int | None = None
) -> PosteriorMode:
    """The posterior mode of ``model`` and the curvature there (see the module docstring).

    Parameters
    ----------
    model : pymc.Model
        A model whose free variables are all continuous.
    max_iterations : int
        Most L-BFGS iterations.
    random_seed : int, optional
        Seed of PyMC's initial point (its jitter, where the model has one).

    Returns
    -------
    PosteriorMode

    Raises
    ------
    UnconvergedFitError
        If the search ends where the log density or its gradient is not finite, or the
        Hessian there is not positive definite (no Gaussian fits there); the message says
        what to use instead. A search that stops at ``max_iterations`` is not refused: its
        end is still a start and mass matrix for exact NUTS.
    """
    started = time.perf_counter()
    start = model.initial_point(random_seed)
    start = {var.name: start[var.name] for var in model.value_vars}
    raveled = DictToArrayBijection.map(start)
    logp_dlogp = model.logp_dlogp_function(ravel_inputs=True, initial_point=start)

    def negative(x: np.ndarray) -> tuple[float, np.ndarray]:
        logp, grad = logp_dlogp(x)
        return -float(logp), -np.asarray(grad, dtype=float)

    result = scipy.optimize.minimize(
        negative,
        raveled.data.astype(float),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations, "maxcor": 30, "ftol": 1e-13, "gtol": 1e-8},
    )
    value, grad = negative(result.x)
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        raise UnconvergedFitError(
            f"the search for the posterior mode ended where the log density is not finite "
            f"({result.message}); fit with method='nuts' and start='default'"
        )
    hessian = scipy.optimize.approx_fprime(result.x, lambda x: negative(x)[1])
    hessian = 0.5 * (hessian + hessian.T)
    try:
        chol = scipy.linalg.cho_factor(hessian, lower=True)
    except np.linalg.LinAlgError:
        raise UnconvergedFitError(
            f"the posterior is not locally Gaussian at the mode the search found ({result.nit} "
            f"iterations, {result.message}): its Hessian is not positive definite; fit with "
            "start='default'"
        ) from None
    covariance = scipy.linalg.cho_solve(chol, np.eye(len(result.x)))
    point = DictToArrayBijection.rmap(RaveledVars(result.x, raveled.point_map_info))
    return PosteriorMode(
        point={name: np.asarray(value) for name, value in point.items()},
        covariance=0.5 * (covariance + covariance.T),
        iterations=int(result.nit),
        seconds=time.perf_counter() - started,
        gradient_norm=float(np.max(np.abs(grad))),
    )


def nuts_from_mode(
    model: pm.Model,
    mode: PosteriorMode,
    sampler: SamplerConfig,
    *,
    random_seed: int | None,
    progressbar: bool,
) -> xr.DataTree:
    """PyMC's NUTS with the mode's covariance as dense mass matrix, chains started near it.

    Each chain starts at its own draw from the Gaussian at the mode (so R-hat compares chains
    that did not start together) and tunes only its step size; the mass matrix stays the
    mode's covariance. The draws are exact MCMC of ``model``'s posterior.

    Parameters
    ----------
    model : pymc.Model
        The model :func:`find_mode` searched.
    mode : PosteriorMode
        Its mode.
    sampler : SamplerConfig
        Draws, tuning, chains, chains at once (processes) and target acceptance.
    random_seed : int, optional
        Seed of the starts and of the sampler.
    progressbar : bool
        Show PyMC's progress bar.

    Returns
    -------
    xarray.DataTree
        ``posterior`` and ``sample_stats``, as :func:`pymc.sample` returns them.
    """
    kwargs = sampler.pymc_kwargs()
    seeds = np.random.SeedSequence(random_seed).spawn(2)
    starts = mode.draws(kwargs["chains"], int(seeds[0].generate_state(1)[0]))
    with model:
        step = pm.NUTS(
            vars=model.value_vars,
            potential=QuadPotentialFull(mode.covariance),
            target_accept=kwargs["target_accept"],
        )
        return pm.sample(
            draws=kwargs["draws"],
            tune=kwargs["tune"],
            chains=kwargs["chains"],
            cores=kwargs["cores"],
            step=step,
            initvals=_constrained_starts(model, starts),
            random_seed=int(seeds[1].generate_state(1)[0]),
            progressbar=progressbar,
            compute_convergence_checks=False,
        )


def _constrained_starts(
    model: pm.Model, points: list[dict[str, np.ndarray]]
) -> list[dict[str, np.ndarray]]:
    """Unconstrained points as the initial values PyMC takes (by random variable, own space)."""
    to_rvs = _values_to(model, model.free_RVs)
    names = [rv.name for rv in model.free_RVs]
    return [dict(zip(names, to_rvs(point), strict=True)) for point in points]


def _values_to(model: pm.Model, variables: list) -> Any:
    """A function of a point (by value variable) giving ``variables`` in their own space."""
    outputs = model.replace_rvs_by_values(list(variables))
    return model.compile_fn(
        outputs, inputs=model.value_vars, on_unused_input="ignore", point_fn=True
    )


def laplace_posterior(
    model: pm.Model, mode: PosteriorMode, *, draws: int, chains: int, random_seed: int | None
) -> xr.DataTree:
    """Draws from the Gaussian at the mode, as a posterior (an approximation).

    Parameters
    ----------
    model : pymc.Model
        The model :func:`find_mode` searched.
    mode : PosteriorMode
        Its mode.
    draws, chains : int
        The posterior's shape: ``chains`` × ``draws`` independent draws.
    random_seed : int, optional
        Seed.

    Returns
    -------
    xarray.DataTree
        ``posterior`` with every free and deterministic variable on the model's dims.
    """
    points = mode.draws(chains * draws, random_seed)
    variables = [*model.free_RVs, *model.deterministics]
    names = [var.name for var in variables]
    outputs = _values_to(model, variables)
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for point in points:
        for name, value in zip(names, outputs(point), strict=True):
            values[name].append(np.asarray(value))
    return xr.DataTree.from_dict({"posterior": _as_posterior(model, values, chains, draws)})


def _as_posterior(
    model: pm.Model, values: Mapping[str, list[np.ndarray]], chains: int, draws: int
) -> xr.Dataset:
    """Stacked draws by variable as a ``(chain, draw, *dims)`` dataset with the model's coords."""
    data = {}
    for name, stack in values.items():
        array = np.stack(stack).reshape(chains, draws, *np.shape(stack[0]))
        dims = list(model.named_vars_to_dims.get(name, ()))
        dims += [f"{name}_dim_{i}" for i in range(len(dims), array.ndim - 2)]
        data[name] = xr.DataArray(array, dims=["chain", "draw", *dims])
    coords = {
        dim: np.asarray(labels)
        for dim, labels in model.coords.items()
        if labels is not None and any(dim in arr.dims for arr in data.values())
    }
    coords |= {"chain": np.arange(chains), "draw": np.arange(draws)}
    return xr.Dataset(data, coords=coords)
