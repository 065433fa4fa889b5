"""The posterior mode, the Gaussian at it, and NUTS started there: how big fits stay fast.

On a network of hundreds of zips with a year of days each, the SPR posterior is close to
Gaussian in the sampler's unconstrained space, but it is narrow and its directions are
strongly correlated (the stem speed trades off against every station's overhead and every
zip's effect). NUTS with its own adaptation, started where PyMC starts, spends most of its
tuning finding the posterior and learning those correlations, at about 50 gradient steps a
draw (rung S of :mod:`bayesspr.simulate.ladder`: 145,604 zip-days, 30 ms a gradient).

Here the work is done once, exactly, before sampling:

1. :func:`find_mode`: from PyMC's initial point, on the exact log density and gradient PyMC
   compiles, Newton steps in a trust region with the sparse Hessian where the model gives its
   pattern, else L-BFGS (both :func:`scipy.optimize.minimize`);
2. the curvature there: the Hessian of the negative log density by forward differences of the
   exact gradient, one gradient per parameter or, given the model's sparsity pattern, one per
   colour of :mod:`bayesspr.inference.sparse_hessian` (a few dozen for thousands of zips).
   Its inverse is the covariance of the Gaussian at the mode (the Laplace approximation);
3. :func:`nuts_from_mode`: PyMC's NUTS with that covariance as its dense mass matrix, each
   chain started at its own draw from the Gaussian, tuning only the step size. The chains
   are exact MCMC of the model's posterior (the mass matrix changes only how fast they
   move), so the usual R-hat, ESS and divergence checks judge them.

:func:`laplace_posterior` turns draws from the Gaussian into a posterior like a sampler's; it
is an approximation and is labelled so wherever it is used.

NUTS's dense mass matrix needs the covariance in memory (8 bytes times the square of the
parameters), so NUTS from the mode suits models of up to a few thousand parameters
(:data:`MODE_MAX_PARAMETERS`). Draws from the Gaussian do not: they factor the sparse
precision (:func:`precision_factor`), so the Laplace route reaches tens of thousands of zips.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pymc as pm
import scipy.linalg
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg
import xarray as xr
from pymc.blocking import DictToArrayBijection, RaveledVars
from pymc.step_methods.hmc.quadpotential import QuadPotentialFull

from bayesspr.errors import ArgumentError, UnconvergedFitError
from bayesspr.inference.sparse_hessian import (
    HessianColouring,
    colour_columns,
    coloured_hessian,
)

if TYPE_CHECKING:
    from bayesspr.inference.fitted_model import SamplerConfig

#: Most free parameters a dense Hessian (one gradient each) or NUTS's dense mass matrix (8
#: bytes times their square) is built for.
MODE_MAX_PARAMETERS = 3000

#: Largest Newton decrement (posterior sd from the mode) a search may end at before Newton
#: steps with the mode's own Hessian follow it (:attr:`PosteriorMode.newton_decrement`).
MODE_DECREMENT_TOLERANCE = 0.01

#: Most of those Newton steps (each a Hessian: a gradient a colour, or one a parameter).
MODE_POLISH_STEPS = 3

#: Most draws from the Gaussian at the mode whitened at once (:meth:`PosteriorMode.draw_chunks`):
#: the memory of one chunk is 8 bytes × parameters × this, a few times over.
DRAW_CHUNK = 200

#: Seconds between the mode search's progress lines (logger ``bayesspr``, INFO).
PROGRESS_EVERY_S = 30.0

_LOG = logging.getLogger("bayesspr")


@dataclass(frozen=True)
class PosteriorMode:
    """The posterior mode in the sampler's unconstrained space and the Gaussian there.

    Attributes
    ----------
    point : dict of str to numpy.ndarray
        The mode, by value variable (unconstrained: log of a scale, log-odds of a share).
    precision : scipy.sparse.csr_array
        Hessian of the negative log density at the mode, in the order of ``point`` raveled
        (per unconstrained unit squared): the inverse covariance of the Gaussian there.
    iterations : int
        Iterations of the search to the mode (L-BFGS steps, or Newton steps with a pattern).
    seconds : float
        Wall time of the search and of the Hessian together (s).
    gradient_norm : float
        Largest absolute gradient component at the mode (nats per unconstrained unit).
    hessian_gradients : int
        Gradients the Hessian at the mode took: one per parameter (dense), or one per colour
        plus two (sparse, :mod:`bayesspr.inference.sparse_hessian`).
    search_gradients : int
        Gradients the search took (a sparse Hessian's included, where Newton steps use it).
    newton_decrement : float
        √(gᵀ·Q⁻¹·g) at the point found, g the log density's gradient there and Q the
        precision: how far that point lies from the peak of the quadratic fitted there (one
        Newton step on), in the Gaussian's own sd. It bounds the offset of every parameter,
        and of every linear combination, in its posterior sd. NaN where not computed.
    polish_steps : int
        Newton steps with the mode's Hessian taken after the search, each while the
        decrement was above :data:`MODE_DECREMENT_TOLERANCE` (at most
        :data:`MODE_POLISH_STEPS`).
    spreads : dict, optional
        Where the spreads were then moved to their Laplace-marginal mode
        (:func:`~bayesspr.inference.marginal_spreads.marginal_spread_mode`): its record
        (steps, how far each spread moved in its marginal sd). None: the joint mode.
    """

    point: dict[str, np.ndarray]
    precision: scipy.sparse.csr_array
    iterations: int
    seconds: float
    gradient_norm: float
    hessian_gradients: int = 0
    search_gradients: int = 0
    newton_decrement: float = float("nan")
    polish_steps: int = 0
    spreads: dict[str, Any] | None = None

    @property
    def n_parameters(self) -> int:
        """Free parameters (unconstrained)."""
        return int(self.precision.shape[0])

    @property
    def covariance(self) -> np.ndarray:
        """The Gaussian's covariance, dense (unconstrained units squared).

        For NUTS's dense mass matrix; refused past :data:`MODE_MAX_PARAMETERS` parameters
        (their square in memory), where :meth:`draws` still works from the sparse precision.
        """
        if self.n_parameters > MODE_MAX_PARAMETERS:
            raise ArgumentError(
                f"a dense covariance of {self.n_parameters} parameters is not formed (more "
                f"than {MODE_MAX_PARAMETERS}); draw from the Gaussian with .draws()"
            )
        chol = scipy.linalg.cho_factor(self.precision.toarray(), lower=True)
        covariance = scipy.linalg.cho_solve(chol, np.eye(self.n_parameters))
        return 0.5 * (covariance + covariance.T)

    @functools.cached_property
    def factor(self) -> PrecisionFactor:
        """The precision's sparse factor (:func:`precision_factor`), made once.

        Raises
        ------
        UnconvergedFitError
            If the precision is not positive definite.
        """
        return precision_factor(self.precision)

    def draw_chunks(
        self, n: int, random_seed: int | None, chunk: int = DRAW_CHUNK
    ) -> Iterator[np.ndarray]:
        """``n`` draws from the Gaussian at the mode, raveled, ``chunk`` at a time.

        The precision is factored sparse (:func:`precision_factor`), so this works for tens
        of thousands of parameters whose covariance would not fit in memory; only one
        chunk's normals and their whitened copies are held at once (at rung L, 41,090
        parameters, 4,000 draws at once took several GiB). Each draw's normals are one run
        of the seeded stream, so the draws are the same whatever ``chunk`` is.

        Parameters
        ----------
        n : int
            Number of draws.
        random_seed : int, optional
            Seed.
        chunk : int
            Most draws made at once.

        Yields
        ------
        numpy.ndarray
            (k, parameters) draws, k ≤ ``chunk``, in the order of ``point`` raveled
            (unconstrained units).
        """
        if chunk < 1:
            raise ArgumentError(f"chunk is {chunk}; expected a positive number of draws")
        centre = DictToArrayBijection.map(self.point).data
        rng = np.random.default_rng(random_seed)
        for start in range(0, n, chunk):
            normals = rng.standard_normal((min(chunk, n - start), self.n_parameters))
            yield centre + self.factor.whiten(normals.T).T

    def draw_points(self, n: int, random_seed: int | None) -> Iterator[dict[str, np.ndarray]]:
        """The draws of :meth:`draw_chunks` one at a time, each as a point by value variable.

        Parameters
        ----------
        n : int
            Number of draws.
        random_seed : int, optional
            Seed.

        Yields
        ------
        dict of str to numpy.ndarray
            One draw (unconstrained), by value variable.
        """
        info = DictToArrayBijection.map(self.point).point_map_info
        for values in self.draw_chunks(n, random_seed):
            for row in values:
                yield DictToArrayBijection.rmap(RaveledVars(row, info))

    def draws(self, n: int, random_seed: int | None) -> list[dict[str, np.ndarray]]:
        """``n`` draws from the Gaussian at the mode, each as a point by value variable.

        :meth:`draw_points` for the same seed, as a list.

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
        return list(self.draw_points(n, random_seed))

    def record(self) -> dict[str, Any]:
        """What the search took, as JSON-able data (kept in a fit's diagnostics).

        Returns
        -------
        dict
        """
        return {
            "parameters": self.n_parameters,
            "iterations": int(self.iterations),
            "seconds": round(float(self.seconds), 2),
            "gradient_norm": float(self.gradient_norm),
            "hessian_gradients": int(self.hessian_gradients),
            "search_gradients": int(self.search_gradients),
            "newton_decrement": float(self.newton_decrement),
            "polish_steps": int(self.polish_steps),
        } | ({} if self.spreads is None else {"spreads": self.spreads})


@dataclass(frozen=True)
class PrecisionFactor:
    """A sparse LDLᵀ factor of a precision matrix, for draws from its Gaussian.

    Attributes
    ----------
    solver : scipy.sparse.linalg.SuperLU
        SuperLU's factor of the precision with the parameters in ``order``, no pivoting.
    lower : scipy.sparse.csc_array
        Its unit lower-triangular L.
    diagonal : numpy.ndarray
        D (all positive).
    order : numpy.ndarray
        The parameters' order in the factor (the finest first, so fill-in stays in the
        coarse corner).
    """

    solver: scipy.sparse.linalg.SuperLU
    lower: scipy.sparse.csc_array
    diagonal: np.ndarray
    order: np.ndarray

    def whiten(self, normals: np.ndarray) -> np.ndarray:
        """Draws with covariance Q⁻¹ from standard normals: Q⁻¹·L·D^½·z.

        With Q = L·D·Lᵀ that is L⁻ᵀ·D^-½·z, whose covariance is (L·D·Lᵀ)⁻¹.

        Parameters
        ----------
        normals : numpy.ndarray
            (n, m) independent standard normals.

        Returns
        -------
        numpy.ndarray
            (n, m), in the precision's own parameter order.
        """
        scaled = self.lower @ (np.sqrt(self.diagonal)[:, None] * normals[self.order])
        ordered = self.solver.solve(np.asarray(scaled))
        values = np.empty_like(ordered)
        values[self.order] = ordered
        return values

    def solve(self, right: np.ndarray) -> np.ndarray:
        """Q⁻¹·``right``: the covariance times a vector (the Newton step from a gradient).

        Parameters
        ----------
        right : numpy.ndarray
            (n,) in the precision's own parameter order.

        Returns
        -------
        numpy.ndarray
            (n,) in the same order.
        """
        ordered = self.solver.solve(np.asarray(right, dtype=float)[self.order])
        solved = np.empty_like(ordered)
        solved[self.order] = ordered
        return solved


def precision_factor(precision: scipy.sparse.sparray) -> PrecisionFactor:
    """Factor a symmetric positive-definite precision sparse (SuperLU, no pivoting).

    The parameters are ordered from the least connected to the most (a zip's effect before
    the population constants), which keeps the factor as sparse as the precision for a
    hierarchical model; with no pivoting SuperLU's LU is L·(D·Lᵀ).

    Parameters
    ----------
    precision : scipy.sparse array
        (n, n) symmetric.

    Returns
    -------
    PrecisionFactor

    Raises
    ------
    UnconvergedFitError
        If the precision is not positive definite (a pivot is not positive).
    """
    matrix = scipy.sparse.csc_array(precision)
    order = np.argsort(np.diff(matrix.indptr), kind="stable")
    ordered = scipy.sparse.csc_array(matrix[order][:, order])
    refusal = UnconvergedFitError(
        "the Hessian at the mode is not positive definite (no Gaussian fits there); fit "
        "with start='default'"
    )
    try:
        solver = scipy.sparse.linalg.splu(
            ordered,
            permc_spec="NATURAL",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
    except RuntimeError:  # SuperLU: "Factor is exactly singular"
        raise refusal from None
    diagonal = solver.U.diagonal()
    identity = np.arange(len(order))
    pivoted = not (
        np.array_equal(solver.perm_r, identity) and np.array_equal(solver.perm_c, identity)
    )
    if pivoted or not np.all(diagonal > 0):
        raise refusal
    lower = scipy.sparse.csc_array(solver.L)
    return PrecisionFactor(solver=solver, lower=lower, diagonal=diagonal, order=order)


class CountedNegativeLogDensity:
    """The negative log density and its gradient at a raveled point, counting the calls.

    Parameters
    ----------
    logp_dlogp : callable
        ``x -> (log density, gradient)`` at a raveled point of a model's value variables
        (what :meth:`pymc.Model.logp_dlogp_function` compiles with ``ravel_inputs=True``).

    Attributes
    ----------
    gradients : int
        Calls so far (each evaluates the gradient).
    """

    def __init__(self, logp_dlogp: Callable[[np.ndarray], tuple[Any, Any]]) -> None:
        self.logp_dlogp = logp_dlogp
        self.gradients = 0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The negative log density (nats) and its gradient at ``x``."""
        self.gradients += 1
        logp, grad = self.logp_dlogp(x)
        return -float(logp), -np.asarray(grad, dtype=float)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The gradient of the negative log density at ``x``."""
        return self(x)[1]


def find_mode(
    model: pm.Model,
    *,
    max_iterations: int = 20_000,
    random_seed: int | None = None,
    pattern: scipy.sparse.sparray | None = None,
    log_density: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
) -> PosteriorMode:
    """The posterior mode of ``model`` and the curvature there (see the module docstring).

    Parameters
    ----------
    model : pymc.Model
        A model whose free variables are all continuous.
    max_iterations : int
        Most iterations of the search (L-BFGS; Newton steps take at most a tenth of it).
    random_seed : int, optional
        Seed of PyMC's initial point (its jitter, where the model has one).
    pattern : scipy.sparse array, optional
        (n, n) where the Hessian of the log density may be non-zero, in the order of the
        model's value variables raveled. The Hessian then takes one gradient per colour
        (:mod:`bayesspr.inference.sparse_hessian`), checked along a random direction, and
        the search takes Newton steps in a trust region (SciPy's ``trust-constr``) instead
        of L-BFGS: at rung S of the size ladder 352 gradients instead of 1,815, and a
        curvature-blind search slows as thousands of zips make the posterior's scales
        differ more. None: L-BFGS and a dense Hessian, one gradient per parameter (at most
        :data:`MODE_MAX_PARAMETERS`).
    log_density : callable, optional
        ``x -> (log density, gradient)`` at a raveled point of ``model``'s value variables,
        in place of the one ``model`` compiles: a
        :class:`~bayesspr.inference.sharded.ShardedLogDensity` whose rows are on Dask
        workers, where ``model`` holds the priors alone.

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
    negative = CountedNegativeLogDensity(
        log_density or model.logp_dlogp_function(ravel_inputs=True, initial_point=start)
    )
    gradient = negative.gradient
    colouring = None if pattern is None else _colouring(pattern, raveled.data.size)
    result = minimise_negative_log_density(
        negative,
        raveled.data.astype(float),
        colouring=colouring,
        max_iterations=max_iterations,
        callback=_progress_logger(started, negative),
        random_seed=0 if random_seed is None else int(random_seed),
    )
    value, grad = negative(result.x)
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        raise UnconvergedFitError(
            f"the search for the posterior mode ended where the log density is not finite "
            f"({result.message}); fit with method='nuts' and start='default'"
        )
    searched = negative.gradients
    x, polish_steps = result.x, 0
    while True:
        hessian = _hessian(gradient, x, colouring, random_seed)
        hessian_gradients = negative.gradients - searched
        try:
            factor = precision_factor(hessian)
        except UnconvergedFitError:
            raise UnconvergedFitError(
                f"the posterior is not locally Gaussian at the mode the search found "
                f"({result.nit} iterations, {result.message}): its Hessian is not positive "
                "definite; fit with start='default'"
            ) from None
        step = factor.solve(-grad)
        decrement = float(np.sqrt(max(float(-grad @ step), 0.0)))
        if decrement <= MODE_DECREMENT_TOLERANCE or polish_steps == MODE_POLISH_STEPS:
            break
        polished = _newton_step(negative, x, value, step)
        if polished is None:
            break
        x, value, grad = polished
        polish_steps += 1
        searched = negative.gradients
    point = DictToArrayBijection.rmap(RaveledVars(x, raveled.point_map_info))
    mode = PosteriorMode(
        point={name: np.asarray(value) for name, value in point.items()},
        precision=hessian,
        iterations=int(result.nit),
        seconds=time.perf_counter() - started,
        gradient_norm=float(np.max(np.abs(grad))),
        hessian_gradients=hessian_gradients,
        search_gradients=searched,
        newton_decrement=decrement,
        polish_steps=polish_steps,
    )
    mode.__dict__["factor"] = factor  # the cached factor: made once, positive definite
    if decrement > MODE_DECREMENT_TOLERANCE:
        _LOG.warning(
            "the mode search ended %.3g posterior sd from the mode of its Gaussian after %d "
            "Newton steps with the Hessian (the Newton decrement; %.3g asked)",
            decrement,
            polish_steps,
            MODE_DECREMENT_TOLERANCE,
        )
    return mode


def _newton_step(
    negative: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    value: float,
    step: np.ndarray,
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """``x`` moved along the Newton ``step`` (halved up to twice) where that lowers ``value``.

    Returns the new point, its negative log density and gradient; None where no length of
    the step lowers it (the search already ended as close as the gradient's rounding allows).
    """
    for length in (1.0, 0.5, 0.25):
        moved = x + length * step
        new_value, new_grad = negative(moved)
        if np.isfinite(new_value) and np.all(np.isfinite(new_grad)) and new_value < value:
            return moved, new_value, new_grad
    return None


def minimise_negative_log_density(
    negative: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    colouring: HessianColouring | None = None,
    max_iterations: int = 20_000,
    callback: Callable[[scipy.optimize.OptimizeResult], None] | None = None,
    random_seed: int = 0,
) -> scipy.optimize.OptimizeResult:
    """The search :func:`find_mode` makes, from ``x0``.

    With a colouring: Newton steps in a trust region (SciPy ``trust-constr``) with the
    coloured sparse Hessian at each step, at most ``max_iterations`` // 10 of them. Without:
    L-BFGS, at most ``max_iterations`` steps.

    Parameters
    ----------
    negative : callable
        The negative log density and its gradient at a point (unconstrained space).
    x0 : numpy.ndarray
        (n,) the start.
    colouring : HessianColouring, optional
        From :func:`~bayesspr.inference.sparse_hessian.colour_columns` on the Hessian's
        sparsity pattern.
    max_iterations : int
        Most L-BFGS iterations (a tenth of it for Newton steps).
    callback : callable, optional
        Called by SciPy with the current state after each iteration.
    random_seed : int
        Seed of the coloured Hessian's check direction.

    Returns
    -------
    scipy.optimize.OptimizeResult
    """
    if colouring is None:
        return scipy.optimize.minimize(
            negative,
            x0,
            jac=True,
            callback=callback,
            method="L-BFGS-B",
            options={"maxiter": max_iterations, "maxcor": 30, "ftol": 1e-13, "gtol": 1e-8},
        )

    def gradient(x: np.ndarray) -> np.ndarray:
        return negative(x)[1]

    return scipy.optimize.minimize(
        negative,
        x0,
        jac=True,
        hess=lambda x: coloured_hessian(gradient, x, colouring, random_seed=random_seed),
        callback=callback,
        method="trust-constr",
        options={"maxiter": max(max_iterations // 10, 1), "gtol": 1e-8, "xtol": 1e-12},
    )


def _progress_logger(started: float, counted: CountedNegativeLogDensity) -> Any:
    """A SciPy callback that logs the search's progress every :data:`PROGRESS_EVERY_S`."""
    said = {"at": started, "iterations": 0}

    def progress(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        # scipy passes the current state to a callback whose argument has this name
        said["iterations"] += 1
        now = time.perf_counter()
        if now - said["at"] >= PROGRESS_EVERY_S:
            said["at"] = now
            _LOG.info(
                "mode search: iteration %d, %d gradients, -log density %.10g, %.0f s",
                said["iterations"],
                counted.gradients,
                intermediate_result.fun,
                now - started,
            )

    return progress


def _colouring(pattern: scipy.sparse.sparray, size: int) -> HessianColouring:
    """The pattern's colouring, refused if its size is not the model's."""
    colouring = colour_columns(pattern)
    if colouring.pattern.shape[0] != size:
        raise ArgumentError(
            f"the Hessian pattern is {colouring.pattern.shape[0]} × "
            f"{colouring.pattern.shape[0]}; the model has {size} free parameters"
        )
    return colouring


def _hessian(
    gradient: Any, x: np.ndarray, colouring: HessianColouring | None, random_seed: int | None
) -> scipy.sparse.csr_array:
    """The Hessian at ``x``: coloured where a colouring is given, else one gradient a column."""
    if colouring is not None:
        seed = 0 if random_seed is None else int(random_seed)
        return coloured_hessian(gradient, x, colouring, random_seed=seed)
    if x.size > MODE_MAX_PARAMETERS:
        raise ArgumentError(
            f"a dense Hessian of {x.size} free parameters takes one gradient each (more than "
            f"{MODE_MAX_PARAMETERS}); give the model's sparsity pattern"
        )
    dense = np.reshape(scipy.optimize.approx_fprime(x, gradient), (x.size, x.size))
    return scipy.sparse.csr_array(0.5 * (dense + dense.T))


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
    variables = [*model.free_RVs, *model.deterministics]
    names = [var.name for var in variables]
    outputs = _values_to(model, variables)
    values: dict[str, np.ndarray] = {}
    for done, point in enumerate(mode.draw_points(chains * draws, random_seed)):
        for name, value in zip(names, outputs(point), strict=True):
            if name not in values:
                values[name] = np.empty((chains * draws, *np.shape(value)), np.asarray(value).dtype)
            values[name][done] = value
    return xr.DataTree.from_dict({"posterior": _as_posterior(model, values, chains, draws)})


def _as_posterior(
    model: pm.Model, values: Mapping[str, np.ndarray], chains: int, draws: int
) -> xr.Dataset:
    """Draws by variable, ``(chains × draws, *shape)`` each, as ``(chain, draw, *dims)``."""
    data = {}
    for name, stack in values.items():
        array = stack.reshape(chains, draws, *stack.shape[1:])
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
