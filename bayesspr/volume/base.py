"""What the volume models share: the zips a fit knows, its regressors, its state, the forecast.

:class:`bayesspr.volume.model.VolumeModel` (station totals × zip shares) and the zip-day
reference :class:`bayesspr.volume.zip_day.ZipDayVolumeModel` differ in how they fit and draw
volume (:meth:`ZipVolumeModel.volume_draws`); everything around that is written here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.data.network import Network, NetworkError
from bayesspr.errors import VolumeDataError
from bayesspr.inference.fitted_model import FittedModel
from bayesspr.volume.inputs import (
    clean_regressors,
    regressor_matrix,
    volume_dataset,
    zips_from_record,
    zips_record,
)


class ZipVolumeModel(FittedModel):
    """Base of the models of daily stops and packages per zip.

    Subclasses implement :meth:`volume_draws` (and the :class:`FittedModel` hooks); the base
    keeps the zips of the fit, the known regressors, the network and the last history day,
    saves and restores them, and turns draws into the forecast dataset.

    Attributes
    ----------
    zips : pandas.DataFrame
        One row per zip of the fit (index ``zip``): its latest ``city`` and ``station`` and
        its ``first_date`` of history.
    regressors : pandas.DataFrame or None
        Known daily regressors (index: date), or None.
    last_date : pandas.Timestamp or None
        Last day of the history.
    network : bayesspr.data.network.Network or None
        The network the history describes, when its table is the canonical one.
    """

    #: What a zip needs to be forecast, said when one without history is asked for.
    unknown_zip_advice: str = "a zip needs some history in the fit"

    def _init_history(self, regressors: pd.DataFrame | None) -> None:
        """Empty state of an unfitted model, with its (cleaned) known regressors."""
        self.regressors = None if regressors is None else clean_regressors(regressors)
        self.idata: xr.DataTree | None = None
        self.diagnostics: dict[str, Any] = {}
        self.zips = pd.DataFrame()
        self.last_date: pd.Timestamp | None = None
        self.network: Network | None = None

    def _regressor_matrix(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """(D, R) known regressors on the given days (R = 0 without regressors)."""
        return regressor_matrix(self.regressors, dates)

    def _remember_history(self, volume: pd.DataFrame, data: pd.DataFrame) -> None:
        """Remember the zips, the last history day and (if ``data`` describes one) the network.

        Parameters
        ----------
        volume : pandas.DataFrame
            Zip-day volume (:func:`bayesspr.volume.inputs.zip_day_volume`), not empty.
        data : pandas.DataFrame
            The table the user passed to ``fit``.
        """
        last = volume.sort_values("date", kind="stable").groupby("zip").last()
        self.zips = pd.DataFrame(
            {
                "city": last["city"],
                "station": last["station"],
                "first_date": volume.groupby("zip")["date"].min(),
            }
        )
        self.zips.index.name = "zip"
        self.last_date = pd.Timestamp(volume["date"].max())
        try:  # the canonical table also describes the network forecasts run on
            self.network = Network.from_table(data)
        except NetworkError:
            self.network = None

    def _known_zips(self, zips: np.ndarray | list[str]) -> np.ndarray:
        """The zips as an array, or a :class:`VolumeDataError` naming those without history."""
        zips = np.asarray(zips)
        unknown = sorted(set(zips) - set(self.zips.index))
        if unknown:
            raise VolumeDataError(
                f"zip(s) {unknown[:5]} have no volume history in this fit; "
                f"{self.unknown_zip_advice}"
            )
        return zips

    def _fit_state(self) -> dict[str, Any]:
        if self.last_date is None:
            return {}
        return {
            "last_date": f"{self.last_date:%Y-%m-%d}",
            "zips": zips_record(self.zips),
            "network": None if self.network is None else self.network.to_json(),
        }

    def _restore_state(self, state: Mapping[str, Any]) -> None:
        self.last_date = pd.Timestamp(state["last_date"])
        self.zips = zips_from_record(state["zips"])
        if state.get("network") is not None:
            self.network = Network.from_json(state["network"])

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
        """(S, D, Z) whole-number draws of daily stops and packages, as ``dtype``.

        Subclasses implement it. ``dtype=numpy.float64`` serves a caller that computes with
        the draws in floating point (the composed forecast), without a conversion back.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement volume_draws")

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
            Seed of the subset (and of the day-to-day noise, for a model that does not key
            its noise to the posterior draw).

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
        return volume_dataset(stops, packages, dates, zips_arr, self.zips)
