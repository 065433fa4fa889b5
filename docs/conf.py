"""Sphinx configuration of the bayesspr documentation.

Build with ``make docs`` (or ``sphinx-build -W --keep-going -b html docs docs/_build/html``).
The quickstart and the notebooks are executed at build time on the embedded demo world; their
outputs are cached in ``docs/_build/.jupyter_cache`` and re-run only when a cell changes.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

# Build from a clean clone without installing: the package is imported from the checkout.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Kernels started by myst-nb import the checkout too (they inherit the environment).
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)

project = "bayesspr"
author = "bayesspr contributors"
copyright = "bayesspr contributors"
version = release = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

extensions = [
    "myst_nb",  # MyST Markdown pages and executed MyST-Markdown notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # numpydoc-style docstrings
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static: formulas typeset offline
]
# No intersphinx: the build must not need the network.

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "**/.ipynb_checkpoints",
    "Thumbs.db",
    ".DS_Store",
    "notebooks/README.md",
    "validation_table.md",  # included by validation.md; written by `make validate`
]

# MyST
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Notebook execution (myst-nb): executed at build time, any error fails the build.
nb_execution_mode = "cache"
nb_execution_cache_path = str(ROOT / "docs" / "_build" / ".jupyter_cache")
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 1200  # seconds per cell; the fits take about a minute on 2 cores
nb_execution_in_temp = True  # files a notebook writes go to a temporary folder
nb_merge_streams = True

# autodoc / autosummary / napoleon
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_typehints_description_target = "documented"
autodoc_default_options = {"members": True, "show-inheritance": False}
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True
napoleon_use_rtype = False

# HTML
html_theme = "pydata_sphinx_theme"
html_title = f"bayesspr {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_static_path: list[str] = []
html_last_updated_fmt = None
