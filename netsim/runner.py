"""Runs a scenario: for every seed, one world trace; for every scheduler, a decision per
slot; then the per-request records, a per-scheduler summary and decision timings.

Two reference schedulers run beside the scenario's own on every slot: the oracle
optimum (Hungarian on the realised cost) and the statistical optimum (Hungarian on the
expected cost); the summary's gaps are measured against them.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from netsim import channel
from netsim.cost import CellModel
from netsim.engine import contention_free_timeline, simulate_requests
from netsim.registry import scheduler_class
from netsim.scenario import Scenario, SchedulerEntry, resolve_profile_path, scheduler_label
from netsim.scheduling import NOT_SERVED, Scheduler, SchedulingProblem, check_allocation
from netsim.taskloss import load_profile
from netsim.world import WorldTrace, generate_world

ORACLE_REFERENCE = "reference:oracle_optimum"
STATISTICAL_REFERENCE = "reference:statistical_optimum"
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


@dataclass
class SchedulerRun:
    """Decisions of one scheduler over one seed: one entry per request."""

    label: str
    slot: list[np.ndarray] = field(default_factory=list)
    user: list[np.ndarray] = field(default_factory=list)
    encoder: list[np.ndarray] = field(default_factory=list)
    rb: list[np.ndarray] = field(default_factory=list)
    decision_s: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    records: pd.DataFrame
    summary: pd.DataFrame
    timing: pd.DataFrame


def scheduler_rng(seed: int, label: str) -> np.random.Generator:
    """A scheduler's own generator: depends on the seed and its label, not on order."""
    return np.random.default_rng([seed, zlib.crc32(label.encode())])


def build_scheduler(entry: SchedulerEntry, seed: int) -> Scheduler:
    cls = scheduler_class(entry.type)
    return cls(cls.Params.model_validate(entry.params), scheduler_rng(seed, scheduler_label(entry)))


def reference_entries() -> dict[str, SchedulerEntry]:
    return {
        ORACLE_REFERENCE: SchedulerEntry(type="hungarian", information="oracle"),
        STATISTICAL_REFERENCE: SchedulerEntry(type="hungarian", information="statistical"),
    }


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
) -> tuple[dict[str, SchedulerRun], list]:
    """Every scheduler decides every slot of one seed; returns decisions and, per chunk,
    the realised metrics needed for the records."""
    scenario = model.scenario
    penalty = drop_penalties(scenario)
    encoders = tuple(scenario.encoders)
    n_enc, n_rbs = len(encoders), scenario.cell.n_rbs
    runs = {label: SchedulerRun(label) for label in schedulers}
    voluntary = scenario.users.voluntary_drop
    needs_expected = any(s.information == "statistical" for s in schedulers.values())
    chunks = []
    for part in slot_chunks(scenario):
        snr = model.snr(world.distance_m[part], world.fading[part], world.interference_w[part])
        metrics = model.evaluate(snr, world.user_cpu_hz)
        expected = (
            model.expected_cost(
                world.distance_m[part], world.interference_w[part], world.user_cpu_hz
            )
            if needs_expected
            else None
        )
        chunks.append((part, metrics))
        for offset, slot in enumerate(range(part.start, part.stop)):
            users = np.flatnonzero(world.active[slot])
            if users.size == 0:
                continue
            all_users = users.size == scenario.users.count
            for label, scheduler in schedulers.items():
                cost = metrics.cost if scheduler.information == "oracle" else expected
                cost = cost[offset] if all_users else cost[offset][users]
                problem = SchedulingProblem(cost, penalty[users], encoders, voluntary)
                started = time.perf_counter()
                allocation = scheduler.decide(problem)
                elapsed = time.perf_counter() - started
                check_allocation(allocation, users.size, n_enc, n_rbs, voluntary)
                run = runs[label]
                run.slot.append(np.full(users.size, slot))
                run.user.append(users)
                run.encoder.append(allocation.encoder)
                run.rb.append(allocation.rb)
                run.decision_s.append(elapsed)
        if on_slots is not None:
            on_slots(part.stop - part.start)
    return runs, chunks


def request_records(
    model: CellModel, world: WorldTrace, run: SchedulerRun, chunks: list, seed: int
) -> pd.DataFrame:
    """One row per request of one scheduler and seed (see RECORD_COLUMNS)."""
    scenario = model.scenario
    slot = np.concatenate(run.slot)
    user = np.concatenate(run.user)
    enc = np.concatenate(run.encoder)
    rb = np.concatenate(run.rb)
    served = rb != NOT_SERVED
    n = slot.size
    nan = np.full(n, np.nan)
    cols = {name: nan.copy() for name in RECORD_COLUMNS[7:]}
    cols["distance_m"] = world.distance_m[slot, user]
    cols["user_energy_j"] = model.user_energy_j(world.user_cpu_hz)[user]
    cols["computing_delay_s"] = model.computing_delay_s(world.user_cpu_hz)[user]
    for part, metrics in chunks:
        rows = np.flatnonzero(served & (slot >= part.start) & (slot < part.stop))
        t, u, m, q = slot[rows] - part.start, user[rows], enc[rows], rb[rows]
        cols["snr_db"][rows] = channel.linear_to_db(metrics.snr[t, u, q])
        cols["feature_snr_db"][rows] = channel.linear_to_db(metrics.feature_snr[t, u, q])
        cols["rate_bps"][rows] = metrics.rate_bps[t, u, q]
        cols["extraction_delay_s"][rows] = metrics.extraction_delay_s[m]
        cols["transmission_delay_s"][rows] = metrics.transmission_delay_s[t, u, m, q]
        cols["total_delay_s"][rows] = metrics.total_delay_s[t, u, m, q]
        cols["bs_energy_j"][rows] = metrics.bs_energy_j[t, u, m, q]
        cols["task_loss"][rows] = metrics.task_loss[t, u, m, q]
        cols["accuracy"][rows] = metrics.accuracy[t, u, m, q]
        cols["clip_i2i_similarity"][rows] = metrics.clip_similarity[t, u, m, q]
    cols["queueing_delay_s"] = np.where(served, 0.0, np.nan)
    idx = np.flatnonzero(served)  # sorted by slot, then user
    service = (cols["extraction_delay_s"][idx], cols["transmission_delay_s"][idx],
               cols["computing_delay_s"][idx])
    if scenario.delay_model == "des":
        timeline = simulate_requests(
            slot[idx] * scenario.slot_duration_s, user[idx], rb[idx], *service,
            scenario.users.count, scenario.cell.n_rbs, scenario.base_station.cores,
        )
        cols["queueing_delay_s"][idx] = timeline.queueing_delay_s
        cols["total_delay_s"][idx] = cols["total_delay_s"][idx] + timeline.queueing_delay_s
    else:
        timeline = contention_free_timeline(slot[idx] * scenario.slot_duration_s, *service)
    for name, values in zip(TIMESTAMP_COLUMNS, timeline.stamps()):
        cols[name] = nan.copy()
        cols[name][idx] = values
    cols["total_energy_j"] = cols["bs_energy_j"] + cols["user_energy_j"]
    cols["delay_violation"] = model.delay_violation(cols["total_delay_s"])
    cols["energy_violation"] = model.energy_violation(cols["total_energy_j"])
    cost = model.penalised_cost(cols["task_loss"], cols["total_delay_s"], cols["total_energy_j"])
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
    return frame[RECORD_COLUMNS]


def _ci95(values: np.ndarray) -> float:
    """Half-width of the 95 % Student-t interval of the mean over seeds (0 for one seed)."""
    if len(values) < 2:
        return 0.0
    return float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values)))


def summarise(records: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Per scheduler: means over all requests of all seeds, CI over seed means, gaps."""
    limits = scenario.limits
    served = records[records["served"]]
    rows = []
    reference_cost = {
        label: -records.loc[records["scheduler"] == label, "reward"].mean()
        for label in (ORACLE_REFERENCE, STATISTICAL_REFERENCE)
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
                "mean_reward_ci95": _ci95(per_seed_reward),
                "gap_to_oracle_pct": 100.0 * (mean_cost / reference_cost[ORACLE_REFERENCE] - 1),
                "gap_to_statistical_pct": 100.0
                * (mean_cost / reference_cost[STATISTICAL_REFERENCE] - 1),
                **{
                    f"share_{name}": (mine["encoder"] == name).sum() / max(len(mine), 1)
                    for name in scenario.encoders
                },
            }
        )
    return pd.DataFrame(rows)


def run_scenario(
    scenario: Scenario,
    seeds: list[int] | None = None,
    on_slots: Callable[[int], None] | None = None,
) -> RunResult:
    """Run every scheduler of ``scenario`` (plus the two references) on every seed."""
    seeds = list(scenario.seeds if seeds is None else seeds)
    model = CellModel(scenario, load_profile(resolve_profile_path(scenario)))
    entries = {scheduler_label(e): e for e in scenario.schedulers}
    entries.update(reference_entries())
    frames, timing_rows = [], []
    for seed in seeds:
        world = generate_world(scenario, seed)
        schedulers = {label: build_scheduler(e, seed) for label, e in entries.items()}
        runs, chunks = schedule_seed(model, world, schedulers, on_slots)
        for label, run in runs.items():
            if run.slot:
                frames.append(request_records(model, world, run, chunks, seed))
            timing_rows.extend(
                {"scheduler": label, "seed": seed, "decision_s": s} for s in run.decision_s
            )
    records = pd.concat(frames, ignore_index=True)
    timing = (
        pd.DataFrame(timing_rows)
        .groupby("scheduler", sort=False)["decision_s"]
        .agg(
            decisions="count",
            mean_decision_ms=lambda s: 1e3 * s.mean(),
            p95_decision_ms=lambda s: 1e3 * s.quantile(0.95),
        )
        .reset_index()
    )
    return RunResult(records, summarise(records, scenario), timing)
