"""``netsim train``: train an RL scheduler on a scenario, with TensorBoard logs, periodic
checkpoints, resumption, and a learning curve measured against the exact optimum.

Output folder:
    model.zip               the trained model (a scheduler a scenario can name)
    learning_curve.csv      env steps, wall time, return, scores vs the optima, violations
    checkpoints/model_<steps>_steps.zip   (+ replay_<steps>_steps.pkl for DQN, SAC)
    tensorboard/            SB3's TensorBoard logs
    scenario.yaml           the resolved scenario
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from netsim.io import atomic_write_bytes, atomic_write_text
from netsim.rl.env import MaskSpec, SlotAssignmentEnv
from netsim.rl.evaluation import evaluate_policy
from netsim.scenario import Scenario
from netsim.simulation.output import csv_text, write_resolved_scenario
from solvers.rl.algorithms import ALGORITHMS, masked_predict

CHECKPOINT = re.compile(r"model_(\d+)_steps\.zip")


class RolloutCheckpoint(BaseCallback):
    """Saves ``checkpoints/model_<steps>_steps.zip`` at the first rollout end past every
    multiple of ``every`` steps: a rollout boundary, so a resumed run collects exactly
    the rollouts an uninterrupted one would and ends at the same step count."""

    def __init__(self, folder: Path, every: int) -> None:
        super().__init__()
        self.folder, self.every = folder, every
        self.next_at = every

    def _init_callback(self) -> None:
        self.next_at = (self.num_timesteps // self.every + 1) * self.every

    def _on_rollout_end(self) -> None:
        if self.num_timesteps >= self.next_at:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"model_{self.num_timesteps}_steps.zip"
            if getattr(self.model, "replay_buffer", None) is not None:  # DQN, SAC
                replay = self.folder / f"replay_{self.num_timesteps}_steps.pkl"
                temp = self.folder / "replay.tmp.pkl"
                self.model.save_replay_buffer(temp)
                temp.replace(replay)
                for old in self.folder.glob("replay_*_steps.pkl"):
                    if old != replay:
                        old.unlink()
            temp = path.with_suffix(".tmp.zip")
            self.model.save(temp)
            temp.replace(path)  # a checkpoint appears whole or not at all
            self.next_at = (self.num_timesteps // self.every + 1) * self.every

    def _on_step(self) -> bool:
        return True


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

    def _init_callback(self) -> None:
        self.next_at = (self.num_timesteps // self.every + 1) * self.every

    def _on_rollout_end(self) -> None:
        if self.num_timesteps >= self.next_at:
            self.record()
            self.next_at = (self.num_timesteps // self.every + 1) * self.every

    def record(self) -> None:
        result = evaluate_policy(masked_predict(self.model), self.scenario)
        wall = self.wall_offset_s + time.perf_counter() - self.started
        self.rows.append({"env_steps": self.num_timesteps, "wall_time_s": wall, **result})
        for key in ("score_vs_statistical", "score_vs_oracle", "mean_return"):
            self.logger.record(f"eval/{key}", result[key])
        atomic_write_text(self.path, csv_text(pd.DataFrame(self.rows)))
        if self.on_evaluation is not None:  # e.g. a tuner's pruning; may raise to stop
            self.on_evaluation(self.rows[-1])

    def _on_step(self) -> bool:
        return True


def latest_checkpoint(folder: Path) -> tuple[Path, int] | None:
    found = [(int(m.group(1)), p) for p in folder.glob("model_*_steps.zip")
             if (m := CHECKPOINT.fullmatch(p.name))]
    if not found:
        return None
    steps, path = max(found)
    return path, steps


def make_env(scenario: Scenario, seed: int) -> DummyVecEnv:
    def build() -> Monitor:
        env = SlotAssignmentEnv(scenario)
        env.reset(seed=seed)
        return Monitor(env)

    venv = DummyVecEnv([build])
    venv.seed(seed)
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
    ``on_evaluation`` receives every learning-curve row as it is written."""
    threads = torch.get_num_threads()
    torch.set_num_threads(scenario.rl.torch_threads)
    try:
        return _train(scenario, algo, out_dir, steps, seed, resume, progress, on_evaluation)
    finally:
        torch.set_num_threads(threads)


def _train(scenario: Scenario, algo: str, out_dir: Path, steps: int | None, seed: int,
           resume: bool, progress: bool, on_evaluation: Callable[[dict], None] | None) -> Path:
    make, cls = ALGORITHMS[algo]
    rl = scenario.rl
    total = rl.total_steps if steps is None else steps
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    curve_path = out_dir / "learning_curve.csv"
    env = make_env(scenario, seed)
    rows: list[dict] = []
    wall_offset = 0.0
    done_steps = 0
    checkpoint = latest_checkpoint(out_dir / "checkpoints") if resume else None
    if checkpoint is not None:
        path, done_steps = checkpoint
        model = cls.load(path, env=env, device="cpu",
                         tensorboard_log=str(out_dir / "tensorboard"))
        replay = path.parent / f"replay_{done_steps}_steps.pkl"
        if replay.is_file():
            model.load_replay_buffer(replay)
        if curve_path.is_file():
            previous = pd.read_csv(curve_path)
            previous = previous[previous["env_steps"] <= done_steps]
            rows = previous.to_dict("records")
            wall_offset = float(previous["wall_time_s"].max()) if len(previous) else 0.0
    else:
        model = make(env, rl, seed, out_dir / "tensorboard", MaskSpec.from_scenario(scenario))
        write_resolved_scenario(out_dir, scenario)
    curve = LearningCurve(scenario, curve_path, rl.eval_every_steps, rows, wall_offset,
                          on_evaluation)
    checkpoints = RolloutCheckpoint(out_dir / "checkpoints", rl.checkpoint_every_steps)
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
        curve.num_timesteps = model.num_timesteps
        curve.record()
    final = out_dir / "model.zip"
    temp = out_dir / "model.tmp.zip"
    model.save(temp)
    atomic_write_bytes(final, temp.read_bytes())
    temp.unlink()
    return final
