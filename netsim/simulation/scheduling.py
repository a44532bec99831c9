"""The scheduler interface: what a scheduler sees in a slot and what it must return.

Schedulers live in the ``solvers`` package and are found by name through the
``netsim.schedulers`` entry-point group (see :mod:`netsim.simulation.registry`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from netsim.scenario import Scenario
    from netsim.simulation.air_time import AirTime

NOT_SERVED = -1

Information = Literal["oracle", "statistical"]


@dataclass(frozen=True)
class SlotObservation:
    """What the paper's state holds in one slot, for schedulers that act on it (RL):
    no fading. Arrays cover every user of the cell; ``users`` are the requesting ones,
    in the order of the problem's rows."""

    users: np.ndarray
    """(U_active,) indices of the requesting users."""
    distance_m: np.ndarray
    """(U,)."""
    user_cpu_hz: np.ndarray
    """(U,)."""
    interference_w: np.ndarray
    """(Q,)."""
    mean_snr: np.ndarray
    """(U, Q) SNR at unit fading gain (a function of distance and interference)."""


@dataclass(frozen=True)
class QueueState:
    """The state of the timed system at a slot boundary (closed loop, ``delay_model: des``),
    for the problem's rows (the users with a waiting request), and what a queue-aware
    scheduler needs to time its choices (DESIGN §2).

    Times are absolute, in s from the start of the run. Resources are served in the
    order decisions are committed (:mod:`netsim.simulation.reservations`): a core, an RB
    or a device is free from ``*_free_s`` on, or from ``now_s`` if that lies earlier.
    """

    now_s: float
    slot: int
    core_free_s: np.ndarray
    """(cores,) when each BS core finishes the extraction work committed so far."""
    rb_free_s: np.ndarray
    """(Q,) when each RB finishes the transmissions committed so far."""
    device_free_s: np.ndarray
    """(U_rows,) when each row's device finishes decoding what it was sent."""
    arrival_s: np.ndarray
    """(U_rows,) arrival time of each row's oldest waiting request (the one served now)."""
    queue_length: np.ndarray
    """(U_rows,) requests waiting per row user, the served one included."""
    extraction_s: np.ndarray
    """(M,) t_E of each encoder (eq. 3)."""
    computing_s: np.ndarray
    """(U_rows,) t_C of each row's device (eq. 5)."""
    static_cost: np.ndarray | None
    """(U_rows, M, Q) the part of the eq. 11 cost that does not depend on timing: task
    loss + lambda_E v_E, realised (oracle) or expected over fading (statistical); None
    where the state prices it one request at a time instead (:attr:`static_one`)."""
    air_time: AirTime
    """What the scheduler knows of t_T (eq. 4) for its rows: realised (oracle), or its
    law (statistical) (:mod:`netsim.simulation.air_time`)."""
    max_delay_s: float
    """T_max."""
    lambda_delay: float
    """lambda_T of eq. 11."""
    static_one: Callable[[int, int, int], float] | None = field(default=None, repr=False,
                                                                compare=False)
    """Where :attr:`static_cost` is None: the timing-free cost of one (row, encoder, RB)
    on Python floats (for a scheduler that prices only the requests it serves, the RL
    environment; :attr:`Scheduler.reads_static_table`)."""

    @property
    def cores(self) -> int:
        return self.core_free_s.size

    def with_knowledge(self, static_cost: np.ndarray | None, air_time: AirTime,
                       static_one: Callable[[int, int, int], float] | None) -> QueueState:
        """The same state as a scheduler of another information level sees it: these
        three fields replaced (what ``dataclasses.replace`` does, at a fifth of its
        cost: the RL environment asks for it at every slot)."""
        other = object.__new__(QueueState)
        other.__dict__.update(self.__dict__, static_cost=static_cost, air_time=air_time,
                              static_one=static_one)
        return other

    def static_of(self, rows: np.ndarray, encoder: np.ndarray, rb: np.ndarray) -> np.ndarray:
        """The timing-free cost of the (row, encoder, RB) triples (index arrays)."""
        if self.static_cost is not None:
            return self.static_cost[rows, encoder, rb]
        return np.array([self.static_one(*triple) for triple in
                         zip(rows.tolist(), encoder.tolist(), rb.tolist(), strict=True)],
                        dtype=float)

    def static_at(self, row: int, encoder: int, rb: int) -> float:
        """:meth:`static_of` of one triple, a Python float (the RL environment's reward,
        one request at a time)."""
        if self.static_cost is not None:
            return float(self.static_cost[row, encoder, rb])
        return self.static_one(row, encoder, rb)

    def delay_penalty(self, rows: np.ndarray, encoder: np.ndarray, rb: np.ndarray,
                      tx_start_s: np.ndarray) -> np.ndarray:
        """The eq. 11 delay penalty of serving ``rows`` with ``encoder`` on ``rb`` (index
        arrays, broadcast) when the transmission starts at ``tx_start_s`` (absolute),
        expected over what the scheduler does not know of t_T."""
        return self.air_time.delay_penalty(
            rows, encoder, rb, tx_start_s, self.device_free_s[rows], self.computing_s[rows],
            self.arrival_s[rows], self.max_delay_s, self.lambda_delay)

    def remaining_work_s(self) -> np.ndarray:
        """(cores,) committed extraction work left on each core, s."""
        return np.maximum(self.core_free_s - self.now_s, 0.0)


@dataclass(frozen=True)
class SchedulingProblem:
    """One slot's decision, for the users that requested an image.

    ``cost[u, m, q]`` is the eq. 11 cost of serving user u with encoder m on RB q as
    far as the scheduler can know it: the realised cost for an oracle, the expected
    cost over fading for a statistical scheduler. Leaving user u unserved costs
    ``drop_penalty[u]``.
    """

    cost: np.ndarray
    """(U, M, Q)."""
    drop_penalty: np.ndarray
    """(U,)."""
    encoders: tuple[str, ...]
    voluntary_drop: bool = False
    """False: exactly min(U, Q) users must be served; True: any user may be dropped."""
    observation: SlotObservation | None = None
    """Filled in for schedulers whose ``uses_observation`` is True."""
    queue: QueueState | None = None
    """Filled in, in the closed loop, for schedulers whose ``queue_aware`` is True."""

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.cost.shape  # type: ignore[return-value]


@dataclass(frozen=True)
class Allocation:
    """Per user: encoder index and RB index, both NOT_SERVED (-1) for a dropped user.

    ``cpu_order`` (closed loop only): the served rows in the order their extractions
    take the BS cores; None means arrival order (oldest request first, ties by row)."""

    encoder: np.ndarray
    rb: np.ndarray
    cpu_order: np.ndarray | None = None

    @classmethod
    def from_pairs(
        cls, encoder: np.ndarray, rb: np.ndarray, cpu_order: np.ndarray | None = None
    ) -> Allocation:
        order = None if cpu_order is None else np.asarray(cpu_order, dtype=np.int64)
        return cls(np.asarray(encoder, dtype=np.int64), np.asarray(rb, dtype=np.int64), order)

    @property
    def served(self) -> np.ndarray:
        return self.rb != NOT_SERVED

    def objective(self, problem: SchedulingProblem) -> float:
        """Total cost of this allocation under ``problem``'s cost (paper eq. 10)."""
        served = self.served
        users = np.flatnonzero(served)
        total = problem.cost[users, self.encoder[users], self.rb[users]].sum()
        return float(total + problem.drop_penalty[~served].sum())


class InfeasibleAllocation(ValueError):
    """A scheduler returned an allocation that breaks paper constraints 10a–10c."""


def check_allocation(
    allocation: Allocation, n_users: int, n_encoders: int, n_rbs: int, voluntary_drop: bool
) -> None:
    """Raise InfeasibleAllocation unless: integer indices, one (encoder, RB) or none per
    user (10a, 10b), indices in range, no RB serves two users (10c), and, without
    voluntary drops, min(U, Q) users served. Checked on Python ints (a few users a slot:
    numpy's per-call cost would be most of it)."""
    encoder, rb, order = allocation.encoder, allocation.rb, allocation.cpu_order
    if encoder.shape != (n_users,) or rb.shape != (n_users,):
        raise InfeasibleAllocation(f"expected {n_users} decisions, got {encoder.shape}, {rb.shape}")
    arrays = (encoder, rb) if order is None else (encoder, rb, np.asarray(order))
    if any(a.dtype.kind not in "iu" for a in arrays) or arrays[-1].ndim != 1:
        raise InfeasibleAllocation("encoder, rb and cpu_order must be 1-D integer arrays")
    problem = _allocation_problem(encoder.tolist(), rb.tolist(),
                                  None if order is None else arrays[2].tolist(), n_encoders,
                                  n_rbs, None if voluntary_drop else min(n_users, n_rbs))
    if problem is not None:
        raise InfeasibleAllocation(problem)


def _allocation_problem(encoder: list[int], rb: list[int], order: list[int] | None,
                        n_encoders: int, n_rbs: int, must_serve: int | None) -> str | None:
    """What :func:`check_allocation` finds wrong with the decisions (as lists of ints),
    or None; ``must_serve``: users that must be served (None: voluntary drops)."""
    served = [q != NOT_SERVED for q in rb]
    if any((m == NOT_SERVED) == s for m, s in zip(encoder, served)):
        return "a user has an RB without an encoder, or the reverse"
    rbs = [q for q in rb if q != NOT_SERVED]
    if any(m < 0 or m >= n_encoders for m, s in zip(encoder, served) if s):
        return "encoder index out of range"
    if any(q < 0 or q >= n_rbs for q in rbs):
        return "RB index out of range"
    if len(set(rbs)) != len(rbs):
        return "an RB serves two users (constraint 10c)"
    if must_serve is not None and len(rbs) != must_serve:
        return f"{len(rbs)} users served where {must_serve} RBs could serve them"
    if order is not None and sorted(order) != [row for row, s in enumerate(served) if s]:
        return "cpu_order must list every served user exactly once"
    return None



class ParameterError(ValueError):
    """A scheduler parameter is wrong in a way the schema cannot see."""

    def __init__(self, key: str, problem: str) -> None:
        self.key, self.problem = key, problem
        super().__init__(f"{key}: {problem}")


class SchedulerParams(BaseModel):
    """Parameters every scheduler accepts in a scenario file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    information: Information = "statistical"
    """oracle: knows this slot's fading; statistical: knows locations and interference."""


class Scheduler(ABC):
    """Decides, each slot, every requesting user's encoder and RB (or none)."""

    Params: ClassVar[type[SchedulerParams]] = SchedulerParams
    uses_cost: ClassVar[bool] = True
    """False for a scheduler that ignores the cost tensor (its time is not charged)."""
    uses_observation: ClassVar[bool] = False
    """True for a scheduler that acts on the slot's SlotObservation (RL agents)."""
    queue_aware: ClassVar[bool] = False
    """True for a scheduler that reads the closed loop's QueueState (``problem.queue``)."""
    reads_static_table: ClassVar[bool] = True
    """False for a queue-aware scheduler that prices only the requests it serves, one at
    a time: its QueueState may carry ``static_one`` instead of the whole timing-free cost
    table (the RL environment)."""
    clairvoyant: ClassVar[bool] = False
    """True for a bound that is handed the whole future (:meth:`see_future`), not a
    causal scheduler."""

    @classmethod
    def prepare(cls, params: SchedulerParams, scenario: Scenario) -> SchedulerParams:
        """Check parameters against what the schema cannot see (a model file exists,
        relative to the scenario's folder, and fits the scenario) and return them
        resolved. Raise ParameterError naming the parameter on failure."""
        return params

    def __init__(self, params: SchedulerParams, rng: np.random.Generator) -> None:
        self.params = params
        self.rng = rng

    @property
    def information(self) -> Information:
        return self.params.information

    def see_future(self, future: object) -> None:
        """Clairvoyant bounds only: every arrival and fading draw of the run, before it
        starts (:class:`netsim.simulation.closed_loop.Future`)."""

    @abstractmethod
    def decide(self, problem: SchedulingProblem) -> Allocation:
        """The allocation for one slot."""
