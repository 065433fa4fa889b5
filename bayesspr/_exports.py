"""Lazy re-exports for the subpackages (PEP 562 module ``__getattr__``).

Each room's ``__init__`` names which of its modules defines each public name; the name is
imported from that module the first time it is asked for. Code inside the package imports
modules directly (``from bayesspr.spr.model import SPRModel``), never through a room's
``__init__``, so the rooms never import each other in a cycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Build ``__getattr__``, ``__dir__`` and ``__all__`` for a subpackage.

    Parameters
    ----------
    package : str
        The subpackage's ``__name__``.
    exports : dict of str to str
        Public name → the module (inside ``package``) that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)`` to assign in the subpackage's ``__init__``.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__, sorted(exports)
