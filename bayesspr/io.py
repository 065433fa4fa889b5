"""Atomic file writes: a file is either absent, the old one, or complete — never partial."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(write: Callable[[str], None], path: str | os.PathLike[str]) -> Path:
    """Write a file through a temporary sibling and move it into place in one step.

    Parameters
    ----------
    write : callable
        ``write(tmp_path)`` writes the whole file to ``tmp_path`` (a str in the target's
        folder).
    path : str or os.PathLike
        Destination; its folder is created if missing.

    Returns
    -------
    pathlib.Path
        The destination.

    Notes
    -----
    The temporary file gets the usual permissions (``0o666`` less the umask), not
    ``mkstemp``'s ``0o600``. On any error it is removed and the destination is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _umask() -> int:
    """Return the process umask (there is no way to read it without setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
