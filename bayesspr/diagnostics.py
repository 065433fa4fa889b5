"""Sampler health of a fit, judged with ArviZ against the usual thresholds."""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np
import xarray as xr

#: Thresholds a fit must meet to be trusted (Vehtari et al. 2021; Betancourt 2017).
RHAT_MAX = 1.01
ESS_MIN = 400
EBFMI_MIN = 0.3


class ConvergenceWarning(UserWarning):
    """A fit missed a convergence threshold; see ``SPRModel.diagnostics``."""


def convergence(idata: xr.DataTree) -> dict[str, Any]:
    """Summarise convergence of an MCMC fit.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit with ``posterior`` and ``sample_stats`` groups.

    Returns
    -------
    dict
        ``rhat_max`` (–), ``ess_bulk_min`` and ``ess_tail_min`` (draws), ``divergences``
        (count), ``ebfmi_min`` (–), ``max_treedepth_hits`` (count), the worst variables
        (``rhat_worst``, ``ess_bulk_worst``, ``ess_tail_worst``), ``problems`` (list of str,
        empty when every threshold is met) and ``ok`` (bool).
    """
    post = idata["posterior"].to_dataset()
    stats = idata["sample_stats"].to_dataset()
    rhat = az.rhat(post)
    ess_bulk = az.ess(post, method="bulk")
    ess_tail = az.ess(post, method="tail")

    def worst(ds: xr.Dataset, largest: bool) -> tuple[float, str]:
        values = {name: float(ds[name].max() if largest else ds[name].min()) for name in ds}
        name = (max if largest else min)(values, key=lambda k: values[k])
        return values[name], name

    rhat_max, rhat_name = worst(rhat, largest=True)
    bulk_min, bulk_name = worst(ess_bulk, largest=False)
    tail_min, tail_name = worst(ess_tail, largest=False)
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = np.asarray(az.bfmi(idata)["energy"]) if "energy" in stats else np.array([np.nan])
    depth_hits = int(stats["maxdepth_reached"].sum()) if "maxdepth_reached" in stats else 0
    report: dict[str, Any] = {
        "rhat_max": rhat_max, "rhat_worst": rhat_name,
        "ess_bulk_min": bulk_min, "ess_bulk_worst": bulk_name,
        "ess_tail_min": tail_min, "ess_tail_worst": tail_name,
        "divergences": divergences, "ebfmi_min": float(np.min(bfmi)),
        "max_treedepth_hits": depth_hits,
    }  # fmt: skip
    problems = []
    if not rhat_max <= RHAT_MAX:
        problems.append(f"R-hat {rhat_max:.3f} > {RHAT_MAX} ({rhat_name})")
    if not bulk_min >= ESS_MIN:
        problems.append(f"bulk ESS {bulk_min:.0f} < {ESS_MIN} ({bulk_name})")
    if not tail_min >= ESS_MIN:
        problems.append(f"tail ESS {tail_min:.0f} < {ESS_MIN} ({tail_name})")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    if not report["ebfmi_min"] >= EBFMI_MIN:
        problems.append(f"E-BFMI {report['ebfmi_min']:.2f} < {EBFMI_MIN}")
    report["problems"] = problems
    report["ok"] = not problems
    return report
