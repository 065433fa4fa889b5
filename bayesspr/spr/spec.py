"""Model specifications: priors and constants as data, read from TOML files in ``models/``.

A spec is a plain dict (it round-trips through JSON into saved fits) with the tables
``model``, ``constants``, ``priors``, ``sampler`` and ``hierarchy``. Priors name a PyMC
distribution and its parameters; ``LogNormal`` priors may give a ``median`` in natural units
instead of ``mu``; a plain number fixes a parameter instead of learning it.
Precedence: a user's spec file or dict > the default spec shipped in ``models/``.
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any

import pymc as pm
import pytensor.tensor as pt

from bayesspr.errors import SpecError
from bayesspr.inference.fitted_model import SamplerConfig, config_id

#: Folder holding the shipped specs: ``models/`` at the project root in a checkout (and an
#: editable install); ``bayesspr/models/`` inside an installed wheel.
_HERE = Path(__file__).resolve().parent.parent  # the bayesspr package folder
SPEC_DIR = next(
    (d for d in (_HERE.parent / "models", _HERE / "models") if (d / "default.toml").is_file()),
    _HERE.parent / "models",
)

#: Parameters every SPR spec must give a prior for.
REQUIRED_PRIORS = (
    "tour_constant",
    "stem_speed_kmh",
    "fill",
    "service_min_pop",
    "service_min_sd",
    "speed_kmh_pop",
    "speed_kmh_sd",
    "overhead_hours_pop",
    "overhead_hours_sd",
    "zip_effect_sd",
    "sigma_route",
    "sigma_km",
)

ALLOWED_DISTS = {
    "Normal",
    "LogNormal",
    "HalfNormal",
    "Beta",
    "Gamma",
    "Exponential",
    "TruncatedNormal",
}


#: Keyword parameters each distribution may take: "real" (finite) or "positive" (finite, > 0).
DIST_PARAMETERS: dict[str, dict[str, str]] = {
    "Normal": {"mu": "real", "sigma": "positive"},
    "LogNormal": {"mu": "real", "median": "positive", "sigma": "positive"},
    "HalfNormal": {"sigma": "positive"},
    "Beta": {"alpha": "positive", "beta": "positive"},
    "Gamma": {"alpha": "positive", "beta": "positive", "mu": "positive", "sigma": "positive"},
    "Exponential": {"lam": "positive", "scale": "positive"},
    "TruncatedNormal": {"mu": "real", "sigma": "positive", "lower": "real", "upper": "real"},
}

#: Natural range of each SPR parameter: (low, high, whether low itself is excluded, unit);
#: high itself is allowed.
PARAMETER_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "tour_constant": (0.0, math.inf, True, "dimensionless"),
    "stem_speed_kmh": (0.0, math.inf, True, "km/h"),
    "fill": (0.0, 1.0, True, "share of van capacity"),
    "service_min_pop": (0.0, math.inf, True, "min per stop"),
    "speed_kmh_pop": (0.0, math.inf, True, "km/h"),
    "overhead_hours_pop": (0.0, math.inf, True, "h per route"),
    "service_min_sd": (0.0, math.inf, True, "log scale"),
    "speed_kmh_sd": (0.0, math.inf, True, "log scale"),
    "overhead_hours_sd": (0.0, math.inf, True, "log scale"),
    "zip_effect_sd": (0.0, math.inf, True, "log scale"),
    "sigma_route": (0.0, math.inf, True, "log routes"),
    "sigma_km": (0.0, math.inf, True, "log km"),
}

#: The pooled effects whose parameterisation ``[hierarchy]`` chooses (an effect it does not
#: name is "auto"): the group effects of :data:`bayesspr.spr.model.GROUP_EFFECTS` and the zip's.
HIERARCHY_EFFECTS = ("service_min_city", "speed_kmh_city", "overhead_hours_station", "zip_effect")

#: Population priors: pooled on the log scale, so they must be LogNormal.
POPULATION_PRIORS = ("service_min_pop", "speed_kmh_pop", "overhead_hours_pop")

#: Road km per straight-line km that ``[constants] circuity`` may take (dimensionless).
CIRCUITY_RANGE = (1.0, 3.0)


def read_spec_file(path: Path) -> dict[str, Any]:
    """Read a spec file (TOML) as it is, unchecked.

    Parameters
    ----------
    path : pathlib.Path
        A ``.toml`` file, e.g. ``SPEC_DIR / "volume.toml"``.

    Returns
    -------
    dict
        Its tables.

    Raises
    ------
    SpecError
        If the file is not valid TOML (the message names the file and the parser's reason).
    """
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"model spec {path} is not valid TOML: {exc}") from None


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
        The spec, checked: every required prior present with a known distribution whose
        parameters are finite and in their support (``sigma``, ``alpha``, ``beta``,
        ``median``, ``lam``, ``scale`` > 0) and whose values lie in the parameter's natural
        range (:data:`PARAMETER_RANGES`: ``fill`` in (0, 1], speeds, times and spreads > 0);
        fixed values finite and in that range; ``circuity`` in [1, 3]; sampler settings and
        hierarchy choices valid.

    Raises
    ------
    SpecError
        If the file is missing (the message lists the SPR spec names in :data:`SPEC_DIR`),
        is the volume model's spec (``"volume"``), or a table, prior, constant or setting is
        absent, malformed or out of range; the message names the entry, its value and what
        was expected.
    """
    if isinstance(spec, dict):
        data, origin = copy.deepcopy(spec), "the given dict"
    else:
        data, origin = _read_spec(spec)
    _check_tables(origin, data)
    for name, prior in data["priors"].items():
        _check_prior(origin, name, prior)
    _check_circuity(origin, data["constants"])
    _check_sampler(origin, data.get("sampler", {}))
    _check_hierarchy(origin, data.get("hierarchy", {}))
    data.setdefault("sampler", {})
    return data


def _spr_spec_names() -> list[str]:
    """Names of the SPR model specs shipped in :data:`SPEC_DIR` (those with a ``[model]`` table).

    Returns
    -------
    list of str
        File stems, sorted (``["default"]`` as shipped); ``volume.toml``, the volume model's
        spec, is not one of them.
    """
    names = []
    for path in sorted(SPEC_DIR.glob("*.toml")):
        try:
            is_spr = "model" in read_spec_file(path)
        except SpecError:
            is_spr = False
        if is_spr:
            names.append(path.stem)
    return names


def spec_file(spec: str | Path, kind: str, expected: str) -> Path:
    """The file of a spec given by name (a file in :data:`SPEC_DIR`) or by path.

    Parameters
    ----------
    spec : str or pathlib.Path
        A name (``"default"``, ``"volume"``) or a path to a ``.toml`` file.
    kind : str
        Which model's spec, for the message (``"model"``, ``"volume"``).
    expected : str
        What the caller accepts, for the message.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    SpecError
        If no such file exists (the message names the path tried and ``expected``).
    """
    path = Path(spec)
    if path.suffix != ".toml":
        path = SPEC_DIR / f"{spec}.toml"
    if not path.is_file():
        raise SpecError(f"{kind} spec {str(spec)!r} not found at {path}; expected {expected}")
    return path


def _read_spec(spec: str | Path) -> tuple[dict[str, Any], str]:
    """Read a spec given by name (a file in :data:`SPEC_DIR`) or path; return it and its origin."""
    expected = (
        f"the name of an SPR spec in {SPEC_DIR} (shipped specs: {_spr_spec_names()}) or a path "
        "to a .toml file"
    )
    path = spec_file(spec, "model", expected)
    return read_spec_file(path), str(path)


def _check_tables(origin: str, data: dict[str, Any]) -> None:
    """Raise SpecError unless the spec has its tables, each a table, and every required prior."""
    if "model" not in data and data.get("name") == "volume":
        raise SpecError(
            f"model spec {origin} is the volume model's spec (bayesspr.VolumeModel reads it "
            f"itself), not an SPR spec; expected an SPR spec: a name in {SPEC_DIR} "
            f"({_spr_spec_names()}) or a path to a .toml file with [model], [constants] and "
            "[priors] tables"
        )
    for table in ("model", "constants", "priors"):
        if table not in data:
            raise SpecError(f"model spec {origin}: table [{table}] is missing")
    for table in ("model", "constants", "priors", "sampler", "hierarchy"):
        if table in data and not isinstance(data[table], dict):
            raise SpecError(
                f"model spec {origin}: [{table}] = {data[table]!r}; expected a table of "
                "name = value entries"
            )
    missing = [name for name in REQUIRED_PRIORS if name not in data["priors"]]
    if missing:
        raise SpecError(f"model spec {origin}: [priors] lacks {missing}")


def _check_circuity(origin: str, constants: dict[str, Any]) -> None:
    """Raise SpecError unless ``[constants] circuity`` is given and in :data:`CIRCUITY_RANGE`."""
    if "circuity" not in constants:
        raise SpecError(f"model spec {origin}: [constants] lacks 'circuity' (road km per km)")
    low, high = CIRCUITY_RANGE
    circuity = constants["circuity"]
    if not _is_number(circuity) or not low <= circuity <= high:
        raise SpecError(
            f"model spec {origin}: [constants] circuity = {circuity!r}; expected a finite "
            f"number from {low:g} to {high:g} (road km per straight-line km: a road is never "
            "shorter than the straight line)"
        )


def _is_number(value: object) -> bool:
    """Whether ``value`` is a finite real number (not a bool)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


#: Which parameters of a distribution go together: a prior gives exactly one of these sets
#: (for LogNormal, of its location parameters ``mu`` and ``median``).
_PARAMETER_GROUPS: dict[str, list[tuple[str, ...]]] = {
    "LogNormal": [(), ("mu",), ("median",)],
    "Gamma": [("alpha", "beta"), ("mu", "sigma")],
    "Exponential": [("lam",), ("scale",)],
    "Beta": [("alpha", "beta")],
}


def _natural_range(name: str) -> tuple[float, float, bool, str]:
    """A parameter's range (low, high, whether low is excluded) and its description."""
    low, high, low_open, unit = PARAMETER_RANGES.get(name, (-math.inf, math.inf, False, ""))
    span = (
        f"{'>' if low_open else '>='} {low:g}"
        if math.isinf(high)
        else f"in {'(' if low_open else '['}{low:g}, {high:g}]"
    )
    return low, high, low_open, f"{span} ({unit})" if unit else span


def _check_prior(origin: str, name: str, prior: object) -> None:
    """Raise SpecError unless a ``[priors]`` entry is a valid fixed value or distribution.

    A fixed value must be a finite number in the parameter's natural range
    (:data:`PARAMETER_RANGES`); a distribution must be known, take only its own parameters,
    each finite (and > 0 where the distribution needs it), and have its support inside the
    parameter's range (a Normal prior on a speed could draw a negative speed).
    """
    where = f"model spec {origin}: [priors] {name}"
    if not isinstance(prior, dict):
        _check_fixed_value(where, name, prior)
        return
    dist = prior.get("dist")
    if dist not in ALLOWED_DISTS:
        raise SpecError(f"{where} has dist {dist!r}; expected one of {sorted(ALLOWED_DISTS)}")
    if name in POPULATION_PRIORS and dist != "LogNormal":
        raise SpecError(
            f"{where} has dist {dist!r}; expected 'LogNormal' (a population median is pooled "
            "on the log scale)"
        )
    params = {k: v for k, v in prior.items() if k != "dist"}
    _check_dist_parameters(where, dist, params)
    _check_support(where, name, dist, params)


def _check_fixed_value(where: str, name: str, prior: object) -> None:
    """Raise SpecError unless a fixed value is a finite number in the parameter's range."""
    low, high, low_open, natural = _natural_range(name)
    if not _is_number(prior):
        raise SpecError(
            f"{where} = {prior!r}; expected a finite number (a fixed value) or a table "
            'such as {{ dist = "LogNormal", median = 0.8, sigma = 0.1 }}'
        )
    if not ((prior > low if low_open else prior >= low) and prior <= high):
        raise SpecError(f"{where} = {prior!r}; expected a fixed value {natural}")
    if name in POPULATION_PRIORS:
        raise SpecError(
            f"{where} = {prior!r}; expected a LogNormal prior (a population median is "
            "pooled on the log scale): fix its spread instead, e.g. "
            f"{name.replace('_pop', '_sd')} = 1e-3"
        )


def _check_dist_parameters(where: str, dist: str, params: dict[str, Any]) -> None:
    """Raise SpecError unless a distribution gets only its own, finite, valid parameters."""
    allowed = DIST_PARAMETERS[dist]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise SpecError(
            f"{where}: {dist} takes no parameter(s) {unknown}; expected some of {sorted(allowed)}"
        )
    for key, value in params.items():
        if not _is_number(value) or (allowed[key] == "positive" and not value > 0):
            need = "a finite number > 0" if allowed[key] == "positive" else "a finite number"
            raise SpecError(f"{where}: {dist} {key} = {value!r}; expected {need}")
    groups = _PARAMETER_GROUPS.get(dist)
    if groups is not None:
        given = {k for k in params if dist != "LogNormal" or k in ("mu", "median")}
        if not any(given == set(g) for g in groups):
            shown = " or ".join(", ".join(g) or "neither mu nor median" for g in groups)
            raise SpecError(f"{where}: {dist} with {sorted(given)}; expected {shown}")


def _check_support(where: str, name: str, dist: str, params: dict[str, Any]) -> None:
    """Raise SpecError unless the distribution draws only values in the parameter's range."""
    low, high, _, natural = _natural_range(name)
    lower, upper = {
        "Normal": (-math.inf, math.inf),
        "TruncatedNormal": (params.get("lower", -math.inf), params.get("upper", math.inf)),
        "Beta": (0.0, 1.0),
    }.get(dist, (0.0, math.inf))
    if lower >= upper:
        raise SpecError(
            f"{where}: TruncatedNormal lower = {lower!r} and upper = {upper!r}; expected "
            "lower < upper"
        )
    if lower < low or upper > high:
        raise SpecError(
            f"{where}: {dist} draws values from {lower:g} to {upper:g}; expected a "
            f"distribution whose values are all {natural}: use LogNormal, HalfNormal, Gamma "
            "or Exponential for a positive quantity, Beta for a share"
        )


def _check_sampler(origin: str, sampler: dict[str, Any]) -> None:
    """Raise SpecError unless the ``[sampler]`` settings are known and in their ranges."""
    SamplerConfig.from_mapping(sampler, origin=origin)


def _check_hierarchy(origin: str, hierarchy: dict[str, Any]) -> None:
    """Raise SpecError unless the ``[hierarchy]`` choices are known."""
    for key, value in hierarchy.items():
        where = f"model spec {origin}: [hierarchy] {key} = {value!r}"
        if key == "centred_min_rows":
            for effect, rows in value.items() if isinstance(value, dict) else [(None, value)]:
                if effect is not None and effect not in HIERARCHY_EFFECTS:
                    raise SpecError(
                        f"{where}; {effect!r} is not a pooled effect (one of {HIERARCHY_EFFECTS})"
                    )
                if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
                    raise SpecError(
                        f"{where}; expected a whole number of rows >= 0, or one per effect"
                    )
        elif value not in ("auto", "centred", "non-centred"):
            raise SpecError(f"{where}; expected 'auto', 'centred' or 'non-centred'")


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
    return config_id(spec)


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
