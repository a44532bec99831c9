"""The size-free observation (``rl.policy: size_free``): what one step shows a policy whose
weights are shared across RBs, so that one trained model runs on any number of users
and RBs (same encoders).

The observation is a flat float32 vector: GLOBAL_FEATURES entries about the step as a
whole, then one row of RB_FEATURES + M entries per RB (Q rows), so Q = (length − G) / F
and a network that applies the same weights to every row (:mod:`solvers.rl.size_free`)
accepts any Q. Nothing in it is indexed by user: the other users still to assign in the
slot enter only through per-RB aggregates (the best of their mean SNRs on the RB, how
many of them rank it first, the price of taking it from them).

Global entries (the user being assigned, its slot, its queue):
  users still to assign, this one included, / free RBs
  free RBs / Q
  "unserved" allowed (1) or masked (0)
  the user's distance / cell radius
  the user's device clock, normalised to the training scenario's range
  the user's drop penalty x rl.reward_scale
  closed loop: the user's device backlog, its waiting requests, the age of its oldest
  (slots), the BS cores' mean and least remaining work (slots), requests waiting in the
  cell / Q (all 0 under the analytic model)
Per RB q:
  free (1) or taken this slot (0)
  interference, normalised dB (training scenario's mean and spread)
  the user's mean SNR on q, dB / 10
  closed loop: q's committed transmissions still to go (slots)
  the other users still to assign: their best mean SNR on q (dB / 10), the share of
  them whose cheapest free RB is q, the price of q (the most any of them would pay,
  in expected cost x rl.reward_scale, to move to its second-cheapest free RB if q were
  taken) and the least expected cost any of them has on q
  the user's expected eq. 11 cost (over fading, as the statistical schedulers know
  it) with each encoder m on q, x rl.reward_scale                           (M entries)
The agent knows no more than the statistical exact scheduler: locations,
interference, device clocks, the expected cost model and, in the closed loop, the
queues.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from netsim.rl.observation import (
    FeatureScales,
    ObservationEncoder,
    QueueView,
    clip_bound,
    drop_allowed,
)
from netsim.scenario import Scenario

GLOBAL_FEATURES = ("users_left_per_free_rb", "free_share", "drop_allowed", "distance",
                   "clock", "drop_penalty", "device_backlog", "waiting", "age",
                   "cores_mean_work", "cores_least_work", "cell_waiting_per_rb")
RB_FEATURES = ("free", "interference", "snr", "rb_backlog", "others_best_snr",
               "others_first_choice", "price", "others_least_cost")
"""Followed in each RB's row by the user's expected cost with each encoder."""

FREE_COLUMN, DROP_ALLOWED = RB_FEATURES.index("free"), GLOBAL_FEATURES.index("drop_allowed")


def size_free_row_width(n_encoders: int) -> int:
    """Entries per RB row: RB_FEATURES then one cost per encoder."""
    return len(RB_FEATURES) + n_encoders


def size_free_observation_size(n_rbs: int, n_encoders: int) -> int:
    """G + Q x F entries (module docstring)."""
    return len(GLOBAL_FEATURES) + n_rbs * size_free_row_width(n_encoders)


def size_free_spaces(n_rbs: int, n_encoders: int) -> dict:
    """The observation and action spaces of a size-free policy on a cell of ``n_rbs``
    RBs (its weights fit any): what a saved model is loaded with for another cell."""
    import gymnasium as gym

    from netsim.rl.observation import OBS_BOUND

    return {"observation_space": gym.spaces.Box(
                -OBS_BOUND, OBS_BOUND, (size_free_observation_size(n_rbs, n_encoders),),
                np.float32),
            "action_space": gym.spaces.Discrete(n_encoders * n_rbs + 1)}


def rbs_of(size: int, n_encoders: int) -> int:
    """Q of a size-free observation of ``size`` entries."""
    return (size - len(GLOBAL_FEATURES)) // size_free_row_width(n_encoders)


@dataclass(frozen=True)
class SizeFreeSlot:
    """One slot's features, user-indexed where they concern users (U rows; only the
    requesting users' rows are read); or, built for many slots at once, the same with
    a leading axis of slots on the slot-dependent arrays (:meth:`at` takes one)."""

    interference: np.ndarray
    """(Q,) normalised interference."""
    distance: np.ndarray
    """(U,) distance / radius."""
    clock: np.ndarray
    """(U,) normalised device clock."""
    snr: np.ndarray
    """(U, Q) mean SNR, dB / 10."""
    cost: np.ndarray
    """(U, M, Q) expected cost x reward scale."""
    penalty: np.ndarray
    """(U,) drop penalty x reward scale."""
    queue: QueueView | None

    def at(self, offset: int) -> SizeFreeSlot:
        """The slot at ``offset`` of features built for many slots (no queue view); the
        clocks per slot too where they were given per slot (snapshot worlds)."""
        clock = self.clock[offset] if self.clock.ndim > 1 else self.clock
        return SizeFreeSlot(self.interference[offset], self.distance[offset], clock,
                            self.snr[offset], self.cost[offset], self.penalty, None)

    def with_queue(self, queue: QueueView | None) -> SizeFreeSlot:
        """The same slot's features with the queue view ``queue``."""
        return SizeFreeSlot(self.interference, self.distance, self.clock, self.snr,
                            self.cost, self.penalty, queue)

    @cached_property
    def best_cost(self) -> np.ndarray:
        """(U, Q) each user's least expected cost x reward scale over the encoders."""
        return self.cost.min(axis=-2)

    @cached_property
    def queue_header(self) -> tuple[float, float, float]:
        """The slot's queue entries of the header: the cores' mean and least remaining
        work, requests waiting in the cell / Q."""
        queue = self.queue
        work = queue.core_work  # the sum over the size: numpy's mean, without its wrapper
        return (work.sum() / work.size, work.min(), queue.waiting.sum() / self.interference.size)


@dataclass(frozen=True)
class SizeFreeEncoder(FeatureScales):
    """Builds size-free observations with the training scenario's scales (so a trained
    policy sees the same at any cell size) for ``n_encoders`` encoders; costs are
    multiplied by ``cost_scale`` (the training scenario's rl.reward_scale)."""

    n_encoders: int
    cost_scale: float

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> SizeFreeEncoder:
        return cls(**FeatureScales.of(scenario), n_encoders=len(scenario.encoders),
                   cost_scale=scenario.rl.reward_scale)

    def slot_template(self, interference_w: np.ndarray, distance_m: np.ndarray,
                      user_cpu_hz: np.ndarray, mean_snr: np.ndarray, expected_cost: np.ndarray,
                      drop_penalty: np.ndarray, queue: QueueView | None = None) -> SizeFreeSlot:
        """A slot's features (user-indexed arrays over all U users); with a leading axis
        of slots on the interference (S, Q), distances (S, U), mean SNRs (S, U, Q) and
        expected costs (S, U, M, Q) (and the clocks, (S, U), if they change from slot to
        slot), those of S slots at once (the same numbers, :meth:`SizeFreeSlot.at`)."""
        return SizeFreeSlot(
            interference=self.interference_feature(interference_w),
            distance=self.distance_feature(distance_m),
            clock=self.clock_feature(user_cpu_hz),
            snr=ObservationEncoder.snr_feature(mean_snr),
            cost=np.asarray(expected_cost) * self.cost_scale,
            penalty=np.asarray(drop_penalty) * self.cost_scale,
            queue=queue,
        )

    def observe(self, assignment) -> np.ndarray:  # type: ignore[no-untyped-def]
        """The observation before acting for ``assignment``'s current user (a
        :class:`netsim.rl.assignment.SlotAssignment` whose template is a SizeFreeSlot)."""
        slot: SizeFreeSlot = assignment.template
        user = assignment.current_user
        free = assignment.free
        n_rbs, n_free = free.size, int(np.count_nonzero(free))
        others = np.asarray(assignment.users[assignment.position + 1:], dtype=np.int64)
        # header and RB rows filled in place in one vector (the layout of the docstring)
        observation = np.zeros(len(GLOBAL_FEATURES) + n_rbs * size_free_row_width(self.n_encoders))
        header = observation[:len(GLOBAL_FEATURES)]
        rows = observation[len(GLOBAL_FEATURES):].reshape(n_rbs, -1)
        header[:6] = (assignment.users_left / max(n_free, 1), n_free / n_rbs,
                      float(drop_allowed(assignment.users_left, n_free,
                                         assignment.voluntary_drop)),
                      slot.distance[user], slot.clock[user], slot.penalty[user])
        rows[:, 0], rows[:, 1], rows[:, 2] = free, slot.interference, slot.snr[user]
        queue = slot.queue
        if queue is not None:
            header[6:] = (queue.device_backlog[user], queue.waiting[user], queue.age[user],
                          *slot.queue_header)
            rows[:, 3] = queue.rb_backlog
        if others.size:
            self._contention(slot, others, free, n_free, rows[:, 4:8])
        rows[:, len(RB_FEATURES):] = slot.cost[user].T
        return clip_bound(observation).astype(np.float32)

    @staticmethod
    def _contention(slot: SizeFreeSlot, others: np.ndarray, free: np.ndarray, n_free: int,
                    out: np.ndarray) -> None:
        """Per RB, into ``out`` (Q, 4): the other users' best mean SNR, the share of them
        whose cheapest free RB it is, its price and their least expected cost on it."""
        best_cost = slot.best_cost[others]  # (n, Q) best encoder per RB
        open_cost = np.where(free, best_cost, np.inf)
        first = open_cost.argmin(axis=1)
        out[:, 0] = slot.snr[others].max(axis=0)
        out[:, 1] = np.bincount(first, minlength=free.size) / others.size
        if n_free > 1:  # the price column stays 0 with a single free RB
            ordered = np.partition(open_cost, 1, axis=1)
            np.maximum.at(out[:, 2], first, ordered[:, 1] - ordered[:, 0])
        out[:, 3] = best_cost.min(axis=0)


def action_costs(observation: np.ndarray, n_encoders: int) -> np.ndarray:
    """The expected cost x reward scale of every action (M Q + 1, "unserved" last: the
    drop penalty) that a size-free observation shows for its user."""
    n_rbs = rbs_of(observation.size, n_encoders)
    rows = observation[len(GLOBAL_FEATURES):].reshape(n_rbs, -1)
    costs = rows[:, len(RB_FEATURES):].T.ravel()
    return np.append(costs, observation[GLOBAL_FEATURES.index("drop_penalty")])


def size_free_masks(observations: np.ndarray, n_encoders: int) -> np.ndarray:
    """Action masks (B, M Q + 1) read back from size-free observations (B, size): any
    encoder on a free RB, "unserved" where the header allows it; an all-zero
    observation (after an episode's end) gets an all-true mask."""
    observations = np.atleast_2d(observations)
    n_rbs = rbs_of(observations.shape[1], n_encoders)
    rows = observations[:, len(GLOBAL_FEATURES):].reshape(len(observations), n_rbs, -1)
    free = rows[:, :, FREE_COLUMN] > 0.5
    masks = np.concatenate([np.tile(free, n_encoders),
                            (observations[:, DROP_ALLOWED] > 0.5)[:, None]], axis=1)
    masks[~masks.any(axis=1)] = True
    return masks
