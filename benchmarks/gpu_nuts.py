"""NUTS of the SPR model on JAX (numpyro) over a ladder of world sizes: GPU or CPU.

For each rung (zips × days of a simulated world) it times the gradient of the model's
log-density under JAX (the cost of one leapfrog step, for ``--chains`` chains at once with
``jax.vmap``) and, unless ``--gradient-only``, a full ``SPRModel().fit(nuts_sampler="numpyro")``
with its wall time, convergence verdict and ESS per second. Prints one table; with ``--out``
also writes it as CSV.

    python benchmarks/gpu_nuts.py                       # the ladder, on the default JAX device
    python benchmarks/gpu_nuts.py --rungs 2 --draws 200 --tune 200   # a quick CPU check

Needs ``pip install 'bayesspr[jax]'`` (``jax[cuda12]`` for a GPU). The figures depend on the
device; the table names it.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from bayesspr import SPRModel, simulate_world

#: Worlds of the ladder: (cities, stations per city, zips per station, days).
LADDER = [
    (2, 2, 4, 60),
    (2, 5, 10, 120),
    (4, 5, 10, 180),
    (5, 10, 20, 180),
    (10, 10, 20, 365),
]


def gradient_ms(model, chains: int, repeats: int = 20) -> float:
    """Milliseconds per gradient of the log-density for ``chains`` points at once (JAX)."""
    import jax
    from pymc.sampling.jax import get_jaxified_graph

    logp = get_jaxified_graph(inputs=model.value_vars, outputs=[model.logp()])
    grad = jax.jit(
        jax.vmap(jax.grad(lambda *x: logp(*x)[0], argnums=tuple(range(len(model.value_vars)))))
    )
    start = model.initial_point()
    points = [np.repeat(np.asarray(start[v.name])[None], chains, axis=0) for v in model.value_vars]
    jax.block_until_ready(grad(*points))  # compile
    began = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(grad(*points))
    return 1000 * (time.perf_counter() - began) / repeats


def rung(shape: tuple[int, int, int, int], args: argparse.Namespace) -> dict:
    """Time one world size."""
    cities, stations, zips, days = shape
    world = simulate_world(
        1, n_cities=cities, stations_per_city=stations, zips_per_station=zips, n_days=days
    )
    table = world.table
    row = {"zips": table["zip"].nunique(), "days": days, "rows": len(table)}
    row["gradient_ms"] = gradient_ms(SPRModel().build_model(table), args.chains)
    if args.gradient_only:
        return row
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SPRModel().fit(
            table,
            random_seed=1,
            nuts_sampler="numpyro",
            chains=args.chains,
            draws=args.draws,
            tune=args.tune,
        )
    wall = time.perf_counter() - began
    d = model.diagnostics
    ess = min(d["ess_bulk_min"], d["ess_tail_min"])
    row.update(
        fit_s=wall,
        converged=d["ok"],
        rhat_max=d["rhat_max"],
        min_ess=ess,
        divergences=d["divergences"],
        ess_per_s=ess / wall,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rungs", type=int, default=len(LADDER), help="first N rungs")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=800)
    parser.add_argument("--gradient-only", action="store_true", help="skip the fits")
    parser.add_argument("--out", help="also write the table to this CSV")
    args = parser.parse_args()
    import jax

    jax.config.update("jax_enable_x64", True)
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()})")
    rows = []
    for shape in LADDER[: args.rungs]:
        rows.append(rung(shape, args))
        print(pd.DataFrame(rows).round(3).to_string(index=False), flush=True)
    if args.out:
        pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
