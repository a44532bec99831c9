"""Exact minimum-cost assignment: scipy's shortest augmenting path, warm-started by
column prices on large contended matrices.

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
exact either way. Only square matrices (where every column is assigned, so the shift
is exact) of at least :data:`WARM_START_MIN_SIZE` rows in which the users contend for
the same columns (few distinct row minima; :data:`CONTENTION_SHARE`) take this path;
the rest go to scipy as they are.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import NegativeCycleError, bellman_ford, csgraph_from_dense

WARM_START_MIN_SIZE = 256
"""Below this many rows scipy takes a few milliseconds and the sample would cost as much."""

CONTENTION_SHARE = 0.25
"""Warm-start only where the rows' cheapest columns are fewer than this share of the
columns: without contention scipy's paths are already short (unstructured costs), and
prices interpolated by mean cost would mislead it."""


def min_cost_assignment(matrix: np.ndarray, *, min_size: int = WARM_START_MIN_SIZE
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost assignment of ``matrix`` (as scipy returns
    them: rows ascending, min(U, Q) pairs). Exact; warm-started where that is faster."""
    n_rows, n_cols = matrix.shape
    if (n_rows != n_cols or n_rows < min_size or not np.isfinite(matrix).all()
            or not _contended(matrix)):
        return linear_sum_assignment(matrix)
    return linear_sum_assignment(matrix - sampled_column_prices(matrix)[None, :])


def _contended(matrix: np.ndarray) -> bool:
    distinct_minima = np.unique(matrix.argmin(axis=1)).size
    return distinct_minima < CONTENTION_SHARE * matrix.shape[1]


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
