"""The hierarchical physics-informed SPR model: fit, predict, save and load.

Mean function: the route physics of :mod:`bayesspr.spr.physics` with learned constants.

* global: tour constant k (–), stem speed v_s (km/h), usable capacity share ``fill`` (–);
* city: service time per stop s (min) and speed between stops v (km/h), log-normal around
  population medians, non-centred;
* station: dispatch overhead per route (h), log-normal around a population median,
  non-centred (a station's zips sit at different stem distances, which separates overhead
  from stem time);
* zip: a time-efficiency effect (log scale) on the time bound, non-centred; it belongs to the
  zip, so a zip keeps it when it moves to another station, while the row's station supplies
  stem distance and overhead.

Each quantity lives on one level only, so no sum of free offsets is pinned only by its total.
Circuity is fixed (only c/v is identifiable). Observation model: whole routes from an
interval-censored log-normal route need (:mod:`bayesspr.spr.likelihood`); with ``route_km``
present, a log-normal likelihood of the route length informs the tour constant.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import scipy.sparse
import xarray as xr
from pytensor.compile.mode import NUMBA, Mode
from pytensor.link.numba.dispatch.basic import numba_njit
from pytensor.link.numba.linker import NumbaLinker

from bayesspr.data import table as data_mod
from bayesspr.defaults import DEFAULT_INTERVAL, central_bounds
from bayesspr.errors import ArgumentError, ForecastError
from bayesspr.inference.fitted_model import FittedModel, SamplerConfig
from bayesspr.inference.fitted_model import stacked_samples as stacked_samples  # re-exported
from bayesspr.inference.fitted_model import warm_start_values as warm_start_values  # re-exported
from bayesspr.inference.sharded import RowShards
from bayesspr.parallel import map_on_threads, sample_slices
from bayesspr.spr import physics, route_need_op
from bayesspr.spr.likelihood import route_count_logp, route_counts
from bayesspr.spr.physics import RouteConstants, ZoneDay
from bayesspr.spr.spec import SpecError, load_spec, log_normal_location, prior_rv

#: Version of the saved-fit layout; files of another layout are refused on load.
SAVE_FORMAT = 1

#: Most rows (zip-days) of a block a Dask worker holds in a fit on a cluster
#: (:meth:`SPRModel.row_shards`): about 350 MiB of the gradient's intermediate arrays.
BLOCK_MAX_ROWS = 250_000

#: Levels of the hierarchy, top down.
LEVELS = ("city", "station", "zip")

#: Population-pooled group effects: (posterior name, log-median name, log-sd name, level).
GROUP_EFFECTS = (
    ("service_min_city", "log_service_min_pop", "service_min_sd", "city"),
    ("speed_kmh_city", "log_speed_kmh_pop", "speed_kmh_sd", "city"),
    ("overhead_hours_station", "log_overhead_hours_pop", "overhead_hours_sd", "station"),
)


#: Posterior variables that are positive in every fit (a saved fit with draws <= 0 is refused).
POSITIVE_PARAMETERS = (
    "tour_constant",
    "stem_speed_kmh",
    "fill",
    "sigma_route",
    "sigma_km",
    "service_min_pop",
    "speed_kmh_pop",
    "overhead_hours_pop",
    "service_min_city",
    "speed_kmh_city",
    "overhead_hours_station",
    "service_min_sd",
    "speed_kmh_sd",
    "overhead_hours_sd",
    "zip_effect_sd",
)


#: Support of each learned constant, (low, high) with low < value ≤ high: what a saved fit's
#: draws are checked against on load. A speed, a time or a spread is positive; ``fill`` is the
#: usable share of a van's capacity.
PARAMETER_SUPPORTS: dict[str, tuple[float, float]] = {
    **{name: (0.0, np.inf) for name in POSITIVE_PARAMETERS if name != "fill"},
    "fill": (0.0, 1.0),
}


class PhysicsWarning(UserWarning):
    """Planned rows for which the route physics gives no meaningful forecast."""


def row_inputs(df: pd.DataFrame) -> ZoneDay:
    """Covariates of each row as float arrays (units as in the canonical table).

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical rows.

    Returns
    -------
    bayesspr.spr.physics.ZoneDay
        ``stops``, ``packages``, ``capacity`` (packages), ``area_km2`` (km²), ``stem_km``
        (km), ``shift_hours`` (h), one value per row.
    """
    return ZoneDay(
        stops=df["stops"].to_numpy(float),
        packages=df["packages"].to_numpy(float),
        capacity=df["van_capacity"].to_numpy(float),
        area_km2=df["area_km2"].to_numpy(float),
        stem_km=df["stem_km"].to_numpy(float),
        shift_hours=df["shift_hours"].to_numpy(float),
    )


@dataclass(frozen=True, kw_only=True)
class ParameterDraws:
    """Draws of the SPR model's parameters, for the groups of a forecast.

    Each field holds numpy arrays of S posterior samples (or pytensor tensors inside the
    PyMC model): scalars as (S, 1), group effects as (S, n_groups) in the order of the
    labels they were drawn for. :meth:`route_constants` picks each row's groups.

    Attributes
    ----------
    stem_speed_kmh : array_like or tensor
        Stem speed v_s (km/h).
    tour_constant : array_like or tensor
        Tour constant k (dimensionless).
    fill : array_like or tensor
        Usable share of van capacity (dimensionless).
    sigma_route : array_like or tensor
        Day noise of the route need (log routes).
    service_min_city : array_like or tensor
        Service time per stop s by city (min).
    speed_kmh_city : array_like or tensor
        Speed between stops v by city (km/h).
    overhead_hours_station : array_like or tensor
        Dispatch overhead per route by station (h).
    zip_effect : array_like or tensor
        Time efficiency by zip (log, dimensionless).
    sigma_km : array_like or tensor, optional
        Day noise of the route length (log km); None when the fit had no ``route_km``.
    """

    stem_speed_kmh: Any
    tour_constant: Any
    fill: Any
    sigma_route: Any
    service_min_city: Any
    speed_kmh_city: Any
    overhead_hours_station: Any
    zip_effect: Any
    sigma_km: Any = None

    def route_constants(self, index: dict[str, Any], circuity: float) -> RouteConstants:
        """The physics constants of each row: its city's, station's and zip's draws.

        Parameters
        ----------
        index : dict
            Integer position of each row's group in the labels of the draws:
            ``{"city": (R,), "station": (R,), "zip": (R,)}``.
        circuity : float
            Road km per straight-line km (dimensionless), fixed by the spec.

        Returns
        -------
        bayesspr.spr.physics.RouteConstants
            Constants per sample and row (S, R), scalars (S, 1); the zip effect enters as
            the time efficiency exp(zip_effect).
        """
        zip_effect = _pick(self.zip_effect, index["zip"])
        return RouteConstants(
            service_min=_pick(self.service_min_city, index["city"]),
            speed_kmh=_pick(self.speed_kmh_city, index["city"]),
            stem_speed_kmh=self.stem_speed_kmh,
            circuity=circuity,
            tour_constant=self.tour_constant,
            overhead_hours=_pick(self.overhead_hours_station, index["station"]),
            fill=self.fill,
            time_efficiency=physics.backend(zip_effect).exp(zip_effect),
        )

    def median(self) -> ParameterDraws:
        """Posterior median of every parameter (the sample axis dropped).

        Returns
        -------
        ParameterDraws
            Scalars as (1,), group effects as (n_groups,).
        """
        return replace(
            self,
            **{
                f.name: np.median(getattr(self, f.name), axis=0)
                for f in fields(self)
                if getattr(self, f.name) is not None
            },
        )


def _pick(values: Any, index: Any) -> Any:
    """Columns ``index`` of (S, n_groups) draws, or entries of (n_groups,) values."""
    return values[:, index] if values.ndim == 2 else values[index]


def _route_inputs(
    params: ParameterDraws, rows: ZoneDay, index: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The arrays a route kernel reads, by name: parameter draws, row covariates, indices.

    Aligned in memory: PyTensor's C code refuses unaligned arrays, which unpickled buffers
    (e.g. arrays a Dask worker received) can be; those are copied, the rest kept as they are.
    """
    values = {f"param_{f.name}": getattr(params, f.name) for f in fields(params)}
    values |= {f"row_{f.name}": getattr(rows, f.name) for f in fields(rows)}
    values |= {f"index_{level}": index[level] for level in ("city", "station", "zip")}
    return {k: np.require(v, requirements="A") for k, v in values.items() if v is not None}


def _signature(values: dict[str, np.ndarray]) -> tuple[tuple[str, str, tuple[bool, ...]], ...]:
    """What a compiled kernel depends on: each input's name, dtype and length-1 axes."""
    return tuple((k, v.dtype.str, tuple(n == 1 for n in v.shape)) for k, v in values.items())


def _sample_rows(values: np.ndarray, samples: slice, n_samples: int) -> np.ndarray:
    """The rows ``samples`` of a kernel input that has one row per sample; others as they are."""
    if values.ndim == 2 and values.shape[0] == n_samples and n_samples > 1:
        return values[samples]
    return values


class _UnlockedNumbaLinker(NumbaLinker):
    """PyTensor's numba linker, keeping the compiled function, compiled without the GIL.

    The function of a graph's inputs (in order) to its outputs is pure: threads may call it
    at once, each on a slice of the samples. Not cached on disk: numba's cache does not tell
    this function from the same graph compiled with the lock.
    """

    def __init__(self) -> None:
        super().__init__()
        # a list, shared with the copies PyTensor makes of its linker (``Linker.clone``)
        self.compiled: list[Callable[..., Any]] = []

    def jit_compile(self, fn_and_cache: tuple[Callable[..., Any], Any]) -> Callable[..., Any]:
        fn, _ = fn_and_cache
        compiled = numba_njit(fn.py_func, final_function=True, cache=False, nogil=True)
        self.compiled.append(compiled)
        return compiled


@functools.lru_cache(maxsize=32)
def _route_kernel(
    signature: tuple[tuple[str, str, tuple[bool, ...]], ...],
    circuity: float,
    with_km: bool,
    normals_dtype: str = "<f8",
) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """Route draws as one compiled function of the same physics formulas (PyTensor → numba).

    The numpy evaluation of :func:`log_route_need` makes a temporary array per operation;
    compiled, PyTensor fuses the element-wise chain into one loop (about twice the rows per
    second on a 4-million-row block). Inputs are those of :func:`_route_inputs` in order, then
    the standard normals of the route need and of the route length, (S, R) each; outputs are
    routes and km per route, (S, R). The function itself is returned (not PyTensor's wrapper,
    whose storage is its own): it runs without the interpreter lock, and threads may call it
    at once.
    """
    symbols = {
        name: pt.tensor(name, dtype=np.dtype(dtype), shape=tuple(1 if b else None for b in one))
        for name, dtype, one in signature
    }

    def part(prefix: str) -> dict[str, Any]:
        return {k.removeprefix(prefix): v for k, v in symbols.items() if k.startswith(prefix)}

    params = ParameterDraws(**part("param_"))
    rows = ZoneDay(**part("row_"))
    index = part("index_")
    z_need = pt.matrix("z_need", dtype=np.dtype(normals_dtype))
    z_km = pt.matrix("z_km", dtype=np.dtype(normals_dtype))
    constants = params.route_constants(index, circuity)
    floor = pt.atleast_2d(physics.capacity_floor_routes(rows.packages, rows.capacity))
    routes = route_counts(log_route_need(rows, constants), params.sigma_route, floor, z_need)
    km = physics.expected_route_km(rows, constants, routes=routes) + pt.zeros_like(routes)
    if with_km:
        km = km * pt.exp(params.sigma_km * z_km)
    inputs = [*symbols.values(), z_need, z_km]
    linker = _UnlockedNumbaLinker()
    function = pytensor.function(
        inputs,
        [routes, km],
        on_unused_input="ignore",
        mode=Mode(linker, NUMBA.provided_optimizer),
    )
    if len(linker.compiled) != 1 or function.maker.fgraph.inputs != inputs:
        raise ForecastError("the route kernel did not compile to one function of its inputs")
    return linker.compiled[0]


def log_route_need(zone: ZoneDay, constants: RouteConstants, *, for_gradient: bool = False) -> Any:
    """Log of the physics route need μ = log(N / n*) (log routes), numpy or pytensor.

    Parameters
    ----------
    zone : bayesspr.spr.physics.ZoneDay
        Row covariates from the canonical table (see :func:`row_inputs`).
    constants : bayesspr.spr.physics.RouteConstants
        Physics constants, broadcast against the rows (see
        :meth:`ParameterDraws.route_constants`).
    for_gradient : bool
        Build log n* in log space (:func:`bayesspr.spr.physics.log_smooth_max_stops_per_route`):
        the form a log density differentiates cheaply (no fractional power in its gradient),
        what the PyMC model takes; where the rows are numbers and the constants tensors (the
        PyMC model, SBC) it is one compiled op with its gradient
        (:mod:`bayesspr.spr.route_need_op`). Otherwise the soft minimum of the bounds
        themselves, which costs fewer calls without a gradient (the forecast's route draws).
        Equal to rounding.

    Returns
    -------
    array_like or tensor
        μ per row (log routes), using the soft minimum of the two bounds.
    """
    xp = physics.backend(zone.stops, *constants.values())
    if for_gradient and xp is pt and physics.backend(*zone.values(), constants.circuity) is np:
        # the model's form: one compiled op for μ and its gradient (bayesspr.spr.route_need_op)
        parameters = {
            name: getattr(constants, name.removeprefix("log_")) for name in route_need_op.PARAMETERS
        }
        parameters["log_time_efficiency"] = pt.log(constants.time_efficiency)
        data = route_need_op.route_need_data(zone, float(constants.circuity))
        return route_need_op.log_route_need_op(data, **parameters)
    if for_gradient:
        return xp.log(zone.stops) - physics.log_smooth_max_stops_per_route(zone, constants)
    return xp.log(zone.stops) - xp.log(physics.max_stops_per_route(zone, constants, smooth=True))


@dataclass(frozen=True)
class SPRLayout:
    """The parameters of an SPR model: its groups, which are centred, the km likelihood.

    Attributes
    ----------
    levels : dict of str to pandas.Index
        Each level's groups (``city``, ``station``, ``zip``), sorted.
    centred : dict of str to numpy.ndarray
        By group effect, which of its level's groups are sampled centred (bool, in
        ``levels`` order).
    route_km : bool
        Whether the route-length likelihood (and its ``sigma_km``) is in the model.
    """

    levels: dict[str, pd.Index]
    centred: dict[str, np.ndarray]
    route_km: bool

    def codes(self, df: pd.DataFrame, level: str) -> np.ndarray:
        """Each row's group of ``level``, as positions in :attr:`levels`.

        Raises
        ------
        ArgumentError
            If a row's group is not in the layout (naming the first such row).
        """
        codes = self.levels[level].get_indexer(df[level])
        missing = np.flatnonzero(codes < 0)
        if missing.size:
            row = df.index[missing[0]]
            raise ArgumentError(
                f"row {row!r}, column {level!r}: {df[level].iloc[missing[0]]!r} is not one of "
                f"the {len(self.levels[level])} {level} groups of the model's layout; build "
                "the layout from a table that holds every row"
            )
        return codes


class SPRModel(FittedModel):
    """Hierarchical physics-informed model of shipments per route.

    Parameters
    ----------
    spec : str, pathlib.Path or dict
        Model spec: a name in ``models/`` (default ``"default"``), a TOML path, or a dict.

    Attributes
    ----------
    spec : dict
        Priors, constants and sampler defaults in use.
    idata : xarray.DataTree or None
        The fit: posterior, sample_stats, observed_data, log_likelihood.
    diagnostics : dict
        Convergence summary of the last fit (see
        :func:`bayesspr.inference.diagnostics.convergence`).

    Examples
    --------
    >>> from bayesspr import SPRModel, simulate_world
    >>> world = simulate_world()
    >>> model = SPRModel().fit(world.table, random_seed=1)  # doctest: +SKIP
    >>> model.predict(world.table.drop(columns="routes"))  # doctest: +SKIP
    """

    model_name = "SPRModel"
    format_attr = "bayesspr_save_format"
    save_format = SAVE_FORMAT
    config_attr = "bayesspr_spec"
    keeps_log_likelihood = True
    has_hessian_pattern = True
    #: The spreads and noise scales, and the global physics constants: at rung M's first city
    #: (1,000 zips) the joint mode put the stem speed 0.23 and fill 0.21 NUTS posterior sd
    #: above NUTS's means, a gap that grows with the network (0.11 sd at 400 zips); at their
    #: Laplace-marginal mode they are 0.02 and 0.01 sd away (docs/scale.md).
    laplace_spreads = (
        "stem_speed_kmh",
        "tour_constant",
        "fill",
        "zip_effect_sd",
        "overhead_hours_sd",
        "service_min_sd",
        "speed_kmh_sd",
        "sigma_route",
        "sigma_km",
    )
    parameter_supports = PARAMETER_SUPPORTS

    def __init__(self, spec: str | Path | dict[str, Any] = "default") -> None:
        self.spec = load_spec(spec)
        self.idata: xr.DataTree | None = None
        self.diagnostics: dict[str, Any] = {}
        self.pymc_model: pm.Model | None = None
        self.parameterisation: dict[str, str] = {}

    # ------------------------------------------------------------------ building
    def model_layout(self, df: pd.DataFrame) -> SPRLayout:
        """The parameters a table fixes: its groups, which are centred, and the km likelihood.

        A model built on any subset of the table's rows with this layout
        (:meth:`build_model`) has the whole table's parameters in the same order, so the
        log-likelihoods of disjoint subsets add up to the whole table's.

        Parameters
        ----------
        df : pandas.DataFrame
            Canonical table with ``routes``.

        Returns
        -------
        SPRLayout
        """
        levels = {level: pd.Index(pd.unique(df[level])).sort_values() for level in LEVELS}
        effect_levels = {name: level for name, _, _, level in GROUP_EFFECTS}
        effect_levels["zip_effect"] = "zip"
        centred = {
            name: self._centring(name, df[level], levels[level])
            for name, level in effect_levels.items()
        }
        return SPRLayout(levels=levels, centred=centred, route_km="route_km" in df)

    def row_shards(self, df: pd.DataFrame, max_rows: int | None = None) -> RowShards:
        """The table split into blocks of whole stations: what a fit on Dask workers gives out.

        Stations are taken in (city, station) order and gathered into blocks of at most
        ``max_rows`` rows (a station with more rows is a block of its own), so a block is a
        few stations of one city or neighbouring cities. Each block's model
        (:meth:`build_model` with the whole table's :meth:`model_layout`) has every
        parameter; their log-likelihoods add up to the table's.

        Parameters
        ----------
        df : pandas.DataFrame
            Canonical table with ``routes``.
        max_rows : int, optional
            Most rows of a block (zip-days): its gradient's intermediate arrays take about
            1.4 KiB a row on the worker. Default :data:`BLOCK_MAX_ROWS`.

        Returns
        -------
        bayesspr.inference.sharded.RowShards
            Blocks named after their first station (``"city/station"``).
        """
        max_rows = BLOCK_MAX_ROWS if max_rows is None else int(max_rows)
        counts = df.groupby(["city", "station"], sort=True).size()
        block_of, names, filled = [], [], max_rows
        for (city, station), rows in counts.items():
            if filled + rows > max_rows:
                names.append(f"{city}/{station}")
                filled = 0
            block_of.append(len(names) - 1)
            filled += rows
        block = pd.Series(block_of, index=counts.index)
        keys = pd.MultiIndex.from_frame(df[["city", "station"]])
        by_row = block.reindex(keys).to_numpy()
        blocks = {names[code]: rows for code, rows in df.groupby(by_row, sort=True)}
        return RowShards(
            layout=self.model_layout(df),
            blocks=blocks,
            no_rows=df.iloc[:0],
            rows={name: len(rows) for name, rows in blocks.items()},
        )

    def build_model(self, df: pd.DataFrame, layout: SPRLayout | None = None) -> pm.Model:
        """Build the PyMC model for a validated observation table.

        Parameters
        ----------
        df : pandas.DataFrame
            Canonical table with ``routes`` (see :mod:`bayesspr.data.table`).
        layout : SPRLayout, optional
            Groups and centring from a larger table that holds ``df``'s rows
            (:meth:`model_layout`): the model then has that table's parameters, and its
            likelihood only ``df``'s rows (none for an empty ``df``: the priors alone).
            Default: ``df``'s own.

        Returns
        -------
        pymc.Model
            The model, with coords ``city``, ``station``, ``zip`` and ``row``.
        """
        priors = self.spec["priors"]
        circuity = float(self.spec["constants"]["circuity"])
        layout = self.model_layout(df) if layout is None else layout
        codes = {level: layout.codes(df, level) for level in LEVELS}
        city_idx, station_idx, zip_idx = codes["city"], codes["station"], codes["zip"]
        rows = row_inputs(df)
        coords = {level: list(layout.levels[level]) for level in LEVELS}
        coords["row"] = np.arange(len(df))
        centred = layout.centred
        self.parameterisation = {
            name: f"{int(mask.sum())} of {mask.size} groups centred"
            for name, mask in centred.items()
        }
        self._group_layout: dict[str, tuple[str, np.ndarray]] = {}
        with pm.Model(coords=coords) as model:
            tour = prior_rv("tour_constant", priors["tour_constant"])
            stem_speed = prior_rv("stem_speed_kmh", priors["stem_speed_kmh"])
            fill = prior_rv("fill", priors["fill"])
            groups = {}
            for name, log_pop_name, sd_name, level in GROUP_EFFECTS:
                pop_name = log_pop_name.removeprefix("log_")
                mu, sigma = log_normal_location(priors[pop_name])
                log_pop = pm.Normal(log_pop_name, mu, sigma)
                pm.Deterministic(pop_name, pt.exp(log_pop))
                sd = prior_rv(sd_name, priors[sd_name])
                log_group = pooled_offsets(
                    f"log_{name}", log_pop, sd, level, centred[name], self._group_layout
                )
                groups[name] = pm.Deterministic(name, pt.exp(log_group), dims=level)
            zip_sd = prior_rv("zip_effect_sd", priors["zip_effect_sd"])
            zip_effect = pooled_offsets(
                "zip_effect", 0.0, zip_sd, "zip", centred["zip_effect"], self._group_layout
            )
            sigma_route = prior_rv("sigma_route", priors["sigma_route"])

            draws = ParameterDraws(
                stem_speed_kmh=stem_speed,
                tour_constant=tour,
                fill=fill,
                sigma_route=sigma_route,
                zip_effect=zip_effect,
                **groups,
            )
            index = {"city": city_idx, "station": station_idx, "zip": zip_idx}
            constants = draws.route_constants(index, circuity)
            mu_need = log_route_need(rows, constants, for_gradient=True)
            floor = physics.capacity_floor_routes(rows.packages, rows.capacity)
            pm.CustomDist(
                "routes",
                mu_need,
                sigma_route,
                floor,
                logp=route_count_logp,
                observed=df["routes"].to_numpy(float),
                dims="row",
            )
            if layout.route_km:
                sigma_km = prior_rv("sigma_km", priors["sigma_km"])
                km = physics.expected_route_km(rows, constants, routes=df["routes"].to_numpy(float))
                pm.LogNormal(
                    "route_km",
                    mu=pt.log(km),
                    sigma=sigma_km,
                    observed=df["route_km"].to_numpy(float),
                    dims="row",
                )
        return model

    def hessian_pattern(self, data: pd.DataFrame, model: pm.Model) -> scipy.sparse.csr_array:
        """Where the Hessian of the log density may be non-zero (see the base class).

        A row's likelihood involves its zip's effect, its station's overhead and its city's
        service time and speed; every group value's prior involves the population constants.
        So a zip's effect couples with the stations and cities it has rows in (two for a zip
        that moved), a station's overhead with its zips and cities, and the population
        constants (one-value variables: tour constant, stem speed, fill, population medians
        and spreads, noise scales) with everything. Two zips, or two stations, never share a
        row: at rung M the Hessian takes 17 gradients (15 colours) instead of 4,119.

        Parameters
        ----------
        data : pandas.DataFrame
            The validated table ``model`` was built from.
        model : pymc.Model
            The model :meth:`build_model` returned for it (its value variables' layout).

        Returns
        -------
        scipy.sparse.csr_array
            (n, n) bool, n = free parameters in ``model.value_vars`` order raveled.
        """
        levels = ("zip", "station", "city")
        codes = {level: pd.factorize(data[level], sort=True) for level in levels}
        offsets, start = {}, 0
        for level in levels:
            offsets[level] = start
            start += len(codes[level][1])
        groups = start
        # the groups each row touches, one set per distinct (zip, station, city)
        key = codes["zip"][0].astype(np.int64)
        for level in ("station", "city"):
            key = key * len(codes[level][1]) + codes[level][0]
        key = np.unique(key)
        city = key % len(codes["city"][1])
        station = (key // len(codes["city"][1])) % len(codes["station"][1])
        zips = key // (len(codes["city"][1]) * len(codes["station"][1]))
        touched = np.column_stack(
            [zips + offsets["zip"], station + offsets["station"], city + offsets["city"]]
        ).ravel()
        rows = np.repeat(np.arange(key.size), 3)
        incidence = scipy.sparse.csr_array(
            (np.ones(rows.size), (rows, touched)), shape=(key.size, groups)
        )
        together = (incidence.T @ incidence).astype(bool)
        # each raveled parameter's group (-1: a population constant, coupled with all)
        group_of = []
        initial = model.initial_point()
        for value in model.value_vars:
            size = int(np.size(initial[value.name]))
            name = model.values_to_rvs[value].name
            if name in self._group_layout:
                level, members = self._group_layout[name]
                group_of.append(offsets[level] + np.asarray(members, dtype=np.int64))
            else:
                group_of.append(np.full(size, -1, dtype=np.int64))
        group_of = np.concatenate(group_of)
        local = np.flatnonzero(group_of >= 0)
        membership = scipy.sparse.csr_array(
            (np.ones(local.size), (local, group_of[local])), shape=(group_of.size, groups)
        )
        shared = np.flatnonzero(group_of < 0)
        everything = np.arange(group_of.size)
        with_all = scipy.sparse.csr_array(
            (
                np.ones(shared.size * everything.size, dtype=bool),
                (np.repeat(shared, everything.size), np.tile(everything, shared.size)),
            ),
            shape=(group_of.size, group_of.size),
        )
        pattern = membership @ together @ membership.T + with_all + with_all.T
        return scipy.sparse.csr_array(pattern.astype(bool))

    def _centring(self, effect: str, labels: pd.Series, groups: pd.Index) -> np.ndarray:
        """Which groups of an effect to sample centred (one bool per group, ``groups`` order).

        ``"auto"`` centres each group with at least ``centred_min_rows`` rows (one number, or
        a number per effect) and non-centres the thin ones; ``"centred"`` / ``"non-centred"``
        force the whole effect.
        """
        hierarchy = self.spec.get("hierarchy", {})
        choice = hierarchy.get(effect, "auto")
        if choice not in ("auto", "centred", "non-centred"):
            raise SpecError(
                f"spec [hierarchy] {effect} = {choice!r}; expected 'auto', 'centred' or "
                "'non-centred'"
            )
        if choice != "auto":
            return np.full(len(groups), choice == "centred")
        min_rows = hierarchy.get("centred_min_rows", 50)
        if isinstance(min_rows, dict):
            min_rows = min_rows.get(effect, 50)
        counts = labels.value_counts().reindex(groups).to_numpy()
        return counts >= min_rows

    # ------------------------------------------------------------------ lifecycle hooks
    def sampler_config(self) -> SamplerConfig:
        """NUTS defaults from the spec's ``[sampler]`` table.

        Returns
        -------
        bayesspr.inference.fitted_model.SamplerConfig
        """
        return SamplerConfig.from_mapping(
            self.spec.get("sampler", {}), origin=str(self.spec["model"].get("name", "spec"))
        )

    def _prepare(self, data: pd.DataFrame) -> pd.DataFrame:
        """The canonical observation table with ``routes``, validated (``DataError``)."""
        return data_mod.validate(data, require_routes=True)

    def data_rows(self, data: pd.DataFrame) -> int:
        """Rows of the validated table (zip-days): the size the sampler's ``start`` goes by.

        Returns
        -------
        int
        """
        return len(data)

    def config(self) -> dict[str, Any]:
        """The spec in use (priors, constants, sampler, hierarchy) as data.

        Returns
        -------
        dict
        """
        return self.spec

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SPRModel:
        """A model of the spec :meth:`config` gave (validated again).

        Returns
        -------
        SPRModel
        """
        return cls(dict(config))

    # ------------------------------------------------------------------ predicting
    def parameter_draws(
        self,
        post: xr.Dataset,
        labels: dict[str, np.ndarray],
        rng: np.random.Generator,
    ) -> ParameterDraws:
        """Draws of every physics constant for the given groups.

        Parameters
        ----------
        post : xarray.Dataset
            Output of :meth:`posterior_samples` (S samples).
        labels : dict
            Unique labels per level: ``{"city": [...], "station": [...], "zip": [...]}``.
            Groups unseen in training draw their effect once from the population.
        rng : numpy.random.Generator
            Source of the new groups' effects. Each effect draws from its own child stream
            (``rng.spawn``), so adding an unseen station does not move any zip's draws.

        Returns
        -------
        ParameterDraws
            Scalars as (S, 1) arrays (``stem_speed_kmh``, ``tour_constant``, ``fill``,
            ``sigma_route``, ``sigma_km`` if learned); group effects as (S, n_labels) arrays
            in the order of ``labels`` (``service_min_city`` min, ``speed_kmh_city`` km/h,
            ``overhead_hours_station`` h, ``zip_effect`` log).
        """
        n_s = post.sizes["sample"]

        def scalar(name: str) -> np.ndarray:
            if name not in post:  # a parameter the spec fixes rather than learns
                return np.full((n_s, 1), float(self.spec["priors"][name]))
            return post[name].to_numpy()[:, None]

        params = {
            name: scalar(name)
            for name in ("stem_speed_kmh", "tour_constant", "fill", "sigma_route")
        }
        if "sigma_km" in post:
            params["sigma_km"] = scalar("sigma_km")
        *streams, zip_stream = rng.spawn(len(GROUP_EFFECTS) + 1)
        for stream, effect in zip(streams, GROUP_EFFECTS, strict=True):
            name, log_pop_name, sd_name, level = effect
            params[name] = self._group_draws(
                post[name],
                np.asarray(labels[level]),
                level,
                stream,
                new=lambda z, lp=log_pop_name, sd=sd_name: np.exp(scalar(lp) + scalar(sd) * z),
            )
        params["zip_effect"] = self._group_draws(
            post["zip_effect"],
            np.asarray(labels["zip"]),
            "zip",
            zip_stream,
            new=lambda z: scalar("zip_effect_sd") * z,
        )
        return ParameterDraws(**params)

    def route_draws(
        self,
        params: ParameterDraws,
        rows: ZoneDay,
        index: dict[str, np.ndarray],
        rng: np.random.Generator | None = None,
        *,
        normals: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draws of whole routes and route length for rows whose volume may vary by sample.

        Parameters
        ----------
        params : ParameterDraws
            Output of :meth:`parameter_draws` (S samples).
        rows : bayesspr.spr.physics.ZoneDay
            Covariates (see the canonical table): ``stops``, ``packages`` (per zip-day),
            ``capacity`` (packages), ``area_km2`` (km²), ``stem_km`` (km), ``shift_hours``
            (h); each (R,) or (S, R).
        index : dict
            Integer position of each row's group in the labels given to
            :meth:`parameter_draws`: ``{"city": (R,), "station": (R,), "zip": (R,)}``.
        rng : numpy.random.Generator, optional
            Source of the day noise, unless ``normals`` gives it.
        normals : numpy.ndarray, optional
            (2, S, R) standard normals (float64 or float32): the day noise of the route need,
            then of the route length (–); the caller's own, e.g. keyed by zip so that draws
            do not depend on which rows are drawn together.

        Returns
        -------
        routes : numpy.ndarray
            (S, R) whole routes per zip-day (routes).
        route_km : numpy.ndarray
            (S, R) length of a route (km), with the fitted day noise when learned.

        Raises
        ------
        ForecastError
            If neither ``rng`` nor ``normals`` is given.
        """
        if rng is None and normals is None:
            raise ForecastError("route_draws needs rng= or normals= (the day noise)")
        circuity = float(self.spec["constants"]["circuity"])
        values = _route_inputs(params, rows, index)
        n_rows = len(np.asarray(index["zip"]))
        shape = (np.shape(params.sigma_route)[0], n_rows)
        with_km = params.sigma_km is not None
        if normals is None:
            normals = np.stack([rng.standard_normal(shape) for _ in range(1 + with_km)])
        normals = np.require(normals, requirements="A")  # aligned, as _route_inputs
        key = (_signature(values), circuity, with_km, normals.dtype.str)
        z_need, z_km = normals[0], normals[1 if with_km else 0]
        n_s = shape[0]

        kernel = _route_kernel(*key)  # compiled here, once: threads only call it

        def draw(samples: slice) -> tuple[np.ndarray, np.ndarray]:
            picked = (_sample_rows(v, samples, n_s) for v in values.values())
            return kernel(*picked, z_need[samples], z_km[samples])

        parts = map_on_threads(draw, sample_slices(n_s, n_rows))
        if len(parts) == 1:
            return parts[0][0], parts[0][1]
        return tuple(np.concatenate([part[k] for part in parts]) for k in range(2))

    def predict_draws(
        self,
        future_df: pd.DataFrame,
        *,
        random_seed: int | None = 0,
        max_samples: int | None = 1000,
    ) -> xr.Dataset:
        """Posterior predictive draws of routes, SPR and route length for planned rows.

        Parameters
        ----------
        future_df : pandas.DataFrame
            Canonical table without ``routes``: planned packages and stops per zip-day, with
            the van capacity, station, stem distance and shift of the scenario. Zips,
            stations and cities unseen in training draw their effects from the population.
        random_seed : int, optional
            Seed of the predictive noise; the same seed gives the same draws.
        max_samples : int, optional
            Use at most this many posterior samples, evenly spaced (None: all).

        Returns
        -------
        xarray.Dataset
            ``routes`` (routes), ``spr`` (packages per route) and ``route_km`` (km per route)
            with dims ``sample`` × ``row``; ``row`` carries the input index.
        """
        clean = data_mod.validate(future_df, require_routes=False)
        rng = np.random.default_rng(random_seed)
        post = self.posterior_samples(max_samples)
        codes = {level: pd.factorize(clean[level], sort=True) for level in LEVELS}
        params = self.parameter_draws(post, {k: v[1].to_numpy() for k, v in codes.items()}, rng)
        rows = row_inputs(clean)
        index = {k: v[0] for k, v in codes.items()}
        self._warn_short_time_bound(clean, params, rows, index)
        routes, km = self.route_draws(params, rows, index, rng)
        spr = rows.packages[None, :] / routes
        dims = ("sample", "row")
        coords = {"sample": np.arange(post.sizes["sample"]), "row": clean.index.to_numpy()}
        return xr.Dataset(
            {
                "routes": (dims, routes.astype(np.int64), {"units": "routes"}),
                "spr": (dims, spr, {"units": "packages per route"}),
                "route_km": (dims, km, {"units": "km per route"}),
            },
            coords=coords,
            attrs={"bayesspr_spec_id": self.spec_id()},
        )

    def _warn_short_time_bound(
        self,
        clean: pd.DataFrame,
        params: ParameterDraws,
        rows: ZoneDay,
        index: dict[str, np.ndarray],
    ) -> None:
        """Warn about planned rows whose shift leaves room for less than one stop per route.

        Judged at the posterior median of each constant (see
        :func:`bayesspr.spr.physics.short_time_bound`): a stem too long for the shift makes the
        physics give about one route per stop, which is a forecast of nothing real.
        """
        circuity = float(self.spec["constants"]["circuity"])
        flagged = physics.short_time_bound(rows, params.median().route_constants(index, circuity))
        if flagged.any():
            first = clean.index[np.flatnonzero(flagged)[:5]].tolist()
            row = clean.loc[first[0]]
            warnings.warn(
                f"{int(flagged.sum())} planned row(s) leave less than one stop per route in the "
                f"shift (rows {first}; e.g. stem {row['stem_km']:g} km with a "
                f"{row['shift_hours']:g} h shift): their routes are about one per stop and mean "
                "nothing; check stem_km and shift_hours",
                PhysicsWarning,
                stacklevel=3,
            )

    @staticmethod
    def _group_draws(
        fitted: xr.DataArray,
        labels: np.ndarray,
        level: str,
        rng: np.random.Generator,
        new: Any,
    ) -> np.ndarray:
        """Draws (sample × label) of a group effect; unseen groups come from the population."""
        known = {label: i for i, label in enumerate(fitted[level].to_numpy())}
        values = fitted.transpose("sample", level).to_numpy()
        unseen = sorted({lab for lab in labels if lab not in known})
        if unseen:
            z = rng.standard_normal((values.shape[0], len(unseen)))
            values = np.concatenate([values, new(z)], axis=1)
            known.update({lab: len(known) + j for j, lab in enumerate(unseen)})
        return values[:, [known[lab] for lab in labels]]

    def predict(
        self,
        future_df: pd.DataFrame,
        interval: float = DEFAULT_INTERVAL,
        *,
        random_seed: int | None = 0,
        max_samples: int | None = 1000,
    ) -> pd.DataFrame:
        """Forecast SPR and routes with credible intervals, one row per input row.

        Parameters
        ----------
        future_df : pandas.DataFrame
            Planned rows (see :meth:`predict_draws`).
        interval : float
            Central credible-interval mass, in (0, 1).
        random_seed, max_samples
            As in :meth:`predict_draws`.

        Returns
        -------
        pandas.DataFrame
            Same index as ``future_df``. With ``P`` the interval mass in percent (``90`` for
            0.9): ``spr_mean``, ``spr_median``, ``spr_lower_P``, ``spr_upper_P`` (packages
            per route); ``routes_mean``, ``routes_median``, ``routes_lower_P``,
            ``routes_upper_P`` (routes); ``unseen`` (text: which of ``zip``, ``station``,
            ``city`` the fit never saw — their effects come from the population, so their
            intervals are wider; empty when all were seen).

        Notes
        -----
        Routes are whole numbers, so SPR = packages / routes takes few values on a zip-day.
        The interval ends and medians are draws (inverted-CDF quantiles), so they are always
        values that can happen, but a *mean* of a discrete variable can lie outside its own
        central interval: if 96 % of draws say 3 routes and 4 % say 4, the 90 % interval is
        [3, 3] and the mean is 3.04. Read the median as the point forecast of a zip-day and
        the mean for sums (a station's routes over a month).
        """
        lo, hi = central_bounds(interval)
        mass = f"{100 * interval:g}"
        draws = self.predict_draws(future_df, random_seed=random_seed, max_samples=max_samples)
        spr = draws["spr"].to_numpy()
        routes = draws["routes"].to_numpy()

        def quantile(values: np.ndarray, q: float) -> np.ndarray:
            return np.quantile(values, q, axis=0, method="inverted_cdf")

        out = pd.DataFrame(
            {
                "spr_mean": spr.mean(axis=0),
                "spr_median": quantile(spr, 0.5),
                f"spr_lower_{mass}": quantile(spr, lo),
                f"spr_upper_{mass}": quantile(spr, hi),
                "routes_mean": routes.mean(axis=0),
                "routes_median": quantile(routes, 0.5),
                f"routes_lower_{mass}": quantile(routes, lo),
                f"routes_upper_{mass}": quantile(routes, hi),
                "unseen": self.unseen_levels(future_df),
            },
            index=future_df.index,
        )
        return out

    def unseen_levels(self, df: pd.DataFrame) -> np.ndarray:
        """Which levels of each row the fit never saw, as text (``"zip+station"``, ``""``).

        Parameters
        ----------
        df : pandas.DataFrame
            Rows with ``zip``, ``station`` and ``city`` columns.

        Returns
        -------
        numpy.ndarray
            One string per row: the unseen levels joined by ``+``, empty when all were seen.
        """
        post = self._require_fit()["posterior"]
        flags = [
            np.where(df[level].isin(post[level].to_numpy()).to_numpy(), "", level)
            for level in ("zip", "station", "city")
        ]
        return np.array(["+".join(f for f in parts if f) for parts in zip(*flags, strict=True)])

    def learned_parameters(self) -> tuple[str, ...]:
        """Posterior variables every fit of this spec has: what predictions read.

        Returns
        -------
        tuple of str
            Constants whose spec entry is a prior (not a fixed number), each group effect and
            its population median; ``sigma_km`` only comes with ``route_km`` data, so it is
            not among them.
        """
        priors = self.spec["priors"]
        learned = [
            name
            for name in ("stem_speed_kmh", "tour_constant", "fill", "sigma_route", "zip_effect_sd")
            if isinstance(priors.get(name), dict)
        ]
        for name, log_pop_name, sd_name, _ in GROUP_EFFECTS:
            learned += [name, log_pop_name] + (
                [sd_name] if isinstance(priors.get(sd_name), dict) else []
            )
        return (*learned, "zip_effect")


def pooled_offsets(
    name: str,
    location: Any,
    scale: Any,
    level: str,
    centred: np.ndarray,
    layout: dict[str, tuple[str, np.ndarray]] | None = None,
) -> pt.TensorVariable:
    """Group values ~ Normal(location, scale) by ``level``, each group centred or not.

    Centred groups (``centred[i]`` true) are sampled directly as ``{name}_centred``;
    the others are ``location + scale·z`` with ``z`` named ``{name}_z``. Data-rich groups
    sample better centred, thin groups (a new zip, a new station) non-centred. ``layout``,
    where given, gets each free variable's name with its level and the group of each of its
    values (what :meth:`SPRModel.hessian_pattern` reads).
    """
    centred = np.asarray(centred, dtype=bool)
    layout = {} if layout is None else layout
    everyone = np.arange(centred.size)
    if centred.all():
        layout[name] = (level, everyone)
        return pm.Normal(name, location, scale, dims=level)
    if not centred.any():
        layout[f"{name}_z"] = (level, everyone)
        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=level)
        return pm.Deterministic(name, location + scale * z, dims=level)
    rich, thin = np.flatnonzero(centred), np.flatnonzero(~centred)
    layout[f"{name}_centred"] = (level, rich)
    layout[f"{name}_z"] = (level, thin)
    direct = pm.Normal(f"{name}_centred", location, scale, shape=len(rich))
    z = pm.Normal(f"{name}_z", 0.0, 1.0, shape=len(thin))
    values = pt.zeros(len(centred))
    values = pt.set_subtensor(values[rich], direct)
    values = pt.set_subtensor(values[thin], location + scale * z)
    return pm.Deterministic(name, values, dims=level)
