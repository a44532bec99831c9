"""The off-policy agents (masked DQN, SAC-Discrete) are agents for any gymnasium
environment with Discrete actions, not only netsim's: they learn on CartPole, which
netsim did not write, and honour an environment's own ``action_masks()``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from solvers.rl.dqn import MaskableDQN
from solvers.rl.sac_discrete import SACDiscrete

SETTINGS = {
    "dqn": (MaskableDQN, {"learning_rate": 2.3e-3, "target_update_interval": 10,
                          "train_freq": 256, "gradient_steps": 128,
                          "exploration_fraction": 0.16, "exploration_final_eps": 0.04}),
    "sac": (SACDiscrete, {"learning_rate": 1e-3, "train_freq": 4, "tau": 0.01}),
}
"""CartPole settings near rl-zoo's for DQN; SAC-Discrete's own defaults otherwise."""


def mean_return(act, episodes: int = 10, seed: int = 100) -> float:
    env = gym.make("CartPole-v1")
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(int(act(observation)))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


@pytest.mark.parametrize("algo", ["dqn", "sac"])
def test_off_policy_agents_learn_on_a_gymnasium_environment(algo):
    """6,000 steps on CartPole-v1: the greedy policy balances the pole several times
    longer than a random one (about 22 steps)."""
    import torch

    torch.set_num_threads(1)
    cls, settings = SETTINGS[algo]
    model = cls("MlpPolicy", gym.make("CartPole-v1"), batch_size=64, buffer_size=100_000,
                learning_starts=1_000, policy_kwargs={"net_arch": [64, 64]}, seed=0,
                **settings)
    model.learn(6_000)
    rng = np.random.default_rng(0)
    random_return = mean_return(lambda _: rng.integers(2))
    learned = mean_return(lambda observation: model.predict(observation, deterministic=True)[0])
    assert random_return < 40
    assert learned > 3 * random_return


class OnlyEvenActions(gym.Wrapper):
    """A gymnasium environment with six actions of which only the even ones are valid
    (sb3-contrib's ``action_masks()`` protocol); it records every action taken."""

    def __init__(self) -> None:
        super().__init__(gym.make("CartPole-v1"))
        self.action_space = gym.spaces.Discrete(6)
        self.taken: list[int] = []

    def action_masks(self) -> np.ndarray:
        return np.arange(6) % 2 == 0

    def step(self, action):  # type: ignore[no-untyped-def]
        self.taken.append(int(action))
        return self.env.step(int(action) // 2 % 2)


@pytest.mark.parametrize("algo", ["dqn", "sac"])
def test_off_policy_agents_act_only_on_what_action_masks_allows(algo):
    """Warm-up, exploration and the learned policy alike take only valid actions."""
    cls, _ = SETTINGS[algo]
    env = OnlyEvenActions()
    model = cls("MlpPolicy", env, learning_starts=100, batch_size=32, buffer_size=1_000,
                train_freq=1, policy_kwargs={"net_arch": [16]}, seed=0)
    model.learn(400)
    assert len(env.taken) == 400 and all(action % 2 == 0 for action in env.taken)
    assert {0, 2, 4} <= set(env.taken)  # it does explore among the valid ones
    # predict's masks: one per observation, or one for a whole batch (DQN failed inside
    # numpy), any other shape one line
    batch = np.zeros((3, 4), np.float32)
    only = np.arange(6) == 4
    for deterministic in (True, False):
        assert model.predict(batch, deterministic=deterministic, action_masks=only)[0].tolist() \
            == [4, 4, 4]
        each = np.stack([np.arange(6) == k for k in (0, 2, 4)])
        for masks in (each, each.ravel()):  # rows, or flat as MaskablePPO takes them
            assert model.predict(batch, deterministic=deterministic,
                                 action_masks=masks)[0].tolist() == [0, 2, 4]
    for wrong in (np.ones(5, bool), np.ones((2, 6), bool), np.ones((3, 2, 6), bool)):
        with pytest.raises(ValueError, match=r"^action_masks: shape .*: one mask of 6 "
                                             r"actions, or one per observation \(3 here\)"):
            model.predict(batch, action_masks=wrong)


def frozen_lake_return(act, episodes: int = 4) -> float:
    env = gym.make("FrozenLake-v1", is_slippery=False)
    total = 0.0
    for episode in range(episodes):
        observation, _ = env.reset(seed=episode)
        done = False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(int(act(observation)))
            total += float(reward)
            done = terminated or truncated
    return total / episodes


@pytest.mark.parametrize("algo", ["dqn", "sac"])
def test_off_policy_agents_take_any_observation_space(algo):
    """FrozenLake's observation is a cell index (Discrete) and a Box may have two
    dimensions: both agents crashed as soon as they acted (a batch of indices was taken
    for one observation; SAC's networks read the raw index). They now read observations
    as SB3 does, one or a batch, for any space: both train with two environments side
    by side, answer one observation with one action and a batch with one each, and DQN
    learns FrozenLake (a random policy reaches the goal about once in 70 episodes)."""
    from stable_baselines3.common.env_util import make_vec_env

    cls, _ = SETTINGS[algo]
    frozen = make_vec_env("FrozenLake-v1", n_envs=2, seed=0, env_kwargs={"is_slippery": False})
    square = gym.wrappers.ReshapeObservation(gym.make("CartPole-v1"), (2, 2))
    for env, one, batch in ((frozen, 5, np.array([0, 14])),
                            (square, np.zeros((2, 2), np.float32),
                             np.zeros((3, 2, 2), np.float32))):
        model = cls("MlpPolicy", env, learning_starts=50, batch_size=16, buffer_size=1_000,
                    policy_kwargs={"net_arch": [16]}, seed=0)
        model.learn(200)
        assert np.shape(model.predict(one, deterministic=True)[0]) == ()
        assert model.predict(batch, deterministic=True)[0].shape == (len(batch),)
    if algo == "dqn":
        model = MaskableDQN("MlpPolicy", gym.make("FrozenLake-v1", is_slippery=False),
                            learning_starts=300, batch_size=32, buffer_size=10_000,
                            learning_rate=1e-3, target_update_interval=50, train_freq=4,
                            gradient_steps=2, exploration_fraction=0.5, gamma=0.9,
                            exploration_final_eps=0.05, policy_kwargs={"net_arch": [32]},
                            seed=0)
        model.learn(1_500)
        assert frozen_lake_return(lambda o: model.predict(o, deterministic=True)[0]) == 1.0


def test_sac_scales_image_observations_as_sb3_does():
    """SB3 reads a uint8 image observation in [0, 1] (DQN's network did, SAC-Discrete's
    read 0-255); both now see the same features."""
    import torch

    from solvers.rl.sac_discrete import DiscreteSACPolicy

    image = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
    policy = DiscreteSACPolicy(image, gym.spaces.Discrete(2), lambda _: 1e-3, [4])
    features = policy.features(torch.full((2, 8, 8, 3), 255, dtype=torch.uint8))
    assert features.shape == (2, 192) and float(features.max()) == 1.0
