"""The zips block's cut route: the spreads from some cities' zips, every zip's scale given them.

The zips block of :class:`bayesspr.volume.model.VolumeModel` has five network spreads and one
share-noise scale per zip; given the spreads, the zips are independent. Its NUTS fit costs a
gradient over every zip per leapfrog step, about 35 ms at 40,000 zips, and the block's
dimension sets the steps a draw. Past ``VolumeModel.cut_min_zips`` share zips the fit takes
this route instead, in two stages:

1. NUTS on the zips block of whole cities, drawn at random (seeded) until they hold at least
   ``VolumeModel.cut_zips`` share zips: draws of the five spreads (and of those zips'
   scales, which are dropped);
2. every zip's scale drawn from its exact conditional posterior given each draw of the
   spreads (:func:`bayesspr.volume.share_noise.draw_share_noise`), city by city: on this
   process's threads (:func:`bayesspr.parallel.map_on_threads`), or as Dask tasks where a
   client is given.

This is the *cut* posterior of the spreads: they are learned from the chosen cities' zips
alone, so their posterior is wider than the one all zips would give (by about the square root
of the ratio of zips), never narrower, and the rest of the network does not move them. Each
zip's scale is exact given the spreads. The route is an approximation and says so
(``diagnostics["approximate_blocks"]``, a warning); ``docs/scale.md`` measures it against
NUTS on every zip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bayesspr.parallel import map_on_threads
from bayesspr.volume.gaussian_groups import GroupStatistics
from bayesspr.volume.share_noise import draw_share_noise


def choose_cities(
    share_zip_city: np.ndarray, n_cities: int, min_zips: int, seed: int
) -> np.ndarray:
    """Whole cities in a seeded random order until they hold ``min_zips`` share zips.

    Parameters
    ----------
    share_zip_city : numpy.ndarray
        (Z,) city position of each share zip.
    n_cities : int
        Cities of the network.
    min_zips : int
        Share zips the chosen cities must hold at least (all cities if they hold fewer).
    seed : int
        Seed of the order.

    Returns
    -------
    numpy.ndarray
        Sorted positions of the chosen cities.
    """
    counts = np.bincount(share_zip_city, minlength=n_cities)
    order = np.random.default_rng(seed).permutation(n_cities)
    order = order[counts[order] > 0]
    held = np.cumsum(counts[order])
    enough = int(np.searchsorted(held, min_zips)) + 1
    return np.sort(order[:enough])


def _city_draws(
    stats: GroupStatistics,
    mean: np.ndarray,
    prior_var: np.ndarray,
    prior_log_median: float,
    prior_log_sd: float,
    entropy: Sequence[int],
) -> np.ndarray:
    """One city's zips' scales for every sample of the spreads (a Dask task)."""
    uniforms = np.random.default_rng(np.random.SeedSequence(entropy)).uniform(
        size=(prior_var.shape[0], stats.n_groups)
    )
    prior_mean = np.zeros((stats.n_groups, prior_var.shape[1]))
    prior_mean[:, 0] = mean
    return draw_share_noise(stats, prior_mean, prior_var, prior_log_median, prior_log_sd, uniforms)


def conditional_share_noise(
    cities: Sequence[tuple[GroupStatistics, np.ndarray, np.ndarray]],
    n_share_zips: int,
    prior_var: np.ndarray,
    prior_log_median: float,
    prior_log_sd: float,
    seed: int,
    client: Any = None,
) -> np.ndarray:
    """Every share zip's noise scale given each sample of the spreads, city by city.

    Parameters
    ----------
    cities : sequence of (GroupStatistics, numpy.ndarray, numpy.ndarray)
        Per city: its share zips' statistics, their level means (G,) and their positions among
        all ``n_share_zips`` (G,).
    n_share_zips : int
        Share zips of the network.
    prior_var : numpy.ndarray
        (S, p) the coefficients' prior variances per sample of the spreads.
    prior_log_median, prior_log_sd : float
        The scales' log-normal prior.
    seed : int
        Seed; city i's uniforms come from ``[seed, i]``, so the draws are the same with and
        without a client.
    client : distributed.Client, optional
        Runs one task per city on the cluster; None: in this process, cities on its threads.

    Returns
    -------
    numpy.ndarray
        (S, n_share_zips) noise scales (log-share units).
    """
    out = np.full((prior_var.shape[0], n_share_zips), np.nan)
    args = [(stats, mean, [int(seed), i]) for i, (stats, mean, _) in enumerate(cities)]
    if client is None:  # the compiled kernel releases the interpreter: cities on threads
        results = map_on_threads(
            lambda arg: _city_draws(
                arg[0], arg[1], prior_var, prior_log_median, prior_log_sd, arg[2]
            ),
            args,
        )
    else:
        shared = client.scatter(prior_var)
        futures = [
            client.submit(
                _city_draws,
                stats,
                mean,
                shared,
                prior_log_median,
                prior_log_sd,
                entropy,
                pure=False,
            )
            for stats, mean, entropy in args
        ]
        results = client.gather(futures)
    for (_, _, positions), draws in zip(cities, results, strict=True):
        out[:, positions] = draws
    return out
