"""The vectorisable elementary functions against numpy's, over the ranges the package uses."""

from __future__ import annotations

import numba
import numpy as np

from bayesspr import vector_math


@numba.njit(error_model="numpy")
def _apply(x):
    out = np.empty((4, x.size))
    for i in range(x.size):
        out[0, i] = vector_math.exp(x[i])
        out[1, i] = vector_math.log(np.exp(x[i]))
        out[2, i], out[3, i] = vector_math.cos_sin_turn(x[i] - np.floor(x[i]))
    return out


def test_exp_log_and_the_angles_equal_numpys():
    rng = np.random.default_rng(12)
    # the unit's eighths (the quarter-turn seams) and the exponent's edges
    x = np.concatenate(
        [
            np.arange(17) / 8.0,
            [-700.0, 700.0, -1e-12, 0.0, np.log(2.0) / 2],
            rng.normal(0, 5, 100_000),
        ]
    )
    got = _apply(x)
    np.testing.assert_allclose(got[0], np.exp(x), rtol=4e-14, atol=0)
    small = np.abs(x) < 50  # where the forecast's weights and ratios lie: a few ulp
    np.testing.assert_allclose(got[0][small], np.exp(x[small]), rtol=2e-15, atol=0)
    np.testing.assert_allclose(got[1], np.log(np.exp(x)), rtol=0, atol=1e-14)
    turn = 2.0 * np.pi * (x - np.floor(x))
    np.testing.assert_allclose(got[2], np.cos(turn), rtol=0, atol=2e-15)
    np.testing.assert_allclose(got[3], np.sin(turn), rtol=0, atol=2e-15)


def test_log_of_the_smallest_and_largest_uniforms():
    @numba.njit(error_model="numpy")
    def logs(x):
        out = np.empty(x.size)
        for i in range(x.size):
            out[i] = vector_math.log(x[i])
        return out

    # a keyed normal's uniform lies in [2⁻⁵⁴, 1); 1 and its neighbours are the log's seam
    x = np.array([2.0**-54, 2.0**-53 * 1.5, 0.5, np.nextafter(1.0, 0.0), 1.0, np.sqrt(0.5), 0.7])
    np.testing.assert_allclose(logs(x), np.log(x), rtol=1e-15, atol=1e-16)
