"""The volume model: station-day totals × zip shares, coefficients integrated out.

Every zip belongs to the **footprint** of its latest station: a zip that moved brings its whole
history with it, so a station's history is that of the zips it serves now, which is what its
forecast is about.

* **Station totals.** y_st = log(Y_st + ½), Y_st the stops of the footprint's zips on day t:

      y_st = a_s + g_s·τ_t + w_s·weekday_t + f_s·fourier_t + γ_s·x_t + Σ_j Δ_sj·ramp_j(t) + e_st

  level a_s; growth g_s ~ Normal(g_city, growth_sd_station); weekday contrasts, yearly Fourier
  pairs and regressor effects each pooled to the city's (the network's for regressors); a
  random-walk level drift Δ_sj ~ Normal(0, drift_sd²·h) over knots every h days (ramp_j rises
  from 0 to 1 over knot j's h days), continued into the future with fresh increments, so the
  intervals widen with the horizon as much as the history's wandering says; e_st ~ Normal(0,
  σ_s²) the station's day-to-day noise. A shock shared by a station's zips is part of e_st: it
  needs no latent parameter. A shock shared by a city's stations on a day, c_ct ~ Normal(0,
  city_day_sd²), is integrated out with them (:mod:`bayesspr.volume.city_day`): without it
  the city's days look like its walk moving, and the walk's learned spread widens every
  forecast of that city.
* **Zip shares.** log(stops_zt + ½) − log(Y_st + ½) = b_z + c_z·τ_t + v_z·weekday_t + Σ_j
  Δ_zj·ramp_j(t) + u_zt with u_zt ~ Normal(0, ν_z²); a forecast normalises the shares of a
  footprint to one, so its zips add up to the station's total.
* **Packages per stop.** log(packages + ½) − log(stops + ½) = r_z + q_z·τ_t + noise whose
  variance is ratio_noise_sd² plus the Poisson variance of the extra packages.

Each is a Gaussian linear regression per group (station or zip) with a Gaussian prior on its
coefficients, so the coefficients are integrated out exactly
(:mod:`bayesspr.volume.gaussian_groups`) and NUTS samples only the city means, the spreads,
the drifts and the noise scales. The fit reads the history once into sufficient statistics; a
gradient then costs one small Cholesky factor per station and zip, whatever the number of days
or zip-days. Forecasts draw each group's coefficients from their exact conditional posterior
for every posterior draw, with counter-based normals (:mod:`bayesspr.volume.keyed`) so chunks
of zips agree and scenarios share random numbers.

τ is years since the middle of the history. Zips whose footprint has one zip have share one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from bayesspr.errors import ArgumentError, SavedFitError, VolumeDataError
from bayesspr.inference.fitted_model import BlockSampler, SamplerConfig, run_nuts
from bayesspr.inference.sharded import RowShards
from bayesspr.volume.base import ZipVolumeModel
from bayesspr.volume.city_day import (
    CityDayStatistics,
    city_day_draws,
    city_day_log_likelihood,
    city_day_statistics,
)
from bayesspr.volume.cut import choose_cities, conditional_share_noise
from bayesspr.volume.gaussian_groups import (
    GroupStatistics,
    SharedCoefficients,
    coefficient_draws,
    group_statistics,
    marginal_log_likelihood,
)
from bayesspr.volume.inputs import (
    fourier_terms,
    regressors_from_record,
    regressors_record,
    zip_day_volume,
)
from bayesspr.volume.keyed import (
    day_keys,
    draw_keys,
    keyed_normals,
    name_keys_64,
)
from bayesspr.volume.spec import (
    LARGE_BLOCK_KEY,
    SHIPPED_VOLUME_SPEC,
    VOLUME_BLOCKS,
    load_volume_spec,
)
from bayesspr.volume.volume_kernels import share_normalisers, zip_day_draws

#: Version of the saved volume-fit layout (1: station totals × zip shares, statistics in
#: ``constant_data``; 2: with each city's walk, ``drift_sd_city``; 3: with city-day shocks,
#: ``city_day_sd`` and the stations' cross products; zip-day fits of earlier versions load with
#: ZipDayVolumeModel).
VOLUME_SAVE_FORMAT = 3

#: NUTS settings of the shipped spec (``models/volume.toml``).
VOLUME_SAMPLER = SamplerConfig.from_mapping(SHIPPED_VOLUME_SPEC["sampler"], origin="volume.toml")

_DAYS_PER_YEAR = 365.25
_LOG = logging.getLogger("bayesspr")
#: Columns of the share design before its random-walk ramps: level, τ, six weekday contrasts.
_SHARE_FIXED = 8
#: The spreads of a zip's share coefficients: growth, weekday contrasts, drift.
_SHARE_SPREADS = ("share_growth_sd", "share_weekday_sd", "share_drift_sd")
#: Sd of the log of a zip's share-noise scale under its prior (log-normal).
_SHARE_NOISE_LOG_SD = 1.0
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
#: Floor added to a prior variance so a spread of 0 keeps the precision finite.
_VAR_FLOOR = 1e-8
#: Key offsets that keep coefficient and knot draws apart from day draws of the same group.
_COEF_TAG = np.uint64(1 << 40)
_KNOT_TAG = np.uint64(2 << 40)

#: The spreads each block learns, by block (:data:`VOLUME_BLOCKS`).
_BLOCK_SPREADS = {
    "station_totals": (
        "growth_sd_station",
        "weekday_sd_station",
        "yearly_sd_station",
        "regressor_sd_station",
        "drift_sd_station",
        "drift_sd_city",
        "city_day_sd",
    ),
    "zips": (
        "share_growth_sd",
        "share_weekday_sd",
        "share_drift_sd",
        "ratio_growth_sd",
        "ratio_noise_sd",
    ),
}
#: Every spread of the model.
_SPREADS = tuple(name for block in VOLUME_BLOCKS for name in _BLOCK_SPREADS[block])

#: Support of the positive posterior variables (checked when a saved fit loads).
VOLUME_SUPPORTS: dict[str, tuple[float, float]] = {
    name: (0.0, np.inf) for name in (*_SPREADS, "noise_sd_station", "share_noise_sd_zip")
}


@dataclass(frozen=True)
class TimeDesign:
    """Time features shared by every station and zip (one row per day).

    Attributes
    ----------
    start : pandas.Timestamp
        First history day (knot 0).
    time_origin : pandas.Timestamp
        Middle of the history (τ = 0).
    harmonics : int
        Yearly Fourier pairs.
    fourier_centre : numpy.ndarray
        History mean of each Fourier feature (subtracted, so a level is the history mean).
    knot_days : int
        Days between random-walk knots.
    history_knots : int
        Knots that start within the history.
    """

    start: pd.Timestamp
    time_origin: pd.Timestamp
    harmonics: int
    fourier_centre: np.ndarray
    knot_days: int
    history_knots: int

    def years(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """τ: years since the middle of the history (D,)."""
        return np.asarray((dates - self.time_origin).days, dtype=float) / _DAYS_PER_YEAR

    @staticmethod
    def weekday(dates: pd.DatetimeIndex) -> np.ndarray:
        """Zero-sum weekday contrasts (D, 6): Monday..Saturday, Sunday is minus their sum."""
        dow = np.asarray(dates.day_of_week)
        out = (dow[:, None] == np.arange(6)[None, :]).astype(float)
        out[dow == 6] = -1.0
        return out

    def fourier(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Yearly Fourier features centred on the history (D, 2·harmonics)."""
        return fourier_terms(dates, self.harmonics) - self.fourier_centre

    def ramps(self, dates: pd.DatetimeIndex, n_knots: int) -> np.ndarray:
        """Random-walk ramps (D, n_knots): 0 before knot j, rising to 1 over its days."""
        t = np.asarray((dates - self.start).days, dtype=float)
        starts = self.knot_days * np.arange(n_knots)
        return np.clip((t[:, None] - starts[None, :]) / self.knot_days, 0.0, 1.0)

    def knots_through(self, dates: pd.DatetimeIndex) -> int:
        """Knots needed so every day lies before the end of the last knot's ramp."""
        last = int((dates.max() - self.start).days)
        return max(self.history_knots, last // self.knot_days + 1)

    def to_json(self) -> dict[str, Any]:
        """JSON-able record (saved with a fit)."""
        return {
            "start": f"{self.start:%Y-%m-%d}",
            "time_origin": f"{self.time_origin:%Y-%m-%d}",
            "harmonics": self.harmonics,
            "fourier_centre": self.fourier_centre.tolist(),
            "knot_days": self.knot_days,
            "history_knots": self.history_knots,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> TimeDesign:
        """Inverse of :meth:`to_json`."""
        return cls(
            start=pd.Timestamp(record["start"]),
            time_origin=pd.Timestamp(record["time_origin"]),
            harmonics=int(record["harmonics"]),
            fourier_centre=np.asarray(record["fourier_centre"], dtype=float),
            knot_days=int(record["knot_days"]),
            history_knots=int(record["history_knots"]),
        )


@dataclass(frozen=True)
class ZipLayout:
    """What fixes the zips block's parameters, whichever zips a model of it is built on.

    Attributes
    ----------
    share_zips : tuple of str
        Zips with a share of their station (footprints of two zips or more): the
        ``share_zip`` coordinate of ``share_noise_sd_zip``.
    knots : int
        Random-walk knots of the history.
    """

    share_zips: tuple[str, ...]
    knots: int


@dataclass(frozen=True)
class ZipRows:
    """The zips block's data for some zips: sufficient statistics and group means.

    Attributes
    ----------
    share : GroupStatistics
        The share regressions of those of the zips with a share.
    share_mean : numpy.ndarray
        Their mean log share (prior mean of the level).
    share_positions : numpy.ndarray or None
        Their positions in :attr:`ZipLayout.share_zips` (None: all of them, in order).
    ratio : GroupStatistics
        The packages-per-stop regressions of every one of the zips.
    ratio_mean, ratio_count_var : numpy.ndarray
        Their mean log packages per stop and its Poisson variance.
    """

    share: GroupStatistics
    share_mean: np.ndarray
    share_positions: np.ndarray | None
    ratio: GroupStatistics
    ratio_mean: np.ndarray
    ratio_count_var: np.ndarray


@dataclass(frozen=True)
class HistoryTables:
    """The history as (group × day) matrices, and the groups' memberships.

    Attributes
    ----------
    days : pandas.DatetimeIndex
        Every day from the first to the last history day (T).
    zips, stations, cities : pandas.Index
        Labels (sorted).
    zip_station, station_city : numpy.ndarray
        Position of each zip's footprint station and each station's city.
    stops, packages : numpy.ndarray
        (Z, T) daily counts (0 where absent).
    present : numpy.ndarray
        (Z, T) bool: the zip has a row that day.
    """

    days: pd.DatetimeIndex
    zips: pd.Index
    stations: pd.Index
    cities: pd.Index
    zip_station: np.ndarray
    station_city: np.ndarray
    stops: np.ndarray
    packages: np.ndarray
    present: np.ndarray

    def membership(self) -> np.ndarray:
        """(S, Z) 1.0 where a zip belongs to a station's footprint, else 0.0."""
        member = np.zeros((len(self.stations), len(self.zips)))
        member[self.zip_station, np.arange(len(self.zips))] = 1.0
        return member

    def station_totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Stops per footprint-day (S, T) and whether any of its zips has a row (S, T)."""
        member = self.membership()
        return member @ self.stops, (member @ self.present) > 0


def station_cities(zips: pd.DataFrame) -> pd.Series:
    """Each station's city: the most common city of its zips, the first by name on a tie.

    Index: station, sorted. Counted in one grouping (a mode per station took 0.3 ms a
    station, paid for every block of a forecast).
    """
    counts = zips.groupby(["station", "city"], sort=True).size().rename("n").reset_index()
    counts = counts.sort_values(["station", "n", "city"], ascending=[True, False, True])
    first = counts.drop_duplicates("station")
    return first.set_index("station")["city"]


def history_tables(volume: pd.DataFrame, zips: pd.DataFrame) -> HistoryTables:
    """(zip × day) matrices of a zip-day volume table (see :func:`zip_day_volume`)."""
    days = pd.date_range(volume["date"].min(), volume["date"].max(), freq="D")
    zip_index = pd.Index(zips.index)
    stations = pd.Index(sorted(zips["station"].unique()))
    station_city_label = station_cities(zips)
    cities = pd.Index(sorted(station_city_label.unique()))
    zi = zip_index.get_indexer(volume["zip"])
    di = days.get_indexer(pd.DatetimeIndex(volume["date"]))
    shape = (len(zip_index), len(days))
    stops = np.zeros(shape)
    packages = np.zeros(shape)
    present = np.zeros(shape, dtype=bool)
    stops[zi, di] = volume["stops"].to_numpy(float)
    packages[zi, di] = volume["packages"].to_numpy(float)
    present[zi, di] = True
    return HistoryTables(
        days=days,
        zips=zip_index,
        stations=stations,
        cities=cities,
        zip_station=stations.get_indexer(zips["station"]),
        station_city=cities.get_indexer(station_city_label.reindex(stations)),
        stops=stops,
        packages=packages,
        present=present,
    )


class VolumeModel(ZipVolumeModel):
    """Daily stops and packages per zip from station totals × zip shares (scales with groups).

    Parameters
    ----------
    spec : str, pathlib.Path or mapping
        The model's spec (:func:`bayesspr.volume.spec.load_volume_spec`): ``"volume"`` (the
        shipped ``models/volume.toml``), a path to an edited copy, or a mapping of its tables
        (``priors``, ``design``, ``sampler``).
    priors : dict, optional
        Prior overrides over the spec's (log scale; names as in :data:`VOLUME_PRIORS`).
    harmonics : int, optional
        Yearly Fourier pairs of each station's cycle (0 turns it off); default: the spec's
        ``[design] harmonics`` (2 as shipped).
    regressors : pandas.DataFrame, optional
        Known daily regressors (index: date; numeric columns, e.g. a 0/1 holiday flag) covering
        every history and forecast day.
    knot_days : int, optional
        Days between the knots of the random-walk drifts; default: the spec's ``[design]
        knot_days`` (28 as shipped).

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior of the city means, spreads, drifts and noise scales, with the sufficient
        statistics of every station and zip in ``constant_data``.
    diagnostics : dict
        Convergence summary of the fit.
    zips : pandas.DataFrame
        Per zip: ``city``, ``station`` (latest: its footprint) and ``first_date``.
    network : bayesspr.data.network.Network or None
        The network of the history when it was a canonical table.

    Examples
    --------
    >>> from bayesspr.simulate.volume_worlds import simulate_volume_world
    >>> world = simulate_volume_world(1)
    >>> model = VolumeModel(regressors=world.regressors)
    >>> model.fit(world.table, random_seed=1)  # doctest: +SKIP
    >>> model.forecast(world.future["date"].unique()[:30])  # doctest: +SKIP
    """

    model_name = "VolumeModel"
    format_attr = "bayesspr_volume_model_save_format"
    save_format = VOLUME_SAVE_FORMAT
    config_attr = "bayesspr_volume_model_meta"
    default_samples = 500
    parameter_supports = VOLUME_SUPPORTS
    sharded_parts = ("zips",)
    #: Zips from which ``fit(client=...)`` samples the zips block with its rows on the Dask
    #: workers (:meth:`part_shards`); None (default): never, the whole fit runs in this
    #: process. Not by size yet, because no size was measured where it pays: on 3,963 zips
    #: of rung L on the 2-core machine it took 764 s on one worker and 873 s on two, against
    #: 323 s in one process (``docs/scale.md``, "The volume fit's zips on the workers"). Set
    #: it on a model (``model.shard_min_zips = 0``) on a cluster whose workers have cores of
    #: their own.
    shard_min_zips: int | None = None
    #: Share zips from which the zips block takes the cut route (:mod:`bayesspr.volume.cut`,
    #: an approximation, labelled in ``diagnostics["approximate_blocks"]``): NUTS on the zips
    #: of some cities gives the five spreads, and every zip's noise scale is drawn from its
    #: exact conditional posterior given each draw of them. None: never (NUTS on every zip,
    #: exact); 0: always. Set it on a model to force either.
    cut_min_zips: int | None = 10_000
    #: Share zips the cities chosen for the cut route's NUTS must hold at least.
    cut_zips: int = 4_000
    unknown_zip_advice = "a zip needs some history to have a share of its station"

    def __init__(
        self,
        spec: str | Path | Mapping[str, Any] = "volume",
        *,
        priors: dict[str, float] | None = None,
        harmonics: int | None = None,
        regressors: pd.DataFrame | None = None,
        knot_days: int | None = None,
    ) -> None:
        self.spec = load_volume_spec(
            spec, priors=priors, design={"harmonics": harmonics, "knot_days": knot_days}
        )
        self._init_history(regressors)
        #: (key, draws) of every station's total coefficients, walks included, for the last
        #: posterior sample forecast from (the next chunk of zips reuses them)
        self._walk_cache: tuple[Any, np.ndarray] | None = None
        #: (key, {station: its zips' share coefficients and its normaliser}) for the stations
        #: of the last chunk of zips forecast (a station's shares are a softmax over its zips)
        self._share_cache: tuple[Any, dict[str, _StationShares]] | None = None
        self.design: TimeDesign | None = None
        self._statistics: dict[str, GroupStatistics] = {}
        self._city_day: CityDayStatistics | None = None
        self._group_means: dict[str, np.ndarray] = {}
        self._tables: HistoryTables | None = None

    # ------------------------------------------------------------------ design
    def _n_regressors(self) -> int:
        return 0 if self.regressors is None else self.regressors.shape[1]

    def total_design(self, dates: pd.DatetimeIndex, n_knots: int) -> np.ndarray:
        """Station-total design (D, p): level, τ, weekday, Fourier, regressors, ramps."""
        d = self.design
        return np.concatenate(
            [
                np.ones((len(dates), 1)),
                d.years(dates)[:, None],
                d.weekday(dates),
                d.fourier(dates),
                self._regressor_matrix(dates),
                d.ramps(dates, n_knots),
            ],
            axis=1,
        )

    def share_design(self, dates: pd.DatetimeIndex, n_knots: int) -> np.ndarray:
        """Zip-share design (D, p): level, τ, weekday, ramps."""
        d = self.design
        return np.concatenate(
            [
                np.ones((len(dates), 1)),
                d.years(dates)[:, None],
                d.weekday(dates),
                d.ramps(dates, n_knots),
            ],
            axis=1,
        )

    def ratio_design(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Packages-per-stop design (D, 2): level, τ."""
        return np.stack([np.ones(len(dates)), self.design.years(dates)], axis=1)

    @property
    def priors(self) -> dict[str, float]:
        """Every prior of the model (log scale): the spec's ``[priors]`` with overrides."""
        return self.spec["priors"]

    @property
    def harmonics(self) -> int:
        """Yearly Fourier pairs of each station's cycle: the spec's ``[design] harmonics``."""
        return self.spec["design"]["harmonics"]

    @property
    def knot_days(self) -> int:
        """Days between the random-walk knots: the spec's ``[design] knot_days``."""
        return self.spec["design"]["knot_days"]

    # ------------------------------------------------------------------ fitting
    def sampler_config(self) -> SamplerConfig:
        """NUTS defaults: the spec's ``[sampler]`` table (``models/volume.toml`` as shipped).

        Returns
        -------
        bayesspr.inference.fitted_model.SamplerConfig
        """
        return SamplerConfig.from_mapping(self.spec["sampler"], origin="volume spec")

    def learned_parameters(self) -> tuple[str, ...]:
        """Posterior variables every fit has (what forecasts read).

        Returns
        -------
        tuple of str
        """
        return (
            *_SPREADS,
            "growth_city",
            "weekday_contrast_city",
            "noise_sd_station",
        )

    def _prepare(self, data: pd.DataFrame) -> HistoryTables:
        """History as matrices; remembers zips, dates, the network and the statistics."""
        volume = zip_day_volume(data)
        if volume.empty:
            raise VolumeDataError("volume table has no rows")
        self._remember_history(volume, data)
        tables = history_tables(volume, self.zips)
        first = tables.days[0]
        self.design = TimeDesign(
            start=first,
            time_origin=(first + (self.last_date - first) / 2).normalize(),
            harmonics=self.harmonics,
            fourier_centre=fourier_terms(tables.days, self.harmonics).mean(0),
            knot_days=self.knot_days,
            history_knots=(len(tables.days) - 1) // self.knot_days + 1,
        )
        self._tables = tables
        self._summarise(tables)
        return tables

    def _summarise(self, tables: HistoryTables) -> None:
        """Sufficient statistics and group means of the three regressions."""
        days, knots = tables.days, self.design.history_knots
        totals, station_present = tables.station_totals()
        # a day on which some of a footprint's zips have no row yet (a zip that joined) counts
        # as the full footprint through an offset: log of the usual share of the zips present
        offset = footprint_offset(tables, totals)
        y_total = np.log(totals + 0.5) - offset
        self._statistics["total"] = group_statistics(
            self.total_design(days, knots), y_total, station_present
        )
        self._city_day = city_day_statistics(y_total, station_present, tables.station_city)
        footprint_size = np.bincount(tables.zip_station, minlength=len(tables.stations))
        multi = footprint_size[tables.zip_station] > 1
        share_present = tables.present & multi[:, None]
        y_share = np.log(tables.stops + 0.5) - y_total[tables.zip_station]
        self._statistics["share"] = group_statistics(
            self.share_design(days, knots), y_share, share_present
        )
        y_ratio = np.log(tables.packages + 0.5) - np.log(tables.stops + 0.5)
        self._statistics["ratio"] = group_statistics(
            self.ratio_design(days), y_ratio, tables.present
        )
        mean_stops = _masked_mean(tables.stops, tables.present)
        mean_ratio = _masked_mean(tables.packages, tables.present) / np.maximum(mean_stops, 1e-9)
        self._group_means = {
            "total": _masked_mean(y_total, station_present),
            "share": np.where(multi, _masked_mean(y_share, share_present), 0.0),
            "ratio": _masked_mean(y_ratio, tables.present),
            "multi": multi.astype(float),
            # Poisson variance of log packages-per-stop: Var(extra)/packages² = (p−1)/(p²·λ)
            "ratio_count_var": np.maximum(mean_ratio - 1.0, 1e-3)
            / (np.maximum(mean_ratio, 1.0) ** 2 * np.maximum(mean_stops, 1.0)),
        }

    def build_model(self, tables: HistoryTables) -> pm.Model:
        """The PyMC model of the three marginalised regressions, as one model.

        The fit samples it in two independent blocks (:meth:`build_blocks`); this one model
        is the same density, kept as ``pymc_model`` for users who want it whole.

        Parameters
        ----------
        tables : HistoryTables
            Output of :meth:`_prepare`.

        Returns
        -------
        pymc.Model
        """
        return self._model_of(VOLUME_BLOCKS, tables, self._coords(tables))

    def build_blocks(self, tables: HistoryTables) -> dict[str, pm.Model]:
        """The model's two independent blocks as PyMC models, sampled one by one.

        The station totals and the zips' regressions (their shares of the station, their
        packages per stop) share no parameter and no prior, so the posterior is the product
        of the two blocks'. Each gets its own NUTS run, step size and mass matrix, and the
        trajectory one of them needs does not cost the other's gradients. (Packages per stop
        alone, two spreads, would be a block of its own but for its geometry: its noise
        scale is bounded sharply above by every zip-day and only by the prior below, and on
        its own NUTS took 5 to 9 steps a draw there, tail ESS 327 of 4,000 on the demo
        world; beside the zip shares its trajectories are long enough.)

        Parameters
        ----------
        tables : HistoryTables
            Output of :meth:`_prepare`.

        Returns
        -------
        dict of str to pymc.Model
            By block name (:data:`VOLUME_BLOCKS`).
        """
        coords = self._coords(tables)
        return {block: self._model_of((block,), tables, coords) for block in VOLUME_BLOCKS}

    def _model_of(self, blocks: tuple[str, ...], tables: HistoryTables, coords: dict) -> pm.Model:
        """One PyMC model holding the given blocks' parameters and likelihoods."""
        with pm.Model(coords=coords) as model:
            for block in blocks:
                self._add_block(block, tables)
        return model

    def block_sampler(
        self, block: str, sampler: SamplerConfig, parameters: int | None = None
    ) -> SamplerConfig:
        """NUTS settings of one block: the fit's, changed by the spec's ``[blocks]`` entry.

        Parameters
        ----------
        block : str
            One of :data:`~bayesspr.volume.spec.VOLUME_BLOCKS`.
        sampler : SamplerConfig
            The fit's settings (:meth:`sampler_config`).
        parameters : int, optional
            The block's free parameters: from the entry's ``large.parameters`` up, its
            ``large`` settings apply too (a network of hundreds of stations, thousands of
            zips; ``models/volume.toml`` says why). None: the block's own settings only.

        Returns
        -------
        bayesspr.inference.fitted_model.SamplerConfig
        """
        entry = dict(self.spec["blocks"].get(block, {}))
        large = entry.pop(LARGE_BLOCK_KEY, None)
        settings = sampler.with_overrides(**entry)
        if large is not None and parameters is not None and parameters >= large["parameters"]:
            settings = settings.with_overrides(
                **{k: v for k, v in large.items() if k != "parameters"}
            )
        return settings

    def _coords(self, tables: HistoryTables) -> dict[str, list]:
        multi = self._group_means["multi"] > 0
        return {
            "city": list(tables.cities),
            "station": list(tables.stations),
            "zip": list(tables.zips),
            "share_zip": list(tables.zips[np.flatnonzero(multi)]),
            "weekday_contrast": _WEEKDAYS[:6],
            "weekday": _WEEKDAYS,
            "fourier": [f"{f}{k}" for f in ("cos", "sin") for k in range(1, self.harmonics + 1)],
            "regressor": [] if self.regressors is None else list(self.regressors.columns),
        }

    def _add_block(self, block: str, tables: HistoryTables) -> None:
        """Add one block's parameters and marginal likelihoods to the model in context."""
        spreads = {name: pm.HalfNormal(name, self.priors[name]) for name in _BLOCK_SPREADS[block]}
        if block == "station_totals":
            self._add_station_totals(tables, spreads)
        else:
            self._add_zips(spreads, self._zip_rows(), self._zip_layout())

    def _add_station_totals(self, tables: HistoryTables, spreads: dict) -> None:
        pri = self.priors
        n_s = len(tables.stations)
        k2, n_r = 2 * self.harmonics, self._n_regressors()
        knots = self.design.history_knots
        h_years = self.knot_days / _DAYS_PER_YEAR
        city = tables.station_city
        growth_city = pm.Normal(
            "growth_city", pri["growth_mean"], pri["growth_mean_sd"], dims="city"
        )
        weekday_c = pm.Normal(
            "weekday_contrast_city", 0.0, pri["weekday_sd"], dims=("city", "weekday_contrast")
        )
        pm.Deterministic(
            "weekday_city",
            pt.concatenate([weekday_c, -weekday_c.sum(-1, keepdims=True)], axis=-1),
            dims=("city", "weekday"),
        )
        means = [
            pt.as_tensor(self._group_means["total"])[:, None],
            growth_city[city][:, None],
            weekday_c[city],
        ]
        var_parts = [
            pt.full((n_s, 1), pri["level_sd"] ** 2),
            pt.full((n_s, 1), 1.0) * spreads["growth_sd_station"] ** 2,
            pt.full((n_s, 6), 1.0) * spreads["weekday_sd_station"] ** 2,
        ]
        if k2:
            # one network cycle; each station's around it with a learned spread (its
            # offsets are integrated out, so a spread near zero makes no funnel)
            yearly = pm.Normal("yearly_network", 0.0, pri["yearly_sd"], dims="fourier")
            means.append(pt.repeat(yearly[None, :], n_s, axis=0))
            var_parts.append(pt.full((n_s, k2), 1.0) * spreads["yearly_sd_station"] ** 2)
        if n_r:
            regressor = pm.Normal("regressor_effect", 0.0, pri["regressor_sd"], dims="regressor")
            means.append(pt.repeat(regressor[None, :], n_s, axis=0))
            var_parts.append(pt.full((n_s, n_r), 1.0) * spreads["regressor_sd_station"] ** 2)
        means.append(pt.zeros((n_s, knots)))
        var_parts.append(pt.full((n_s, knots), h_years) * spreads["drift_sd_station"] ** 2)
        noise_sd = pm.LogNormal(
            "noise_sd_station", np.log(pri["noise_sd_station"]), 1.0, dims="station"
        )
        # the city's walk moves all its stations together: integrated out one level up
        city_walk_var = (
            pt.full((len(tables.cities), knots), h_years) * spreads["drift_sd_city"] ** 2
        )
        # and a day's shock moves them together too: integrated out by rotating each city's
        # stations into independent groups
        shock_var = pt.full((len(tables.cities),), 1.0) * spreads["city_day_sd"] ** 2
        pm.Potential(
            "station_totals",
            city_day_log_likelihood(
                self._statistics["total"],
                self._city_day,
                pt.concatenate(means, axis=1),
                pt.concatenate(var_parts, axis=1) + _VAR_FLOOR,
                noise_sd**2,
                self._city_walk(city, len(tables.cities)),
                city_walk_var + _VAR_FLOOR,
                shock_var,
            ),
        )

    def _add_zips(self, spreads: dict, rows: ZipRows, layout: ZipLayout) -> None:
        """The zips' share and packages-per-stop likelihoods of ``rows`` (every parameter)."""
        pri = self.priors
        h_years = self.knot_days / _DAYS_PER_YEAR
        if layout.share_zips:
            share_noise = pm.LogNormal(
                "share_noise_sd_zip",
                np.log(pri["share_noise_sd"]),
                _SHARE_NOISE_LOG_SD,
                dims="share_zip",
            )
            n_z = len(rows.share_mean)
            if n_z:
                if rows.share_positions is not None:
                    share_noise = share_noise[rows.share_positions]
                share_mean = pt.concatenate(
                    [pt.as_tensor(rows.share_mean)[:, None], pt.zeros((n_z, 7 + layout.knots))],
                    axis=1,
                )
                share_var = pt.concatenate(
                    [
                        pt.full((n_z, 1), pri["level_sd"] ** 2),
                        pt.full((n_z, 1), 1.0) * spreads["share_growth_sd"] ** 2,
                        pt.full((n_z, 6), 1.0) * spreads["share_weekday_sd"] ** 2,
                        pt.full((n_z, layout.knots), h_years) * spreads["share_drift_sd"] ** 2,
                    ],
                    axis=1,
                )
                pm.Potential(
                    "zip_shares",
                    marginal_log_likelihood(
                        rows.share, share_mean, share_var + _VAR_FLOOR, share_noise**2
                    ).sum(),
                )
        n_zip = len(rows.ratio_mean)
        if not n_zip:
            return
        ratio_mean = pt.concatenate(
            [pt.as_tensor(rows.ratio_mean)[:, None], pt.zeros((n_zip, 1))], axis=1
        )
        ratio_var = pt.concatenate(
            [
                pt.full((n_zip, 1), pri["level_sd"] ** 2),
                pt.full((n_zip, 1), 1.0) * spreads["ratio_growth_sd"] ** 2,
            ],
            axis=1,
        )
        pm.Potential(
            "packages_per_stop",
            marginal_log_likelihood(
                rows.ratio,
                ratio_mean,
                ratio_var + _VAR_FLOOR,
                spreads["ratio_noise_sd"] ** 2 + rows.ratio_count_var,
            ).sum(),
        )

    def _zip_layout(self) -> ZipLayout:
        """What fixes the zips block's parameters: the zips with a share, the knots."""
        multi = self._group_means["multi"] > 0
        return ZipLayout(
            share_zips=tuple(self.zips.index[np.flatnonzero(multi)]),
            knots=self.design.history_knots,
        )

    def _zip_rows(self, zips: np.ndarray | None = None) -> ZipRows:
        """The zips block's statistics of some zips (positions; None: every zip)."""
        means = self._group_means
        every = np.arange(len(means["multi"]))
        chosen = every if zips is None else np.asarray(zips, dtype=int)
        share_zips = np.flatnonzero(means["multi"] > 0)
        mine = chosen[means["multi"][chosen] > 0]
        return ZipRows(
            share=self._statistics["share"].take(mine),
            share_mean=means["share"][mine],
            share_positions=None if zips is None else np.searchsorted(share_zips, mine),
            ratio=self._statistics["ratio"].take(chosen),
            ratio_mean=means["ratio"][chosen],
            ratio_count_var=means["ratio_count_var"][chosen],
        )

    def part_shards(self, data: HistoryTables) -> dict[str, RowShards]:
        """The zips block split by city, for NUTS with its rows on Dask workers.

        Given the network's spreads, the zips' share and packages-per-stop regressions are
        independent, so the block's log-likelihood is a sum over zips: each city's zips are
        one block of rows (their sufficient statistics), counted by zips, which reads the
        five spreads and its own zips' noise scales alone (``reads``). Only from
        :attr:`shard_min_zips` zips (never while it is None, the default).

        Parameters
        ----------
        data : HistoryTables
            Output of :meth:`_prepare`.

        Returns
        -------
        dict
            ``{"zips": RowShards}`` (see :meth:`build_part`), or empty below
            :attr:`shard_min_zips` zips or while it is None.
        """
        if self.shard_min_zips is None or len(data.zips) < self.shard_min_zips:
            return {}
        # the raveled vector: the block's spreads, then one share-noise scale per share zip
        spreads = np.arange(len(_BLOCK_SPREADS["zips"]))
        blocks = self._city_zip_rows(data)
        reads = {
            city: np.concatenate([spreads, len(spreads) + block.share_positions])
            for city, block in blocks.items()
        }
        shards = RowShards(
            layout=self._zip_layout(),
            blocks=blocks,
            no_rows=self._zip_rows(np.zeros(0, dtype=int)),
            rows={city: len(block.ratio_mean) for city, block in blocks.items()},
            part="zips",
            reads=reads,
        )
        return {"zips": shards}

    @staticmethod
    def _zip_cities(data: HistoryTables) -> np.ndarray:
        """The city position of each zip (its latest station's)."""
        return np.asarray(data.station_city)[np.asarray(data.zip_station)]

    def _city_zip_rows(self, data: HistoryTables) -> dict[str, ZipRows]:
        """The zips block's statistics of each city's zips, by city (those with zips)."""
        zip_city = self._zip_cities(data)
        out = {}
        for position, city in enumerate(data.cities):
            zips = np.flatnonzero(zip_city == position)
            if len(zips):
                out[str(city)] = self._zip_rows(zips)
        return out

    def build_part(self, part: str, rows: ZipRows, layout: ZipLayout) -> pm.Model:
        """The zips block's model of some zips, with every zip's parameters.

        Parameters
        ----------
        part : str
            ``"zips"`` (the station totals are sampled in this process).
        rows : ZipRows
            A block of :meth:`part_shards`, or its ``no_rows`` (the priors alone).
        layout : ZipLayout
            Its layout.

        Returns
        -------
        pymc.Model
            The spreads of the zips block, then ``share_noise_sd_zip`` (dims ``share_zip``),
            as in :meth:`build_blocks`' ``"zips"`` model, with the likelihood of ``rows``.

        Raises
        ------
        ArgumentError
            If ``part`` is not ``"zips"``.
        """
        if part not in self.sharded_parts:
            raise ArgumentError(
                f"VolumeModel.build_part({part!r}): only {self.sharded_parts} splits by rows"
            )
        # a model of its own, not a submodel of one whose context is open (the fit's)
        with pm.Model(coords={"share_zip": list(layout.share_zips)}, model=None) as model:
            spreads = {n: pm.HalfNormal(n, self.priors[n]) for n in _BLOCK_SPREADS[part]}
            self._add_zips(spreads, rows, layout)
        return model

    def approximate_blocks(
        self,
        data: HistoryTables,
        blocks: Mapping[str, pm.Model] | None,
        client: Any,
        records: dict,
    ) -> dict[str, BlockSampler]:
        """The zips block's cut route, from :attr:`cut_min_zips` share zips.

        Parameters
        ----------
        data : HistoryTables
            Output of :meth:`_prepare`.
        blocks : mapping of str to pymc.Model or None
            The fit's blocks (:meth:`build_blocks`).
        client : distributed.Client or None
            Where the second stage's tasks run (one per city); None: this process.
        records : dict
            Gets the route's record (``"zips"``) once it has run.

        Returns
        -------
        dict
            ``{"zips": sampler}`` where the route applies, else empty.
        """
        if not blocks or "zips" not in blocks or self.cut_min_zips is None:
            return {}
        share_zips = np.count_nonzero(self._group_means["multi"] > 0)
        if not share_zips or share_zips < self.cut_min_zips:  # none: nothing to cut
            return {}

        def sample(cfg: SamplerConfig, seed: int, progressbar: bool) -> xr.DataTree:
            fit, records["zips"] = self._cut_zips(data, cfg, seed, progressbar, client)
            return fit

        return {"zips": sample}

    def _cut_zips(
        self,
        data: HistoryTables,
        cfg: SamplerConfig,
        seed: int,
        progressbar: bool,
        client: Any,
    ) -> tuple[xr.DataTree, dict[str, Any]]:
        """The zips block by the cut route (:mod:`bayesspr.volume.cut`): fit and record."""
        started = time.perf_counter()
        share = np.flatnonzero(self._group_means["multi"] > 0)
        zip_city = self._zip_cities(data)
        chosen = choose_cities(zip_city[share], len(data.cities), self.cut_zips, seed)
        rows = self._zip_rows(np.flatnonzero(np.isin(zip_city, chosen)))
        labels = np.asarray(data.zips)
        layout = ZipLayout(
            share_zips=tuple(labels[share[rows.share_positions]]),
            knots=self.design.history_knots,
        )
        model = self.build_part("zips", dataclasses.replace(rows, share_positions=None), layout)
        _LOG.info(
            "%s: zips block by the cut route (approximate): NUTS on the %d share zips of %d of "
            "%d cities, then every zip's noise scale given the spreads",
            self.model_name,
            len(layout.share_zips),
            len(chosen),
            len(data.cities),
        )
        fit = run_nuts(model, cfg, random_seed=seed, progressbar=progressbar)
        nuts_seconds = time.perf_counter() - started
        post = fit["posterior"].to_dataset()
        prior_var = self._share_prior_var(
            *(post[name].to_numpy().ravel() for name in _SHARE_SPREADS)
        )
        cities = [
            (city_rows.share, city_rows.share_mean, city_rows.share_positions)
            for city_rows in self._city_zip_rows(data).values()
            if len(city_rows.share_mean)
        ]
        draws = conditional_share_noise(
            cities,
            len(share),
            prior_var,
            float(np.log(self.priors["share_noise_sd"])),
            _SHARE_NOISE_LOG_SD,
            seed,
            client,
        )
        scales = xr.DataArray(
            draws.reshape(post.sizes["chain"], post.sizes["draw"], len(share)),
            dims=("chain", "draw", "share_zip"),
            coords={"chain": post["chain"], "draw": post["draw"], "share_zip": list(labels[share])},
        )
        posterior = post.drop_vars(["share_noise_sd_zip", "share_zip"]).assign(
            share_noise_sd_zip=scales
        )
        record = {
            "route": "cut (approximate)",
            "why": f"{len(share)} share zips, at least cut_min_zips = {self.cut_min_zips}",
            "cities": [str(data.cities[c]) for c in chosen],
            "nuts_share_zips": len(layout.share_zips),
            "share_zips": len(share),
            "nuts_seconds": round(nuts_seconds, 2),
            "conditional_seconds": round(time.perf_counter() - started - nuts_seconds, 2),
            "conditional_tasks": "dask" if client is not None else "this process",
        }
        sample_stats = fit["sample_stats"].to_dataset()
        return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats}), record

    def _share_prior_var(
        self, growth_sd: np.ndarray, weekday_sd: np.ndarray, drift_sd: np.ndarray
    ) -> np.ndarray:
        """Prior variances of a zip's share coefficients (S, p) per sample of the spreads.

        Level, growth, six weekday contrasts, the history's drift knots; with the floor the
        likelihood adds (as :meth:`_add_zips`).
        """
        n = len(growth_sd)
        h_years = self.knot_days / _DAYS_PER_YEAR
        knots = self.design.history_knots
        return (
            np.concatenate(
                [
                    np.full((n, 1), self.priors["level_sd"] ** 2),
                    np.asarray(growth_sd)[:, None] ** 2,
                    np.repeat(np.asarray(weekday_sd)[:, None] ** 2, 6, axis=1),
                    np.repeat(h_years * np.asarray(drift_sd)[:, None] ** 2, knots, axis=1),
                ],
                axis=1,
            )
            + _VAR_FLOOR
        )

    def _city_walk(self, station_city: np.ndarray, n_cities: int) -> SharedCoefficients:
        """The station-total coefficients a city's walk shares: the history's ramps."""
        p = self._statistics["total"].n_coefficients
        knots = self.design.history_knots
        return SharedCoefficients(
            cluster=np.asarray(station_city, dtype=int),
            columns=np.arange(p - knots, p),
            n_clusters=int(n_cities),
        )

    def fit(self, data: pd.DataFrame, **kwargs: Any) -> VolumeModel:
        """Fit to a history of daily stops and packages per zip.

        Parameters
        ----------
        data : pandas.DataFrame
            Rows with ``date``, ``city``, ``station``, ``zip``, ``stops`` and ``packages``
            (several rows of one zip-day are summed); the canonical table qualifies.
        **kwargs
            As :meth:`bayesspr.inference.fitted_model.FittedModel.fit` (``random_seed``,
            ``draws``, ``tune``, ``chains``, ``target_accept``, ...).

        Returns
        -------
        VolumeModel
            ``self``, fitted; the sufficient statistics are in ``idata["constant_data"]``.
        """
        super().fit(data, **kwargs)
        self.idata["constant_data"] = xr.DataTree(self._statistics_dataset())
        self._tables = None  # the (zip × day) matrices are not needed past the statistics
        return self

    def _statistics_dataset(self) -> xr.Dataset:
        """Sufficient statistics and group means as one dataset (saved with the fit)."""
        out = {}
        for name, st in self._statistics.items():
            group = "station" if name == "total" else "zip"
            out[f"{name}_xx"] = ((f"{name}_pattern", f"{name}_p", f"{name}_q"), st.xx)
            out[f"{name}_group_pattern"] = ((group,), st.pattern)
            out[f"{name}_xy"] = ((group, f"{name}_p"), st.xy)
            out[f"{name}_yy"] = ((group,), st.yy)
            out[f"{name}_n"] = ((group,), st.n)
        out["total_partition"] = (("station",), self._city_day.partition)
        out["total_cross"] = (("station", "total_partner"), self._city_day.cross)
        for name, values in self._group_means.items():
            out[f"mean_{name}"] = (("station" if name == "total" else "zip",), values)
        out["history_zip_stops"] = (("zip",), self._tables.stops.sum(axis=1))
        return xr.Dataset(
            out, coords={"station": list(self._station_labels()), "zip": list(self.zips.index)}
        )

    def _station_labels(self) -> pd.Index:
        return pd.Index(sorted(self.zips["station"].unique()))

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        """The spec (priors, design, sampler) and the known regressors, as data.

        Returns
        -------
        dict
        """
        return {**self.spec, "regressors": regressors_record(self.regressors)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VolumeModel:
        """A model of the configuration :meth:`config` gave (validated again).

        Returns
        -------
        VolumeModel
        """
        config = dict(config)
        regressors = regressors_from_record(config.pop("regressors", None))
        if "design" not in config:  # saved before the spec had a [design] table (format 2)
            config["design"] = {k: config.pop(k) for k in ("harmonics", "knot_days")}
        return cls(config, regressors=regressors)

    def _fit_state(self) -> dict[str, Any]:
        state = super()._fit_state()
        if state:  # fitted
            state["design"] = self.design.to_json()
        return state

    def _restore_state(self, state: Mapping[str, Any]) -> None:
        super()._restore_state(state)
        self.design = TimeDesign.from_json(state["design"])

    def _restore(self, idata: xr.DataTree) -> None:
        super()._restore(idata)
        if "constant_data" not in idata.children:
            raise SavedFitError(
                "the saved volume fit lacks its constant_data group (the sufficient "
                "statistics a forecast needs); re-fit and save it again"
            )
        data = idata["constant_data"].to_dataset()
        for name in ("total", "share", "ratio"):
            self._statistics[name] = GroupStatistics(
                xx=data[f"{name}_xx"].to_numpy(),
                pattern=data[f"{name}_group_pattern"].to_numpy().astype(np.int64),
                xy=data[f"{name}_xy"].to_numpy(),
                yy=data[f"{name}_yy"].to_numpy(),
                n=data[f"{name}_n"].to_numpy(),
            )
        self._city_day = CityDayStatistics(
            partition=data["total_partition"].to_numpy().astype(np.int64),
            cross=data["total_cross"].to_numpy(),
        )
        self._group_means = {
            name.removeprefix("mean_"): data[name].to_numpy()
            for name in data.data_vars
            if name.startswith("mean_")
        }

    # ------------------------------------------------------------------ forecasting
    def volume_draws(
        self,
        post: xr.Dataset,
        dates: pd.DatetimeIndex,
        zips: np.ndarray,
        seed: np.random.SeedSequence | None = None,
        *,
        factor: np.ndarray | None = None,
        dtype: type = np.int64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draws of daily stops and packages for the given days and zips.

        Parameters
        ----------
        post : xarray.Dataset
            Output of :meth:`posterior_samples` (S samples).
        dates : pandas.DatetimeIndex
            Days (D): forecast days, or history days for a posterior predictive check.
        zips : numpy.ndarray
            Zip codes (Z), each with history in the fit.
        seed : numpy.random.SeedSequence, optional
            Unused: every draw is a fixed (counter-based) function of the posterior draw's
            (chain, draw), the station or zip and the day, so chunks of zips agree and a
            scenario that changes volume from some day on leaves earlier days as they were.
            Accepted for the interface the composed forecast calls.
        factor : numpy.ndarray, optional
            Multiplicative volume shock per (day, zip), shape (D, Z) (–), e.g. 1.4 for +40 %.
        dtype : type
            Type of the whole numbers returned: ``numpy.int64``, or ``numpy.float64`` for a
            caller that computes with them in floating point (no conversion, no copy).

        Returns
        -------
        stops, packages : numpy.ndarray
            (S, D, Z) whole-number draws (per zip-day).
        """
        del seed
        zips = self._known_zips(zips)
        dates = pd.DatetimeIndex(dates)
        stations_all = self._station_labels()
        zip_station = self.zips.loc[zips, "station"].to_numpy()
        wanted_stations = pd.Index(sorted(set(zip_station)))
        total = self._station_log_totals(post, dates, wanted_stations, stations_all)
        share_design = self._hat_share_design(dates, self.design.knots_through(dates))
        shares = self._station_shares(post, dates, wanted_stations, share_design)
        beta = np.empty((post.sizes["sample"], len(zips), share_design.shape[1]))
        scale, offset = np.empty(beta.shape[:2]), np.empty(len(zips))
        for station in wanted_stations:
            mine = np.flatnonzero(zip_station == station)
            rows = shares[station].members.get_indexer(zips[mine])
            beta[:, mine], scale[:, mine] = (
                shares[station].beta[:, rows],
                shares[station].scale[:, rows],
            )
            offset[mine] = shares[station].offset
        stops, packages = zip_day_draws(
            draw_keys(post),
            day_keys(dates),
            _pair_keys(zips),
            (share_design, beta, scale, offset),
            self._zip_ratio_terms(post, dates, zips),
            np.maximum(np.exp(total) - 0.5, 0.0),
            np.stack([shares[station].normaliser for station in wanted_stations], axis=2),
            wanted_stations.get_indexer(zip_station),
            factor,
        )
        return stops.astype(dtype, copy=False), packages.astype(dtype, copy=False)

    def _station_shares(
        self,
        post: xr.Dataset,
        dates: pd.DatetimeIndex,
        stations: pd.Index,
        share_design: np.ndarray,
    ) -> dict[str, _StationShares]:
        """Each station's zips, their share coefficients and its share normaliser (S, D).

        ``share_design`` is :meth:`_hat_share_design` of ``dates`` through their knots.

        A zip's share needs the weights of all its station's zips (a softmax over them), so
        a station's normaliser is summed over all its zips once and kept while the next call
        (the next chunk of zips of the same forecast) still asks for that station; stations no
        longer asked for are dropped, so memory holds the stations of one chunk. Drawn the
        same whichever of its zips are asked for, so chunks agree.
        """
        tag = (
            id(self._statistics["share"]),
            draw_keys(post).tobytes(),
            day_keys(dates).tobytes(),
            *(self._hyper(post, name).tobytes() for name in _SPREADS),
        )
        if self._share_cache is None or self._share_cache[0] != tag:
            self._share_cache = (tag, {})
        wanted = set(stations)
        kept = {k: v for k, v in self._share_cache[1].items() if k in wanted}
        missing = pd.Index(sorted(k for k in stations if k not in kept))
        if len(missing):
            footprint = self.zips.index[self.zips["station"].isin(missing)]
            local = missing.get_indexer(self.zips.loc[footprint, "station"].to_numpy())
            order = np.argsort(local, kind="stable")
            footprint, local = footprint[order], local[order]
            beta, scale = self._zip_share_terms(post, dates, footprint)
            mean = self._group_means["share"][self.zips.index.get_indexer(footprint)]
            offset = np.full(len(missing), -np.inf)
            np.maximum.at(offset, local, mean)
            normaliser = share_normalisers(
                draw_keys(post),
                day_keys(dates),
                _pair_keys(footprint),
                share_design,
                beta,
                scale,
                offset[local],
                local,
                len(missing),
            )
            for j, station in enumerate(missing):
                rows = np.flatnonzero(local == j)
                kept[station] = _StationShares(
                    members=footprint[rows],
                    beta=beta[:, rows],
                    scale=scale[:, rows],
                    offset=float(offset[j]),
                    normaliser=normaliser[:, :, j],
                )
        self._share_cache = (tag, kept)
        return kept

    @staticmethod
    def _hyper(post: xr.Dataset, name: str) -> np.ndarray:
        """A posterior variable as (S, n): scalars as (S, 1)."""
        var = post[name]
        other = [d for d in var.dims if d != "sample"]
        return var.transpose("sample", *other).to_numpy().reshape(post.sizes["sample"], -1)

    def _city_index(self, cities: list[str], stations: pd.Index) -> np.ndarray:
        """Position in ``cities`` of each station's city."""
        station_city = station_cities(self.zips)
        return np.array([cities.index(c) for c in station_city.reindex(stations)], dtype=int)

    def _total_priors(
        self,
        post: xr.Dataset,
        stations: pd.Index,
        city: np.ndarray,
        spread: dict[str, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prior means and variances (S, n, p) of stations' total coefficients, noise sd (S, n)."""
        n_samp, n_s = post.sizes["sample"], len(stations)
        pos = self._station_labels().get_indexer(stations)
        knots = self.design.history_knots
        h_years = self.knot_days / _DAYS_PER_YEAR
        ones = np.ones((n_samp, n_s, 1))
        means = [
            np.broadcast_to(self._group_means["total"][pos][None, :, None], (n_samp, n_s, 1)),
            self._hyper(post, "growth_city")[:, city][:, :, None],
            post["weekday_contrast_city"]
            .transpose("sample", "city", "weekday_contrast")
            .to_numpy()[:, city],
        ]
        var = [
            ones * self.priors["level_sd"] ** 2,
            ones * spread["growth_sd_station"][:, :, None] ** 2,
            np.ones((n_samp, n_s, 6)) * spread["weekday_sd_station"][:, :, None] ** 2,
        ]
        k2, n_r = 2 * self.harmonics, self._n_regressors()
        if k2:
            yearly = post["yearly_network"].transpose("sample", "fourier").to_numpy()
            means.append(np.repeat(yearly[:, None, :], n_s, axis=1))
            var.append(np.ones((n_samp, n_s, k2)) * spread["yearly_sd_station"][:, :, None] ** 2)
        if n_r:
            gamma = post["regressor_effect"].transpose("sample", "regressor").to_numpy()
            means.append(np.repeat(gamma[:, None, :], n_s, axis=1))
            var.append(
                np.ones((n_samp, n_s, n_r)) * spread["regressor_sd_station"][:, :, None] ** 2
            )
        means.append(np.zeros((n_samp, n_s, knots)))
        var.append(
            np.ones((n_samp, n_s, knots)) * h_years * spread["drift_sd_station"][:, :, None] ** 2
        )
        noise_sd = post["noise_sd_station"].transpose("sample", "station").to_numpy()
        noise_sd = noise_sd[
            :, pd.Index(post["noise_sd_station"]["station"].to_numpy()).get_indexer(stations)
        ]
        return np.concatenate(means, axis=2), np.concatenate(var, axis=2) + _VAR_FLOOR, noise_sd

    def _station_coefficient_draws(
        self,
        post: xr.Dataset,
        stations_all: pd.Index,
        city_all: np.ndarray,
        cities: list[str],
        spread: dict[str, np.ndarray],
    ) -> np.ndarray:
        """Draws (S, G, p) of every station's total coefficients, its city's walk included.

        A city's stations share its walk and its day shocks, so their coefficients are drawn
        together from all of them whichever stations are asked for (chunks of zips agree),
        keyed by city and station, and kept for the next chunk of the same posterior sample.
        """
        knots = self.design.history_knots
        city_keys = name_keys_64([f"citywalk:{c}" for c in cities])
        tag = (
            id(self._statistics["total"]),
            draw_keys(post).tobytes(),
            spread["drift_sd_city"].tobytes(),
            spread["city_day_sd"].tobytes(),
        )
        if self._walk_cache is not None and self._walk_cache[0] == tag:
            return self._walk_cache[1]
        h_years = self.knot_days / _DAYS_PER_YEAR
        mean, var, noise_sd = self._total_priors(post, stations_all, city_all, spread)
        n_samp = mean.shape[0]
        walk_var = (
            np.ones((n_samp, len(cities), knots))
            * h_years
            * spread["drift_sd_city"][:, :, None] ** 2
            + _VAR_FLOOR
        )
        walk_normals = keyed_normals(
            draw_keys(post), city_keys, _COEF_TAG + np.arange(knots, dtype=np.uint64)
        ).transpose(0, 2, 1)
        p = self._statistics["total"].n_coefficients
        keys = name_keys_64([f"total:{s}" for s in stations_all])
        coef_normals = keyed_normals(
            draw_keys(post), keys, _COEF_TAG + np.arange(p, dtype=np.uint64)
        ).transpose(0, 2, 1)
        _, beta = city_day_draws(
            self._statistics["total"],
            self._city_day,
            mean,
            var,
            noise_sd**2,
            self._city_walk(city_all, len(cities)),
            walk_var,
            np.ones((n_samp, len(cities))) * spread["city_day_sd"] ** 2,
            walk_normals,
            coef_normals,
        )
        self._walk_cache = (tag, beta)
        return beta

    def _station_log_totals(
        self,
        post: xr.Dataset,
        dates: pd.DatetimeIndex,
        stations: pd.Index,
        stations_all: pd.Index,
    ) -> np.ndarray:
        """log(Y + ½) draws per (sample, day, station)."""
        pos = stations_all.get_indexer(stations)
        knots = self.design.history_knots
        h_years = self.knot_days / _DAYS_PER_YEAR
        cities = list(post["growth_city"]["city"].to_numpy())
        city_all = self._city_index(cities, stations_all)
        city = city_all[pos]
        spread = {name: self._hyper(post, name) for name in _SPREADS}
        _, _, noise_sd = self._total_priors(post, stations, city, spread)
        beta = self._station_coefficient_draws(post, stations_all, city_all, cities, spread)[:, pos]
        keys = name_keys_64([f"total:{s}" for s in stations])
        n_knots = self.design.knots_through(dates)
        design = self.total_design(dates, n_knots)
        p_hist = beta.shape[2]
        out = _by_design(design[:, :p_hist], beta)
        out += self._future_drift(
            post, design[:, p_hist:], knots, spread["drift_sd_station"] * np.sqrt(h_years), keys
        )
        # the city's walk goes on past the history, the same steps for all its stations
        city_keys = name_keys_64([f"citywalk:{c}" for c in cities])
        city_steps = spread["drift_sd_city"] * np.sqrt(h_years) * np.ones((1, len(cities)))
        city_future = self._future_drift(post, design[:, p_hist:], knots, city_steps, city_keys)
        out += city_future[:, :, city]
        # a day's shock of the city, then each station's own noise
        shock_keys = name_keys_64([f"cityday:{c}" for c in cities])
        shock = keyed_normals(draw_keys(post), shock_keys, day_keys(dates))
        out += spread["city_day_sd"][:, :, None] * shock[:, :, city]
        out += noise_sd[:, None, :] * keyed_normals(draw_keys(post), keys, day_keys(dates))
        return out

    def _zip_share_terms(
        self, post: xr.Dataset, dates: pd.DatetimeIndex, zips: pd.Index
    ) -> tuple[np.ndarray, np.ndarray]:
        """Log-share coefficient draws (S, Z, p) through the dates' knots, noise sd (S, Z).

        The knots' coefficients are the random walk's values, the cumulative sums of its
        steps, for :meth:`_hat_share_design`. Zeros for the zips alone in their footprint
        (their share is one).
        """
        n_samp = post.sizes["sample"]
        pos = self.zips.index.get_indexer(zips)
        multi = self._group_means["multi"][pos] > 0
        n_knots = self.design.knots_through(dates)
        beta = np.zeros((n_samp, len(zips), _SHARE_FIXED + n_knots))
        scale = np.zeros((n_samp, len(zips)))
        if not multi.any():
            return beta, scale
        zsel = pos[multi]
        labels = np.asarray(zips)[multi]
        n_z = len(zsel)
        knots = self.design.history_knots
        h_years = self.knot_days / _DAYS_PER_YEAR
        spread = {name: self._hyper(post, name) for name in _SPREADS}
        mean = np.zeros((n_samp, n_z, _SHARE_FIXED + knots))
        mean[:, :, 0] = self._group_means["share"][zsel][None, :]
        var = self._share_prior_var(*(spread[name][:, 0] for name in _SHARE_SPREADS))
        var = np.repeat(var[:, None, :], n_z, axis=1)
        noise = post["share_noise_sd_zip"].transpose("sample", "share_zip").to_numpy()
        noise = noise[
            :, pd.Index(post["share_noise_sd_zip"]["share_zip"].to_numpy()).get_indexer(labels)
        ]
        keys = name_keys_64([f"share:{z}" for z in labels])
        coef = self._coefficients(
            post, self._statistics["share"].take(zsel), mean, var, noise**2, keys
        )
        steps = self._future_steps(
            post, n_knots - knots, knots, spread["share_drift_sd"] * np.sqrt(h_years), keys
        )
        beta[:, multi] = np.concatenate([coef, steps], axis=2)
        walk = beta[:, :, _SHARE_FIXED:]
        np.cumsum(walk, axis=2, out=walk)
        scale[:, multi] = noise
        return beta, scale

    def _hat_share_design(self, dates: pd.DatetimeIndex, n_knots: int) -> np.ndarray:
        """:meth:`share_design` with its ramps as hats, for :meth:`_zip_share_terms`' β.

        A day's ramps r_j (0 before knot j, rising to 1 over its days) times the knots'
        steps Δ_j add up to Σ_j h_j·B_j, with B_j = Δ_1 + … + Δ_j (the random walk at knot j)
        and hats h_j = r_j − r_{j+1}: at most two of them are not zero on a day, so a day's
        log shares cost a few products instead of one per knot past.
        """
        design = self.share_design(dates, n_knots)
        design[:, _SHARE_FIXED:-1] -= design[:, _SHARE_FIXED + 1 :]
        return design

    def _zip_ratio_terms(
        self, post: xr.Dataset, dates: pd.DatetimeIndex, zips: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log package ratio's design (D, 2), coefficient draws (S, Z, 2) and noise sd (S, Z).

        The ratio is (packages + ½) / (stops + ½).
        """
        n_samp = post.sizes["sample"]
        pos = self.zips.index.get_indexer(zips)
        spread = {name: self._hyper(post, name) for name in ("ratio_growth_sd", "ratio_noise_sd")}
        mean = np.zeros((n_samp, len(zips), 2))
        mean[:, :, 0] = self._group_means["ratio"][pos][None, :]
        var = np.concatenate(
            [
                np.full((n_samp, len(zips), 1), self.priors["level_sd"] ** 2),
                np.ones((n_samp, len(zips), 1)) * spread["ratio_growth_sd"][:, :, None] ** 2,
            ],
            axis=2,
        )
        noise_var = (
            spread["ratio_noise_sd"] ** 2 + self._group_means["ratio_count_var"][pos][None, :]
        )
        keys = name_keys_64([f"ratio:{z}" for z in zips])
        beta = self._coefficients(
            post, self._statistics["ratio"].take(pos), mean, var + _VAR_FLOOR, noise_var, keys
        )
        return self.ratio_design(dates), beta, np.sqrt(noise_var)

    def _coefficients(
        self,
        post: xr.Dataset,
        stats: GroupStatistics,
        mean: np.ndarray,
        var: np.ndarray,
        noise_var: np.ndarray,
        keys: np.ndarray,
    ) -> np.ndarray:
        """Conditional posterior draws of the groups' coefficients (S, G, p), keyed."""
        p = stats.n_coefficients
        coef_keys = _COEF_TAG + np.arange(p, dtype=np.uint64)
        normals = keyed_normals(draw_keys(post), keys, coef_keys).transpose(0, 2, 1)
        return coefficient_draws(stats, mean, var, noise_var, normals)

    def _future_drift(
        self,
        post: xr.Dataset,
        ramps: np.ndarray,
        first_knot: int,
        step_sd: np.ndarray,
        keys: np.ndarray,
    ) -> np.ndarray:
        """Drift of knots past the history: fresh increments N(0, step_sd²), (S, D, G)."""
        steps = self._future_steps(post, ramps.shape[1], first_knot, step_sd, keys)
        return _by_design(ramps, steps)

    def _future_steps(
        self,
        post: xr.Dataset,
        n_new: int,
        first_knot: int,
        step_sd: np.ndarray,
        keys: np.ndarray,
    ) -> np.ndarray:
        """Increments N(0, step_sd²) of the ``n_new`` knots past the history, (S, G, n_new)."""
        if n_new == 0:
            return np.zeros((step_sd.shape[0], len(keys), 0))
        knot_keys = _KNOT_TAG + np.arange(first_knot, first_knot + n_new, dtype=np.uint64)
        steps = keyed_normals(draw_keys(post), keys, knot_keys) * step_sd[:, None, :]
        return steps.transpose(0, 2, 1)


@dataclass(frozen=True)
class _StationShares:
    """A station's zips, their log-share coefficient draws and its share normaliser.

    ``beta`` (S, n, p) and ``scale`` (S, n) as :meth:`VolumeModel._zip_share_terms` gives
    them, ``offset`` the largest of its zips' mean log shares, ``normaliser`` (S, D) the sum
    of its zips' share weights per sample and day (:func:`share_normalisers`).
    """

    members: pd.Index
    beta: np.ndarray
    scale: np.ndarray
    offset: float
    normaliser: np.ndarray


def _pair_keys(zips: np.ndarray | pd.Index) -> np.ndarray:
    """64-bit keys of the zips' day noise: one Box–Muller pair a zip-day (share, ratio)."""
    return name_keys_64([f"zipday:{z}" for z in zips])


def _by_design(design: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Design (D, p) times coefficient draws (S, G, p), as (S, D, G): one BLAS call a sample."""
    return np.matmul(design[None], beta.transpose(0, 2, 1))


def footprint_offset(tables: HistoryTables, totals: np.ndarray) -> np.ndarray:
    """Log of the share of each footprint's usual stops that its zips present that day carry.

    A zip's usual share is its mean share of the footprint's stops over the days all of the
    footprint's zips have rows (over its own days, against the others' means, if there is no
    such day). The offset is 0 on complete days and negative before a zip joined, so a new zip
    does not look like a jump in its station's volume.

    Parameters
    ----------
    tables : HistoryTables
        The history.
    totals : numpy.ndarray
        (S, T) stops of the zips present per footprint-day.

    Returns
    -------
    numpy.ndarray
        (S, T) log share (≤ 0; 0 where no zip is present).
    """
    member = tables.membership()
    n_s = member.shape[0]
    size = member.sum(axis=1)
    complete = (member @ tables.present) == size[:, None]  # (S, T)
    usual = np.zeros(len(tables.zips))
    for s in range(n_s):
        zips = np.flatnonzero(member[s])
        days = complete[s]
        if days.any():
            usual[zips] = (tables.stops[zips][:, days] / np.maximum(totals[s, days], 1.0)).mean(1)
        else:
            means = _masked_mean(tables.stops[zips], tables.present[zips])
            usual[zips] = means / max(means.sum(), 1e-9)
    carried = member @ (usual[:, None] * tables.present)  # (S, T)
    return np.where(carried > 0, np.log(np.clip(carried, 1e-6, None)), 0.0)


def _masked_mean(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Row means over the present entries (0 for a row with none)."""
    count = present.sum(axis=1)
    return np.where(present, values, 0.0).sum(axis=1) / np.maximum(count, 1)
