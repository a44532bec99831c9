"""Policies whose weights are shared across RBs (``rl.policy: size_free``), for
MaskablePPO, DQN and SAC-Discrete alike: one trained model runs on any number of users
and RBs with the same encoders.

Each RB's row of the size-free observation (:mod:`netsim.rl.size_free`) is read by the
same network, joined with the step's global entries; one permutation-equivariant layer
(Deep Sets, Zaheer et al. 2017: each row's own term plus terms of the mean and the
maximum over all rows) lets every RB's score depend on the others; a linear head then
scores the M actions "encoder m on this RB" from the RB's embedding. "Unserved" and the
state value are read from the pooled embeddings (mean and maximum over RBs) and the
global entries. Permuting the RBs permutes the scores; adding RBs adds rows, not
weights. The action index is ``m * Q + q``, as in every netsim environment.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch as th
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.dqn.policies import DQNPolicy
from torch import nn

from netsim.rl.size_free import GLOBAL_FEATURES, size_free_row_width
from solvers.rl.sac_discrete import DiscreteSACPolicy


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


class RBSetNetwork(nn.Module):
    """Size-free observation (B, G + Q F) -> action scores (B, M Q + 1) and a pooled
    context (B, 2 H + G) (module docstring).

    :param n_encoders: M, the encoders of the action space
    :param hidden: sizes of the per-RB layers (``rl.net_arch``); H is the last
    """

    def __init__(self, n_encoders: int, hidden: list[int]) -> None:
        super().__init__()
        self.n_encoders, self.n_global = n_encoders, len(GLOBAL_FEATURES)
        self.row_width = size_free_row_width(n_encoders)
        width = hidden[-1]
        self.embed = _mlp([self.row_width + self.n_global, *hidden])
        self.own, self.mean, self.max = (nn.Linear(width, width), nn.Linear(width, width),
                                         nn.Linear(width, width, bias=False))
        self.action_head = nn.Linear(width, n_encoders)
        self.context_dim = 2 * width + self.n_global
        self.drop_head = nn.Sequential(nn.Linear(self.context_dim, width), nn.ReLU(),
                                       nn.Linear(width, 1))
        for head in (self.action_head, self.drop_head[-1]):  # near-uniform first policy
            nn.init.orthogonal_(head.weight, gain=0.01)
            nn.init.zeros_(head.bias)

    def encode(self, observation: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """(scores, context) of a batch of observations."""
        batch = observation.shape[0]
        header = observation[:, :self.n_global]
        rows = observation[:, self.n_global:].reshape(batch, -1, self.row_width)
        n_rbs = rows.shape[1]
        embedded = self.embed(th.cat([rows, header[:, None, :].expand(-1, n_rbs, -1)], dim=2))
        mixed = th.relu(self.own(embedded) + self.mean(embedded.mean(dim=1, keepdim=True))
                        + self.max(embedded.max(dim=1, keepdim=True).values))
        per_rb = self.action_head(mixed)  # (B, Q, M)
        context = th.cat([mixed.mean(dim=1), mixed.max(dim=1).values, header], dim=1)
        scores = th.cat([per_rb.transpose(1, 2).reshape(batch, -1), self.drop_head(context)],
                        dim=1)
        return scores, context

    def forward(self, observation: th.Tensor) -> th.Tensor:
        return self.encode(observation)[0]


class SizeFreeExtractor(nn.Module):
    """SB3's ``mlp_extractor`` slot: the actor's latent is its action scores (the action
    net is the identity), the critic's a hidden layer on its own network's context."""

    def __init__(self, n_encoders: int, hidden: list[int]) -> None:
        super().__init__()
        self.actor = RBSetNetwork(n_encoders, hidden)
        self.critic = RBSetNetwork(n_encoders, hidden)
        self.latent_dim_vf = hidden[-1]
        self.critic_head = nn.Sequential(nn.Linear(self.critic.context_dim, hidden[-1]),
                                         nn.ReLU())

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        return self.actor(features)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        return self.critic_head(self.critic.encode(features)[1])

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)


class SizeFreeActorCriticPolicy(MaskableActorCriticPolicy):
    """MaskablePPO's policy with :class:`RBSetNetwork` actor and critic.

    :param n_encoders: M, the encoders of the action space
    :param net_arch: sizes of the per-RB layers
    """

    def __init__(self, *args: Any, n_encoders: int, net_arch: list[int] | None = None,
                 **kwargs: Any) -> None:
        self.n_encoders, self.hidden = n_encoders, list(net_arch or [64, 64])
        super().__init__(*args, net_arch=self.hidden, **kwargs)

    def _build(self, lr_schedule) -> None:  # type: ignore[no-untyped-def]
        self.mlp_extractor = SizeFreeExtractor(self.n_encoders, self.hidden)
        self.action_net = nn.Identity()
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(n_encoders=self.n_encoders, net_arch=self.hidden)
        return data


class SizeFreeQNetwork(BasePolicy):
    """DQN's Q-network: :class:`RBSetNetwork`'s scores are the Q-values."""

    def __init__(self, observation_space, action_space, n_encoders: int,  # type: ignore[no-untyped-def]
                 hidden: list[int]) -> None:
        super().__init__(observation_space, action_space)
        self.network = RBSetNetwork(n_encoders, hidden)

    def forward(self, observation: th.Tensor) -> th.Tensor:
        return self.network(observation)

    def _predict(self, observation: th.Tensor, deterministic: bool = True) -> th.Tensor:
        return self.network(observation).argmax(dim=1)


class SizeFreeDQNPolicy(DQNPolicy):
    """DQN's policy with :class:`SizeFreeQNetwork` online and target networks."""

    def __init__(self, *args: Any, n_encoders: int, net_arch: list[int] | None = None,
                 **kwargs: Any) -> None:
        self.n_encoders, self.hidden = n_encoders, list(net_arch or [64, 64])
        super().__init__(*args, net_arch=self.hidden, **kwargs)

    def make_q_net(self) -> SizeFreeQNetwork:
        return SizeFreeQNetwork(self.observation_space, self.action_space, self.n_encoders,
                                self.hidden).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(n_encoders=self.n_encoders, net_arch=self.hidden)
        return data


class SizeFreeSACPolicy(DiscreteSACPolicy):
    """SAC-Discrete's actor and twin critics, each an :class:`RBSetNetwork`."""

    def __init__(self, *args: Any, n_encoders: int, **kwargs: Any) -> None:
        self.n_encoders = n_encoders
        super().__init__(*args, **kwargs)

    def make_network(self) -> nn.Module:
        return RBSetNetwork(self.n_encoders, self.net_arch)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(n_encoders=self.n_encoders)
        return data
