"""Building blocks shared by the schedulers."""

from __future__ import annotations

import numpy as np

from netsim.simulation.scheduling import NOT_SERVED, Allocation, ParameterError
from solvers.assignment import min_cost_assignment


def require_des(name: str, scenario) -> None:  # type: ignore[no-untyped-def]
    """Queue-aware schedulers exist only where queues do: under delay_model: des."""
    if scenario.delay_model != "des":
        raise ParameterError("type", f"{name} needs delay_model: des (it schedules against "
                             "queues, which only the discrete-event model has)")


def best_encoder(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (user, RB): the lowest cost over encoders and the encoder reaching it."""
    best_m = cost.argmin(axis=1)
    return np.take_along_axis(cost, best_m[:, None, :], axis=1)[:, 0, :], best_m


def assign_rbs(cost_uq: np.ndarray, drop_penalty: np.ndarray, voluntary_drop: bool) -> np.ndarray:
    """Minimum-cost assignment of users to RBs, a dropped user costing its penalty;
    returns each user's RB or NOT_SERVED.

    Serving u on q saves ``drop_penalty[u] - cost[u, q]``, so the optimum is a
    maximum-cardinality assignment on cost - penalty: exactly min(U, Q) users served.
    With voluntary drops the matrix is min(cost - penalty, 0) — entries clipped to 0
    mean 'not served' — which reaches the optimum of an augmented matrix with a private
    drop column per user at U x Q instead of U x (Q + U).
    """
    reduced = reduced_costs(cost_uq, drop_penalty, voluntary_drop)
    rows, cols = min_cost_assignment(reduced)
    if voluntary_drop:
        keep = reduced[rows, cols] < 0.0
        rows, cols = rows[keep], cols[keep]
    rb = np.full(cost_uq.shape[0], NOT_SERVED, dtype=np.int64)
    rb[rows] = cols
    return rb


def reduced_costs(cost_uq: np.ndarray, drop_penalty: np.ndarray, voluntary_drop: bool
                  ) -> np.ndarray:
    """The matrix :func:`assign_rbs` assigns on: cost - penalty (what serving saves),
    clipped at 0 when drops are voluntary."""
    reduced = cost_uq - drop_penalty[:, None]
    return np.minimum(reduced, 0.0) if voluntary_drop else reduced


def allocation_from_rbs(rb: np.ndarray, encoder_per_rb: np.ndarray) -> Allocation:
    """An Allocation from each user's RB and the (user, RB) -> encoder table."""
    served = rb != NOT_SERVED
    encoder = np.full(rb.shape, NOT_SERVED, dtype=np.int64)
    users = np.flatnonzero(served)
    encoder[users] = encoder_per_rb[users, rb[users]]
    return Allocation.from_pairs(encoder, rb)
