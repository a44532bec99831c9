"""Action masks read back from observations (what off-policy learners need for
replayed states, SB3's replay buffer keeping no masks), for both observation layouts."""

from __future__ import annotations

import numpy as np

from netsim.rl.observation import MaskSpec, observation_layout
from netsim.rl.size_free import size_free_masks

__all__ = ["MaskSpec", "masks_from_observations"]


def masks_from_observations(observations: np.ndarray, spec: MaskSpec) -> np.ndarray:
    """Action masks (B, M Q + 1) of a batch of observations (B, size): the same as
    :func:`action_mask` at the step that produced each observation. An all-zero
    observation (after the episode's end) gets an all-true mask."""
    if spec.size_free:
        return size_free_masks(observations, spec.n_encoders)
    observations = np.atleast_2d(observations)
    part = observation_layout(spec.n_users, spec.n_rbs)
    free = observations[:, part["free"]] > 0.5
    users_left = np.rint(observations[:, part["users_left"].start] * spec.n_users)
    masks = np.concatenate(
        [np.tile(free, spec.n_encoders),
         (spec.voluntary_drop | (users_left > free.sum(axis=1)))[:, None]], axis=1
    )
    # no valid action, or the episode's end (all zeros; with voluntary drop its
    # "unserved" alone would read as valid)
    masks[~masks.any(axis=1) | ~observations.any(axis=1)] = True
    return masks
