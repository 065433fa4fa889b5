"""Volume × SPR: forecast routes per zip-day and per station-day, months ahead, on draws.

:func:`forecast` pairs draw *i* of the volume posterior with draw *i* of the SPR posterior
(each a seeded random subset of its own posterior: the two fits share nothing, so pairing
them keeps both uncertainties and aligns no chains), pushes every volume path through the
route physics with that draw's constants, and sums a station's zips per day on the draws,
so peak-day quantiles carry the joint uncertainty. Zips are processed in chunks (vectorised
over draws, days and zips), so 10,000 zips fit in memory.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
import xarray as xr

from bayesspr.data.network import Network, NetworkError
from bayesspr.defaults import DEFAULT_INTERVAL, central_bounds
from bayesspr.defaults import MAX_HORIZON as MAX_HORIZON  # re-exported
from bayesspr.errors import ForecastError
from bayesspr.forecasting.scenario import (
    BASELINE,
    Scenario,
    ScenarioError,
    StationLaunch,
    VanChange,
    VolumeShock,
    ZipMove,
)
from bayesspr.inference.heap import reused_heap_on_workers, with_reused_heap
from bayesspr.io.draw_store import ZipBlockWriter, open_draws
from bayesspr.io.files import atomic_folder
from bayesspr.parallel import loops_over_samples, run_with_threads, task_threads
from bayesspr.spr.model import SPRModel
from bayesspr.spr.physics import ZoneDay
from bayesspr.volume.keyed import day_keys, keyed_normal_pairs, name_keys_64
from bayesspr.volume.model import VolumeModel

#: Largest draws × days × zips block computed at once (elements); bounds peak memory.
CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Forecast:
    """A composed forecast.

    Attributes
    ----------
    draws : xarray.Dataset
        ``routes``, ``packages``, ``stops`` per station-day (dims ``sample``, ``date``,
        ``station``); with ``keep_zips``, also ``routes_zip``, ``route_km_zip``,
        ``stops_zip``, ``packages_zip`` per zip-day (dims ``sample``, ``date``, ``zip``)
        and the coordinate ``station_of`` (``date``, ``zip``). Attribute ``scenario``.
    summary : pandas.DataFrame
        One row per station-month: mean and central interval of daily routes, of the
        month's busiest day, of packages per day and of SPR.
    scenario : Scenario
        The scenario forecast.
    """

    draws: xr.Dataset
    summary: pd.DataFrame
    scenario: Scenario


def parse_horizon(horizon: str | int) -> tuple[int, str]:
    """Count and unit of a horizon such as ``"16M"``, ``"8W"``, ``"28D"``, ``"28"`` or 28.

    Parameters
    ----------
    horizon : str or int
        Months (``M``), weeks (``W``) or days (``D``, a bare number or an int); at most
        60 months, 261 weeks or 1,827 days (:data:`bayesspr.defaults.MAX_HORIZON`): route
        physics and volume trends are not meant to be pushed further.

    Returns
    -------
    tuple of (int, str)
        How many units (≥ 1) and the unit, ``"M"``, ``"W"`` or ``"D"``.

    Raises
    ------
    ForecastError
        If the horizon is not of that form, is under one day or over the cap.
    """
    expected = "expected e.g. '16M', '8W', '28D' or 28 (days)"
    if isinstance(horizon, bool):
        raise ForecastError(f"horizon = {horizon!r}; {expected}")
    if isinstance(horizon, int | np.integer):
        n = int(horizon)
        unit = "D"
    else:
        match = re.fullmatch(r"\s*(\d+)\s*([MWD]?)\s*", str(horizon).upper())
        if not match:
            raise ForecastError(f"horizon = {horizon!r}; {expected}")
        n, unit = int(match.group(1)), match.group(2) or "D"
    if n < 1:
        raise ForecastError(f"horizon = {horizon!r}; expected at least one day")
    if n > MAX_HORIZON[unit]:
        raise ForecastError(
            f"horizon = {horizon!r}; expected at most {MAX_HORIZON[unit]}{unit} (60 months: "
            f"'60M', '{MAX_HORIZON['W']}W' or {MAX_HORIZON['D']} days): forecast a shorter "
            "horizon"
        )
    return n, unit


def horizon_days(start: pd.Timestamp, horizon: str | int) -> pd.DatetimeIndex:
    """Forecast days from ``start`` for a horizon such as ``"16M"``, ``"8W"``, ``"28D"`` or 28.

    Parameters
    ----------
    start : pandas.Timestamp
        First forecast day.
    horizon : str or int
        See :func:`parse_horizon`.

    Returns
    -------
    pandas.DatetimeIndex
        Daily dates.

    Raises
    ------
    ForecastError
        If the horizon is not of that form, is under one day or over the cap.
    """
    n, unit = parse_horizon(horizon)
    offset = {
        "M": pd.DateOffset(months=n),
        "W": pd.DateOffset(weeks=n),
        "D": pd.DateOffset(days=n),
    }[unit]
    return pd.date_range(start, start + offset - pd.Timedelta(days=1), freq="D")


@dataclass
class _Layout:
    """Per-day arrays of the network after the scenario (D days × Z zips, K stations)."""

    dates: pd.DatetimeIndex
    zips: pd.Index
    stations: pd.Index
    cities: pd.Index
    station_code: np.ndarray  # (D, Z) int
    stem_km: np.ndarray  # (D, Z)
    capacity: np.ndarray  # (D, Z)
    shift_hours: np.ndarray  # (D, Z)
    factor: np.ndarray  # (D, Z)
    zip_city: np.ndarray  # (Z,) int
    area_km2: np.ndarray  # (Z,)
    read_group: np.ndarray  # (Z,) int: the chunk of the volume draws each zip is read from


def _read_groups(source: object) -> pd.Series | None:
    """The chunk along ``zip`` each zip of Dask-backed volume draws lies in; else none.

    Reading zips that lie in one chunk costs that chunk once; zips scattered over many chunks
    cost each of those chunks in full (a lazy computation or a compressed store chunk).
    """
    if isinstance(source, tuple) or source["stops"].chunks is None:
        return None
    sizes = source["stops"].chunks[source["stops"].dims.index("zip")]
    return pd.Series(
        np.repeat(np.arange(len(sizes)), sizes), index=source["zip"].to_numpy().astype(str)
    )


def _layout(
    network: Network,
    dates: pd.DatetimeIndex,
    scenario: Scenario,
    plan: pd.DataFrame | None,
    read_groups: pd.Series | None = None,
) -> _Layout:
    """Apply the scenario's changes (in order) and the plan's overrides to the network.

    Zips are ordered by ``read_groups`` (the chunk of chunked volume draws each is read
    from, :func:`_read_groups`), then by their station, then by name: a block of zips then
    reads each chunk once and touches few stations, so each station's shares are drawn once.
    Without read groups (a volume model, draws in memory) a station's zips lie together in a
    store.
    """
    order = network.zips[["station"]].rename_axis("zip").reset_index()
    order["read_group"] = (
        0 if read_groups is None else read_groups.reindex(order["zip"]).fillna(-1).to_numpy(int)
    )
    order = order.sort_values(["read_group", "station", "zip"])
    zips = pd.Index(order["zip"].to_numpy(), name="zip")
    stations_tab, stems = _network_after(network, dates, scenario)
    stations = pd.Index(sorted(stations_tab.index), name="station")
    cities = pd.Index(sorted(set(stations_tab["city"]) | set(network.zips["city"])), name="city")
    grid = _Grid(
        dates=dates,
        zips=zips,
        stations=stations,
        station_code=np.tile(
            stations.get_indexer(network.zips.loc[zips, "station"]), (len(dates), 1)
        ),
        capacity=np.tile(
            stations_tab.loc[stations, "van_capacity"].to_numpy(float), (len(dates), 1)
        ),
        factor=np.ones((len(dates), len(zips))),
    )
    for change in scenario.changes:
        grid.apply(change)
    rows = np.arange(len(dates))[:, None]
    capacity = grid.capacity[rows, grid.station_code]
    shift_dk = np.tile(stations_tab.loc[stations, "shift_hours"].to_numpy(float), (len(dates), 1))
    shift = shift_dk[rows, grid.station_code]
    stem = _stem_per_zip_day(zips, stations, grid.station_code, stems)
    if plan is not None:
        _apply_plan(plan, dates, zips, stations, grid.station_code, stem, capacity, shift)
    return _Layout(
        dates=dates,
        zips=zips,
        stations=stations,
        cities=cities,
        station_code=grid.station_code,
        stem_km=stem,
        capacity=capacity,
        shift_hours=shift,
        factor=grid.factor,
        zip_city=cities.get_indexer(network.zips.loc[zips, "city"]),
        area_km2=network.zips.loc[zips, "area_km2"].to_numpy(float),
        read_group=order["read_group"].to_numpy(),
    )


def _network_after(
    network: Network, dates: pd.DatetimeIndex, scenario: Scenario
) -> tuple[pd.DataFrame, pd.Series]:
    """Stations and stem distances (km) once the scenario's launches and moves are added."""
    stations_tab = network.stations.copy()
    stems = network.stem_km.copy()
    for change in scenario.changes:
        if change.start > dates[-1]:  # would change nothing: say so rather than ignore it
            raise ScenarioError(
                f"scenario change '{change.describe()}' starts after the forecast's last day "
                f"{dates[-1].date()}: expected a start within the horizon "
                f"({dates[0].date()} to {dates[-1].date()})"
            )
        if isinstance(change, StationLaunch):
            if change.station in stations_tab.index:
                raise ScenarioError(f"StationLaunch: station {change.station!r} already exists")
            stations_tab.loc[change.station] = [
                change.city,
                change.shift_hours,
                change.van_capacity,
            ]
            for z, km in change.stem_km.items():
                stems.loc[(z, change.station)] = km
        elif isinstance(change, ZipMove) and change.stem_km is not None:
            stems.loc[(change.zip, change.station)] = change.stem_km
    return stations_tab, stems


@dataclass
class _Grid:
    """Day × zip station codes, day × station capacities and day × zip volume factors."""

    dates: pd.DatetimeIndex
    zips: pd.Index
    stations: pd.Index
    station_code: np.ndarray  # (D, Z) int
    capacity: np.ndarray  # (D, K) packages
    factor: np.ndarray  # (D, Z)

    def zip_position(self, z: str, what: str) -> int:
        """Column of zip ``z``; ScenarioError naming the change if it is not in the network."""
        pos = self.zips.get_indexer([z])[0]
        if pos < 0:
            raise ScenarioError(f"{what}: zip {z!r} is not in the network")
        return int(pos)

    def station_position(self, s: str, what: str) -> int:
        """Code of station ``s``; ScenarioError naming the change if it is not in the network."""
        pos = self.stations.get_indexer([s])[0]
        if pos < 0:
            raise ScenarioError(f"{what}: station {s!r} is not in the network")
        return int(pos)

    def apply(self, change: object) -> None:
        """Apply one scenario change from its start day on."""
        handler = {
            StationLaunch: self._launch,
            ZipMove: self._move,
            VanChange: self._vans,
            VolumeShock: self._shock,
        }[type(change)]
        handler(change, self.dates >= change.start)

    def _launch(self, change: StationLaunch, from_day: np.ndarray) -> None:
        k = self.station_position(change.station, "StationLaunch")
        for z in change.zips:
            self.station_code[from_day, self.zip_position(z, "StationLaunch")] = k

    def _move(self, change: ZipMove, from_day: np.ndarray) -> None:
        k = self.station_position(change.station, "ZipMove")
        self.station_code[from_day, self.zip_position(change.zip, "ZipMove")] = k

    def _vans(self, change: VanChange, from_day: np.ndarray) -> None:
        cols = (
            range(len(self.stations))
            if change.stations is None
            else [self.station_position(s, "VanChange") for s in change.stations]
        )
        self.capacity[np.ix_(from_day, list(cols))] = change.capacity

    def _shock(self, change: VolumeShock, from_day: np.ndarray) -> None:
        days = from_day if change.end is None else from_day & (self.dates <= change.end)
        hit = np.ones(self.factor.shape, dtype=bool)
        if change.zips is not None:
            cols = [self.zip_position(z, "VolumeShock") for z in change.zips]
            hit[:, [c for c in range(len(self.zips)) if c not in cols]] = False
        if change.stations is not None:
            ks = [self.station_position(s, "VolumeShock") for s in change.stations]
            hit &= np.isin(self.station_code, ks)
        self.factor[days[:, None] & hit] *= change.factor


def _stem_per_zip_day(
    zips: pd.Index, stations: pd.Index, station_code: np.ndarray, stems: pd.Series
) -> np.ndarray:
    """Stem distance (km) of each zip-day's (zip, station) pair, looked up once per pair."""
    n_d, n_z = station_code.shape
    pair = np.arange(n_z)[None, :] * len(stations) + station_code
    used, where = np.unique(pair, return_inverse=True)
    lookup = stems.to_dict()
    km = []
    for pair_id in used:
        key = (zips[pair_id // len(stations)], stations[pair_id % len(stations)])
        if key not in lookup:
            raise NetworkError(
                f"no stem distance from station {key[1]!r} to zip {key[0]!r}: "
                "give stem_km in the scenario's ZipMove"
            )
        km.append(lookup[key])
    return np.asarray(km, dtype=float)[where.reshape(n_d, n_z)]


def _apply_plan(
    plan: pd.DataFrame,
    dates: pd.DatetimeIndex,
    zips: pd.Index,
    stations: pd.Index,
    station_code: np.ndarray,
    stem: np.ndarray,
    capacity: np.ndarray,
    shift: np.ndarray,
) -> None:
    """Overwrite per zip-day decisions (van, shift, station, stem) with a known plan."""
    if not {"date", "zip"} <= set(plan.columns):
        raise ForecastError(
            "plan needs columns 'date' and 'zip' plus any of 'van_capacity', "
            "'shift_hours', 'station', 'stem_km'"
        )
    d = dates.get_indexer(pd.to_datetime(plan["date"]))
    z = zips.get_indexer(plan["zip"].astype(str))
    outside = (d < 0) | (z < 0)
    if outside.any():
        i = np.flatnonzero(outside)[0]
        raise ForecastError(
            f"plan row {plan.index[i]!r}: date {plan['date'].iloc[i]!r} / zip "
            f"{plan['zip'].iloc[i]!r} is outside the forecast's days or zips"
        )
    if "station" in plan:
        k = stations.get_indexer(plan["station"].astype(str))
        if (k < 0).any():
            i = np.flatnonzero(k < 0)[0]
            raise ForecastError(
                f"plan row {plan.index[i]!r}, column 'station': "
                f"{plan['station'].iloc[i]!r} is not a station of the network"
            )
        station_code[d, z] = k
    for col, target in (("van_capacity", capacity), ("shift_hours", shift), ("stem_km", stem)):
        if col in plan:
            values = plan[col].to_numpy(float)
            if not (np.isfinite(values) & (values > 0)).all():
                i = np.flatnonzero(~(np.isfinite(values) & (values > 0)))[0]
                raise ForecastError(
                    f"plan row {plan.index[i]!r}, column {col!r}: value "
                    f"{values[i]!r}; expected a positive number"
                )
            target[d, z] = values


def _volume_source(
    volume: VolumeModel | pd.DataFrame | xr.Dataset, n_samples: int, seed: int
) -> tuple[object, int]:
    """Normalise the volume argument: a fitted model with its posterior subset, or draws."""
    if isinstance(volume, VolumeModel):
        post = volume.posterior_samples(n_samples, random_seed=seed)
        return (volume, post), post.sizes["sample"]
    if isinstance(volume, xr.Dataset):
        missing = {"stops", "packages"} - set(volume.data_vars)
        if missing or set(volume["stops"].dims) != {"sample", "date", "zip"}:
            raise ForecastError(
                "volume draws need 'stops' and 'packages' with dims ('sample', 'date', 'zip')"
            )
        return volume.transpose("sample", "date", "zip"), volume.sizes["sample"]
    if isinstance(volume, pd.DataFrame):
        need = {"date", "zip", "stops", "packages"}
        if not need <= set(volume.columns):
            raise ForecastError(f"volume table lacks {sorted(need - set(volume.columns))}")
        table = volume.assign(date=pd.to_datetime(volume["date"]), zip=volume["zip"].astype(str))
        dup = table.duplicated(["date", "zip"])
        if dup.any():
            i = np.flatnonzero(dup)[0]
            raise ForecastError(
                f"volume table row {table.index[i]!r} repeats zip-day "
                f"{table['zip'].iloc[i]} {table['date'].iloc[i]:%Y-%m-%d}"
            )
        ds = table.set_index(["date", "zip"])[["stops", "packages"]].to_xarray()
        if ds["stops"].isnull().any():
            raise ForecastError("volume table must give every zip on every forecast day")
        return ds.expand_dims(sample=[0]).astype(float), n_samples
    raise TypeError(f"volume must be a VolumeModel, a DataFrame or draws, got {type(volume)}")


@with_reused_heap
def forecast(
    spr_model: SPRModel,
    volume: VolumeModel | pd.DataFrame | xr.Dataset,
    horizon: str | int = "16M",
    *,
    scenario: Scenario | None = None,
    network: Network | pd.DataFrame | None = None,
    start: object = None,
    plan: pd.DataFrame | None = None,
    n_samples: int = 400,
    random_seed: int = 0,
    keep_zips: bool = True,
    interval: float = DEFAULT_INTERVAL,
    store: str | os.PathLike[str] | None = None,
    client: Any = None,
) -> Forecast:
    """Forecast routes per zip-day and station-day from volume draws and the SPR posterior.

    Parameters
    ----------
    spr_model : SPRModel
        A fitted SPR model.
    volume : VolumeModel, pandas.DataFrame or xarray.Dataset
        A fitted :class:`bayesspr.volume.model.VolumeModel`; or your own volume forecast: a table
        with ``date``, ``zip``, ``stops``, ``packages`` (per zip-day, every zip every day),
        or draws ``stops``/``packages`` with dims (``sample``, ``date``, ``zip``).
    horizon : str or int
        ``"16M"``, ``"8W"``, ``"28D"`` or days; ignored when ``volume`` is a table or draws
        (their days are used).
    scenario : Scenario, optional
        Changes to volume and network (default: none).
    network : Network or pandas.DataFrame, optional
        Zips, stations, stem distances, vans and shifts; a canonical table is read with
        :meth:`Network.from_table`. Default: the network of the volume model's history.
    start : date-like, optional
        First forecast day (default: the day after the volume history).
    plan : pandas.DataFrame, optional
        Known per zip-day decisions overriding the network: ``date``, ``zip`` and any of
        ``van_capacity`` (packages), ``shift_hours`` (h), ``station``, ``stem_km`` (km).
    n_samples : int
        Joint draws (volume draw *i* with SPR draw *i*), a whole number >= 1; fewer when a
        posterior holds fewer draws.
    random_seed : int
        Seed of the posterior subsets and all noise, a whole number >= 0.
    keep_zips : bool
        Keep zip-day draws (needed for EV range checks); turn off for very many zips.
    interval : float
        Central interval mass of the summary, in (0, 1).
    store : str or os.PathLike, optional
        A Zarr store (folder) to stream the draws to: each block of zips is written as soon
        as it is drawn (one Zarr chunk along ``zip``), so memory holds one block and the
        station-day sums, whatever the number of zips; the store is written beside its path
        and moved into place whole (an earlier store there is replaced only by a complete
        one). The returned draws are then opened lazily from it
        (:func:`bayesspr.io.draw_store.open_draws`).
    client : distributed.Client, optional
        Draw the blocks of zips as tasks on this Dask cluster (a ``LocalCluster`` here, any
        deployment elsewhere); the draws are the same as without it. The station-day sums
        and the store are written here, as the blocks arrive, in order.

    Returns
    -------
    Forecast
        Draws (xarray; lazy with ``store``) and the station-month summary (pandas), named by
        the scenario. Zip-day draws are ordered by station, then zip (select them by label);
        with volume draws in Dask chunks, by their chunk first, so each chunk is read once.

    Raises
    ------
    ForecastError, ScenarioError
        If ``n_samples`` is not a whole number >= 1, ``random_seed`` not a whole number >= 0,
        the horizon is malformed or over 60 months (see :func:`horizon_days`), or
        ``interval`` is not in (0, 1).
    """
    n_samples, random_seed = _whole_numbers(n_samples, random_seed)
    central_bounds(interval)  # refuse a bad level before any work
    scenario = BASELINE if scenario is None else scenario
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    network = _network_of(network, volume)
    source, n_s = _volume_source(volume, n_samples, random_seed)
    dates = _forecast_dates(source, start, horizon)
    layout = _layout(network, dates, scenario, plan, _read_groups(source))
    if not isinstance(source, tuple):
        missing = sorted(set(layout.zips) - set(source["zip"].to_numpy().astype(str)))
        if missing:
            raise ForecastError(f"volume gives no values for zip(s) {missing[:5]}")
    spr_post = spr_model.posterior_samples(n_s, random_seed=random_seed + 1)
    n_s = min(n_s, spr_post.sizes["sample"])
    rng = np.random.default_rng([random_seed, 3])
    labels = {
        "city": layout.cities.to_numpy(),
        "station": layout.stations.to_numpy(),
        "zip": layout.zips.to_numpy(),
    }
    params = spr_model.parameter_draws(spr_post.isel(sample=slice(0, n_s)), labels, rng)

    if store is None:
        totals = _Totals.zeros(n_s, layout, keep_zips)
        _draw_blocks(spr_model, params, source, layout, totals, random_seed, client)
        draws = totals.dataset(scenario)
    else:
        with atomic_folder(store) as folder:  # an earlier store stays until this one is whole
            writer = ZipBlockWriter(folder)
            totals = _Totals.zeros(n_s, layout, keep_zips, writer)
            _draw_blocks(spr_model, params, source, layout, totals, random_seed, client)
            writer.add(totals.dataset(scenario))
        draws = open_draws(store)
    return Forecast(draws=draws, summary=summarise(draws, interval=interval), scenario=scenario)


@dataclass
class _Block:
    """One block of zips drawn: its station-day sums and, when kept, its zip-day draws.

    ``stations`` are the positions of the stations its zips serve on some day; ``sums`` holds
    ``routes``, ``packages`` and ``stops`` summed over those stations' zips of the block,
    (S, D, k) each; ``zips`` the zip-day draws (S, D, C) in their stored dtypes, or none.
    """

    cols: slice
    stations: np.ndarray
    sums: dict[str, np.ndarray]
    zips: dict[str, np.ndarray]


def _block_slices(read_group: np.ndarray, n_s: int, n_d: int) -> list[slice]:
    """Contiguous blocks of zips of at most :data:`CHUNK_ELEMENTS` draws × days × zips.

    A block never spans two read groups (``read_group``, one per zip, sorted), so each
    block reads from one chunk of chunked volume draws.
    """
    chunk = max(1, CHUNK_ELEMENTS // max(1, n_s * n_d))
    edges = [0, *(np.flatnonzero(np.diff(read_group)) + 1).tolist(), len(read_group)]
    return [
        slice(z0, min(z0 + chunk, end))
        for start, end in itertools.pairwise(edges)
        for z0 in range(start, end, chunk)
    ]


def _draw_block(
    spr_model: SPRModel,
    params: Any,
    source: object,
    layout: _Layout,
    cols: slice,
    n_s: int,
    random_seed: int,
    keep_zips: bool,
) -> _Block:
    """Volume and route draws of the zips ``cols``, summed per station-day.

    A pure function of its arguments: every draw is keyed by the seed, the posterior draw,
    the zip and the day, so blocks drawn in any order or on any worker agree.
    """
    stops, packages = _chunk_volume(source, layout, cols, n_s, random_seed)
    zone, index = _chunk_rows(layout, cols, stops, packages)
    n_noise = 1 if params.sigma_km is None else 2
    normals = _route_normals(random_seed, layout.zips[cols], n_s, layout.dates, n_noise)
    routes, km = spr_model.route_draws(params, zone, index, normals=normals)
    n_d, n_c = len(layout.dates), cols.stop - cols.start
    stations, local = np.unique(index["station"], return_inverse=True)
    shape = (n_s, n_d, n_c)
    routes_sum, packages_sum, stops_sum = _station_day_sums(
        stops.reshape(shape),
        packages.reshape(shape),
        routes.reshape(shape),
        local.reshape(n_d, n_c),
        len(stations),
    )
    sums = {"routes": routes_sum, "packages": packages_sum, "stops": stops_sum}
    zips = {}
    if keep_zips:
        empty = stops < 1  # a zip-day with no stops needs no route
        chunk = {
            "routes_zip": np.where(empty, 0, routes),
            "stops_zip": stops,
            "packages_zip": packages,
            "route_km_zip": np.where(empty, np.nan, km),
        }
        zips = {
            name: chunk[name].reshape(shape).astype(dtype) for name, (dtype, _) in ZIP_DRAWS.items()
        }
    return _Block(cols=cols, stations=stations, sums=sums, zips=zips)


@loops_over_samples(cache=True)
def _station_day_sums(
    stops: np.ndarray,
    packages: np.ndarray,
    routes: np.ndarray,
    station: np.ndarray,
    n_stations: int,
) -> np.ndarray:
    """Station-day sums (3, S, D, k) of routes, packages and stops over zip-days (S, D, C).

    ``station`` (D, C) is the position, among the block's ``n_stations``, of the station each
    zip serves each day. One compiled pass: a zip may change station from one day to the next.
    A zip-day with no stops (stops < 1) adds no route.
    """
    n_s, n_d, n_c = stops.shape
    out = np.zeros((3, n_s, n_d, n_stations))
    for s in numba.prange(n_s):
        for d in range(n_d):
            for c in range(n_c):
                k = station[d, c]
                if stops[s, d, c] >= 1:
                    out[0, s, d, k] += routes[s, d, c]
                out[1, s, d, k] += packages[s, d, c]
                out[2, s, d, k] += stops[s, d, c]
    return out


def _draw_blocks(
    spr_model: SPRModel,
    params: Any,
    source: object,
    layout: _Layout,
    totals: _Totals,
    random_seed: int,
    client: Any = None,
) -> None:
    """Draw volume and routes block of zips by block, adding each block to ``totals``.

    With a Dask ``client`` the blocks are tasks on its workers (the models, the parameter
    draws and the layout sent once), and their results are added here in block order as
    they arrive.
    """
    n_s = totals.routes.shape[0]
    keep = totals.keeps_zips
    slices = _block_slices(layout.read_group, n_s, len(layout.dates))
    if client is None:
        for cols in slices:
            totals.add(_draw_block(spr_model, params, source, layout, cols, n_s, random_seed, keep))
        return
    # sent once; each worker fetches a copy from a peer when its first block needs it
    # (broadcast=True failed on a one-worker cluster whose worker held a fit's freed memory:
    # "Can not use replicate to delete data"; Dask's memory manager drops replicas anyway)
    shared = client.scatter([spr_model, params, source, layout])
    threads = task_threads(client)  # workers side by side share their host's cores
    with reused_heap_on_workers(client):  # each block reuses the memory the last one freed
        futures = [
            client.submit(
                _draw_block_on_worker, threads, *shared, cols, n_s, random_seed, keep, pure=False
            )
            for cols in slices
        ]
        for future in futures:  # in block order: a store is appended along zip
            totals.add(future.result())
            future.release()


def _draw_block_on_worker(threads: dict[str, int], *args: Any) -> _Block:
    """:func:`_draw_block` as a Dask task, its threads capped to this worker's share."""
    return run_with_threads(threads, _draw_block, *args)


def _route_normals(
    random_seed: int, zips: Sequence[str], n_s: int, dates: pd.DatetimeIndex, n_noise: int
) -> np.ndarray:
    """(n_noise, S, D·Z) standard normals of the routes' day noise, rows day-major (–).

    Counter-based (:func:`bayesspr.volume.keyed.keyed_normal_pairs`): each value is a fixed
    function of the forecast's seed, the sample, the day and the zip's name, so a zip's route
    draws do not depend on which zips share its block (nor on the block size), and the two
    noises of a zip-day (route need, route length) are the two normals of one Box–Muller
    pair. Single precision: they only perturb a log route need, and they are the forecast's
    largest array.
    """
    stream = name_keys_64([f"route-noise:{random_seed}"])[0]
    normals = keyed_normal_pairs(stream, n_s, day_keys(dates), name_keys_64(zips), n_noise)
    return normals.reshape(n_noise, n_s, -1)


def _whole_numbers(n_samples: object, random_seed: object) -> tuple[int, int]:
    """``n_samples`` (>= 1) and ``random_seed`` (>= 0) as ints, or a ValueError naming one."""
    for name, value, low in (("n_samples", n_samples, 1), ("random_seed", random_seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ForecastError(
                f"forecast({name}={value!r}): expected a whole number >= {low}"
                + (" (joint draws)" if name == "n_samples" else " (a seed)")
            )
    return int(n_samples), int(random_seed)  # type: ignore[call-overload]


def _network_of(network: Network | pd.DataFrame | None, volume: object) -> Network:
    """The network given, read from a canonical table, or the volume model's own."""
    if network is None:
        network = getattr(volume, "network", None)
        if network is None:
            raise NetworkError("give network= (a Network or the canonical history table)")
        return network
    if isinstance(network, pd.DataFrame):
        return Network.from_table(network)
    return network


def _forecast_dates(source: object, start: object, horizon: str | int) -> pd.DatetimeIndex:
    """Forecast days: a model's from ``start`` (default: after its history), else the draws'."""
    if not isinstance(source, tuple):
        return pd.DatetimeIndex(source["date"].to_numpy())
    vmodel = source[0]
    first = pd.Timestamp(start) if start is not None else vmodel.last_date + pd.Timedelta(days=1)
    return horizon_days(first.normalize(), horizon)


def _chunk_volume(
    source: object, layout: _Layout, cols: slice, n_s: int, random_seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stops and packages of a chunk of zips, (S, D·C) floats, from the model or the draws."""
    n_d, n_c = len(layout.dates), cols.stop - cols.start
    if isinstance(source, tuple):
        vmodel, vpost = source
        stops, packages = vmodel.volume_draws(
            vpost.isel(sample=slice(0, n_s)),
            layout.dates,
            layout.zips[cols].to_numpy(),
            np.random.SeedSequence([random_seed, 2, cols.start]),
            factor=layout.factor[:, cols],
            dtype=np.float64,
        )
    else:
        picked = source.sel(zip=layout.zips[cols].to_numpy(), date=layout.dates)
        take = np.arange(n_s) % picked.sizes["sample"]
        factor = layout.factor[None, :, cols]
        stops = np.round(picked["stops"].to_numpy()[take] * factor)
        packages = np.maximum(np.round(picked["packages"].to_numpy()[take] * factor), stops)
    stops = stops.reshape(n_s, n_d * n_c).astype(float, copy=False)
    packages = packages.reshape(n_s, n_d * n_c).astype(float, copy=False)
    return stops, packages


def _chunk_rows(
    layout: _Layout, cols: slice, stops: np.ndarray, packages: np.ndarray
) -> tuple[ZoneDay, dict[str, np.ndarray]]:
    """The zip-days of a chunk as physics inputs, and each one's city, station and zip."""
    n_d = len(layout.dates)
    empty = stops < 1  # routed as one stop, then given no route
    zone = ZoneDay(
        stops=np.where(empty, 1.0, stops),
        packages=np.where(empty, 1.0, packages),
        capacity=layout.capacity[:, cols].ravel(),
        area_km2=np.tile(layout.area_km2[cols], n_d),
        stem_km=layout.stem_km[:, cols].ravel(),
        shift_hours=layout.shift_hours[:, cols].ravel(),
    )
    index = {
        "city": np.tile(layout.zip_city[cols], n_d),
        "station": layout.station_code[:, cols].ravel(),
        "zip": np.tile(np.arange(cols.start, cols.stop), n_d),
    }
    return zone, index


#: Zip-day draws kept with ``keep_zips``: dtype and unit.
ZIP_DRAWS = {
    "routes_zip": (np.int32, "routes"),
    "stops_zip": (np.int32, "stops"),
    "packages_zip": (np.int32, "packages"),
    "route_km_zip": (np.float32, "km per route"),
}


@dataclass
class _Totals:
    """Station-day sums on the draws (S, D·K), and the zip-day draws (S, D, Z).

    The zip-day draws are kept in memory, handed block by block to a Zarr store, or dropped.
    """

    layout: _Layout
    routes: np.ndarray
    packages: np.ndarray
    stops: np.ndarray
    zip_draws: dict[str, np.ndarray]
    writer: ZipBlockWriter | None = None

    @classmethod
    def zeros(
        cls, n_s: int, layout: _Layout, keep_zips: bool, writer: ZipBlockWriter | None = None
    ) -> _Totals:
        n_d, n_z, n_k = len(layout.dates), len(layout.zips), len(layout.stations)
        keep = {}
        if keep_zips and writer is None:
            keep = {
                name: np.zeros((n_s, n_d, n_z), dtype=dtype)
                for name, (dtype, _) in ZIP_DRAWS.items()
            }
        sums = (np.zeros((n_s, n_d * n_k)) for _ in range(3))
        return cls(layout, *sums, zip_draws=keep, writer=writer if keep_zips else None)

    @property
    def keeps_zips(self) -> bool:
        """Whether the zip-day draws are kept in memory or written to a store."""
        return bool(self.zip_draws) or self.writer is not None

    def add(self, block: _Block) -> None:
        """Add a block's station-day sums to their stations; keep or store its zip-days."""
        n_s, n_k = self.routes.shape[0], len(self.layout.stations)
        for name in ("routes", "packages", "stops"):
            total = getattr(self, name).reshape(n_s, -1, n_k)
            total[:, :, block.stations] += block.sums[name]
        for name, values in self.zip_draws.items():
            values[:, :, block.cols] = block.zips[name]
        if self.writer is not None:
            self.writer.append(self._zip_dataset(block.zips, block.cols))

    def _zip_dataset(self, arrays: dict[str, np.ndarray], cols: slice) -> xr.Dataset:
        """Zip-day draws of the zips ``cols`` as a dataset, with their station each day."""
        layout = self.layout
        dims = ("sample", "date", "zip")
        return xr.Dataset(
            {
                name: (dims, values, {"units": ZIP_DRAWS[name][1]})
                for name, values in arrays.items()
            },
            coords={
                "sample": np.arange(self.routes.shape[0]),
                "date": layout.dates,
                "zip": layout.zips[cols].to_numpy(),
                "station_of": (
                    ("date", "zip"),
                    layout.stations.to_numpy()[layout.station_code[:, cols]],
                ),
            },
        )

    def dataset(self, scenario: Scenario) -> xr.Dataset:
        """The station-day sums, with the zip-day draws kept in memory, named by scenario."""
        layout = self.layout
        n_s = self.routes.shape[0]
        shape = (n_s, len(layout.dates), len(layout.stations))
        dims = ("sample", "date", "station")
        data_vars = {
            "routes": (
                dims,
                self.routes.reshape(shape).round().astype(np.int64),
                {"units": "routes per station-day"},
            ),
            "packages": (dims, self.packages.reshape(shape), {"units": "packages per day"}),
            "stops": (dims, self.stops.reshape(shape), {"units": "stops per day"}),
        }
        coords = {
            "sample": np.arange(n_s),
            "date": layout.dates,
            "station": layout.stations.to_numpy(),
        }
        if self.zip_draws:  # the arrays themselves, not copies
            zips = self._zip_dataset(self.zip_draws, slice(0, len(layout.zips)))
            data_vars.update({name: zips[name].variable for name in zips.data_vars})
            coords.update({name: zips[name].variable for name in ("zip", "station_of")})
        return xr.Dataset(
            data_vars,
            coords=coords,
            attrs={"scenario": scenario.name, "scenario_changes": scenario.describe()},
        )


def summarise(draws: xr.Dataset, interval: float = DEFAULT_INTERVAL) -> pd.DataFrame:
    """Station-month summary of station-day draws.

    Parameters
    ----------
    draws : xarray.Dataset
        ``routes`` and ``packages`` with dims (``sample``, ``date``, ``station``).
    interval : float
        Central interval mass, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, ``station``, ``month`` (month-start ``Timestamp``, as in
        :attr:`bayesspr.fleet.decisions.FleetPlan.table`;
        :func:`bayesspr.io.files.write_csv` writes it ``YYYY-MM``), ``days``, and for each
        of ``routes_per_day`` (mean daily routes), ``peak_routes`` (the month's busiest day,
        routes), ``packages_per_day`` and ``spr`` (packages per route) its ``_mean`` and the
        ends of the central interval, ``_lower_P`` and ``_upper_P`` with P the interval
        mass in percent (``routes_per_day_lower_90``); :func:`summary_legend` says what each
        column holds.
    """
    lo, hi = central_bounds(interval)
    mass = f"{100 * interval:g}"
    routes = draws["routes"].transpose("sample", "date", "station")
    packages = draws["packages"].transpose("sample", "date", "station")
    month = pd.DatetimeIndex(draws["date"].to_numpy()).to_period("M").to_timestamp()
    by_month = (
        xr.Dataset({"routes": routes, "packages": packages})
        .assign_coords(month=("date", month))
        .groupby("month")
    )
    per_draw = xr.Dataset(
        {
            "routes_per_day": by_month.mean()["routes"],
            "peak_routes": by_month.max()["routes"],
            "packages_per_day": by_month.mean()["packages"],
        }
    )
    per_draw["spr"] = per_draw["packages_per_day"] / per_draw["routes_per_day"].where(
        per_draw["routes_per_day"] > 0
    )
    with warnings.catch_warnings():
        # a station-month with no routes in any draw (not yet open) has no SPR: NaN by design
        warnings.filterwarnings("ignore", "All-NaN slice|Mean of empty slice", RuntimeWarning)
        frames = {
            "mean": per_draw.mean("sample"),
            f"lower_{mass}": per_draw.quantile(lo, dim="sample").drop_vars("quantile"),
            f"upper_{mass}": per_draw.quantile(hi, dim="sample").drop_vars("quantile"),
        }
    out = None
    for stat, ds in frames.items():
        table = ds.to_dataframe().rename(columns=lambda c, s=stat: f"{c}_{s}")
        out = table if out is None else out.join(table)
    out = out.reset_index()
    days = pd.Series(month).value_counts()
    out.insert(0, "scenario", draws.attrs.get("scenario", "baseline"))
    out.insert(3, "days", out["month"].map(days).astype(int))
    order = ["scenario", "station", "month", "days"] + [
        f"{v}_{s}"
        for v in ("routes_per_day", "peak_routes", "packages_per_day", "spr")
        for s in ("mean", f"lower_{mass}", f"upper_{mass}")
    ]
    return out[order].sort_values(["station", "month"]).reset_index(drop=True)


#: What each quantity of the station-month summary is, and its unit.
_SUMMARY_QUANTITIES = {
    "routes_per_day": ("routes per day", "the month's mean routes per day"),
    "peak_routes": ("routes", "routes on the month's busiest day"),
    "packages_per_day": ("packages per day", "the month's mean packages per day"),
    "spr": ("packages per route", "shipments per route: packages per day / routes per day"),
}


def summary_legend(summary: pd.DataFrame) -> pd.DataFrame:
    """What each column of a :func:`summarise` table holds, with its unit.

    Parameters
    ----------
    summary : pandas.DataFrame
        A station-month summary (its interval mass is read from the column names).

    Returns
    -------
    pandas.DataFrame
        Columns ``column``, ``unit`` and ``meaning``, one row per column of ``summary``.
    """
    fixed = {
        "scenario": ("–", "the scenario the forecast was made under"),
        "station": ("–", "delivery station"),
        "month": ("YYYY-MM", "calendar month"),
        "days": ("days", "days of the month inside the forecast horizon"),
    }
    rows = []
    for column in summary.columns:
        if column in fixed:
            rows.append((column, *fixed[column]))
            continue
        if column.endswith("_mean") and column.removesuffix("_mean") in _SUMMARY_QUANTITIES:
            unit, what = _SUMMARY_QUANTITIES[column.removesuffix("_mean")]
            rows.append((column, unit, f"mean over the joint draws of {what}"))
            continue
        found = re.fullmatch(r"(\w+)_(lower|upper)_([\d.]+)", column)
        if found is None or found.group(1) not in _SUMMARY_QUANTITIES:
            rows.append((column, "", ""))
            continue
        unit, what = _SUMMARY_QUANTITIES[found.group(1)]
        end = "lower" if found.group(2) == "lower" else "upper"
        rows.append(
            (
                column,
                unit,
                f"{end} end of the central {found.group(3)} % interval over "
                f"the joint draws of {what}",
            )
        )
    return pd.DataFrame(rows, columns=["column", "unit", "meaning"])
