"""Hierarchical Bayesian model of daily stops and packages per zip, and its forecast draws.

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

import zlib
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from bayesspr.data.network import Network, NetworkError
from bayesspr.defaults import MAX_HARMONICS
from bayesspr.errors import SpecError, VolumeDataError
from bayesspr.inference.fitted_model import FittedModel, SamplerConfig
from bayesspr.spr.model import pooled_offsets
from bayesspr.spr.spec import SPEC_DIR, read_spec_file, spec_id

#: Version of the saved volume-fit layout (2: configuration and fit state apart, written by
#: the model base).
VOLUME_SAVE_FORMAT = 2

#: The volume model's spec as shipped: ``models/volume.toml``.
VOLUME_SPEC: dict[str, Any] = read_spec_file(SPEC_DIR / "volume.toml")

#: Default priors (log scale unless noted; see ``models/volume.toml``): half-normal scales of
#: the pooling spreads, normal location/scale of the mean growth, normal scales of the
#: seasonal terms.
VOLUME_PRIORS: dict[str, float] = dict(VOLUME_SPEC["priors"])

#: NUTS settings of :meth:`VolumeModel.fit` unless given (``[sampler]`` of the spec).
VOLUME_SAMPLER = SamplerConfig.from_mapping(VOLUME_SPEC["sampler"], origin="volume.toml")


_DAYS_PER_YEAR = 365.25

#: The shared day shocks :class:`VolumeModel` can model (``day_shocks=``).
DAY_SHOCKS = ("none", "station")

#: Support of the volume fit's spreads and noise, (low, high) with low < value ≤ high: what a
#: saved fit's draws are checked against on load.
VOLUME_SUPPORTS: dict[str, tuple[float, float]] = {
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
VOLUME_REQUIRED = (
    "level_city",
    "level_zip",
    "growth_zip",
    "weekday_city",
    "stops_cv",
    "extra_cv",
    "extra_log_zip",
)


def zip_day_volume(df: pd.DataFrame) -> pd.DataFrame:
    """Daily stops and packages per zip, summed over the rows (vans) of a zip-day.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with ``date``, ``city``, ``station``, ``zip``, ``stops`` and ``packages``
        (the canonical table qualifies).

    Returns
    -------
    pandas.DataFrame
        One row per (date, zip): ``date``, ``zip``, ``city``, ``station`` (the station of
        the zip's last row that day), ``stops`` and ``packages`` (per day).

    Raises
    ------
    VolumeDataError
        If a column is missing, or a row has missing, negative or non-integer counts, or
        fewer packages than stops; the message names the row, column and value.
    """
    need = ["date", "city", "station", "zip", "stops", "packages"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise VolumeDataError(f"volume table lacks column(s) {missing}; expected {need}")
    for col in ("stops", "packages"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values < 0) | (values != np.floor(values))
        if bad.any():
            row = df.index[np.flatnonzero(bad.to_numpy())[0]]
            raise VolumeDataError(
                f"row {row!r}, column {col!r}: value {_plain(df.loc[row, col])!r}; expected a "
                "non-negative whole number"
            )
    short = df["packages"].to_numpy(float) < df["stops"].to_numpy(float)
    if short.any():
        row = df.index[np.flatnonzero(short)[0]]
        raise VolumeDataError(
            f"row {row!r}, column 'packages': value {_plain(df.loc[row, 'packages'])!r} is "
            f"below stops {_plain(df.loc[row, 'stops'])!r}; expected at least one package per "
            "stop"
        )
    frame = df[need].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    frame = frame.sort_values(["date", "zip"], kind="stable")
    out = frame.groupby(["date", "zip"], sort=True).agg(
        city=("city", "last"),
        station=("station", "last"),
        stops=("stops", "sum"),
        packages=("packages", "sum"),
    )
    return out.reset_index()


def fourier_terms(dates: pd.DatetimeIndex, harmonics: int) -> np.ndarray:
    """Yearly Fourier features, (days, 2·harmonics): cos then sin of each harmonic (–)."""
    doy = np.asarray(dates.day_of_year, dtype=float)
    k = np.arange(1, harmonics + 1)
    angle = 2.0 * np.pi * doy[:, None] * k[None, :] / _DAYS_PER_YEAR
    return np.concatenate([np.cos(angle), np.sin(angle)], axis=1)


class VolumeModel(FittedModel):
    """Hierarchical negative-binomial model of daily stops and packages per zip.

    Parameters
    ----------
    priors : dict, optional
        Overrides of :data:`VOLUME_PRIORS`.
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

    model_name = "VolumeModel"
    format_attr = "bayesspr_volume_save_format"
    save_format = VOLUME_SAVE_FORMAT
    config_attr = "bayesspr_volume_meta"
    default_samples = 500
    parameter_supports = VOLUME_SUPPORTS

    def learned_parameters(self) -> tuple[str, ...]:
        """Posterior variables every volume fit has (what forecasts read).

        Returns
        -------
        tuple of str
        """
        return VOLUME_REQUIRED

    def __init__(
        self,
        priors: dict[str, float] | None = None,
        *,
        harmonics: int = 2,
        regressors: pd.DataFrame | None = None,
        day_shocks: Literal["none", "station"] = "none",
    ) -> None:
        unknown = set(priors or {}) - set(VOLUME_PRIORS)
        if unknown:
            raise SpecError(
                f"unknown volume prior(s) {sorted(unknown)}; known: {sorted(VOLUME_PRIORS)}"
            )
        self.priors = {**VOLUME_PRIORS, **(priors or {})}
        for name, value in self.priors.items():
            need = "a finite number" if name == "growth_mean" else "a finite number > 0"
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise SpecError(f"volume prior {name!r} = {value!r}; expected {need}")
            if not np.isfinite(value) or (name != "growth_mean" and not value > 0):
                raise SpecError(f"volume prior {name!r} = {value!r}; expected {need}")
        whole = isinstance(harmonics, int | np.integer) or (
            isinstance(harmonics, float) and harmonics.is_integer()
        )
        if isinstance(harmonics, bool) or not whole or not 0 <= harmonics <= MAX_HARMONICS:
            raise SpecError(
                f"VolumeModel(harmonics={harmonics!r}): expected a whole number from 0 to "
                f"{MAX_HARMONICS} (Fourier pairs of the yearly cycle; 2 to 4 are usual)"
            )
        self.harmonics = int(harmonics)
        if day_shocks not in DAY_SHOCKS:
            raise SpecError(f"VolumeModel(day_shocks={day_shocks!r}): expected one of {DAY_SHOCKS}")
        self.day_shocks = day_shocks
        self.regressors = None if regressors is None else _clean_regressors(regressors)
        self.idata: xr.DataTree | None = None
        self.diagnostics: dict[str, Any] = {}
        self.zips = pd.DataFrame()
        self.last_date: pd.Timestamp | None = None
        self.time_origin: pd.Timestamp | None = None
        self.fourier_centre = np.zeros(2 * self.harmonics)
        self.network: Network | None = None

    # ------------------------------------------------------------------ design
    def _regressor_matrix(self, dates: pd.DatetimeIndex) -> np.ndarray:
        if self.regressors is None:
            return np.zeros((len(dates), 0))
        missing = dates.difference(self.regressors.index)
        if len(missing):
            raise VolumeDataError(
                f"regressors lack {len(missing)} day(s), first {missing[0]:%Y-%m-%d}; expected "
                "a value for every history and forecast day"
            )
        return self.regressors.loc[dates].to_numpy(float)

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
        return VOLUME_SAMPLER

    def _prepare(self, data: pd.DataFrame) -> pd.DataFrame:
        """Zip-day volume of the history; remembers its zips, dates and network.

        ``data`` has rows with ``date``, ``city``, ``station``, ``zip``, ``stops``,
        ``packages`` (several rows of one zip-day are summed); the canonical table qualifies.
        """
        volume = zip_day_volume(data)
        if volume.empty:
            raise VolumeDataError("volume table has no rows")
        last = volume.sort_values("date").groupby("zip").last()
        self.zips = pd.DataFrame(
            {
                "city": last["city"],
                "station": last["station"],
                "first_date": volume.groupby("zip")["date"].min(),
            }
        )
        self.last_date = pd.Timestamp(volume["date"].max())
        first = pd.Timestamp(volume["date"].min())
        self.time_origin = (first + (self.last_date - first) / 2).normalize()
        dates = pd.DatetimeIndex(volume["date"])
        self.fourier_centre = fourier_terms(dates, self.harmonics).mean(0)
        try:  # the canonical table also describes the network forecasts run on
            self.network = Network.from_table(data)
        except NetworkError:
            self.network = None
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

        Returns
        -------
        stops, packages : numpy.ndarray
            (S, D, Z) integer draws (per zip-day).
        """
        zips = np.asarray(zips)
        unknown = sorted(set(zips) - set(self.zips.index))
        if unknown:
            raise VolumeDataError(
                f"zip(s) {unknown[:5]} have no volume history in this fit; a zip needs some "
                "history (its parents' pooling then covers a short one)"
            )
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
            eps = keyed_normals(_draw_keys(post), _name_keys(stations), _day_keys(dates))
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
        return stops, stops + extra

    def forecast(
        self,
        dates: pd.DatetimeIndex,
        *,
        zips: list[str] | None = None,
        n_samples: int = 500,
        random_seed: int | None = 0,
    ) -> xr.Dataset:
        """Posterior predictive draws of daily stops and packages per zip.

        Parameters
        ----------
        dates : pandas.DatetimeIndex
            Forecast days.
        zips : list of str, optional
            Zips to forecast (default: all zips of the fit).
        n_samples : int
            Posterior samples used (a seeded random subset).
        random_seed : int, optional
            Seed of the subset and the noise.

        Returns
        -------
        xarray.Dataset
            ``stops`` and ``packages`` (per zip-day) with dims ``sample`` × ``date`` × ``zip``
            and coords ``station`` and ``city`` per zip (the latest assignment).
        """
        self._require_fit()
        dates = pd.DatetimeIndex(dates)
        zips_arr = np.asarray(self.zips.index if zips is None else zips)
        post = self.posterior_samples(n_samples, random_seed=random_seed)
        seed = np.random.SeedSequence(None if random_seed is None else [random_seed, 2])
        stops, packages = self.volume_draws(post, dates, zips_arr, seed)
        dims = ("sample", "date", "zip")
        return xr.Dataset(
            {
                "stops": (dims, stops, {"units": "stops per day"}),
                "packages": (dims, packages, {"units": "packages per day"}),
            },
            coords={
                "sample": np.arange(stops.shape[0]),
                "date": dates,
                "zip": zips_arr,
                "station": ("zip", self.zips.loc[zips_arr, "station"].to_numpy()),
                "city": ("zip", self.zips.loc[zips_arr, "city"].to_numpy()),
            },
        )

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        """Priors, harmonics, day shocks and known regressors, as data.

        Returns
        -------
        dict
        """
        regressors = None
        if self.regressors is not None:
            regressors = {
                "dates": [f"{d:%Y-%m-%d}" for d in self.regressors.index],
                "columns": {c: self.regressors[c].tolist() for c in self.regressors.columns},
            }
        return {
            "priors": self.priors,
            "harmonics": self.harmonics,
            "day_shocks": self.day_shocks,
            "regressors": regressors,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VolumeModel:
        """A model of the configuration :meth:`config` gave (validated again).

        Returns
        -------
        VolumeModel
        """
        regressors = None
        if config.get("regressors") is not None:
            days = pd.DatetimeIndex(config["regressors"]["dates"])
            regressors = pd.DataFrame(config["regressors"]["columns"], index=days)
        return cls(
            config["priors"],
            harmonics=config["harmonics"],
            regressors=regressors,
            day_shocks=config.get("day_shocks", "none"),
        )

    def _fit_state(self) -> dict[str, Any]:
        if self.last_date is None:
            return {}
        return {
            "last_date": f"{self.last_date:%Y-%m-%d}",
            "time_origin": f"{self.time_origin:%Y-%m-%d}",
            "fourier_centre": self.fourier_centre.tolist(),
            "zips": {
                z: [r["city"], r["station"], f"{r['first_date']:%Y-%m-%d}"]
                for z, r in self.zips.iterrows()
            },
            "network": None if self.network is None else self.network.to_json(),
        }

    def _restore_state(self, state: Mapping[str, Any]) -> None:
        self.last_date = pd.Timestamp(state["last_date"])
        self.time_origin = pd.Timestamp(state["time_origin"])
        self.fourier_centre = np.asarray(state["fourier_centre"], dtype=float)
        self.zips = pd.DataFrame.from_dict(
            state["zips"], orient="index", columns=["city", "station", "first_date"]
        )
        self.zips["first_date"] = pd.to_datetime(self.zips["first_date"])
        self.zips.index.name = "zip"
        if state.get("network") is not None:
            self.network = Network.from_json(state["network"])

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
                "name": VOLUME_SPEC["name"],
                "priors": self.priors,
                "harmonics": self.harmonics,
                "regressors": regressors,
                "day_shocks": self.day_shocks,
            }
        )


def _plain(value: Any) -> Any:
    """A numpy scalar as a Python one, so messages print ``-3``, not ``np.int64(-3)``."""
    return value.item() if isinstance(value, np.generic) else value


def _negative_binomial(mu: np.ndarray, cv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Negative-binomial draws with mean ``mu`` and variance mu + (cv·mu)², as gamma-Poisson."""
    shape = 1.0 / np.square(cv)
    rate = rng.gamma(np.broadcast_to(shape, mu.shape), 1.0) / shape
    return rng.poisson(mu * rate)


def _clean_regressors(regressors: pd.DataFrame) -> pd.DataFrame:
    """Validate known regressors: a daily DatetimeIndex and finite numeric columns."""
    if not isinstance(regressors, pd.DataFrame) or regressors.shape[1] == 0:
        raise VolumeDataError("regressors must be a DataFrame with at least one column")
    out = regressors.copy()
    out.index = pd.DatetimeIndex(pd.to_datetime(out.index)).normalize()
    if out.index.has_duplicates:
        raise VolumeDataError(f"regressors repeat day {out.index[out.index.duplicated()][0]}")
    for col in out.columns:
        values = pd.to_numeric(out[col], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(float))
        if bad.any():
            day = out.index[np.flatnonzero(bad)[0]]
            raise VolumeDataError(
                f"regressors row {day:%Y-%m-%d}, column {col!r}: value "
                f"{out.loc[day, col]!r}; expected a finite number"
            )
        out[col] = values.astype(float)
    return out.sort_index()


def _station_day_shocks(volume: pd.DataFrame, prior_sd: float) -> pt.TensorVariable:
    """Latent log shock of each observed station-day, per zip-day row (non-centred)."""
    keys = volume["station"].astype(str) + "|" + pd.DatetimeIndex(volume["date"]).strftime("%F")
    codes, uniques = pd.factorize(keys, sort=True)
    sd = pm.HalfNormal("station_day_sd", prior_sd)
    z = pm.Normal("station_day_z", 0.0, 1.0, shape=len(uniques))
    return sd * z[codes]


def _draw_keys(post: xr.Dataset) -> np.ndarray:
    """One 64-bit key per posterior sample from its (chain, draw), else from its position."""
    if "chain" in post.coords and "draw" in post.coords:
        chain = np.asarray(post["chain"].to_numpy(), dtype=np.uint64)
        draw = np.asarray(post["draw"].to_numpy(), dtype=np.uint64)
        return (chain << np.uint64(32)) | draw
    return np.arange(post.sizes["sample"], dtype=np.uint64)


def _name_keys(names: np.ndarray) -> np.ndarray:
    """A stable 64-bit key per name (CRC-32 of its UTF-8 text)."""
    return np.array([zlib.crc32(str(n).encode()) for n in names], dtype=np.uint64)


def _day_keys(dates: pd.DatetimeIndex) -> np.ndarray:
    """A 64-bit key per day: days since 1970-01-01."""
    days = (pd.DatetimeIndex(dates).normalize() - pd.Timestamp("1970-01-01")).days
    return np.asarray(days, dtype=np.int64).astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective scrambling of 64-bit integers."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def keyed_normals(
    sample_keys: np.ndarray, group_keys: np.ndarray, day_keys: np.ndarray
) -> np.ndarray:
    """Standard normal draws that are a fixed function of (sample, day, group) keys (–).

    Counter-based: the value for one (sample, day, group) does not depend on which other
    samples, days or groups are asked for, so draws made in chunks agree.

    Parameters
    ----------
    sample_keys, group_keys, day_keys : numpy.ndarray
        64-bit unsigned keys, shapes (S,), (G,) and (D,).

    Returns
    -------
    numpy.ndarray
        (S, D, G) standard normal values.
    """
    with np.errstate(over="ignore"):
        h = _mix(
            _mix(_mix(sample_keys)[:, None, None] ^ day_keys[None, :, None])
            ^ group_keys[None, None, :]
        )
        h2 = _mix(h ^ np.uint64(0xD1B54A32D192ED03))
    scale = 2.0**-53
    u1 = ((h >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    u2 = ((h2 >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
