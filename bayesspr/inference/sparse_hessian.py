"""A sparse Hessian from a few gradients: coloured forward differences that use its symmetry.

A hierarchical model's log density couples a zip's effect only with its own station, city and
the population constants, so its Hessian is mostly zeros. Forward differences of the exact
gradient can then perturb many columns at once (Curtis, Powell & Reid 1974): every column of
one *colour* is stepped together, and one gradient difference gives them all, provided each
entry read from it comes from one column only. Symmetry makes far fewer colours enough
(Powell & Toint 1979; Coleman & Moré 1984): order the parameters from the most connected (the
population constants) to the least (a zip's effect) and read each entry H[i, j] from the
column of the coarser of i and j only; the finer half is its mirror. The colouring here is the
direct (substitution-free) version of that: columns j and k may share a colour unless some row
i touches both and is at least as fine as the coarser of the two, so every entry read comes
from one column of its colour.

For the SPR model at rung M of :mod:`bayesspr.simulate.ladder` (4,000 zips, 100 stations,
4 cities) that is a few dozen gradients instead of one per parameter, whatever the number of
zips: every zip's effect is one colour, the stations a few, each city constant and population
constant its own. :func:`coloured_hessian` checks the pattern it was given against one more
gradient difference along a random direction and refuses one that misses a coupling.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse

from bayesspr.errors import ArgumentError, SparsityPatternError

#: Absolute step of the forward differences (that of :func:`scipy.optimize.approx_fprime`).
STEP = float(np.sqrt(np.finfo(float).eps))

#: Largest relative error of the Hessian against a gradient difference along a random direction
#: that :func:`coloured_hessian` accepts (forward differences agree to about 1e-6 here; a
#: coupling the pattern misses gives an error of order one).
PATTERN_CHECK_TOLERANCE = 1e-3


@dataclass(frozen=True)
class HessianColouring:
    """Which parameters are stepped together, and in which order they are coarse to fine.

    Attributes
    ----------
    colours : numpy.ndarray
        (n,) int: the colour of each parameter (0 to ``n_colours`` − 1).
    order : numpy.ndarray
        (n,) int: parameter indices from the most connected to the least.
    pattern : scipy.sparse.csr_array
        (n, n) bool, symmetric, with its diagonal: the entries that may be non-zero.
    """

    colours: np.ndarray
    order: np.ndarray
    pattern: scipy.sparse.csr_array

    @property
    def n_colours(self) -> int:
        """Gradients the Hessian takes, besides the one at the point itself."""
        return int(self.colours.max()) + 1 if self.colours.size else 0

    @functools.cached_property
    def read_entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns) of the entries read from their column's colour, once each pair.

        Those with the row at least as fine as the column (rank(i) >= rank(j)); the others
        are their mirror. Worked out once per colouring, not at every Hessian.
        """
        rank = np.empty_like(self.order)
        rank[self.order] = np.arange(self.order.size)
        pattern = self.pattern.tocoo()
        keep = rank[pattern.row] >= rank[pattern.col]
        return pattern.row[keep], pattern.col[keep]


def symmetric_pattern(pattern: scipy.sparse.sparray | np.ndarray) -> scipy.sparse.csr_array:
    """``pattern`` or its transpose, with the diagonal, as a bool CSR array with sorted indices.

    Parameters
    ----------
    pattern : scipy.sparse array or numpy.ndarray
        (n, n): non-zero where the Hessian may be.

    Returns
    -------
    scipy.sparse.csr_array
    """
    matrix = scipy.sparse.csr_array(pattern, dtype=bool)
    if matrix.shape[0] != matrix.shape[1]:
        raise ArgumentError(f"a Hessian pattern is square; got shape {matrix.shape}")
    eye = scipy.sparse.eye_array(matrix.shape[0], dtype=bool, format="csr")
    symmetric = scipy.sparse.csr_array((matrix + matrix.T + eye).astype(bool))
    symmetric.sort_indices()
    return symmetric


def colour_columns(pattern: scipy.sparse.sparray | np.ndarray) -> HessianColouring:
    """Colour the columns of a symmetric Hessian pattern for direct recovery (see module).

    Parameters
    ----------
    pattern : scipy.sparse array or numpy.ndarray
        (n, n): non-zero where the Hessian may be (made symmetric, diagonal added).

    Returns
    -------
    HessianColouring
    """
    symmetric = symmetric_pattern(pattern)
    degree = np.diff(symmetric.indptr)
    order = np.argsort(-degree, kind="stable")
    # the pattern in rank order, rows' neighbours sorted by rank (coarse first)
    ranked = scipy.sparse.csr_array(symmetric[order][:, order])
    ranked.sort_indices()
    indptr, indices = ranked.indptr.astype(np.int64), ranked.indices.astype(np.int64)
    colours = np.empty(order.size, dtype=np.int64)
    colours[order] = _greedy_colours(indptr, indices)
    return HessianColouring(colours=colours, order=order, pattern=symmetric)


@numba.njit(cache=True)
def _greedy_colours(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Greedy colours in rank order, by the direct condition.

    Column j avoids the colour of every coarser column k that shares with it a row i at
    least as fine as k (k <= i).
    """
    n = indptr.size - 1
    colours = np.full(n, -1, np.int64)
    stamp = np.full(n + 1, -1, np.int64)
    for j in range(n):
        for position in range(indptr[j], indptr[j + 1]):
            i = indices[position]
            bound = min(i, j - 1)
            for other in range(indptr[i], indptr[i + 1]):
                k = indices[other]
                if k > bound:
                    break
                stamp[colours[k]] = j
        colour = 0
        while stamp[colour] == j:
            colour += 1
        colours[j] = colour
    return colours


def coloured_hessian(
    gradient: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    colouring: HessianColouring,
    *,
    random_seed: int = 0,
) -> scipy.sparse.csr_array:
    """The Hessian of a function at ``x`` from its gradient, by coloured forward differences.

    Parameters
    ----------
    gradient : callable
        The exact gradient of the function (here: of the negative log density).
    x : numpy.ndarray
        (n,) the point.
    colouring : HessianColouring
        From :func:`colour_columns` on the Hessian's sparsity pattern.
    random_seed : int
        Seed of the random direction the pattern is checked along.

    Returns
    -------
    scipy.sparse.csr_array
        (n, n) symmetric.

    Raises
    ------
    SparsityPatternError
        If the Hessian times a random direction differs from the gradient difference along
        it by more than :data:`PATTERN_CHECK_TOLERANCE` (relative): the pattern misses a
        coupling, and a Hessian from it would be wrong.
    """
    x = np.asarray(x, dtype=float)
    base = np.asarray(gradient(x), dtype=float)
    differences = np.empty((x.size, colouring.n_colours))
    for colour in range(colouring.n_colours):
        step = np.where(colouring.colours == colour, STEP, 0.0)
        differences[:, colour] = (np.asarray(gradient(x + step), dtype=float) - base) / STEP
    rows, columns = colouring.read_entries
    values = differences[rows, colouring.colours[columns]]
    off = rows != columns
    hessian = scipy.sparse.coo_array(
        (
            np.concatenate([values, values[off]]),
            (np.concatenate([rows, columns[off]]), np.concatenate([columns, rows[off]])),
        ),
        shape=(x.size, x.size),
    ).tocsr()
    _check_direction(gradient, x, base, hessian, random_seed)
    return hessian


def _check_direction(
    gradient: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    base: np.ndarray,
    hessian: scipy.sparse.csr_array,
    random_seed: int,
) -> None:
    """Refuse the Hessian if it disagrees with a gradient difference along a random direction."""
    direction = np.random.default_rng(random_seed).standard_normal(x.size)
    direction /= np.linalg.norm(direction)
    along = (np.asarray(gradient(x + STEP * direction), dtype=float) - base) / STEP
    product = hessian @ direction
    error = float(np.linalg.norm(product - along) / max(np.linalg.norm(along), 1e-300))
    if not np.isfinite(error) or error > PATTERN_CHECK_TOLERANCE:
        worst = int(np.argmax(np.abs(product - along)))
        raise SparsityPatternError(
            f"the Hessian from the sparsity pattern disagrees with the gradient along a random "
            f"direction (relative error {error:.2e}, over {PATTERN_CHECK_TOLERANCE:g}; worst "
            f"at parameter {worst}): the pattern misses a coupling of the log density; give "
            "the model's full pattern, or none (a dense Hessian)"
        )
