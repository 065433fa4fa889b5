"""The package's errors: one base, :class:`BayessprError`, and one named error per kind.

Every error here is a :class:`ValueError` (the input given cannot be used), so
``except ValueError`` keeps catching them; :class:`NotFittedError`,
:class:`UnconvergedFitError` and :class:`DeploySolveError` are also :class:`RuntimeError`.
The package raises no bare ``ValueError``: ``except bayesspr.BayessprError`` catches every
complaint about its input. Import them from here or from ``bayesspr``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ArgumentError",
    "BayessprError",
    "DataError",
    "DeployInputError",
    "DeploySolveError",
    "EvaluationError",
    "FleetConfigError",
    "ForecastError",
    "InfeasibleDeploymentError",
    "ModelVersionError",
    "NetworkError",
    "NotFittedError",
    "OutputPathError",
    "Problem",
    "ProblemsError",
    "ReportError",
    "SavedFitError",
    "ScenarioError",
    "SimulationError",
    "SparsityPatternError",
    "SpecError",
    "UnconvergedFitError",
    "VolumeDataError",
]

_MAX_LINES = 50  # problems printed in a DataError or DeployInputError message


class BayessprError(ValueError):
    """Base of every error bayesspr raises about its input (a :class:`ValueError`)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an observation table.

    Attributes
    ----------
    row : Any
        Index label of the offending row, or None for a problem with the
        whole frame (a missing column, an empty frame, ...).
    column : str or None
        Column of the offending value, or None when no single column is to blame.
    value : Any
        The offending value as found in the input, or None.
    rule : str
        What was expected, e.g. ``"expected an integer >= 1"``.
    """

    row: Any
    column: str | None
    value: Any
    rule: str

    def __str__(self) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.value is not None:
            shown = repr(self.value) if isinstance(self.value, str | tuple) else str(self.value)
            parts.append(f"value {shown}")
        where = ", ".join(parts)
        return f"{where}: {self.rule}" if where else self.rule


class ProblemsError(BayessprError):
    """Base of the errors that list every problem found in an input, one per line.

    Parameters
    ----------
    problems : iterable of Problem
        Everything found wrong; all of it is kept in :attr:`problems`, while the message
        prints at most 50 of them.

    Attributes
    ----------
    problems : list of Problem
        Every problem found, in the order found.
    """

    #: The message's first words: what has the problems, and its verb.
    subject: str = "the input has"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        lines = [f"{self.subject} {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  {p}" for p in self.problems[:_MAX_LINES]]
        if n > _MAX_LINES:
            lines.append(f"  ... and {n - _MAX_LINES} more")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[ProblemsError], tuple[list[Problem]]]:
        # keep .problems when pickled (e.g. raised in a worker process)
        return (type(self), (self.problems,))


class DataError(ProblemsError):
    """An observation table broke one or more rules.

    :attr:`problems` lists every one, frame-level problems first, then by row.
    """

    subject = "observation table has"


class NetworkError(BayessprError):
    """A zip, station or distance the forecast needs is unknown."""


class SpecError(BayessprError):
    """A model spec is missing, malformed, names an unknown prior, or a value out of range."""


class ScenarioError(BayessprError):
    """A scenario change is invalid or does not fit the network."""


class VolumeDataError(BayessprError):
    """The volume history or a forecast request cannot be used as given."""


class NotFittedError(BayessprError, RuntimeError):
    """The model has no posterior yet: call ``fit`` or ``load`` first (SPR or volume model).

    Also a :class:`RuntimeError`, as before the errors had one base.
    """


class ModelVersionError(BayessprError):
    """A saved fit was written by another bayesspr save format."""


class SavedFitError(BayessprError):
    """A saved fit is incomplete or holds values no fit can have (a damaged or edited file)."""


class OutputPathError(BayessprError):
    """A destination cannot be written safely: the message says why and what to do."""


class ArgumentError(BayessprError):
    """An argument of a function or command is outside what it accepts.

    The message names the argument, the value given and what is accepted.
    """


class SimulationError(ArgumentError):
    """A simulated world was asked for with arguments it cannot be built from."""


class ForecastError(BayessprError):
    """A forecast request (horizon, planned volume, plan table) cannot be used as given."""


class EvaluationError(BayessprError):
    """A backtest, score or calibration check was given data it cannot judge."""


class ReportError(BayessprError):
    """A report was asked for with a history, holdout or figure it cannot use."""


class SparsityPatternError(BayessprError, RuntimeError):
    """A model's Hessian sparsity pattern misses couplings its log density has.

    A defect of the model's ``hessian_pattern``, not of the data: the Hessian from it would
    be wrong, so the fit stops (see :mod:`bayesspr.inference.sparse_hessian`).
    """


class UnconvergedFitError(BayessprError, RuntimeError):
    """A fit failed its convergence checks (or is approximate) and ``--strict`` refuses it.

    Also a :class:`RuntimeError`: the input was readable; the fit is what is refused.
    """


class FleetConfigError(BayessprError):
    """A fleet setting, cost, van type or fleet-decision input cannot be used as given."""


class DeployInputError(ProblemsError):
    """A deployment input broke one or more rules; :attr:`problems` lists every one.

    Each problem names the table (as ``row``), the column, the value and what was expected.
    """

    subject = "deployment inputs have"


class InfeasibleDeploymentError(BayessprError):
    """No plan meets the hard constraints; :attr:`limits` names those whose removal helps.

    Parameters
    ----------
    message : str
        What was asked and which limit stands in the way.
    limits : list of str
        The limit groups (``"budget"``, ``"ev_supply"``, ``"power"``, ``"space"``, ...) that,
        dropped one at a time, make the program feasible; empty if none alone does.
    """

    def __init__(self, message: str, limits: list[str]) -> None:
        self.limits = list(limits)
        super().__init__(message)

    def __reduce__(self) -> tuple[type[InfeasibleDeploymentError], tuple[str, list[str]]]:
        return (type(self), (str(self), self.limits))


class DeploySolveError(BayessprError, RuntimeError):
    """HiGHS returned no deployment plan within its time limit, or failed otherwise.

    Also a :class:`RuntimeError`: the inputs may be fine; a longer time limit or fewer draws
    usually gives a plan.
    """
