"""The zip-day volume model: full NUTS over every zip-day (the reference on small worlds).

:class:`ZipDayVolumeModel` was bayesspr's volume model before 0.x; the default is now
:class:`bayesspr.volume.model.VolumeModel` (station totals × zip shares), whose fit does not
grow with zip-days. This one stays as the reference it is measured against
(``benchmarks/volume_coverage.py --models zip-day``, ``benchmarks/volume_speed.py``).

Stops of zip z on day t are negative binomial around

    log λ_zt = a_z + g_z·τ_t + w_c(z),dow(t) + Σ_k (α_k cos + β_k sin)(2πk·doy_t/365.25) + x_t·γ

* level a_z (log stops/day at the middle of the history), pooled zip → station → city;
* growth g_z (log per year), pooled zip → city, so growth itself is uncertain and a zip with a
  short history borrows its city's growth;
* a weekday profile w per city (zero-sum);
* yearly cycle: ``harmonics`` Fourier pairs shared by all zips (prior-only with under a year
  of history, which the intervals then show);
* optional known regressors x_t (holiday peaks, promotions) with coefficients γ;
* day-to-day over-dispersion: variance λ + (cv·λ)²;
* with ``day_shocks="station"``, a log shock ε_sd per station-day shared by the zips the
  station serves that day, ε_sd ~ Normal(0, σ_station-day) (non-centred, σ learned); forecast
  days draw fresh shocks, so a station's days vary together as they do in the history.

Packages are stops plus extra packages, negative binomial around stops·(p_z − 1), with
packages per stop p_z pooled zip → station. τ is years since the last history day.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from bayesspr.defaults import MAX_HARMONICS
from bayesspr.errors import SpecError, VolumeDataError
from bayesspr.inference.fitted_model import SamplerConfig
from bayesspr.spr.model import pooled_offsets
from bayesspr.spr.spec import SPEC_DIR, read_spec_file, spec_id
from bayesspr.volume.base import ZipVolumeModel
from bayesspr.volume.inputs import (
    fourier_terms,
    merged_priors,
    regressors_from_record,
    regressors_record,
    zip_day_volume,
)
from bayesspr.volume.keyed import day_keys, draw_keys, keyed_normals, name_keys_64

#: Version of the saved volume-fit layout (2: configuration and fit state apart, written by
#: the model base).
ZIP_DAY_SAVE_FORMAT = 2

#: The zip-day model's spec as shipped: ``models/volume_zip_day.toml``.
ZIP_DAY_SPEC: dict[str, Any] = read_spec_file(SPEC_DIR / "volume_zip_day.toml")

#: Default priors (log scale unless noted; see ``models/volume_zip_day.toml``): half-normal
#: scales of the pooling spreads, normal location/scale of the mean growth, normal scales of
#: the seasonal terms.
ZIP_DAY_PRIORS: dict[str, float] = dict(ZIP_DAY_SPEC["priors"])

#: NUTS settings of :meth:`ZipDayVolumeModel.fit` unless given (``[sampler]`` of the spec).
ZIP_DAY_SAMPLER = SamplerConfig.from_mapping(ZIP_DAY_SPEC["sampler"], origin="volume_zip_day.toml")


_DAYS_PER_YEAR = 365.25

#: The shared day shocks :class:`ZipDayVolumeModel` can model (``day_shocks=``).
DAY_SHOCKS = ("none", "station")

#: Support of the volume fit's spreads and noise, (low, high) with low < value ≤ high: what a
#: saved fit's draws are checked against on load.
ZIP_DAY_SUPPORTS: dict[str, tuple[float, float]] = {
    name: (0.0, np.inf)
    for name in (
        "level_sd_station",
        "level_sd_zip",
        "growth_sd_zip",
        "stops_cv",
        "extra_sd_station",
        "extra_sd_zip",
        "extra_cv",
        "station_day_sd",
    )
}

#: Posterior variables every volume fit has: what its forecasts read (the yearly, regressor
#: and station-day terms come with their options and are checked where used).
ZIP_DAY_REQUIRED = (
    "level_city",
    "level_zip",
    "growth_zip",
    "weekday_city",
    "stops_cv",
    "extra_cv",
    "extra_log_zip",
)


class ZipDayVolumeModel(ZipVolumeModel):
    """Hierarchical negative-binomial model of daily stops and packages per zip.

    Parameters
    ----------
    priors : dict, optional
        Overrides of :data:`ZIP_DAY_PRIORS`.
    harmonics : int
        Fourier pairs of the yearly cycle (0 turns it off).
    regressors : pandas.DataFrame, optional
        Known daily regressors (index: date; numeric columns, e.g. a 0/1 holiday-peak flag).
        They must cover every history day and every forecast day.
    day_shocks : {"none", "station"}
        ``"station"``: a latent log shock per station-day shared by that day's zips of the
        station (scale ``station_day_sd`` learned), drawn afresh for forecast days, so sums
        over a station's zips are as uncertain as the history shows. ``"none"``: zip-days are
        independent given their mean (the model before 0.x; narrower station intervals).

    Attributes
    ----------
    idata : xarray.DataTree
        The posterior after :meth:`fit` or :meth:`load`.
    diagnostics : dict
        Convergence summary (see :func:`bayesspr.inference.diagnostics.convergence`).
    zips : pandas.DataFrame
        Per zip: ``city``, ``station`` (latest) and ``first_date`` of its history.
    network : bayesspr.data.network.Network or None
        The network of the history when it was a canonical table (forecasts default to it).
    """

    model_name = "ZipDayVolumeModel"
    format_attr = "bayesspr_volume_save_format"
    save_format = ZIP_DAY_SAVE_FORMAT
    config_attr = "bayesspr_volume_meta"
    default_samples = 500
    parameter_supports = ZIP_DAY_SUPPORTS
    unknown_zip_advice = "a zip needs some history (its parents' pooling then covers a short one)"

    def learned_parameters(self) -> tuple[str, ...]:
        """Posterior variables every volume fit has (what forecasts read).

        Returns
        -------
        tuple of str
        """
        return ZIP_DAY_REQUIRED

    def __init__(
        self,
        priors: dict[str, float] | None = None,
        *,
        harmonics: int = 2,
        regressors: pd.DataFrame | None = None,
        day_shocks: Literal["none", "station"] = "none",
    ) -> None:
        self.priors = merged_priors(priors, ZIP_DAY_PRIORS)
        whole = isinstance(harmonics, int | np.integer) or (
            isinstance(harmonics, float) and harmonics.is_integer()
        )
        if isinstance(harmonics, bool) or not whole or not 0 <= harmonics <= MAX_HARMONICS:
            raise SpecError(
                f"ZipDayVolumeModel(harmonics={harmonics!r}): expected a whole number from 0 to "
                f"{MAX_HARMONICS} (Fourier pairs of the yearly cycle; 2 to 4 are usual)"
            )
        self.harmonics = int(harmonics)
        if day_shocks not in DAY_SHOCKS:
            raise SpecError(
                f"ZipDayVolumeModel(day_shocks={day_shocks!r}): expected one of {DAY_SHOCKS}"
            )
        self.day_shocks = day_shocks
        self._init_history(regressors)
        self.time_origin: pd.Timestamp | None = None
        self.fourier_centre = np.zeros(2 * self.harmonics)

    # ------------------------------------------------------------------ design
    def _fourier(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Yearly features centred on their history mean (so the level is the history mean)."""
        return fourier_terms(dates, self.harmonics) - self.fourier_centre

    def _years(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Years since the middle of the history (centred: level and growth decorrelate)."""
        return np.asarray((dates - self.time_origin).days, dtype=float) / _DAYS_PER_YEAR

    def build_model(self, volume: pd.DataFrame) -> pm.Model:
        """Build the PyMC model for a zip-day volume table (see :func:`zip_day_volume`).

        Parameters
        ----------
        volume : pandas.DataFrame
            Output of :func:`zip_day_volume`.

        Returns
        -------
        pymc.Model
            Coords ``city``, ``station``, ``zip``, ``weekday``, ``fourier``, ``regressor``.
        """
        pri = self.priors
        zips = self.zips
        cities = pd.Index(sorted(zips["city"].unique()))
        stations = pd.Index(sorted(zips["station"].unique()))
        zip_city = cities.get_indexer(zips["city"])
        zip_station = stations.get_indexer(zips["station"])
        station_city = cities.get_indexer(zips.groupby("station")["city"].first().reindex(stations))
        zip_idx = zips.index.get_indexer(volume["zip"])
        dates = pd.DatetimeIndex(volume["date"])
        dow = dates.day_of_week.to_numpy()
        fourier = self._fourier(dates)
        x_reg = self._regressor_matrix(dates)
        tau = self._years(dates)
        log_typical = np.log(volume.groupby("city")["stops"].median().reindex(cities).to_numpy())
        coords = {
            "city": list(cities),
            "station": list(stations),
            "zip": list(zips.index),
            "weekday": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "fourier": [f"{f}{k}" for f in ("cos", "sin") for k in range(1, self.harmonics + 1)],
            "regressor": [] if self.regressors is None else list(self.regressors.columns),
        }
        stops = volume["stops"].to_numpy()
        extra = (volume["packages"] - volume["stops"]).to_numpy()
        with pm.Model(coords=coords) as model:
            # a zip's level is pinned by its own days: centred
            level_city = pm.Normal("level_city", log_typical, 1.0, dims="city")
            sd_ls = pm.HalfNormal("level_sd_station", pri["level_sd_station"])
            # a station's level is seen only through its few zips: non-centred
            level_station = pooled_offsets(
                "level_station",
                level_city[station_city],
                sd_ls,
                "station",
                np.zeros(len(stations), bool),
            )
            sd_lz = pm.HalfNormal("level_sd_zip", pri["level_sd_zip"])
            level_zip = pm.Normal("level_zip", level_station[zip_station], sd_lz, dims="zip")

            growth_city = pm.Normal(
                "growth_city", pri["growth_mean"], pri["growth_mean_sd"], dims="city"
            )
            sd_gz = pm.HalfNormal("growth_sd_zip", pri["growth_sd_zip"])
            # zips often share their city's growth (spread near 0): non-centred
            growth_zip = pooled_offsets(
                "growth_zip", growth_city[zip_city], sd_gz, "zip", np.zeros(len(zips), bool)
            )

            # each city's weekday profile (zero-sum), pinned by its own hundreds of days
            weekday_city = pm.ZeroSumNormal(
                "weekday_city", sigma=pri["weekday_sd"], dims=("city", "weekday")
            )
            log_mu = level_zip[zip_idx] + growth_zip[zip_idx] * tau
            log_mu = log_mu + weekday_city[zip_city[zip_idx], dow]
            if self.harmonics:
                yearly = pm.Normal("yearly", 0.0, pri["yearly_sd"], dims="fourier")
                log_mu = log_mu + pt.dot(fourier, yearly)
            if x_reg.shape[1]:
                gamma = pm.Normal("regressor_effect", 0.0, pri["regressor_sd"], dims="regressor")
                log_mu = log_mu + pt.dot(x_reg, gamma)
            if self.day_shocks == "station":
                log_mu = log_mu + _station_day_shocks(volume, pri["station_day_sd"])
            cv = pm.HalfNormal("stops_cv", pri["stops_cv"])
            pm.NegativeBinomial("stops", mu=pt.exp(log_mu), alpha=1.0 / cv**2, observed=stops)

            extra_mean = pm.Normal("extra_log_mean", np.log(0.5), pri["extra_log_mean_sd"])
            sd_es = pm.HalfNormal("extra_sd_station", pri["extra_sd_station"])
            extra_station = pooled_offsets(
                "extra_log_station", extra_mean, sd_es, "station", np.zeros(len(stations), bool)
            )
            sd_ez = pm.HalfNormal("extra_sd_zip", pri["extra_sd_zip"])
            extra_log = pm.Normal("extra_log_zip", extra_station[zip_station], sd_ez, dims="zip")
            extra_cv = pm.HalfNormal("extra_cv", pri["extra_cv"])
            pm.NegativeBinomial(
                "extra_packages",
                mu=np.maximum(stops, 1) * pt.exp(extra_log[zip_idx]),
                alpha=1.0 / extra_cv**2,
                observed=extra,
            )
        return model

    # ------------------------------------------------------------------ fitting
    # ------------------------------------------------------------------ lifecycle hooks
    def sampler_config(self) -> SamplerConfig:
        """NUTS defaults: the ``[sampler]`` table of ``models/volume.toml``.

        Returns
        -------
        bayesspr.inference.fitted_model.SamplerConfig
        """
        return ZIP_DAY_SAMPLER

    def _prepare(self, data: pd.DataFrame) -> pd.DataFrame:
        """Zip-day volume of the history; remembers its zips, dates and network.

        ``data`` has rows with ``date``, ``city``, ``station``, ``zip``, ``stops``,
        ``packages`` (several rows of one zip-day are summed); the canonical table qualifies.
        """
        volume = zip_day_volume(data)
        if volume.empty:
            raise VolumeDataError("volume table has no rows")
        self._remember_history(volume, data)
        first = pd.Timestamp(volume["date"].min())
        self.time_origin = (first + (self.last_date - first) / 2).normalize()
        dates = pd.DatetimeIndex(volume["date"])
        self.fourier_centre = fourier_terms(dates, self.harmonics).mean(0)
        return volume

    # ------------------------------------------------------------------ forecasting

    def volume_draws(
        self,
        post: xr.Dataset,
        dates: pd.DatetimeIndex,
        zips: np.ndarray,
        seed: np.random.SeedSequence,
        *,
        factor: np.ndarray | None = None,
        dtype: type = np.int64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draws of daily stops and packages for the given days and zips (vectorised).

        Parameters
        ----------
        post : xarray.Dataset
            Output of :meth:`posterior_samples` (S samples).
        dates : pandas.DatetimeIndex
            Forecast days (D).
        zips : numpy.ndarray
            Zip codes (Z), each with history in the fit.
        seed : numpy.random.SeedSequence
            Source of the day-to-day noise. Each day draws from its own child stream, so a
            scenario that changes volume from some day on leaves every earlier day's draws
            exactly as they were (common random numbers for scenario comparisons). The
            station-day shocks (``day_shocks="station"``) are a fixed function of the
            posterior draw (chain, draw), the station and the date, not of ``seed``: zips of
            one station drawn in separate calls (chunks) share them.
        factor : numpy.ndarray, optional
            Multiplicative volume shock per (day, zip), shape (D, Z) (–), e.g. 1.4 for +40 %.
        dtype : type
            Type of the whole numbers returned (``numpy.int64`` or ``numpy.float64``).

        Returns
        -------
        stops, packages : numpy.ndarray
            (S, D, Z) whole-number draws (per zip-day).
        """
        zips = self._known_zips(zips)
        dates = pd.DatetimeIndex(dates)
        cities = list(post["level_city"]["city"].to_numpy())
        city_idx = np.array([cities.index(c) for c in self.zips.loc[zips, "city"]])
        zpos = pd.Index(post["level_zip"]["zip"].to_numpy()).get_indexer(zips)
        level = post["level_zip"].transpose("sample", "zip").to_numpy()[:, zpos]
        growth = post["growth_zip"].transpose("sample", "zip").to_numpy()[:, zpos]
        weekday = post["weekday_city"].transpose("sample", "city", "weekday").to_numpy()
        tau = self._years(dates)
        dow = dates.day_of_week.to_numpy()
        log_mu = level[:, None, :] + growth[:, None, :] * tau[None, :, None]
        log_mu = log_mu + weekday[:, city_idx[None, :], dow[:, None]]
        if self.harmonics:
            yearly = post["yearly"].transpose("sample", "fourier").to_numpy()
            log_mu = log_mu + (yearly @ self._fourier(dates).T)[:, :, None]
        x_reg = self._regressor_matrix(dates)
        if x_reg.shape[1]:
            gamma = post["regressor_effect"].transpose("sample", "regressor").to_numpy()
            log_mu = log_mu + (gamma @ x_reg.T)[:, :, None]
        if self.day_shocks == "station":
            stations = self.zips.loc[zips, "station"].to_numpy()
            eps = keyed_normals(draw_keys(post), name_keys_64(stations), day_keys(dates))
            log_mu = log_mu + post["station_day_sd"].to_numpy()[:, None, None] * eps
        mu = np.exp(log_mu)
        if factor is not None:
            mu = mu * np.asarray(factor, dtype=float)[None, :, :]
        stops_cv = post["stops_cv"].to_numpy()[:, None]
        extra_cv = post["extra_cv"].to_numpy()[:, None]
        extra_rate = np.exp(post["extra_log_zip"].transpose("sample", "zip").to_numpy()[:, zpos])
        stops = np.empty(mu.shape, dtype=np.int64)
        extra = np.empty(mu.shape, dtype=np.int64)
        for day, child in enumerate(seed.spawn(len(dates))):
            gen = np.random.default_rng(child)
            stops[:, day] = _negative_binomial(mu[:, day], stops_cv, gen)
            extra[:, day] = _negative_binomial(
                np.maximum(stops[:, day], 1) * extra_rate, extra_cv, gen
            )
        return stops.astype(dtype, copy=False), (stops + extra).astype(dtype, copy=False)

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        """Priors, harmonics, day shocks and known regressors, as data.

        Returns
        -------
        dict
        """
        regressors = regressors_record(self.regressors)
        return {
            "priors": self.priors,
            "harmonics": self.harmonics,
            "day_shocks": self.day_shocks,
            "regressors": regressors,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ZipDayVolumeModel:
        """A model of the configuration :meth:`config` gave (validated again).

        Returns
        -------
        ZipDayVolumeModel
        """
        regressors = regressors_from_record(config.get("regressors"))
        return cls(
            config["priors"],
            harmonics=config["harmonics"],
            regressors=regressors,
            day_shocks=config.get("day_shocks", "none"),
        )

    def _fit_state(self) -> dict[str, Any]:
        state = super()._fit_state()
        if state:  # fitted
            state["time_origin"] = f"{self.time_origin:%Y-%m-%d}"
            state["fourier_centre"] = self.fourier_centre.tolist()
        return state

    def _restore_state(self, state: Mapping[str, Any]) -> None:
        super()._restore_state(state)
        self.time_origin = pd.Timestamp(state["time_origin"])
        self.fourier_centre = np.asarray(state["fourier_centre"], dtype=float)

    def spec_id(self) -> str:
        """Short stable hash (hex) of the spec in use: priors, harmonics, regressor names.

        Returns
        -------
        str
            12 hex digits; stored with every saved fit as ``bayesspr_spec_id``.
        """
        regressors = [] if self.regressors is None else list(self.regressors.columns)
        return spec_id(
            {
                "name": ZIP_DAY_SPEC["name"],
                "priors": self.priors,
                "harmonics": self.harmonics,
                "regressors": regressors,
                "day_shocks": self.day_shocks,
            }
        )


def _negative_binomial(mu: np.ndarray, cv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Negative-binomial draws with mean ``mu`` and variance mu + (cv·mu)², as gamma-Poisson."""
    shape = 1.0 / np.square(cv)
    rate = rng.gamma(np.broadcast_to(shape, mu.shape), 1.0) / shape
    return rng.poisson(mu * rate)


def _station_day_shocks(volume: pd.DataFrame, prior_sd: float) -> pt.TensorVariable:
    """Latent log shock of each observed station-day, per zip-day row (non-centred)."""
    keys = volume["station"].astype(str) + "|" + pd.DatetimeIndex(volume["date"]).strftime("%F")
    codes, uniques = pd.factorize(keys, sort=True)
    sd = pm.HalfNormal("station_day_sd", prior_sd)
    z = pm.Normal("station_day_z", 0.0, 1.0, shape=len(uniques))
    return sd * z[codes]
