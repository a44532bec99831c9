"""DQN (Mnih et al. 2015, "Human-level control through deep reinforcement learning")
that acts only among valid actions.

At action time, Q-values of masked actions are set to -inf before the arg-max, and
epsilon-greedy exploration draws uniformly among the valid actions. The bootstrap
target max_a' Q_target(s', a') is also taken over the actions valid in s': the masks are
read back from the replayed observations (:mod:`solvers.rl.common`), so the replay
buffer is SB3's own.
"""

from __future__ import annotations

import numpy as np
import torch as th
import torch.nn.functional as F
from stable_baselines3 import DQN

from netsim.rl.masks import MaskSpec
from solvers.rl.common import MaskedOffPolicy, random_valid


class MaskableDQN(MaskedOffPolicy, DQN):
    """SB3 DQN with action masks (see the module docstring).

    :param mask_spec: netsim's observation layout, to read masks back from observations;
        None: the environment's ``action_masks()`` if it has one, else every action valid
    :param args: SB3 DQN's arguments (policy, env, learning_rate, buffer_size, ...)
    :param kwargs: SB3 DQN's keyword arguments; ``seed`` also seeds the valid-action draws
    """

    def __init__(self, *args, mask_spec: MaskSpec | None = None, **kwargs) -> None:
        self.mask_spec = mask_spec
        super().__init__(*args, **kwargs)
        self.mask_rng = np.random.default_rng(kwargs.get("seed"))

    def masked_q_values(self, observation: th.Tensor, masks: np.ndarray) -> np.ndarray:
        """Q-values (B, n_actions) of a batch of observations (as
        ``policy.obs_to_tensor`` gives them), masked actions at -inf."""
        with th.no_grad():
            q_values = self.q_net(observation).cpu().numpy()
        q_values[~masks] = -np.inf
        return q_values

    def predict(self, observation, state=None, episode_start=None, deterministic=False,
                action_masks=None):
        # SB3's reading of one observation or a batch, for any observation space (a
        # Discrete one is an index, a Box one may have several dimensions)
        obs, vectorized = self.policy.obs_to_tensor(observation)
        masks = (self._masks(observation) if action_masks is None
                 else self._given_masks(action_masks, obs.shape[0]))
        if not deterministic and self.mask_rng.random() < self.exploration_rate:
            actions = random_valid(masks, self.mask_rng)
        else:
            actions = self.masked_q_values(obs, masks).argmax(axis=1)
        return (actions if vectorized else actions[0]), state

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = []
        for _ in range(gradient_steps):
            batch = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            next_masks = th.as_tensor(self._masks(batch.next_observations.cpu().numpy()),
                                      device=self.device)
            with th.no_grad():
                next_q = self.q_net_target(batch.next_observations)
                next_q = next_q.masked_fill(~next_masks, -th.inf).max(dim=1).values
                next_q = th.where(th.isfinite(next_q), next_q, th.zeros_like(next_q))
                target = batch.rewards + (1 - batch.dones) * self.gamma * next_q.reshape(-1, 1)
            current = th.gather(self.q_net(batch.observations), 1, batch.actions.long())
            loss = F.smooth_l1_loss(current, target)
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(np.mean(losses)))
