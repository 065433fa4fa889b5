"""The delivery network a forecast runs on: zips, stations, stem distances, shifts, vans.

A :class:`Network` is read from the latest history (who serves which zip, how far, with which
van and shift) and is what scenarios change (see :mod:`bayesspr.forecasting.scenario`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bayesspr.errors import NetworkError

#: Days at the end of the history that set each station's usual van and shift.
RECENT_DAYS = 28


@dataclass(frozen=True)
class Network:
    """Zips, stations and stem distances.

    Attributes
    ----------
    zips : pandas.DataFrame
        Index ``zip``; ``city``, ``station`` (current), ``area_km2`` (km²).
    stations : pandas.DataFrame
        Index ``station``; ``city``, ``shift_hours`` (h), ``van_capacity`` (packages).
    stem_km : pandas.Series
        Straight-line stem distance (km) indexed by (``zip``, ``station``), for every pair
        seen in the history or added by a scenario.
    """

    zips: pd.DataFrame
    stations: pd.DataFrame
    stem_km: pd.Series

    @classmethod
    def from_table(cls, df: pd.DataFrame, recent_days: int = RECENT_DAYS) -> Network:
        """Read the network from a canonical observation table.

        Parameters
        ----------
        df : pandas.DataFrame
            Canonical table (see :mod:`bayesspr.data.table`); ``routes`` not needed.
        recent_days : int
            The last days that set each station's usual van (most used capacity, the larger
            on a tie) and shift (median) (days).

        Returns
        -------
        Network
            Each zip at its latest station; stem distances of every (zip, station) seen.
        """
        need = [
            "date",
            "city",
            "station",
            "zip",
            "area_km2",
            "stem_km",
            "van_capacity",
            "shift_hours",
        ]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise NetworkError(f"table lacks column(s) {missing} needed for the network")
        table = df[need].assign(date=pd.to_datetime(df["date"])).sort_values("date")
        last = table.groupby("zip").last()
        zips = last[["city", "station", "area_km2"]].astype({"area_km2": float})
        stem = table.groupby(["zip", "station"])["stem_km"].last().astype(float)
        recent = table[table["date"] > table["date"].max() - pd.Timedelta(days=recent_days)]
        usual_van = (
            recent.groupby(["station", "van_capacity"])
            .size()
            .rename("n")
            .reset_index()
            .sort_values(["station", "n", "van_capacity"])
            .groupby("station")["van_capacity"]
            .last()
        )
        stations = pd.DataFrame(
            {
                "city": table.groupby("station")["city"].last(),
                "shift_hours": recent.groupby("station")["shift_hours"].median(),
                "van_capacity": usual_van,
            }
        )
        # a station without recent rows keeps its last known van and shift
        stations["shift_hours"] = stations["shift_hours"].fillna(
            table.groupby("station")["shift_hours"].last()
        )
        stations["van_capacity"] = stations["van_capacity"].fillna(
            table.groupby("station")["van_capacity"].last()
        )
        return cls(zips=zips, stations=stations.astype({"van_capacity": float}), stem_km=stem)

    def to_json(self) -> dict[str, object]:
        """The network as plain JSON-ready data (for saved fits; no pickle)."""
        return {
            "zips": {
                z: [r["city"], r["station"], float(r["area_km2"])] for z, r in self.zips.iterrows()
            },
            "stations": {
                s: [r["city"], float(r["shift_hours"]), float(r["van_capacity"])]
                for s, r in self.stations.iterrows()
            },
            "stem_km": [[z, s, float(v)] for (z, s), v in self.stem_km.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Network:
        """Rebuild a network written by :meth:`to_json`."""
        zips = pd.DataFrame.from_dict(
            data["zips"], orient="index", columns=["city", "station", "area_km2"]
        )
        zips.index.name = "zip"
        stations = pd.DataFrame.from_dict(
            data["stations"], orient="index", columns=["city", "shift_hours", "van_capacity"]
        )
        stations.index.name = "station"
        stem = pd.DataFrame(data["stem_km"], columns=["zip", "station", "stem_km"])
        return cls(
            zips=zips, stations=stations, stem_km=stem.set_index(["zip", "station"])["stem_km"]
        )
