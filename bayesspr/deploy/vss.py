"""The value of the stochastic solution: plan on the draws vs plan on the mean forecast.

Both plans are priced on the same fresh draws (out of sample), keeping each plan's purchases
and fleets and re-choosing only the recourse (electric routes, shortage) per draw. The value
of the stochastic solution (VSS) is the mean-forecast plan's expected cost less the
sample-average plan's; a paired standard error comes from the per-draw costs.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from bayesspr.deploy.plan import DeployPlan, deploy, evaluate_plan
from bayesspr.deploy.problem import DeployProblem

__all__ = ["mean_problem", "per_draw_cost", "value_of_stochastic_solution"]


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
    for name in ("buy", "fleet", "place", "move"):
        i = prog.index(name).ravel()
        first += float(prog.c[i] @ x[i])  # type: ignore[index]
    per = np.full(n_w, first + prog.constant)
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
    diff = per_draw_cost(mean) - per_draw_cost(saa)
    n = len(diff)
    summary = pd.Series(
        {
            "saa_cost": saa.cost["total"],
            "mean_cost": mean.cost["total"],
            "vss": float(diff.mean()),
            "vss_se": float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
            "vss_share": float(diff.mean() / mean.cost["total"]),
            "saa_in_sample": saa_plan.solution.objective,
            "mean_in_sample": mean_plan.solution.objective,
            "saa_vans": float(saa_plan.buy.sum()),
            "mean_vans": float(mean_plan.buy.sum()),
            "n_fresh": float(n),
        }
    )
    return summary, saa, mean
