"""Whole-route observation model: an interval-censored log-normal route need.

The day's latent route need is x = (N / n*)·e^ε with ε ~ Normal(0, σ); dispatch rounds it up
and never runs fewer routes than the vans can carry, so the observed routes are
R = max(⌈x⌉, L) with L = max(1, ⌈packages / C⌉). With μ = log(N / n*):

* P(R = L) = Φ((log L − μ) / σ) (the whole lower tail, as PHYSICS.md asks for R = 1);
* P(R = k) = Φ((log k − μ) / σ) − Φ((log(k − 1) − μ) / σ) for k > L.

Whole routes are respected, SPR = packages / R never exceeds the van capacity, and the noise
on SPR grows where volume is small because one route more or less is a large share of a few.
The same functions give the log-probability (pytensor, for NUTS) and draws (numpy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt

from bayesspr.spr.normal_interval import log_normal_interval_op
from bayesspr.spr.physics import backend


def route_count_logp(
    routes: pt.TensorVariable,
    log_need: pt.TensorVariable,
    sigma: pt.TensorVariable,
    floor: pt.TensorVariable,
) -> pt.TensorVariable:
    """Log-probability of observed whole routes under the censored log-normal need.

    Parameters
    ----------
    routes : tensor
        Observed routes R (routes), whole numbers ≥ ``floor``.
    log_need : tensor
        μ = log of the physics route need N / n* (log routes).
    sigma : tensor
        Day-to-day noise σ of the log route need (log routes).
    floor : tensor
        Fewest routes the vans could carry, L (routes).

    Returns
    -------
    tensor
        Log-probability per observation (nats); −inf where R < L.
    """
    hi_z = (pt.log(routes) - log_need) / sigma
    lo_z = (pt.log(pt.maximum(routes - 1.0, 1e-12)) - log_need) / sigma
    # A row at the floor takes the whole lower tail: log Φ(hi), the interval from −∞. The
    # interval and its derivatives are one compiled op (bayesspr.spr.normal_interval): on
    # 134,404 rows value and gradient took 19.4 ms as PyTensor's erfcx, erfc, log and exp.
    lo_z = pt.switch(pt.le(routes, floor), -np.inf, lo_z)
    logp = log_normal_interval_op(lo_z, hi_z)
    return pt.switch(pt.lt(routes, floor), -np.inf, logp)


def draw_route_counts(
    log_need: np.ndarray,
    sigma: np.ndarray,
    floor: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw whole routes R = max(⌈exp(μ + σ·z)⌉, L) (routes).

    Parameters
    ----------
    log_need : numpy.ndarray
        μ, log of the physics route need (log routes); broadcasts with the others.
    sigma : numpy.ndarray
        Noise of the log route need (log routes).
    floor : numpy.ndarray
        Fewest routes the vans could carry (routes).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Whole routes (float array of integers).
    """
    log_need, sigma, floor = np.broadcast_arrays(log_need, sigma, floor)
    return route_counts(log_need, sigma, floor, rng.standard_normal(log_need.shape))


def route_counts(log_need: Any, sigma: Any, floor: Any, normals: Any) -> Any:
    """Whole routes R = max(⌈exp(μ + σ·z)⌉, L) for given standard normals z (routes).

    :func:`draw_route_counts` with the noise supplied: ``log_need`` (log routes), ``sigma``
    (log routes), ``floor`` (routes) and ``normals`` (–) broadcast together; numpy or
    pytensor, as the physics.
    """
    xp = backend(log_need, sigma, floor, normals)
    return xp.maximum(xp.ceil(xp.exp(log_need + sigma * normals)), floor)
