"""SIGKILL and SIGINT (Ctrl-C) at every file operation of `run`, `sweep` and `train` (SIGKILL
for each algorithm, SIGINT for an on- and an off-policy one: TRAIN_KILLS), then the command again (`--resume` for a training): the uninterrupted run's
result, byte for byte; in between nothing a reader could mistake for a result; after a
Ctrl-C no temporary file or folder, and after the command again none from the kill either
(tests/killpoints.py kills)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.scenario_factory import ROOT, paper_dict

RUN_FILES = ("records.csv", "summary.csv", "scenario.yaml")  # timing.csv: wall clock
SIGNALS = ["SIGKILL", "SIGINT"]

Harness = Callable[[Path], None]


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    """tests/killpoints.py kept up (``--serve``) for this module's tests: it imports torch
    and the rest once, not once per test, and runs each spec as when started for it alone
    (a fresh forked child per attempt)."""
    process = subprocess.Popen([sys.executable, "-m", "tests.killpoints", "--serve"],
                               cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    assert process.stdin is not None and process.stdout is not None

    def run(spec: Path) -> None:
        process.stdin.write(f"{spec}\n")
        process.stdin.flush()
        answer = process.stdout.readline().strip()
        log = Path(f"{spec}.stderr")
        stderr = log.read_text() if log.is_file() else f"harness exit {process.poll()}"
        assert answer == "ok", stderr[-3000:]

    try:
        yield run
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def kill_everywhere(harness: Harness, work: Path, first: list[str], again: list[str],
                    stop: str, setup: Path | None = None
                    ) -> tuple[Path, list[dict[str, Any]]]:
    """Run tests/killpoints.py with signal ``stop``; return the reference folder and one
    entry per kill, after checking what holds for every kill: it happened, the command
    again succeeded and left no temporary behind, and a Ctrl-C left none either and no
    file the finished command does not write."""
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "spec.json"
    spec.write_text(json.dumps({"workdir": str(work / "w"), "first": first, "again": again,
                                "setup": str(setup) if setup else None, "signal": stop}))
    (work / "w").mkdir()
    harness(spec)
    result = json.loads((work / "w" / "result.json").read_text())
    points = result["points"]
    assert len(points) == len(result["operations"]) >= 5
    reference = work / "w" / "reference"
    assert result["reference_hidden"] == []
    for point in points:
        assert point["killed"], point  # every operation reached: the kill happened there
        assert point["again_exit"] == 0, point
        assert point["hidden_after_again"] == [], point
        if stop == "SIGINT":
            assert point["hidden_after_kill"] == [], point  # its clean-up removed them
            left = work / "w" / f"kill_{point['n']}.killed"
            if left.is_dir():
                extra = {p.name for p in left.iterdir()} - {p.name for p in reference.iterdir()}
                assert not extra, (point, extra)
    return reference, points


def tiny_scenario(folder: Path, **changes: Any) -> Path:
    data = paper_dict()
    data.update(name="tiny", slots=4, seeds=[0, 1],
                schedulers=[{"type": "hungarian", "information": "statistical"}, "random"])
    data.update(changes)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def files_of(folder: Path, names: tuple[str, ...]) -> dict[str, bytes] | None:
    if not folder.exists():
        return None
    visible = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert set(names) <= set(visible), visible
    return {name: (folder / name).read_bytes() for name in names}


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny scenario and a `netsim run` of it at another seed (made once: the run
    tests only copy and read it)."""
    folder = tmp_path_factory.mktemp("earlier")
    scenario = tiny_scenario(folder)
    earlier = folder / "earlier"
    subprocess.run([sys.executable, "-m", "netsim", "run", str(scenario), "--out", str(earlier),
                    "--seeds", "7", "--no-progress"], check=True, capture_output=True)
    return scenario, earlier


@pytest.mark.parametrize("stop", SIGNALS)
def test_run_killed_at_every_file_operation(tmp_path: Path, stop: str, harness: Harness,
                                            earlier_run: tuple[Path, Path]) -> None:
    """`netsim run` into a folder holding an earlier run: killed before each of its file
    operations, the folder holds the earlier run whole, the new one whole, or (SIGKILL
    between the two renames of the publish) nothing; run again, the new run's bytes."""
    scenario, earlier = earlier_run
    command = ["run", str(scenario), "--out", "{out}", "--no-progress"]
    reference, points = kill_everywhere(harness, tmp_path / "kills", command, command, stop,
                                        setup=earlier)
    new = files_of(reference, RUN_FILES)
    old = files_of(earlier, RUN_FILES)
    assert new != old
    seen = set()
    for point in points:
        left = files_of(tmp_path / "kills" / "w" / f"kill_{point['n']}.killed", RUN_FILES)
        state = "nothing" if left is None else "old" if left == old else "new"
        assert state == "nothing" or left in (old, new), point
        seen.add(state)
        assert files_of(tmp_path / "kills" / "w" / f"kill_{point['n']}", RUN_FILES) == new
    # new: killed before the old one is removed; a Ctrl-C between the renames moves the
    # old one back
    assert seen == ({"old", "nothing", "new"} if stop == "SIGKILL" else {"old", "new"})


@pytest.mark.parametrize("stop", SIGNALS)
def test_sweep_killed_at_every_file_operation(tmp_path: Path, stop: str, harness: Harness
                                              ) -> None:
    """`netsim sweep` (2 points x 1 seed, one worker) killed before each file operation
    of its driver, then run again: the uninterrupted sweep's aggregates, byte for byte."""
    scenario = tiny_scenario(tmp_path, seeds=[0], sweep={"users.count": [2, 3]})
    command = ["sweep", str(scenario), "--out", "{out}", "--workers", "1", "--no-progress"]
    reference, points = kill_everywhere(harness, tmp_path / "kills", command, command, stop)
    for point in points:
        for name in ("aggregate.csv", "sweep_summary.csv"):
            again = tmp_path / "kills" / "w" / f"kill_{point['n']}" / name
            assert again.read_bytes() == (reference / name).read_bytes(), (point, name)


TRAIN_RL = {"n_steps": 8, "batch_size": 8, "n_epochs": 2, "checkpoint_every_steps": 16,
            "eval_every_steps": 16, "eval_slots": 1, "eval_seeds": [10000],
            "learning_starts": 8, "buffer_size": 64, "net_arch": [16]}
TRAIN_STEPS = 40
"""Two checkpoints (the second replaces the first) and a last stretch after them: every
kind of file operation a training does, each done at least twice, in few steps (each
operation costs a killed and a resumed training). Rollouts of 8 steps (PPO; 4, the
default train_freq, for DQN and SAC, learning from step 8): checkpoints at 16 and 32,
evaluations at 16, 32 and the end (40); the operations are those of twice the steps."""


TRAIN_KILLS = [(algo, "SIGKILL") for algo in ("ppo", "dqn", "sac")] + [
    (algo, "SIGINT") for algo in ("ppo", "sac")]
"""What each algorithm resumes is its own (SIGKILL: every algorithm); a Ctrl-C's clean-up
is the training's, not the algorithm's, and saves an on-policy or an off-policy
checkpoint (a replay buffer, DQN's and SAC's alike: SIGINT on PPO and SAC)."""


@pytest.mark.parametrize(("algo", "stop"), TRAIN_KILLS)
def test_training_killed_at_every_file_operation(tmp_path: Path, algo: str, stop: str,
                                                 harness: Harness) -> None:
    """`netsim train` killed before each of its file operations (checkpoint units, the
    learning curve, the final model, the tensorboard log), then `--resume`: the
    uninterrupted run's final weights, bit for bit, and its learning curve."""
    import torch

    from solvers.rl.training import ALGORITHMS

    scenario = tiny_scenario(tmp_path, rl=TRAIN_RL)
    command = ["train", str(scenario), "--algo", algo, "--steps", str(TRAIN_STEPS), "--out", "{out}",
               "--no-progress"]
    reference, points = kill_everywhere(harness, tmp_path / "kills", command,
                                        [*command, "--resume"], stop)
    cls = ALGORITHMS[algo][1]

    def weights(folder: Path) -> dict[str, torch.Tensor]:
        return cls.load(folder / "model.zip", device="cpu").policy.state_dict()

    def curve(folder: Path) -> pd.DataFrame:
        return pd.read_csv(folder / "learning_curve.csv").drop(columns="wall_time_s")

    whole, whole_curve = weights(reference), curve(reference)
    for point in points:
        folder = tmp_path / "kills" / "w" / f"kill_{point['n']}"
        again = weights(folder)
        assert all(torch.equal(whole[k], again[k]) for k in whole), point
        pd.testing.assert_frame_equal(curve(folder), whole_curve)
