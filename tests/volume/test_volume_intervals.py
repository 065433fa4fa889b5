"""The volume model's forecast intervals by horizon on simulated worlds of known truth.

``make test`` runs one seeded case (two station-day-shock worlds, fits of 2 chains × 500
draws); ``make validate`` runs every effect and the forty-city layouts with 4 chains and
writes the table in the docs.
"""

import pytest

from bayesspr.evaluation.volume_calibration import effect_coverage
from bayesspr.simulate.volume_worlds import EFFECT_WORLDS
from bayesspr.volume.model import VolumeModel

#: Coverages recorded per horizon: (column of EffectCoverage.table, label).
COVERAGES = (
    ("station_day", "80 % station-day"),
    ("station_month", "90 % station-month"),
    ("zip_month", "80 % zip-month"),
)


def _coverage_evidence(result, effect, request, evidence, coverages=COVERAGES):
    """Record each horizon's coverages; return whether all lie inside their bands."""
    inside = result.inside()
    for month, row in result.table.iterrows():
        for name, label in coverages:
            evidence.record(
                request,
                f"volume {effect}: {label} coverage, forecast month {month}",
                f"{row[name]:.3f} of {int(row[f'{name}_n'])}",
                f"{row[f'{name}_lo']:.3f}–{row[f'{name}_hi']:.3f} (99 %, the forecast's own "
                f"band; binomial {row[f'{name}_binom_lo']:.3f}–{row[f'{name}_binom_hi']:.3f})",
                bool(inside.loc[month, name]),
            )
    # city-months (benchmarks/volume_coverage.py) need many cities: 2 per world are too few here
    return bool(inside[[name for name, _ in coverages]].to_numpy().all())


@pytest.mark.slow
@pytest.mark.parametrize(
    "effect",
    [
        "station_day_shocks",
        *[
            pytest.param(e, marks=pytest.mark.validation)
            for e in EFFECT_WORLDS
            if e != "station_day_shocks"
        ],
    ],
)
def test_intervals_cover_by_horizon_on_effect_worlds(effect, request, evidence):
    """Two seeded worlds of one effect, pooled: months 1, 6 and 16 inside the 99 % bands.

    ``make test`` runs the station-day-shock worlds (the effect the zip-day model missed
    most) with 2 chains; ``make validate`` runs every effect with 4 and writes the table in
    the docs.
    """
    validating = request.node.get_closest_marker("validation") is not None
    result = effect_coverage(
        lambda world: VolumeModel(regressors=world.regressors),
        effect,
        [3, 4],
        fit_kwargs={"draws": 500, "tune": 500, "chains": 4 if validating else 2},
    )
    assert all(f["divergences"] == 0 for f in result.fits), result.fits
    assert _coverage_evidence(result, effect, request, evidence), result.table


#: Two ways to lay out forty city paths: (seeds, cities per world).
FORTY_CITY_LAYOUTS = {"4cities": (list(range(10, 20)), 4), "20cities": ([10, 11], 20)}

#: Layouts where an effect's intervals are known to miss (docs/volume.md): recorded, and
#: expected to fail until the model handles them.
OPEN_ON_FORTY_CITIES = {
    ("station_yearly", "4cities"): "four cities per fit cannot rule out a walk of a few "
    "percent a year, so the stations' cycles and growth stay uncertain: station-days and "
    "zip-months over-cover at month 16 (covered with twenty cities per fit)",
    ("city_day_shocks", "4cities"): "the same on the city-day-shock worlds since the model "
    "has the shock: zip-months at month 16 cover 0.969 against a band top of 0.966 (0.84 "
    "with twenty cities per fit)",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("effect", "layout"),
    [
        pytest.param(
            effect,
            layout,
            marks=[
                pytest.mark.validation,
                *(
                    [pytest.mark.xfail(reason=f"open in issue 29: {OPEN_ON_FORTY_CITIES[key]}")]
                    if (key := (effect, layout)) in OPEN_ON_FORTY_CITIES
                    else []
                ),
            ],
            id=f"{effect}-{layout}",
        )
        for layout in FORTY_CITY_LAYOUTS
        for effect in ("growth_drift", "city_day_shocks", "station_yearly")
    ],
)
def test_forty_cities_give_honest_intervals(effect, layout, request, evidence):
    """Forty city paths and eighty stations: ten worlds of four cities or two of twenty.

    The effects that move a city's stations together (its walk, its daily shocks) or that a
    year of history barely tells from a walk (a station's own cycle) need many cities to be
    scored: two worlds of two cities give four city paths, and the forecast's own bands on
    them are wide. How many cities one fit sees matters too: four cannot rule out a walk of a
    few percent a year; twenty can (docs/volume.md). Every coverage, at months 1, 6 and 16,
    inside its band.
    """
    seeds, n_cities = FORTY_CITY_LAYOUTS[layout]
    result = effect_coverage(
        lambda world: VolumeModel(regressors=world.regressors),
        effect,
        seeds,
        world_size={"n_cities": n_cities, "stations_per_city": 2},
        fit_kwargs={"draws": 500, "tune": 500},
    )
    assert all(f["divergences"] == 0 for f in result.fits), result.fits
    ok = _coverage_evidence(
        result,
        f"{effect} ({len(seeds)} worlds × {n_cities} cities)",
        request,
        evidence,
        (*COVERAGES, ("city_month", "90 % city-month")),
    )
    assert ok, result.table
