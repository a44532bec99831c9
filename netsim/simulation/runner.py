"""Runs a scenario: for every seed, one world trace; for every scheduler, a decision per
slot; then the per-request records, a per-scheduler summary and decision timings.

One engine per delay model: ``analytic`` decides every slot from the world alone and
times requests with eq. 6, vectorised (the fast path); ``des`` runs every scheduler in
the closed loop (:mod:`netsim.simulation.closed_loop`), where waits and carry-over come
from the SimPy simulation.

Two reference schedulers run beside the scenario's own on every slot, and the summary's
gaps are measured against them. Under ``analytic``: the oracle and statistical optima
(Hungarian on the realised and on the expected cost). Under ``des`` those are not
optimal (they do not see queues): the references are the queue-aware per-slot exact
MILP with each information level, labelled as what they are.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from netsim.model import leakage
from netsim.model.cost import CellModel, SlotMetrics
from netsim.model.world import WorldTrace, generate_world
from netsim.scenario import Scenario, SchedulerEntry, scheduler_label
from netsim.simulation.closed_loop import (
    GATHERED,
    OUTCOMES,
    SERVED,
    ClosedLoop,
    Future,
    LoopResult,
    SlotSource,
    pick_metrics,
)
from netsim.simulation.engine import contention_free_timeline
from netsim.simulation.registry import scheduler_class
from netsim.simulation.scheduling import (
    NOT_SERVED,
    Scheduler,
    SchedulerParams,
    SchedulingProblem,
    SlotObservation,
    check_allocation,
)
from netsim.simulation.traffic import generate_traffic
from netsim.statistics import ci95_half_width, jain_index

ORACLE_REFERENCE = "reference:oracle_optimum"
STATISTICAL_REFERENCE = "reference:statistical_optimum"
"""Under ``delay_model: analytic`` the per-slot Hungarian is optimal: the references
are the oracle and statistical optima."""
QUEUE_ORACLE_REFERENCE = "reference:oracle_queue_exact"
QUEUE_STATISTICAL_REFERENCE = "reference:statistical_queue_exact"
"""Under ``delay_model: des`` the references are the queue-aware per-slot MILP
(solvers/exact/queue_milp.py): exact for each slot given the state, not an optimum over
the run (that is the hindsight bound's job), so they are not called optima."""
CHUNK_ELEMENTS = 2_000_000
"""Slots are evaluated in chunks of at most this many (user, encoder, RB) entries."""

TIMESTAMP_COLUMNS = [
    "arrival_s", "cpu_start_s", "cpu_end_s", "rb_start_s", "rb_end_s", "decode_start_s",
    "decode_end_s",
]
"""Event times of a request (s from the start of the run). Under the analytic delay
model they are the contention-free times: each stage starts when the last one ends."""

RECORD_COLUMNS = [
    "scheduler", "seed", "slot", "user", "served", "encoder", "rb", "distance_m",
    "snr_db", "feature_snr_db", "rate_bps", "extraction_delay_s", "transmission_delay_s",
    "computing_delay_s", "queueing_delay_s", "total_delay_s", "bs_energy_j",
    "user_energy_j", "total_energy_j", "delay_violation", "energy_violation",
    "task_loss", "accuracy", "clip_i2i_similarity", "reward",
    *TIMESTAMP_COLUMNS,
]
DES_RECORD_COLUMNS = [*RECORD_COLUMNS, "outcome", "bs_wait_s"]
"""Under ``delay_model: des`` a request also has its outcome (served, blocked, expired,
unserved) and its wait at the BS for a slot that serves it (part of queueing_delay_s)."""
LEAKAGE_COLUMNS = ["eavesdropper_snr_db", "leakage", "leakage_violation"]
"""With eavesdroppers, a served request also has the best-hearing eavesdropper's SNR on
its RB, the task performance it reaches (netsim.model.leakage) and v_L (with
limits.max_leakage; NaN without)."""


def record_columns(scenario: Scenario) -> list[str]:
    """The records' columns for a scenario's delay model and eavesdroppers."""
    columns = DES_RECORD_COLUMNS if scenario.delay_model == "des" else RECORD_COLUMNS
    return [*columns, *LEAKAGE_COLUMNS] if scenario.eavesdroppers.count else list(columns)


def leakage_columns(model: CellModel, cols: dict[str, np.ndarray],
                    served: np.ndarray) -> np.ndarray:
    """Fill the leakage columns of served requests in ``cols`` (NaN otherwise) and return
    their leakage penalty lambda_L v_L (0 without eavesdroppers or a limit)."""
    if not model.scenario.eavesdroppers.count:
        return np.zeros(served.size)
    for name in ("eavesdropper_snr_db", "leakage"):
        cols[name] = np.where(served, cols[name], np.nan)
    if model.scenario.limits.max_leakage is None:
        cols["leakage_violation"] = np.full(served.size, np.nan)
        return np.zeros(served.size)
    cols["leakage_violation"] = np.where(served, leakage.violation(model, cols["leakage"]),
                                         np.nan)
    return np.where(served, leakage.penalty(model, cols["leakage"]), 0.0)


@dataclass
class SchedulerRun:
    """One scheduler over one seed: per request, its decision and the realised metrics
    of that decision, gathered chunk by chunk (the full tensors are not kept)."""

    label: str
    columns: dict[str, list[np.ndarray]] = field(default_factory=dict)
    decide_s: list[float] = field(default_factory=list)
    information_s: list[float] = field(default_factory=list)
    """Per slot: this scheduler's share of computing the cost tensor it sees."""

    def add(self, **arrays: np.ndarray) -> None:
        for name, values in arrays.items():
            self.columns.setdefault(name, []).append(values)

    def column(self, name: str) -> np.ndarray:
        return np.concatenate(self.columns[name])


RECORD_BYTES = 600
"""Memory one request's record takes while a run gathers them (its ~40 columns, the
label strings, and the copy pandas makes when it joins the seeds), bytes."""


def estimated_memory_bytes(scenario: Scenario) -> int:
    """What a run of ``scenario`` will hold in memory at its peak, roughly: every
    request's record for every scheduler (the references included) and seed, plus one
    seed's world trace."""
    users, cell = scenario.users, scenario.cell
    arrivals = users.arrivals
    per_user_slot = (arrivals.probability if arrivals.model == "bernoulli"
                     else arrivals.rate_per_s * scenario.slot_duration_s)
    requests = len(scenario.seeds) * scenario.slots * users.count * per_user_slot
    schedulers = len(scenario.schedulers) + 2
    fading = users.count * (cell.n_rbs if cell.fading.per == "user_rb" else 1)
    world = scenario.slots * (5 * users.count + cell.n_rbs + fading) * 8
    return int(requests * schedulers * RECORD_BYTES + world)


def memory_problem(scenario: Scenario, point: str = "") -> str | None:
    """Why a run of ``scenario`` (a sweep's ``point``, one seed of it) cannot fit in this
    machine's memory (:func:`estimated_memory_bytes` over 80 % of what is available), or
    None."""
    needed, available = estimated_memory_bytes(scenario), available_memory_bytes()
    if available is None or needed <= 0.8 * available:
        return None
    gib = needed / 2**30
    amount = f"{gib:,.1f}" if gib < 1e6 else f"{gib:.2g}"
    what = f"sweep point {point} would" if point else "this run would"
    return (f"{what} hold about {amount} GiB of results in memory, "
            f"{available / 2**30:,.1f} GiB are available: reduce slots, seeds, users or "
            "schedulers" + ("" if point else " (or run it as a sweep over seeds)"))


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class NoRequestsError(ValueError):
    """A run in which no request arrived: there is nothing to record or summarise."""


def slots_text(count: int) -> str:
    """'1 slot', '3 slots'."""
    return f"{count} slot" if count == 1 else f"{count} slots"


@dataclass(frozen=True)
class RunResult:
    records: pd.DataFrame
    summary: pd.DataFrame
    timing: pd.DataFrame


def scheduler_rng(seed: int, label: str) -> np.random.Generator:
    """A scheduler's own generator: depends on the seed and its label, not on order."""
    return np.random.default_rng([seed, zlib.crc32(label.encode())])


def build_scheduler(entry: SchedulerEntry, seed: int, scenario: Scenario) -> Scheduler:
    cls = scheduler_class(entry.type)
    return cls(resolved_params(entry, scenario), scheduler_rng(seed, scheduler_label(entry)))


def resolved_params(entry: SchedulerEntry, scenario: Scenario) -> SchedulerParams:
    """The parameters a scheduler entry runs with: defaults filled in, then resolved
    against the scenario by the scheduler's own ``prepare``."""
    cls = scheduler_class(entry.type)
    return cls.prepare(cls.Params.model_validate(entry.params), scenario)


def same_scheduler(a: SchedulerEntry, b: SchedulerEntry, scenario: Scenario) -> bool:
    """Whether two entries run the same scheduler with the same resolved parameters
    (``{type: hungarian}`` is ``{type: hungarian, information: statistical}``)."""
    return a.type == b.type and resolved_params(a, scenario) == resolved_params(b, scenario)


def reference_entries(delay_model: str = "analytic") -> dict[str, SchedulerEntry]:
    """The two references every run adds, per delay model (their labels say what they
    are: an optimum under the analytic model, a per-slot exact decision under DES)."""
    if delay_model == "des":
        return {
            QUEUE_ORACLE_REFERENCE: SchedulerEntry(type="queue_milp", information="oracle"),
            QUEUE_STATISTICAL_REFERENCE: SchedulerEntry(type="queue_milp",
                                                        information="statistical"),
        }
    return {
        ORACLE_REFERENCE: SchedulerEntry(type="hungarian", information="oracle"),
        STATISTICAL_REFERENCE: SchedulerEntry(type="hungarian", information="statistical"),
    }


def reference_labels(delay_model: str) -> tuple[str, str]:
    """(oracle, statistical) reference labels of a delay model."""
    return tuple(reference_entries(delay_model))  # type: ignore[return-value]


def slot_chunks(scenario: Scenario) -> Iterator[slice]:
    per_slot = scenario.users.count * len(scenario.encoders) * scenario.cell.n_rbs
    step = max(1, CHUNK_ELEMENTS // per_slot)
    for start in range(0, scenario.slots, step):
        yield slice(start, min(start + step, scenario.slots))


def drop_penalties(scenario: Scenario) -> np.ndarray:
    penalty = scenario.users.drop_penalty
    return np.broadcast_to(np.asarray(penalty, dtype=float), (scenario.users.count,)).copy()


def schedule_seed(
    model: CellModel,
    world: WorldTrace,
    schedulers: dict[str, Scheduler],
    on_slots: Callable[[int], None] | None = None,
) -> dict[str, SchedulerRun]:
    """Every scheduler decides every slot of one seed, chunk by chunk; each decision's
    realised metrics are gathered right away, so memory does not grow with the full
    (slots, users, encoders, RBs) tensors."""
    scenario = model.scenario
    penalty = drop_penalties(scenario)
    encoders = tuple(scenario.encoders)
    n_enc, n_rbs = len(encoders), scenario.cell.n_rbs
    runs = {label: SchedulerRun(label) for label in schedulers}
    voluntary = scenario.users.voluntary_drop
    needs_expected = any(s.information == "statistical" for s in schedulers.values())
    needs_observation = any(s.uses_observation for s in schedulers.values())
    for part in slot_chunks(scenario):
        n_slots = part.stop - part.start
        started = time.perf_counter()
        snr = model.snr(world.distance_m[part], world.fading[part], world.interference_w[part])
        metrics = model.evaluate(snr, world.user_cpu_hz, model.eavesdropper_snr(world, part))
        information_s = {"oracle": (time.perf_counter() - started) / n_slots}
        expected = None
        if needs_expected:
            started = time.perf_counter()
            expected = model.expected_cost(
                world.distance_m[part], world.interference_w[part], world.user_cpu_hz,
                model.expected_leakage_penalty(model.eavesdropper_snr(world, part, faded=False)),
            )
            information_s["statistical"] = (time.perf_counter() - started) / n_slots
        mean_snr = (
            model.snr(world.distance_m[part], 1.0, world.interference_w[part])
            if needs_observation
            else None
        )
        for label, scheduler in schedulers.items():
            tensor = metrics.cost if scheduler.information == "oracle" else expected
            run = runs[label]
            decided: dict[str, list[np.ndarray]] = {"slot": [], "user": [], "encoder": [],
                                                    "rb": []}
            for offset, slot in enumerate(range(part.start, part.stop)):
                users = np.flatnonzero(world.active[slot])
                if users.size == 0:
                    continue
                cost = tensor[offset] if users.size == penalty.size else tensor[offset][users]
                observation = None
                if scheduler.uses_observation:
                    observation = SlotObservation(
                        users, world.distance_m[slot], world.user_cpu_hz,
                        world.interference_w[slot], mean_snr[offset],
                    )
                problem = SchedulingProblem(cost, penalty[users], encoders, voluntary,
                                            observation)
                started = time.perf_counter()
                allocation = scheduler.decide(problem)
                run.decide_s.append(time.perf_counter() - started)
                run.information_s.append(
                    information_s[scheduler.information] if scheduler.uses_cost else 0.0
                )
                check_allocation(allocation, users.size, n_enc, n_rbs, voluntary)
                for name, values in (("slot", np.full(users.size, slot)), ("user", users),
                                     ("encoder", allocation.encoder), ("rb", allocation.rb)):
                    decided[name].append(values)
            if decided["slot"]:
                chunk = {name: np.concatenate(values) for name, values in decided.items()}
                run.add(**chunk, **gather_chunk(chunk, metrics, part))
        if on_slots is not None:
            on_slots(n_slots)
    return runs


def gather_chunk(
    decided: dict[str, np.ndarray], metrics: SlotMetrics, part: slice
) -> dict[str, np.ndarray]:
    """Each request's values picked out of one chunk's metric tensors (NaN where the
    user was not served)."""
    slot, rb = decided["slot"], decided["rb"]
    rows = np.flatnonzero(rb != NOT_SERVED)
    index = {"t": slot[rows] - part.start, "u": decided["user"][rows],
             "m": decided["encoder"][rows], "q": rb[rows]}
    gathered = {}
    for column, values in pick_metrics(metrics, index).items():
        gathered[column] = np.full(slot.size, np.nan)
        gathered[column][rows] = values
    return gathered


def request_records(model: CellModel, world: WorldTrace, run: SchedulerRun, seed: int):
    """One row per request of one scheduler and seed under the analytic model (see
    RECORD_COLUMNS): the gathered metrics, then the contention-free times, violations and
    reward. (Under DES the closed loop's :func:`loop_records`.)"""
    scenario = model.scenario
    slot, user, enc, rb = (run.column(c) for c in ("slot", "user", "encoder", "rb"))
    served = rb != NOT_SERVED
    nan = np.full(slot.size, np.nan)
    cols = {column: run.column(column) for column in GATHERED if column in run.columns}
    cols["distance_m"] = world.distance_m[slot, user]
    cols["user_energy_j"] = model.user_energy_j(world.user_cpu_hz)[user]
    cols["computing_delay_s"] = model.computing_delay_s(world.user_cpu_hz)[user]
    cols["queueing_delay_s"] = np.where(served, 0.0, np.nan)
    idx = np.flatnonzero(served)  # sorted by slot, then user
    service = (cols["extraction_delay_s"][idx], cols["transmission_delay_s"][idx],
               cols["computing_delay_s"][idx])
    timeline = contention_free_timeline(slot[idx] * scenario.slot_duration_s, *service)
    for name, values in zip(TIMESTAMP_COLUMNS, timeline.stamps()):
        cols[name] = nan.copy()
        cols[name][idx] = values
    cols["total_energy_j"] = cols["bs_energy_j"] + cols["user_energy_j"]
    cols["delay_violation"] = model.delay_violation(cols["total_delay_s"])
    cols["energy_violation"] = model.energy_violation(cols["total_energy_j"])
    cost = model.penalised_cost(cols["task_loss"], cols["total_delay_s"], cols["total_energy_j"])
    cost = cost + leakage_columns(model, cols, served)
    cols["reward"] = -np.where(served, cost, drop_penalties(scenario)[user])
    for name in ("delay_violation", "energy_violation", "computing_delay_s", "user_energy_j",
                 "total_energy_j"):
        cols[name] = np.where(served, cols[name], np.nan)
    cols["accuracy"] = np.where(served, cols["accuracy"], 0.0)
    cols["clip_i2i_similarity"] = np.where(served, cols["clip_i2i_similarity"], 0.0)
    names = np.array(scenario.encoders + [""], dtype=object)
    frame = pd.DataFrame(
        {
            "scheduler": run.label,
            "seed": seed,
            "slot": slot,
            "user": user,
            "served": served,
            "encoder": names[enc],
            "rb": rb,
            **cols,
        }
    )
    return frame[record_columns(scenario)]


def user_fairness(group: pd.DataFrame, performance: str) -> dict[str, float]:
    """Per user (and seed): the mean reward of its requests and its mean task
    performance (accuracy or CLIP-I similarity, dropped requests count 0). Returns the
    mean and the worst user's reward, and Jain's index of the users' performance, each
    averaged over seeds."""
    per_user = group.groupby(["seed", "user"])[["reward", performance]].mean()
    per_seed = per_user.groupby(level="seed")
    return {
        "mean_user_reward": per_user["reward"].mean(),
        "worst_user_reward": per_seed["reward"].min().mean(),
        "jain_index": per_seed[performance].agg(lambda v: jain_index(v.to_numpy())).mean(),
    }


def summarise(records: pd.DataFrame, scenario: Scenario,
              bound_cost: dict[str, float] | None = None) -> pd.DataFrame:
    """Per scheduler: means over all requests of all seeds, CI over seed means, gaps."""
    limits = scenario.limits
    performance = "accuracy" if scenario.task.kind == "classify" else "clip_i2i_similarity"
    served = records[records["served"]]
    rows = []
    oracle_ref, statistical_ref = reference_labels(scenario.delay_model)
    des = scenario.delay_model == "des"
    reference_cost = {
        label: -records.loc[records["scheduler"] == label, "reward"].mean()
        for label in (oracle_ref, statistical_ref)
    }
    for label, group in records.groupby("scheduler", sort=False):
        mine = served[served["scheduler"] == label]
        per_seed_reward = group.groupby("seed")["reward"].mean().to_numpy()
        mean_cost = -group["reward"].mean()
        rows.append(
            {
                "scheduler": label,
                "requests": len(group),
                "served_fraction": group["served"].mean(),
                "mean_task_loss": mine["task_loss"].mean(),
                "accuracy": group["accuracy"].mean(),
                "clip_i2i_similarity": group["clip_i2i_similarity"].mean(),
                "delay_violation_rate": (mine["total_delay_s"] > limits.max_delay_s).mean(),
                "energy_violation_rate": (mine["total_energy_j"] > limits.max_energy_j).mean(),
                "mean_total_delay_s": mine["total_delay_s"].mean(),
                "mean_queueing_delay_s": mine["queueing_delay_s"].mean(),
                "mean_total_energy_j": mine["total_energy_j"].mean(),
                "mean_reward": -mean_cost,
                "mean_reward_ci95": ci95_half_width(per_seed_reward),
                **user_fairness(group, performance),
                "gap_to_oracle_pct": 100.0 * (mean_cost / reference_cost[oracle_ref] - 1),
                "gap_to_statistical_pct": 100.0
                * (mean_cost / reference_cost[statistical_ref] - 1),
                **{
                    f"share_{name}": (mine["encoder"] == name).sum() / max(len(mine), 1)
                    for name in scenario.encoders
                },
                **(queue_summary(group) if des else {}),
                **(leakage_summary(mine, scenario) if scenario.eavesdroppers.count else {}),
                **bound_columns(mean_cost, records, bound_cost),
            }
        )
    return pd.DataFrame(rows)


def bound_columns(mean_cost: float, records: pd.DataFrame,
                  bound_cost: dict[str, float] | None) -> dict[str, float]:
    """With a hindsight bound in the run: the mean reward per request no causal scheduler
    can beat (its total bound cost over the seeds, per request) and every scheduler's
    gap to it. Nothing without one."""
    if not bound_cost:
        return {}
    label, total = next(iter(bound_cost.items()))
    per_request = total / max(int((records["scheduler"] == label).sum()), 1)
    return {"bound_reward": -per_request,
            "gap_to_bound_pct": 100.0 * (mean_cost / per_request - 1.0)}


def leakage_summary(served: pd.DataFrame, scenario: Scenario) -> dict[str, float]:
    """With eavesdroppers: the served requests' mean leakage and, with a limit, the share
    over it (NaN without limits.max_leakage)."""
    limit = scenario.limits.max_leakage
    over = (served["leakage"] > limit).mean() if limit is not None else float("nan")
    return {"mean_leakage": served["leakage"].mean(), "leakage_violation_rate": over}


def queue_summary(group: pd.DataFrame) -> dict[str, float]:
    """DES only: what became of the requests, and their wait at the BS."""
    outcome = group["outcome"]
    return {
        "blocked_fraction": (outcome == "blocked").mean(),
        "expired_fraction": (outcome == "expired").mean(),
        "unserved_fraction": (outcome == "unserved").mean(),
        "mean_bs_wait_s": group.loc[group["served"], "bs_wait_s"].mean(),
    }


def loop_records(model: CellModel, world: WorldTrace, result: LoopResult, label: str,
                 seed: int) -> pd.DataFrame:
    """One row per request of a closed-loop run (DES_RECORD_COLUMNS): its outcome, its
    decision, its realised metrics and its event times as SimPy ran them; the delay
    counts from arrival, queueing (at the BS, the CPU, the RB and the device) included."""
    scenario = model.scenario
    user, slot, enc, rb = result.traffic.user, result.slot, result.encoder, result.rb
    served = result.outcome == SERVED
    cols = dict(result.gathered)
    stamps = dict(zip(TIMESTAMP_COLUMNS, result.stamps))
    cols.update(stamps)
    cols["distance_m"] = world.distance_m[slot, user]
    cols["computing_delay_s"] = np.where(
        served, model.computing_delay_s(world.user_cpu_hz)[user], np.nan)
    cols["user_energy_j"] = np.where(served, model.user_energy_j(world.user_cpu_hz)[user],
                                     np.nan)
    cols["total_delay_s"] = stamps["decode_end_s"] - stamps["arrival_s"]
    service = (cols["extraction_delay_s"] + cols["transmission_delay_s"]
               + cols["computing_delay_s"])
    cols["queueing_delay_s"] = cols["total_delay_s"] - service
    cols["bs_wait_s"] = np.where(
        served, slot * scenario.slot_duration_s - stamps["arrival_s"], np.nan)
    cols["total_energy_j"] = cols["bs_energy_j"] + cols["user_energy_j"]
    cols["delay_violation"] = model.delay_violation(cols["total_delay_s"])
    cols["energy_violation"] = model.energy_violation(cols["total_energy_j"])
    cost = model.penalised_cost(cols["task_loss"], cols["total_delay_s"], cols["total_energy_j"])
    cost = cost + leakage_columns(model, cols, served)
    cols["reward"] = -np.where(served, cost, drop_penalties(scenario)[user])
    for name in ("delay_violation", "energy_violation"):
        cols[name] = np.where(served, cols[name], np.nan)
    cols["accuracy"] = np.where(served, cols["accuracy"], 0.0)
    cols["clip_i2i_similarity"] = np.where(served, cols["clip_i2i_similarity"], 0.0)
    names = np.array(scenario.encoders + [""], dtype=object)
    frame = pd.DataFrame({
        "scheduler": label, "seed": seed, "slot": slot, "user": user, "served": served,
        "encoder": names[enc], "rb": rb, **cols, "outcome": OUTCOMES[result.outcome],
    })
    return frame[record_columns(scenario)]


def run_closed_loop_seed(
    model: CellModel,
    world: WorldTrace,
    seed: int,
    schedulers: dict[str, Scheduler],
    on_slots: Callable[[int], None] | None = None,
) -> dict[str, LoopResult]:
    """Every scheduler in the closed loop on one seed's world and traffic (the same for
    all: common random numbers)."""
    scenario = model.scenario
    traffic = generate_traffic(scenario, world, seed)
    penalty = drop_penalties(scenario)
    needs_expected = any(s.information == "statistical" for s in schedulers.values())
    needs_observation = any(s.uses_observation for s in schedulers.values())
    source = SlotSource(model, world, needs_expected, needs_observation)
    share = 1.0 / max(len(schedulers), 1)
    results = {}
    for label, scheduler in schedulers.items():
        if scheduler.clairvoyant:
            scheduler.see_future(Future(model, world, traffic, penalty))
        progress = None if on_slots is None else (lambda n: on_slots(n * share))
        loop = ClosedLoop(model, world, traffic, scheduler, penalty, source, progress)
        results[label] = loop.run()
        if scheduler.clairvoyant:
            results[label].bound_cost = float(getattr(scheduler, "bound", float("nan")))
    return results


def run_scenario(
    scenario: Scenario,
    seeds: list[int] | None = None,
    on_slots: Callable[[int], None] | None = None,
) -> RunResult:
    """Run every scheduler of ``scenario`` (plus the two references) on every seed.

    A reference that the scenario already lists (a plain ``hungarian`` of the same
    information level) is not run twice: its records are the listed scheduler's.
    """
    seeds = list(scenario.seeds if seeds is None else seeds)
    model = CellModel.from_scenario(scenario)
    entries = {scheduler_label(e): e for e in scenario.schedulers}
    aliases = {}
    for reference, entry in reference_entries(scenario.delay_model).items():
        twin = next((label for label, e in entries.items()
                     if same_scheduler(e, entry, scenario)), None)
        if twin is None:
            entries[reference] = entry
        else:
            aliases[reference] = twin
    frames, timing_rows = [], []
    bound_cost: dict[str, float] = {}
    for seed in seeds:
        world = generate_world(scenario, seed)
        schedulers = {label: build_scheduler(e, seed, scenario)
                      for label, e in entries.items()}
        if scenario.delay_model == "des":
            runs = run_closed_loop_seed(model, world, seed, schedulers, on_slots)
            seed_frames = {label: loop_records(model, world, run, label, seed)
                           for label, run in runs.items() if run.traffic.count}
        else:
            runs = schedule_seed(model, world, schedulers, on_slots)
            seed_frames = {label: request_records(model, world, run, seed)
                           for label, run in runs.items() if run.columns}
        for reference, twin in aliases.items():
            if twin in seed_frames:
                seed_frames[reference] = seed_frames[twin].assign(scheduler=reference)
        frames.extend(seed_frames.values())
        if scenario.delay_model == "des":
            for label, run in runs.items():
                if np.isfinite(run.bound_cost):
                    bound_cost[label] = bound_cost.get(label, 0.0) + run.bound_cost
        for label, run in runs.items():
            timing_rows.extend(
                {"scheduler": label, "seed": seed, "decide_s": d, "information_s": i}
                for d, i in zip(run.decide_s, run.information_s)
            )
    if not frames:
        raise NoRequestsError("no request arrived in any seed: nothing to summarise "
                              "(raise users.arrivals' probability or rate, or the slots)")
    records = pd.concat(frames, ignore_index=True)
    return RunResult(records, summarise(records, scenario, bound_cost),
                     timing_table(timing_rows, aliases))


def timing_table(rows: list[dict], aliases: dict[str, str]) -> pd.DataFrame:
    """Per scheduler: slots decided; mean time of decide() alone; mean share of building
    the cost tensor it sees (the realised cost for an oracle, the expected cost over
    fading for a statistical scheduler); and their sum, the time per decision."""
    frame = pd.DataFrame(rows, columns=["scheduler", "seed", "decide_s", "information_s"])
    frame["total_s"] = frame["decide_s"] + frame["information_s"]
    table = (
        frame.groupby("scheduler", sort=False)
        .agg(
            decisions=("decide_s", "count"),
            mean_decide_ms=("decide_s", lambda s: 1e3 * s.mean()),
            p95_decide_ms=("decide_s", lambda s: 1e3 * s.quantile(0.95)),
            mean_cost_tensor_ms=("information_s", lambda s: 1e3 * s.mean()),
            mean_decision_ms=("total_s", lambda s: 1e3 * s.mean()),
        )
        .reset_index()
    )
    for reference, twin in aliases.items():
        table = pd.concat([table, table[table["scheduler"] == twin].assign(scheduler=reference)])
    return table.reset_index(drop=True)
