"""The HTML diagnostic report of a fit (bayesspr.report), on the shared demo fit."""

import base64
import copy
import html
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from PIL import Image

from bayesspr import SPRModel
from bayesspr.model import NotFittedError
from bayesspr.reporting import SECTIONS, sampler_health, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG = re.compile(r"<img\b[^>]*>")
SRC = re.compile(r'\bsrc="([^"]*)"')
ALT = re.compile(r'\balt="([^"]*)"')
HOSTILE = "<script>alert('x')</script> & \"co\""

#: Images the demo report must hold (alt texts), with history, holdout and two attachments.
EXPECTED_IMAGES = [
    "Trace plots of the hyper-parameters",
    "Rank plots of the hyper-parameters",
    "Energy plot",
    "Pair plot of the physics constants",
    "Service time per stop by city (min)",
    "Speed between stops by city (km/h)",
    "Dispatch overhead by station (h per route)",
    "Observed and replicated SPR by city",
    "Pareto k per row: routes",
    "PIT ECDF difference of the held-out routes",
    "Fan chart " + HOSTILE,
    "Fleet plan (PNG file)",
]


def _images(text):
    """(alt, png bytes) of every <img> in the page; fails on anything but a PNG data URI."""
    out = []
    for tag in IMG.findall(text):
        src = SRC.search(tag).group(1)
        assert src.startswith("data:image/png;base64,"), src[:60]
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        out.append((html.unescape(ALT.search(tag).group(1)), png))
    return out


def _with_divergences(model, n=7):
    """A copy of ``model`` whose sample_stats mark ``n`` draws of chain 0 as divergent."""
    bad = copy.copy(model)
    bad.idata = model.idata.copy(deep=True)
    stats = bad.idata["sample_stats"].to_dataset()
    div = np.zeros(stats["diverging"].shape, dtype=bool)
    div[0, :n] = True
    stats["diverging"] = (stats["diverging"].dims, div)
    bad.idata["sample_stats"] = xr.DataTree(stats)
    return bad


@pytest.fixture(scope="module")
def demo_report(demo_fit, demo_split, tmp_path_factory):
    """The demo fit's full report: history, held-out month and two attached charts."""
    history, future = demo_split
    folder = tmp_path_factory.mktemp("report")
    png_path = folder / "fleet.png"
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [1, 0])
    fig.savefig(png_path)
    plt.close(fig)
    fan, ax = plt.subplots(figsize=(5, 3))
    ax.fill_between([0, 1, 2], [1, 2, 3], [2, 4, 5])
    path = write_report(
        demo_fit,
        folder / "report.html",
        history=history,
        holdout=future,
        extra_figures={"Fan chart " + HOSTILE: fan, "Fleet plan (PNG file)": png_path},
        title="Demo " + HOSTILE,
    )
    plt.close(fan)
    return path, path.read_text(encoding="utf-8")


def test_report_is_one_complete_html_file(demo_report):
    path, text = demo_report
    assert path.is_file() and path.suffix == ".html"
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # written atomically: no temporary sibling left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["fleet.png", "report.html"]


def test_every_section_is_present_in_order(demo_report):
    _, text = demo_report
    positions = []
    for section_id, heading in SECTIONS:
        tag = f'<section id="{section_id}">\n<h2>{html.escape(heading)}</h2>'
        assert tag in text, heading
        assert f'href="#{section_id}"' in text  # table of contents
        positions.append(text.index(tag))
    assert positions == sorted(positions)
    assert 'class="error"' not in text  # no plot or table failed


def test_every_image_is_an_embedded_png_that_decodes(demo_report):
    _, text = demo_report
    images = _images(text)
    assert len(images) == len(IMG.findall(text)) > 0
    alts = [alt for alt, _ in images]
    for expected in EXPECTED_IMAGES:
        assert expected in alts, expected
    for alt, png in images:
        assert png.startswith(PNG_SIGNATURE), alt
        with Image.open(io.BytesIO(png)) as im:
            im.load()  # decodes the whole image, not only the header
            assert im.format == "PNG"
            assert im.size[0] >= 100 and im.size[1] >= 50, (alt, im.size)
            assert np.unique(np.asarray(im.convert("L"))).size > 2, f"{alt} is blank"


def test_report_loads_nothing_from_outside(demo_report):
    _, text = demo_report
    links = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', text)
    assert links
    for link in links:
        assert link.startswith(("data:image/png;base64,", "#")), link[:80]
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text and "<script" not in text and "@import" not in text


def test_text_is_escaped(demo_report):
    _, text = demo_report
    assert "<script" not in text
    escaped = html.escape(HOSTILE)
    assert f"<title>Demo {escaped}</title>" in text
    assert f"<h1>Demo {escaped}</h1>" in text
    assert f"<h3>Fan chart {escaped}</h3>" in text


def test_health_table_agrees_with_the_fit_diagnostics(demo_fit, demo_report):
    health = sampler_health(demo_fit.idata).set_index("check")
    _, text = demo_report
    sampler_checks = health.drop(index="Tree depth at maximum")
    assert set(health["status"]) <= {"PASS", "FAIL", "WARN"}
    assert (sampler_checks["status"] == "PASS").all() == bool(demo_fit.diagnostics["ok"])
    assert health.loc["Divergences", "status"] == (
        "PASS" if demo_fit.diagnostics["divergences"] == 0 else "FAIL"
    )
    for check, row in health.iterrows():
        assert (
            f"<td>{html.escape(check)}</td>" in text
            and f'<td class="{row["status"]}">{row["status"]}</td>' in text
        )
    # the advice column is filled exactly where a check does not pass
    assert ((health["advice"] == "") == (health["status"] == "PASS")).all()


def test_divergences_render_a_fail_row_with_advice(demo_fit, tmp_path):
    bad = _with_divergences(demo_fit, n=7)
    health = sampler_health(bad.idata).set_index("check")
    assert health.loc["Divergences", "status"] == "FAIL"
    assert health.loc["Divergences", "value"].startswith("7 of ")
    assert "target_accept" in health.loc["Divergences", "advice"]
    text = write_report(bad, tmp_path / "bad.html").read_text(encoding="utf-8")
    assert '<p class="verdict FAIL">FAIL:' in text
    assert re.search(r'<td>Divergences</td><td>7 of \d+ draws</td><td>= 0</td><td class="FAIL">',
                     text)  # fmt: skip
    assert "7 divergent transitions are marked in red" in text
    # the demo fit itself is untouched
    assert (
        int(demo_fit.idata["sample_stats"]["diverging"].sum())
        == demo_fit.diagnostics["divergences"]
    )


def test_sections_without_inputs_say_so_plainly(demo_fit, tmp_path):
    text = write_report(demo_fit, tmp_path / "bare.html").read_text(encoding="utf-8")
    for section_id, _ in SECTIONS:
        assert f'<section id="{section_id}">' in text
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', text, flags=re.S))
    assert "No training table was given" in sections["ppc"]
    assert "No held-out data was given" in sections["pit"]
    assert "No forecast or fleet charts were attached" in sections["charts"]
    for empty in ("ppc", "pit", "charts"):
        assert "<img" not in sections[empty]
    assert "<img" in sections["loo"]  # PSIS-LOO needs only the fit's log-likelihood


def test_fit_without_sampler_statistics_is_not_passed(demo_fit):
    tree = demo_fit.idata.copy()
    del tree["sample_stats"]
    health = sampler_health(tree)
    assert (health["status"] == "N/A").all()
    assert health["advice"].str.contains("NUTS").all()


def test_bad_inputs_are_refused_before_writing(demo_fit, demo_split, tmp_path):
    history, _ = demo_split
    target = tmp_path / "never.html"
    with pytest.raises(ValueError, match="fitted on"):
        write_report(demo_fit, target, history=history.iloc[:-1])
    shifted = history.assign(routes=history["routes"] + 1)
    with pytest.raises(ValueError, match="differ from the fit's observed routes"):
        write_report(demo_fit, target, history=shifted)
    not_png = tmp_path / "chart.png"
    not_png.write_text("not a picture")
    with pytest.raises(ValueError, match="not a PNG file"):
        write_report(demo_fit, target, extra_figures={"chart": not_png})
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        write_report(demo_fit, target, extra_figures={"chart": tmp_path / "missing.png"})
    with pytest.raises(NotFittedError):
        write_report(SPRModel(), target)
    assert list(tmp_path.iterdir()) == [not_png]
