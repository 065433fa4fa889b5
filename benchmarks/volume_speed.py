"""Fit speed and memory of the volume models, side by side, against the number of zips.

For each network size (zips × 14 months of daily history by default, 8 zips per station, a
few cities) fit the default :class:`bayesspr.VolumeModel` (station totals × zip shares) and,
where asked, the zip-day reference :class:`bayesspr.volume.zip_day.ZipDayVolumeModel` on the
same seeded world (station-day shocks on), and print per fit: wall time (s, compile included),
peak resident memory (GiB), smallest bulk and tail ESS, largest R-hat, divergences, ESS per
second, and the ratio of wall time to the default model's at the same size.

Each fit runs in its own Python process (``subprocess``), so its peak memory is its own,
with one BLAS thread from start-up (``OPENBLAS_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``), so its
draws do not depend on the machine's number of cores.
``--chart PATH`` also writes the log-log chart of fit time against zips.

Run (side by side under the same conditions; the machine's other load shifts wall times)::

    python benchmarks/volume_speed.py --zips 64 400 4000 --reference-zips 64
    python benchmarks/volume_speed.py --zips 64 --models default --chart docs/img/volume_speed.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import pandas as pd

from bayesspr.inference.sharded import peak_rss_mib

MODELS = ("default", "zip-day")
#: Environment variables that set the BLAS libraries' thread counts (OpenBLAS, MKL).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def fit_once(model_name: str, n_zips: int, days: int, draws: int, tune: int, seed: int = 1) -> dict:
    """Fit one world in this process; return time, memory and convergence figures."""
    from bayesspr.simulate.volume_worlds import simulate_volume_world
    from bayesspr.volume.model import VolumeModel
    from bayesspr.volume.zip_day import ZipDayVolumeModel

    stations = max(1, n_zips // 8)
    cities = min(5, max(1, stations // 4))
    world = simulate_volume_world(
        5,
        n_cities=cities,
        stations_per_city=max(1, stations // cities),
        zips_per_station=8 if n_zips >= 8 else n_zips,
        n_days=days,
        horizon_days=0,
        station_day_sd=0.05,
    )
    cls = VolumeModel if model_name == "default" else ZipDayVolumeModel
    model = cls(regressors=world.regressors)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(world.table, random_seed=seed, draws=draws, tune=tune)
    wall = time.perf_counter() - start
    d = model.diagnostics
    peak_gib = peak_rss_mib() / 1024
    return {
        "model": model_name,
        "zips": world.table["zip"].nunique(),
        "zip_days": len(world.table),
        "wall_s": round(wall, 1),
        "peak_GiB": round(peak_gib, 2),
        "ess_bulk_min": round(d["ess_bulk_min"]),
        "ess_tail_min": round(d["ess_tail_min"]),
        "rhat_max": round(d["rhat_max"], 4),
        "ess_worst": f"{d['ess_bulk_worst']} / {d['ess_tail_worst']}",
        "divergences": d["divergences"],
        "ess_per_s": round(d["ess_bulk_min"] / wall, 2),
    }


def run_in_subprocess(model: str, zips: int, args: argparse.Namespace) -> dict:
    """One fit in a fresh interpreter (own peak memory); its JSON line."""
    cmd = [
        sys.executable,
        __file__,
        "--one",
        model,
        str(zips),
        "--days",
        str(args.days),
        "--seed",
        str(args.seed),
    ]
    for name in ("draws", "tune"):  # unset: the model's defaults
        if getattr(args, name) is not None:
            cmd += [f"--{name}", str(getattr(args, name))]
    # one BLAS thread from start-up, so the statistics (and so every draw) do not depend on the
    # cores: with threaded BLAS at start-up, seed 1 at 4,000 zips drew other chains (tail ESS
    # 331, against 693 with one thread; docs/volume.md)
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def chart(table: pd.DataFrame, path: str) -> None:
    """Log-log chart of fit time against zips, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, part in table.groupby("model"):
        ax.plot(part["zips"], part["wall_s"], marker="o", label=name)
    ax.axhline(600, color="grey", linestyle="--", linewidth=1, label="10 minutes")
    for _, row in table.iterrows():
        ax.annotate(
            f"{row['wall_s']:.0f} s",
            (row["zips"], row["wall_s"]),
            textcoords="offset points",
            xytext=(6, -10),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("zips (8 per station; daily history)")
    ax.set_ylabel("fit wall time (s, 2 cores)")
    ax.set_title("Volume model fit time against network size")
    ax.set_yticks([t for t in (10, 30, 60, 100, 200, 400, 600, 1000, 2000, 4000)])
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Fit every size × model in its own process and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zips", nargs="*", type=int, default=[64, 400, 4000])
    parser.add_argument("--reference-zips", nargs="*", type=int, default=[64])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--days", type=int, default=425, help="history days (425 ≈ 14 months)")
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1, help="the sampler's seed")
    parser.add_argument("--chart", default=None, help="write the log-log chart here (PNG)")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "ZIPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(
            json.dumps(
                fit_once(args.one[0], int(args.one[1]), args.days, args.draws, args.tune, args.seed)
            )
        )
        return
    rows = []
    for n in args.zips:
        for name in args.models:
            if name == "zip-day" and n not in args.reference_zips:
                continue
            rows.append(run_in_subprocess(name, n, args))
            table = pd.DataFrame(rows)
            base = table[table["model"] == "default"].set_index("zips")["wall_s"]
            table["time_vs_default"] = (table["wall_s"] / table["zips"].map(base)).round(2)
            print(table.to_string(index=False), flush=True)
    if args.chart:
        chart(pd.DataFrame(rows), args.chart)


if __name__ == "__main__":
    main()
