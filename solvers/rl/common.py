"""What the off-policy agents (DQN and SAC-Discrete) share: where action masks come
from, and warm-up and exploration among valid actions only.

Masks, in order of preference: read back from the observation where the environment is
netsim's (``mask_spec``: the observation shows the free RBs and the users left, so even
replayed states have their masks); the environment's own ``action_masks()`` for the
states it is in (sb3-contrib's protocol; replayed states then count every action as
valid, SB3's replay buffer keeping no masks); otherwise every action is valid. So the
agents run on any gymnasium environment with a Discrete action space.
"""

from __future__ import annotations

import numpy as np
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

from netsim.rl.masks import MaskSpec, masks_from_observations


def random_valid(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random valid action per row of ``masks``."""
    scores = rng.random(masks.shape)
    scores[~masks] = -1.0
    return scores.argmax(axis=1)


class MaskedOffPolicy:
    """Mixed in before the SB3 class (see the module docstring)."""

    mask_spec: MaskSpec | None
    mask_rng: np.random.Generator

    def _masks(self, observations: np.ndarray) -> np.ndarray:
        """Masks (B, n_actions) of a batch of observations, or of one observation (1,
        n_actions): read from them with ``mask_spec``, else every action valid."""
        observations = np.asarray(observations)
        if self.mask_spec is not None:
            return masks_from_observations(observations, self.mask_spec)
        single = observations.ndim <= len(self.observation_space.shape)  # type: ignore[attr-defined]
        batch = 1 if single else observations.shape[0]
        return np.ones((batch, self.action_space.n), dtype=bool)  # type: ignore[attr-defined]

    def _given_masks(self, action_masks, batch: int) -> np.ndarray:  # type: ignore[no-untyped-def]
        """``predict``'s masks as (batch, n_actions): one per observation (as rows, or
        flat as MaskablePPO takes them), or one for all of them; ValueError (one line) for
        any other shape."""
        masks = np.asarray(action_masks, dtype=bool)
        n = self.action_space.n  # type: ignore[attr-defined]
        if masks.ndim == 1 and batch > 1 and masks.size == batch * n:
            masks = masks.reshape(batch, n)
        masks = np.atleast_2d(masks)
        if masks.ndim != 2 or masks.shape[1] != n or masks.shape[0] not in (1, batch):
            raise ValueError(f"action_masks: shape {np.shape(action_masks)}: one mask of {n} "
                             f"actions, or one per observation ({batch} here)")
        return np.repeat(masks, batch, axis=0) if masks.shape[0] != batch else masks

    def _live_masks(self) -> np.ndarray:
        """Masks of the states the training environments are in now."""
        env = self.get_env()  # type: ignore[attr-defined]
        if self.mask_spec is None and env is not None and is_masking_supported(env):
            return np.atleast_2d(get_action_masks(env))
        return self._masks(self._last_obs)  # type: ignore[attr-defined]

    def _sample_action(self, learning_starts, action_noise=None, n_envs=1):
        masks = self._live_masks()
        if self.num_timesteps < learning_starts:  # type: ignore[attr-defined]
            action = random_valid(masks, self.mask_rng)
        else:
            action, _ = self.predict(self._last_obs, deterministic=False,  # type: ignore[attr-defined]
                                     action_masks=masks)
        return action, action
