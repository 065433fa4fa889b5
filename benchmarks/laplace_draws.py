"""Laplace draws at national size: the fitting process's time and peak memory, by chunk.

After the mode search, the Laplace route (``method="laplace"``) turns draws from the Gaussian
at the mode into a posterior (:func:`bayesspr.inference.mode.laplace_posterior`). At rung L
that is 41,090 parameters × 4,000 draws. This benchmark measures that step alone, on the SPR
model of a network of the rung's shape (``--zips`` zips under ``--stations`` stations in
``--cities`` cities, one row a zip, so no simulation or fit is needed), with the model's own
Hessian pattern as the precision's sparsity (values made positive definite: the draws' cost
depends on the pattern, not on the values).

Each chunk size runs in a process of its own, its peak memory reset once the model and the
precision's factor are built, so each row's peak is the draws' own. ``--before DIR`` adds a
first row from a checkout of the package before the draws were chunked (the baseline: every
normal, its whitened copies, a point per draw and a list per variable stacked at the end).
The package's default chunk is :data:`bayesspr.inference.mode.DRAW_CHUNK`; the draws are the
same for every chunk size (the digest column).

Usage::

    git archive 490cc67 bayesspr models | tar -x -C /tmp/before
    python benchmarks/laplace_draws.py --before /tmp/before --chunks 4000 200
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def network(zips: int, stations: int, cities: int) -> pd.DataFrame:
    """One row a zip, a copy of a demo-world row, zips spread evenly over stations and cities."""
    from bayesspr import simulate_world
    from bayesspr.data.table import validate

    template = validate(simulate_world().table, require_routes=True).iloc[[0]]
    table = template.loc[template.index.repeat(zips)].reset_index(drop=True)
    zip_ids = np.arange(zips)
    station_ids = zip_ids * stations // zips
    table["city"] = [f"C{i:03d}" for i in station_ids * cities // stations]
    table["station"] = [f"S{i:04d}" for i in station_ids]
    table["zip"] = [f"Z{i:05d}" for i in zip_ids]
    return table


def run(chunk: int, zips: int, stations: int, cities: int, draws: int, chains: int) -> dict:
    """The Laplace posterior of ``chains`` × ``draws`` draws, made ``chunk`` at a time."""
    import scipy.sparse

    from bayesspr import SPRModel
    from bayesspr.inference import mode as mode_module
    from bayesspr.inference.sharded import peak_rss_mib

    try:
        from bayesspr.inference.sharded import reset_peak_rss
    except ImportError:  # a tree from before chunking: the same, by hand

        def reset_peak_rss() -> None:
            Path("/proc/self/clear_refs").write_text("5")

    warnings.simplefilter("ignore")
    table = network(zips, stations, cities)
    spr = SPRModel()
    layout = spr.model_layout(table)
    model = spr.build_model(table.iloc[:0], layout=layout)
    pattern = scipy.sparse.csr_array(spr.hessian_pattern(table, model), dtype=float)
    degree = np.asarray(pattern.sum(axis=1)).ravel()
    precision = scipy.sparse.csr_array(0.1 * pattern + scipy.sparse.diags_array(degree + 1.0))
    mode = mode_module.PosteriorMode(
        point=model.initial_point(),
        precision=precision,
        iterations=0,
        seconds=0.0,
        gradient_norm=0.0,
    )
    factor_started = time.perf_counter()
    _ = mode.factor
    factor_s = time.perf_counter() - factor_started
    if hasattr(mode_module.PosteriorMode, "draw_chunks"):  # not in a tree from before
        mode_module.DRAW_CHUNK = chunk
        mode_module.PosteriorMode.draw_chunks.__defaults__ = (chunk,)
    set_up = peak_rss_mib()
    reset_peak_rss()
    started = time.perf_counter()
    tree = mode_module.laplace_posterior(model, mode, draws=draws, chains=chains, random_seed=1)
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    zip_effect = tree["posterior"]["zip_effect"].to_numpy()
    return {
        "chunk": chunk if hasattr(mode_module.PosteriorMode, "draw_chunks") else "before",
        "parameters": mode.n_parameters,
        "draws": chains * draws,
        "factor s": round(factor_s, 1),
        "draws s": round(seconds, 1),
        "set-up MiB": round(set_up),
        "peak MiB": round(peak),
        "peak above set-up MiB": round(peak - set_up),
        "posterior MiB": round(tree["posterior"].to_dataset().nbytes / 2**20),
        "digest": hashlib.sha256(zip_effect.tobytes()).hexdigest()[:12],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, nargs="+", default=[4000, 200])
    parser.add_argument("--zips", type=int, default=40_000)
    parser.add_argument("--stations", type=int, default=1_000)
    parser.add_argument("--cities", type=int, default=40)
    parser.add_argument("--draws", type=int, default=1_000, help="per chain")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also run a checkout of the package from before chunking (e.g. git archive 490cc67)",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = (args.zips, args.stations, args.cities, args.draws, args.chains)
    if args.one is not None:
        print(json.dumps(run(args.one, *shape)))
        return
    rows = []
    runs = [(chunk, None) for chunk in args.chunks]
    if args.before:
        runs.insert(0, (0, args.before))
    for chunk, tree in runs:
        command = [sys.executable, __file__, "--one", str(chunk)]
        command += [
            f"--{k}={v}"
            for k, v in zip(("zips", "stations", "cities", "draws", "chains"), shape, strict=True)
        ]
        env = None if tree is None else {**os.environ, "PYTHONPATH": tree}
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("chunk")
    base = table.iloc[0]
    table["peak ratio"] = (table["peak above set-up MiB"] / base["peak above set-up MiB"]).round(3)
    table["time ratio"] = (table["draws s"] / base["draws s"]).round(2)
    print(table.to_markdown())


if __name__ == "__main__":
    main()
