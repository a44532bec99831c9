"""How a slot's decision occupies the BS cores, the RBs and the devices (DESIGN §2).

Every resource serves requests in the order decisions are committed:

* the BS processor has ``cores`` identical servers; the slot's extractions take them in
  the decision's CPU order, each on the core that frees first (first come, first
  served, like a SimPy ``Resource`` of that capacity);
* an RB is reserved when the decision is made: a transmission starts when its
  extraction ends and the RB's earlier transmissions are over;
* a device decodes its requests one after another, in the order they were sent.

So, for request i in CPU order, with ``core`` the earliest-free core:

    cpu_start = max(now, core_free)          cpu_end = cpu_start + t_E
    rb_start  = max(cpu_end, rb_free[q])     rb_end  = rb_start + t_T
    dec_start = max(rb_end, device_free[u])  dec_end = dec_start + t_C

:func:`plan` is that recursion: the engine keeps its ledger with it (and SimPy then
realises the same times, tested), the queue-aware schedulers and the hindsight bound
time their candidate decisions with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Ledger:
    """When each resource finishes the work committed so far (absolute times, s)."""

    core_free_s: np.ndarray
    """(cores,)"""
    rb_free_s: np.ndarray
    """(Q,)"""
    device_free_s: np.ndarray
    """(U,) every user of the cell."""

    @classmethod
    def idle(cls, cores: int, n_rbs: int, n_users: int) -> Ledger:
        return cls(np.zeros(cores), np.zeros(n_rbs), np.zeros(n_users))

    def copy(self) -> Ledger:
        return Ledger(self.core_free_s.copy(), self.rb_free_s.copy(), self.device_free_s.copy())


@dataclass(frozen=True)
class PlannedTimes:
    """Per request, in the order given to :func:`plan`: the six service timestamps, s."""

    cpu_start_s: np.ndarray
    cpu_end_s: np.ndarray
    rb_start_s: np.ndarray
    rb_end_s: np.ndarray
    decode_start_s: np.ndarray
    decode_end_s: np.ndarray


def plan(
    ledger: Ledger,
    now_s: float,
    extraction_s: np.ndarray,
    rb: np.ndarray,
    transmission_s: np.ndarray,
    device: np.ndarray,
    computing_s: np.ndarray,
    commit: bool = False,
) -> PlannedTimes:
    """Times of requests committed at ``now_s`` in the given order (CPU order); the
    arrays are per request. With ``commit`` the ledger is updated in place."""
    # each request depends on the ones before it: a loop, on Python floats (the same
    # IEEE arithmetic as numpy's, without its per-element overhead)
    cores = ledger.core_free_s.tolist()
    rb_free, device_free = ledger.rb_free_s.tolist(), ledger.device_free_s.tolist()
    rows = []
    for t_e, q, t_t, u, t_c in zip(np.asarray(extraction_s).tolist(), np.asarray(rb).tolist(),
                                   np.asarray(transmission_s).tolist(),
                                   np.asarray(device).tolist(), np.asarray(computing_s).tolist()):
        core, times = reserve(cores, rb_free, device_free, now_s, t_e, q, t_t, u, t_c)
        rows.append(times)
        if commit:  # the three entries this request changed (floats round-trip exactly)
            ledger.core_free_s[core] = times[1]
            ledger.rb_free_s[q] = times[3]
            ledger.device_free_s[u] = times[5]
    times = np.array(rows, dtype=float).reshape(-1, 6).T
    return PlannedTimes(*times)


def reserve(cores: list[float], rb_free: list[float], device_free: list[float], now_s: float,
            t_e: float, q: int, t_t: float, u: int, t_c: float
            ) -> tuple[int, tuple[float, float, float, float, float, float]]:
    """One request of the recursion (module docstring) on Python floats: the core it
    takes (the earliest-free, the first on ties) and its six service times; the free
    times of the cores, RBs and devices (lists) are updated."""
    core = cores.index(min(cores))
    cpu_start = max(now_s, cores[core])
    cpu_end = cpu_start + t_e
    cores[core] = cpu_end
    rb_start = max(cpu_end, rb_free[q])
    rb_end = rb_start + t_t
    rb_free[q] = rb_end
    decode_start = max(rb_end, device_free[u])
    decode_end = decode_start + t_c
    device_free[u] = decode_end
    return core, (cpu_start, cpu_end, rb_start, rb_end, decode_start, decode_end)


def list_schedule_ends(core_free_s: np.ndarray, now_s: float, extraction_s: np.ndarray):
    """CPU end time of each job taken in the given order on the earliest-free core."""
    cores = np.maximum(np.asarray(core_free_s, dtype=float), now_s)
    ends = np.empty(len(extraction_s))
    for i, work in enumerate(extraction_s):
        core = int(np.argmin(cores))
        cores[core] += work
        ends[i] = cores[core]
    return ends
