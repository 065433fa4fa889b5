"""NUTS on a model part whose rows' likelihood is on Dask workers: full MCMC past one process.

:mod:`bayesspr.inference.sharded` puts a model's rows on Dask workers and adds their
log-likelihood terms to the log prior in the fitting process, exactly. The Laplace route
searches a mode on that sum; this module runs **NUTS** on it. nutpie samples any log density
given as a Python function with its gradient (``nutpie.compiled_pyfunc.from_pyfunc``): here
the sum of the prior and every worker's blocks, so the sampler, its adaptation and its draws
are nutpie's own, as in a fit in one process, and only where the gradient is computed moves.

The chains run at once, each in a thread of the fitting process that mostly waits on the
workers, so their calls overlap: a worker answers one after the other, and while one chain
waits on the messages another's gradient is computed. Each gradient costs one round trip to
every worker (about 2.5 ms on a 2-core LocalCluster, ``docs/scale.md``): the route pays
where a gradient costs more than that in one process, as the volume model's zips do at
national size.

The draws are named and shaped as PyMC's NUTS would name them: each free variable on its own
scale and each deterministic, by a function compiled from the model with no rows (every
parameter, no data).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pymc as pm
import xarray as xr
from pymc.initial_point import make_initial_point_fn
from pymc.pytensorf import compile as compile_pytensor
from pymc.pytensorf import join_nonshared_inputs

from bayesspr.inference.sharded import RowShards, ShardedLogDensity

if TYPE_CHECKING:
    from bayesspr.inference.fitted_model import FittedModel, SamplerConfig


def python_density_model(
    model: pm.Model, log_density: Callable[[np.ndarray], tuple[float, np.ndarray]]
) -> Any:
    """A nutpie model of ``model``'s parameters whose log density is ``log_density``.

    Parameters
    ----------
    model : pymc.Model
        A model with every parameter of the posterior (its rows may be elsewhere): it gives
        the parameters' order, the initial points, and the named draws.
    log_density : callable
        ``x -> (log density, gradient)`` at the raveled unconstrained vector ``x``
        (``model.value_vars`` order), callable from several threads at once.

    Returns
    -------
    nutpie.compiled_pyfunc.PyFuncModel
        For ``nutpie.sample``: draws of every free variable (on its own scale) and
        deterministic, with the model's dims and coords.
    """
    from nutpie.compiled_pyfunc import from_pyfunc

    point = model.initial_point()
    point = {var.name: point[var.name] for var in model.value_vars}
    ndim = int(sum(np.size(value) for value in point.values()))
    kept = {rv.name for rv in model.free_RVs} | {var.name for var in model.deterministics}
    outputs = [var for var in model.unobserved_value_vars if var.name in kept]
    joined_outputs, joined = join_nonshared_inputs(point, outputs, model.value_vars)
    expand_function = compile_pytensor([joined], joined_outputs)
    names = [var.name for var in outputs]
    start = np.concatenate([np.ravel(value) for value in point.values()])
    shapes = [np.shape(value) for value in expand_function(start)]
    # compiled PyTensor functions keep their storage: one caller at a time (chains are threads)
    compiled_lock = threading.Lock()

    def make_logp_fn() -> Callable:
        def logp(x: np.ndarray, **shared: Any) -> tuple[float, np.ndarray]:
            value, gradient = log_density(x)
            return float(value), np.ascontiguousarray(gradient, dtype=np.float64)

        return logp

    def make_expand_fn(seed1: int, seed2: int, chain: int) -> Callable:
        def expand(x: np.ndarray, **shared: Any) -> dict[str, np.ndarray]:
            with compiled_lock:
                values = expand_function(np.asarray(x, dtype=np.float64))
            return {
                name: np.array(value, dtype=np.float64, order="C").reshape(shape)
                for name, value, shape in zip(names, values, shapes, strict=True)
            }

        return expand

    jittered = make_initial_point_fn(
        model=model, jitter_rvs=set(model.free_RVs), return_transformed=True
    )

    def initial_point(seed: int) -> np.ndarray:
        with compiled_lock:
            values = jittered(int(seed) % (2**32))
        return np.concatenate([np.ravel(values[var.name]) for var in model.value_vars])

    dims = {name: tuple(model.named_vars_to_dims.get(name, ())) for name in names}
    return from_pyfunc(
        ndim,
        make_logp_fn,
        make_expand_fn,
        [np.dtype("float64")] * len(names),
        shapes,
        names,
        coords={name: list(values) for name, values in model.coords.items()},
        dims={name: dim for name, dim in dims.items() if dim},
        make_initial_point_fn=initial_point,
    )


def sharded_nuts(
    fitted: FittedModel,
    shards: RowShards,
    client: Any,
    sampler: SamplerConfig,
    *,
    random_seed: int | None,
    progressbar: bool = False,
) -> tuple[xr.DataTree, dict[str, Any]]:
    """NUTS (nutpie) on a model or part whose rows' likelihood is on ``client``'s workers.

    Parameters
    ----------
    fitted : FittedModel
        The model being fitted (its class and config go to the workers).
    shards : RowShards
        Its rows in blocks (:meth:`~bayesspr.inference.fitted_model.FittedModel.part_shards`).
    client : distributed.Client
        The Dask cluster.
    sampler : SamplerConfig
        Draws, tuning, chains, target acceptance and mass-matrix adaptation. Every chain
        runs at once, whatever ``cores`` says: they wait on the workers, not on this
        process's CPUs.
    random_seed : int, optional
        Sampler seed.
    progressbar : bool
        nutpie's progress bar.

    Returns
    -------
    xarray.DataTree
        ``posterior`` and ``sample_stats`` as nutpie gives them (no tuning draws).
    dict
        The workers' record (:meth:`ShardedLogDensity.record`), with ``nuts_seconds``: the
        wall time of it all, building the blocks on the workers included (s).
    """
    import nutpie

    started = time.perf_counter()
    prior_model = shards.build(fitted, shards.no_rows)
    with ShardedLogDensity(fitted, prior_model, shards, client) as density:
        compiled = python_density_model(prior_model, density)
        idata = nutpie.sample(
            compiled,
            draws=int(sampler.draws),
            tune=max(int(sampler.tune), 1),  # nutpie needs one tuning draw at least
            chains=int(sampler.chains),
            cores=int(sampler.chains),
            seed=None if random_seed is None else int(random_seed),
            save_warmup=False,
            progress_bar=progressbar,
            adaptation=sampler.mass_matrix,
            target_accept=float(sampler.target_accept),
        )
        record = density.record()
    record["nuts_seconds"] = round(time.perf_counter() - started, 2)
    return idata, record
