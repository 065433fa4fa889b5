"""A model's log density with its rows on Dask workers: how one fit outgrows one machine.

The log density of a hierarchical model is the log prior of its parameters plus one
log-likelihood term per row. At national size the rows are what does not fit: at rung L of
:mod:`bayesspr.simulate.ladder` (14.6 million zip-days) the SPR model's gradient would hold
about 20 GB of intermediate arrays in one process. The parameters (41,090 at rung L) are small.

So the rows are split into blocks (:meth:`~bayesspr.inference.fitted_model.FittedModel.row_shards`:
the SPR model's cities), and each Dask worker holds some of them as a stateful
:class:`ShardLikelihood` (a Dask actor). It builds each block's model with the whole table's
parameters (the same layout, so the same raveled vector) and compiles the gradient of that
block's log-likelihood alone. :class:`ShardedLogDensity`, in the fitting process, adds the
workers' terms to the log prior of a model with no rows; the sum is the whole model's log
density and gradient, exactly (to rounding), so the search for the mode and the Hessian there
(:mod:`bayesspr.inference.mode`) run unchanged on top of it. Each worker's memory is its
blocks' rows and one block's intermediate arrays at a time.

Every gradient asks all workers at once and waits for the slowest: blocks are given out
largest first to the least-loaded worker, by rows.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import resource
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pymc as pm
import pytensor
from pymc.pytensorf import compile as compile_pytensor
from pymc.pytensorf import join_nonshared_inputs

from bayesspr.errors import ArgumentError
from bayesspr.inference.heap import reused_heap_on_workers

if TYPE_CHECKING:
    from bayesspr.inference.fitted_model import FittedModel

_LOG = logging.getLogger("bayesspr")

LogDensity = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class RowShards:
    """A model's data split into blocks of rows whose log-likelihoods add up.

    Attributes
    ----------
    layout : object
        What fixes the model's parameters (groups, centring), from the whole data; a model
        built on any block with it has the whole data's parameters in the same order.
    blocks : dict of str to object
        The blocks of rows, by name (disjoint, together the whole data).
    no_rows : object
        The data with no rows: with ``layout``, the model of the priors alone.
    rows : dict of str to int
        Rows of each block.
    part : str, optional
        The part of the model these are the rows of, for a model sampled in independent
        parts (:meth:`~bayesspr.inference.fitted_model.FittedModel.build_blocks`): a model
        built on rows is then ``build_part(part, rows, layout)``, holding that part's
        parameters alone. None (default): the whole model, ``build_model(rows, layout)``.
    reads : dict of str to numpy.ndarray, optional
        Each block's positions in the raveled parameter vector that its likelihood reads
        (every other one it ignores): a worker is then sent only its blocks' positions and
        answers the gradient there alone, so every gradient's messages hold about as many
        values in all as the vector, not that times the workers. None: every position.
    """

    layout: Any
    blocks: dict[str, Any]
    no_rows: Any
    rows: dict[str, int]
    part: str | None = None
    reads: dict[str, np.ndarray] | None = None

    def build(self, fitted: FittedModel, rows: Any) -> pm.Model:
        """The model (or part) built on ``rows`` with :attr:`layout`: its whole parameters.

        Parameters
        ----------
        fitted : FittedModel
            A model of the class and configuration these rows are for.
        rows : object
            One of :attr:`blocks`, or :attr:`no_rows`.

        Returns
        -------
        pymc.Model
        """
        if self.part is None:
            return fitted.build_model(rows, self.layout)
        return fitted.build_part(self.part, rows, self.layout)

    def without_blocks(self) -> RowShards:
        """The same layout and part with no blocks (what a worker needs besides its own)."""
        return RowShards(self.layout, {}, self.no_rows, {}, self.part)

    def positions(self, names: list[str]) -> np.ndarray | None:
        """The positions some blocks read together (sorted), or None for every position."""
        if self.reads is None:
            return None
        return np.unique(np.concatenate([np.asarray(self.reads[n], dtype=int) for n in names]))


def compile_likelihood(model: pm.Model) -> LogDensity:
    """The log-likelihood of ``model``'s rows and its gradient, as a function of one vector.

    The vector holds the model's value variables (unconstrained) in ``model.value_vars``
    order, as :class:`pymc.blocking.DictToArrayBijection` ravels a point. The observed
    variables' log density alone: no prior, no Jacobian (PyMC's own
    ``logp_dlogp_function`` compiles the whole log density, always with the prior).

    Parameters
    ----------
    model : pymc.Model
        A model whose free variables are all continuous.

    Returns
    -------
    callable
        ``x -> (log-likelihood, gradient)``, a float and an (n,) array.
    """
    cost = model.datalogp
    point = model.initial_point()
    point = {var.name: point[var.name] for var in model.value_vars}
    (cost,), joined = join_nonshared_inputs(point, [cost], model.value_vars)
    gradient = pytensor.grad(cost, joined, disconnected_inputs="ignore")
    function = compile_pytensor([joined], [cost, gradient])

    def log_density(x: np.ndarray) -> tuple[float, np.ndarray]:
        # an array from a Dask message may sit unaligned in its buffer: C code refuses that
        x = np.require(x, dtype=joined.dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])
        value, grad = function(x)
        return float(value), np.asarray(grad, dtype=float)

    return log_density


class ShardLikelihood:
    """The log-likelihood of some blocks of rows, held on one Dask worker (a Dask actor).

    Built on the worker: each block's model is built there and its likelihood gradient
    compiled once; :meth:`value_and_gradient` then sums the blocks at any point.

    Parameters
    ----------
    model_class : type of FittedModel
        The model's class.
    config : mapping
        Its :meth:`~bayesspr.inference.fitted_model.FittedModel.config`.
    shards : RowShards
        The model's blocks of rows with none of them (:meth:`RowShards.without_blocks`): its
        layout and part.
    blocks : dict of str to object
        This worker's blocks of rows.
    positions : numpy.ndarray, optional
        The positions of the parameter vector its blocks read (:meth:`RowShards.positions`):
        :meth:`value_and_gradient` then takes and gives those alone. None: the whole vector.
    size : int
        Length of the whole vector (with ``positions``).
    """

    def __init__(
        self,
        model_class: type[FittedModel],
        config: Mapping[str, Any],
        shards: RowShards,
        blocks: Mapping[str, Any],
        positions: np.ndarray | None = None,
        size: int = 0,
    ) -> None:
        started = time.perf_counter()
        fitted = model_class.from_config(config)
        self.functions = [
            compile_likelihood(shards.build(fitted, block)) for block in blocks.values()
        ]
        self.positions = positions
        # the positions its blocks do not read stay at 0 (finite, and ignored)
        self.whole = np.zeros(size)
        self.names = list(blocks)
        self.compile_seconds = time.perf_counter() - started
        self.busy_seconds = 0.0
        self.calls = 0

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The blocks' log-likelihood and its gradient at ``x`` (raveled, unconstrained).

        ``x`` and the gradient are the whole vector, or with ``positions`` those alone.

        Returns
        -------
        tuple of (float, numpy.ndarray)
        """
        started = time.perf_counter()
        if self.positions is not None:
            self.whole[self.positions] = x
            x = self.whole
        total, gradient = 0.0, np.zeros(np.shape(x))
        for function in self.functions:
            value, grad = function(x)
            total += value
            gradient += grad
        self.busy_seconds += time.perf_counter() - started
        self.calls += 1
        if self.positions is not None:
            return total, gradient[self.positions]
        return total, gradient

    def drop(self) -> None:
        """Free the compiled blocks here and now (before the worker's memory is given back)."""
        self.functions = []
        gc.collect()

    def record(self) -> dict[str, Any]:
        """What this worker holds and did, as JSON-able data.

        Returns
        -------
        dict
            ``blocks`` (names), ``compile_seconds`` (s), ``busy_seconds`` (s, in
            :meth:`value_and_gradient`), ``calls`` and ``peak_rss_mib`` (the worker process's
            peak resident memory so far, MiB).
        """
        return {
            "blocks": self.names,
            "compile_seconds": round(self.compile_seconds, 2),
            "busy_seconds": round(self.busy_seconds, 2),
            "calls": self.calls,
            "peak_rss_mib": round(peak_rss_mib(), 1),
        }


def reset_peak_rss() -> None:
    """Reset the calling process's peak resident memory to what it holds now (Linux).

    Writes ``5`` to ``/proc/self/clear_refs``, after which ``VmHWM`` (:func:`peak_rss_mib`)
    counts from here: a benchmark measures one step's peak, not its set-up's. Does nothing
    where the file is not there or not writable.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib() -> float:
    """The calling process's peak resident memory (MiB): ``VmHWM`` where Linux gives it.

    Not ``getrusage``'s ``ru_maxrss``, which on Linux keeps the high-water mark of the
    process it was forked from across ``exec``: a Dask worker spawned by a process that held
    a large table would report that table.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def assign_blocks(rows: Mapping[str, int], workers: list[str]) -> dict[str, list[str]]:
    """Blocks to workers, largest first to the least-loaded worker (by rows).

    Parameters
    ----------
    rows : mapping of str to int
        Rows of each block.
    workers : list of str
        Worker addresses.

    Returns
    -------
    dict of str to list of str
        Each worker's blocks (workers with none left out).
    """
    load = dict.fromkeys(workers, 0)
    given: dict[str, list[str]] = {worker: [] for worker in workers}
    for name in sorted(rows, key=lambda block: (-rows[block], block)):
        worker = min(workers, key=lambda w: (load[w], workers.index(w)))
        given[worker].append(name)
        load[worker] += rows[name]
    return {worker: names for worker, names in given.items() if names}


class ShardedLogDensity:
    """A model's log density and gradient with its rows' likelihood on Dask workers.

    Log prior (a model with no rows, in this process) plus each worker's
    :class:`ShardLikelihood`; called like the function of :func:`compile_likelihood`, from
    any number of threads at once (each worker answers its calls in turn). A context
    manager: leaving it releases the workers' blocks.

    Parameters
    ----------
    fitted : FittedModel
        The model being fitted (its class and config are sent to the workers).
    prior_model : pymc.Model
        ``fitted.build_model(shards.no_rows, shards.layout)``.
    shards : RowShards
        The blocks of rows.
    client : distributed.Client
        The Dask cluster.

    Raises
    ------
    ArgumentError
        If the cluster has no workers.
    """

    def __init__(
        self, fitted: FittedModel, prior_model: pm.Model, shards: RowShards, client: Any
    ) -> None:
        started = time.perf_counter()
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        if not workers:
            raise ArgumentError(
                "the Dask cluster has no workers: start some, or fit without client="
            )
        self.prior = prior_model.logp_dlogp_function(ravel_inputs=True)
        self._prior_lock = threading.Lock()
        self.assignment = assign_blocks(shards.rows, workers)
        # every gradient's arrays have the same sizes: the workers keep freed memory for the
        # next call for as long as they hold the blocks (released in close)
        self._heap = contextlib.ExitStack()
        self._heap.enter_context(reused_heap_on_workers(client, list(self.assignment)))
        try:
            _LOG.info(
                "%s: building the likelihood of %d blocks (%d rows) on %d Dask workers",
                fitted.model_name,
                len(shards.blocks),
                sum(shards.rows.values()),
                len(self.assignment),
            )
            futures = []
            # the vector's length, needed only where workers get slices of it
            size = 0
            if shards.reads is not None:
                size = sum(np.size(v) for v in prior_model.initial_point().values())
            self.positions = [shards.positions(names) for names in self.assignment.values()]
            for (worker, names), positions in zip(
                self.assignment.items(), self.positions, strict=True
            ):
                blocks = {name: shards.blocks[name] for name in names}
                [data] = client.scatter([blocks], workers=[worker], hash=False)
                futures.append(
                    client.submit(
                        ShardLikelihood,
                        type(fitted),
                        fitted.config(),
                        shards.without_blocks(),
                        data,
                        positions,
                        size,
                        actor=True,
                        workers=[worker],
                        allow_other_workers=False,
                        pure=False,
                    )
                )
            self._futures = futures
            self.actors = [future.result() for future in futures]
            self.rows = {
                worker: int(sum(shards.rows[name] for name in names))
                for worker, names in self.assignment.items()
            }
        except BaseException:
            self._heap.close()  # the workers' thresholds back where the build failed
            raise
        self.build_seconds = time.perf_counter() - started
        self.calls = 0
        _LOG.info(
            "%s: likelihood built on the workers in %.0f s", fitted.model_name, self.build_seconds
        )

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The whole model's log density and gradient at ``x`` (raveled, unconstrained)."""
        asked = [
            actor.value_and_gradient(x if positions is None else x[positions])
            for actor, positions in zip(self.actors, self.positions, strict=True)
        ]
        # NUTS chains call from threads of their own: one compiled prior, one caller at a time
        with self._prior_lock:
            value, grad = self.prior(x)
            self.calls += 1
        total, gradient = float(value), np.array(grad, dtype=float)
        for answer, positions in zip(asked, self.positions, strict=True):
            value, grad = answer.result()
            total += value
            if positions is None:
                gradient += grad
            else:
                gradient[positions] += grad
        return total, gradient

    def record(self) -> dict[str, Any]:
        """The workers' blocks, rows, build time, busy time and peak memory (JSON-able).

        Returns
        -------
        dict
            ``workers`` (count), ``build_seconds`` (s), ``calls`` and ``by_worker``: each
            worker's ``rows`` and :meth:`ShardLikelihood.record`.
        """
        records = [actor.record().result() for actor in self.actors]
        return {
            "workers": len(self.actors),
            "build_seconds": round(self.build_seconds, 2),
            "calls": self.calls,
            "by_worker": {
                worker: {"rows": self.rows[worker], **record}
                for worker, record in zip(self.assignment, records, strict=True)
            },
        }

    def close(self) -> None:
        """Release the workers' blocks (the actors and their data)."""
        # freed on the workers before their heaps are trimmed: a released future is
        # forgotten later, after the trim, and its memory would stay with the worker
        dropped = [actor.drop() for actor in self.actors]
        for answer in dropped:
            with contextlib.suppress(Exception):  # a worker lost meanwhile holds nothing
                answer.result()
        self.actors = []
        for future in self._futures:
            future.release()
        self._futures = []
        self._heap.close()

    def __enter__(self) -> ShardedLogDensity:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
