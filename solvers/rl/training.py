"""``netsim train``: train an RL scheduler on a scenario, with TensorBoard logs, periodic
checkpoints, exact resumption, and a learning curve measured against the exact optimum.

Output folder:
    model.zip               the trained model (a scheduler a scenario can name)
    learning_curve.csv      env steps, wall time, return, scores vs the optima, violations
    checkpoints/step_<steps>/   one checkpoint, one unit: model.zip (weights and
                            optimiser), state.pkl (the environment with its random
                            generators and current episode, the algorithm's counters and
                            last observation, torch's, numpy's and Python's random states,
                            the learning curve so far) and, for DQN and SAC, replay.pkl
    tensorboard/            SB3's TensorBoard logs
    scenario.yaml           the resolved scenario

A checkpoint is taken at the start of a rollout (after the gradient steps on the
previous one) and written into a hidden folder that is renamed into place: it exists
whole or not at all. ``--resume`` restores all of it, so the resumed run takes the very
steps the uninterrupted one would: the same final weights and the same learning curve
(but for its wall-clock column).
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from netsim.generators import global_generators_kept
from netsim.io import atomic_write_bytes, atomic_write_text
from netsim.ownership import ForeignFolder, claim_folder
from netsim.rl.env import SlotAssignmentEnv
from netsim.rl.evaluation import evaluate_policy
from netsim.rl.masks import MaskSpec
from netsim.rl.queue_env import QueueAssignmentEnv, check_closed_loop_scenario
from netsim.rl.size_free import size_free_spaces
from netsim.scenario import Scenario, training_seed_problem
from netsim.simulation.output import (
    csv_text,
    resolved_scenario_text,
    scenario_file_text,
    write_resolved_scenario,
)
from netsim.verbosity import NetsimWarning
from solvers.rl.algorithms import ALGORITHMS, learns_nothing, masked_predict

CHECKPOINT = re.compile(r"step_(\d+)")


STATE_ATTRIBUTES = ("num_timesteps", "_last_obs", "_last_episode_starts",
                    "_last_original_obs", "_episode_num", "_n_calls", "_n_updates",
                    "_current_progress_remaining", "ep_info_buffer", "ep_success_buffer")
"""What an algorithm carries between rollouts beyond its weights and optimiser."""


class RolloutCheckpoint(BaseCallback):
    """Saves ``checkpoints/step_<steps>/`` at the first rollout start past every multiple
    of ``every`` steps: after the previous rollout's gradient steps, so a resumed run
    goes on exactly as the uninterrupted one (see the module docstring)."""

    def __init__(self, folder: Path, every: int, rows: list[dict], identity: dict) -> None:
        super().__init__()
        self.folder, self.every = folder, every
        self.rows, self.identity = rows, identity
        self.next_at = every

    def _init_callback(self) -> None:  # the model's count: a resumed run starts past 0
        self.next_at = (self.model.num_timesteps // self.every + 1) * self.every

    def _on_rollout_start(self) -> None:
        steps = self.model.num_timesteps  # self.num_timesteps lags until the first step
        if steps >= self.next_at:
            save_checkpoint(self.model, self.folder, self.rows, self.identity)
            self.next_at = (steps // self.every + 1) * self.every

    def _on_step(self) -> bool:
        return True


def save_checkpoint(model, folder: Path, rows: list[dict], identity: dict) -> Path:  # type: ignore[no-untyped-def]
    """Write one checkpoint unit (module docstring) atomically; keep the replay buffer
    of the latest one only."""
    steps = model.num_timesteps
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step_{steps}"
    staging = Path(tempfile.mkdtemp(prefix=f".step_{steps}.", dir=folder))
    try:
        model.save(staging / "model.zip")
        if getattr(model, "replay_buffer", None) is not None:  # DQN, SAC
            model.save_replay_buffer(staging / "replay.pkl")
        state = {
            "identity": identity,
            "env": model.env,
            "attributes": {name: getattr(model, name) for name in STATE_ATTRIBUTES
                           if hasattr(model, name)},
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate()},
            "curve_rows": list(rows),
        }
        with open(staging / "state.pkl", "wb") as handle:
            cloudpickle.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for older in folder.glob("step_*/replay.pkl"):
        if older.parent != final:
            older.unlink()
    return final


def latest_checkpoint(folder: Path) -> tuple[Path, int] | None:
    """The latest whole checkpoint unit and its step count (hidden staging folders of a
    write that was killed are not units)."""
    found = [(int(m.group(1)), p) for p in folder.glob("step_*")
             if (m := CHECKPOINT.fullmatch(p.name)) and (p / "state.pkl").is_file()]
    if not found:
        return None
    steps, path = max(found)
    return path, steps


def load_checkpoint(unit: Path, cls, out_dir: Path):  # type: ignore[no-untyped-def]
    """The model of a checkpoint unit with everything restored, and its curve rows."""
    with open(unit / "state.pkl", "rb") as handle:
        state = cloudpickle.load(handle)
    model = cls.load(unit / "model.zip", env=state["env"], device="cpu",
                     tensorboard_log=str(out_dir / "tensorboard"))
    for name, value in state["attributes"].items():
        setattr(model, name, value)
    if (unit / "replay.pkl").is_file():
        model.load_replay_buffer(unit / "replay.pkl")
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
    return model, state["curve_rows"], state["identity"]


class LearningCurve(BaseCallback):
    """Every ``every`` steps (at a rollout end), evaluates the deterministic policy on
    the held-out worlds against both optima and rewrites learning_curve.csv."""

    def __init__(self, scenario: Scenario, path: Path, every: int, rows: list[dict],
                 wall_offset_s: float, on_evaluation: Callable[[dict], None] | None = None
                 ) -> None:
        super().__init__()
        self.scenario, self.path, self.every = scenario, path, every
        self.rows = rows
        self.on_evaluation = on_evaluation
        self.wall_offset_s = wall_offset_s
        self.started = time.perf_counter()
        self.next_at = every

    def _init_callback(self) -> None:  # the model's count: a resumed run starts past 0
        self.next_at = (self.model.num_timesteps // self.every + 1) * self.every

    def _on_rollout_end(self) -> None:
        if self.model.num_timesteps >= self.next_at:
            self.record()
            self.next_at = (self.model.num_timesteps // self.every + 1) * self.every

    def record(self) -> None:
        result = evaluate_policy(masked_predict(self.model), self.scenario)
        wall = self.wall_offset_s + time.perf_counter() - self.started
        self.rows.append({"env_steps": self.model.num_timesteps, "wall_time_s": wall, **result})
        if getattr(self.model, "_logger", None) is not None:  # not before learn() ran
            for key in ("score_vs_statistical", "score_vs_oracle", "mean_return"):
                self.logger.record(f"eval/{key}", result[key])
        atomic_write_text(self.path, csv_text(pd.DataFrame(self.rows)))
        if self.on_evaluation is not None:  # e.g. a tuner's pruning; may raise to stop
            self.on_evaluation(self.rows[-1])

    def _on_step(self) -> bool:
        return True


def make_env(scenario: Scenario, seed: int) -> DummyVecEnv:
    """The training environments (``rl.n_envs``, environment i seeded seed + i): the
    per-slot MDP under the analytic model, the closed loop (queues) under
    ``delay_model: des`` (without the info's realised cost, which nobody reads here)."""
    def build() -> Monitor:
        return Monitor(QueueAssignmentEnv(scenario, report_cost=False)
                       if scenario.delay_model == "des" else SlotAssignmentEnv(scenario))

    venv = DummyVecEnv([build] * scenario.rl.n_envs)
    venv.seed(seed)  # the seeds of the first reset (the algorithm's, when it starts learning)
    return venv


def train(
    scenario: Scenario,
    algo: str,
    out_dir: Path,
    steps: int | None = None,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    on_evaluation: Callable[[dict], None] | None = None,
) -> Path:
    """Train ``algo`` on ``scenario`` into ``out_dir``; returns the final model's path.
    ``on_evaluation`` receives every learning-curve row as it is written. The caller's
    torch thread count and global generators (Python's, numpy's and torch's, which
    stable-baselines3 seeds with the training seed) are as they were afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(scenario.rl.torch_threads)
    try:
        with global_generators_kept():
            return _train(scenario, algo, out_dir, steps, seed, resume, progress,
                          on_evaluation)
    finally:
        torch.set_num_threads(threads)


def load_trained(path: Path, algo: str, cell: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    """A fresh copy of the model ``netsim train`` saved at ``path`` (model.zip), as
    ``algo``, on the CPU (the Python API's :func:`netsim.api.train` and
    :func:`netsim.api.load_agent` return it); ``cell`` = (n_rbs, n_encoders): a
    size-free model's spaces set for a cell of that many RBs."""
    custom = None if cell is None else size_free_spaces(*cell)
    return ALGORITHMS[algo][1].load(path, device="cpu", custom_objects=custom)


class TrainingFolderError(ValueError):
    """The output folder holds another training, or a resume would mix settings;
    ``str(error)`` is one line."""


FINISHED = "finished.json"
"""Written after model.zip: the identity and step count of the finished training."""


def training_identity(scenario: Scenario, algo: str, seed: int) -> dict:
    """What must match for a resume to continue the same training (the scenario's
    rl.total_steps is the training's step budget: :func:`with_budget`)."""
    return {"algo": algo, "seed": seed, "scenario": resolved_scenario_text(scenario)}


def with_budget(scenario: Scenario, steps: int | None) -> Scenario:
    """The scenario a training of ``steps`` steps runs (default rl.total_steps): its
    rl.total_steps is the budget, as its folder's scenario.yaml records it. The budget
    belongs to a training's identity: the learning-rate schedule (linear) and DQN's
    exploration span it, so a training resumed with another budget would match neither
    an uninterrupted one of the old budget nor one of the new."""
    if steps is None or steps == scenario.rl.total_steps:
        return scenario
    return scenario.model_copy(update={"rl": scenario.rl.model_copy(
        update={"total_steps": steps})})


def recorded_budget(out_dir: Path) -> int | None:
    """The step budget of the training in ``out_dir``: a finished one's (finished.json),
    or that of the run that wrote its latest checkpoint (SB3 keeps it in the model's
    saved data); None where neither is there (or readable)."""
    out_dir = Path(out_dir)
    try:
        if (out_dir / FINISHED).is_file() and (out_dir / "model.zip").is_file():
            steps = json.loads((out_dir / FINISHED).read_text())["steps"]
        else:
            checkpoint = latest_checkpoint(out_dir / "checkpoints")
            if checkpoint is None:
                return None
            with zipfile.ZipFile(checkpoint[0] / "model.zip") as archive:
                steps = json.loads(archive.read("data"))["_total_timesteps"]
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None  # not a training's record: the training checks the folder
    return steps if isinstance(steps, int) and not isinstance(steps, bool) else None


def budget_problem(out_dir: Path, steps: int, where: str = "--steps",
                   budget: int | None = None) -> str | None:
    """Why the training in ``out_dir`` (of ``budget`` steps, default its
    :func:`recorded_budget`) cannot be resumed to ``steps`` steps, which ``where`` asked
    for (one line), or None."""
    budget = recorded_budget(out_dir) if budget is None else budget
    if budget is None or budget == steps:
        return None
    return (f"{out_dir}: holds a training of {budget} steps, not the {steps} of {where}; a "
            "training resumed to another budget is neither (its learning-rate and "
            f"exploration schedules span the budget): resume it with --steps {budget}, or "
            "choose another folder")


def _train(scenario: Scenario, algo: str, out_dir: Path, steps: int | None, seed: int,
           resume: bool, progress: bool, on_evaluation: Callable[[dict], None] | None) -> Path:
    if (problem := training_seed_problem(seed)) is not None:  # the callers check it first
        raise ValueError(f"seed: {problem}")
    make, cls = ALGORITHMS[algo]
    where = "rl.total_steps" if steps is None else "--steps"
    scenario = with_budget(scenario, steps)
    rl = scenario.rl
    total = rl.total_steps
    out_dir = Path(out_dir)
    identity = training_identity(scenario, algo, seed)
    finished = out_dir / FINISHED
    if resume and finished.is_file() and (out_dir / "model.zip").is_file():
        try:
            record = json.loads(finished.read_text())
            saved, budget = record["identity"], record["steps"]
        except (ValueError, KeyError, TypeError):
            raise TrainingFolderError(f"--out {out_dir}: {FINISHED} is damaged (not the "
                                      "record netsim train writes last): remove it to "
                                      "resume from the last checkpoint") from None
        _check_same_training(saved, identity, out_dir)
        _check_budget(out_dir, budget, total, where)
        return out_dir / "model.zip"  # nothing left to do
    holds_training = any((out_dir / name).exists()
                         for name in ("scenario.yaml", "checkpoints", "model.zip"))
    if not resume and holds_training:
        raise TrainingFolderError(f"--out {out_dir}: already holds a training; --resume "
                                  "continues it, or choose another folder")
    if scenario.delay_model == "des":  # before anything is written
        check_closed_loop_scenario(scenario)
    try:  # never into a folder of something else (someone's files, a run, a sweep)
        claim_folder(out_dir, "train")
    except ForeignFolder as error:
        raise TrainingFolderError(str(error)) from None
    curve_path = out_dir / "learning_curve.csv"
    rows: list[dict] = []
    wall_offset = 0.0
    for stale in (out_dir / "checkpoints").glob(".step_*"):  # a checkpoint write killed
        shutil.rmtree(stale, ignore_errors=True)
    checkpoint = latest_checkpoint(out_dir / "checkpoints") if resume else None
    if checkpoint is not None:
        unit, _ = checkpoint
        model, rows, saved = load_checkpoint(unit, cls, out_dir)
        _check_same_training(saved, identity, out_dir)
        _check_budget(out_dir, model._total_timesteps, total, where)
        wall_offset = float(rows[-1]["wall_time_s"]) if rows else 0.0
    else:
        if resume and holds_training:  # stopped before its first checkpoint
            if (out_dir / "scenario.yaml").is_file():
                written = (out_dir / "scenario.yaml").read_text(encoding="utf-8")
                # as written now (model paths for the folder), or before they were
                if not any(same_scenario(written, text) for text in (
                        scenario_file_text(scenario, out_dir), identity["scenario"])):
                    raise TrainingFolderError(f"--out {out_dir}: holds a training of another "
                                              "scenario; resume it with that scenario, or "
                                              "choose another folder")
            warnings.warn(f"{out_dir}: no checkpoint to resume from yet (the training "
                          "stopped before its first, every rl.checkpoint_every_steps = "
                          f"{rl.checkpoint_every_steps} steps): it starts again from step "
                          f"0, to {total} steps", NetsimWarning, stacklevel=3)
        model = make(make_env(scenario, seed), rl, seed, out_dir / "tensorboard",
                     MaskSpec.from_scenario(scenario))
        write_resolved_scenario(out_dir, scenario)
    curve = LearningCurve(scenario, curve_path, rl.eval_every_steps, rows, wall_offset,
                          on_evaluation)
    checkpoints = RolloutCheckpoint(out_dir / "checkpoints", rl.checkpoint_every_steps, rows,
                                    identity)
    done_steps = model.num_timesteps
    if total > done_steps and (problem := learns_nothing(rl, algo, total)) is not None:
        warnings.warn(problem, NetsimWarning, stacklevel=3)
    if total > done_steps:
        model.learn(
            total_timesteps=total - done_steps,
            callback=CallbackList([checkpoints, curve]),
            reset_num_timesteps=checkpoint is None,
            progress_bar=progress,
            tb_log_name=algo,
        )
    if not rows or rows[-1]["env_steps"] != model.num_timesteps:
        curve.model = model
        curve.record()
    final = out_dir / "model.zip"
    archive = io.BytesIO()  # in memory: a kill while saving leaves no half or stray file
    model.save(archive)
    atomic_write_bytes(final, archive.getvalue())
    atomic_write_text(finished, json.dumps({"identity": identity, "steps": total},
                                           sort_keys=True) + "\n")
    return final


def same_scenario(written: str, resolved: str) -> bool:
    """Whether two resolved scenario texts are one training's, its budget
    (rl.total_steps, :func:`with_budget`; compared on its own) aside: a folder written
    before the budget was recorded there holds the file's rl.total_steps."""
    if written == resolved:
        return True
    import yaml

    try:
        first, second = yaml.safe_load(written), yaml.safe_load(resolved)
        for data in (first, second):
            data["rl"].pop("total_steps", None)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        return False
    return first == second


def _check_budget(out_dir: Path, budget: int, total: int, where: str) -> None:
    if (problem := budget_problem(out_dir, total, where, budget)) is not None:
        raise TrainingFolderError(f"--out {problem}")


def _check_same_training(saved: dict, identity: dict, out_dir: Path) -> None:
    for key, what in (("algo", "algorithm"), ("seed", "seed"), ("scenario", "scenario")):
        same = (same_scenario(saved.get(key) or "", identity[key]) if key == "scenario"
                else saved.get(key) == identity[key])
        if not same:
            raise TrainingFolderError(
                f"--out {out_dir}: holds a training with another {what} "
                f"({saved.get(key)!r} there)" if key != "scenario" else
                f"--out {out_dir}: holds a training of another scenario (its resolved "
                "scenario.yaml differs); resume it with the same scenario, or choose "
                "another folder")
