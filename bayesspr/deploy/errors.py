"""The errors of network deployment, under the package base :class:`~bayesspr.errors.BayessprError`.

Kept in this room while ``bayesspr/errors.py`` is edited elsewhere; both are meant to move
there (they are :class:`ValueError` subclasses through the base, like every bayesspr error).
"""

from __future__ import annotations

from collections.abc import Iterable

from bayesspr.errors import BayessprError, Problem

__all__ = ["DeployInputError", "InfeasibleDeploymentError"]


class DeployInputError(BayessprError):
    """A deployment input broke one or more rules; :attr:`problems` lists every one.

    Parameters
    ----------
    problems : iterable of Problem
        Each names the table (as ``row``), the column, the value and what was expected.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        lines = [f"deployment inputs have {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  {p}" for p in self.problems[:50]]
        if n > 50:
            lines.append(f"  ... and {n - 50} more")
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
