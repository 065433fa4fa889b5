"""The ``manifest.json`` every output folder of the command line carries.

One place builds it for ``plan``, ``deploy`` and the demo: what the folder holds (each file's
SHA-256), how it was made (bayesspr version, UTC time, command line, settings, the inputs'
paths and hashes) and each fit it rests on, with that fit's convergence verdict recomputed
from its draws (:meth:`bayesspr.inference.fitted_model.FittedModel.verdict`).
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bayesspr.defaults import installed_version
from bayesspr.io.files import atomic_write, sha256_of


def inputs_record(inputs: Mapping[str, str | Path | None]) -> dict[str, dict[str, str]]:
    """Every input file's absolute path and SHA-256, by option (None entries left out)."""
    return {
        option: {"path": str(Path(path).resolve()), "sha256": sha256_of(path)}
        for option, path in inputs.items()
        if path is not None
    }


def write_manifest(
    folder: Path,
    argv: Sequence[str],
    *,
    inputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    fits: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write ``manifest.json`` into ``folder`` (atomically), after every other file is there.

    Parameters
    ----------
    folder : pathlib.Path
        The output folder being written (its files are hashed as they are now).
    argv : sequence of str
        The command's arguments after ``bayesspr``.
    inputs : mapping
        Input files by option (see :func:`inputs_record`).
    settings : mapping
        The settings the output was made with.
    fits : mapping, optional
        Each fit the output rests on, by role: its ``verdict()`` (or a note such as "a
        planned-volume table (no fit)").
    **extra
        Further top-level entries (scenario, solver figures, ...).

    Returns
    -------
    pathlib.Path
        The manifest written.
    """
    manifest = {
        "bayesspr_version": installed_version(),
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command_line": shlex.join(["bayesspr", *argv]),
        "inputs": dict(inputs),
        "fits": dict(fits or {}),
        "settings": dict(settings),
        **extra,
        "files": {p.name: sha256_of(p) for p in sorted(folder.iterdir()) if p.is_file()},
    }
    text = json.dumps(manifest, indent=2, default=str) + "\n"
    path = folder / "manifest.json"
    return atomic_write(lambda p: Path(p).write_text(text, encoding="utf-8"), path)
