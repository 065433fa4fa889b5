"""The package's errors: one base, :class:`BayessprError`, and one named error per kind.

Every error here is a :class:`ValueError` (the input given cannot be used), so
``except ValueError`` keeps catching them; :class:`NotFittedError` is also a
:class:`RuntimeError`, as it always was. Each is importable from here, from ``bayesspr`` and
from the module that raises it (``bayesspr.data.table.DataError`` and so on); the
deployment errors from :mod:`bayesspr.deploy` rather than from ``bayesspr``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BayessprError",
    "DataError",
    "DeployInputError",
    "DeploySolveError",
    "FleetConfigError",
    "InfeasibleDeploymentError",
    "ModelVersionError",
    "NetworkError",
    "NotFittedError",
    "OutputPathError",
    "Problem",
    "SavedFitError",
    "ScenarioError",
    "SpecError",
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


class DataError(BayessprError):
    """An observation table broke one or more rules.

    Parameters
    ----------
    problems : iterable of Problem
        Everything found wrong; all of it is kept in :attr:`problems`, while
        the message prints at most 50 of them.

    Attributes
    ----------
    problems : list of Problem
        Every problem found, frame-level problems first, then by row.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        lines = [f"observation table has {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  {p}" for p in self.problems[:_MAX_LINES]]
        if n > _MAX_LINES:
            lines.append(f"  ... and {n - _MAX_LINES} more")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[DataError], tuple[list[Problem]]]:
        # keep .problems when pickled (e.g. raised in a worker process)
        return (type(self), (self.problems,))


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


class FleetConfigError(BayessprError):
    """A fleet setting, cost, van type or fleet-decision input cannot be used as given."""


class DeployInputError(BayessprError):
    """A deployment input broke one or more rules; :attr:`problems` lists every one.

    Parameters
    ----------
    problems : iterable of Problem
        Each names the table (as ``row``), the column, the value and what was expected;
        all are kept in :attr:`problems`, while the message prints at most 50 of them.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        lines = [f"deployment inputs have {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  {p}" for p in self.problems[:_MAX_LINES]]
        if n > _MAX_LINES:
            lines.append(f"  ... and {n - _MAX_LINES} more")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[DeployInputError], tuple[list[Problem]]]:
        return (type(self), (self.problems,))


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
