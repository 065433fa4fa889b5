"""The model lifecycle every bayesspr model shares: build → fit → verdict → save → load.

:class:`FittedModel` is the base of :class:`bayesspr.SPRModel` and
:class:`bayesspr.VolumeModel` (and of any further model). A subclass supplies, as data and
hooks, only what is its own:

* its names: ``model_name``, the file attribute that marks its saved fits
  (``format_attr``) and that format's version (``save_format``), the attribute holding its
  configuration (``config_attr``);
* its defaults: :meth:`sampler_config` (a :class:`SamplerConfig`, usually read from its spec)
  and ``parameter_supports`` (what a saved posterior may hold);
* its model: :meth:`_prepare` (validate the data, remember what a forecast needs) and
  :meth:`build_model` (the PyMC model);
* its configuration: :meth:`config` (JSON-able) and :meth:`from_config`, so a saved file
  rebuilds the same model; :meth:`_fit_state` / :meth:`_restore_state` for what a fit learns
  besides draws (a volume fit's zips and dates).

Everything else — merging sampler settings, NUTS (nutpie when installed) or ADVI, the
pointwise log-likelihood, the convergence verdict and its warning, refusing to predict without
a fit, writing the file atomically, and checking on load that the file is this model's, of this
format, with every parameter present and within its support — lives here once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import pymc as pm
import scipy.sparse
import xarray as xr
from threadpoolctl import threadpool_limits

from bayesspr.defaults import installed_version
from bayesspr.errors import (
    ArgumentError,
    ModelVersionError,
    NotFittedError,
    SavedFitError,
    SpecError,
    UnconvergedFitError,
)
from bayesspr.inference.diagnostics import ConvergenceWarning, convergence
from bayesspr.inference.heap import with_reused_heap
from bayesspr.inference.marginal_spreads import marginal_spread_mode
from bayesspr.inference.mode import (
    MODE_MAX_PARAMETERS,
    PosteriorMode,
    find_mode,
    laplace_posterior,
    nuts_from_mode,
)
from bayesspr.inference.sharded import RowShards, ShardedLogDensity
from bayesspr.io.files import read_saved_tree
from bayesspr.io.fit_files import Keep, check_posterior, required_attr, write_fit
from bayesspr.parallel import available_cores

_LOG = logging.getLogger("bayesspr")

#: Sampler implementations :class:`SamplerConfig` accepts (None: nutpie when installed).
NUTS_SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")

#: Where NUTS can start (:class:`SamplerConfig`'s ``start``).
STARTS = ("auto", "default", "mode")

#: nutpie's mass-matrix adaptations :class:`SamplerConfig` accepts (``mass_matrix``).
MASS_MATRICES = ("diag", "draw_diag", "low_rank")

#: A block's sampler other than :func:`run_nuts`: (settings, seed, progressbar) -> its fit.
BlockSampler = Callable[["SamplerConfig", int, bool], xr.DataTree]

#: The setting ``mass_matrix`` replaced (specs and fits saved before 2026-12-07).
_LEGACY_LOW_RANK = "low_rank_mass_matrix"


def with_mass_matrix(table: Mapping[str, Any]) -> dict[str, Any]:
    """A sampler table with the old ``low_rank_mass_matrix`` as ``mass_matrix``.

    ``low_rank_mass_matrix = true`` becomes ``mass_matrix = "low_rank"``; ``false`` asked
    only for no low-rank matrix, so ``mass_matrix`` (or its default) stands.

    Parameters
    ----------
    table : mapping
        Sampler settings, maybe with the old key.

    Returns
    -------
    dict
        The settings, without the old key.
    """
    table = dict(table)
    if _LEGACY_LOW_RANK in table:
        low_rank = table.pop(_LEGACY_LOW_RANK)
        if not isinstance(low_rank, bool):
            raise ArgumentError(
                f"sampler {_LEGACY_LOW_RANK} = {low_rank!r}; expected True or False (or "
                f"mass_matrix, one of {MASS_MATRICES})"
            )
        if low_rank:
            table["mass_matrix"] = "low_rank"
    return table


#: Ways :meth:`FittedModel.fit` can fit.
METHODS = ("auto", "nuts", "advi", "laplace")


def default_nuts_sampler() -> str:
    """``"nutpie"`` when importable, else PyMC's own NUTS.

    Returns
    -------
    str
        The NUTS implementation a fit uses unless told otherwise.
    """
    try:
        import nutpie  # noqa: F401
    except ImportError:  # pragma: no cover - nutpie is a dependency
        return "pymc"
    return "nutpie"


def config_id(config: Mapping[str, Any]) -> str:
    """Short stable hash of a model's configuration (a spec), to tell fits of specs apart.

    Parameters
    ----------
    config : mapping
        JSON-able configuration (values that are not JSON are hashed as text).

    Returns
    -------
    str
        First 12 hex digits of the SHA-256 of the canonical JSON (sorted keys).
    """
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


@dataclass(frozen=True)
class SamplerConfig:
    """NUTS settings of a fit, one validated object from the spec to :func:`pymc.sample`.

    Parameters
    ----------
    draws : int
        Kept draws per chain (≥ 1).
    tune : int
        Tuning draws per chain (≥ 0).
    chains : int
        Chains (≥ 1).
    target_accept : float
        Target acceptance rate of the step-size adaptation, in (0, 1).
    mass_matrix : {"diag", "draw_diag", "low_rank"}
        nutpie's mass-matrix adaptation (ignored by the other samplers). ``"diag"``: a
        diagonal fitted to the draws' and the gradients' spreads (nutpie's default).
        ``"draw_diag"``: a diagonal fitted to the draws' spreads only, as Stan does; where a
        scale's posterior has an exponential tail towards zero (a spread the data barely
        bound below), the gradient there is constant, the gradient-based estimate of that
        direction's scale blows up, and a chain that wandered there can stall with a step
        size near zero. ``"low_rank"``: diagonal plus the leading correlated directions.
    nuts_sampler : {"nutpie", "pymc", "numpyro", "blackjax"} or None
        NUTS implementation; None: nutpie when installed (see :func:`default_nuts_sampler`).
    cores : int or None
        Chains run at once (nutpie: threads; PyMC's own sampler: processes); None: the CPUs
        this process may use, at most ``chains`` (see :func:`available_cores`).
    start : {"auto", "default", "mode"}
        Where NUTS starts and how it learns the posterior's scales. ``"default"``: from
        PyMC's initial point with the sampler's own adaptation. ``"mode"``: at the posterior
        mode, with the Gaussian there as dense mass matrix (PyMC's NUTS; see
        :mod:`bayesspr.inference.mode`). ``"auto"``: ``"mode"`` where the data have at least
        ``mode_min_rows`` rows and the model at most
        :data:`~bayesspr.inference.mode.MODE_MAX_PARAMETERS` free parameters, else
        ``"default"``.
    mode_min_rows : int
        Rows from which ``start="auto"`` takes the mode (a model without a row count never
        does).
    mode_draws, mode_tune : int
        Kept and tuning draws per chain of NUTS from the mode. It tunes only its step size
        (the mass matrix is the mode's covariance), so it needs far less tuning, and its
        draws are nearly independent in the bulk. 1,200 kept draws: with hundreds of
        parameters the largest R-hat is noise of their tail ESS; at rung S 500 draws left it
        at 1.015, 800 at 1.0093 to 1.0116 (``docs/scale.md``).
    mode_target_accept : float
        Target acceptance of NUTS from the mode, in (0, 1): with a mass matrix fitted to the
        posterior, a longer step still gives exact draws with fewer gradients per draw.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.9
    mass_matrix: str = "diag"
    nuts_sampler: str | None = None
    cores: int | None = None
    start: str = "auto"
    mode_min_rows: int = 20_000
    mode_draws: int = 1200
    mode_tune: int = 200
    mode_target_accept: float = 0.8

    def __post_init__(self) -> None:
        numbers = (("draws", 1), ("tune", 0), ("chains", 1), ("cores", 1), ("mode_min_rows", 0))
        numbers += (("mode_draws", 1), ("mode_tune", 0))
        for name, low in numbers:
            value = getattr(self, name)
            if name == "cores" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ArgumentError(f"sampler {name} = {value!r}; expected a whole number >= {low}")
        for name in ("target_accept", "mode_target_accept"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise ArgumentError(
                    f"sampler {name} = {value!r}; expected a number strictly between 0 and 1"
                )
        if self.mass_matrix not in MASS_MATRICES:
            raise ArgumentError(
                f"sampler mass_matrix = {self.mass_matrix!r}; expected one of {MASS_MATRICES}"
            )
        if self.nuts_sampler is not None and self.nuts_sampler not in NUTS_SAMPLERS:
            raise ArgumentError(
                f"nuts_sampler = {self.nuts_sampler!r}; expected one of {NUTS_SAMPLERS} or None"
            )
        if self.start not in STARTS:
            raise ArgumentError(f"sampler start = {self.start!r}; expected one of {STARTS}")

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], origin: str = "spec") -> SamplerConfig:
        """Settings from a spec's ``[sampler]`` table (unknown keys and bad values refused).

        Parameters
        ----------
        table : mapping
            Some of the fields above (the old ``low_rank_mass_matrix`` is read as
            :func:`with_mass_matrix` says).
        origin : str
            Where the table comes from, for messages.

        Returns
        -------
        SamplerConfig

        Raises
        ------
        SpecError
            If a key is unknown or a value out of range.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(table) - known - {_LEGACY_LOW_RANK})
        if unknown:
            raise SpecError(
                f"model spec {origin}: [sampler] has unknown setting(s) {unknown}; expected "
                f"some of {sorted(known)}"
            )
        try:
            return cls(**with_mass_matrix(table))
        except ArgumentError as exc:
            setting = str(exc).removeprefix("sampler ")
            raise SpecError(f"model spec {origin}: [sampler] {setting}") from None

    def with_overrides(self, **overrides: Any) -> SamplerConfig:
        """These settings with the ``overrides`` the caller gave (None: keep the default).

        Returns
        -------
        SamplerConfig
        """
        given = {key: value for key, value in overrides.items() if value is not None}
        return dataclasses.replace(self, **given) if given else self

    def from_mode(self) -> SamplerConfig:
        """These settings for NUTS from the posterior mode (its draws, tuning and acceptance).

        Returns
        -------
        SamplerConfig
        """
        return dataclasses.replace(
            self,
            draws=self.mode_draws,
            tune=self.mode_tune,
            target_accept=self.mode_target_accept,
        )

    def pymc_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`pymc.sample` for these settings.

        Returns
        -------
        dict
        """
        sampler = self.nuts_sampler or default_nuts_sampler()
        kwargs: dict[str, Any] = {
            "draws": int(self.draws),
            "tune": int(self.tune),
            "chains": int(self.chains),
            "cores": int(self.cores or min(self.chains, available_cores())),
            "target_accept": float(self.target_accept),
            "nuts_sampler": sampler,
        }
        if sampler == "nutpie" and self.mass_matrix != "diag":
            kwargs["nuts"] = {"adaptation": self.mass_matrix}
        return kwargs


def run_nuts(
    model: pm.Model,
    sampler: SamplerConfig,
    *,
    random_seed: int | None,
    progressbar: bool,
    initvals: Mapping[str, np.ndarray] | None = None,
) -> xr.DataTree:
    """NUTS on ``model`` with the given settings.

    Parameters
    ----------
    model : pymc.Model
        The model to sample.
    sampler : SamplerConfig
        Draws, tuning, chains, target acceptance, sampler and mass matrix.
    random_seed : int, optional
        Sampler seed.
    progressbar : bool
        Show the sampler's progress bar.
    initvals : mapping, optional
        Starting values of some free variables (every chain).

    Returns
    -------
    xarray.DataTree
        The fit.
    """
    extra = {} if not initvals else {"initvals": dict(initvals)}
    kwargs = sampler.pymc_kwargs()
    # Chains that run at once are the parallelism. OpenBLAS's threaded matrix product takes a
    # process-wide lock, so chains whose gradients multiply matrices queue behind each other
    # unless each keeps to one BLAS thread: the 4,000-zip volume fit's two chain threads on 2
    # cores ran one at a time (2.5 ms per gradient; one BLAS thread each: 1.0 ms).
    blas_threads = 1 if kwargs["cores"] > 1 else None
    with model, threadpool_limits(limits=blas_threads, user_api="blas"):
        return pm.sample(random_seed=random_seed, progressbar=progressbar, **kwargs, **extra)


def run_nuts_blocks(
    blocks: Mapping[str, tuple[pm.Model, SamplerConfig]],
    *,
    random_seed: int | None,
    progressbar: bool,
    previous: xr.DataTree | None = None,
    samplers: Mapping[str, BlockSampler] | None = None,
) -> xr.DataTree:
    """NUTS on independent blocks of one posterior, one after the other, as one fit.

    Each block is sampled with its own settings and a seed spawned from ``random_seed``.
    Their posteriors are merged (the blocks share no variable, and the same chain count and
    draws); draw i of chain c of every block together is a draw of the joint posterior,
    since the blocks are independent. The sampler statistics gain a ``block`` dimension, so
    divergences, tree depths and E-BFMI stay each block's own.

    Parameters
    ----------
    blocks : mapping of str to (pymc.Model, SamplerConfig)
        Each block's model and NUTS settings, by block name; equal ``chains`` and ``draws``.
    random_seed : int, optional
        Seed the block seeds are spawned from.
    progressbar : bool
        Show each block's progress bar.
    previous : xarray.DataTree, optional
        An earlier fit: each block starts at its posterior means (:func:`warm_start_values`).
    samplers : mapping of str to callable, optional
        Blocks sampled otherwise than by :func:`run_nuts` (NUTS with the block's rows on Dask
        workers, :func:`~bayesspr.inference.sharded_nuts.sharded_nuts`): called with the
        block's settings, its seed and ``progressbar``; they start where the sampler starts.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (every block's variables) and ``sample_stats`` (dims ``chain``,
        ``draw``, ``block``).

    Raises
    ------
    ArgumentError
        If the blocks' chains or draws differ.
    """
    shapes = {(cfg.chains, cfg.draws) for _, cfg in blocks.values()}
    if len(shapes) != 1:
        raise ArgumentError(f"every block needs the same chains and draws, got {sorted(shapes)}")
    seeds = np.random.SeedSequence(random_seed).spawn(len(blocks))
    posteriors, stats = [], []
    samplers = samplers or {}
    for (name, (model, cfg)), seed in zip(blocks.items(), seeds, strict=True):
        block_seed = int(seed.generate_state(1)[0])
        if name in samplers:
            fit = samplers[name](cfg, block_seed, progressbar)
            posteriors.append(fit["posterior"].to_dataset())
            stats.append(_per_draw_stats(fit, name))
            continue
        initvals = None if previous is None else warm_start_values(model, previous)
        fit = run_nuts(
            model, cfg, random_seed=block_seed, progressbar=progressbar, initvals=initvals
        )
        posteriors.append(fit["posterior"].to_dataset())
        stats.append(_per_draw_stats(fit, name))
    posterior = xr.merge(posteriors, compat="equals", join="exact", combine_attrs="override")
    sample_stats = xr.concat(stats, dim="block", join="exact", combine_attrs="override")
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats})


def _per_draw_stats(fit: xr.DataTree, block: str) -> xr.Dataset:
    """A block's sampler statistics of one value per draw, with a ``block`` dimension."""
    sample_stats = fit["sample_stats"].to_dataset()
    per_draw = [v for v, arr in sample_stats.data_vars.items() if arr.dims == ("chain", "draw")]
    return sample_stats[per_draw].expand_dims(block=[block], axis=-1)


def free_parameters(model: pm.Model) -> int:
    """Number of free (sampled) scalar parameters of a PyMC model.

    Parameters
    ----------
    model : pymc.Model

    Returns
    -------
    int
    """
    return int(sum(np.size(value) for value in model.initial_point().values()))


def sampler_record(
    runs: Mapping[str, tuple[int, SamplerConfig]], start: Mapping[str, Any] | None = None
) -> dict[str, dict]:
    """The NUTS settings each run of a fit took, with its size, as JSON-able data.

    Logged (logger ``bayesspr``) and kept in a fit's ``diagnostics["sampler"]`` and saved
    file, so a fit says which settings its size chose.

    Parameters
    ----------
    runs : mapping of str to (int, SamplerConfig)
        Each NUTS run (a block, or ``"model"`` for one run): its number of free parameters
        (:func:`free_parameters`) and its settings.
    start : mapping, optional
        Where the runs start (:meth:`FittedModel.fit` fills ``route``, ``reason`` and, from
        the mode, what its search took); default ``{"route": "default"}``.

    Returns
    -------
    dict
        By run: ``parameters``, ``draws``, ``tune``, ``chains``, ``target_accept``,
        ``mass_matrix`` and ``start``.
    """
    record = {}
    from_mode = (start or {}).get("route") == "mode"
    for name, (parameters, cfg) in runs.items():
        record[name] = {
            "parameters": int(parameters),
            "draws": int(cfg.draws),
            "tune": int(cfg.tune),
            "chains": int(cfg.chains),
            "target_accept": float(cfg.target_accept),
            # from the mode PyMC's NUTS keeps the mode's covariance (nutpie's setting unused)
            "mass_matrix": "dense (the mode's covariance)" if from_mode else str(cfg.mass_matrix),
            "start": dict(start or {"route": "default"}),
        }
        _LOG.info("NUTS on %s: %s", name, record[name])
    return record


def warm_start_values(model: pm.Model, previous: xr.DataTree) -> dict[str, np.ndarray]:
    """Posterior means of an earlier fit for the free variables a new model shares with it.

    Parameters
    ----------
    model : pymc.Model
        The model about to be sampled.
    previous : xarray.DataTree
        An earlier fit with a ``posterior`` group.

    Returns
    -------
    dict of numpy.ndarray
        Initial values (in each variable's own, constrained space) for the free variables
        whose name exists in the earlier posterior with the same shape and, for labelled
        dims, the same labels in the same order (a new zip or station changes a group's
        labels, so that group starts as usual). Unlabelled vectors (the centred and
        non-centred parts of a group) are left out: equal lengths need not mean equal groups.
    """
    post = previous["posterior"].to_dataset()
    values = {}
    for rv in model.free_RVs:
        name = rv.name
        if name not in post:
            continue
        dims = model.named_vars_to_dims.get(name, ())
        old = post[name]
        shape = tuple(int(n) for n in old.shape[2:])
        if len(dims) != len(shape) or (not dims and shape):
            continue  # unlabelled vector
        if any(np.asarray(model.coords[d]).tolist() != old[d].to_numpy().tolist() for d in dims):
            continue
        values[name] = old.mean(("chain", "draw")).to_numpy()
    return values


def stacked_samples(
    idata: xr.DataTree, max_samples: int | None = 1000, *, random_seed: int | None = None
) -> xr.Dataset:
    """Posterior draws stacked over chains into one ``sample`` dimension.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit with a ``posterior`` group.
    max_samples : int, optional
        Keep at most this many samples (None: all): evenly spaced, or a random subset when
        ``random_seed`` is given (so two independent posteriors can be paired draw by draw
        without aligning their chains).
    random_seed : int, optional
        Seed of the random subset.

    Returns
    -------
    xarray.Dataset
        Posterior variables with a ``sample`` dimension.
    """
    post = idata["posterior"].to_dataset().stack(sample=("chain", "draw"))
    n_total = post.sizes["sample"]
    n_keep = n_total if max_samples is None else min(max_samples, n_total)
    if random_seed is not None:
        keep = np.random.default_rng(random_seed).permutation(n_total)[:n_keep]
    else:
        keep = np.linspace(0, n_total - 1, n_keep).round().astype(int)
    return post.isel(sample=keep)


class FittedModel:
    """Base of the package's models: build → fit → verdict → save → load, written once.

    Subclasses set the class attributes below and implement :meth:`build_model`; the other
    hooks have defaults (see the module docstring).

    Attributes
    ----------
    idata : xarray.DataTree or None
        The fit, once :meth:`fit` or :meth:`load` has run.
    diagnostics : dict
        The convergence verdict of :func:`bayesspr.inference.diagnostics.convergence`.
    pymc_model : pymc.Model or None
        The PyMC model of the last :meth:`fit` (None after :meth:`load`); after a fit whose
        rows were on Dask workers (``client=``), the model with no rows: the priors alone.
    """

    #: Class name used in messages and saved-file checks.
    model_name: ClassVar[str]
    #: The file attribute that marks this model's saved fits, and its format version.
    format_attr: ClassVar[str]
    save_format: ClassVar[int] = 1
    #: The file attribute holding the JSON of :meth:`_saved_config`.
    config_attr: ClassVar[str]
    #: How many posterior samples :meth:`posterior_samples` keeps by default.
    default_samples: ClassVar[int] = 1000
    #: Whether :meth:`fit` stores the pointwise log-likelihood (for LOO in the report).
    keeps_log_likelihood: ClassVar[bool] = False
    #: Most pointwise log-likelihood values (observations × draws) a fit keeps: past it
    #: (rung S of the size ladder: 145,604 zip-days × 2 variables × 2,000 draws = 582 million,
    #: 4.7 GB) the fit says in ``diagnostics["log_likelihood"]`` that it kept none.
    log_likelihood_max_values: ClassVar[int] = 50_000_000
    #: Support (low, high] of each posterior variable a saved file is checked against.
    parameter_supports: ClassVar[Mapping[str, tuple[float, float]]] = {}
    #: Whether :meth:`hessian_pattern` gives the model's Hessian sparsity (then
    #: ``method="auto"`` takes the Laplace route where NUTS from the mode is too big).
    has_hessian_pattern: ClassVar[bool] = False
    #: Scalar parameters the Laplace route puts at the mode of their Laplace marginal rather
    #: than the joint mode (:mod:`bayesspr.inference.marginal_spreads`): the spreads of the
    #: hierarchy and the observation noise, which the joint mode shrinks, and constants the
    #: whole data inform, which it pulls along; needs :attr:`has_hessian_pattern`.
    laplace_spreads: ClassVar[tuple[str, ...]] = ()
    #: Blocks of :meth:`build_blocks` whose rows :meth:`part_shards` can put on Dask workers
    #: (NUTS on them then runs with ``client=``, :mod:`bayesspr.inference.sharded_nuts`).
    sharded_parts: ClassVar[tuple[str, ...]] = ()
    #: What a failed verdict advises.
    convergence_advice: ClassVar[str] = "try more tune/draws or a higher target_accept"

    #: Every model class by the attribute that marks its files (filled by subclassing).
    _by_format_attr: ClassVar[dict[str, str]] = {}

    idata: xr.DataTree | None = None
    diagnostics: dict[str, Any]
    pymc_model: pm.Model | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "format_attr" in cls.__dict__:
            FittedModel._by_format_attr[cls.format_attr] = cls.model_name

    # ------------------------------------------------------------------ hooks
    def sampler_config(self) -> SamplerConfig:
        """Default NUTS settings of this model (subclasses read them from their spec).

        Returns
        -------
        SamplerConfig
        """
        return SamplerConfig()

    def _prepare(self, data: pd.DataFrame) -> Any:
        """Validate the data :meth:`fit` was given and remember what forecasts need.

        Returns
        -------
        Any
            What :meth:`build_model` takes (by default the data itself).
        """
        return data

    def build_model(self, data: Any) -> pm.Model:
        """The PyMC model of the prepared data (subclasses implement it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_model")

    def build_blocks(self, data: Any) -> dict[str, pm.Model] | None:
        """Independent parts of :meth:`build_model`'s posterior, sampled one by one.

        A model whose parameters fall into blocks that share no parameter and no prior term
        has a posterior that is the product of the blocks'; NUTS on each block separately
        samples the same joint posterior, with a step size and mass matrix per block.
        Default None: one model, one NUTS run.

        Returns
        -------
        dict of str to pymc.Model, or None
        """
        return None

    def block_sampler(
        self, block: str, sampler: SamplerConfig, parameters: int | None = None
    ) -> SamplerConfig:
        """Default NUTS settings of one block of :meth:`build_blocks`.

        ``sampler`` is :meth:`sampler_config` and ``parameters`` the block's number of free
        parameters (settings may depend on the block's size); the settings a caller passes
        to :meth:`fit` apply over what this returns. Default: ``sampler`` itself.
        """
        return sampler

    def config(self) -> dict[str, Any]:
        """The model's configuration as JSON-able data: what :meth:`from_config` rebuilds.

        Returns
        -------
        dict
        """
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """A model of this class from :meth:`config` (by default ``cls(**config)``).

        Returns
        -------
        FittedModel
        """
        return cls(**config)

    def learned_parameters(self) -> tuple[str, ...]:
        """Posterior variables every fit has (a saved file lacking one is refused).

        Returns
        -------
        tuple of str
        """
        return tuple(self.parameter_supports)

    def _fit_state(self) -> dict[str, Any]:
        """What a fit learns besides its draws, as JSON-able data (saved with the config)."""
        return {}

    def _restore_state(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`_fit_state` saved."""

    def _saved_config(self) -> dict[str, Any]:
        """The JSON-able record stored in ``config_attr``: configuration and fit state."""
        state = self._fit_state()
        return {**self.config(), **({"fit_state": state} if state else {})}

    @classmethod
    def _from_saved_config(cls, saved: Mapping[str, Any]) -> Self:
        """Rebuild the model and its fit state from :meth:`_saved_config`'s record."""
        saved = dict(saved)
        state = saved.pop("fit_state", {})
        model = cls.from_config(saved)
        model._restore_state(state)
        return model

    def spec_id(self) -> str:
        """Short stable hash (hex) of :meth:`config`; stored with every saved fit.

        Returns
        -------
        str
            12 hex digits.
        """
        return config_id(self.config())

    # ------------------------------------------------------------------ fitting
    @with_reused_heap
    def fit(
        self,
        data: pd.DataFrame,
        *,
        random_seed: int | None = None,
        method: str = "auto",
        draws: int | None = None,
        tune: int | None = None,
        chains: int | None = None,
        target_accept: float | None = None,
        nuts_sampler: str | None = None,
        cores: int | None = None,
        start: str | None = None,
        advi_iterations: int = 30_000,
        progressbar: bool = False,
        warm_start: FittedModel | None = None,
        client: Any = None,
    ) -> Self:
        """Fit the model to its data.

        Parameters
        ----------
        data : pandas.DataFrame
            The model's data (see the subclass); refused by name if it breaks a rule.
        random_seed : int, optional
            Seed of the sampler.
        method : {"auto", "nuts", "advi", "laplace"}
            ``"nuts"``: MCMC, nutpie when installed, or PyMC's NUTS started at the posterior
            mode (the sampler setting ``start``; its ``"auto"`` picks by the data's size and
            ``diagnostics["sampler"]`` says which it took). ``"advi"``: a fast mean-field
            variational approximation; ``"laplace"``: draws from the Gaussian at the
            posterior mode (:mod:`bayesspr.inference.mode`), with the model's
            :attr:`laplace_spreads` at the mode of their Laplace marginal
            (:mod:`bayesspr.inference.marginal_spreads`); both labelled approximate in
            ``diagnostics`` (no verdict). ``"auto"`` (default): ``"nuts"``, except where
            NUTS from the mode cannot be built for the data's size (at least
            ``mode_min_rows`` rows and more than
            :data:`~bayesspr.inference.mode.MODE_MAX_PARAMETERS` free parameters) and the
            model gives its Hessian's sparsity (:meth:`hessian_pattern`): there
            ``"laplace"``, with a sparse Hessian. ``diagnostics["method_choice"]``, the
            saved file and the log say which it took and why.
        draws, tune, chains, target_accept : optional
            Sampler settings; defaults from :meth:`sampler_config`.
        nuts_sampler : {"nutpie", "pymc", "numpyro", "blackjax"}, optional
            NUTS implementation; default nutpie when installed. ``"numpyro"`` and
            ``"blackjax"`` run on JAX (``pip install 'bayesspr[jax]'``).
        cores : int, optional
            Chains sampled at once; default the CPUs this process may use, at most ``chains``.
        start : {"auto", "default", "mode"}, optional
            Where NUTS starts (see :class:`SamplerConfig`); default from
            :meth:`sampler_config` (``"auto"``: the posterior mode for large data).
        advi_iterations : int
            Optimisation steps for ``method="advi"``.
        progressbar : bool
            Show the sampler's progress bar.
        warm_start : FittedModel, optional
            An earlier fit of the same class (last month's, say): every chain starts at its
            posterior mean for the parameters it shares with this model, same groups in the
            same order (see :func:`warm_start_values`). Only where NUTS starts changes, and
            only from the default start: NUTS from the mode starts at draws around the mode.
        client : distributed.Client, optional
            A Dask cluster for a fit too big for this process: where the fit takes the
            Laplace route and the model splits its rows (:meth:`row_shards`), each worker
            holds some blocks of rows and their likelihood's gradient
            (:mod:`bayesspr.inference.sharded`), and this process only the priors; the mode,
            Hessian and draws are the same as without it (to rounding). Where NUTS samples
            the model in blocks and some have their rows split (:meth:`part_shards`: the
            volume model's zips), NUTS on those runs here with their rows' likelihood on the
            workers (:mod:`bayesspr.inference.sharded_nuts`; the same posterior, other draws,
            and no warm start for them). ``diagnostics["sharded"]`` records each worker's
            rows, time and peak memory. Other routes run in this process (logged).

        Returns
        -------
        FittedModel
            ``self``, with ``idata``, ``diagnostics`` and ``pymc_model``.

        Raises
        ------
        ArgumentError
            If ``method`` or a sampler setting is not one the model accepts.

        Warns
        -----
        ConvergenceWarning
            If the NUTS fit fails the checks (R-hat, ESS, divergences, E-BFMI).
        """
        if method not in METHODS:
            raise ArgumentError(f"method must be one of {METHODS}, got {method!r}")
        overrides = {
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "target_accept": target_accept,
            "nuts_sampler": nuts_sampler,
            "cores": cores,
            "start": start,
        }
        defaults = self.sampler_config()
        sampler = defaults.with_overrides(**overrides)
        if sampler.nuts_sampler in ("numpyro", "blackjax"):
            # before the graph is built: its custom ops register their JAX lowerings when JAX
            # is loaded (the SPR likelihood's normal interval)
            importlib.import_module("jax")
        prepared = self._prepare(data)
        model, shards, method, method_choice = self._model_for(prepared, method, sampler, client)
        blocks = self.build_blocks(prepared) if method == "nuts" else None
        previous = None if warm_start is None else warm_start._require_fit()
        sizes = {name: free_parameters(block) for name, block in (blocks or {}).items()}
        block_settings = {
            name: (
                block,
                self.block_sampler(name, defaults, sizes[name]).with_overrides(**overrides),
            )
            for name, block in (blocks or {}).items()
        }
        route = self._start_route(sampler, prepared, model, blocks, method)
        on_workers: dict[str, Any] = {}  # the workers' records of the blocks sampled there
        samplers = self._parts_on_workers(prepared, blocks, client, on_workers)
        approximate: dict[str, Any] = {}  # the records of the blocks sampled approximately
        approximate_samplers = self.approximate_blocks(prepared, blocks, client, approximate)
        samplers |= approximate_samplers
        mode, sharded = None, None
        if route["route"] == "mode" or method == "laplace":
            strict = method == "laplace" or sampler.start == "mode"
            mode, route, sharded = self._search_mode(
                model,
                route,
                random_seed,
                strict=strict,
                pattern=self.hessian_pattern(prepared, model),
                shards=shards,
                client=client,
                spreads=self.laplace_spreads if method == "laplace" else (),
            )
        if mode is not None and method == "nuts":
            sampler = defaults.from_mode().with_overrides(**overrides)
        # logged before sampling: a long fit says at once which settings its size chose
        runs = None
        if method == "nuts":
            runs = sampler_record(
                {name: (sizes[name], cfg) for name, (_, cfg) in block_settings.items()}
                or {"model": (free_parameters(model), sampler)},
                route,
            )
        with model:
            if blocks:
                idata = run_nuts_blocks(
                    block_settings,
                    random_seed=random_seed,
                    progressbar=progressbar,
                    previous=previous,
                    samplers=samplers,
                )
            else:
                idata = self._sample_whole(
                    model,
                    method,
                    sampler,
                    mode,
                    previous=previous,
                    random_seed=random_seed,
                    progressbar=progressbar,
                    advi_iterations=advi_iterations,
                )
            kept_log_likelihood = self._log_likelihood_kept(
                model, idata, shards is not None, set(samplers) - set(approximate_samplers)
            )
        self.pymc_model = model
        self.idata = idata
        if method == "nuts":
            self._judge(idata, self.convergence_advice)
            self.diagnostics["sampler"] = runs
        else:
            self._label_approximate(method, route)
        if kept_log_likelihood is not None:
            self.diagnostics["log_likelihood"] = kept_log_likelihood
        self.diagnostics["method_choice"] = method_choice
        self._record_placement(sharded if shards is not None else None, on_workers, approximate)
        self.idata.attrs.update(self._attrs())
        return self

    def _log_likelihood_kept(
        self, model: pm.Model, idata: xr.DataTree, sharded: bool, on_workers: set[str]
    ) -> str | None:
        """:meth:`_keep_log_likelihood` where no row's likelihood was on the Dask workers.

        ``on_workers``: the blocks sampled with their rows there.
        """
        if sharded or on_workers:
            return "not kept: the rows' likelihood was on the Dask workers"
        return self._keep_log_likelihood(model, idata)

    def _record_placement(
        self, sharded: Mapping[str, Any] | None, on_workers: dict, approximate: dict
    ) -> None:
        """Where the fit's rows went and which blocks were approximated, in ``diagnostics``."""
        if sharded is not None or on_workers:
            self.diagnostics["sharded"] = sharded if sharded is not None else on_workers
        if approximate:
            self._label_approximate_blocks(approximate)

    def _parts_on_workers(
        self, prepared: Any, blocks: Mapping[str, pm.Model] | None, client: Any, records: dict
    ) -> dict[str, BlockSampler]:
        """Samplers of the blocks whose rows go to ``client``'s workers (none without one).

        Each adds its workers' record to ``records``, by block.
        """
        if client is None or not blocks:
            return {}
        part_shards = self.part_shards(prepared)
        if not part_shards:
            _LOG.info(
                "%s: fitted in this process, not on the Dask cluster (no block is large "
                "enough to split)",
                self.model_name,
            )

        def on_workers(part: str) -> BlockSampler:
            def sample(cfg: SamplerConfig, seed: int, progressbar: bool) -> xr.DataTree:
                from bayesspr.inference.sharded_nuts import sharded_nuts

                _LOG.info("%s: NUTS on %s with its rows on the Dask workers", self.model_name, part)
                fit, records[part] = sharded_nuts(
                    self, part_shards[part], client, cfg, random_seed=seed, progressbar=progressbar
                )
                return fit

            return sample

        return {part: on_workers(part) for part in part_shards}

    def approximate_blocks(
        self,
        data: Any,
        blocks: Mapping[str, pm.Model] | None,
        client: Any,
        records: dict,
    ) -> dict[str, BlockSampler]:
        """Blocks this fit samples by an approximation its data's size calls for (none here).

        A subclass returns a sampler per such block (called as :func:`run_nuts_blocks`'
        ``samplers``); each adds its record to ``records`` by block name, which the fit keeps
        in ``diagnostics["approximate_blocks"]`` and announces with a warning.

        Parameters
        ----------
        data : object
            Output of :meth:`_prepare`.
        blocks : mapping of str to pymc.Model or None
            The fit's blocks (:meth:`build_blocks`).
        client : distributed.Client or None
            The fit's Dask client.
        records : dict
            Filled by the samplers as they run.

        Returns
        -------
        dict of str to callable
        """
        return {}

    def _label_approximate_blocks(self, records: Mapping[str, Any]) -> None:
        """Keep the approximate blocks' records in ``diagnostics`` and warn that they are."""
        self.diagnostics["approximate_blocks"] = dict(records)
        routes = "; ".join(f"{block}: {record['route']}" for block, record in records.items())
        warnings.warn(
            f"{self.model_name}: some blocks were sampled by an approximation ({routes}); "
            "diagnostics['approximate_blocks'] says how",
            UserWarning,
            stacklevel=3,
        )

    def _model_for(
        self, prepared: Any, method: str, sampler: SamplerConfig, client: Any
    ) -> tuple[pm.Model, RowShards | None, str, dict[str, str]]:
        """The model to fit, its row blocks where they go to ``client``, and the method.

        With blocks, the model has the whole data's parameters and no rows (its priors);
        the rows go to the workers in :meth:`_search_mode`.
        """
        # the blocks (copies of every row) are cut only where the method may be Laplace
        may_shard = client is not None and method in ("auto", "laplace")
        shards = self.row_shards(prepared) if may_shard else None
        if shards is None:
            model = self.build_model(prepared)
        else:
            model = self.build_model(shards.no_rows, shards.layout)
        method, method_choice = self._choose_method(method, sampler, prepared, model)
        if client is not None and method == "nuts" and self.sharded_parts:
            # which blocks' rows go to the workers is logged when they are cut
            if shards is not None:
                model, shards = self.build_model(prepared), None
        elif client is not None and (shards is None or method != "laplace"):
            why = f"method {method!r}" if method != "laplace" else "the model has no row blocks"
            _LOG.info(
                "%s: fitted in this process, not on the Dask cluster (%s)", self.model_name, why
            )
            if shards is not None:
                model, shards = self.build_model(prepared), None
        return model, shards, method, method_choice

    @staticmethod
    def _sample_whole(
        model: pm.Model,
        method: str,
        sampler: SamplerConfig,
        mode: PosteriorMode | None,
        *,
        previous: xr.DataTree | None,
        random_seed: int | None,
        progressbar: bool,
        advi_iterations: int,
    ) -> xr.DataTree:
        """The fit of the whole model (not in blocks) by ``method``, inside its context."""
        if method == "nuts" and mode is not None:
            return nuts_from_mode(
                model, mode, sampler, random_seed=random_seed, progressbar=progressbar
            )
        if method == "nuts":
            return run_nuts(
                model,
                sampler,
                random_seed=random_seed,
                progressbar=progressbar,
                initvals=None if previous is None else warm_start_values(model, previous),
            )
        if method == "laplace":
            return laplace_posterior(
                model, mode, draws=sampler.draws, chains=sampler.chains, random_seed=random_seed
            )
        approx = pm.fit(
            n=advi_iterations, method="advi", random_seed=random_seed, progressbar=progressbar
        )
        return approx.sample(sampler.draws, random_seed=random_seed)

    def _keep_log_likelihood(self, model: pm.Model, idata: xr.DataTree) -> str | None:
        """Add the pointwise log-likelihood to ``idata`` where it is kept and small enough.

        Small enough: at most :attr:`log_likelihood_max_values` values. Returns what was done
        ("kept", or why not), None where the model keeps none.
        """
        if not self.keeps_log_likelihood:
            return None
        observations = sum(int(np.prod(rv.shape.eval())) for rv in model.observed_RVs)
        posterior = idata["posterior"]
        values = observations * posterior.sizes["chain"] * posterior.sizes["draw"]
        if values > self.log_likelihood_max_values:
            note = (
                f"not kept: {observations} observations × {values // observations} draws = "
                f"{values:,} values, over {self.log_likelihood_max_values:,}; the report "
                "skips PSIS-LOO (fit a shorter history to compare models by LOO)"
            )
            _LOG.info("%s: pointwise log-likelihood %s", self.model_name, note)
            return note
        pm.compute_log_likelihood(idata, model=model, progressbar=False)
        return "kept"

    def data_rows(self, data: Any) -> int | None:
        """Rows of the prepared data, the size ``start="auto"`` goes by (None: not counted).

        Returns
        -------
        int or None
        """
        return None

    def _start_route(
        self,
        sampler: SamplerConfig,
        prepared: Any,
        model: pm.Model,
        blocks: Mapping[str, pm.Model] | None,
        method: str,
    ) -> dict[str, Any]:
        """Where NUTS starts: ``{"route": "default" | "mode", "reason": ...}``."""
        if method != "nuts":
            return {"route": method, "reason": f"method={method!r}"}
        if blocks:
            return {"route": "default", "reason": "the model is sampled in blocks"}
        if sampler.start != "auto":
            return {"route": sampler.start, "reason": f"start={sampler.start!r} was asked for"}
        rows = self.data_rows(prepared)
        parameters = free_parameters(model)
        if rows is None or rows < sampler.mode_min_rows:
            return {
                "route": "default",
                "reason": f"{rows} rows, fewer than mode_min_rows = {sampler.mode_min_rows}",
            }
        if parameters > MODE_MAX_PARAMETERS:
            return {
                "route": "default",
                "reason": f"{parameters} free parameters, more than {MODE_MAX_PARAMETERS}",
            }
        return {
            "route": "mode",
            "reason": f"{rows} rows (mode_min_rows = {sampler.mode_min_rows}), "
            f"{parameters} free parameters",
        }

    def part_shards(self, data: Any) -> dict[str, RowShards]:
        """Blocks of :meth:`build_blocks` with their rows split for Dask workers.

        A block listed in :attr:`sharded_parts` whose model can be built on some of its rows
        with the whole data's parameters (:meth:`build_part`) returns them here, so NUTS on
        it with ``fit(client=...)`` computes the rows' likelihood on the workers
        (:func:`~bayesspr.inference.sharded_nuts.sharded_nuts`); a model may leave out a
        block too small to gain from it. Default: none.

        Parameters
        ----------
        data : object
            The prepared data.

        Returns
        -------
        dict of str to bayesspr.inference.sharded.RowShards
            By block name (each with ``part`` set to it).
        """
        return {}

    def build_part(self, part: str, rows: Any, layout: Any) -> pm.Model:
        """The model of one block of :meth:`build_blocks` on some of its rows.

        With every parameter the whole data gives the block (see :meth:`part_shards`).

        Parameters
        ----------
        part : str
            The block.
        rows : object
            One of its :class:`~bayesspr.inference.sharded.RowShards` blocks, or its
            ``no_rows``.
        layout : object
            Its ``layout``.

        Returns
        -------
        pymc.Model
        """
        raise NotImplementedError(f"{type(self).__name__} has no part {part!r} to build")

    def row_shards(self, data: Any) -> RowShards | None:
        """The data split into blocks of rows whose log-likelihoods add up, for Dask workers.

        A model that can be built on a block with the whole data's parameters
        (``build_model(block, layout)``) returns them, so ``fit(client=...)`` puts its rows'
        likelihood on the workers (:mod:`bayesspr.inference.sharded`). None (this default):
        the model is fitted in one process.

        Parameters
        ----------
        data : object
            The prepared data.

        Returns
        -------
        bayesspr.inference.sharded.RowShards or None
        """
        return None

    def hessian_pattern(self, data: Any, model: pm.Model) -> scipy.sparse.csr_array | None:
        """Where the Hessian of ``model``'s log density may be non-zero.

        In the order of the model's value variables raveled (``model.value_vars``). A model
        that knows its structure (which parameters each row touches) returns it, so the
        Hessian at the mode takes a few gradients instead of one per parameter
        (:mod:`bayesspr.inference.sparse_hessian`), and says so in
        :attr:`has_hessian_pattern`. None (this default): not known, dense.

        Parameters
        ----------
        data : object
            The prepared data ``model`` was built from (:meth:`build_model`).
        model : pymc.Model
            The model.

        Returns
        -------
        scipy.sparse.csr_array or None
        """
        return None

    def _choose_method(
        self, method: str, sampler: SamplerConfig, prepared: Any, model: pm.Model
    ) -> tuple[str, dict[str, str]]:
        """The method ``"auto"`` stands for here, and why (see :meth:`fit`)."""
        if method != "auto":
            return method, {"method": method, "reason": f"method={method!r} was asked for"}
        rows = self.data_rows(prepared)
        parameters = free_parameters(model)
        large = rows is not None and rows >= sampler.mode_min_rows
        if large and parameters > MODE_MAX_PARAMETERS and self.has_hessian_pattern:
            choice = {
                "method": "laplace",
                "reason": f"{rows} rows and {parameters} free parameters: NUTS from the mode "
                f"needs their dense covariance (at most {MODE_MAX_PARAMETERS}); the Gaussian "
                "at the mode (sparse Hessian"
                + (", the spreads at their Laplace-marginal mode" if self.laplace_spreads else "")
                + ") instead, an approximation: method='nuts' forces MCMC",
            }
        else:
            choice = {"method": "nuts", "reason": f"{rows} rows, {parameters} free parameters"}
        _LOG.info("%s: method %s (%s)", self.model_name, choice["method"], choice["reason"])
        return choice["method"], choice

    def _search_mode(
        self,
        model: pm.Model,
        route: dict[str, Any],
        random_seed: int | None,
        *,
        strict: bool,
        pattern: scipy.sparse.csr_array | None = None,
        shards: RowShards | None = None,
        client: Any = None,
        spreads: Sequence[str] = (),
    ) -> tuple[PosteriorMode | None, dict[str, Any], dict[str, Any] | None]:
        """The posterior mode for ``route``, or the default start where the search fails.

        A failed search falls back to the default start and says why, or, ``strict`` (the
        mode or the Laplace method was asked for), is raised. ``pattern``: the Hessian's
        sparsity (:meth:`hessian_pattern`), None for a dense Hessian. ``shards``: the rows'
        blocks to put on ``client``'s workers (``model`` then holds the priors alone); the
        third value is then their record (:meth:`ShardedLogDensity.record`), else None.
        ``spreads``: scalar spreads then put at their Laplace-marginal mode
        (:func:`~bayesspr.inference.marginal_spreads.marginal_spread_mode`), with ``pattern``.
        """
        _LOG.info("%s: searching the posterior mode (%s)", self.model_name, route["reason"])
        with contextlib.ExitStack() as stack:
            sharded = None
            if shards is not None:
                sharded = stack.enter_context(ShardedLogDensity(self, model, shards, client))
            try:
                mode = find_mode(
                    model, random_seed=random_seed, pattern=pattern, log_density=sharded
                )
                if spreads and pattern is not None:
                    mode = marginal_spread_mode(
                        model,
                        mode,
                        spreads,
                        pattern=pattern,
                        random_seed=random_seed,
                        log_density=sharded,
                    )
            except UnconvergedFitError as exc:
                if strict:
                    raise
                _LOG.warning("%s: %s; NUTS starts as usual", self.model_name, exc)
                failed = {"route": "default", "reason": f"the mode search failed: {exc}"}
                return None, failed, None
            record = None if sharded is None else sharded.record()
        _LOG.info("%s: mode found: %s", self.model_name, mode.record())
        if record is not None:
            _LOG.info("%s: on the Dask workers: %s", self.model_name, record)
        return mode, route | {"mode": mode.record()}, record

    def _label_approximate(self, method: str, route: Mapping[str, Any]) -> None:
        """Diagnostics of an approximate fit: no verdict, and a warning that says so."""
        name = {"advi": "ADVI", "laplace": "Laplace: Gaussian at the posterior mode"}[method]
        self.diagnostics = {
            "method": method,
            "approximate": True,
            "ok": None,
            "problems": [f"approximate fit ({name}): not MCMC, no R-hat/ESS"],
        }
        if "mode" in route:
            self.diagnostics["mode"] = dict(route["mode"])
        warnings.warn(
            f"method={method!r} is an approximation: check it against NUTS before using it "
            "for decisions",
            UserWarning,
            stacklevel=3,
        )

    # ------------------------------------------------------------------ the fit
    def _require_fit(self) -> xr.DataTree:
        if self.idata is None:
            raise NotFittedError(
                f"{self.model_name} has no fit: call .fit(df) or {self.model_name}.load(path)"
            )
        return self.idata

    def posterior_samples(
        self, max_samples: int | None = None, *, random_seed: int | None = None
    ) -> xr.Dataset:
        """Posterior draws over one ``sample`` dimension (see :func:`stacked_samples`).

        Parameters
        ----------
        max_samples : int, optional
            At most this many samples; default ``default_samples`` of the model class.
        random_seed : int, optional
            Seed of a random subset (see :func:`stacked_samples`).

        Returns
        -------
        xarray.Dataset
            Posterior variables with a ``sample`` dimension.
        """
        limit = self.default_samples if max_samples is None else max_samples
        return stacked_samples(self._require_fit(), limit, random_seed=random_seed)

    def verdict(self) -> dict[str, Any]:
        """The fit's convergence verdict as an output's manifest records it.

        Returns
        -------
        dict
            ``model``, ``method``, ``converged`` (True, False, or None for an approximate
            fit), ``rhat_max`` (–), ``ess_bulk_min`` and ``ess_tail_min`` (draws),
            ``divergences`` (count), ``problems`` (list of str) and ``spec_id``.
        """
        idata = self._require_fit()
        d = self.diagnostics
        figures = {
            key: (None if d.get(key) is None else round(float(d[key]), 4))
            for key in ("rhat_max", "ess_bulk_min", "ess_tail_min")
        }
        return {
            "model": self.model_name,
            "method": d.get("method", "nuts"),
            "converged": d.get("ok"),
            **figures,
            "divergences": d.get("divergences"),
            "problems": list(d.get("problems", [])),
            "spec_id": idata.attrs.get("bayesspr_spec_id"),
        }

    def _judge(self, idata: xr.DataTree, advice: str, stored_ok: bool | None = None) -> None:
        """Set ``diagnostics`` from the fit; warn (``ConvergenceWarning``) if it fails.

        ``stored_ok`` is the verdict a loaded file claimed; one the draws contradict is named
        among the problems.
        """
        self.diagnostics = convergence(idata)
        self.diagnostics["method"] = "nuts"
        if stored_ok is not None and bool(stored_ok) != self.diagnostics["ok"]:
            self.diagnostics["problems"].append(
                f"the file's stored verdict said ok={stored_ok}; recomputed from its draws: "
                f"ok={self.diagnostics['ok']} (the file was edited or damaged)"
            )
        if not self.diagnostics["ok"]:
            warnings.warn(
                f"{self.model_name} fit did not converge: "
                + "; ".join(self.diagnostics["problems"])
                + f" — see model.diagnostics; {advice}",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _attrs(self) -> dict[str, str]:
        """The file attributes every saved fit carries: version, format, verdict, config."""
        return {
            "bayesspr_version": installed_version(),
            self.format_attr: str(self.save_format),
            "bayesspr_diagnostics": json.dumps(self.diagnostics, default=str),
            self.config_attr: json.dumps(self._saved_config(), default=str),
            "bayesspr_spec_id": self.spec_id(),
        }

    def save(self, path: str | Path, *, keep: Keep = "report") -> Path:
        """Write the fit to a compressed netCDF file atomically (no pickle).

        Parameters
        ----------
        path : str or pathlib.Path
            Destination file (``.nc``); its folder is created if missing.
        keep : {"report", "posterior", "all"}
            ``"report"`` (default): posterior, sampler statistics, observed data and the
            pointwise log-likelihood as float32 — everything :func:`bayesspr.report` uses
            (PSIS-LOO needs the log-likelihood). ``"posterior"``: without the
            log-likelihood, enough to predict, forecast and plan (over 10× smaller for an
            SPR fit; the report then skips LOO and says so). ``"all"``: every group at full
            precision. A volume fit has no log-likelihood group, so ``"report"`` and
            ``"posterior"`` are the same there.

        Returns
        -------
        pathlib.Path
            The saved file; :meth:`load` of the same class reads it back.

        Raises
        ------
        NotFittedError
            If the model has no fit.
        ArgumentError
            If ``keep`` is not one of the three choices.
        """
        idata = self._require_fit()
        idata.attrs.update(self._attrs())
        return write_fit(idata, path, keep)

    @classmethod
    def _read_fit(cls, path: str | Path) -> xr.DataTree:
        """Read a saved fit and check it is this model's, in this format (or say whose)."""
        path = Path(path)
        idata = read_saved_tree(path, cls.model_name)
        found = idata.attrs.get(cls.format_attr)
        if found is None:
            for attr, owner in FittedModel._by_format_attr.items():
                if attr in idata.attrs and owner != cls.model_name:
                    raise ModelVersionError(
                        f"{path} is a {owner} fit, not a {cls.model_name} fit: load it with "
                        f"bayesspr.{owner}.load"
                    )
        if found != str(cls.save_format):
            raise ModelVersionError(
                f"{path} has {cls.model_name} save format {found!r}; this bayesspr reads "
                f"format {cls.save_format!r} (bayesspr {installed_version()})"
            )
        return idata

    def _restore(self, idata: xr.DataTree) -> None:
        """Take a loaded fit; its convergence verdict is recomputed, never read from the file.

        The stored ``bayesspr_diagnostics`` attribute is text anyone can edit: an MCMC fit's
        verdict comes again from its draws and sampler statistics (warning like a fresh fit
        when it fails), and an approximate (ADVI) fit is never taken as converged.
        """
        self.idata = idata
        stored = json.loads(idata.attrs.get("bayesspr_diagnostics", "{}"))
        if stored.get("method") == "advi" or "sample_stats" not in idata.children:
            self.diagnostics = {
                **stored,
                "method": stored.get("method", "unknown"),
                "ok": None,
                "approximate": True,
                "problems": ["approximate fit or no sampler statistics: no R-hat/ESS verdict"],
            }
            return
        self._judge(idata, "re-fit with more tune/draws before trusting it", stored.get("ok"))
        # what the fit ran with and which blocks it approximated, as recorded (not a verdict)
        for key in ("sampler", "approximate_blocks"):
            if key in stored:
                self.diagnostics[key] = stored[key]

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a fit written by :meth:`save`.

        Parameters
        ----------
        path : str or pathlib.Path
            A file written by :meth:`save` of this class.

        Returns
        -------
        FittedModel
            A model with its configuration, fit state, ``idata`` and ``diagnostics``
            (recomputed from the draws, never read from the file).

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ModelVersionError
            If the file is another model's fit (it says whose) or of another save format.
        SavedFitError
            If the file lacks its configuration, the configuration is unusable, or its
            posterior lacks a parameter or has values no fit can have (NaN, or outside a
            parameter's support): a damaged or edited file.
        """
        path = Path(path)
        idata = cls._read_fit(path)
        text = required_attr(idata, cls.config_attr, path, cls.model_name)
        try:
            model = cls._from_saved_config(json.loads(text))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
            raise SavedFitError(
                f"{path}: its stored {cls.model_name} configuration is unusable "
                f"({type(exc).__name__}: {exc}); re-fit and save again"
            ) from None
        check_posterior(
            idata, path, cls.model_name, model.parameter_supports, model.learned_parameters()
        )
        model._restore(idata)
        return model
