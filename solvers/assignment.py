"""Exact minimum-cost assignment: scipy's shortest augmenting path, warm-started by
column prices on large matrices whose rows rank the columns alike.

``scipy.optimize.linear_sum_assignment`` (Crouse's shortest augmenting path, a
Jonker-Volgenant variant) starts from zero dual prices. Where every user ranks the RBs
alike (flat fading: one interference level per RB), each user's augmenting path runs
through nearly every RB already taken, and the solve grows as n³: about 1 s at
U = Q = 1000. Subtracting a price ``p[q]`` from every entry of column q changes every
complete assignment's cost by the same ``sum(p)``, so a square matrix's optimal
assignments are unchanged; with prices near the optimal dual ones each path ends
within a few steps.

The prices come from a sample: k rows and k columns evenly spaced in the order of their
mean cost, solved exactly; the sample's column duals (shortest distances in its
difference-constraint graph, Bellman-Ford) are interpolated to every column by the rank
of its mean. Good prices only make the solve faster, poor ones slower; the result is
exact either way, up to the rounding of the shift, which the price range bounds.

Only square matrices (where every column is assigned, so the shift is exact) of at least
:data:`WARM_START_MIN_SIZE` rows whose rows rank the columns as the column means do
(:data:`AGREEMENT_MIN`; flat fading: 1.0, fading per (user, RB): 0.74, unstructured:
about 0) take this path, and only with prices within :data:`PRICE_RANGE` times the
spread of the row and column minima (finite "forbidden" big-M entries would otherwise
make the shift round away the small costs); everything else goes to scipy as it is.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import NegativeCycleError, bellman_ford, csgraph_from_dense

WARM_START_MIN_SIZE = 256
"""Below this many rows scipy takes a few milliseconds and the sample would cost as much."""

AGREEMENT_MIN = 0.5
"""Warm-start only where the median Spearman correlation between a row and the column
means (over :data:`AGREEMENT_ROWS` rows) reaches this: interpolating prices by mean
rank is only right where the rows agree on the columns' order; on unstructured costs
(scipy's paths already short) such prices made scipy 2.6-9 times slower (measured)."""

AGREEMENT_ROWS = 64

PRICE_RANGE = 1e3
"""Prices beyond this many times the spread of the row and column minima are not used:
the shift's rounding error grows with the prices (1 ulp of the largest price per
entry), and prices that large come from samples forced onto big-M entries."""


def min_cost_assignment(matrix: np.ndarray, *, min_size: int = WARM_START_MIN_SIZE
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost assignment of ``matrix`` (as scipy returns
    them: rows ascending, min(U, Q) pairs). Exact; warm-started where that is faster,
    otherwise scipy's own answer on the matrix as given."""
    shifted = warm_started(matrix, min_size)
    return linear_sum_assignment(matrix if shifted is None else shifted)


def warm_started(matrix: np.ndarray, min_size: int = WARM_START_MIN_SIZE
                 ) -> np.ndarray | None:
    """The matrix less its sampled column prices (float64), or None where scipy should
    solve it as it is: not square, under ``min_size`` rows, not real numbers, not
    finite, rows that do not rank the columns alike, or prices out of range."""
    matrix = np.asarray(matrix)
    if (matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]
            or matrix.shape[0] < max(min_size, 1) or matrix.dtype.kind not in "biuf"):
        return None
    costs = matrix if matrix.dtype == np.float64 else matrix.astype(np.float64)
    if not np.isfinite(costs).all():
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # near the largest float
        if rank_agreement(costs) < AGREEMENT_MIN:
            return None
        prices = sampled_column_prices(costs)
        prices -= np.median(prices)
        spread = max(np.ptp(costs.min(axis=1)), np.ptp(costs.min(axis=0)))
        if not np.abs(prices).max() <= PRICE_RANGE * spread:  # NaN prices fail too
            return None
        shifted = costs - prices[None, :]
    return shifted if np.isfinite(shifted).all() else None


def rank_agreement(costs: np.ndarray) -> float:
    """Median over :data:`AGREEMENT_ROWS` evenly spaced rows of the Spearman correlation
    between the row and the column means: 1 where every row ranks the columns alike."""
    n_rows = costs.shape[0]
    rows = costs[np.linspace(0, n_rows - 1, min(AGREEMENT_ROWS, n_rows)).round().astype(int)]
    column_rank = _ranks(costs.mean(axis=0)[None, :])[0]
    row_rank = _ranks(rows)
    row_rank[np.ptp(rows, axis=1) == 0] = 0.0  # a constant row ranks nothing: it scores 0
    column_rank -= column_rank.mean()
    row_rank -= row_rank.mean(axis=1, keepdims=True)
    norm = np.sqrt((row_rank * row_rank).sum(axis=1) * (column_rank @ column_rank))
    correlation = np.divide(row_rank @ column_rank, norm, out=np.zeros(len(rows)),
                            where=norm > 0)
    return float(np.median(correlation))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each row's ranks, 0 for its smallest (ties in argsort's order; scipy's rankdata
    takes 8 times as long on 64 rows of 1000)."""
    order = np.argsort(values, axis=1)
    ranks = np.empty(values.shape)
    np.put_along_axis(ranks, order, np.arange(values.shape[1], dtype=float)[None, :], axis=1)
    return ranks


def sample_size(n: int) -> int:
    """Rows and columns in the price sample: about 4 sqrt(n), 64 to 256 (measured best
    at n = 500 to 2000 on paper.yaml's matrices; larger samples cost more in
    Bellman-Ford, k³, than they save)."""
    return int(min(n, np.clip(round(4.0 * np.sqrt(n)), 64, 256)))


def sampled_column_prices(matrix: np.ndarray) -> np.ndarray:
    """Approximate optimal column duals of a square matrix, one per column."""
    n = matrix.shape[0]
    k = sample_size(n)
    spaced = np.linspace(0, n - 1, k).round().astype(np.int64)
    col_order = np.argsort(matrix.mean(axis=0), kind="stable")
    row_order = np.argsort(matrix.mean(axis=1), kind="stable")
    sample = matrix[np.ix_(row_order[spaced], col_order[spaced])]
    col_rank = np.empty(n)
    col_rank[col_order] = np.arange(n)
    return np.interp(col_rank, spaced, column_duals(sample))


def column_duals(square: np.ndarray) -> np.ndarray:
    """Optimal column duals v of a square assignment problem (u[i] + v[j] <= c[i, j],
    equal on an optimal assignment), or zeros if rounding makes them ill-posed.

    With row i assigned to column s(i), u[i] = c[i, s(i)] - v[s(i)], so the duals are
    exactly the potentials with v[j] - v[s(i)] <= c[i, j] - c[i, s(i)]: shortest
    distances from a virtual source joined to every column at weight 0. A slack of a
    few ulps per edge keeps cycles of zero cost (ties) from reading as negative.
    """
    k = square.shape[0]
    rows, cols = linear_sum_assignment(square)
    slack = 1e-12 * k * (1.0 + float(np.abs(square).max()))
    weights = np.full((k + 1, k + 1), np.inf)
    weights[cols, :k] = square[rows] - square[rows, cols][:, None] + slack
    weights[cols, cols] = np.inf
    weights[k, :k] = 0.0
    try:
        distance = bellman_ford(csgraph_from_dense(weights, null_value=np.inf), indices=k)
    except NegativeCycleError:
        return np.zeros(k)
    return distance[:k]
