"""The public API documented in docs/api.md is exactly ``bayesspr.__all__``.

docs/api.md lists the public names in the autosummary block under "## The public API", each
by the module that defines it (``~bayesspr.spr.model.SPRModel``) or at the top level
(``~bayesspr.report``). Adding a name to ``__all__`` without documenting it, or documenting
a name ``import bayesspr`` does not give, fails here.
"""

import importlib
import re
from pathlib import Path

import pytest

import bayesspr

API_MD = Path(__file__).resolve().parents[1] / "docs" / "api.md"
UNDOCUMENTED = {"__version__"}  # a string, not an API object


def _public_api_entries() -> list[str]:
    """Dotted paths in the autosummary of the "The public API" section of docs/api.md."""
    text = API_MD.read_text(encoding="utf-8")
    section = re.search(r"^## The public API\n(.*?)^## ", text, flags=re.M | re.S)
    assert section, "docs/api.md has no '## The public API' section"
    block = re.search(r"\.\. autosummary::\n(.*?)```", section.group(1), flags=re.S)
    assert block, "the public API section of docs/api.md has no autosummary block"
    entries = re.findall(r"^\s+~?(bayesspr(?:\.\w+)+)\s*$", block.group(1), flags=re.M)
    assert entries, "the autosummary block of docs/api.md lists no names"
    return entries


def test_documented_names_are_all_of_the_public_api():
    documented = [entry.rsplit(".", 1)[1] for entry in _public_api_entries()]
    assert len(documented) == len(set(documented)), "a name is listed twice in docs/api.md"
    exported = set(bayesspr.__all__) - UNDOCUMENTED
    assert set(documented) == exported, (
        f"in bayesspr.__all__ but not in docs/api.md: {sorted(exported - set(documented))}; "
        f"in docs/api.md but not in bayesspr.__all__: {sorted(set(documented) - exported)}"
    )


def test_all_has_no_duplicates_and_every_name_is_importable():
    assert len(bayesspr.__all__) == len(set(bayesspr.__all__))
    missing = [name for name in bayesspr.__all__ if not hasattr(bayesspr, name)]
    assert not missing, f"bayesspr.__all__ names that bayesspr lacks: {missing}"


@pytest.mark.parametrize("entry", _public_api_entries())
def test_documented_path_is_the_exported_object(entry):
    module_name, name = entry.rsplit(".", 1)
    module = importlib.import_module(module_name)
    assert getattr(module, name) is getattr(bayesspr, name), (
        f"docs/api.md documents {entry}, which is not bayesspr.{name}"
    )
