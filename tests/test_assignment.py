"""The warm-started exact assignment (solvers.assignment) reaches scipy's optimum on
every matrix, and its column duals are optimal duals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from solvers.assignment import (
    column_duals,
    min_cost_assignment,
    sampled_column_prices,
    warm_started,
)


def flat_fading_matrix(rng: np.random.Generator, n: int, clip: bool) -> np.ndarray:
    """Every user ranks the RBs alike (one interference level per RB), as under flat
    fading: user u's cost on RB q is its air time's cost at SNR s[u] / I[q]."""
    snr = rng.lognormal(2.0, 1.5, n)
    interference = rng.lognormal(0.0, 0.7, n)
    weight = rng.uniform(0.5, 3.0, n)
    cost = weight[:, None] / np.log2(1.0 + snr[:, None] / interference[None, :])
    cost = np.minimum(cost, 10.0) - rng.uniform(5.0, 12.0, n)[:, None]
    return np.minimum(cost, 0.0) if clip else cost


def objective(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    return float(matrix[rows, cols].sum())


def assert_same_optimum(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    reference = objective(matrix, *linear_sum_assignment(matrix))
    n = min(matrix.shape)
    assert rows.size == cols.size == n
    assert np.unique(rows).size == np.unique(cols).size == n
    assert objective(matrix, rows, cols) <= reference + 1e-9 * (1.0 + abs(reference))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 90), clip=st.booleans(),
       repeat=st.booleans())
def test_flat_fading_matrices_take_the_warm_path_and_reach_the_optimum(seed, n, clip,
                                                                        repeat):
    rng = np.random.default_rng(seed)
    matrix = flat_fading_matrix(rng, n, clip)
    if repeat:  # identical users and RBs: ties everywhere
        matrix[: n // 2] = matrix[0]
        matrix[:, : n // 3] = matrix[:, [0]]
    assert clip or warm_started(matrix, min_size=2) is not None  # the warm path is taken
    rows, cols = min_cost_assignment(matrix, min_size=2)
    assert_same_optimum(matrix, rows, cols)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), spread=st.sampled_from(
    [1e-3, 1.0, 1e6]))
def test_any_column_prices_leave_the_optimum_of_a_square_matrix_unchanged(seed, n, spread):
    """The shift is exact whatever the prices; only the solve's speed depends on them."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, spread, (n, n))
    for prices in (sampled_column_prices(matrix), rng.normal(0.0, spread, n)):
        rows, cols = linear_sum_assignment(matrix - prices[None, :])
        assert_same_optimum(matrix, rows, cols)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), clip=st.booleans())
def test_column_duals_are_optimal_duals(seed, n, clip):
    rng = np.random.default_rng(seed)
    matrix = flat_fading_matrix(rng, n, clip) if seed % 2 else rng.normal(0, 1, (n, n))
    rows, cols = linear_sum_assignment(matrix)
    v = column_duals(matrix)
    u = matrix[rows, cols] - v[cols]
    tolerance = 1e-9 * (1.0 + np.abs(matrix).max()) * n
    assert (matrix - u[:, None] - v[None, :] >= -tolerance).all()
    assert abs(u.sum() + v.sum() - objective(matrix, rows, cols)) <= tolerance


def test_the_gate_sends_rows_that_agree_to_the_warm_path_and_others_to_scipy():
    rng = np.random.default_rng(3)
    assert warm_started(flat_fading_matrix(rng, 300, clip=False)) is not None
    assert warm_started(rng.normal(size=(300, 300))) is None
    one_column_everyone_likes = rng.random((300, 300))
    one_column_everyone_likes[:, 0] = 0.0  # same argmin everywhere, no shared ranking
    assert warm_started(one_column_everyone_likes) is None


def big_m_matrix(n: int, big: float, seed: int) -> np.ndarray:
    """Cheap costs on 3 % of the pairs (a perfect matching among them), a finite big M
    elsewhere, and 63 columns every row likes: a sample of it must use big-M entries."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(0.5, 1.5, (n, n))
    allowed = rng.random((n, n)) < 0.03
    allowed[np.arange(n), rng.permutation(n)] = True
    matrix = np.where(allowed, matrix, big)
    matrix[:, :63] = -1.0
    return matrix


@pytest.mark.parametrize("big", [1e12, 1e14, 2.0**62])
def test_a_finite_big_m_does_not_round_the_small_costs_away(big):
    """Prices near -big would leave the cheap entries 1 ulp of big: they are refused."""
    matrix = big_m_matrix(256, big, seed=0)
    rows, cols = min_cost_assignment(matrix)
    assert objective(matrix, rows, cols) == objective(matrix, *linear_sum_assignment(matrix))


def test_entries_near_the_largest_float_give_scipys_answer_not_an_overflow():
    rng = np.random.default_rng(0)
    matrix = rng.uniform(-8e307, 8e307, (256, 256))
    matrix[:, 0] = -1.7e308
    for got, want in zip(min_cost_assignment(matrix), linear_sum_assignment(matrix)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
def test_what_scipy_accepts_is_accepted():
    flat = flat_fading_matrix(np.random.default_rng(6), 300, clip=False)
    boolean = np.ones((300, 300), dtype=bool)
    boolean[:, 0] = False
    for matrix in (flat, np.asmatrix(flat), flat.tolist(), boolean, flat.astype(np.float32),
                   np.asfortranarray(flat), (flat * 1e3).astype(np.int64)):
        array = np.asarray(matrix, dtype=float)
        assert_same_optimum(array, *min_cost_assignment(matrix))
    empty = min_cost_assignment(np.zeros((0, 0)), min_size=0)
    assert all(part.size == 0 for part in empty)


def test_rectangular_and_small_matrices_are_scipys_own_answer():
    rng = np.random.default_rng(4)
    for shape in ((300, 200), (200, 300), (50, 50)):
        matrix = flat_fading_matrix(rng, max(shape), clip=False)[: shape[0], : shape[1]]
        for got, want in zip(min_cost_assignment(matrix), linear_sum_assignment(matrix)):
            np.testing.assert_array_equal(got, want)


def test_a_large_flat_fading_matrix_reaches_the_optimum_on_the_warm_path():
    matrix = flat_fading_matrix(np.random.default_rng(5), 400, clip=False)
    assert warm_started(matrix) is not None
    assert_same_optimum(matrix, *min_cost_assignment(matrix))
