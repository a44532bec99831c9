"""Soft Actor-Critic for discrete actions (Christodoulou 2019, "Soft Actor-Critic for
Discrete Action Settings", arXiv 1910.07207), on SB3's off-policy base class so that it
shares SB3's replay buffer, logging, saving and callbacks.

With a discrete action set the policy outputs a categorical distribution, so every
expectation over actions is an exact sum instead of a sample:

- critics (two, with target copies): Q(s, .) for all actions at once; target
  y = r + gamma (1 - d) sum_a' pi(a'|s') [min_i Q_i'(s', a') - alpha log pi(a'|s')];
- actor: minimise sum_a pi(a|s) [alpha log pi(a|s) - min_i Q_i(s, a)];
- temperature: alpha is tuned so the policy's entropy tracks a target of
  ``target_entropy_ratio`` x log(number of valid actions) (the paper uses 0.98 x log |A|;
  with masks the reachable maximum is log of the valid count, so the target follows it).

Masked actions get zero probability in acting and in every sum; masks of replayed
states are read back from the observations (:mod:`solvers.rl.common`).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, preprocess_obs
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.utils import polyak_update
from torch import nn

from netsim.rl.masks import MaskSpec
from solvers.rl.common import MaskedOffPolicy


class DiscreteSACPolicy(BasePolicy):
    """Actor (action logits) and two critics (Q for every action), each an MLP over the
    observation as SB3 preprocesses it (:meth:`features`: a Discrete one one-hot, a Box
    one flattened)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Discrete,
                 lr_schedule, net_arch: list[int] | None = None) -> None:
        if isinstance(observation_space, spaces.Dict):
            raise TypeError("SACDiscrete takes Box, Discrete, MultiDiscrete or MultiBinary "
                            "observations, not a Dict")
        super().__init__(observation_space, action_space)
        self.net_arch = list(net_arch or [256, 256])
        self.actor, self.critic1, self.critic2 = (self.make_network(), self.make_network(),
                                                  self.make_network())
        self.critic1_target, self.critic2_target = (copy.deepcopy(self.critic1),
                                                    copy.deepcopy(self.critic2))
        for target in (self.critic1_target, self.critic2_target):
            target.requires_grad_(False)
        self.actor_optimizer = th.optim.Adam(self.actor.parameters(), lr=lr_schedule(1))
        self.critic_optimizer = th.optim.Adam(
            list(self.critic1.parameters()) + list(self.critic2.parameters()), lr=lr_schedule(1)
        )

    def make_network(self) -> nn.Module:
        """features -> one output per action (the actor's logits, a critic's Q)."""
        n_obs = get_flattened_obs_dim(self.observation_space)
        return nn.Sequential(*create_mlp(n_obs, int(self.action_space.n), self.net_arch,
                                         nn.ReLU))

    def features(self, observation: th.Tensor) -> th.Tensor:
        """A batch of observations as the networks take them: SB3's preprocessing
        (floats; a Discrete index one-hot; images scaled to [0, 1]), one row each."""
        return preprocess_obs(observation, self.observation_space,
                              normalize_images=self.normalize_images).flatten(start_dim=1)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(net_arch=self.net_arch)
        return data

    def masked_log_probs(self, features: th.Tensor, masks: th.Tensor) -> th.Tensor:
        """log pi(.|s) of :meth:`features`, masked actions at -inf."""
        return F.log_softmax(self.actor(features).masked_fill(~masks, -th.inf), dim=1)

    def _predict(self, observation: th.Tensor, deterministic: bool = False) -> th.Tensor:
        logits = self.actor(self.features(observation))
        if deterministic:
            return logits.argmax(dim=1)
        return th.distributions.Categorical(logits=logits).sample()


def expected_under(probs: th.Tensor, values: th.Tensor, masks: th.Tensor) -> th.Tensor:
    """sum_a pi(a) values(a) over valid actions. Masked entries (log pi = -inf) are zeroed
    before the product, so neither the sum nor its gradient meets 0 * inf."""
    return (probs * values.masked_fill(~masks, 0.0)).sum(dim=1)


class SACDiscrete(MaskedOffPolicy, OffPolicyAlgorithm):
    """SAC-Discrete with action masks (see the module docstring).

    :param policy: ``"MlpPolicy"`` (:class:`DiscreteSACPolicy`) or a policy class
    :param env: any gymnasium environment (or VecEnv) with a Discrete action space and
        Box observations
    :param mask_spec: netsim's observation layout, to read masks back from observations;
        None: the environment's ``action_masks()`` if it has one, else every action valid
    :param learning_rate: for the actor, both critics and the temperature
    :param buffer_size: replay buffer size, transitions
    :param learning_starts: uniformly random valid actions for this many steps first
    :param batch_size: minibatch size of each gradient step
    :param tau: Polyak averaging coefficient of the target critics
    :param gamma: discount factor
    :param train_freq: environment steps between updates
    :param gradient_steps: gradient steps per update
    :param target_entropy_ratio: target entropy as a share of the maximum, log of the
        number of valid actions (Christodoulou 2019 uses 0.98)
    :param policy_kwargs: e.g. ``{"net_arch": [64, 64]}``
    :param tensorboard_log: folder for tensorboard logs, or None
    :param verbose: SB3's verbosity
    :param seed: seeds the networks, the replay sampling and the valid-action draws
    :param device: torch device
    """

    policy_aliases = {"MlpPolicy": DiscreteSACPolicy}

    def __init__(self, policy, env, mask_spec: MaskSpec | None = None,
                 learning_rate: float = 3e-4, buffer_size: int = 100_000,
                 learning_starts: int = 1_000, batch_size: int = 256, tau: float = 0.005,
                 gamma: float = 0.99, train_freq: int = 4, gradient_steps: int = 1,
                 target_entropy_ratio: float = 0.98, policy_kwargs: dict | None = None,
                 tensorboard_log: str | None = None, verbose: int = 0, seed: int | None = None,
                 device: str = "cpu", _init_setup_model: bool = True) -> None:
        super().__init__(
            policy, env, learning_rate, buffer_size=buffer_size,
            learning_starts=learning_starts, batch_size=batch_size, tau=tau, gamma=gamma,
            train_freq=train_freq, gradient_steps=gradient_steps,
            policy_kwargs=policy_kwargs, tensorboard_log=tensorboard_log, verbose=verbose,
            device=device, seed=seed, supported_action_spaces=(spaces.Discrete,),
            support_multi_env=True, sde_support=False,
        )
        self.mask_spec = mask_spec
        self.target_entropy_ratio = target_entropy_ratio
        self.mask_rng = np.random.default_rng(seed)
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self.log_alpha = th.zeros(1, requires_grad=True, device=self.device)
        self.alpha_optimizer = th.optim.Adam([self.log_alpha], lr=self.lr_schedule(1))

    def predict(self, observation, state=None, episode_start=None, deterministic=False,
                action_masks=None):
        # SB3's reading of one observation or a batch, for any observation space (a
        # Discrete one is an index, a Box one may have several dimensions)
        obs, vectorized = self.policy.obs_to_tensor(observation)
        masks = (self._masks(observation) if action_masks is None
                 else self._given_masks(action_masks, obs.shape[0]))
        with th.no_grad():
            log_probs = self.policy.masked_log_probs(self.policy.features(obs),
                                                     th.as_tensor(masks, device=self.device))
        if deterministic:
            actions = log_probs.argmax(dim=1).cpu().numpy()
        else:
            actions = th.distributions.Categorical(logits=log_probs).sample().cpu().numpy()
        return (actions if vectorized else actions[0]), state

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        policy = self.policy
        policy.set_training_mode(True)
        self._update_learning_rate([policy.actor_optimizer, policy.critic_optimizer,
                                    self.alpha_optimizer])
        logs: dict[str, list[float]] = {"critic_loss": [], "actor_loss": [], "alpha": [],
                                        "entropy": []}
        for _ in range(gradient_steps):
            batch = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            masks = th.as_tensor(self._masks(batch.observations.cpu().numpy()),
                                 device=self.device)
            next_masks = th.as_tensor(self._masks(batch.next_observations.cpu().numpy()),
                                      device=self.device)
            alpha = self.log_alpha.exp().detach()
            features = policy.features(batch.observations)
            next_features = policy.features(batch.next_observations)
            with th.no_grad():
                next_log_probs = policy.masked_log_probs(next_features, next_masks)
                next_q = th.min(policy.critic1_target(next_features),
                                policy.critic2_target(next_features))
                next_value = expected_under(next_log_probs.exp(),
                                            next_q - alpha * next_log_probs, next_masks)
                target = batch.rewards + (1 - batch.dones) * self.gamma * next_value[:, None]
            actions = batch.actions.long()
            q1 = policy.critic1(features).gather(1, actions)
            q2 = policy.critic2(features).gather(1, actions)
            critic_loss = 0.5 * (F.mse_loss(q1, target) + F.mse_loss(q2, target))
            policy.critic_optimizer.zero_grad()
            critic_loss.backward()
            policy.critic_optimizer.step()

            log_probs = policy.masked_log_probs(features, masks)
            probs = log_probs.exp()
            with th.no_grad():
                q_min = th.min(policy.critic1(features), policy.critic2(features))
            actor_loss = expected_under(probs, alpha * log_probs - q_min, masks).mean()
            policy.actor_optimizer.zero_grad()
            actor_loss.backward()
            policy.actor_optimizer.step()

            entropy = -expected_under(probs, log_probs, masks).detach()
            target_entropy = self.target_entropy_ratio * th.log(masks.sum(dim=1).float())
            alpha_loss = (self.log_alpha * (entropy - target_entropy)).mean()
            self.alpha_optimizer.zero_grad()
            alpha_loss.backward()
            self.alpha_optimizer.step()

            polyak_update(policy.critic1.parameters(), policy.critic1_target.parameters(),
                          self.tau)
            polyak_update(policy.critic2.parameters(), policy.critic2_target.parameters(),
                          self.tau)
            for key, value in (("critic_loss", critic_loss), ("actor_loss", actor_loss),
                               ("alpha", alpha), ("entropy", entropy.mean())):
                logs[key].append(float(value.detach()))
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, values in logs.items():
            self.logger.record(f"train/{key}", float(np.mean(values)))

    def _excluded_save_params(self) -> list[str]:
        return super()._excluded_save_params() + ["log_alpha", "alpha_optimizer"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return (["policy", "policy.actor_optimizer", "policy.critic_optimizer",
                 "alpha_optimizer"], ["log_alpha"])
