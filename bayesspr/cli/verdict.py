"""The convergence verdict as the command line prints and enforces it (``--strict``)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bayesspr.defaults import (
    EBFMI_MIN,
    ESS_MIN,
    RHAT_MAX,
)
from bayesspr.errors import (
    UnconvergedFitError,
)
from bayesspr.inference.diagnostics import ConvergenceWarning
from bayesspr.inference.fitted_model import FittedModel
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel


def _number(value: Any, spec: str) -> str:
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return "n/a"


def convergence_summary(diagnostics: Mapping[str, Any]) -> str:
    """Describe a fit's convergence diagnostics in a few readable lines.

    Parameters
    ----------
    diagnostics : mapping
        ``model.diagnostics`` of an SPR or volume fit (see
        :func:`bayesspr.inference.diagnostics.convergence`).

    Returns
    -------
    str
        R-hat max (–), min bulk and tail ESS (draws) with the worst parameter of each,
        divergences (count), E-BFMI min (–), the blocks sampled by an approximation, and the
        verdict.
    """
    if diagnostics.get("approximate"):
        problems = "; ".join(diagnostics.get("problems") or ["approximate fit"])
        return (
            f"convergence: not checked ({problems})\n  verdict: APPROXIMATE — not MCMC, its "
            "intervals unchecked; re-fit with --method nuts before making decisions"
        )
    if "rhat_max" not in diagnostics:
        return "convergence: no diagnostics stored with this fit\n  verdict: UNKNOWN"
    d = diagnostics
    lines = [
        f"convergence (thresholds: R-hat <= {RHAT_MAX}, bulk and tail ESS >= {ESS_MIN}, "
        f"no divergences, E-BFMI >= {EBFMI_MIN}):",
        f"  R-hat max      {_number(d.get('rhat_max'), '.3f'):>8}  ({d.get('rhat_worst', '?')})",
        f"  bulk ESS min   {_number(d.get('ess_bulk_min'), '.0f'):>8}  "
        f"({d.get('ess_bulk_worst', '?')})",
        f"  tail ESS min   {_number(d.get('ess_tail_min'), '.0f'):>8}  "
        f"({d.get('ess_tail_worst', '?')})",
        f"  divergences    {_number(d.get('divergences'), '.0f'):>8}",
        f"  E-BFMI min     {_number(d.get('ebfmi_min'), '.2f'):>8}",
    ]
    for block, record in (d.get("approximate_blocks") or {}).items():
        lines.append(
            f"  {block} block: {record.get('route', 'approximate')}, "
            f"{record.get('why', '')} (diagnostics['approximate_blocks'])"
        )
    if d.get("ok") is True:
        lines.append("  verdict: converged (every threshold met)")
    else:
        problems = "; ".join(d.get("problems") or ["a threshold was missed"])
        lines.append(
            f"  verdict: NOT CONVERGED — {problems}; re-fit with more --tune/--draws "
            "or a higher --target-accept before trusting it"
        )
    return "\n".join(lines)


def fit_problems(diagnostics: Mapping[str, Any]) -> list[str]:
    """What is wrong with a fit's stored diagnostics (empty when it converged)."""
    if diagnostics.get("approximate"):
        return list(diagnostics.get("problems") or ["approximate fit (not MCMC)"])
    if diagnostics.get("ok") is True:
        return []
    if not diagnostics:
        return ["the file stores no convergence diagnostics"]
    return list(diagnostics.get("problems") or ["it did not pass its convergence checks"])


def check_loaded(model: SPRModel | VolumeModel, path: str, option: str, args: Any) -> None:
    """Warn on stderr (or refuse, under ``--strict``) when a loaded fit is not trustworthy."""
    problems = fit_problems(model.diagnostics)
    if not problems:
        return
    state = (
        "is approximate"
        if model.diagnostics.get("approximate")
        else "did not pass its convergence checks"
    )
    text = f"the fit {option} {path} {state}: {'; '.join(problems)}"
    if args.strict:
        raise UnconvergedFitError(
            f"{text}; --strict refuses such fits: re-fit it (more "
            "--tune/--draws, --method nuts) and run again"
        )
    print(
        f"bayesspr {args.command}: warning: {text}; results from it may be wrong (re-fit with "
        "more --tune/--draws; --strict refuses such fits)",
        file=sys.stderr,
    )


def finish_fit(model: SPRModel | VolumeModel, args: Any, what: str) -> int:
    """Print the convergence summary; save the fit unless ``--strict`` refuses it."""
    print(convergence_summary(model.diagnostics))
    if args.strict and model.diagnostics.get("ok") is not True:
        problems = "; ".join(fit_problems(model.diagnostics))
        raise UnconvergedFitError(
            f"the {what} does not meet the convergence thresholds ({problems}); --strict: "
            f"nothing written to {args.out} (an earlier file there is untouched); re-fit with "
            "more --tune/--draws or a higher --target-accept"
        )
    model.save(args.out, keep=getattr(args, "keep", "report"))
    print(f"saved {what} to {args.out}")
    return 0


def load_fit[M: FittedModel](cls: type[M], path: str | Path) -> M:
    """Load a fit; its convergence is reported by :func:`check_loaded`, not a warning too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls.load(path)
