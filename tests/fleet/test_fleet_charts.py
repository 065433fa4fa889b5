"""Fleet charts a planner can read: monthly fan per station with history, fleet and titles."""

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from bayesspr.fleet import decisions as fleet
from bayesspr.fleet.charts import fan_chart, fan_figure, shortfall_chart, shortfall_figure

STATIONS = ["NORTH", "SOUTH", "EAST", "WEST", "HILL"]


def forecast(values, start="2026-03-10", stations=None, scenario=None):
    """A forecast Dataset with routes (sample, date, station) from an array."""
    n_s, n_d, n_st = values.shape
    attrs = {} if scenario is None else {"scenario": scenario}
    return xr.Dataset(
        {"routes": (("sample", "date", "station"), values)},
        coords={
            "sample": np.arange(n_s),
            "date": pd.date_range(start, periods=n_d, freq="D"),
            "station": stations or STATIONS[:n_st],
        },
        attrs=attrs,
    )


def history_table(rng, stations, start="2026-01-05", end="2026-03-09"):
    """A canonical-style history: routes per zip-day, two zips per station."""
    rows = [
        (day, station, f"{station}-{z}", int(rng.poisson(3 + 2 * z)))
        for day in pd.date_range(start, end, freq="D")
        for station in stations
        for z in (0, 1)
    ]
    return pd.DataFrame(rows, columns=["date", "station", "zip", "routes"])


def drawn(fig):
    """Lay the figure out as it is saved, so extents are final."""
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    return fig


def panels(fig):
    """Visible data panels by title."""
    return {ax.get_title(): ax for ax in fig.axes if ax.axison}


def line(ax, gid):
    (found,) = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    return found


def x_days(artist):
    """x data of a line as day-precision Timestamps."""
    return pd.DatetimeIndex(pd.to_datetime(artist.get_xdata())).round("D")


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(21)
    fc = forecast(rng.poisson(4.0, (300, 120, 3)).astype(float), scenario="+40% from June")
    return fc, fleet.plan(fc, 0.95), history_table(rng, STATIONS[:3])


def test_history_line_is_the_observed_monthly_mean_and_peak(small):
    fc, result, history = small
    fig = fan_figure(fc, result, history=history)
    by_day = history.groupby(["station", "date"])["routes"].sum()
    for station, ax in panels(fig).items():
        days = by_day.loc[station]
        months = days.groupby(days.index.to_period("M"))
        mean = line(ax, "history_mean")
        np.testing.assert_allclose(mean.get_ydata(), months.mean().to_numpy())
        # the peak day: the mean of the ⌈5 % · days⌉ busiest observed days of the month
        peak = months.apply(lambda d: d.nlargest(math.ceil(0.05 * len(d))).mean())
        np.testing.assert_allclose(line(ax, "history_peak").get_ydata(), peak.to_numpy())
        # each point sits at the middle of the days it summarises, left of the forecast
        centres = months.apply(lambda d: d.index.to_series().mean()).dt.round("D")
        assert (x_days(mean) == pd.DatetimeIndex(centres.to_numpy())).all()
        assert x_days(mean).max() < fc["date"].to_numpy()[0]


def test_forecast_is_monthly_with_the_fleet_and_the_origin(small):
    fc, result, _ = small
    fig = fan_figure(fc, result)
    values = fc["routes"].to_numpy()
    months = pd.DatetimeIndex(fc["date"].to_numpy()).to_period("M")
    for station, ax in panels(fig).items():
        r = values[:, :, STATIONS.index(station)]
        per_month = [r[:, months == m].mean(axis=1) for m in months.unique()]
        np.testing.assert_allclose(
            line(ax, "forecast_mean").get_ydata(), [np.median(x) for x in per_month]
        )
        assert len(line(ax, "forecast_peak").get_ydata()) == len(months.unique()) == 5
        # the fleet: monthly vans needed as steps, and the horizon fleet to buy
        rows = result.table[result.table["station"] == station]
        steps = line(ax, "fleet_monthly").get_ydata()
        np.testing.assert_array_equal(steps[:-1], rows["vans_needed"].to_numpy())
        to_buy = result.horizon.set_index("station").loc[station, "vans_to_buy"]
        assert set(line(ax, "fleet_horizon").get_ydata()) == {to_buy}
        origin = line(ax, "forecast_origin")
        assert (x_days(origin) == pd.Timestamp(fc["date"].to_numpy()[0])).all()
    labels = [
        t.get_text()
        for leg in fig.legends + [a.get_legend() for a in fig.axes]
        if leg
        for t in leg.get_texts()
    ]
    assert any("vans needed per month" in t and "95 %" in t for t in labels)
    assert any("vans to buy" in t for t in labels)


def test_titles_name_the_station_and_the_scenario(small):
    fc, result, history = small
    fig = fan_figure(fc, result, history=history)
    assert sorted(panels(fig)) == sorted(STATIONS[:3])
    assert "+40% from June" in fig.get_suptitle()
    fig = fan_figure(fc, result, scenario="baseline, 300-package vans")
    assert "baseline, 300-package vans" in fig.get_suptitle()
    title = shortfall_figure(result, scenario="+40% from June").axes[0].get_title(loc="left")
    assert "+40% from June" in title and "shortfall" in title
    # the plan remembers its forecast's scenario
    assert result.scenario == "+40% from June"
    assert "+40% from June" in shortfall_figure(result).axes[0].get_title(loc="left")


def test_axes_have_units_and_whole_route_ticks(small):
    fc, result, history = small
    fig = drawn(fan_figure(fc, result, history=history))
    for ax in panels(fig).values():
        assert ax.get_ylabel() == "routes per day"
        ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
        assert len(ticks) >= 3
        assert all(float(t).is_integer() for t in ticks), ticks
    assert any(ax.get_xlabel() == "month" for ax in panels(fig).values())
    ax = drawn(shortfall_figure(result)).axes[0]
    assert ax.get_xlabel() == "month" and "peak day" in ax.get_ylabel()
    (target,) = [ln for ln in ax.get_lines() if ln.get_gid() == "target"]
    np.testing.assert_allclose(target.get_ydata(), 0.05)
    assert "5 %" in target.get_label() and "95 %" in target.get_label()


@pytest.mark.parametrize("n_stations", [1, 4, 5])
def test_the_legend_sits_outside_every_data_area(n_stations):
    rng = np.random.default_rng(22)
    fc = forecast(rng.poisson(6.0, (100, 80, n_stations)).astype(float))
    result = fleet.plan(fc, 0.9)
    history = history_table(rng, STATIONS[:n_stations])
    for fig in (fan_figure(fc, result, history=history), shortfall_figure(result)):
        drawn(fig)
        legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        assert len(legends) == 1
        box = legends[0].get_window_extent()
        for ax in fig.axes:
            if ax.axison:
                assert not box.overlaps(ax.get_window_extent()), ax.get_title()


def test_charts_write_png_files_atomically(tmp_path, small):
    fc, result, history = small
    fan = fan_chart(fc, result, tmp_path / "charts" / "fan.png", history=history)
    flat = fan_chart(fc, result.horizon.set_index("station")["vans_to_buy"], tmp_path / "flat.png")
    table = fan_chart(fc, result.table, tmp_path / "table.png", stations=["NORTH"])
    short = shortfall_chart(result, tmp_path / "shortfall.png")
    for path in (fan, flat, table, short):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 5000
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "charts",
        "fan.png",
        "flat.png",
        "shortfall.png",
        "table.png",
    ]
    with pytest.raises(ValueError, match=r"stations \['NOPE'\] are not in the forecast"):
        fan_chart(fc, result, tmp_path / "x.png", stations=["NOPE"])
    with pytest.raises(ValueError, match=r"history lacks column\(s\) \['routes'\]"):
        fan_chart(fc, result, tmp_path / "x.png", history=history.drop(columns="routes"))
    assert not (tmp_path / "x.png").exists()


def test_a_note_under_the_panels_explains_what_history_and_forecast_differ_in(small):
    fc, result, history = small
    note = "History: the stations' own vans. Forecast: 300-package vans."
    fig = fan_figure(fc, result, history=history, note=note)

    def notes(figure):
        return [t.get_text() for t in figure.findobj(Text) if t.get_gid() == "chart_note"]

    assert notes(fig) == [note]
    assert notes(fan_figure(fc, result)) == []
