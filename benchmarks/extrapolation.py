"""Extrapolation: the physics-informed model vs gradient boosting on a van never seen.

Trains on small and medium vans in the first months of a simulated world, forecasts the
large van on later, busier days, and prints coverage (randomised PIT, whole routes) and SPR
error of both. The same split is asserted in tests/test_statistical.py.

    python benchmarks/extrapolation.py [--seed 11]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from bayesspr import SPRModel, simulate_world
from bayesspr.data.table import validate
from bayesspr.evaluation.scores import (
    extrapolation_split,
    gradient_boosting_spr,
    pit_coverage,
    randomised_pit,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    world = simulate_world(args.seed, n_days=150, large_van_from_day=110, annual_growth=0.6)
    train, test = extrapolation_split(validate(world.table), world.events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SPRModel().fit(train, random_seed=args.seed)
    plan = test.drop(columns=["routes", "route_km"])
    forecast = model.predict(plan, interval=0.9)
    draws = model.predict_draws(plan)
    pit = randomised_pit(
        draws["routes"].to_numpy(), test["routes"].to_numpy(), np.random.default_rng(0)
    )
    spr = (test["packages"] / test["routes"]).to_numpy()
    gbm = gradient_boosting_spr(train, test).to_numpy()
    print(
        f"train: {len(train)} zip-days, vans {sorted(train['van_capacity'].unique().tolist())}; "
        f"test: {len(test)} zip-days, van {world.events['large_van']:.0f}"
    )
    print(f"fit diagnostics ok: {model.diagnostics['ok']} {model.diagnostics['problems']}")
    for level in (0.5, 0.8, 0.9):
        print(
            f"coverage of central {level:.0%} (randomised PIT, routes): "
            f"{pit_coverage(pit, level):.3f}"
        )
    inside = (spr >= forecast["spr_lower_90"]) & (spr <= forecast["spr_upper_90"])
    print(
        f"inclusive 90% SPR interval coverage (over-covers for whole routes): {inside.mean():.3f}"
    )
    model_mae = np.mean(np.abs(forecast["spr_median"].to_numpy() - spr))
    gbm_mae = np.mean(np.abs(gbm - spr))
    print(
        f"SPR MAE  model {model_mae:.2f}  gradient boosting {gbm_mae:.2f}  "
        f"ratio {model_mae / gbm_mae:.2f}"
    )
    print(
        f"SPR bias model {np.mean(forecast['spr_median'].to_numpy() - spr):+.2f}  "
        f"gradient boosting {np.mean(gbm - spr):+.2f}"
    )


if __name__ == "__main__":
    main()
