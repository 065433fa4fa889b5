"""Model specifications: priors and constants as data, read from TOML files in ``models/``.

A spec is a plain dict (it round-trips through JSON into saved fits) with the tables
``model``, ``constants``, ``priors``, ``sampler`` and ``hierarchy``. Priors name a PyMC
distribution and its parameters; ``LogNormal`` priors may give a ``median`` in natural units
instead of ``mu``; a plain number fixes a parameter instead of learning it.
Precedence: a user's spec file or dict > the default spec shipped in ``models/``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pymc as pm
import pytensor.tensor as pt

#: Folder holding the shipped specs: ``models/`` at the project root in a checkout (and an
#: editable install); ``bayesspr/models/`` inside an installed wheel.
_HERE = Path(__file__).resolve().parent
SPEC_DIR = next(
    (d for d in (_HERE.parent / "models", _HERE / "models") if (d / "default.toml").is_file()),
    _HERE.parent / "models",
)

#: Parameters every SPR spec must give a prior for.
REQUIRED_PRIORS = (
    "tour_constant", "stem_speed_kmh", "fill",
    "service_min_pop", "service_min_sd", "speed_kmh_pop", "speed_kmh_sd",
    "overhead_hours_pop", "overhead_hours_sd", "zip_effect_sd", "sigma_route", "sigma_km",
)  # fmt: skip

ALLOWED_DISTS = {
    "Normal", "LogNormal", "HalfNormal", "Beta", "Gamma", "Exponential", "TruncatedNormal",
}  # fmt: skip


class SpecError(ValueError):
    """A model spec is missing, malformed, or names an unknown prior."""


def load_spec(spec: str | Path | dict[str, Any] = "default") -> dict[str, Any]:
    """Load and check a model spec.

    Parameters
    ----------
    spec : str, pathlib.Path or dict
        A name of a file in ``models/`` (``"default"``), a path to a TOML file, or a dict of
        the same shape (for instance one stored with a saved fit).

    Returns
    -------
    dict
        The spec, checked: every required prior present with a known distribution.

    Raises
    ------
    SpecError
        If the file is missing, or a prior is absent or malformed.
    """
    if isinstance(spec, dict):
        data = copy.deepcopy(spec)
        origin = "the given dict"
    else:
        path = Path(spec)
        if path.suffix != ".toml":
            path = SPEC_DIR / f"{spec}.toml"
        if not path.is_file():
            shipped = sorted(p.stem for p in SPEC_DIR.glob("*.toml"))
            raise SpecError(
                f"model spec {str(spec)!r} not found at {path}; shipped specs: {shipped}"
            )
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        origin = str(path)
    for table in ("model", "constants", "priors"):
        if table not in data:
            raise SpecError(f"model spec {origin}: table [{table}] is missing")
    missing = [name for name in REQUIRED_PRIORS if name not in data["priors"]]
    if missing:
        raise SpecError(f"model spec {origin}: [priors] lacks {missing}")
    for name, prior in data["priors"].items():
        if isinstance(prior, int | float) and not isinstance(prior, bool):
            continue  # a fixed value, not learned
        dist = prior.get("dist") if isinstance(prior, dict) else None
        if dist not in ALLOWED_DISTS:
            raise SpecError(
                f"model spec {origin}: prior {name!r} has dist {dist!r}; expected one of "
                f"{sorted(ALLOWED_DISTS)}"
            )
    if "circuity" not in data["constants"]:
        raise SpecError(f"model spec {origin}: [constants] lacks 'circuity' (road km per km)")
    data.setdefault("sampler", {})
    return data


def spec_id(spec: dict[str, Any]) -> str:
    """Short stable hash of a spec (hex), stored with fits to tell specs apart.

    Parameters
    ----------
    spec : dict
        A spec as returned by :func:`load_spec`.

    Returns
    -------
    str
        First 12 hex digits of the SHA-256 of the spec's canonical JSON.
    """
    blob = json.dumps(spec, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def prior_kwargs(prior: dict[str, Any]) -> tuple[str, dict[str, float]]:
    """Split a prior entry into a PyMC distribution name and its keyword arguments.

    Parameters
    ----------
    prior : dict
        An entry of ``[priors]``, e.g. ``{"dist": "LogNormal", "median": 0.8, "sigma": 0.1}``.

    Returns
    -------
    tuple of (str, dict)
        Distribution name and PyMC keyword arguments (``median`` becomes ``mu = log(median)``).
    """
    kwargs = {k: float(v) for k, v in prior.items() if k != "dist"}
    if prior["dist"] == "LogNormal" and "median" in kwargs:
        kwargs["mu"] = math.log(kwargs.pop("median"))
    return prior["dist"], kwargs


def prior_rv(name: str, prior: dict[str, Any], **dims: Any) -> Any:
    """Create a PyMC random variable from a spec prior inside the current model context.

    Parameters
    ----------
    name : str
        Variable name.
    prior : dict or float
        An entry of ``[priors]``; a plain number fixes the parameter (not learned).
    **dims
        Extra keyword arguments for the distribution (``dims=...``).

    Returns
    -------
    pytensor.tensor.TensorVariable
        The random variable, or a constant for a fixed value.
    """
    if isinstance(prior, int | float):
        return pt.as_tensor_variable(float(prior))
    dist, kwargs = prior_kwargs(prior)
    return getattr(pm, dist)(name, **kwargs, **dims)


def log_normal_location(prior: dict[str, Any]) -> tuple[float, float]:
    """Mean and standard deviation of the log of a LogNormal prior (log units).

    Parameters
    ----------
    prior : dict
        A ``LogNormal`` entry of ``[priors]``.

    Returns
    -------
    tuple of float
        ``(mu, sigma)`` of the log of the quantity.

    Raises
    ------
    SpecError
        If the prior is not LogNormal (population medians must be positive and are pooled on
        the log scale).
    """
    dist, kwargs = prior_kwargs(prior)
    if dist != "LogNormal":
        raise SpecError(f"population prior must be LogNormal, got {dist!r}")
    return kwargs["mu"], kwargs["sigma"]
