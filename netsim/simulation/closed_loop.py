"""The closed loop (DESIGN §2): schedulers act inside the discrete-event simulation.

A SimPy process, the slot clock, wakes at every slot boundary t = n tau. It admits the
requests that arrived since the last boundary into their user's FIFO (blocking those
that find it full, expiring those that waited past the timeout), shows the scheduler
the state of the system at that instant (:class:`QueueState`: each core's, RB's and
device's committed work, the waiting requests and their ages) with whatever its
information level allows, and carries the decision out: each served user's oldest
request becomes a SimPy process that holds a core for t_E, its RB for t_T and the
user's device for t_C,

    traffic -> BS FIFO per user -> slot boundary: scheduler(state) -> CPU (cores) ->
    RB (reserved at the decision, busy into later slots) -> device -> record

Resources serve requests in the order decisions are committed
(:mod:`netsim.simulation.reservations`): the cores are a SimPy ``Resource`` of that
capacity (a single core, and every RB and device, is a chain of events: a request
starts when the one committed before it on that resource signals it is done, which
is the same first come, first served with about a third fewer events); the engine's ledger predicts each request's
times with the same rules and SimPy realises them (equal, tested). Requests still
waiting after the last boundary are counted as unserved. Every request lost (blocked,
expired or unserved) costs its user's drop penalty.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import simpy

from netsim.model import channel, transmission
from netsim.model.cost import CellModel, ExpectedStaticOne, SlotMetrics
from netsim.model.world import WorldTrace
from netsim.simulation.air_time import (
    AirTime,
    FadedAirTime,
    NodeAirTime,
    RealisedAirTime,
    median_air_time_s,
)
from netsim.simulation.reservations import Ledger, plan
from netsim.simulation.scheduling import (
    Allocation,
    QueueState,
    Scheduler,
    SchedulingProblem,
    SlotObservation,
    check_allocation,
)
from netsim.simulation.traffic import Traffic

SERVED, BLOCKED, EXPIRED, UNSERVED = 0, 1, 2, 3
INFINITY = float("inf")
OUTCOMES = np.array(["served", "blocked", "expired", "unserved"], dtype=object)
"""Names of the outcome codes, the ``outcome`` column of a DES run's records."""

GATHERED = {
    # record column -> (SlotMetrics field, index pattern: slot in the chunk, user,
    # encoder, RB)
    "snr_db": ("snr", "tuq"),
    "feature_snr_db": ("feature_snr", "tuq"),
    "rate_bps": ("rate_bps", "tuq"),
    "extraction_delay_s": ("extraction_delay_s", "m"),
    "transmission_delay_s": ("transmission_delay_s", "tumq"),
    "total_delay_s": ("total_delay_s", "tumq"),
    "bs_energy_j": ("bs_energy_j", "tumq"),
    "task_loss": ("task_loss", "tumq"),
    "accuracy": ("accuracy", "tumq"),
    "clip_i2i_similarity": ("clip_similarity", "tumq"),
    "eavesdropper_snr_db": ("eavesdropper_snr", "tq"),
    "leakage": ("leakage", "tmq"),
}
"""The record columns read off a chunk's SlotMetrics at each request's decision, by
both engines (``total_delay_s`` is eq. 6's, queueing excluded)."""


def pick_metrics(metrics: SlotMetrics, index: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each decided request's GATHERED values out of a chunk's metric tensors (index:
    arrays ``t``, ``u``, ``m``, ``q`` per request), SNRs in dB."""
    picked = {}
    for column, (name, pattern) in GATHERED.items():
        if getattr(metrics, name) is None:  # no eavesdroppers: no leakage columns
            continue
        values = getattr(metrics, name)[tuple(index[c] for c in pattern)]
        picked[column] = channel.linear_to_db(values) if column.endswith("_db") else values
    return picked


@dataclass(frozen=True)
class Future:
    """What a clairvoyant bound is handed before the run: the whole world and traffic."""

    model: CellModel
    world: WorldTrace
    traffic: Traffic
    drop_penalty: np.ndarray


@dataclass
class LoopResult:
    """One scheduler over one seed: per request (in the traffic's order) its fate, its
    decision, its event times and the realised metrics of its decision."""

    traffic: Traffic
    outcome: np.ndarray
    """(N,) SERVED, BLOCKED, EXPIRED or UNSERVED."""
    slot: np.ndarray
    """(N,) the slot whose boundary served it or registered its loss."""
    encoder: np.ndarray
    rb: np.ndarray
    stamps: np.ndarray
    """(7, N) arrival, cpu start/end, RB start/end, decode start/end, as SimPy ran them
    (NaN where not served)."""
    planned: np.ndarray
    """(6, N) the ledger's prediction of the six service stamps at decision time."""
    left_s: np.ndarray
    """(N,) when the request left the system: end of decoding, or when it was lost."""
    gathered: dict[str, np.ndarray]
    """Realised metrics of each served request (GATHERED's columns, NaN otherwise)."""
    decide_s: list[float] = field(default_factory=list)
    information_s: list[float] = field(default_factory=list)
    bound_cost: float = float("nan")
    """For a clairvoyant bound: the total cost over the run that no causal scheduler can
    beat (its ``bound`` attribute after :meth:`Scheduler.see_future`)."""
    time_in_system_area: float = 0.0
    """Integral over time of the number of requests in the system, from the engine's own
    arrival and departure events (Little's law: equals the sum of sojourn times)."""
    end_s: float = 0.0
    """When the last request left."""


@dataclass
class _StaticBlock:
    """What :meth:`SlotSource.expected_static` computed for the chunk's slots ``first``
    to ``stop`` (offsets in the chunk): t_T's law at the fading nodes, or the RB
    reservations' t_T at the median gain, and the expected timing-free cost (None until
    a scheduler reads it)."""

    first: int
    stop: int
    air: np.ndarray
    static: np.ndarray | None = None


class SlotSource:
    """The per-slot tensors the schedulers see, computed chunk by chunk (vectorised over
    slots) as the clock reaches them."""

    CHUNK_ELEMENTS = 2_000_000

    def __init__(self, model: CellModel, world: WorldTrace, statistical: bool,
                 observation: bool) -> None:
        self.model, self.world = model, world
        self.statistical, self.observation = statistical, observation
        scenario = model.scenario
        per_slot = scenario.users.count * len(scenario.encoders) * scenario.cell.n_rbs
        self.step = max(1, self.CHUNK_ELEMENTS // per_slot)
        self.start = self.stop = -1
        self.information_s: dict[str, float] = {}

    def load(self, slot: int) -> int:
        """Make ``slot``'s chunk current; return the slot's offset in it."""
        if self.start < 0 or not self.start <= slot < self.stop:
            self._compute(slot)
        return slot - self.start

    def _compute(self, slot: int) -> None:
        model, world = self.model, self.world
        self.start, self.stop = slot, min(slot + self.step, world.n_slots)
        part = slice(self.start, self.stop)
        n_slots = self.stop - self.start
        started = time.perf_counter()
        snr = model.snr(world.distance_m[part], world.fading[part], world.interference_w[part])
        self.metrics: SlotMetrics = model.evaluate(snr, world.user_cpu_hz,
                                                   model.eavesdropper_snr(world, part))
        self.static = model.static_cost(self.metrics)
        self.information_s = {"oracle": (time.perf_counter() - started) / n_slots}
        if self.statistical or self.observation:
            self.mean_snr = model.snr(world.distance_m[part], 1.0, world.interference_w[part])
            self.leakage_penalty = model.expected_leakage_penalty(  # once for both uses
                model.eavesdropper_snr(world, part, faded=False))
        if self.statistical:
            started = time.perf_counter()
            self.expected = model.expected_cost(
                world.distance_m[part], world.interference_w[part], world.user_cpu_hz,
                self.leakage_penalty,
            )
            self.information_s["statistical"] = (time.perf_counter() - started) / n_slots
        self._static_block: _StaticBlock | None = None

    def expected_static(self, offset: int, table: bool = True
                        ) -> tuple[AirTime, np.ndarray | None]:
        """What a statistical scheduler knows at the chunk's slot at ``offset``: t_T's law
        (:mod:`netsim.simulation.air_time`; exact, or at the fading nodes) and the
        expected timing-free cost (U, M, Q) (:meth:`CellModel.expected_static_cost`; None
        unless ``table``: a scheduler that prices one request at a time,
        :meth:`expected_static_one`). Computed for a block of slots at once (vectorised),
        kept until the clock leaves it."""
        block = self._static_block
        if block is None or not block.first <= offset < block.stop:
            model = self.model
            scenario = model.scenario
            per_slot = scenario.users.count * len(scenario.encoders) * scenario.cell.n_rbs
            if not self.faded:
                per_slot *= scenario.statistical.fading_quantiles
            stop = min(offset + max(1, self.CHUNK_ELEMENTS // per_slot), self.stop - self.start)
            mean_snr = self.mean_snr[offset:stop]
            # t_T at the fading nodes, or the RB reservations' t_T at the median gain
            air = (median_air_time_s(self.feature_bits, mean_snr, model.gain_law,
                                     scenario.cell.rb_bandwidth_hz) if self.faded
                   else model.air_times_at_nodes_s(mean_snr))
            block = _StaticBlock(offset, stop, air)
            self._static_block = block
        first, stop, air, static = block.first, block.stop, block.air, block.static
        if table and static is None:  # computed for the block when first asked for
            penalty = (None if self.leakage_penalty is None
                       else self.leakage_penalty[first:stop])
            static = self.model.expected_static_cost(self.mean_snr[first:stop],
                                                     self.world.user_cpu_hz, penalty)
            block.static = static
        static = None if static is None else static[offset - first]
        if not self.faded:
            return NodeAirTime(air[:, offset - first]), static
        sc = self.model.scenario
        return (FadedAirTime(self.mean_snr[offset], self.feature_bits, sc.cell.rb_bandwidth_hz,
                             self.model.gain_law, air[offset - first]),
                static)

    @cached_property
    def _static_one(self) -> ExpectedStaticOne | None:
        return self.model.expected_static_one(self.world.user_cpu_hz)

    @property
    def prices_one(self) -> bool:
        """Whether :meth:`expected_static_one` exists for this source (exact Rayleigh
        expectations, :meth:`CellModel.expected_static_one`)."""
        return self._static_one is not None

    def expected_static_one(self, offset: int, users: np.ndarray
                            ) -> Callable[[int, int, int], float]:
        """The expected timing-free cost of one (row, encoder, RB), rows ``users``, at the
        chunk's slot at ``offset``, on Python floats (within 1e-12 of
        :meth:`expected_static`'s table, tested)."""
        one, users = self._static_one, users.tolist()
        mean_snr = self.mean_snr[offset]
        leakage = None if self.leakage_penalty is None else self.leakage_penalty[offset]

        def price(row: int, encoder: int, rb: int) -> float:
            user = users[row]
            return one(user, encoder, float(mean_snr[user, rb]),
                       None if leakage is None else float(leakage[encoder, rb]))
        return price

    @property
    def faded(self) -> bool:
        """Whether a statistical scheduler's delay penalty is integrated exactly over the
        fading law (else at the fading nodes): ``statistical.expectation`` exact (or
        auto), a fading law, and air time that depends on the channel (``paper``)."""
        sc = self.model.scenario
        return (self.model.exact_expectation and sc.cell.fading.model != "none"
                and sc.transmission.mode == "paper")

    @cached_property
    def feature_bits(self) -> np.ndarray:
        """(M,) Z_m of each encoder's features."""
        return transmission.feature_bits(self.model.embed_dim, self.model.scenario.transmission)


class ClosedLoop:
    """One scheduler, one seed: the slot clock and the requests as SimPy processes.

    :param model: the cell's physics (eqs. 1–11)
    :param world: the seed's random world (positions, fading, interference, clocks)
    :param traffic: the seed's requests and their arrival times
    :param scheduler: called at every slot boundary with the queue state
    :param drop_penalty: cost of an unserved request, per user
    :param source: what each slot's problem is built from (shared by schedulers of the
        same information level); made here if None
    :param on_slot: called with each slot's index once it is decided (progress bars)
    """

    def __init__(
        self,
        model: CellModel,
        world: WorldTrace,
        traffic: Traffic,
        scheduler: Scheduler,
        drop_penalty: np.ndarray,
        source: SlotSource | None = None,
        on_slot: Callable[[int], None] | None = None,
    ) -> None:
        if np.any(np.diff(traffic.arrival_s) < 0):
            raise ValueError("the traffic's requests must be sorted by arrival time")
        self.model, self.world, self.traffic = model, world, traffic
        self.scheduler = scheduler
        self.drop_penalty = drop_penalty
        scenario = model.scenario
        self.scenario = scenario
        self.tau = scenario.slot_duration_s
        self.n_users, self.n_rbs = scenario.users.count, scenario.cell.n_rbs
        self.source = source or SlotSource(
            model, world, scheduler.information == "statistical", scheduler.uses_observation
        )
        self.on_slot = on_slot
        self.computing_s = model.computing_delay_s(world.user_cpu_hz)
        self.extraction_s = model.extraction_delay_s
        n = traffic.count
        self.outcome = np.full(n, UNSERVED, dtype=np.int8)
        self.slot = np.full(n, scenario.slots - 1, dtype=np.int64)
        self.encoder = np.full(n, -1, dtype=np.int64)
        self.rb = np.full(n, -1, dtype=np.int64)
        self.stamps = np.full((7, n), np.nan)
        self.stamps[0] = traffic.arrival_s
        self.planned = np.full((6, n), np.nan)
        self.left_s = np.full(n, np.nan)
        self.gathered = {name: np.full(n, np.nan) for name in GATHERED}
        self.fifo: list[deque[int]] = [deque() for _ in range(self.n_users)]
        self.lost = 0
        """Requests blocked or expired so far."""
        self.next_arrival = 0
        self._arrived_by = np.searchsorted(  # requests arrived by each boundary (sorted)
            traffic.arrival_s, np.arange(scenario.slots) * self.tau, side="right")
        self.ledger = Ledger.idle(scenario.base_station.cores, self.n_rbs, self.n_users)
        self.result_timing: tuple[list[float], list[float]] = ([], [])
        self._pending: list[tuple[int, int, int, int, int]] = []
        self._may_leave_waiting = False

    # ---------------------------------------------------------------- running
    def run(self) -> LoopResult:
        """Simulate every slot, the scheduler deciding at each boundary."""
        self.start()
        self.env.run()
        return self.finish()

    def start(self, external: bool = False, realise: bool = True) -> None:
        """Set up the SimPy processes. ``external``: the decisions come from outside
        (the RL environment): at each boundary with requests waiting, the clock stops
        with :attr:`awaiting` set to (problem, users, context: each user's oldest
        request, the slot's offset in the source, the state-building time), and
        :meth:`submit` resumes it; step the simulation with :meth:`advance`.
        ``realise`` False: a served request is not run as a SimPy process; its service
        times are the ledger's, which predicts exactly what the process would do (the
        same rules and floats, tested), for a caller that reads no service time while
        the run goes on (RL training: the agent sees the ledger's queues and is priced
        by it; the slot clock, admissions and losses stay SimPy's)."""
        self.external, self.realise = external, realise
        self.awaiting: tuple[SchedulingProblem, np.ndarray, tuple] | None = None
        self._resume: simpy.Event | None = None
        env = simpy.Environment()
        self.env = env
        self.cpu = simpy.Resource(env, capacity=self.scenario.base_station.cores)
        # an RB and a device serve their requests one at a time in commit order: each
        # request waits for the end of the one committed before it (an event chain)
        done = env.event()
        done.succeed()
        self.rb_free = [done] * self.n_rbs
        self.device_free = [done] * self.n_users
        self.cpu_chain = done if self.scenario.base_station.cores == 1 else None
        env.process(self._clock())

    def advance(self) -> bool:
        """Run the simulation until a decision is awaited (True) or everything is done
        (False)."""
        env = self.env
        while self.awaiting is None and env.peek() != INFINITY:
            env.step()
        return self.awaiting is not None

    def submit(self, allocation: Allocation, may_leave_waiting: bool = False) -> None:
        """Carry out the awaited decision (external mode) and let the clock go on.
        ``may_leave_waiting``: accept fewer users served than RBs allow (an agent's
        invalid action leaves its user waiting; it is penalised, never remapped)."""
        event, self._resume, self.awaiting = self._resume, None, None
        self._may_leave_waiting = may_leave_waiting
        event.succeed(allocation)

    def finish(self) -> LoopResult:
        """The result of a run whose simulation has ended (:meth:`advance` leaves the
        events of an infinite air time unprocessed; run to the end like :meth:`run`,
        they stamp their request at +inf; not while a decision is awaited)."""
        if self.awaiting is None:
            self.env.run()
        self._flush_gathered()
        end_s = (self.scenario.slots - 1) * self.tau
        waiting = self.outcome == UNSERVED
        self.left_s[waiting] = end_s
        arrival = self.traffic.arrival_s
        area = self._area_in_system()
        return LoopResult(
            self.traffic, self.outcome, self.slot, self.encoder, self.rb, self.stamps,
            self.planned, self.left_s, self.gathered, *self.result_timing,
            time_in_system_area=area,
            end_s=float(max(np.nanmax(self.left_s, initial=0.0), arrival.max(initial=0.0))),
        )

    def _clock(self):
        env = self.env
        for slot in range(self.scenario.slots):
            now = slot * self.tau
            if now > env.now:
                yield env.timeout(now - env.now)
            self._admit(slot, now)
            users = np.array([u for u in range(self.n_users) if self.fifo[u]], dtype=np.int64)
            if users.size and self.external:
                problem, context = self._problem(slot, now, users)
                self._resume = env.event()
                self.awaiting = (problem, users, context)
                allocation = yield self._resume
                self._apply(slot, now, users, context, allocation)
            elif users.size:
                self._decide(slot, now, users)
            if self.on_slot is not None:
                self.on_slot(1)

    # ------------------------------------------------------------- admission
    def _lose(self, request: int, outcome: int, slot: int, at_s: float) -> None:
        self.lost += 1
        self.outcome[request] = outcome
        self.slot[request] = slot
        self.left_s[request] = at_s

    def _expire(self, user: int, at_s: float, slot: int) -> None:
        """Remove the user's requests that have waited longer than the timeout by at_s."""
        timeout = self.scenario.users.queue.timeout_s
        fifo, arrival = self.fifo[user], self.traffic.arrival_s
        while fifo and arrival[fifo[0]] + timeout < at_s:
            request = fifo.popleft()
            self._lose(request, EXPIRED, slot, arrival[request] + timeout)

    def _admit(self, slot: int, now: float) -> None:
        """Requests that arrived by ``now`` join their user's FIFO, in arrival order."""
        queue = self.scenario.users.queue
        arrival, user = self.traffic.arrival_s, self.traffic.user
        stop = int(self._arrived_by[slot])
        for request in range(self.next_arrival, stop):
            u = int(user[request])
            if queue.timeout_s is not None:
                self._expire(u, arrival[request], slot)
            if queue.limit is not None and len(self.fifo[u]) >= queue.limit:
                self._lose(request, BLOCKED, slot, arrival[request])
            else:
                self.fifo[u].append(request)
        self.next_arrival = stop
        if queue.timeout_s is not None:
            for u in range(self.n_users):
                self._expire(u, now, slot)

    # -------------------------------------------------------------- deciding
    def _decide(self, slot: int, now: float, users: np.ndarray) -> None:
        problem, context = self._problem(slot, now, users)
        started = time.perf_counter()
        allocation = self.scheduler.decide(problem)
        self.result_timing[0].append(time.perf_counter() - started)
        self.result_timing[1].append(context[2])
        self._apply(slot, now, users, context, allocation)

    def _problem(self, slot: int, now: float, users: np.ndarray
                 ) -> tuple[SchedulingProblem, tuple[np.ndarray, int, float]]:
        """The slot's problem for the waiting ``users``, and what carrying out its
        decision needs (each user's oldest request, the slot's offset in the source, and
        the time building the state took)."""
        source, scheduler = self.source, self.scheduler
        if self._pending and not source.start <= slot < source.stop:
            self._flush_gathered()  # the metrics of the chunk they were served in
        offset = source.load(slot)
        oracle = scheduler.information == "oracle"
        if oracle or source.statistical:
            tensor = source.metrics.cost if oracle else source.expected
            cost = tensor[offset] if users.size == self.n_users else tensor[offset][users]
        else:  # a scheduler that reads no cost, on a source that computes none
            cost = np.full((users.size, len(self.model.encoders), self.n_rbs), np.nan)
        heads = np.array([self.fifo[u][0] for u in users], dtype=np.int64)
        started = time.perf_counter()
        observation = queue = None
        if scheduler.uses_observation:
            world = self.world
            observation = SlotObservation(users, world.distance_m[slot], world.user_cpu_hz,
                                          world.interference_w[slot], source.mean_snr[offset])
        if scheduler.queue_aware:
            queue = self.queue_state(slot, now, users, heads, offset)
        state_s = time.perf_counter() - started
        voluntary = self.scenario.users.voluntary_drop
        problem = SchedulingProblem(cost, self.drop_penalty[users], tuple(self.model.encoders),
                                    voluntary, observation, queue)
        information_s = (source.information_s[scheduler.information]
                         if scheduler.uses_cost else 0.0)
        return problem, (heads, offset, information_s + state_s)

    def _apply(self, slot: int, now: float, users: np.ndarray,
               context: tuple[np.ndarray, int, float], allocation: Allocation) -> None:
        """Check the decision and serve its users' oldest requests in CPU order."""
        heads, offset, _ = context
        voluntary = self.scenario.users.voluntary_drop or self._may_leave_waiting
        check_allocation(allocation, users.size, len(self.model.encoders), self.n_rbs, voluntary)
        if allocation.cpu_order is not None:
            rows = allocation.cpu_order
        else:  # oldest request first, ties by user
            rows = np.flatnonzero(allocation.served)
            rows = rows[np.argsort(self.traffic.arrival_s[heads[rows]], kind="stable")]
        self._carry_out(slot, now, offset, users[rows], heads[rows],
                        allocation.encoder[rows], allocation.rb[rows])

    def queue_state(self, slot: int, now: float, users: np.ndarray, heads: np.ndarray,
                    offset: int, information: str | None = None) -> QueueState:
        """The state a queue-aware scheduler sees at this boundary (its rows: ``users``),
        for the scheduler's information level or the one given."""
        ledger = self.ledger
        static, air_time, static_one = self._knowledge(
            users, offset, information or self.scheduler.information)
        reward = self.scenario.reward
        return QueueState(
            now_s=now, slot=slot, core_free_s=ledger.core_free_s.copy(),
            rb_free_s=ledger.rb_free_s.copy(), device_free_s=ledger.device_free_s[users],
            arrival_s=self.traffic.arrival_s[heads],
            queue_length=np.array([len(self.fifo[u]) for u in users]),
            extraction_s=self.extraction_s, computing_s=self.computing_s[users],
            static_cost=static, air_time=air_time,
            max_delay_s=self.scenario.limits.max_delay_s, lambda_delay=reward.lambda_delay,
            static_one=static_one,
        )

    def seen_as(self, state: QueueState, users: np.ndarray, offset: int,
                information: str) -> QueueState:
        """The same boundary's ``state`` (rows ``users``, at the chunk's slot ``offset``)
        as a scheduler of another information level sees it."""
        static, air_time, static_one = self._knowledge(users, offset, information)
        return state.with_knowledge(static, air_time, static_one)

    def _knowledge(self, users: np.ndarray, offset: int, information: str
                   ) -> tuple[np.ndarray | None, AirTime, Callable | None]:
        """The timing-free cost (rows, M, Q) and what is known of t_T at an information
        level; for a statistical scheduler that prices one request at a time
        (:attr:`Scheduler.reads_static_table` False), no table but the pricer of one
        (:meth:`SlotSource.expected_static_one`) where the source has it."""
        source = self.source
        if information == "oracle":
            return (source.static[offset][users],
                    RealisedAirTime(source.metrics.transmission_delay_s[offset][users]), None)
        one = not self.scheduler.reads_static_table and source.prices_one
        air_time, static = source.expected_static(offset, table=not one)
        if users.size != self.n_users:
            air_time = air_time.take(users)
            static = None if one else static[users]
        return static, air_time, source.expected_static_one(offset, users) if one else None

    # ------------------------------------------------------------- carrying out
    def _carry_out(self, slot, now, offset, users, requests, encoders, rbs) -> None:
        """Serve each user's oldest request, in CPU order, and start its SimPy process
        (or, not realising, stamp it with the ledger's times)."""
        metrics = self.source.metrics
        t_e = self.extraction_s[encoders]
        t_t = metrics.transmission_delay_s[offset][users, encoders, rbs]
        t_c = self.computing_s[users]
        planned = plan(self.ledger, now, t_e, rbs, t_t, users, t_c, commit=True)
        self.outcome[requests] = SERVED  # one request per user: no index repeats
        self.slot[requests] = slot
        self.encoder[requests], self.rb[requests] = encoders, rbs
        times = np.array([planned.cpu_start_s, planned.cpu_end_s, planned.rb_start_s,
                          planned.rb_end_s, planned.decode_start_s, planned.decode_end_s])
        self.planned[:, requests] = times
        if not self.realise:
            self.stamps[1:, requests] = times
            self.left_s[requests] = times[5]
        # per request on Python numbers (the same floats, without numpy's scalar overhead)
        for u, request, m, q, work_e, work_t, work_c in zip(
                users.tolist(), requests.tolist(), encoders.tolist(), rbs.tolist(),
                t_e.tolist(), t_t.tolist(), t_c.tolist()):
            self.fifo[u].popleft()
            self._pending.append((request, offset, u, m, q))
            if self.realise:
                self._start_serving(request, u, q, work_e, work_t, work_c)

    def _start_serving(self, request: int, user: int, rb: int, t_e: float, t_t: float,
                       t_c: float) -> None:
        """Start a served request's SimPy process, after those committed before it."""
        env = self.env
        rb_done, device_done = env.event(), env.event()
        if self.cpu_chain is None:  # several cores: first come, first served
            cpu_turn, cpu_done = self.cpu.request(), None
        else:  # one core: a chain like the RBs'
            cpu_turn, cpu_done = self.cpu_chain, env.event()
            self.cpu_chain = cpu_done
        turns = (cpu_turn, cpu_done, self.rb_free[rb], rb_done, self.device_free[user],
                 device_done)
        self.rb_free[rb], self.device_free[user] = rb_done, device_done
        env.process(self._serve(request, turns, t_e, t_t, t_c))

    def _serve(self, request, turns, t_e, t_t, t_c):
        """One request's path: a core (first come, first served), its RB, its user's
        device; each of the last two is free when the request committed before it on
        that resource is done with it."""
        env, stamps = self.env, self.stamps
        cpu_turn, cpu_done, rb_ready, rb_done, device_ready, device_done = turns
        yield cpu_turn
        stamps[1, request] = env.now
        yield env.timeout(t_e)
        if cpu_done is None:
            self.cpu.release(cpu_turn)
        else:
            cpu_done.succeed()
        stamps[2, request] = env.now
        yield rb_ready
        stamps[3, request] = env.now
        yield env.timeout(t_t)
        rb_done.succeed()
        stamps[4, request] = env.now
        yield device_ready
        stamps[5, request] = env.now
        yield env.timeout(t_c)
        device_done.succeed()
        stamps[6, request] = env.now
        self.left_s[request] = env.now

    def _flush_gathered(self) -> None:
        """Pick the served requests' realised metrics out of the current chunk."""
        if not self._pending:
            return
        request, t, u, m, q = (np.array(c) for c in zip(*self._pending))
        picked = pick_metrics(self.source.metrics, {"t": t, "u": u, "m": m, "q": q})
        for column, values in picked.items():
            self.gathered[column][request] = values
        self._pending = []

    def _area_in_system(self) -> float:
        """Integral of the number of requests in the system over time, from the sorted
        arrival and leaving events (each request leaves when decoded or lost); +inf
        when a request never leaves (an infinite air time), as its sojourn is."""
        arrival = self.traffic.arrival_s
        if np.isposinf(self.left_s).any():
            return math.inf  # not inf - inf = NaN between two requests that never leave
        times = np.concatenate([arrival, self.left_s])
        steps = np.concatenate([np.ones(arrival.size), -np.ones(arrival.size)])
        order = np.lexsort((-steps, times))
        count = np.cumsum(steps[order])
        widths = np.diff(times[order])
        return float(np.sum(count[:-1] * widths))
