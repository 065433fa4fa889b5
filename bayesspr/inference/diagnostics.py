"""Sampler health of a fit, judged with ArviZ against the usual thresholds."""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

# Thresholds a fit must meet to be trusted (Vehtari et al. 2021; Betancourt 2017).
from bayesspr.defaults import EBFMI_MIN, ESS_MIN, RHAT_MAX

_CHECK_NAMES = {"fails_r_hat": "R-hat", "fails_ess_bulk": "bulk ESS", "fails_ess_tail": "tail ESS"}


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
    stats = idata["sample_stats"].to_dataset()
    table = parameter_diagnostics(idata)

    def worst(column: str, largest: bool) -> tuple[float, str]:
        values = table[column].dropna()
        if values.empty:
            return float("nan"), ""
        label = values.idxmax() if largest else values.idxmin()
        return float(values[label]), str(table.loc[label, "variable"])

    rhat_max, rhat_name = worst("r_hat", largest=True)
    bulk_min, bulk_name = worst("ess_bulk", largest=False)
    tail_min, tail_name = worst("ess_tail", largest=False)
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = np.asarray(ebfmi_by_chain(idata)) if "energy" in stats else np.array([np.nan])
    depth_hits = int(stats["maxdepth_reached"].sum()) if "maxdepth_reached" in stats else 0
    report: dict[str, Any] = {
        "rhat_max": rhat_max,
        "rhat_worst": rhat_name,
        "ess_bulk_min": bulk_min,
        "ess_bulk_worst": bulk_name,
        "ess_tail_min": tail_min,
        "ess_tail_worst": tail_name,
        "divergences": divergences,
        "ebfmi_min": float(np.min(bfmi)),
        "max_treedepth_hits": depth_hits,
    }
    problems = []
    chains = int(idata["posterior"].sizes.get("chain", 0))
    if chains < 2:
        problems.append(f"R-hat needs at least 2 chains, the fit has {chains}")
    elif not rhat_max <= RHAT_MAX:
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


def ebfmi_by_chain(idata: xr.DataTree) -> xr.DataArray:
    """E-BFMI of every chain (ArviZ), and of every block for a fit sampled in blocks.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit whose ``sample_stats`` hold ``energy`` (dims ``chain``, ``draw`` and, for a
        fit of independent blocks, ``block``).

    Returns
    -------
    xarray.DataArray
        Dims ``chain`` (and ``block``), values (–).
    """
    return az.bfmi(idata)["energy"]


def worst_energy_block(idata: xr.DataTree) -> tuple[xr.DataTree, str]:
    """The fit with only the sampler statistics of its block of lowest E-BFMI.

    A fit of independent blocks (:func:`bayesspr.inference.fitted_model.run_nuts_blocks`)
    has one energy per block; an energy plot shows one Hamiltonian at a time.

    Returns
    -------
    tuple
        The fit to plot (``idata`` itself when it has no blocks) and the block's name
        (``""`` when none).
    """
    stats = idata["sample_stats"].to_dataset()
    if "block" not in stats.dims:
        return idata, ""
    worst = str(ebfmi_by_chain(idata).min("chain").idxmin("block").item())
    tree = xr.DataTree.from_dict(
        {
            "posterior": idata["posterior"].to_dataset(),
            "sample_stats": stats.sel(block=worst, drop=True),
        }
    )
    return tree, worst


def parameter_diagnostics(idata: xr.DataTree) -> pd.DataFrame:
    """R-hat and bulk / tail ESS of every posterior parameter, and the thresholds it misses.

    The one place that decides which parameters fail: :func:`convergence` takes its extremes
    from this table, and the report's sampler-health rows, verdict, worst-parameters table
    and rank plots all read it. The values are ArviZ's (``arviz.rhat``, ``arviz.ess``),
    judged against :data:`RHAT_MAX` and :data:`ESS_MIN`. A value ArviZ cannot compute (NaN,
    e.g. a constant) misses nothing.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit with a ``posterior`` group (dims ``chain`` and ``draw``).

    Returns
    -------
    pandas.DataFrame
        One row per scalar parameter (each element of a vector variable), indexed by its
        label (``"overhead_hours_sd"``, ``"service_min_city[Boston]"``), worst first (most
        missed thresholds, then smallest ESS). Columns: ``variable`` (posterior name),
        ``position`` (tuple of int: its position along the variable's other dims),
        ``r_hat`` (–), ``ess_bulk`` and ``ess_tail`` (effective draws), ``fails_r_hat``,
        ``fails_ess_bulk``, ``fails_ess_tail`` (bool: misses that threshold), ``misses``
        (text: the thresholds it misses, ``""`` when none) and ``failing`` (bool: misses
        any).
    """
    post = idata["posterior"].to_dataset()
    rhat = az.rhat(post)
    ess_bulk = az.ess(post, method="bulk")
    ess_tail = az.ess(post, method="tail")
    rows = []
    for name in post.data_vars:
        dims = rhat[name].dims
        values = [np.asarray(ds[name].transpose(*dims)) for ds in (rhat, ess_bulk, ess_tail)]
        labels = [
            np.asarray(rhat[name][dim]) if dim in rhat[name].coords else np.arange(size)
            for dim, size in zip(dims, values[0].shape, strict=True)
        ]
        for position in np.ndindex(values[0].shape):
            at = [str(lab[i]) for lab, i in zip(labels, position, strict=True)]
            label = f"{name}[{', '.join(at)}]" if dims else name
            r, bulk, tail = (float(v[position]) for v in values)
            rows.append((label, name, tuple(int(i) for i in position), r, bulk, tail))
    table = pd.DataFrame(
        rows, columns=["parameter", "variable", "position", "r_hat", "ess_bulk", "ess_tail"]
    ).set_index("parameter")
    missed = pd.DataFrame(
        {
            "fails_r_hat": table["r_hat"] > RHAT_MAX,
            "fails_ess_bulk": table["ess_bulk"] < ESS_MIN,
            "fails_ess_tail": table["ess_tail"] < ESS_MIN,
        }
    )
    table = table.join(missed)
    names = np.array([_CHECK_NAMES[c] for c in missed.columns])
    table["misses"] = [", ".join(names[row]) for row in missed.to_numpy()]
    table["failing"] = missed.any(axis=1)
    order = pd.DataFrame(
        {"n": missed.sum(axis=1), "ess": table[["ess_bulk", "ess_tail"]].min(axis=1)}
    ).sort_values(["n", "ess"], ascending=[False, True], kind="stable")
    return table.loc[order.index]
