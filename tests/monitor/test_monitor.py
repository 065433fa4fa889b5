"""The monthly monitor finds injected events where they happened, and stays quiet otherwise.

``make test`` runs the six events at two seeded stations each on the demo world's next month
against the demo fits; ``make validate`` runs them on 20 seeded worlds, each fitted on its own
history, and records recall, the zip ranked first, the outage's label, the volume/productivity
reading and the false alarms of quiet months in the validation table
(``benchmarks/monitor_worlds.py`` prints the same figures world by world).
"""

import numpy as np
import pytest

from bayesspr import simulate_world
from bayesspr.errors import DataError, EvaluationError
from bayesspr.monitor import event_worlds, monitor_month, month_outcomes, summarise_outcomes
from bayesspr.simulate import inject_event


@pytest.fixture(scope="module")
def demo_outcomes(demo_fit, demo_volume_fit, demo_split):
    history, month = demo_split
    models = (demo_fit, demo_volume_fit)
    return month_outcomes(models, history, month, simulate_world().truth, seeds=(0, 1))


def test_demo_quiet_month_and_new_vans_raise_no_alarm(demo_outcomes):
    calm = demo_outcomes[demo_outcomes["kind"].isin(["quiet", "new_van"])]
    assert (calm["false_alarms"] == 0).all()
    assert not calm["flagged"].fillna(False).any()  # the physics explains a bigger van


def test_demo_persistent_events_are_flagged_at_their_station_as_persistent(demo_outcomes):
    persistent = demo_outcomes[demo_outcomes["kind"].isin(["overhead_jump", "zip_takeover"])]
    assert persistent["flagged"].all() and (persistent["duration"] == "persistent").all()
    assert (persistent["part"] == "productivity").all()  # the volume is as forecast
    assert (persistent["false_alarms"] == 0).all()
    takeovers = demo_outcomes[demo_outcomes["kind"] == "zip_takeover"]
    assert takeovers["top_zip_right"].all() and takeovers["zip_named"].all()


def test_demo_outage_is_flagged_as_one_day(demo_outcomes):
    outages = demo_outcomes[demo_outcomes["kind"] == "outage"]
    assert outages["flagged"].all() and (outages["duration"] == "transient").all()


def test_demo_volume_jump_is_volume_not_productivity(demo_outcomes):
    jumps = demo_outcomes[demo_outcomes["kind"] == "volume_jump"]
    assert jumps["flagged"].all() and (jumps["part"] == "volume").all()
    assert (jumps["false_alarms"] == 0).all()


def test_report_tables_and_the_reading_of_a_takeover(demo_fit, demo_volume_fit, demo_split):
    history, month = demo_split
    changed, event = inject_event(month, simulate_world().truth, "zip_takeover", station="BOS3")
    report = monitor_month(demo_fit, changed, volume_model=demo_volume_fit, history=history)
    top = report.stations.iloc[0]
    assert top["station"] == "BOS3" and top["flagged"] and top["direction"] == "more routes"
    assert f"zip {event.zip} (newly served" in top["cause"]
    donor = month.loc[month["zip"] == event.zip, "station"].iloc[0]
    assert f"zip {event.zip} newly served (from {donor})" in top["changes"]
    # totals add up: the station's month is the sum of its zips and of its days
    bos3 = report.zips[report.zips["station"] == "BOS3"]
    days = report.station_days[report.station_days["station"] == "BOS3"]
    assert bos3["observed_routes"].sum() == top["observed_routes"] == days["observed_routes"].sum()
    assert np.isclose(bos3["predicted_routes"].sum(), top["predicted_routes"])
    assert bos3.iloc[0]["zip"] == event.zip and bos3.iloc[0]["new_to_station"]
    assert top["lower_90"] <= top["predicted_routes"] <= top["upper_90"]
    # the log score (nats) is worst where the surprise is, at the station and at the zip
    scores = report.stations.set_index("station")["log_score"]
    assert np.isfinite(scores).all() and scores["BOS3"] == scores.max()
    assert bos3.set_index("zip")["log_score"].idxmax() == event.zip
    assert np.isfinite(report.stations["stops_log_score"]).all()
    assert report.stations["q_value"].between(0, 1).all()
    assert "1 flagged" in report.summary() and "BOS3 (Boston)" in report.summary()
    # the volume side: the zip moved in with its volume, so the station's stops are its
    # zips' forecast, the taken-over one included
    assert top["part"] == "productivity" and top["zips_without_volume_forecast"] == 0
    assert top["observed_stops"] == changed.loc[changed["station"] == "BOS3", "stops"].sum()


def test_monitor_inputs_are_checked(demo_fit, demo_split):
    _, month = demo_split
    with pytest.raises(EvaluationError, match=r"fdr = 1\.5: expected a share in"):
        monitor_month(demo_fit, month, fdr=1.5)
    with pytest.raises(DataError, match="routes"):
        monitor_month(demo_fit, month.drop(columns="routes"))


#: Worlds of the validation and the figures it must reach (issue 18).
N_WORLDS = 20
THRESHOLDS = {
    "recall": (">=", 0.9, "persistent events flagged at their station"),
    "zip_first": (">=", 0.8, "takeover: the zip ranked first"),
    "outage_transient": (">=", 0.9, "outage flagged and labelled transient"),
    "volume_part": (">=", 0.9, "volume jumps read as volume only"),
    "quiet_alarm": ("<=", 0.1, "quiet months with a false alarm"),
    "new_van_alarm": (None, None, "new-van months with any alarm"),
    "small_overhead_recall": (None, None, "a +0.5 h overhead jump flagged at its station"),
}


@pytest.mark.validation
def test_monitor_on_twenty_worlds(evidence, request):
    figures = summarise_outcomes(event_worlds(N_WORLDS))
    failed = []
    for name, (sign, limit, words) in THRESHOLDS.items():
        value = figures[name]
        passed = sign is None or (value >= limit if sign == ">=" else value <= limit)
        threshold = "reported" if sign is None else f"{sign} {limit}"
        evidence.record(
            request, f"monitor, {N_WORLDS} worlds: {words}", f"{value:.2f}", threshold, passed
        )
        if not passed:
            failed.append(f"{words}: {value:.2f}, expected {threshold}")
    assert not failed, failed


def test_the_chart_draws_the_most_surprising_stations_with_history(demo_fit, demo_split, tmp_path):
    from bayesspr.monitor.charts import MONITOR_CHART, monitor_figure, write_monitor_chart

    history, month = demo_split
    changed, _ = inject_event(month, simulate_world().truth, "outage", station="BOS3")
    report = monitor_month(demo_fit, changed, history=history, n_samples=300)
    fig = monitor_figure(report, history, stations=2)
    axes = fig.get_axes()
    assert len(axes) == 2 and axes[0].get_title(loc="left").startswith("BOS3 (Boston): one day")
    assert all(ax.get_ylabel() == "routes per day" for ax in axes)
    labels = fig.legends[0].get_texts()
    assert {t.get_text() for t in labels} >= {"history", "90 % predictive band", "surprising day"}
    path = write_monitor_chart(report, tmp_path, history)
    assert path.name == MONITOR_CHART and path.read_bytes()[:4] == b"\x89PNG"


def test_the_report_has_a_monitoring_section(demo_fit, demo_split, tmp_path):
    from bayesspr.reporting.html import write_report

    history, month = demo_split
    changed, event = inject_event(month, simulate_world().truth, "outage", station="BOS3")
    report = monitor_month(demo_fit, changed, history=history, n_samples=300)
    page = write_report(demo_fit, tmp_path / "r.html", monitor=report, history=history)
    text = page.read_text(encoding="utf-8")
    assert 'href="#monitor"' in text and "Monitoring: a later month against this fit" in text
    assert "1 flagged" in text and "BOS3" in text
    assert f"one day ({event.date.date()})" in text
    assert text.count("data:image/png;base64") >= 2  # the monitor's chart among the figures
