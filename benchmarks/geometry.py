"""Benchmark: divergences, ESS and speed of the SPR default against its earlier geometry.

Fits the small seeded convergence worlds (``bayesspr.simulate.worlds.convergence_worlds``,
the ones ``tests/test_convergence.py`` fits) with each variant and each sampler seed, and
prints per variant: divergences per world, worlds with any divergence, min bulk/tail ESS,
mean leapfrog steps per draw, wall time and min-ESS per second, with the ratio of time and
ESS/s to the first variant (the baseline, run side by side on the same machine).

Variants:

* ``before``: the spec as it was (τ_o ~ LogNormal(0.15, 0.6), τ_z ~ HalfNormal(0.1)) at
  target_accept 0.99 — the setting issue 30 called convergence bought with speed;
* ``before@0.9``: the same priors at a normal target_accept 0.9;
* ``zip-halfnormal`` and ``zip-halfnormal@0.9``: the shipped spec but τ_z ~ HalfNormal(0.06),
  the default until 2026-12-05, at 0.95 and 0.9;
* ``default``: the shipped ``models/default.toml`` (τ_z ~ LogNormal(0.05, 0.5));
* ``default@0.9``: the shipped priors at target_accept 0.9.

``--locate WORLD`` instead samples one world with nutpie directly, keeps each divergence's
start and end (``store_divergences``) and prints the unconstrained parameters farthest from
their posterior mean in posterior SDs: where the geometry breaks.

    python benchmarks/geometry.py                      # 10 worlds × seeds 1, 2 (≈ 12 min)
    python benchmarks/geometry.py --worlds 4 --seeds 1
    python benchmarks/geometry.py --variants zip-halfnormal default   # side by side
    python benchmarks/geometry.py --locate 103 --variant before@0.9
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings

import numpy as np

from bayesspr import SPRModel
from bayesspr.data.table import validate
from bayesspr.simulate.worlds import convergence_worlds
from bayesspr.spr.spec import load_spec


def variants() -> dict[str, dict]:
    """The specs compared, by name (the first is the baseline)."""
    shipped = load_spec("default")
    before = copy.deepcopy(shipped)
    before["priors"]["overhead_hours_sd"] = {"dist": "LogNormal", "median": 0.15, "sigma": 0.6}
    before["priors"]["zip_effect_sd"] = {"dist": "HalfNormal", "sigma": 0.1}
    zip_halfnormal = copy.deepcopy(shipped)
    zip_halfnormal["priors"]["zip_effect_sd"] = {"dist": "HalfNormal", "sigma": 0.06}
    out = {}
    for name, spec, accept in (
        ("before", before, 0.99),
        ("before@0.9", before, 0.9),
        ("zip-halfnormal", zip_halfnormal, None),
        ("zip-halfnormal@0.9", zip_halfnormal, 0.9),
        ("default", shipped, None),
        ("default@0.9", shipped, 0.9),
    ):
        spec = copy.deepcopy(spec)
        if accept is not None:
            spec["sampler"]["target_accept"] = accept
        spec["model"]["name"] = name
        out[name] = spec
    return out


def run(n_worlds: int, seeds: list[int], names: list[str] | None = None) -> None:
    """Fit every world with every variant (or the ``names`` given) and seed; print the table."""
    worlds = list(convergence_worlds(n_worlds))
    rows = []
    chosen = {name: spec for name, spec in variants().items() if not names or name in names}
    for name, spec in chosen.items():
        divs, ess, steps, seconds, rates = [], [], [], 0.0, []
        for seed in seeds:
            for label, world in worlds:
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = SPRModel(spec).fit(world.table, random_seed=seed)
                wall = time.perf_counter() - started
                d = model.diagnostics
                low = min(d["ess_bulk_min"], d["ess_tail_min"])
                divs.append(d["divergences"])
                ess.append(low)
                steps.append(float(model.idata["sample_stats"]["n_steps"].mean()))
                seconds += wall
                rates.append(low / wall)
                print(
                    f"  {name:12s} seed {seed} {label}: {d['divergences']} div, min ESS "
                    f"{low:.0f}, {wall:.1f} s",
                    flush=True,
                )
        rows.append((name, spec["sampler"]["target_accept"], divs, ess, steps, seconds, rates))
    base_seconds, base_rate = rows[0][5], float(np.median(rows[0][6]))
    fits = len(worlds) * len(seeds)
    print(f"\n{len(worlds)} worlds × seeds {seeds} = {fits} fits per variant")
    print(
        "| variant | target_accept | divergences | fits with any | min ESS | steps/draw "
        "| wall s | × time | median min-ESS/s | × ESS/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, accept, divs, ess, steps, seconds, rates in rows:
        rate = float(np.median(rates))
        print(
            f"| {name} | {accept} | {sum(divs)} | {sum(d > 0 for d in divs)} of {fits} | "
            f"{min(ess):.0f} | {np.mean(steps):.1f} | {seconds:.0f} | "
            f"{seconds / base_seconds:.2f} | {rate:.1f} | {rate / base_rate:.2f} |"
        )


def locate(world_seed: int, variant: str, seed: int) -> None:
    """Print where one world's divergences start and end (posterior-SD units)."""
    import nutpie

    label, world = next(iter(convergence_worlds(1, world_seed - 100)))
    spec = variants()[variant]
    model = SPRModel(spec).build_model(validate(world.table))
    compiled = nutpie.compile_pymc_model(model)
    trace = nutpie.sample(
        compiled,
        draws=1000,
        tune=800,
        chains=4,
        seed=seed,
        progress_bar=False,
        target_accept=spec["sampler"]["target_accept"],
        adaptation="low_rank",
        store_divergences=True,
        store_unconstrained=True,
    )
    stats = trace["sample_stats"]
    diverging = stats["diverging"].to_numpy()
    names = [str(n) for n in stats["unconstrained_parameter"].to_numpy()]
    draws = stats["unconstrained_draw"].to_numpy().reshape(-1, len(names))
    mean, sd = draws.mean(0), draws.std(0)
    print(f"{label}, {variant}: {int(diverging.sum())} divergences")
    starts = stats["divergence_start"].to_numpy()[diverging]
    ends = stats["divergence_end"].to_numpy()[diverging]
    for start, end in zip(starts, ends, strict=True):
        for tag, point in (("start", start), ("end", end)):
            z = (point - mean) / sd
            top = np.argsort(-np.abs(z))[:4]
            print(f"  {tag:5s}", ", ".join(f"{names[i]} {z[i]:+.1f}" for i in top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--locate", type=int, help="a world seed (100, 101, ...)")
    parser.add_argument("--variant", default="before@0.9", choices=list(variants()))
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(variants()),
        help="compare only these (the first is the baseline)",
    )
    args = parser.parse_args()
    if args.locate is not None:
        locate(args.locate, args.variant, args.seeds[0])
    else:
        run(args.worlds, args.seeds, args.variants)


if __name__ == "__main__":
    main()
