"""The volume model's spec: ``models/volume.toml`` or a copy of it, checked.

A volume spec has the same role as an SPR spec (:func:`bayesspr.spr.spec.load_spec`): it is
the model's configuration as data. Its tables:

* ``[priors]``: the scales and locations of :data:`VOLUME_PRIORS` (log scale), every one
  present or taken from the shipped file;
* ``[design]``: ``knot_days`` (days between the random-walk knots, 7 to 366) and
  ``harmonics`` (yearly Fourier pairs, 0 to :data:`~bayesspr.defaults.MAX_HARMONICS`);
* ``[sampler]``: NUTS settings (:class:`~bayesspr.inference.fitted_model.SamplerConfig`);
* ``[blocks]``: per block of :data:`VOLUME_BLOCKS` (sampled one by one), the settings of
  :data:`BLOCK_SETTINGS` that differ from ``[sampler]``, and optionally a ``large`` table:
  settings for a block of at least ``parameters`` free parameters (a network's size).

Copy ``models/volume.toml``, edit it and pass its path: ``VolumeModel("my_volume.toml")``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bayesspr.defaults import MAX_HARMONICS
from bayesspr.errors import ArgumentError
from bayesspr.inference.fitted_model import SamplerConfig, with_mass_matrix
from bayesspr.spr.spec import SPEC_DIR, SpecError, read_spec_file, spec_file
from bayesspr.volume.inputs import merged_priors

#: The shipped spec, as read: ``models/volume.toml``.
SHIPPED_VOLUME_SPEC: dict[str, Any] = read_spec_file(SPEC_DIR / "volume.toml")

#: Default priors (see ``models/volume.toml``).
VOLUME_PRIORS: dict[str, float] = dict(SHIPPED_VOLUME_SPEC["priors"])

#: Tables a volume spec may have.
VOLUME_SPEC_TABLES = ("priors", "design", "sampler", "blocks")

#: The volume model's two independent blocks, in the order the fit samples them: station
#: totals, and the zips' regressions (shares of their station, packages per stop). They share
#: no parameter, so each is its own NUTS run (:meth:`bayesspr.VolumeModel.build_blocks`).
VOLUME_BLOCKS = ("station_totals", "zips")

#: Sampler settings a ``[blocks]`` entry may change (chains, draws and tuning are common).
BLOCK_SETTINGS = ("target_accept", "mass_matrix")

#: A ``[blocks]`` entry's ``large`` table: from ``parameters`` free parameters up, its
#: settings (some of :data:`BLOCK_SETTINGS`) apply over the block's own.
LARGE_BLOCK_KEY = "large"

#: Range of each ``[design]`` setting (whole numbers, inclusive) and what it means.
DESIGN_RANGES: dict[str, tuple[int, int, str]] = {
    "knot_days": (7, 366, "days between the random-walk knots; 28 is usual"),
    "harmonics": (0, MAX_HARMONICS, "Fourier pairs of the yearly cycle; 2 to 4 are usual"),
}


def load_volume_spec(
    spec: str | Path | Mapping[str, Any] = "volume",
    *,
    priors: Mapping[str, float] | None = None,
    design: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Load and check a volume spec, with overrides.

    Parameters
    ----------
    spec : str, pathlib.Path or mapping
        ``"volume"`` (the shipped ``models/volume.toml``), a path to a ``.toml`` file, or a
        mapping of the same tables (for instance the configuration stored with a saved fit).
        Tables or entries it lacks are taken from the shipped spec.
    priors : mapping, optional
        Prior overrides (name → value, log scale), applied over the spec's.
    design : mapping, optional
        ``[design]`` overrides (``knot_days``, ``harmonics``); None values are ignored.

    Returns
    -------
    dict
        ``name`` (str), ``priors`` (every prior, checked), ``design`` (``knot_days`` and
        ``harmonics`` as ints) and ``sampler`` (the settings as given, checked).

    Raises
    ------
    SpecError
        If the file is missing or not TOML, a table is unknown or not a table, a prior is
        unknown or not a finite number (positive for a scale), a design setting is not a
        whole number in its range, or a sampler setting is unknown or out of range; the
        message names the entry, its value and what was expected.
    """
    data, origin = _read(spec)
    unknown = sorted(set(data) - {*VOLUME_SPEC_TABLES, "name"})
    if unknown:
        raise SpecError(
            f"volume spec {origin}: unknown table(s) {unknown}; expected some of "
            f"{list(VOLUME_SPEC_TABLES)} (prior overrides go in VolumeModel(priors={{...}}))"
        )
    for table in VOLUME_SPEC_TABLES:
        if not isinstance(data.get(table, {}), Mapping):
            raise SpecError(f"volume spec {origin}: [{table}] = {data[table]!r}; expected a table")
    try:
        merged = merged_priors(data.get("priors", {}), VOLUME_PRIORS)
    except SpecError as exc:
        raise SpecError(f"volume spec {origin}: {exc}") from None
    merged = merged_priors(priors, merged)  # its messages name the prior, as given
    chosen = {**SHIPPED_VOLUME_SPEC["design"], **data.get("design", {})}
    unknown = sorted(set(chosen) - set(DESIGN_RANGES))
    if unknown:
        raise SpecError(
            f"volume spec {origin}: [design] has unknown setting(s) {unknown}; expected "
            f"some of {sorted(DESIGN_RANGES)}"
        )
    checked_design = {
        name: _whole(f"volume spec {origin}: [design] ", name, chosen[name])
        for name in DESIGN_RANGES
    }
    for name, value in (design or {}).items():
        if value is not None:
            checked_design[name] = _whole("VolumeModel(", name, value, closing=")")
    sampler = dict(data.get("sampler", SHIPPED_VOLUME_SPEC["sampler"]))
    SamplerConfig.from_mapping(sampler, origin=origin)  # checked here, built when fitting
    sampler = with_mass_matrix(sampler)  # a fit saved with the old setting
    return {
        "name": str(data.get("name", "volume")),
        "priors": merged,
        "design": checked_design,
        "sampler": sampler,
        "blocks": _blocks(data.get("blocks", SHIPPED_VOLUME_SPEC["blocks"]), sampler, origin),
    }


def _blocks(
    blocks: Mapping[str, Any], sampler: Mapping[str, Any], origin: str
) -> dict[str, dict[str, Any]]:
    """The ``[blocks]`` table checked: known blocks, known settings, valid with ``sampler``."""
    unknown = sorted(set(blocks) - set(VOLUME_BLOCKS))
    if unknown:
        raise SpecError(
            f"volume spec {origin}: [blocks] has unknown block(s) {unknown}; expected some of "
            f"{list(VOLUME_BLOCKS)}"
        )
    checked = {}
    for name in VOLUME_BLOCKS:
        settings = blocks.get(name, {})
        if not isinstance(settings, Mapping):
            raise SpecError(
                f"volume spec {origin}: [blocks] {name} = {settings!r}; expected a table of "
                f"some of {list(BLOCK_SETTINGS)}"
            )
        settings = _old_mass_matrix_read(settings, f"{origin} [blocks] {name}")
        unknown = sorted(set(settings) - {*BLOCK_SETTINGS, LARGE_BLOCK_KEY})
        if unknown:
            raise SpecError(
                f"volume spec {origin}: [blocks] {name} has unknown setting(s) {unknown}; "
                f"expected some of {[*BLOCK_SETTINGS, LARGE_BLOCK_KEY]} (the others are "
                "common: [sampler])"
            )
        own = {k: v for k, v in settings.items() if k != LARGE_BLOCK_KEY}
        where = f"{origin} [blocks] {name}"
        SamplerConfig.from_mapping({**sampler, **own}, origin=where)
        checked[name] = own
        if LARGE_BLOCK_KEY in settings:
            checked[name][LARGE_BLOCK_KEY] = _large(settings[LARGE_BLOCK_KEY], sampler, own, where)
    return checked


def _old_mass_matrix_read(settings: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A block table with the old ``low_rank_mass_matrix`` read (:func:`with_mass_matrix`).

    A bad old value is a SpecError naming where in the spec, as every other bad setting.
    """
    try:
        return with_mass_matrix(settings)
    except ArgumentError as exc:
        raise SpecError(f"volume spec {where}: {str(exc).removeprefix('sampler ')}") from None


def _large(
    large: Any, sampler: Mapping[str, Any], own: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """A block's ``large`` table checked: a whole ``parameters`` ≥ 1 and block settings."""
    expected = f"a table with 'parameters' (a whole number >= 1) and some of {list(BLOCK_SETTINGS)}"
    if not isinstance(large, Mapping):
        raise SpecError(f"volume spec {where}.large = {large!r}; expected {expected}")
    large = _old_mass_matrix_read(large, f"{where}.large")
    threshold = large.get("parameters")
    unknown = sorted(set(large) - {"parameters", *BLOCK_SETTINGS})
    whole = not isinstance(threshold, bool) and isinstance(threshold, int | np.integer)
    if unknown or not whole or threshold < 1:
        raise SpecError(
            f"volume spec {where}.large = {dict(large)!r}; expected {expected}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    settings = {k: v for k, v in large.items() if k != "parameters"}
    SamplerConfig.from_mapping({**sampler, **own, **settings}, origin=f"{where}.large")
    return {"parameters": int(threshold), **settings}


def _read(spec: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The spec's tables and where they came from (for messages)."""
    if isinstance(spec, Mapping):
        return copy.deepcopy(dict(spec)), "(the given mapping)"
    if not isinstance(spec, str | Path):
        raise SpecError(
            f"volume spec {spec!r}; expected 'volume', a path to a .toml file or a mapping"
        )
    expected = f"'volume' (the shipped {SPEC_DIR / 'volume.toml'}) or a path to a copy of it"
    path = spec_file(spec, "volume", expected)
    data = read_spec_file(path)
    if "model" in data:
        raise SpecError(
            f"volume spec {path} is an SPR spec (it has a [model] table); expected a copy of "
            f"{SPEC_DIR / 'volume.toml'}"
        )
    return data, str(path)


def _whole(where: str, name: str, value: Any, closing: str = "") -> int:
    """``value`` as an int if it is a whole number in ``DESIGN_RANGES[name]``.

    The message reads ``{where}{name}={value}{closing}: expected ...``.
    """
    low, high, meaning = DESIGN_RANGES[name]
    whole = not isinstance(value, bool) and isinstance(value, int | np.integer)
    if not whole or not low <= value <= high:
        raise SpecError(
            f"{where}{name}={value!r}{closing}: expected a whole number from {low} to {high} "
            f"({meaning})"
        )
    return int(value)
