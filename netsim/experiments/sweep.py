"""Sweeps (``netsim sweep``, and ``netsim run`` on a file with a ``sweep:``): every point
of the scenario's sweep (:func:`netsim.loading.sweep_points`), once per seed, run in
parallel — local processes by default, or tasks on a Ray cluster — then aggregated.

A job is one (point, seed). Its folder under the sweep folder is named by its values
(:func:`netsim.simulation.output.point_folder`, e.g. ``users.count=8,seed=0``) and holds what
``netsim run`` writes (``records.csv``, ``summary.csv``, ``timing.csv``,
``scenario.yaml``), for a train sweep also ``train/`` (the training folder of
``netsim train``, checkpoints left out) and ``training_time.csv``, for a profile sweep
``profile.csv`` (measured by ``netsim profile``; the point's run reads it). A worker computes
in a private temporary folder and returns the files; the driver writes them, then
``done.json`` last, atomically. A job is finished only when its ``done.json`` exists
and names the job's exact scenario (a hash of it), so a re-run skips finished jobs, a
job killed mid-run is redone from scratch, and a changed scenario reruns its points.

Sweep folder, written once every job is finished:
    sweep_summary.csv   every job's summary rows, the swept values and the seed first
    aggregate.csv       per point and scheduler: seeds, then every metric's mean over
                        seeds and its 95 % Student-t half-width (METRIC_ci95)
    sweep_timing.csv    the same over timing.csv and training_time.csv (wall clock:
                        differs from run to run, unlike the two files above)
    profile_aggregate.csv  profile sweeps: per point, encoder and SNR, the profile's
                        accuracy, cross-entropy, CLIP-I similarity over seeds (mean, CI)
    scenario.yaml       the resolved sweep scenario
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from netsim.errors import ScenarioError
from netsim.experiments.tables import PROFILE_ROWS
from netsim.io import atomic_write_bytes, atomic_write_text, remove_tree
from netsim.loading import parse_scenario, sweep_points
from netsim.model.taskloss import portable_profile, resolve_profile_path
from netsim.ownership import claim_folder
from netsim.scenario import (
    PROFILE_OPTION,
    Scenario,
    Sweep,
    scenario_data,
    scheduler_label,
    training_seed_problem,
)
from netsim.semantic import PROFILE_OPTIONS
from netsim.simulation.output import (
    PROFILE_COPY,
    csv_text,
    point_folder,
    run_files,
    with_model_paths_for,
    write_resolved_scenario,
)
from netsim.simulation.runner import NoRequestsError, memory_problem, run_scenario
from netsim.statistics import ci95_half_width
from netsim.table_files import read_table, table_file
from netsim.verbosity import NetsimWarning, is_verbose

DONE = "done.json"
"""A job's completion marker, written last."""
NO_REQUEST = "no_request.txt"
"""What a point's seed in which nobody asks holds instead of its tables (netsim run
passes over such a seed; the aggregates pass over it too)."""
SKIPPED_TRAIN_FILES = ("train/checkpoints/",)
"""Not copied into a sweep: checkpoints serve `netsim train --resume`, not a sweep."""
BACKENDS = ("local", "ray")
PROFILE_FIXED = ("out", "seed", "progress")
"""Options of netsim profile that a profile sweep sets itself."""


@dataclass(frozen=True)
class Job:
    """One point of a sweep at one seed, as plain data (it travels to other processes)."""

    values: dict[str, Any]
    """The swept keys' values, then ``seed``."""
    data: dict[str, Any]
    """The point's resolved scenario, with ``seeds: [seed]``."""
    source: str
    base_dir: str | None
    kind: str
    algo: str
    options: dict[str, Any] = field(default_factory=dict)
    """Profile sweeps: the options of netsim profile for this point."""
    table_format: str = "csv"
    """How the point's records, summary and timing are written (netsim.table_files)."""
    profile_sha256: str | None = None
    """SHA-256 of the scenario's own profile CSV (None for the shipped one): a point
    whose profile file was edited since it finished is redone, as one whose scenario was."""

    @property
    def folder(self) -> str:
        return point_folder(self.values)

    @property
    def seed(self) -> int:
        return int(self.values["seed"])

    @property
    def fingerprint(self) -> str:
        identity = [self.kind, self.algo, self.options, self.data]
        if self.table_format != "csv":  # a CSV sweep's points keep their earlier fingerprint
            identity.append(self.table_format)
        if self.profile_sha256 is not None:
            identity.append(self.profile_sha256)
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class SweepOutcome:
    jobs: list[Job]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Folder -> one-line error, for jobs that raised."""
    aggregate: pd.DataFrame | None = None
    keys: list[str] = field(default_factory=list)
    without_requests: list[str] = field(default_factory=list)
    """Folders of points' seeds in which no request arrived (passed over)."""


def sweep_jobs(scenario: Scenario, source: str, table_format: str = "csv") -> list[Job]:
    """Every (point, seed) of the scenario's sweep, in order, each writing its tables in
    ``table_format``; validates every point, and refuses one whose run (one seed, what a
    worker holds) cannot fit in this machine's memory."""
    sweep = scenario.sweep
    if sweep.kind == "train" and sweep.algo in map(scheduler_label, scenario.schedulers):
        raise ScenarioError(source, "sweep.algo",
                            f"a scheduler is labelled {sweep.algo!r}, the trained agent's label")
    jobs = []
    base_dir = str(scenario.source_dir) if scenario.source_dir is not None else None
    for values, point in sweep_points(scenario, source):
        problem = memory_problem(point.model_copy(update={"seeds": point.seeds[:1]}),
                                 point_folder(values))
        if problem is not None:
            raise ScenarioError(source, "", problem)
        options = profile_options(sweep, values, source) if sweep.kind == "profile" else {}
        profile = (None if point.profile == "default" or sweep.kind == "profile" else
                   hashlib.sha256(resolve_profile_path(point).read_bytes()).hexdigest())
        for seed in point.seeds:
            if sweep.kind == "train" and (problem := training_seed_problem(seed)) is not None:
                raise ScenarioError(source, "seeds", problem)
            data = scenario_data(point.model_copy(update={"seeds": [seed]}))
            jobs.append(Job({**values, "seed": seed}, data, source, base_dir, sweep.kind,
                            sweep.algo, options, table_format, profile))
    folders = [job.folder for job in jobs]
    clash = next((f for f in folders if folders.count(f) > 1), None)
    if clash is not None:
        raise ScenarioError(source, "sweep", f"two points share the folder {clash!r}")
    return jobs


def profile_options(sweep: Sweep, values: dict[str, Any], source: str) -> dict[str, Any]:
    """The netsim profile options of one point: the sweep's ``options`` and the point's
    ``options.NAME`` values; each name must be an option of the command."""
    known = set(PROFILE_OPTIONS) - set(PROFILE_FIXED)
    options = dict(sweep.options)
    options.update({k.removeprefix(PROFILE_OPTION): v for k, v in values.items()
                    if k.startswith(PROFILE_OPTION)})
    for key in options:
        if key not in known:
            raise ScenarioError(source, f"sweep.options.{key}",
                                f"not an option of netsim profile (known: {', '.join(sorted(known))})")
    return options


def profile_arguments(options: dict[str, Any]) -> list[str]:
    """``netsim profile`` command-line arguments for OPTIONS (a list is comma-joined)."""
    arguments = []
    for key, value in options.items():
        flag = key.replace("_", "-")
        if isinstance(value, bool):
            arguments.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            arguments += [f"--{flag}", text]
    return arguments


# ---------------------------------------------------------------------- one job
WORK = ".work"
"""Hidden folder of a sweep's output where local jobs that write files first (trainings,
profilings: :data:`FOLDER_KINDS`) run; what a killed job leaves there is removed by the
next sweep into the same folder."""


FOLDER_KINDS = ("train", "profile")
"""Jobs that write into a folder of their own before their run (the agent, the profile)."""


def execute_job(job: Job, work_root: str | None = None) -> dict[str, bytes]:
    """Run one job; return its files (relative path -> bytes, by path): the run's, made
    in memory (:func:`run_files`), and for a training or profiling job what it wrote in
    a temporary folder (under ``work_root`` if given, else the system's temporary
    folder), where its agent or profile is read from during the run."""
    base_dir = Path(job.base_dir) if job.base_dir is not None else None
    scenario = parse_scenario(job.data, job.source, base_dir)
    if job.kind not in FOLDER_KINDS:
        return _by_path(_run_files(scenario, job))
    with tempfile.TemporaryDirectory(prefix="netsim-point-", dir=work_root) as temp:
        folder = Path(temp)
        if job.kind == "train":
            scenario = train_point(scenario, job, folder)
        else:
            scenario = measure_point(scenario, job, folder)
        files = _run_files(scenario, job, folder)
        written = {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in folder.rglob("*")
            if path.is_file()
            and not path.relative_to(folder).as_posix().startswith(SKIPPED_TRAIN_FILES)
        }
        return _by_path(written | files)


def _run_files(scenario: Scenario, job: Job, folder: Path | None = None) -> dict[str, bytes]:
    """The files of the job's run (:func:`run_files`; ``folder``: the job's own, which
    becomes the point's), or, if nobody asks in its seed, :data:`NO_REQUEST` saying so."""
    try:
        result = run_scenario(scenario, [job.seed])
    except NoRequestsError as error:
        return {NO_REQUEST: f"{error}\n".encode()}
    return run_files(scenario, result, job.table_format, folder)


def _by_path(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` in the order of their paths (as sorted ``Path`` objects: part by
    part), the order the driver stores them in."""
    return dict(sorted(files.items(), key=lambda item: PurePosixPath(item[0]).parts))


def train_point(scenario: Scenario, job: Job, folder: Path) -> Scenario:
    """Train the sweep's agent into FOLDER/train at the job's seed (with
    rl.torch_threads; the job's run after it at one torch thread, so results do not
    depend on the worker); return the scenario with the trained agent added to its
    schedulers (model_path relative to the point folder)."""
    import torch

    from netsim.simulation.registry import rl_entry

    torch.set_num_threads(1)
    started = time.perf_counter()
    with warnings.catch_warnings():  # the driver said it once for all points (warn_once)
        warnings.simplefilter("ignore", NetsimWarning)
        rl_entry("train")(scenario, job.algo, folder / "train", seed=job.seed, progress=False)
    wall_s = time.perf_counter() - started
    timing = pd.DataFrame([{"scheduler": f"train:{job.algo}", "train_steps":
                            scenario.rl.total_steps, "train_wall_s": wall_s}])
    atomic_write_text(folder / "training_time.csv", csv_text(timing))
    data = scenario_data(with_model_paths_for(scenario, None))  # read from the point folder
    data["profile"] = portable_profile(scenario)
    data["schedulers"].append(
        {"type": "rl", "algo": job.algo, "model_path": "train/model.zip", "label": job.algo}
    )
    return parse_scenario(data, job.source, folder)


def measure_point(scenario: Scenario, job: Job, folder: Path) -> Scenario:
    """Measure FOLDER/profile.csv with ``netsim profile`` (its own process, the job's
    options and seed); return the scenario reading that profile."""
    path = folder / PROFILE_COPY
    command = [sys.executable, "-m", "netsim", "profile", "--out", str(path),
               "--seed", str(job.seed), "--no-progress", *profile_arguments(job.options)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"netsim profile exited with {done.returncode}")
    data = scenario_data(with_model_paths_for(scenario, None))  # read from the point folder
    data["profile"] = str(path)
    return parse_scenario(data, job.source, folder)


def is_finished(out_dir: Path, job: Job) -> bool:
    """The job's done.json exists, is for this very job, and every file it lists is
    there with the bytes it had when the job finished (a damaged point is redone)."""
    folder = out_dir / job.folder
    try:
        marker = json.loads((folder / DONE).read_text())
        if marker["fingerprint"] != job.fingerprint:
            return False
        return all(hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
                   for name, digest in marker["files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def store(out_dir: Path, job: Job, files: dict[str, bytes]) -> None:
    """Replace the job's folder by its files, then write the completion marker."""
    folder = out_dir / job.folder
    if folder.exists():
        shutil.rmtree(folder)  # a stale or partial attempt
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
    marker = {"values": job.values, "fingerprint": job.fingerprint,
              "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
    atomic_write_text(folder / DONE, json.dumps(marker, sort_keys=True, default=str) + "\n")


# ------------------------------------------------------------------ backends
OnResult = Callable[[Job, dict[str, bytes] | None, BaseException | None], None]


def die_with_parent(parent_pid: int) -> None:
    """Worker initialiser: the kernel kills this worker when the driver dies, however it
    dies (Linux prctl PR_SET_PDEATHSIG; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the driver died before the line above
        os._exit(1)


BREAKS_BEFORE_ALONE = 2
"""Worker-pool breaks a job lives through (rerun in a fresh pool) before it runs alone,
in a pool of its own, where a break can only be its own."""


class WorkerDied(RuntimeError):
    """The worker process running a job died (killed by a signal, out of memory)."""


def map_local(jobs: list[Job], workers: int, on_result: OnResult,
              work_root: str | None = None,
              execute: Callable[[Job, str | None], dict[str, bytes]] = execute_job) -> None:
    """Run jobs (``execute``: a module-level function, run in the workers) in this
    process (workers = 1) or in a pool of fresh processes. A worker that dies (killed,
    out of memory) breaks its pool: the jobs the pool had not finished run again in a
    fresh one, and a job that has lived through BREAKS_BEFORE_ALONE breaks runs alone,
    failing (WorkerDied) only if its own process dies."""
    if workers == 1:
        for job in jobs:
            try:
                files = execute(job, work_root)
            except Exception as error:  # a failing point must not stop the others
                on_result(job, None, error)
            else:
                on_result(job, files, None)
        return
    breaks = dict.fromkeys(range(len(jobs)), 0)
    waiting = list(range(len(jobs)))
    while waiting:
        shared = [i for i in waiting if breaks[i] < BREAKS_BEFORE_ALONE]
        alone = [[i] for i in waiting if breaks[i] >= BREAKS_BEFORE_ALONE]
        groups = ([shared] if shared else []) + alone
        waiting = []
        for group in groups:
            for i in _pool_round([jobs[i] for i in group], min(workers, len(group)),
                                 on_result, work_root, execute):
                index = group[i]
                if len(group) == 1 and breaks[index] >= BREAKS_BEFORE_ALONE:
                    on_result(jobs[index], None, WorkerDied(
                        "the worker process running this point died (killed by a signal, "
                        "or out of memory?)"))
                else:
                    breaks[index] += 1
                    waiting.append(index)


def _pool_round(jobs: list[Job], workers: int, on_result: OnResult, work_root: str | None,
                execute: Callable[[Job, str | None], dict[str, bytes]]) -> list[int]:
    """Run ``jobs`` in a fresh pool of ``workers`` processes; return the indices of those
    left unfinished because a worker died (the pool broke)."""
    broken = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(execute, job, work_root): i for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    broken.append(futures[future])
                    continue
                on_result(jobs[futures[future]], None if error else future.result(), error)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return sorted(broken)


def map_ray(jobs: list[Job], workers: int, address: str | None, on_result: OnResult) -> None:
    """Run jobs as Ray tasks (one CPU each). Uses the running Ray session if there is
    one; else connects to ADDRESS, or starts a local one with WORKERS CPUs on
    127.0.0.1 (no dashboard, no usage reporting) and shuts it down afterwards."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    own = not ray.is_initialized()
    quiet = {} if is_verbose() else {"logging_level": logging.ERROR}  # no start-up lines
    if own and address:
        ray.init(address=address, log_to_driver=is_verbose(), **quiet)
    elif own:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=is_verbose(),
                 _node_ip_address="127.0.0.1", **quiet)
    try:
        task = ray.remote(num_cpus=1)(execute_job)
        pending = {task.remote(job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    files = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    on_result(job, None, error.cause or error)
                except ray.exceptions.RayError as error:
                    on_result(job, None, error)
                else:
                    on_result(job, files, None)
    finally:
        if own:
            ray.shutdown()


# ----------------------------------------------------------------- aggregation
def _cell(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) else json.dumps(value)


def collect(out_dir: Path, jobs: list[Job], name: str) -> pd.DataFrame:
    """Every job's NAME.csv (plus training_time.csv beside timing.csv), the job's
    values inserted as the first columns, in job order."""
    frames = []
    for job in jobs:
        folder = out_dir / job.folder
        table = folder / name
        quiet = (folder / NO_REQUEST).is_file()  # nobody asked: no run table
        if name in ("summary.csv", "timing.csv"):
            table = table_file(folder, name.removesuffix(".csv"))
        parts = [] if quiet and name in ("summary.csv", "timing.csv") else [read_table(table)]
        if name == "timing.csv" and (folder / "training_time.csv").is_file():
            parts.append(pd.read_csv(folder / "training_time.csv"))  # it trained all the same
        if not parts:
            continue
        frame = pd.concat(parts, ignore_index=True)
        for position, (key, value) in enumerate(job.values.items()):
            frame.insert(position, key, [_cell(value)] * len(frame))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def aggregate(frame: pd.DataFrame, keys: list[str],
              rows: tuple[str, ...] = ("scheduler",)) -> pd.DataFrame:
    """Per point (KEYS) and row (a scheduler; an encoder and SNR for a profile): the
    number of seeds, then for every numeric column its mean over seeds and the 95 %
    half-width (METRIC_ci95)."""
    group_by = [*keys, *rows]
    metrics = [c for c in frame.columns
               if c not in group_by and c != "seed" and not c.endswith("_ci95")
               and pd.api.types.is_numeric_dtype(frame[c])]
    rows = []
    for point, group in frame.groupby(group_by, sort=False, dropna=False):
        row = dict(zip(group_by, point))
        row["seeds"] = group["seed"].nunique()
        for metric in metrics:
            values = group[metric].dropna().to_numpy()
            empty = len(values) == 0  # e.g. training time on a scheduler's row
            row[metric] = float("nan") if empty else values.mean()
            row[f"{metric}_ci95"] = float("nan") if empty else ci95_half_width(values)
        rows.append(row)
    return pd.DataFrame(rows)


def write_aggregates(out_dir: Path, scenario: Scenario, jobs: list[Job],
                     keys: list[str]) -> pd.DataFrame:
    summary = collect(out_dir, jobs, "summary.csv")
    table = aggregate(summary, keys)
    atomic_write_text(out_dir / "sweep_summary.csv", csv_text(summary))
    atomic_write_text(out_dir / "aggregate.csv", csv_text(table))
    timing = aggregate(collect(out_dir, jobs, "timing.csv"), keys)
    atomic_write_text(out_dir / "sweep_timing.csv", csv_text(timing))
    if jobs[0].kind == "profile":
        profiles = collect(out_dir, jobs, PROFILE_COPY).drop(columns="provenance")
        profile_table = aggregate(profiles, keys, PROFILE_ROWS)
        atomic_write_text(out_dir / "profile_aggregate.csv", csv_text(profile_table))
    write_resolved_scenario(out_dir, scenario)
    return table


# ------------------------------------------------------------------ the sweep
def run_sweep(
    scenario: Scenario,
    source: str,
    out_dir: str | Path,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
    jobs: list[Job] | None = None,
) -> SweepOutcome:
    """Run the unfinished jobs of the sweep, then write the aggregates (only when every
    job is finished). ``workers`` defaults to the number of CPUs."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    jobs = sweep_jobs(scenario, source) if jobs is None else jobs
    claim_folder(out_dir, "sweep")
    keys = list(dict.fromkeys(k for job in jobs for k in job.values if k != "seed"))
    outcome = SweepOutcome(jobs, keys=keys)
    finished = [is_finished(out_dir, job) for job in jobs]
    todo = [job for job, done in zip(jobs, finished) if not done]
    outcome.skipped = [job.folder for job, done in zip(jobs, finished) if done]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    warn_once(todo)
    with tqdm(total=len(jobs), initial=len(outcome.skipped), unit="point",
              desc=scenario.name, disable=not progress or None) as bar:

        def on_result(job: Job, files: dict[str, bytes] | None,
                      error: BaseException | None) -> None:
            if error is not None:
                outcome.failed[job.folder] = f"{type(error).__name__}: {error}".splitlines()[0]
            else:
                store(out_dir, job, files or {})
                outcome.ran.append(job.folder)
            bar.set_postfix_str(job.folder, refresh=False)
            bar.update()

        work = out_dir / WORK
        remove_tree(work)  # what the jobs of a killed sweep left behind
        if todo and backend == "ray":
            map_ray(todo, workers, address, on_result)
        elif any(job.kind in FOLDER_KINDS for job in todo):
            work.mkdir(parents=True, exist_ok=True)
            try:
                map_local(todo, workers, on_result, str(work))
            finally:
                remove_tree(work)
        elif todo:  # plain runs: their files are made in memory
            map_local(todo, workers, on_result)
    outcome.without_requests = [job.folder for job in jobs
                                if (out_dir / job.folder / NO_REQUEST).is_file()]
    if not outcome.failed and len(outcome.without_requests) == len(jobs):
        raise NoRequestsError("no request arrived in any point's seed: nothing to "
                              "aggregate (raise users.arrivals' probability or rate, or "
                              "the slots)")
    if not outcome.failed:
        outcome.aggregate = write_aggregates(out_dir, scenario, jobs, keys)
    return outcome


def warn_once(jobs: list[Job]) -> None:
    """What the trainings of the sweep's training points would warn of (a budget that
    trains nothing, solvers.rl.algorithms.learns_nothing), once in the driver for all
    points that share it, before any work: from the workers it came once per worker, in
    Python's two-line format, and from Ray's workers not at all in quiet mode."""
    from netsim.scenario import RL
    from netsim.simulation.registry import rl_entry

    trainings = [job for job in jobs if job.kind == "train"]
    if not trainings:
        return
    try:
        learns_nothing = rl_entry("learns_nothing")
    except KeyError:  # installed before this entry point existed (reinstall): not said
        return
    problems: dict[str, list[str]] = {}
    for job in trainings:
        rl = RL.model_validate(job.data.get("rl", {}))
        if (problem := learns_nothing(rl, job.algo, rl.total_steps)):
            problems.setdefault(problem, []).append(job.folder)
    for problem, folders in problems.items():
        where = (folders[0] if len(folders) == 1 else
                 f"{len(folders)} points ({folders[0]}, ...)")
        warnings.warn(f"{where}: {problem}", NetsimWarning, stacklevel=3)


def describe(outcome: SweepOutcome) -> Iterable[str]:
    yield (f"{len(outcome.jobs)} points x seeds: {len(outcome.ran)} run, "
           f"{len(outcome.skipped)} already finished, {len(outcome.failed)} failed")
    if outcome.without_requests:
        yield (f"{len(outcome.without_requests)} of them without a request, passed over "
               "(as netsim run passes over such seeds): "
               + ", ".join(outcome.without_requests[:3])
               + (", ..." if len(outcome.without_requests) > 3 else ""))
    for folder, error in outcome.failed.items():
        yield f"failed: {folder}: {error}"
