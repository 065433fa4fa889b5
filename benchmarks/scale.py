"""The monthly cycle up the size ladder: time, memory and convergence per rung and step.

For each rung of :data:`bayesspr.simulate.ladder.RUNGS` asked for, one process per rung
(so that its peak memory is its own) runs the steps in order and prints a row per step:

* ``simulate``: the rung's network and a year of daily history;
* ``validate``: the canonical table checked;
* ``spr fit``: ``SPRModel().fit`` with its defaults;
* ``volume fit``: ``VolumeModel().fit`` with its defaults;
* ``forecast``: 16 months of joint draws (``--samples``) composed per station-day, zip-day
  draws streamed to a Zarr store;
* ``plan``: the fleet plan per station and month at the default service level.

Each row has the step's wall time (s), the process's peak RSS so far (MiB) and, for fits,
min bulk ESS, ESS per second, max R-hat, divergences and where NUTS started (``start``:
``mode`` or ``default`` per run, as the fit's defaults chose by size). ``--markdown``
prints the table; ``--chart PATH`` draws fit and forecast time against zips on log-log axes.

With ``--workers N [N ...]`` each rung runs once per worker count on a ``distributed.LocalCluster``
of N single-threaded worker processes with a 4 GiB memory limit each, passed as ``client=`` to
the SPR fit (its rows on the workers where it takes the Laplace route), the volume fit (which
runs in the driver unless ``VolumeModel.shard_min_zips`` is set: ``volume_on_dask.py``) and
the forecast (its blocks of zips as tasks); the plan runs in the driver. Those rows add the
largest worker peak of the step (``worker peak MiB``, each worker's peak reset before the
step). With ``--cities K`` a rung runs on its first K cities only, a stated subset (``cities``
says "K of M"); the driver's peak is then reset once the subset is cut, so the rows after
``simulate`` show the subset's peak, not the whole rung's simulation.

Usage: ``python benchmarks/scale.py --rungs S [--samples 200] [--workers N ...] [--cities K]
[--markdown] [--chart PATH]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
from spr_on_dask import local_cluster, rung_subset

STEPS = ("simulate", "validate", "spr fit", "volume fit", "forecast", "plan")


def _fit_row(model, seconds: float) -> dict:
    d = model.diagnostics
    if d.get("approximate"):  # no chains to judge: say what it was and what it took
        mode = d.get("mode", {})
        return {
            "start": f"{d['method']} (approximate): mode in {mode.get('iterations')} "
            f"iterations, Hessian {mode.get('hessian_gradients')} gradients"
        }
    ess = min(d["ess_bulk_min"], d["ess_tail_min"])
    return {
        "min bulk ESS": round(d["ess_bulk_min"]),
        "ESS/s": round(ess / seconds, 2),
        "max R-hat": round(d["rhat_max"], 4),
        "divergences": d["divergences"],
        "start": "; ".join(
            f"{run}: {record.get('start', {}).get('route', 'default')}"
            for run, record in d.get("sampler", {}).items()
        ),
    }


def run_rung(
    rung: str, samples: int, seed: int, workers: int = 0, cities: int | None = None
) -> list[dict]:
    """The cycle's steps on one rung, in this process (``workers``: a LocalCluster's, 0 none)."""
    with local_cluster(workers) if workers else contextlib.nullcontext() as client:
        return _cycle(rung, samples, seed, client, cities)


def _timed_step(rung: str, name: str, work, client) -> dict:
    """Run one step; its row: wall time, peaks (the driver's, the workers'), what it adds."""
    from bayesspr.inference.sharded import peak_rss_mib, reset_peak_rss

    if client is not None:
        client.run(reset_peak_rss)
    started = time.perf_counter()
    extra = work() or {}
    seconds = time.perf_counter() - started
    row = {"rung": rung, "step": name, "wall s": round(seconds, 1), "peak MiB": peak_rss_mib()}
    if client is not None:
        peaks = client.run(peak_rss_mib)
        row["workers"] = len(peaks)
        row["worker peak MiB"] = round(max(peaks.values()))
    row |= extra(seconds) if callable(extra) else extra
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def _cycle(rung: str, samples: int, seed: int, client, cities: int | None) -> list[dict]:
    from bayesspr import SPRModel, VolumeModel, forecast
    from bayesspr.data.table import validate
    from bayesspr.fleet import decisions
    from bayesspr.inference.sharded import reset_peak_rss

    warnings.simplefilter("ignore")
    rows: list[dict] = []
    state: dict = {}

    def simulate():
        table, whole = rung_subset(rung, cities, seed)
        state["cities"] = f"{table['city'].nunique()} of {whole['cities']}"
        state["raw"] = table
        state["zips"] = table["zip"].nunique()
        return {"zips": state["zips"], "rows": len(table)}

    def check():
        state["table"] = validate(state.pop("raw"))
        if cities:
            reset_peak_rss()  # the subset's own peak from here, not the whole rung's simulation

    def fit_spr():
        state["spr"] = SPRModel().fit(state["table"], random_seed=1, client=client)
        return lambda seconds: _fit_row(state["spr"], seconds)

    def fit_volume():
        state["volume"] = VolumeModel().fit(state["table"], random_seed=2, client=client)
        return lambda seconds: _fit_row(state["volume"], seconds)

    def compose():
        folder = Path(tempfile.mkdtemp(prefix="bayesspr-scale-"))
        state["forecast"] = forecast(
            state["spr"],
            state["volume"],
            "16M",
            n_samples=samples,
            random_seed=3,
            store=folder / "draws.zarr",
            client=client,
        )
        draws = state["forecast"].draws
        n = draws.sizes["sample"] * draws.sizes["date"] * draws.sizes["zip"]
        return lambda seconds: {"zip-day draws/s": round(n / seconds)}

    def plan():
        decisions.plan(state["forecast"].draws["routes"].load())

    work = {
        "simulate": simulate,
        "validate": check,
        "spr fit": fit_spr,
        "volume fit": fit_volume,
        "forecast": compose,
        "plan": plan,
    }
    for name in STEPS:
        rows.append(_timed_step(rung, name, work[name], client))
    for row in rows:
        row["zips"] = state["zips"]
        row["cities"] = state["cities"]
    return rows


#: Steps that run on the cluster's workers when there is one; the others run in the driver.
ON_WORKERS = ("spr fit", "forecast")


def estimate(table: pd.DataFrame, workers: int) -> pd.DataFrame | None:
    """Each step of the whole rung on ``workers`` workers, from a subset's 1- and 2-worker runs.

    An estimate, not a measurement. A step on the workers takes ``a + b / k`` on k workers,
    ``a`` and ``b`` fitted to the two runs (``b``: the work the workers split; ``a``: the
    driver's part and the messages); a step in the driver takes the two runs' mean. Both are
    scaled to the whole rung by its zips over the subset's (but ``simulate``, which made the
    whole rung already), linearly (the volume fit grew
    5.5 times from rung S to M for 10 times the zips, so linear is on the safe side). In the
    SPR fit a worker's peak is its 1-worker peak above ``BASE_MIB`` times its share of the
    rows; in the forecast it is the 2-worker run's (a block of zips at a time).
    """
    from bayesspr.simulate.ladder import RUNGS

    if not {1, 2} <= set(table.get("workers", pd.Series(dtype=float)).dropna()):
        return None
    rung = str(table["rung"].iloc[0])
    scale = RUNGS[rung][0] / float(table["zips"].iloc[0])
    rows = []
    for step_name, part in table.groupby("step", sort=False):
        one = part.loc[part["workers"] == 1].iloc[0]
        two = part.loc[part["workers"] == 2].iloc[0]
        if step_name in ON_WORKERS:
            b = 2.0 * (float(one["wall s"]) - float(two["wall s"]))
            a = max(float(one["wall s"]) - b, 0.0)
        else:
            a, b = (float(one["wall s"]) + float(two["wall s"])) / 2.0, 0.0
        if step_name == "spr fit":  # a worker holds its share of the rows
            worker_mib = BASE_MIB + (float(one["worker peak MiB"]) - BASE_MIB) * scale / workers
        else:  # a forecast's worker draws one block of zips at a time, whatever the count
            worker_mib = float(two["worker peak MiB"])
        rows.append(
            {
                "step": step_name,
                "where": "workers" if step_name in ON_WORKERS else "driver",
                "a s (subset)": round(a, 1),
                "b s (subset)": round(b, 1),
                f"whole rung on {workers} workers, s": round(
                    # a subset run simulates the whole rung and then cuts it
                    (1.0 if step_name == "simulate" else scale) * (a + b / workers),
                    1,
                ),
                "worker MiB": round(worker_mib) if step_name in ON_WORKERS else None,
            }
        )
    out = pd.DataFrame(rows)
    total = out[f"whole rung on {workers} workers, s"].sum()
    out.loc[len(out)] = {"step": "cycle", f"whole rung on {workers} workers, s": round(total, 1)}
    return out


#: A worker's resident memory before any work (MiB): its imports (measured 300 to 380).
BASE_MIB = 380


def chart(table: pd.DataFrame, path: str) -> None:
    """Log-log chart of each step's wall time against zips."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesspr.io.files import write_png

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for step_name, part in table.groupby("step", sort=False):
        if step_name in ("spr fit", "volume fit", "forecast", "plan"):
            ax.plot(part["zips"], part["wall s"], marker="o", label=step_name)
        if step_name == "spr fit" and "start" in part:  # the route a size takes, on its point
            widest = part["zips"].max()
            for zips, seconds, start in part[["zips", "wall s", "start"]].itertuples(index=False):
                route = "Laplace (approximate)" if "laplace" in str(start) else "NUTS"
                right = zips == widest and len(part) > 1  # keep the label inside the axes
                ax.annotate(
                    route,
                    (zips, seconds),
                    textcoords="offset points",
                    xytext=(-8, -8) if right else (6, 8),
                    ha="right" if right else "left",
                    va="top" if right else "bottom",
                )
    ax.set(xscale="log", yscale="log", xlabel="zips in the network", ylabel="wall time (s)")
    ax.set_title("Cost of the monthly cycle by network size (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_png(fig, path)


def _readable(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the docs show it.

    Whole numbers with thousands separators, blanks where a column does not apply to a step.
    """
    shown = table.astype(object)
    for column in (
        "peak MiB",
        "worker peak MiB",
        "workers",
        "zips",
        "rows",
        "min bulk ESS",
        "divergences",
        "zip-day draws/s",
    ):
        if column in shown:
            shown[column] = [
                "" if pd.isna(value) else f"{float(value):,.0f}" for value in table[column]
            ]
    return shown.where(table.notna(), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rungs", nargs="+", default=["S"])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--chart", default=None, help="write the log-log chart here (PNG)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0],
        help="run each rung on a LocalCluster of N workers, once per N (0: no cluster)",
    )
    parser.add_argument("--cities", type=int, default=None, help="each rung's first K cities")
    parser.add_argument(
        "--estimate",
        type=int,
        default=None,
        metavar="N",
        help="with --workers 1 2: estimate the whole rung's cycle on N workers",
    )
    parser.add_argument("--save", default=None, help="write the rows here (JSON)")
    parser.add_argument(
        "--rows", default=None, help="read the rows from a --save file instead of running"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        rung, workers = args.child.split(":")
        print(json.dumps(run_rung(rung, args.samples, args.seed, int(workers), args.cities)))
        return
    rows = json.loads(Path(args.rows).read_text()) if args.rows else []
    for rung in [] if args.rows else args.rungs:
        for workers in args.workers:
            command = [sys.executable, __file__, "--child", f"{rung}:{workers}"]
            command += ["--samples", str(args.samples), "--seed", str(args.seed)]
            if args.cities:
                command += ["--cities", str(args.cities)]
            done = subprocess.run(
                command,
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
            rows += json.loads(done.stdout.strip().splitlines()[-1])
    if args.save:
        Path(args.save).write_text(json.dumps(rows))
    table = pd.DataFrame(rows)
    print(
        _readable(table).to_markdown(index=False) if args.markdown else table.to_string(index=False)
    )
    guess = None if args.estimate is None else estimate(table, args.estimate)
    if guess is not None:
        print(f"\nEstimate (not a measurement) for the whole rung on {args.estimate} workers:\n")
        shown = guess.astype(object).where(guess.notna(), "")
        print(shown.to_markdown(index=False) if args.markdown else shown.to_string(index=False))
    if args.chart:
        chart(table, args.chart)


if __name__ == "__main__":
    main()
