"""The plumbing both models share: sampler settings, fit verdict, not-fitted checks, files.

:class:`FittedModel` is the base of :class:`bayesspr.SPRModel` and
:class:`bayesspr.VolumeModel`. A subclass names itself (``model_name``), the attribute that
marks its saved files (``format_attr``) and that format's version (``save_format``); it adds
its own attributes to the file in ``_attrs`` and restores them in ``load``. Everything else —
merging sampler settings, running NUTS, the convergence verdict and its warning, refusing to
predict without a fit, writing the file, and checking on load that the file is this model's
and of this format — lives here once.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pymc as pm
import xarray as xr

from bayesspr.defaults import installed_version
from bayesspr.errors import ModelVersionError, NotFittedError
from bayesspr.inference.diagnostics import ConvergenceWarning, convergence
from bayesspr.io.files import read_saved_tree
from bayesspr.io.fit_files import Keep, write_fit

#: The attribute that marks each model's saved files → the model's name.
FORMAT_ATTRS: dict[str, str] = {
    "bayesspr_save_format": "SPRModel",
    "bayesspr_volume_save_format": "VolumeModel",
}


def sampler_settings(
    base: Mapping[str, Any], overrides: Mapping[str, Any | None]
) -> dict[str, Any]:
    """Sampler settings: ``base`` updated by the ``overrides`` the caller gave (not None).

    Parameters
    ----------
    base : mapping
        Defaults (``draws``, ``tune``, ``chains``, ``target_accept``, ...).
    overrides : mapping
        Values from the caller; ``None`` means "use the default".

    Returns
    -------
    dict
        The merged settings.
    """
    settings = dict(base)
    settings.update({key: value for key, value in overrides.items() if value is not None})
    return settings


def run_nuts(
    model: pm.Model,
    sampler: Mapping[str, Any],
    *,
    random_seed: int | None,
    progressbar: bool,
    **extra: Any,
) -> xr.DataTree:
    """NUTS on ``model`` with the merged ``sampler`` settings (see :func:`sampler_settings`).

    Parameters
    ----------
    model : pymc.Model
        The model to sample.
    sampler : mapping
        ``draws``, ``tune``, ``chains`` and ``target_accept``.
    random_seed : int, optional
        Sampler seed.
    progressbar : bool
        Show the sampler's progress bar.
    **extra
        Passed to :func:`pymc.sample` (``nuts_sampler``, ``nuts``, ``initvals``).

    Returns
    -------
    xarray.DataTree
        The fit.
    """
    with model:
        return pm.sample(
            draws=int(sampler["draws"]),
            tune=int(sampler["tune"]),
            chains=int(sampler["chains"]),
            target_accept=float(sampler["target_accept"]),
            random_seed=random_seed,
            progressbar=progressbar,
            **extra,
        )


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
    """Base of the package's models: a fit (``idata``), its verdict and its file.

    Attributes
    ----------
    idata : xarray.DataTree or None
        The fit, once :meth:`fit` or ``load`` has run.
    diagnostics : dict
        The convergence verdict of :func:`bayesspr.inference.diagnostics.convergence`.
    """

    #: Class name used in messages and saved-file checks.
    model_name: ClassVar[str]
    #: The file attribute that marks this model's saved fits, and its format version.
    format_attr: ClassVar[str]
    save_format: ClassVar[int] = 1
    #: How many posterior samples :meth:`posterior_samples` keeps by default.
    default_samples: ClassVar[int] = 1000

    idata: xr.DataTree | None
    diagnostics: dict[str, Any]

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
        """The file attributes every saved fit carries; subclasses add their own."""
        return {
            "bayesspr_version": installed_version(),
            self.format_attr: str(self.save_format),
            "bayesspr_diagnostics": json.dumps(self.diagnostics, default=str),
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
        ValueError
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
            for attr, owner in FORMAT_ATTRS.items():
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
