"""What a passive eavesdropper learns from the features a request sends (issue 13).

Each eavesdropper e overhears the RB q a request is sent on, at the SNR the users'
channel model gives at its position: gamma_eq = P o_e g(d_e) / (I_q + B N0) (eq. 2's
SINR, its fading drawn from the cell's law, the RB's inter-cell interference). The
leakage of a request sent with encoder m on RB q is the task performance the
best-hearing eavesdropper reaches from the same task-loss profile at its feature SNR:

    L_mq = perf_m(feature_snr(max_e gamma_eq)),

perf = accuracy for classification, CLIP image-to-image similarity for regeneration (a
leakage of the profile's floor means the eavesdropper learns nothing a guess would
not). With ``limits.max_leakage`` = L_max, eq. 11's cost gains

    lambda_L v_L,   v_L = clip((L - L_max) / L_max, 0, 1),

the same saturating form as the delay and energy violations. L does not depend on the
user: every scheduler sees it as a cost added to each (encoder, RB) choice.

A scheduler that does not know the fading minimises E[lambda_L v_L] over the
eavesdroppers' fading: :func:`expected_penalty` integrates the penalty at the best
eavesdropper's SNR S = max_e gamma_eq against S's distribution, the product of the
eavesdroppers' CDFs (independent fading), as a Stieltjes sum every GRID_STEP_DB from
GRID_BELOW_DB below to GRID_ABOVE_DB above the strongest mean SNR, the two tails given
the penalty at the grid's ends (tested against a fine quadrature of each law and a
Monte Carlo of two eavesdroppers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netsim.model import channel, transmission

CellModel = Any
"""The :class:`netsim.model.cost.CellModel` these functions read (its scenario, profile
and encoders); not imported, as it imports this module."""

GRID_STEP_DB = 0.02
GRID_BELOW_DB = 50.0
GRID_ABOVE_DB = 25.0
"""The grid of the expected penalty, relative to the strongest eavesdropper's mean SNR on
the RB: under Rayleigh fading the mass below it is P(o < 1e-5) = 1e-5 and above it
P(o > 316) = e^-316."""
MAX_GRID_ELEMENTS = 4_000_000
"""Slots are integrated in groups of at most this many grid x encoder x RB values."""


def performance_metric(task_kind: str) -> str:
    """The profile column that measures what an eavesdropper learns."""
    return "accuracy" if task_kind == "classify" else "clip_i2i_similarity"


def best_snr(eavesdropper_snr: np.ndarray) -> np.ndarray:
    """The best-hearing eavesdropper's SNR on each RB: (..., E, Q) -> (..., Q)."""
    return np.asarray(eavesdropper_snr, dtype=float).max(axis=-2)


def leakage(model: CellModel, snr: np.ndarray) -> np.ndarray:
    """L, the task performance reached at channel SNR (..., Q) (linear) with each
    encoder's features: (..., M, Q)."""
    sc = model.scenario
    feature_snr_db = channel.linear_to_db(transmission.feature_snr(snr, sc.transmission))
    return model.profile.lookup(performance_metric(sc.task.kind), model.encoders,
                                feature_snr_db[..., None, :])[..., 0, :, :]


def violation(model: CellModel, leak: np.ndarray) -> np.ndarray:
    """v_L = clip((L - L_max) / L_max, 0, 1); zeros without ``limits.max_leakage``."""
    limit = model.scenario.limits.max_leakage
    leak = np.asarray(leak, dtype=float)
    if limit is None:
        return np.zeros_like(leak)
    return np.clip((leak - limit) / limit, 0.0, 1.0)


def penalty(model: CellModel, leak: np.ndarray) -> np.ndarray:
    """lambda_L v_L of leakage L (any shape)."""
    return model.scenario.reward.lambda_leakage * violation(model, leak)


def expected_penalty(model: CellModel, mean_snr: np.ndarray) -> np.ndarray:
    """E[lambda_L v_L] over the eavesdroppers' fading, from their mean SNRs (..., E, Q)
    (the SINR at fading gain 1): (..., M, Q). Without fading, the penalty at the mean."""
    mean_snr = np.asarray(mean_snr, dtype=float)
    n_enc = len(model.encoders)
    if model.scenario.limits.max_leakage is None:
        return np.zeros(mean_snr.shape[:-2] + (n_enc, mean_snr.shape[-1]))
    law = channel.power_gain_law(model.scenario.cell.fading)
    if law is None:
        return penalty(model, leakage(model, best_snr(mean_snr)))
    offsets_db = np.arange(-GRID_BELOW_DB, GRID_ABOVE_DB + GRID_STEP_DB / 2, GRID_STEP_DB)
    lead = mean_snr.shape[:-2]
    flat = mean_snr.reshape((-1,) + mean_snr.shape[-2:])  # (T, E, Q)
    out = np.empty((flat.shape[0], n_enc, flat.shape[-1]))
    group = max(1, MAX_GRID_ELEMENTS // (offsets_db.size * n_enc * flat.shape[-1]))
    for start in range(0, flat.shape[0], group):
        part = np.maximum(flat[start:start + group], np.finfo(float).tiny)  # (t, E, Q)
        top = part.max(axis=-2)  # (t, Q)
        grid = top[None] * channel.db_to_linear(offsets_db)[:, None, None]  # (G, t, Q)
        cdf = np.ones(grid.shape)  # P(S <= s) = prod_e F(s / mean_e), one factor at a time:
        for e in range(part.shape[-2]):  # memory stays (G, t, Q) however many there are
            cdf *= law.cdf(grid / part[None, :, e, :])
        middle = np.sqrt(grid[1:] * grid[:-1])  # geometric midpoints, (G - 1, t, Q)
        values = penalty(model, leakage(model, middle))  # (G - 1, t, M, Q)
        total = np.einsum("gtq,gtmq->tmq", np.diff(cdf, axis=0), values)
        low = penalty(model, leakage(model, grid[0]))  # (t, M, Q)
        high = penalty(model, leakage(model, grid[-1]))
        out[start:start + group] = (total + cdf[0][:, None, :] * low
                                    + (1.0 - cdf[-1])[:, None, :] * high)
    return out.reshape(lead + (n_enc, flat.shape[-1]))
