"""The open-loop discrete-event view: decisions made beforehand, timed with SimPy.

Each request enters at its given time (its slot's boundary) and goes

    BS CPU (``cores`` servers, FIFO)  ->  its RB (one at a time)  ->  user device

holding each for its service time t_E, t_T, t_C. Like the closed loop
(:mod:`netsim.simulation.closed_loop`), resources serve requests in the order they
entered (:mod:`netsim.simulation.reservations`): the RB and the device are reserved
when the request enters, the CPU is first come, first served. A request still on the
air when the next slot starts keeps its RB busy, so contention carries over slots.
Without contention every wait is exactly 0.0 and the delay equals paper eq. 6 bit for
bit. The closed loop gives the same timeline for the same decisions (tested); this
function is the replay of a fixed decision list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy


@dataclass(frozen=True)
class RequestTimeline:
    """Per request (same order as the input): timestamps in s and the waits they imply."""

    arrival_s: np.ndarray
    cpu_start_s: np.ndarray
    cpu_end_s: np.ndarray
    rb_start_s: np.ndarray
    rb_end_s: np.ndarray
    decode_start_s: np.ndarray
    decode_end_s: np.ndarray

    def stamps(self) -> tuple[np.ndarray, ...]:
        """The seven timestamps, in the order of the fields."""
        return (self.arrival_s, self.cpu_start_s, self.cpu_end_s, self.rb_start_s,
                self.rb_end_s, self.decode_start_s, self.decode_end_s)

    @property
    def queueing_delay_s(self) -> np.ndarray:
        """Time spent waiting for the CPU, the RB and the device, summed."""
        return (
            (self.cpu_start_s - self.arrival_s)
            + (self.rb_start_s - self.cpu_end_s)
            + (self.decode_start_s - self.rb_end_s)
        )


def contention_free_timeline(
    arrival_s: np.ndarray, extraction_s: np.ndarray, transmission_s: np.ndarray,
    computing_s: np.ndarray,
) -> RequestTimeline:
    """The timestamps of the analytic model (eq. 6): every stage starts when the last ends."""
    cpu_end = arrival_s + extraction_s
    rb_end = cpu_end + transmission_s
    return RequestTimeline(arrival_s, arrival_s, cpu_end, cpu_end, rb_end, rb_end,
                           rb_end + computing_s)


def simulate_requests(
    arrival_s: np.ndarray,
    user: np.ndarray,
    rb: np.ndarray,
    extraction_s: np.ndarray,
    transmission_s: np.ndarray,
    computing_s: np.ndarray,
    n_users: int,
    n_rbs: int,
    cpu_cores: int,
) -> RequestTimeline:
    """Run the SimPy model over all requests; inputs are per-request arrays sorted by
    arrival time (ties are served in input order)."""
    n = len(arrival_s)
    stamps = np.zeros((7, n))
    env = simpy.Environment()
    cpu = simpy.Resource(env, capacity=cpu_cores)
    rbs = [simpy.Resource(env, capacity=1) for _ in range(n_rbs)]
    devices = [simpy.Resource(env, capacity=1) for _ in range(n_users)]

    def request(i: int, cpu_turn, rb_turn, device_turn):
        stamps[0, i] = env.now
        yield cpu_turn
        stamps[1, i] = env.now
        yield env.timeout(extraction_s[i])
        cpu.release(cpu_turn)
        stamps[2, i] = env.now
        yield rb_turn
        stamps[3, i] = env.now
        yield env.timeout(transmission_s[i])
        rbs[rb[i]].release(rb_turn)
        stamps[4, i] = env.now
        yield device_turn
        stamps[5, i] = env.now
        yield env.timeout(computing_s[i])
        devices[user[i]].release(device_turn)
        stamps[6, i] = env.now

    def source():
        for i in range(n):
            if arrival_s[i] > env.now:
                yield env.timeout(arrival_s[i] - env.now)
            turns = (cpu.request(), rbs[rb[i]].request(), devices[user[i]].request())
            env.process(request(i, *turns))

    env.process(source())
    env.run()
    return RequestTimeline(*stamps)
