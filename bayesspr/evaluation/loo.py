"""PSIS-LOO of a fit that may hold rows with a certain outcome.

A zip-day whose route count is certain (one possible count: the capacity floor far above the
need, say) has the same log-likelihood on every posterior draw. Its leave-one-out term is
then exact, log p(y_i | y_-i) = that value, and there is nothing to smooth: Pareto smoothing
of a constant importance ratio fails ("All tail values are the same"). :func:`psis_loo` takes
those rows out of the smoothing, adds their exact terms back, and reports how many there were.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import arviz_stats as azs
import numpy as np
import xarray as xr
from scipy.special import logsumexp

#: A row is "certain" when its log-likelihood spans at most this over all draws (nats): its
#: importance ratios then differ by a factor of at most 1 + 1e-9, so its LOO term is exact.
CERTAIN_SPAN = 1e-9

_SAMPLE_DIMS = ("chain", "draw")


@dataclass(frozen=True)
class LooResult:
    """PSIS-LOO of one observed variable, certain rows included exactly.

    Attributes
    ----------
    name : str
        The observed variable (``routes``, ``route_km``, ...).
    elpd : float
        Expected log pointwise predictive density, summed over all rows (nats).
    se : float
        Its standard error (nats).
    p_loo : float
        Effective number of parameters (–).
    n_rows : int
        Rows of the variable.
    n_certain : int
        Rows with the same log-likelihood on every draw (exact LOO term, no Pareto k).
    n_samples : int
        Posterior draws (chains × draws).
    good_k : float
        ArviZ's good-k threshold for this number of draws (–).
    pareto_k : numpy.ndarray
        Pareto k per row, NaN on certain rows (–).
    smoothed : object or None
        ArviZ's ``ELPDData`` of the smoothed rows (for its k plot); None if every row was
        certain.
    """

    name: str
    elpd: float
    se: float
    p_loo: float
    n_rows: int
    n_certain: int
    n_samples: int
    good_k: float
    pareto_k: np.ndarray
    smoothed: Any


def psis_loo(idata: xr.DataTree, name: str) -> LooResult:
    """PSIS-LOO of ``name`` with rows of a certain outcome taken exactly.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit with a ``log_likelihood`` group holding ``name``.
    name : str
        The observed variable.

    Returns
    -------
    LooResult
        Totals over every row; Pareto k of the smoothed rows.
    """
    log_lik = idata["log_likelihood"][name]
    row_dims = [d for d in log_lik.dims if d not in _SAMPLE_DIMS]
    # one flat row dimension, whatever the variable's own (``row`` in both models)
    flat = log_lik.stack(_row=row_dims).transpose(*_SAMPLE_DIMS, "_row")
    flat = flat.drop_vars([*row_dims, "_row"]).rename(_row="row")
    values = flat.to_numpy()
    n_samples = values.shape[0] * values.shape[1]
    per_draw = values.reshape(n_samples, -1)
    certain = (per_draw.max(axis=0) - per_draw.min(axis=0)) <= CERTAIN_SPAN
    elpd_i = per_draw.mean(axis=0)  # exact on certain rows; replaced by PSIS on the rest
    pareto_k = np.full(elpd_i.size, np.nan)
    smoothed = None
    good_k = min(1 - 1 / np.log10(n_samples), 0.7)
    if not certain.all():
        subset = idata.copy()
        subset["log_likelihood"] = xr.Dataset({name: flat.isel(row=np.flatnonzero(~certain))})
        with warnings.catch_warnings():  # the k's it warns about are in the result
            warnings.simplefilter("ignore", UserWarning)
            smoothed = azs.loo(subset, var_name=name, pointwise=True)
        elpd_i[~certain] = np.asarray(smoothed.elpd_i).ravel()
        pareto_k[~certain] = np.asarray(smoothed.pareto_k).ravel()
        good_k = float(smoothed.good_k)
    n = elpd_i.size
    # p_loo = lppd − elpd_loo (0 on certain rows, where both equal the constant)
    lppd = float((logsumexp(per_draw, axis=0) - np.log(n_samples)).sum())
    return LooResult(
        name=name,
        elpd=float(elpd_i.sum()),
        se=float(np.sqrt(n * np.var(elpd_i, ddof=1))) if n > 1 else 0.0,
        p_loo=lppd - float(elpd_i.sum()),
        n_rows=n,
        n_certain=int(certain.sum()),
        n_samples=n_samples,
        good_k=good_k,
        pareto_k=pareto_k,
        smoothed=smoothed,
    )
