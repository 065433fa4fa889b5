"""Last month's SPR model against the month that happened: where it was surprised, and why.

For each station the observed routes of the month are set against the model's posterior
predictive draws of the same rows (the month's own volume, vans, shifts and stem distances:
this is the **productivity** part, routes for the volume seen). The randomised PIT of the
station's month total is exactly uniform when the model is right, whatever the correlation
between days (the draws are joint), so its two-sided p-value is valid; the stations are then
tested together at a false discovery rate (Benjamini–Hochberg,
:func:`scipy.stats.false_discovery_control`), so a planner reads a short ranked list.

With last month's volume fit too, each station's stops over the month are tested against
the volume forecast, so a flagged station says which **part** moved: the volume (more or
fewer stops than forecast), the productivity (routes for the volume seen), or both.

For each flagged station the report says

* whether the surprise is **transient**: without its most surprising day the rest of the
  month is no longer surprising (p ≥ ``transient_level``), so one day (weather, an outage)
  made it; otherwise **persistent**;
* which **zips** carry it: each zip's month total against its draws, ranked by its share of
  the station's excess routes;
* what changed in the **data** against the history (when given): a zip newly served by the
  station (moved from another, or never seen), a van size or shift length the station did not
  have, a jump in packages per stop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scoringrules as sr
from scipy.stats import false_discovery_control, norm

from bayesspr.data.table import validate
from bayesspr.errors import EvaluationError
from bayesspr.evaluation.scores import randomised_pit
from bayesspr.spr.model import SPRModel
from bayesspr.volume.base import ZipVolumeModel

__all__ = ["READING_COLUMNS", "MonitorReport", "monitor_month"]

#: Draws that must lie beyond an observation for its p-value to be read off the draws.
TAIL_DRAWS = 20
#: Days of history before the month that stand for "before" in the data checks (days).
RECENT_DAYS = 28
#: Change in packages per stop reported as a jump (share, –).
PACKAGES_PER_STOP_JUMP = 0.10
#: Change in mean shift length reported (h).
SHIFT_CHANGE_HOURS = 0.25
#: A station's surprise is put on its top zip when the other zips' p-value is at least this.
TRANSIENT_ZIP_LEVEL = 0.05


@dataclass(frozen=True)
class MonitorReport:
    """What the monitor found in one month.

    Attributes
    ----------
    stations : pandas.DataFrame
        One row per station, most surprising first: ``station``, ``city``, ``days``,
        ``observed_routes`` and ``predicted_routes`` (month totals, routes; predicted: the
        predictive mean), ``lower_90`` / ``upper_90`` (routes), ``excess_share`` (observed /
        predicted − 1, –), ``pit`` (randomised PIT of the total, –), ``log_score`` (of the
        total, nats, lower is better), ``p_value`` (two-sided,
        –), ``q_value`` (Benjamini–Hochberg over the stations' months, –), ``day_q_value``
        (the smallest over its days, –), ``month_flagged`` (q ≤ ``fdr``), ``zip_flagged``
        (one of its zips is a discovery), ``flagged`` (its month, a day, a zip or its
        stops), ``direction``
        (``more routes`` or ``fewer routes`` than forecast), ``duration`` (``persistent`` /
        ``transient`` for flagged stations, with ``top_day`` and ``p_without_top_day``),
        ``top_zip`` (the flagged zip when the station was found at one, ``cause_zip``; else
        the one ranked first) and its ``top_zip_share`` of the excess, ``p_without_top_zip``,
        ``changes`` (what the data show changed against the history) and ``cause`` (the
        reading of all of it, in words). With a volume fit also ``observed_stops``,
        ``predicted_stops``, ``observed_packages``, ``predicted_packages`` (month totals of
        the zips the fit knows), ``stops_excess_share``, ``packages_excess_share`` (–),
        ``stops_p_value``, ``stops_q_value`` (–), ``stops_log_score``,
        ``packages_log_score`` (nats), ``zips_without_volume_forecast``; and
        ``volume_flagged`` and ``part`` (``productivity``, ``volume`` or ``both``: what
        moved at a flagged station).
    zips : pandas.DataFrame
        One row per station and zip: ``observed_routes``, ``predicted_routes``,
        ``excess_routes`` (routes), ``share_of_excess`` (of the station's, signed with its
        direction, –), ``log_score`` (nats), ``p_value`` (two-sided, –), ``q_value`` and
        ``flagged`` (tested as a
        family of their own), ``new_to_station`` (served by the
        station in the month but not in the history), ``rank`` within the station (1: the
        zip that carries most of the station's surprise).
    station_days : pandas.DataFrame
        One row per station-day: ``observed_routes``, ``predicted_routes``, ``lower_90``,
        ``upper_90`` (routes), ``log_score`` (nats), ``pit``, ``p_value``, ``q_value`` (–)
        and ``flagged``.
    fdr : float
        The false discovery rate the stations were tested at (–).
    n_samples : int
        Predictive draws used.
    """

    stations: pd.DataFrame
    zips: pd.DataFrame
    station_days: pd.DataFrame
    fdr: float
    n_samples: int
    settings: dict[str, object] = field(default_factory=dict)

    def flagged(self) -> pd.DataFrame:
        """The flagged stations, most surprising first."""
        return self.stations[self.stations["flagged"]]

    def summary(self) -> str:
        """A few lines for a planner: how many stations were tested, which were flagged, why."""
        flagged = self.flagged()
        lines = [
            f"{len(self.stations)} stations tested at a {self.fdr:.0%} false discovery rate: "
            f"{len(flagged)} flagged"
        ]
        for row in flagged.itertuples():
            if row.month_flagged:
                test = f"month q = {row.q_value:.3g}"
            elif row.part == "volume":
                test = f"stops q = {row.stops_q_value:.3g}"
            else:
                test = f"day q = {row.day_q_value:.3g}"
            lines.append(
                f"  {row.station} ({row.city}): {row.observed_routes:,.0f} routes in the month "
                f"against {row.predicted_routes:,.0f} forecast ({row.excess_share:+.1%}, "
                f"{test}); {row.cause}"
            )
        return "\n".join(lines)


def _two_sided(u: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a randomised PIT (–)."""
    return np.minimum(1.0, 2.0 * np.minimum(u, 1.0 - u))


def _p_values(summed: np.ndarray, observed: np.ndarray, rng: np.random.Generator) -> tuple:
    """Randomised PIT and two-sided p-value of observed totals under their draws (S, G).

    Inside the draws' reach the p-value is the PIT's. Beyond it (a p-value under
    :data:`TAIL_DRAWS` / S, where a few draws decide it and an observation past every draw
    would get 0) it comes from a normal with the draws' mean and spread, continuity
    corrected, capped at that reach: an approximation of the far tail, which BH over many
    stations and days needs (its smallest thresholds are far below 1 / S).
    """
    u = randomised_pit(summed, observed, rng)
    p = _two_sided(u)
    mean, spread = summed.mean(axis=0), summed.std(axis=0) + 1e-9
    distance = np.maximum(np.abs(observed - mean) - 0.5, 0.0) / spread
    reach = TAIL_DRAWS / summed.shape[0]
    return u, np.where(p < reach, np.minimum(2.0 * norm.sf(distance), reach), p)


def monitor_month(
    model: SPRModel,
    observed: pd.DataFrame,
    *,
    volume_model: ZipVolumeModel | None = None,
    history: pd.DataFrame | None = None,
    fdr: float = 0.05,
    transient_level: float = 0.05,
    n_samples: int | None = 1000,
    random_seed: int = 0,
) -> MonitorReport:
    """Score a month of observed routes against a fitted SPR model, station by station.

    Parameters
    ----------
    model : SPRModel
        Last month's fit (it has not seen ``observed``).
    observed : pandas.DataFrame
        The new month: canonical rows with ``routes`` (see :mod:`bayesspr.data.table`).
    volume_model : VolumeModel, optional
        Last month's volume fit: each station's stops over the month (its zips in the
        month, those the fit knows) are tested against its forecast too, so a flagged
        station says whether its **volume** or its **productivity** moved, or both.
    history : pandas.DataFrame, optional
        The rows the model was fitted on (or the recent part of them): what the data checks
        compare the month with (zips newly served, van sizes, shifts, packages per stop).
    fdr : float
        False discovery rate of the station tests (–, in (0, 1)).
    transient_level : float
        A flagged station whose month without its most surprising day has a p-value at or
        above this is called transient (–, in (0, 1)).
    n_samples : int, optional
        Posterior draws to predict with (None: all).
    random_seed : int
        Seed of the predictive noise and of the PIT randomisation.

    Returns
    -------
    MonitorReport

    Raises
    ------
    bayesspr.errors.DataError
        If ``observed`` (or ``history``) is not a valid observation table with routes.
    EvaluationError
        If ``fdr`` or ``transient_level`` is not in (0, 1).
    """
    for name, value in (("fdr", fdr), ("transient_level", transient_level)):
        if not 0 < value < 1:
            raise EvaluationError(f"{name} = {value!r}: expected a share in (0, 1)")
    clean = validate(observed).reset_index(drop=True)
    before = None if history is None else validate(history).reset_index(drop=True)
    draws = model.predict_draws(clean, random_seed=random_seed, max_samples=n_samples)
    routes = draws["routes"].transpose("sample", "row").to_numpy().astype(float)
    rng = np.random.default_rng([random_seed, 1])
    days = _station_days(clean, routes, rng)
    zips = _zips(clean, routes, before, rng)
    stations = _stations(clean, routes, rng)
    if volume_model is not None:
        volume = _volume_stations(volume_model, clean, n_samples, random_seed, rng)
        stations = stations.merge(volume, on="station", how="left")
    _test_together(stations, days, zips, fdr)
    stations = _durations(stations, days, zips, clean, routes, rng, transient_level)
    stations = _explain(stations, zips, _changes(clean, before), clean, routes, rng)
    settings = {"fdr": fdr, "transient_level": transient_level, "random_seed": random_seed}
    return MonitorReport(stations, zips, days, fdr, routes.shape[0], settings)


def _totals(
    clean: pd.DataFrame, draws: np.ndarray, keys: list[str], column: str = "routes"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Observed totals of ``column`` per group of ``keys`` and the draws of each (S, G).

    The frame has the keys, ``observed_<column>`` and ``predicted_<column>`` (the draws'
    mean); ``draws`` are (S, rows) draws of ``column``.
    """
    grouped = clean.groupby(keys, sort=True)
    codes = grouped.ngroup().to_numpy()
    frame = grouped.size().index.to_frame(index=False)
    summed = np.zeros((len(frame), draws.shape[0]))
    np.add.at(summed, codes, draws.T)
    summed = summed.T
    observed = np.bincount(codes, weights=clean[column].to_numpy(float), minlength=len(frame))
    frame[f"observed_{column}"] = observed
    frame[f"predicted_{column}"] = summed.mean(axis=0)
    return frame, summed


def _scored_totals(
    clean: pd.DataFrame,
    draws: np.ndarray,
    keys: list[str],
    rng: np.random.Generator,
    *,
    column: str = "routes",
    band: bool = True,
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`_totals`, each total scored against its draws.

    Columns ``lower_90``, ``upper_90`` (with ``band``), ``pit``, ``p_value`` and
    ``log_score``, prefixed ``<column>_`` for another column than routes.
    """
    frame, summed = _totals(clean, draws, keys, column)
    observed = frame[f"observed_{column}"].to_numpy()
    prefix = "" if column == "routes" else f"{column}_"
    if band:
        frame[f"{prefix}lower_90"] = np.quantile(summed, 0.05, axis=0)
        frame[f"{prefix}upper_90"] = np.quantile(summed, 0.95, axis=0)
    frame[f"{prefix}pit"], frame[f"{prefix}p_value"] = _p_values(summed, observed, rng)
    frame[f"{prefix}log_score"] = _log_score(summed, observed)
    return frame, summed


def _log_score(summed: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Log score of observed totals under their draws (nats; lower is better).

    The negative log of a kernel density of the draws at the observation
    (:func:`scoringrules.logs_ensemble`): a continuous stand-in for the totals' pmf. Where
    every draw is the same (a total the forecast is sure of) it is a point mass: 0 nats at
    that value, infinite elsewhere.
    """
    observed = observed.astype(float)
    spread = summed.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.asarray(sr.logs_ensemble(observed, summed.T.astype(float)))
    sure = spread == 0
    score[sure] = np.where(observed[sure] == summed[0, sure], 0.0, np.inf)
    return score


def _station_days(
    clean: pd.DataFrame, routes: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    return _scored_totals(clean, routes, ["station", "date"], rng)[0]


def _test_together(
    stations: pd.DataFrame, days: pd.DataFrame, zips: pd.DataFrame, fdr: float
) -> None:
    """Benjamini–Hochberg over each family of tests, in place.

    The families: the stations' months, the station-days and the zips' months (routes for
    the volume seen), and with a volume fit the stations' stops. A station is flagged when
    its month total, one of its days, one of its zips or its stops is a discovery: a
    persistent change shows in the month, a one-day event in its day, a change at one zip of
    a big station in that zip, a volume change in the stops. Each family is tested at the
    rate over the number of families (its q-values multiplied by it), so together they keep
    the rate ``fdr`` and the few month tests are not drowned by the many days.
    """
    families = [
        (stations, "p_value", "q_value"),
        (days, "p_value", "q_value"),
        (zips, "p_value", "q_value"),
    ]
    with_volume = "stops_p_value" in stations
    if with_volume:
        families.append((stations, "stops_p_value", "stops_q_value"))
    for frame, p, q in families:
        tested = frame[p].notna().to_numpy()
        values = np.full(len(frame), np.nan)
        if tested.any():
            found = false_discovery_control(frame.loc[tested, p].to_numpy(), method="bh")
            values[tested] = np.minimum(1.0, len(families) * found)
        frame[q] = values
    days["flagged"] = days["q_value"] <= fdr
    zips["flagged"] = zips["q_value"] <= fdr
    day_flag = days.groupby("station")["flagged"].any().reindex(stations["station"])
    zip_flag = zips.groupby("station")["flagged"].any().reindex(stations["station"])
    stations["zip_flagged"] = zip_flag.to_numpy()
    day_q = days.groupby("station")["q_value"].min().reindex(stations["station"])
    stations["day_q_value"] = day_q.to_numpy()
    stations["month_flagged"] = stations["q_value"] <= fdr
    productivity = stations["month_flagged"].to_numpy() | day_flag.to_numpy() | zip_flag.to_numpy()
    volume = (
        (stations["stops_q_value"] <= fdr).to_numpy()
        if with_volume
        else np.zeros(len(stations), bool)
    )
    stations["volume_flagged"] = volume
    stations["flagged"] = productivity | volume
    stations["part"] = np.select(
        [productivity & volume, productivity, volume], ["both", "productivity", "volume"], ""
    )


def _volume_stations(
    volume_model: ZipVolumeModel,
    clean: pd.DataFrame,
    n_samples: int | None,
    seed: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each station's stops and packages over the month against the volume forecast.

    A station's volume is that of the zips it served in the month (their observed
    assignment), on the zip-days observed; zips the volume fit never saw are left out of
    both sides and counted in ``zips_without_volume_forecast``.
    """
    zip_days = clean.groupby(["date", "zip"], as_index=False).agg(
        station=("station", "first"), stops=("stops", "sum"), packages=("packages", "sum")
    )
    known = zip_days["zip"].isin(volume_model.zips.index).to_numpy()
    unseen = zip_days[~known].groupby("station")["zip"].nunique()
    rows = zip_days[known].reset_index(drop=True)
    dates = pd.DatetimeIndex(sorted(rows["date"].unique()))
    zips = sorted(rows["zip"].unique())
    draws = volume_model.forecast(dates, zips=zips, n_samples=n_samples or 1000, random_seed=seed)
    d, z = dates.get_indexer(rows["date"]), pd.Index(zips).get_indexer(rows["zip"])
    out = pd.DataFrame({"station": sorted(clean["station"].unique())})
    for column in ("stops", "packages"):
        values = draws[column].transpose("sample", "date", "zip").to_numpy()[:, d, z]
        if column == "stops":  # the tested total: its PIT and p-value too
            frame, _ = _scored_totals(rows, values, ["station"], rng, column=column, band=False)
            frame = frame.drop(columns="stops_pit")
        else:
            frame, summed = _totals(rows, values, ["station"], column)
            frame["packages_log_score"] = _log_score(summed, frame["observed_packages"].to_numpy())
        out = out.merge(frame, on="station", how="left")
        out[f"{column}_excess_share"] = out[f"observed_{column}"] / out[f"predicted_{column}"] - 1
    out["zips_without_volume_forecast"] = unseen.reindex(out["station"]).fillna(0).to_numpy(int)
    return out


def _stations(clean: pd.DataFrame, routes: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    frame, _ = _scored_totals(clean, routes, ["station"], rng)
    city = clean.groupby("station")["city"].first()
    frame.insert(1, "city", city.loc[frame["station"]].to_numpy())
    frame.insert(2, "days", clean.groupby("station")["date"].nunique().loc[frame["station"]].values)
    frame["excess_share"] = frame["observed_routes"] / frame["predicted_routes"] - 1.0
    frame["direction"] = np.where(frame["pit"] >= 0.5, "more routes", "fewer routes")
    return frame


def _leave_one_out(
    clean: pd.DataFrame, routes: np.ndarray, key: str, sign: float, rng: np.random.Generator
) -> tuple[object, float]:
    """The group of ``key`` most surprising in direction ``sign``, and the rest's p-value."""
    frame, summed = _totals(clean, routes, [key])
    spread = summed.std(axis=0) + 1e-9
    z = sign * (frame["observed_routes"] - frame["predicted_routes"]).to_numpy() / spread
    top = int(np.argmax(z))
    keep = np.arange(len(frame)) != top
    if not keep.any():
        return frame[key].iloc[top], 1.0
    rest = summed[:, keep].sum(axis=1, keepdims=True)
    observed = np.array([frame["observed_routes"].to_numpy()[keep].sum()])
    return frame[key].iloc[top], float(_p_values(rest, observed, rng)[1][0])


def _durations(
    stations: pd.DataFrame,
    days: pd.DataFrame,
    zips: pd.DataFrame,
    clean: pd.DataFrame,
    routes: np.ndarray,
    rng: np.random.Generator,
    level: float,
) -> pd.DataFrame:
    """Persistent or transient per station flagged for productivity.

    The surprise is read where it was found: the station's month if that was a discovery,
    else its most surprising flagged zip's month (``cause_zip``); it is transient when,
    without its most surprising day, it is no longer surprising (p ≥ ``level``). A station
    flagged by a day alone is transient.
    """
    out = stations.assign(duration="", top_day=pd.NaT, p_without_top_day=np.nan, cause_zip="")
    for i in np.flatnonzero(out["part"].isin(["productivity", "both"]).to_numpy()):
        station = out.at[i, "station"]
        here = (clean["station"] == station).to_numpy()
        if not out.at[i, "month_flagged"] and out.at[i, "zip_flagged"]:
            mine = zips[(zips["station"] == station) & zips["flagged"]]
            worst = mine.loc[mine["p_value"].idxmin()]
            out.at[i, "cause_zip"] = worst["zip"]
            out.at[i, "direction"] = "more routes" if worst["excess_routes"] > 0 else "fewer routes"
            here = here & (clean["zip"] == worst["zip"]).to_numpy()
        elif not out.at[i, "month_flagged"]:
            mine = days[(days["station"] == station) & days["flagged"]]
            worst = mine.loc[mine["p_value"].idxmin()]
            out.at[i, "top_day"] = worst["date"]
            out.at[i, "duration"] = "transient"
            out.at[i, "direction"] = "more routes" if worst["pit"] >= 0.5 else "fewer routes"
            continue
        sign = 1.0 if out.at[i, "direction"] == "more routes" else -1.0
        top, p_rest = _leave_one_out(clean[here], routes[:, here], "date", sign, rng)
        out.at[i, "top_day"] = top
        out.at[i, "p_without_top_day"] = p_rest
        out.at[i, "duration"] = "transient" if p_rest >= level else "persistent"
    return out


def _zips(
    clean: pd.DataFrame,
    routes: np.ndarray,
    before: pd.DataFrame | None,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each station's zips: their month totals, share of the station's excess, rank."""
    frame, _ = _scored_totals(clean, routes, ["station", "zip"], rng, band=False)
    frame = frame.drop(columns="pit")
    frame["excess_routes"] = frame["observed_routes"] - frame["predicted_routes"]
    station_excess = frame.groupby("station")["excess_routes"].transform("sum")
    sign = np.sign(station_excess).replace(0.0, 1.0)
    frame["share_of_excess"] = frame["excess_routes"] / station_excess.where(
        station_excess != 0, np.nan
    )
    if before is None:
        frame["new_to_station"] = False
    else:
        served = set(zip(before["station"], before["zip"], strict=True))
        frame["new_to_station"] = [
            (s, z) not in served for s, z in zip(frame["station"], frame["zip"], strict=True)
        ]
    frame["rank"] = (
        (sign * frame["excess_routes"])
        .groupby(frame["station"])
        .rank(ascending=False, method="first")
        .astype(int)
    )
    return frame.sort_values(["station", "rank"], ignore_index=True)


def _changes(clean: pd.DataFrame, before: pd.DataFrame | None) -> dict[str, list[str]]:
    """What each station's data show changed against its recent history, in words."""
    if before is None:
        return {}
    recent = before[before["date"] > before["date"].max() - pd.Timedelta(days=RECENT_DAYS)]
    known_zips = before.groupby("zip")["station"].last()
    out: dict[str, list[str]] = {}
    for station, rows in clean.groupby("station"):
        notes = []
        past = before[before["station"] == station]
        for z in sorted(set(rows["zip"]) - set(past["zip"])):
            came_from = known_zips.get(z)
            notes.append(
                f"zip {z} newly served (from {came_from})"
                if came_from is not None
                else f"zip {z} newly served (never seen)"
            )
        vans = sorted(set(rows["van_capacity"]) - set(past["van_capacity"]))
        if vans:
            notes.append("new van size " + ", ".join(f"{v:g}" for v in vans) + " packages")
        then = recent[recent["station"] == station]
        if len(then):
            shift = rows["shift_hours"].mean() - then["shift_hours"].mean()
            if abs(shift) >= SHIFT_CHANGE_HOURS:
                notes.append(f"shift {shift:+.1f} h")
            ratio = (rows["packages"].sum() / rows["stops"].sum()) / (
                then["packages"].sum() / then["stops"].sum()
            ) - 1.0
            if abs(ratio) >= PACKAGES_PER_STOP_JUMP:
                notes.append(f"packages per stop {ratio:+.0%}")
        out[str(station)] = notes
    return out


def _volume_words(row: object) -> str:
    """A station's volume surprise in words."""
    return (
        f"volume: stops {row.stops_excess_share:+.0%} and packages "  # type: ignore[attr-defined]
        f"{row.packages_excess_share:+.0%} against the volume forecast"  # type: ignore[attr-defined]
    )


def _explain(
    stations: pd.DataFrame,
    zips: pd.DataFrame,
    changes: dict[str, list[str]],
    clean: pd.DataFrame,
    routes: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The top zip, the data changes and a reading of them per station.

    A persistent surprise is put on one zip when the station's other zips together are not
    surprising (p ≥ the transient level's 0.05 without it), station-wide otherwise.
    """
    top = zips[zips["rank"] == 1].set_index("station")
    out = stations.copy()
    ranked_first = top["zip"].reindex(out["station"]).to_numpy()
    out["top_zip"] = np.where(out["cause_zip"] != "", out["cause_zip"], ranked_first)
    out["top_zip_share"] = top["share_of_excess"].reindex(out["station"]).to_numpy()
    out["p_without_top_zip"] = np.nan
    out["changes"] = ["; ".join(changes.get(s, [])) for s in out["station"]]
    new = zips.set_index(["station", "zip"])["new_to_station"]
    causes = []
    for i, row in enumerate(out.itertuples()):
        volume = _volume_words(row) if row.part in ("volume", "both") else ""
        if row.part in ("", "volume"):
            causes.append(volume)
            continue
        if row.duration == "transient":
            causes.append(f"one day ({row.top_day.date()}): the rest of the month as forecast")
            continue
        if row.cause_zip:  # found at one zip: the station's month was not surprising
            zip_row = zips[(zips["station"] == row.station) & (zips["zip"] == row.cause_zip)]
            newly = "newly served, " if bool(zip_row["new_to_station"].iloc[0]) else ""
            causes.append(
                f"zip {row.cause_zip} ({newly}{zip_row['excess_routes'].iloc[0]:+.0f} routes "
                "against its forecast): the station's month as a whole is within its band"
            )
            continue
        here = (clean["station"] == row.station).to_numpy()
        sign = 1.0 if row.direction == "more routes" else -1.0
        _, p_rest = _leave_one_out(clean[here], routes[:, here], "zip", sign, rng)
        out.iat[i, out.columns.get_loc("p_without_top_zip")] = p_rest
        n = int(here.sum() and (zips["station"] == row.station).sum())
        if p_rest >= TRANSIENT_ZIP_LEVEL:
            newly = "newly served, " if new.get((row.station, row.top_zip), False) else ""
            causes.append(
                f"zip {row.top_zip} ({newly}{row.top_zip_share:.0%} of the excess): the "
                f"station's other {n - 1} zips are as forecast"
            )
        else:
            causes.append(
                f"station-wide (the other {n - 1} zips are surprising too): dispatch overhead, "
                "shift or station practice"
            )
    out["cause"] = [
        c if row.part != "both" else f"{c}; and {_volume_words(row)}"
        for c, row in zip(causes, out.itertuples(), strict=True)
    ]
    order = np.lexsort((out["p_value"].to_numpy(), out["q_value"].to_numpy()))
    first = [c for c in READING_COLUMNS if c in out.columns]
    rest = [c for c in out.columns if c not in first]
    return out.iloc[order][first + rest].reset_index(drop=True)


#: The columns of :attr:`MonitorReport.stations` a planner reads first, in order; the test
#: figures follow.
READING_COLUMNS = (
    "station",
    "city",
    "flagged",
    "part",
    "duration",
    "cause",
    "changes",
    "direction",
    "observed_routes",
    "predicted_routes",
    "lower_90",
    "upper_90",
    "excess_share",
    "top_zip",
    "top_zip_share",
    "top_day",
)
