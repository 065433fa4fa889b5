"""The spreads at the mode of their Laplace marginal: the Laplace route without its shrinkage.

The joint mode of a hierarchical model under-estimates its spreads. At the joint mode of
(x, θ), θ the log of a spread (the zips' effects' sd, σ_route, …) and x everything else,
every zip's effect sits at its own mode as if it were known; the spread of those modes is
narrower than the spread of the effects, and the joint mode follows it (on rung M of the
size ladder the zips' spread came out 2.3 posterior sd low on every seed, σ_route 3.0 sd,
and the physics constants that trade off against them drifted with them).

The remedy is the one INLA and Template Model Builder use: integrate x out before choosing θ.
Laplace's approximation of the marginal,

    log p(y, θ) ≈ log p(y, x̂_θ, θ) − ½·log det H_xx(x̂_θ, θ),

with x̂_θ the mode of x at fixed θ and H_xx the Hessian of the negative log density in x
there, has the gradient (x̂_θ's own move drops out of the first term, where ∂/∂x = 0)

    ∂/∂θ_j log p(y, x, θ) − ½·tr(H_xx⁻¹ · dH_xx/dθ_j),

where d/dθ_j moves θ_j and x̂_θ with it (x̂'s path: dx̂/dθ = −H_xx⁻¹·H_xθ). Here:

* dH_xx/dθ_j is a forward difference of the sparse Hessian
  (:func:`~bayesspr.inference.sparse_hessian.coloured_hessian`, a gradient a colour) along
  that path, a step of :data:`SPREAD_DIFFERENCE` of θ_j's marginal sd;
* the trace is exact up to :data:`SPREAD_EXACT_TRACE_MAX` parameters (H_xx⁻¹ dense); past
  it, Hutchinson's with Gaussian probes w ~ N(0, H_xx⁻¹) drawn from the sparse factor:
  tr(H⁻¹A) = E[wᵀ·A·w], :data:`SPREAD_PROBES` of them, the same probes at every step, with
  its Monte Carlo standard error recorded (in the spreads' marginal sd);
* θ takes Newton steps with the Schur complement H_θθ − H_θx·H_xx⁻¹·H_xθ (the precision of
  θ in the Gaussian at the point), at most :data:`SPREAD_MAX_STEP` marginal sd long, halved
  where the Laplace marginal does not rise, and x follows to x̂_θ (along its path, then
  Newton steps with H_xx) after each.

It stops when the step is below :data:`SPREAD_TOLERANCE` of θ's marginal sd. The Gaussian of
the Laplace route is then the one at (x̂_θ, θ): its θ is the marginal's mode, not the joint
mode's, and x given θ is the Gaussian of the conditional mode. Still an approximation (a
Gaussian for θ, a Gaussian for x given θ), labelled so wherever it is used; what it changes is
checked against the truth on the ladder (``benchmarks/laplace_recovery.py``) and against NUTS
on the demo world (``tests/spr/test_model.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import pymc as pm
import scipy.linalg
import scipy.sparse
from pymc.blocking import DictToArrayBijection, RaveledVars

from bayesspr.errors import ArgumentError, UnconvergedFitError
from bayesspr.inference.mode import (
    MODE_DECREMENT_TOLERANCE,
    CountedNegativeLogDensity,
    PosteriorMode,
    PrecisionFactor,
    _colouring,
    _hessian,
    _newton_step,
    precision_factor,
)

#: Most Newton steps on the spreads.
SPREAD_STEPS = 6

#: The search ends when the Newton step on the spreads is below this, in their marginal sd
#: (√(Gᵀ·S⁻¹·G), G the marginal's gradient and S the Schur complement).
SPREAD_TOLERANCE = 0.05

#: Probes of the trace of H_xx⁻¹·dH_xx/dθ (Hutchinson's estimator, Gaussian probes).
SPREAD_PROBES = 128

#: Most parameters besides the spreads for which the trace is exact (H_xx⁻¹ dense: 8 bytes
#: times their square) rather than Hutchinson's estimate.
SPREAD_EXACT_TRACE_MAX = 5000

#: Step of the forward difference of the Hessian along a spread's path, in its marginal sd.
SPREAD_DIFFERENCE = 0.05

#: Longest step on the spreads, in their marginal sd (a longer Newton step is shortened): far
#: from the marginal's mode the Schur complement, which leaves out the curvature of the log
#: determinant, can overshoot.
SPREAD_MAX_STEP = 3.0

#: Most Newton steps of x to its conditional mode after a step of the spreads.
CONDITIONAL_STEPS = 4

_LOG = logging.getLogger("bayesspr")


def marginal_spread_mode(
    model: pm.Model,
    mode: PosteriorMode,
    spreads: Sequence[str],
    *,
    pattern: scipy.sparse.sparray,
    random_seed: int | None = None,
    log_density: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
) -> PosteriorMode:
    """The Gaussian of the Laplace route with the spreads at their Laplace-marginal mode.

    See the module docstring. The spreads' record (steps, gradients, how far each spread
    moved in its marginal sd, the trace's Monte Carlo error) is in the returned mode's
    :attr:`~bayesspr.inference.mode.PosteriorMode.spreads`.

    Parameters
    ----------
    model : pymc.Model
        The model :func:`~bayesspr.inference.mode.find_mode` searched.
    mode : PosteriorMode
        Its joint mode (with the precision there).
    spreads : sequence of str
        Names of the model's free random variables to put at their marginal mode: scalar
        spreads of the hierarchy and the observation noise (their value variables are on
        the log scale). Names the model does not have are skipped.
    pattern : scipy.sparse array
        The Hessian's sparsity pattern, as for ``find_mode``.
    random_seed : int, optional
        Seed of the probes and of the Hessian's check direction.
    log_density : callable, optional
        ``x -> (log density, gradient)`` in place of the one ``model`` compiles (rows on Dask
        workers), as for ``find_mode``.

    Returns
    -------
    PosteriorMode
        At (x̂_θ, θ̂), with the precision there; ``seconds`` and ``search_gradients`` add
        this search's to the joint mode's; ``gradient_norm`` and ``newton_decrement`` are
        those of x given θ̂ (the spreads' own gradient is not zero there: that is the point).
    """
    started = time.perf_counter()
    raveled = DictToArrayBijection.map(mode.point)
    info = raveled.point_map_info
    names, indices = _spread_indices(model, info, spreads)
    if indices.size == 0:
        return mode
    x0 = raveled.data.astype(float)
    negative = CountedNegativeLogDensity(
        log_density or model.logp_dlogp_function(ravel_inputs=True, initial_point=mode.point)
    )
    colouring = _colouring(pattern, x0.size)
    seed = 0 if random_seed is None else int(random_seed)
    search = _SpreadSearch(negative, colouring, indices, seed)
    x, grad, hessian, record = search.run(x0, mode.precision)
    record["moved_sd"] = dict(zip(names, record["moved_sd"], strict=True))
    record["trace_error_sd"] = dict(zip(names, record["trace_error_sd"], strict=True))
    point = DictToArrayBijection.rmap(RaveledVars(x, info))
    record |= {
        "gradients": negative.gradients,
        "seconds": round(time.perf_counter() - started, 2),
    }
    _LOG.info("spreads at their marginal mode: %s", record)
    marginal = replace(
        mode,
        point={name: np.asarray(v) for name, v in point.items()},
        precision=hessian,
        seconds=mode.seconds + time.perf_counter() - started,
        gradient_norm=float(np.max(np.abs(grad[search.rest]))),
        newton_decrement=record["conditional_decrement"],
        search_gradients=mode.search_gradients + negative.gradients,
        spreads=record,
    )
    return marginal


def _spread_indices(
    model: pm.Model, info: Any, spreads: Sequence[str]
) -> tuple[list[str], np.ndarray]:
    """The spreads' names and positions in the raveled point (scalars only), in its order."""
    wanted = {}
    for name in spreads:
        if name in model.named_vars and model[name] in model.rvs_to_values:
            wanted[model.rvs_to_values[model[name]].name] = name
    names, indices, start = [], [], 0
    for name, shape, size, _ in info:
        if name in wanted:
            if size != 1:
                raise ArgumentError(
                    f"spread {name!r} has shape {shape}; only scalar spreads are put at their "
                    "marginal mode"
                )
            names.append(wanted[name])
            indices.append(start)
        start += size
    return names, np.asarray(indices, dtype=int)


class _Conditional(NamedTuple):
    """x at its conditional mode given the spreads: the point and what was found there."""

    x: np.ndarray
    value: float
    grad: np.ndarray
    hessian: scipy.sparse.csr_array
    factor: PrecisionFactor  # of H_xx
    steps: int  # Newton steps taken
    decrement: float  # Newton decrement of x there

    @property
    def marginal(self) -> float:
        """The Laplace marginal there: log p(y, x̂_θ, θ) − ½·log det H_xx."""
        return -self.value - 0.5 * float(np.sum(np.log(self.factor.diagonal)))


class _SpreadSearch:
    """Newton steps on the spreads θ at the Laplace marginal, x at its conditional mode."""

    def __init__(
        self,
        negative: CountedNegativeLogDensity,
        colouring: Any,
        spreads: np.ndarray,
        seed: int,
    ) -> None:
        self.negative = negative
        self.colouring = colouring
        self.spreads = spreads
        n = colouring.pattern.shape[0]
        self.rest = np.setdiff1d(np.arange(n), spreads)
        self.seed = seed
        self.normals = (
            None
            if self.rest.size <= SPREAD_EXACT_TRACE_MAX
            else np.random.default_rng(seed).standard_normal((self.rest.size, SPREAD_PROBES))
        )

    def hessian(self, x: np.ndarray) -> scipy.sparse.csr_array:
        return _hessian(self.negative.gradient, x, self.colouring, self.seed)

    def rest_block(self, hessian: scipy.sparse.csr_array) -> scipy.sparse.csr_array:
        return scipy.sparse.csr_array(hessian[self.rest][:, self.rest])

    def conditional_mode(
        self, x: np.ndarray, value: float, grad: np.ndarray, hessian: scipy.sparse.csr_array
    ) -> _Conditional:
        """x̂ at the spreads of ``x``: Newton steps with H_xx until the decrement is small."""
        steps = 0
        while True:
            factor = precision_factor(self.rest_block(hessian))
            step = factor.solve(-grad[self.rest])
            decrement = float(np.sqrt(max(float(-grad[self.rest] @ step), 0.0)))
            found = _Conditional(x, value, grad, hessian, factor, steps, decrement)
            if decrement <= MODE_DECREMENT_TOLERANCE or steps == CONDITIONAL_STEPS:
                return found
            full = np.zeros_like(x)
            full[self.rest] = step
            moved = _newton_step(self.negative, x, value, full)
            if moved is None:
                return found
            x, value, grad = moved
            hessian = self.hessian(x)
            steps += 1

    def run(
        self, x: np.ndarray, hessian: scipy.sparse.csr_array
    ) -> tuple[np.ndarray, np.ndarray, scipy.sparse.csr_array, dict[str, Any]]:
        """The search from the joint mode ``x`` (its Hessian ``hessian``)."""
        value, grad = self.negative(x)
        start = x[self.spreads].copy()
        steps, history = 0, []
        at = self.conditional_mode(x, value, grad, hessian)
        inner = at.steps
        while True:
            state = self.marginal_state(at)
            size = state["size"]
            history.append(round(size, 4))
            if size <= SPREAD_TOLERANCE or steps == SPREAD_STEPS:
                break
            accepted = None
            for length in (1.0, 0.5, 0.25):
                trial = at.x.copy()
                trial[self.spreads] += length * state["step"]
                trial[self.rest] += length * (state["paths"] @ state["step"])
                trial_value, trial_grad = self.negative(trial)
                if not (np.isfinite(trial_value) and np.all(np.isfinite(trial_grad))):
                    continue
                trial_hessian = self.hessian(trial)
                try:
                    found = self.conditional_mode(trial, trial_value, trial_grad, trial_hessian)
                except UnconvergedFitError:  # not positive definite there: a shorter step
                    continue
                if found.marginal >= state["marginal"] - 1e-9 * abs(state["marginal"]):
                    accepted = found
                    break
            if accepted is None:
                break
            at = accepted
            inner += at.steps
            steps += 1
        if size > SPREAD_TOLERANCE:
            _LOG.warning(
                "the spreads' marginal mode: the last Newton step was %.3g of their marginal sd "
                "after %d steps (%.3g asked)",
                size,
                steps,
                SPREAD_TOLERANCE,
            )
        sd = state["sd"]
        record = {
            "conditional_decrement": at.decrement,
            "steps": steps,
            "conditional_steps": inner,
            "last_step_sd": round(size, 4),
            "step_sizes_sd": history,
            "moved_sd": [round(float(v), 3) for v in (at.x[self.spreads] - start) / sd],
            "trace": "exact" if self.rest.size <= SPREAD_EXACT_TRACE_MAX else "probes",
            "trace_error_sd": [round(float(v), 4) for v in state["trace_error"]],
        }
        return at.x, at.grad, at.hessian, record

    def marginal_state(self, at: _Conditional) -> dict[str, Any]:
        """The Laplace marginal at x̂_θ: value, gradient in θ, Newton step and paths of x̂."""
        x, grad, hessian, factor = at.x, at.grad, at.hessian, at.factor
        rows = hessian[self.rest]
        cross = np.asarray(rows[:, self.spreads].toarray())
        own = np.asarray(hessian[self.spreads][:, self.spreads].toarray())
        paths = -np.column_stack([factor.solve(cross[:, j]) for j in range(self.spreads.size)])
        schur = own + cross.T @ paths
        schur = 0.5 * (schur + schur.T)
        covariance = np.linalg.inv(schur)
        sd = np.sqrt(np.diag(covariance))
        trace = self.trace_estimator(hessian, factor)
        derivative, error = np.empty(self.spreads.size), np.empty(self.spreads.size)
        for j in range(self.spreads.size):
            epsilon = SPREAD_DIFFERENCE * sd[j]
            direction = np.zeros_like(x)
            direction[self.rest] = paths[:, j]
            direction[self.spreads[j]] = 1.0
            moved = self.rest_block(self.hessian(x + epsilon * direction))
            derivative[j], error[j] = trace(moved, epsilon)
        gradient = -grad[self.spreads] - 0.5 * derivative
        step = covariance @ gradient
        size = float(np.sqrt(max(float(gradient @ step), 0.0)))
        return {
            "marginal": at.marginal,
            "step": step * min(1.0, SPREAD_MAX_STEP / max(size, 1e-300)),
            "size": size,
            "paths": paths,
            "sd": sd,
            # the trace's error as a share of the step's scale: its effect on θ in sd
            "trace_error": 0.5 * error * sd,
        }

    def trace_estimator(
        self, hessian: scipy.sparse.csr_array, factor: PrecisionFactor
    ) -> Callable[[scipy.sparse.csr_array, float], tuple[float, float]]:
        """``(H_xx at the moved point, step) -> (tr(H_xx⁻¹·dH_xx), its standard error)``."""
        base = self.rest_block(hessian)
        if self.rest.size <= SPREAD_EXACT_TRACE_MAX:
            inverse = scipy.linalg.cho_solve(
                scipy.linalg.cho_factor(base.toarray(), lower=True), np.eye(self.rest.size)
            )

            def exact(moved: scipy.sparse.csr_array, epsilon: float) -> tuple[float, float]:
                change = scipy.sparse.csr_array(moved - base) / epsilon
                return float(change.multiply(inverse).sum()), 0.0

            return exact
        probes = factor.whiten(self.normals)
        quadratic = _quadratic(base, probes)

        def hutchinson(moved: scipy.sparse.csr_array, epsilon: float) -> tuple[float, float]:
            per_probe = (_quadratic(moved, probes) - quadratic) / epsilon
            return float(per_probe.mean()), float(per_probe.std(ddof=1) / np.sqrt(per_probe.size))

        return hutchinson


def _quadratic(matrix: scipy.sparse.sparray, probes: np.ndarray) -> np.ndarray:
    """wᵀ·A·w for each column w of ``probes``."""
    return np.einsum("ip,ip->p", probes, np.asarray(matrix @ probes))
