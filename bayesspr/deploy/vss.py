"""Honest costs of a plan: out of sample, and the value of the stochastic solution.

A plan's own objective is in sample: it was chosen to do well on those draws, so it flatters.
:func:`out_of_sample_cost` prices the plan's purchases and fleets on fresh draws (re-choosing
only the recourse: electric routes, shortage) with a standard error over those draws.

The value of the stochastic solution (VSS) is the mean-forecast plan's expected cost less the
sample-average plan's, both priced on the same fresh draws; :func:`value_of_stochastic_solution`
gives it for one set of planning draws with a paired standard error over the fresh draws.
That error leaves out the noise of the planning draws themselves (another set plans another
fleet); :func:`replicated_value_of_stochastic_solution` plans on several independent sets
and takes the error between them (the multiple-replications procedure of Mak, Morton and Wood,
1999).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayesspr.deploy.plan import DeployPlan, deploy, evaluate_plan
from bayesspr.deploy.problem import DeployProblem
from bayesspr.deploy.program import FIRST_STAGE
from bayesspr.errors import DeployInputError, Problem

__all__ = [
    "mean_problem",
    "out_of_sample_cost",
    "per_draw_cost",
    "replicated_value_of_stochastic_solution",
    "value_of_stochastic_solution",
]


def mean_problem(problem: DeployProblem) -> DeployProblem:
    """The same deployment with its draws replaced by their mean (one ``sample``).

    Parameters
    ----------
    problem : DeployProblem
        A problem on draws.

    Returns
    -------
    DeployProblem
        Demand, routes in range, energy and km averaged over draws (fractional routes kept).
    """
    changes = {}
    for name in ("demand", "in_range", "kwh_per_route", "route_km"):
        arr = getattr(problem, name)
        if arr is not None:
            changes[name] = arr.mean("sample").expand_dims(sample=[0])
    return dataclasses.replace(problem, **changes)


def per_draw_cost(plan: DeployPlan) -> np.ndarray:
    """Cost of a plan on each of its draws (currency): first stage plus that draw's recourse.

    Parameters
    ----------
    plan : DeployPlan
        A solved or evaluated plan.

    Returns
    -------
    numpy.ndarray
        One cost per draw; their mean is ``plan.cost["total"]``.
    """
    prog, x = plan.program, plan.solution.x
    n_w = plan.problem.n_samples
    first = 0.0
    for name in FIRST_STAGE:
        i = prog.index(name).ravel()
        first += float(prog.c[i] @ x[i])  # type: ignore[index]
    per = first + prog.draw_constant
    for name in ("ev", "short"):
        i = prog.index(name)
        per += (prog.c[i] * x[i]).reshape(n_w, -1).sum(1) * n_w  # type: ignore[index]
    return per


def value_of_stochastic_solution(
    problem: DeployProblem,
    fresh: DeployProblem,
    *,
    time_limit: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> tuple[pd.Series, DeployPlan, DeployPlan]:
    """Plan on the draws and on their mean, and price both plans on fresh draws.

    Parameters
    ----------
    problem : DeployProblem
        The deployment on the draws the plans are made from.
    fresh : DeployProblem
        The same deployment on other draws (same stations, months, van types, limits).
    time_limit : float
        Wall-time limit of each solve (s).
    mip_rel_gap : float
        Relative MIP gap of the two plans (–).

    Returns
    -------
    summary : pandas.Series
        ``saa_cost`` and ``mean_cost`` (expected cost on the fresh draws, currency),
        ``vss`` (their difference, currency), ``vss_se`` (its paired standard error),
        ``vss_share`` (VSS / mean-plan cost, –), ``saa_in_sample`` and ``mean_in_sample``
        (each plan's own objective), the plans' ``saa_vans`` and ``mean_vans`` bought, and
        ``n_fresh`` draws.
    saa : DeployPlan
        The sample-average plan evaluated on the fresh draws.
    mean : DeployPlan
        The mean-forecast plan evaluated on the fresh draws.
    """
    saa_plan = deploy(problem, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    mean_plan = deploy(mean_problem(problem), time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    saa = evaluate_plan(saa_plan, fresh, time_limit=time_limit)
    mean = evaluate_plan(mean_plan, fresh, time_limit=time_limit)
    vss, vss_se = _mean_and_se(per_draw_cost(mean) - per_draw_cost(saa))
    summary = pd.Series(
        {
            "saa_cost": saa.cost["total"],
            "mean_cost": mean.cost["total"],
            "vss": vss,
            "vss_se": vss_se,
            "vss_share": vss / mean.cost["total"],
            "saa_in_sample": saa_plan.solution.objective,
            "mean_in_sample": mean_plan.solution.objective,
            "saa_vans": float(saa_plan.buy.sum()),
            "mean_vans": float(mean_plan.buy.sum()),
            "n_fresh": float(fresh.n_samples),
        }
    )
    return summary, saa, mean


def _mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the mean (NaN error for fewer than two values)."""
    n = len(values)
    se = float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(np.mean(values)), se


def out_of_sample_cost(
    plan: DeployPlan, fresh: DeployProblem, *, time_limit: float = 60.0
) -> tuple[pd.Series, DeployPlan]:
    """A plan's expected cost on fresh draws, with its standard error, beside its own.

    Parameters
    ----------
    plan : DeployPlan
        A solved plan.
    fresh : DeployProblem
        The same deployment on other draws (same stations, months, van types, limits).
    time_limit : float
        Wall-time limit of the evaluation (s).

    Returns
    -------
    summary : pandas.Series
        ``in_sample`` (the plan's objective on its own draws, currency), ``out_of_sample``
        (mean cost over the fresh draws, currency) and ``out_of_sample_se`` (its standard
        error), ``optimism`` (out of sample less in sample, currency, and ``optimism_share``
        of the in-sample cost, –), ``n_fresh`` draws.
    priced : DeployPlan
        The plan on the fresh draws (its ``cost`` has the parts out of sample).
    """
    evaluated = evaluate_plan(plan, fresh, time_limit=time_limit)
    cost, se = _mean_and_se(per_draw_cost(evaluated))
    own = plan.cost["total"]
    summary = pd.Series(
        {
            "in_sample": own,
            "out_of_sample": cost,
            "out_of_sample_se": se,
            "optimism": cost - own,
            "optimism_share": (cost - own) / own if own else math.nan,
            "n_fresh": float(fresh.n_samples),
        }
    )
    return summary, evaluated


def replicated_value_of_stochastic_solution(
    problems: Sequence[DeployProblem],
    fresh: DeployProblem,
    *,
    time_limit: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> tuple[pd.Series, pd.DataFrame]:
    """The VSS over independent sets of planning draws, with the error between them.

    Parameters
    ----------
    problems : sequence of DeployProblem
        The same deployment on independent sets of planning draws (at least two).
    fresh : DeployProblem
        The same deployment on other draws, shared by every replicate.
    time_limit : float
        Wall-time limit of each solve (s).
    mip_rel_gap : float
        Relative MIP gap of the plans (–).

    Returns
    -------
    summary : pandas.Series
        Means over the replicates of ``vss``, ``saa_cost`` and ``mean_cost`` (currency),
        each with its standard error between replicates (``*_se``: sd / √replicates, which
        counts the planning draws' noise), ``vss_share`` (mean VSS / mean mean-plan cost),
        ``within_se`` (the mean of the replicates' own paired errors, for comparison),
        ``n_replicates`` and ``n_fresh``.
    replicates : pandas.DataFrame
        One row per replicate: :func:`value_of_stochastic_solution`'s summary.

    Raises
    ------
    DeployInputError
        Fewer than two replicates (no error between them).
    """
    if len(problems) < 2:
        raise DeployInputError(
            [Problem("problems", None, len(problems), "expected at least two replicates")]
        )
    rows = [
        value_of_stochastic_solution(
            problem, fresh, time_limit=time_limit, mip_rel_gap=mip_rel_gap
        )[0]
        for problem in problems
    ]
    table = pd.DataFrame(rows).rename_axis("replicate").reset_index()
    out: dict[str, float] = {}
    for name in ("vss", "saa_cost", "mean_cost"):
        out[name], out[f"{name}_se"] = _mean_and_se(table[name].to_numpy())
    out["vss_share"] = out["vss"] / out["mean_cost"]
    out["within_se"] = float(table["vss_se"].mean())
    out["n_replicates"] = float(len(rows))
    out["n_fresh"] = float(fresh.n_samples)
    return pd.Series(out), table
