"""The HTML diagnostic report of a fit (bayesspr.report), on the shared demo fit."""

import base64
import contextlib
import copy
import html
import io
import itertools
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.text import Text
from PIL import Image

import bayesspr
from bayesspr import SPRModel, VolumeModel
from bayesspr.errors import NotFittedError
from bayesspr.inference.diagnostics import ESS_MIN, RHAT_MAX, convergence
from bayesspr.reporting import html as reporting
from bayesspr.reporting import markup, sections
from bayesspr.reporting.figures import LABEL_FREE
from bayesspr.reporting.html import (
    SECTIONS,
    VOLUME_SECTIONS,
    parameter_diagnostics,
    sampler_health,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG = re.compile(r"<img\b[^>]*>")
SRC = re.compile(r'\bsrc="([^"]*)"')
ALT = re.compile(r'\balt="([^"]*)"')
HOSTILE = "<script>alert('x')</script> & \"co\""

#: Images the demo report must hold (alt texts), with history, holdout and two attachments.
EXPECTED_IMAGES = [
    "Trace plots of the hyper-parameters",
    "Rank plots of the worst parameters",
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


def _shared(ax, which):
    group = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    return [a for a in group.get_siblings(ax) if a.get_visible() and a.axison]


def _unlabelled_axes(fig):
    """Axes of ``fig`` that lack an x or y label, their own or a shared neighbour's.

    A grid labels a shared axis once (the bottom row, the left column); an axes marked
    LABEL_FREE is a column of names that labels the y-axis it shares.
    """
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    problems = [] if shown else ["the figure has no axes"]
    for ax in shown:
        if ax.get_gid() == LABEL_FREE:
            continue
        for which in ("x", "y"):
            siblings = _shared(ax, which)
            labelled = any(getattr(a, f"get_{which}label")().strip() for a in siblings)
            if which == "y" and any(a.get_gid() == LABEL_FREE for a in siblings):
                labelled = True
            if not labelled:
                problems.append(
                    f"axes {ax.get_title()!r} at {ax.get_position().bounds}: no {which} label"
                )
    return problems


def _texts(ax):
    """The visible, non-empty text artists of one axes: titles, labels, ticks, annotations."""
    texts = [c for c in ax.get_children() if isinstance(c, Text)]
    for axis in (ax.xaxis, ax.yaxis):
        texts += [axis.label, axis.get_offset_text()]
        low, high = sorted(axis.get_view_interval())
        pad = 1e-9 * max(1.0, abs(high - low))
        for tick in axis.get_major_ticks():
            if low - pad <= tick.get_loc() <= high + pad:
                texts += [tick.label1, tick.label2]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _overlaps(fig):
    """Pairs of text items of ``fig`` whose boxes overlap, and texts inside another axes."""
    renderer = fig.canvas.get_renderer()
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    boxes = []
    for ax in shown:
        boxes += [
            (ax, t.get_text(), t.get_window_extent(renderer).expanded(1, 1).padded(-1))
            for t in _texts(ax)
        ]
        if ax.get_legend() is not None:
            boxes.append((ax, "legend", ax.get_legend().get_window_extent(renderer).padded(-1)))
    for legend in fig.legends:
        boxes.append((None, "figure legend", legend.get_window_extent(renderer).padded(-1)))
    found = [
        f"{a!r} overlaps {b!r}"
        for (_, a, box_a), (_, b, box_b) in itertools.combinations(boxes, 2)
        if box_a.overlaps(box_b)
    ]
    for owner, text, box in boxes:
        for ax in shown:
            if (
                ax is not owner
                and ax.get_gid() != LABEL_FREE
                and box.overlaps(ax.get_window_extent(renderer).padded(-1))
            ):
                found.append(f"{text!r} lies inside the axes titled {ax.get_title()!r}")
    return found


def _summary(fig):
    """What the tests need to know of one report figure, read before it is encoded."""
    fig.canvas.draw()
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    return {
        "unlabelled": _unlabelled_axes(fig),
        "overlaps": _overlaps(fig),
        "titles": [ax.get_title() for ax in shown],
        "title_colors": [ax.title.get_color() for ax in shown],
    }


@contextlib.contextmanager
def _capturing_figures():
    """Record a summary of every figure the report builds, by its alt text."""
    seen, current = {}, {}
    plot, fig_png = markup.plot, markup.fig_png

    def capture_plot(make, alt, caption, **kwargs):
        def made():
            fig = make()
            current["alt"] = alt
            return fig

        return plot(made, alt, caption, **kwargs)

    def capture_png(fig):
        png = fig_png(fig)
        if "alt" in current:  # a figure of the report, not one the caller attached
            seen[current.pop("alt")] = _summary(fig)
        return png

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(markup, "plot", capture_plot)
        mp.setattr(markup, "fig_png", capture_png)
        yield seen


def _rank_panels(figures):
    """(parameters plotted, parameters flagged as failing) of the report's rank plots."""
    rank = figures["Rank plots of the worst parameters"]
    plotted = [title.split("\n")[0] for title in rank["titles"]]
    flagged = [title.split("\n")[0] for title in rank["titles"] if "FAILS" in title]
    return plotted, flagged


def _verdict(text):
    return re.search(r'<p class="verdict (\w+)">(.*?)</p>', text, flags=re.S).groups()


def _stuck_fit(variable, element=None, *, chains=4, draws=500):
    """A hand-made SPR-like fit whose chain 0 of ``variable`` (or one element) is stuck."""
    rng = np.random.default_rng(11)
    stations = ["BOS1", "BOS/2", "CHI1"]
    post = xr.Dataset(
        {
            "tour_constant": (("chain", "draw"), rng.normal(0.8, 0.01, (chains, draws))),
            "overhead_hours_sd": (("chain", "draw"), rng.gamma(16.0, 0.0125, (chains, draws))),
            "overhead_hours_station": (
                ("chain", "draw", "station"),
                rng.normal(0.5, 0.1, (chains, draws, len(stations))),
            ),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws), "station": stations},
    )
    values = post[variable].to_numpy().copy()
    index = (0, slice(None)) if element is None else (0, slice(None), element)
    values[index] = values[index].mean() + 3.0 * values.std() + 1e-4 * rng.normal(size=draws)
    post[variable] = (post[variable].dims, values)
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros((chains, draws), bool)),
            "energy": (("chain", "draw"), rng.normal(0.0, 5.0, (chains, draws))),
            "maxdepth_reached": (("chain", "draw"), np.zeros((chains, draws), bool)),
            "depth": (("chain", "draw"), np.full((chains, draws), 4)),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
    )
    model = SPRModel()
    model.idata = xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})
    model.diagnostics = convergence(model.idata)
    return model


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
    with _capturing_figures() as figures:
        path = write_report(
            demo_fit,
            folder / "report.html",
            history=history,
            holdout=future,
            extra_figures={"Fan chart " + HOSTILE: fan, "Fleet plan (PNG file)": png_path},
            title="Demo " + HOSTILE,
        )
    plt.close(fan)
    return path, path.read_text(encoding="utf-8"), figures


@pytest.fixture(scope="module")
def volume_report(demo_volume_fit, demo_split, tmp_path_factory):
    """The demo volume fit's report, with the history it was fitted on."""
    history, _ = demo_split
    folder = tmp_path_factory.mktemp("volume_report")
    with _capturing_figures() as figures:
        path = bayesspr.report(demo_volume_fit, folder / "volume.html", history=history)
    return path, path.read_text(encoding="utf-8"), figures


def test_report_is_one_complete_html_file(demo_report):
    path, text, _ = demo_report
    assert path.is_file() and path.suffix == ".html"
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # written atomically: no temporary sibling left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["fleet.png", "report.html"]


def test_the_page_is_the_shipped_template_with_its_style_sheet_embedded(demo_report):
    """Layout and style are package data (templates/), filled in without a placeholder left."""
    from importlib import resources

    _, text, _ = demo_report
    templates = resources.files("bayesspr.reporting") / "templates"
    css = (templates / "report.css").read_text(encoding="utf-8")
    assert f"<style>\n{css}</style>" in text
    page = (templates / "report.html").read_text(encoding="utf-8")
    assert "${sections}" in page and "${css}" in page
    head = page.split("${title}")[0]
    assert text.startswith(head)
    assert "${" not in text.replace(css, "")


def test_page_fills_template_placeholders_and_keeps_dollar_signs_in_content():
    facts = [("model", "cost $5 <b>")]
    sections = (("a", "First & one"), ("b", "Second"))
    page = reporting._page("T $x", facts, sections, [("a", "<p>$HOME</p>"), ("b", "<p>2</p>")])
    assert "<title>T $x</title>" in page and "<h1>T $x</h1>" in page
    assert "cost $5 &lt;b&gt;" in page
    assert '<section id="a">\n<h2>First &amp; one</h2>\n<p>$HOME</p>\n</section>\n' in page
    assert page.index('<section id="a">') < page.index('<section id="b">')
    assert page.endswith("</section>\n</body>\n</html>\n")
    assert '<li><a href="#b">Second</a></li>' in page


def test_every_section_is_present_in_order(demo_report):
    _, text, _ = demo_report
    positions = []
    for section_id, heading in SECTIONS:
        tag = f'<section id="{section_id}">\n<h2>{html.escape(heading)}</h2>'
        assert tag in text, heading
        assert f'href="#{section_id}"' in text  # table of contents
        positions.append(text.index(tag))
    assert positions == sorted(positions)
    assert 'class="error"' not in text  # no plot or table failed


def test_every_image_is_an_embedded_png_that_decodes(demo_report):
    _, text, _ = demo_report
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
    _, text, _ = demo_report
    links = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', text)
    assert links
    for link in links:
        assert link.startswith(("data:image/png;base64,", "#")), link[:80]
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text and "<script" not in text and "@import" not in text


def test_text_is_escaped(demo_report):
    _, text, _ = demo_report
    assert "<script" not in text
    escaped = html.escape(HOSTILE)
    assert f"<title>Demo {escaped}</title>" in text
    assert f"<h1>Demo {escaped}</h1>" in text
    assert f"<h3>Fan chart {escaped}</h3>" in text


def test_health_table_agrees_with_the_fit_diagnostics(demo_fit, demo_report):
    health = sampler_health(demo_fit.idata).set_index("check")
    _, text, _ = demo_report
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
    assert re.search(
        r'<td>Divergences</td><td>7 of \d+ draws</td><td>= 0</td><td class="FAIL">', text
    )
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


# --------------------------------------------------------------------------- one verdict
@pytest.mark.parametrize(
    ("variable", "element", "label"),
    [
        ("overhead_hours_sd", None, "overhead_hours_sd"),
        ("overhead_hours_station", 1, "overhead_hours_station[BOS/2]"),
    ],
)
def test_a_stuck_chain_fails_the_banner_and_only_its_parameter_is_flagged(
    variable, element, label, tmp_path
):
    model = _stuck_fit(variable, element)
    table = parameter_diagnostics(model.idata)
    assert table.index[table["failing"]].tolist() == [label]
    assert table.loc[label, "r_hat"] > RHAT_MAX
    assert not model.diagnostics["ok"]  # convergence agrees that the fit fails
    with _capturing_figures() as figures:
        text = write_report(model, tmp_path / "stuck.html").read_text(encoding="utf-8")
    assert 'class="error"' not in text
    status, verdict = _verdict(text)
    assert status == "FAIL" and verdict.startswith("FAIL:")
    assert "R-hat (max)" in verdict and html.escape(label) in verdict
    health = sampler_health(model.idata).set_index("check")
    assert health.loc["R-hat (max)", "status"] == "FAIL"
    assert label in health.loc["R-hat (max)", "value"]
    assert health.loc["Divergences", "status"] == "PASS"
    plotted, flagged = _rank_panels(figures)
    assert plotted == flagged == [label]
    # the worst-parameters table lists exactly the failing parameter
    worst = re.search(r"Parameters that miss a threshold.*?</table>", text, flags=re.S).group(0)
    assert re.findall(r"<tr><td>([^<]+)</td>", worst) == [html.escape(label)]


def test_a_passing_fit_has_a_pass_banner_and_no_flagged_rank_plot(demo_fit, demo_report):
    _, text, figures = demo_report
    table = parameter_diagnostics(demo_fit.idata)
    failing = table.index[table["failing"]].tolist()
    conv = convergence(demo_fit.idata)
    rhat_ess_ok = (
        conv["rhat_max"] <= RHAT_MAX
        and conv["ess_bulk_min"] >= ESS_MIN
        and conv["ess_tail_min"] >= ESS_MIN
    )
    assert (not failing) == rhat_ess_ok
    status, _ = _verdict(text)
    assert status == ("PASS" if demo_fit.diagnostics["ok"] else "FAIL")
    plotted, flagged = _rank_panels(figures)
    assert flagged == failing[: sections._RANK_MAX]
    if not failing:  # reference plots of the worst parameters, none flagged
        assert plotted == table.index[: len(plotted)].tolist()
        assert set(figures["Rank plots of the worst parameters"]["title_colors"]) == {"black"}


@pytest.mark.parametrize("fit", ["demo_fit", "demo_volume_fit"])
def test_parameter_table_extremes_are_the_convergence_summary(fit, request):
    idata = request.getfixturevalue(fit).idata
    table = parameter_diagnostics(idata)
    conv = convergence(idata)
    assert table["r_hat"].max() == pytest.approx(conv["rhat_max"])
    assert table["ess_bulk"].min() == pytest.approx(conv["ess_bulk_min"])
    assert table["ess_tail"].min() == pytest.approx(conv["ess_tail_min"])
    assert table.loc[table["r_hat"].idxmax(), "variable"] == conv["rhat_worst"]
    n_scalars = sum(
        int(np.prod([da.sizes[d] for d in da.dims if d not in ("chain", "draw")]))
        for da in idata["posterior"].data_vars.values()
    )
    assert len(table) == n_scalars


# --------------------------------------------------------------------------- figures
@pytest.mark.parametrize("report", ["demo_report", "volume_report"])
def test_every_axis_of_every_figure_is_labelled(report, request):
    _, text, figures = request.getfixturevalue(report)
    alts = [alt for alt, _ in _images(text)]
    assert set(figures) <= set(alts) and len(figures) >= 3
    for alt, summary in figures.items():
        assert summary["unlabelled"] == [], alt


@pytest.mark.parametrize("report", ["demo_report", "volume_report"])
def test_no_text_overlaps_in_any_figure(report, request):
    _, _, figures = request.getfixturevalue(report)
    for alt, summary in figures.items():
        assert summary["overlaps"] == [], alt


# --------------------------------------------------------------------------- volume report
def test_volume_report_is_self_contained_with_health_and_verdict(demo_volume_fit, volume_report):
    path, text, _ = volume_report
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert sorted(p.name for p in path.parent.iterdir()) == ["volume.html"]
    links = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', text)
    assert links and all(link.startswith(("data:image/png;base64,", "#")) for link in links)
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert 'class="error"' not in text
    positions = []
    for section_id, heading in VOLUME_SECTIONS:
        tag = f'<section id="{section_id}">\n<h2>{html.escape(heading)}</h2>'
        assert tag in text, heading
        positions.append(text.index(tag))
    assert positions == sorted(positions)
    health = sampler_health(demo_volume_fit.idata).set_index("check")
    for check, row in health.iterrows():
        assert f"<td>{html.escape(check)}</td>" in text
        assert f'<td class="{row["status"]}">{row["status"]}</td>' in text
    status, _ = _verdict(text)
    assert status == ("PASS" if demo_volume_fit.diagnostics["ok"] else "FAIL")
    alts = [alt for alt, _ in _images(text)]
    for expected in (
        "Rank plots of the worst parameters",
        "Energy plot",
        "Observed and replicated daily stops by station",
    ):
        assert expected in alts
    for alt, png in _images(text):
        with Image.open(io.BytesIO(png)) as im:
            im.load()
            assert np.unique(np.asarray(im.convert("L"))).size > 2, f"{alt} is blank"
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', text, flags=re.S))
    for prior in ("growth_sd_station", "drift_sd_station", "noise_sd_station"):
        assert f"<td>{prior}</td>" in sections["priors"]
    stations = sorted(demo_volume_fit.zips["station"].unique())
    for station in ["all", *stations]:
        assert f"<tr><td>{station}</td>" in sections["ppc"]
    assert "packages per route" not in sections["ppc"]  # not the SPR report's check
    # a fit of independent blocks: E-BFMI per block and chain, the energy plot of the worst
    ebfmi = demo_volume_fit.idata["sample_stats"]["block"].to_numpy()
    assert list(ebfmi) == ["station_totals", "zips"]
    assert "per chain, by block: station_totals " in sections["health"]
    assert "this is the block of lowest E-BFMI" in sections["energy"]


def test_volume_report_without_history_says_so(demo_volume_fit, tmp_path):
    text = write_report(demo_volume_fit, tmp_path / "bare.html").read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', text, flags=re.S))
    assert list(sections) == [sid for sid, _ in VOLUME_SECTIONS]
    assert "No training table was given" in sections["ppc"]
    assert "<img" not in sections["ppc"]


def test_volume_report_refuses_bad_inputs_before_writing(demo_volume_fit, demo_split, tmp_path):
    history, future = demo_split
    target = tmp_path / "never.html"
    with pytest.raises(ValueError, match="fitted on"):
        write_report(demo_volume_fit, target, history=history.iloc[:-40])
    more = history.assign(stops=history["stops"] + 1, packages=history["packages"] + 1)
    with pytest.raises(ValueError, match="differ from the fit's observed stops"):
        write_report(demo_volume_fit, target, history=more)
    with pytest.raises(ValueError, match="holdout"):
        write_report(demo_volume_fit, target, holdout=future)
    with pytest.raises(NotFittedError, match="VolumeModel"):
        write_report(VolumeModel(), target)
    with pytest.raises(TypeError, match="SPRModel or a VolumeModel"):
        write_report(object(), target)
    assert list(tmp_path.iterdir()) == []


def test_a_fit_with_rows_of_a_certain_outcome_gets_its_loo_section(demo_fit, tmp_path):
    """A zip-day with one possible route count has the same log-likelihood on every draw;
    PSIS-LOO failed on it ("All tail values are the same") and the report with it."""
    tree = demo_fit.idata.copy()
    log_lik = tree["log_likelihood"].to_dataset()
    routes = log_lik["routes"].copy()
    routes[:, :, :3] = 0.0  # P(routes) = 1 on every draw
    tree["log_likelihood"] = log_lik.assign(routes=routes)
    certain = copy.copy(demo_fit)
    certain.idata = tree
    text = write_report(certain, tmp_path / "certain.html").read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', text, flags=re.S))
    assert "<img" in sections["loo"]
    found = re.search(
        r'<td>routes</td><td>exact \(certain outcome\)</td><td class="num">(\d+)', text
    )
    assert found and int(found.group(1)) >= 3  # the three made certain, and any others
