"""The documentation builds with warnings as errors, and its examples run.

``make test`` builds the site without running its notebooks (pages, API reference, offline
images and formulas); ``make validate`` builds it again executing the quickstart and the
notebooks on the embedded demo world, which is the test that the worked examples still work.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS_PACKAGES = ("sphinx", "myst_nb", "pydata_sphinx_theme", "ipykernel")
API_NAMES = (
    "bayesspr.spr.model.SPRModel",
    "bayesspr.volume.model.VolumeModel",
    "bayesspr.forecasting.compose.forecast",
    "bayesspr.fleet.decisions.plan",
    "bayesspr.report",
)
EXECUTED_PAGES = ("quickstart.html", "notebooks/scenarios.html", "notebooks/fleet_plan.html")


def _missing_docs_packages() -> list[str]:
    return [name for name in DOCS_PACKAGES if importlib.util.find_spec(name) is None]


def _build(tmp_path_factory, execute: bool):
    """Build the site from scratch (fresh notebook cache) with -W into a temporary folder."""
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(f"docs packages not installed ({', '.join(missing)}): pip install -e '.[docs]'")
    tmp = tmp_path_factory.mktemp("docs")
    out = tmp / "html"
    mode = "cache" if execute else "off"
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-d",
        str(tmp / "doctrees"),
        "-D",
        f"nb_execution_cache_path={tmp / 'jupyter_cache'}",
        "-D",
        f"nb_execution_mode={mode}",
        str(ROOT / "docs"),
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=ROOT)
    assert done.returncode == 0, (
        f"sphinx-build failed (exit {done.returncode}):\n{done.stdout[-4000:]}\n"
        f"{done.stderr[-8000:]}"
    )
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built without running its notebooks."""
    return _build(tmp_path_factory, execute=False)


@pytest.fixture(scope="module")
def executed_site(tmp_path_factory):
    """The site built running the quickstart and the notebooks (make validate)."""
    return _build(tmp_path_factory, execute=True)


@pytest.mark.slow
def test_site_has_the_pages(site):
    pages = [
        "index.html",
        "installation.html",
        "quickstart.html",
        "data.html",
        "physics.html",
        "model.html",
        "forecast.html",
        "fleet.html",
        "backtest.html",
        "monitor.html",
        "scale.html",
        "validation.html",
        "report.html",
        "notebooks.html",
        "api.html",
        "changelog.html",
        "contributing.html",
        *EXECUTED_PAGES,
    ]
    missing = [p for p in pages if not (site / p).is_file()]
    assert not missing, f"pages missing from the built site: {missing}"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="quickstart.html"' in index


@pytest.mark.validation
@pytest.mark.parametrize("page", EXECUTED_PAGES)
def test_examples_were_executed(executed_site, page, evidence, request):
    html = (executed_site / page).read_text(encoding="utf-8")
    outputs = html.count('class="cell_output')
    traceback = "Traceback" in html
    chart = bool(re.search(r'<img[^>]+src="(\.\./)?_images/', html))
    evidence.record(
        request,
        f"docs example runs: {page}",
        f"{outputs} cell outputs, traceback {traceback}, chart {chart}",
        "≥ 3 outputs, no traceback, a chart",
        outputs >= 3 and not traceback and chart,
    )
    assert outputs >= 3, f"{page}: expected executed cell outputs, found {outputs}"
    assert not traceback, f"{page}: an executed cell shows a traceback"
    assert chart, f"{page}: no executed chart"


@pytest.mark.slow
def test_api_reference_is_generated(site):
    html = (site / "api.html").read_text(encoding="utf-8")
    for name in API_NAMES:
        assert f'id="{name}"' in html, f"api.html documents no {name}"


@pytest.mark.slow
def test_images_are_local(site):
    remote = {}
    for page in site.rglob("*.html"):
        found = re.findall(r'<img[^>]+src="(https?:[^"]+)"', page.read_text(encoding="utf-8"))
        if found:
            remote[str(page.relative_to(site))] = found
    assert not remote, f"pages that load images over the network: {remote}"


@pytest.mark.slow
def test_formulas_typeset_offline(site):
    html = (site / "physics.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', html, flags=re.IGNORECASE)
    assert scripts, "physics.html loads no MathJax"
    remote = [s for s in scripts if s.startswith(("http:", "https:", "//"))]
    assert not remote, f"MathJax comes from the network: {remote}"
    assert all((site / s.split("?")[0]).is_file() for s in scripts), scripts
    assert (site / "_static/mathjax/output/chtml/fonts/woff-v2").is_dir()
