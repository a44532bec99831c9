"""The paper's MDP (gymnasium environment) and the masked PPO scheduler."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

from netsim.rl.env import SlotAssignmentEnv
from netsim.rl.evaluation import evaluate_policy, random_policy
from tests.scenario_factory import ROOT, make_scenario

pytest.importorskip("sb3_contrib")

from sb3_contrib import MaskablePPO

from solvers.rl.algorithms import ALGORITHMS, masked_predict
from solvers.rl.training import train

FAST_RL = {"n_steps": 256, "batch_size": 64, "learning_rate": 1e-3, "eval_every_steps": 2048,
           "checkpoint_every_steps": 4096, "eval_slots": 30, "eval_seeds": [10_000, 10_001]}
SMALL_CELL = {"users": {"count": 3}, "cell": {"n_rbs": 4}}


def test_env_passes_the_gymnasium_checker():
    check_env(SlotAssignmentEnv(make_scenario()), skip_render_check=True)


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "other_algorithm", "other_size"])
def test_validate_refuses_a_model_file_that_run_could_not_use(trained, tmp_path, damage):
    """netsim validate loads the model: what it says ok, run can use."""
    import shutil

    import yaml
    from typer.testing import CliRunner

    from netsim.cli import app

    _, out, path = trained
    folder = tmp_path / "model"
    shutil.copytree(out, folder)
    model = folder / path.name
    algo = "ppo"
    if damage == "corrupt":
        model.write_bytes(np.random.default_rng(0).bytes(4096))
    elif damage == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    elif damage == "other_algorithm":
        algo = "dqn"
    else:  # the training scenario beside it claims another cell than the network's
        data = yaml.safe_load((folder / "scenario.yaml").read_text())
        data["cell"]["n_rbs"] += 1
        (folder / "scenario.yaml").write_text(yaml.safe_dump(data))
    data = yaml.safe_load((folder / "scenario.yaml").read_text())
    data["schedulers"] = [{"type": "rl", "algo": algo, "model_path": str(model)}]
    data["sweep"] = {}
    scenario_file = tmp_path / "uses_model.yaml"
    scenario_file.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["validate", str(scenario_file)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "schedulers[0].model_path" in lines[0], result.output


@pytest.mark.parametrize("users, rbs, voluntary", [(5, 6, False), (7, 3, False), (3, 4, True)])
def test_masks_are_right_after_every_step(users, rbs, voluntary):
    scenario = make_scenario(users={"count": users, "voluntary_drop": voluntary},
                             cell={"n_rbs": rbs},
                             rl={"episode_slots": 6, "reward_model": "realised"})
    env = SlotAssignmentEnv(scenario)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    used: set[int] = set()
    left = users
    terminated = False
    while not terminated:
        mask = env.action_masks()
        free = [q for q in range(rbs) if q not in used]
        expected_rb = np.zeros((len(scenario.encoders), rbs), dtype=bool)
        expected_rb[:, free] = True
        np.testing.assert_array_equal(mask[:-1], expected_rb.ravel())
        assert mask[-1] == (voluntary or left > len(free))
        action = int(rng.choice(np.flatnonzero(mask)))
        _, reward, terminated, _, info = env.step(action)
        assert not info["invalid_action"] and reward == pytest.approx(-0.1 * info["cost"])
        if action < env.drop_action:
            used.add(action % rbs)
        left -= 1
        if "slot_steps" in info:  # the next slot starts with every RB free
            served = [step.rb for step in info["slot_steps"] if step.served]
            assert len(served) == len(set(served))
            if not voluntary:
                assert len(served) == min(users, rbs)
            used, left = set(), users


def test_a_masked_action_is_penalised_not_remapped():
    env = SlotAssignmentEnv(make_scenario())
    env.reset(seed=0)
    env.step(0)  # encoder 0 on RB 0
    user = env.current_user
    _, reward, _, _, info = env.step(env.n_rbs * 1)  # encoder 1 on RB 0: taken
    assert info["invalid_action"]
    expected = env.penalty[user] + env.scenario.rl.invalid_action_penalty
    assert info["cost"] == pytest.approx(expected)
    last = env.assignment.steps[-1]
    assert (last.user, last.served, last.valid) == (user, False, False)
    assert not env.assignment.free[0] and env.assignment.free[1:].all()


def test_same_world_seed_same_episode():
    env = SlotAssignmentEnv(make_scenario())
    first, _ = env.reset(options={"world_seed": 42})
    second, _ = SlotAssignmentEnv(make_scenario()).reset(options={"world_seed": 42})
    np.testing.assert_array_equal(first, second)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    scenario = make_scenario(rl=FAST_RL, **SMALL_CELL)
    out = tmp_path_factory.mktemp("ppo")
    path = train(scenario, "ppo", out, steps=8192, seed=0, progress=False)
    return scenario, out, path


@pytest.fixture(scope="module", params=["dqn", "sac"])
def trained_off_policy(request, tmp_path_factory):
    scenario = make_scenario(rl=FAST_RL, **SMALL_CELL)
    out = tmp_path_factory.mktemp(request.param)
    path = train(scenario, request.param, out, steps=8192, seed=0, progress=False)
    return request.param, scenario, path


def beats_random(algo: str, scenario, path) -> tuple[dict, dict]:
    model = ALGORITHMS[algo][1].load(path, device="cpu")
    agent = evaluate_policy(masked_predict(model), scenario)
    random = evaluate_policy(random_policy(np.random.default_rng(0)), scenario)
    return agent, random


def assert_round_trip_acts_alike(cls, path, scenario, tmp_path) -> None:
    """Loaded, saved again and reloaded, a model takes the same (valid) actions."""
    model = cls.load(path, device="cpu")
    model.save(tmp_path / "again.zip")
    again = cls.load(tmp_path / "again.zip", device="cpu")
    env = SlotAssignmentEnv(scenario)
    observation, _ = env.reset(seed=5)
    for _ in range(40):
        mask = env.action_masks()
        a, _ = model.predict(observation, action_masks=mask, deterministic=True)
        b, _ = again.predict(observation, action_masks=mask, deterministic=True)
        assert int(a) == int(b) and mask[int(a)]
        observation, _, terminated, _, _ = env.step(int(a))
        if terminated:
            observation, _ = env.reset()


def test_short_training_beats_the_random_scheduler(trained):
    agent, random = beats_random("ppo", trained[0], trained[2])
    # measured: 5.1 vs 11.9 (statistical optimum 3.2) after 8192 steps
    assert agent["mean_cost"] < 0.75 * random["mean_cost"], (agent, random)


def test_short_off_policy_training_beats_the_random_scheduler(trained_off_policy):
    algo, scenario, path = trained_off_policy
    agent, random = beats_random(algo, scenario, path)
    # measured after 8192 steps: DQN 5.6, SAC-Discrete 5.4, random 13.8 (optimum 3.9)
    assert agent["mean_cost"] < 0.75 * random["mean_cost"], (algo, agent, random)


def test_off_policy_save_load_round_trip_gives_identical_actions(trained_off_policy, tmp_path):
    algo, scenario, path = trained_off_policy
    cls = ALGORITHMS[algo][1]
    assert_round_trip_acts_alike(cls, path, scenario, tmp_path)


def test_save_load_round_trip_gives_identical_actions(trained, tmp_path):
    scenario, _, path = trained
    assert_round_trip_acts_alike(MaskablePPO, path, scenario, tmp_path)


def test_learning_curve_and_outputs(trained):
    _, out, _ = trained
    curve = pd.read_csv(out / "learning_curve.csv")
    assert list(curve["env_steps"]) == [2048, 4096, 6144, 8192]
    assert curve["wall_time_s"].is_monotonic_increasing
    for column in ("mean_return", "score_vs_statistical", "score_vs_oracle",
                   "delay_violation_rate", "energy_violation_rate"):
        assert curve[column].notna().all()
    assert (curve["score_vs_oracle"] <= curve["score_vs_statistical"] + 1e-9).all()
    unit = out / "checkpoints" / "step_4096"  # the first rollout start past 4,096 steps
    assert (unit / "model.zip").is_file() and (unit / "state.pkl").is_file()
    assert any((out / "tensorboard").rglob("events.out.tfevents.*"))


RESUME_RL = ("rl: {n_steps: 256, batch_size: 64, n_epochs: 2, checkpoint_every_steps: 512,"
             " eval_every_steps: 1024, eval_slots: 3, eval_seeds: [10000], learning_starts: 256,"
             " buffer_size: 5000}\n")
"""Resume tests' settings: PPO's n_epochs 2 (not 10) as only the bits, not learning,
are compared."""
RESUME_STEPS = 1536
"""Checkpoints at 512 and 1,024 steps, evaluations at 1,024 and at the end (1,536)."""


@pytest.fixture(scope="module")
def uninterrupted_ppo(tmp_path_factory):
    """The folder of the resume tests' PPO training (paper.yaml with RESUME_RL, seed 0,
    RESUME_STEPS) never interrupted: trained once for the module, the reference each
    interrupted or failed training's resume must equal (the tests only read it)."""
    from netsim.loading import load_scenario

    folder = tmp_path_factory.mktemp("uninterrupted")
    scenario_file = folder / "tiny.yaml"
    scenario_file.write_text((ROOT / "scenarios" / "paper.yaml").read_text() + RESUME_RL)
    return Path(train(load_scenario(scenario_file), "ppo", folder / "whole",
                      steps=RESUME_STEPS, seed=0, progress=False)).parent


@pytest.mark.parametrize(("algo", "stop"), [("ppo", signal.SIGINT)])
def test_a_training_interrupted_resumes_to_the_uninterrupted_result(tmp_path, algo, stop,
                                                                   uninterrupted_ppo):
    """Interrupted (SIGINT, Ctrl-C) after its first checkpoint, then resumed: the same
    final weights, bit for bit, and the same learning curve (wall-clock column aside) as
    a run never interrupted (the module's, trained once: uninterrupted_ppo). (SIGKILL at
    every file operation: test_killpoints.py.)"""
    import torch

    assert algo == "ppo"  # the uninterrupted reference is PPO's
    scenario_file = tmp_path / "tiny.yaml"
    scenario_file.write_text((ROOT / "scenarios" / "paper.yaml").read_text() + RESUME_RL)

    def command(out):  # checkpoints at 512 and 1,024 steps, evaluations at 1,024 and at
        # the end (1,536): the part resumed after the first checkpoint writes both kinds
        return [sys.executable, "-m", "netsim", "train", str(scenario_file), "--steps",
                str(RESUME_STEPS), "--algo", algo, "--out", str(out), "--no-progress"]

    out = tmp_path / "killed"
    # Ctrl-C as at a terminal: a shell that starts background jobs without job control
    # (e.g. CI run with &) makes them ignore SIGINT, and Python keeps an ignored SIGINT
    process = subprocess.Popen(command(out), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list((out / "checkpoints").glob("step_*")) and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, stop)
    _, stderr = process.communicate()
    if stop == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:  # Ctrl-C: one line that says how to go on, exit 130
        assert process.returncode == 130
        assert stderr.strip().splitlines()[-1] == (
            f"netsim: interrupted; resume with --resume --steps {RESUME_STEPS} --out {out}")
    assert not (out / "model.zip").exists()
    resumed = subprocess.run(command(out) + ["--resume"], capture_output=True, text=True,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr
    cls = ALGORITHMS[algo][1]
    whole = cls.load(uninterrupted_ppo / "model.zip", device="cpu").policy.state_dict()
    again = cls.load(out / "model.zip", device="cpu").policy.state_dict()
    assert whole.keys() == again.keys()
    assert all(torch.equal(whole[k], again[k]) for k in whole)
    curves = [pd.read_csv(folder / "learning_curve.csv").drop(columns="wall_time_s")
              for folder in (uninterrupted_ppo, out)]
    pd.testing.assert_frame_equal(*curves)
    if algo != "ppo":  # off-policy checkpoints carry the replay buffer, the latest only
        assert len(list((out / "checkpoints").glob("step_*/replay.pkl"))) == 1


def test_a_training_folder_takes_one_training(tmp_path):
    """A fresh training into a folder holding one, or a resume with another scenario,
    algorithm or seed, is refused with one line; a finished one resumes to itself."""
    from typer.testing import CliRunner

    from netsim.cli import app

    scenario_file = tmp_path / "tiny.yaml"
    base = (ROOT / "scenarios" / "paper.yaml").read_text()
    scenario_file.write_text(base + RESUME_RL)
    out = tmp_path / "run"
    args = ["train", str(scenario_file), "--steps", "256", "--algo", "ppo", "--out", str(out),
            "--no-progress"]
    assert CliRunner().invoke(app, args).exit_code == 0
    model = (out / "model.zip").read_bytes()
    cases = [(args, "already holds a training"),
             ([*args[:5], "dqn", *args[6:], "--resume"], "another algorithm"),
             ([*args, "--seed", "3", "--resume"], "another seed")]
    edited = tmp_path / "edited.yaml"
    edited.write_text(base.replace("slots: 200", "slots: 201") + RESUME_RL)
    cases.append(([args[0], str(edited), *args[2:], "--resume"], "another scenario"))
    for argv, problem in cases:
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2, (argv, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and problem in lines[0], result.output
    assert CliRunner().invoke(app, [*args, "--resume"]).exit_code == 0
    assert (out / "model.zip").read_bytes() == model  # finished: nothing redone


def test_a_trained_model_is_a_scheduler_in_netsim_run(trained, tmp_path):
    from netsim.loading import load_scenario
    from netsim.simulation.runner import run_scenario

    _, out, path = trained
    scenario_file = tmp_path / "compare.yaml"
    scenario_file.write_text(
        (out / "scenario.yaml").read_text().split("schedulers:")[0]
        + f"schedulers:\n  - {{type: rl, algo: ppo, model_path: {path}}}\n  - random\n"
    )
    scenario = load_scenario(scenario_file).model_copy(update={"seeds": [7], "slots": 40})
    summary = run_scenario(scenario).summary.set_index("scheduler")
    assert summary.loc["rl_ppo_" + str(path), "served_fraction"] == 1.0
    assert (summary.loc["rl_ppo_" + str(path), "mean_reward"]
            > summary.loc["random", "mean_reward"])


def test_a_run_folder_with_a_relative_model_path_runs_again(trained, tmp_path):
    """A scenario naming its agent relative to its own folder, reached through a link:
    the run folder's scenario.yaml names the agent the run used (links followed, as the
    loader follows them: "link/../agent" is not "agent"), so that it loads and runs again
    from there, with the same records; validate accepts it too. A run into a folder that
    holds the agent it runs is refused (the run would delete it with the folder)."""
    from typer.testing import CliRunner

    from netsim.cli import app

    _, out, _ = trained
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (real / "agent").mkdir()
    for name in ("model.zip", "scenario.yaml"):
        shutil.copy(out / name, real / "agent" / name)
    (tmp_path / "link").symlink_to(real / "sub")
    text = ((out / "scenario.yaml").read_text().split("schedulers:")[0]
            + "schedulers:\n  - {type: rl, algo: ppo, model_path: ../agent/model.zip, "
            "label: agent}\n")
    (real / "sub" / "compare.yaml").write_text(text)
    first, again = tmp_path / "runs" / "first", tmp_path / "runs" / "again"
    for source, target in ((tmp_path / "link" / "compare.yaml", first),
                           (first / "scenario.yaml", again)):
        result = CliRunner().invoke(app, ["run", str(source), "--out", str(target),
                                          "--seeds", "3", "--no-progress"])
        assert result.exit_code == 0, result.output
    written = (first / "scenario.yaml").read_text()
    assert f"model_path: {(real / 'agent' / 'model.zip').resolve()}" in written
    assert (again / "records.csv").read_bytes() == (first / "records.csv").read_bytes()
    assert CliRunner().invoke(app, ["validate", str(first / "scenario.yaml")]).exit_code == 0
    shutil.copytree(real / "agent", first / "agent")
    (first / "inside.yaml").write_text(text.replace("../agent/", "agent/"))
    before = sorted(p.name for p in first.iterdir())
    result = CliRunner().invoke(app, ["run", str(first / "inside.yaml"), "--out", str(first),
                                      "--no-progress"])
    assert result.exit_code == 2 and "holds agent/model.zip, an agent this scenario runs" \
        in result.output
    assert sorted(p.name for p in first.iterdir()) == before


def test_trainings_and_sweeps_with_an_agent_named_relative_to_their_file(trained, tmp_path):
    """A scenario that lists a trained agent by a path relative to its file: a training
    stopped before its first checkpoint resumes (its scenario.yaml names the agent for
    its folder), and a training sweep's points run it (each point's scenario is read
    from the point's folder; every point failed after its training)."""
    from typer.testing import CliRunner

    from netsim.cli import app

    _, out, _ = trained
    (tmp_path / "agent").mkdir()
    for name in ("model.zip", "scenario.yaml"):
        shutil.copy(out / name, tmp_path / "agent" / name)
    text = ((out / "scenario.yaml").read_text().split("schedulers:")[0]
            + "schedulers:\n  - {type: rl, algo: ppo, model_path: agent/model.zip, "
            "label: agent}\n")
    scenario = tmp_path / "train.yaml"
    scenario.write_text(text)
    training = ["train", str(scenario), "--steps", "64", "--out", str(tmp_path / "tr"),
                "--no-progress"]
    assert CliRunner().invoke(app, training).exit_code == 0
    for name in ("model.zip", "finished.json", "checkpoints"):  # what a kill leaves
        path = tmp_path / "tr" / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    from netsim.verbosity import NetsimWarning

    with pytest.warns(NetsimWarning, match="no checkpoint to resume from yet"):
        result = CliRunner().invoke(app, [*training, "--resume"])
    assert result.exit_code == 0, result.output
    import yaml

    data = yaml.safe_load(text)
    data.update(seeds=[0], slots=4, sweep={"kind": "train", "algo": "ppo",
                                           "grid": {"rl.total_steps": [64]}})
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "sw"),
                                      "--workers", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    points = [p for p in (tmp_path / "sw").iterdir() if (p / "done.json").is_file()]
    assert len(points) == 1
    records = pd.read_csv(points[0] / "records.csv")
    assert {"agent", "ppo"} <= set(records["scheduler"])


def test_a_trained_model_schedules_inside_the_closed_loop(trained):
    """The same trained policy acts at each slot boundary of the DES (it sees the
    paper's state, no queue): its waiting users are served, every request accounted."""
    from netsim.scenario import SchedulerEntry
    from netsim.simulation.runner import run_scenario

    scenario, _, path = trained
    assert scenario.users.count <= scenario.cell.n_rbs
    scenario = scenario.model_copy(update={
        "seeds": [7], "slots": 30, "delay_model": "des", "slot_duration_s": 0.5,
        "schedulers": [SchedulerEntry(type="rl", algo="ppo", model_path=str(path)),
                       SchedulerEntry(type="random")]})
    records = run_scenario(scenario).records
    mine = records[records["scheduler"] == f"rl_ppo_{path}"]
    assert len(mine) > 0 and mine["outcome"].isin(["served", "unserved"]).all()
    assert mine["served"].mean() > 0.9


@pytest.mark.parametrize(
    "entry, problem",
    [("{type: rl, model_path: nowhere.zip}", "no such file"),
     ("{type: rl, model_path: MODEL}", "trained with users.count = 3, this scenario has 5")],
)
def test_rl_scheduler_entries_are_checked(trained, tmp_path, entry, problem):
    from netsim.errors import ScenarioError
    from netsim.loading import load_scenario

    _, _, path = trained
    scenario_file = tmp_path / "bad.yaml"
    text = (ROOT / "scenarios" / "paper.yaml").read_text().split("schedulers:")[0]
    scenario_file.write_text(text + "schedulers:\n  - " + entry.replace("MODEL", str(path)) + "\n")
    with pytest.raises(ScenarioError, match=r"schedulers\[0\]\.model_path: .*" + problem):
        load_scenario(scenario_file)


@pytest.mark.parametrize("users, rbs, voluntary", [(5, 6, False), (7, 3, False), (3, 4, True)])
def test_masks_can_be_read_back_from_observations(users, rbs, voluntary):
    from netsim.rl.env import MaskSpec, masks_from_observations

    scenario = make_scenario(users={"count": users, "voluntary_drop": voluntary},
                             cell={"n_rbs": rbs}, rl={"episode_slots": 5})
    env = SlotAssignmentEnv(scenario)
    spec = MaskSpec.from_scenario(scenario)
    observation, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    terminated = False
    while not terminated:
        mask = env.action_masks()
        np.testing.assert_array_equal(masks_from_observations(observation, spec)[0], mask)
        observation, _, terminated, _, _ = env.step(int(rng.choice(np.flatnonzero(mask))))
    # the episode's last (all-zero) observation: every action, with voluntary drop too
    assert not observation.any() and env.action_masks().all()
    assert masks_from_observations(observation, spec).all()


def test_steps_to_95_percent_of_the_final_score():
    from solvers.rl.compare import steps_to_fraction

    steps = np.array([100, 200, 300, 400])
    assert steps_to_fraction(steps, np.array([0.2, 0.5, 0.96, 1.0])) == 300
    assert steps_to_fraction(steps, np.array([0.2, 0.99, 0.9, 1.0])) == 200


def test_compare_trains_every_algorithm_and_seed(tmp_path):
    from solvers.rl.compare import compare

    scenario = make_scenario(rl={**FAST_RL, "eval_every_steps": 512, "eval_slots": 5,
                                 "learning_starts": 256}, **SMALL_CELL)
    table = compare(scenario, ["ppo", "sac"], [0, 1], 1024, tmp_path, progress=False)
    assert list(table["algo"]) == ["ppo", "sac"] and (table["seeds"] == 2).all()
    assert table["final_score_vs_statistical"].between(0, 1.5).all()
    curves = pd.read_csv(tmp_path / "curves.csv")
    assert sorted(curves["env_steps"].unique()) == [512, 1024]
    assert (tmp_path / "convergence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for algo in ("ppo", "sac"):
        for seed in (0, 1):
            assert (tmp_path / f"{algo}-s{seed}" / "model.zip").is_file()


def test_env_observations_equal_the_schedulers_encoding():
    """The env's precomputed path and ObservationEncoder.encode (used by the RL
    scheduler in netsim run) give the same vector."""
    env = SlotAssignmentEnv(make_scenario(users={"arrivals": {"probability": 0.7}}))
    observation, _ = env.reset(seed=2)
    rng = np.random.default_rng(2)
    terminated = False
    while not terminated:
        world, slot, user = env.world, env.slot, env.current_user
        mean_snr = env.model.snr(world.distance_m[slot], 1.0, world.interference_w[slot])
        expected = env.observer.encode(world.interference_w[slot], env.assignment.free,
                                       world.distance_m[slot], world.cpu_hz_by_slot[slot],
                                       user, mean_snr, env.assignment.users_left)
        np.testing.assert_allclose(observation, expected, rtol=1e-6, atol=1e-6)
        mask = env.action_masks()
        observation, _, terminated, _, _ = env.step(int(rng.choice(np.flatnonzero(mask))))


@pytest.mark.parametrize("expectation", ["exact", "quantiles"])
def test_expected_reward_model_rewards_the_expected_cost_and_reports_the_realised(
        expectation):
    """The reward is the statistical schedulers' expected cost: the exact integral
    (netsim.model.expectation), or the mean of the eq. 11 cost over the fading nodes."""
    from netsim.model import expectation as exact_expectation

    scenario = make_scenario(rl={"reward_model": "expected", "episode_slots": 2},
                             statistical={"expectation": expectation})
    env = SlotAssignmentEnv(scenario)
    env.reset(seed=4)
    user, slot = env.current_user, env.slot
    world = env.world
    mean_snr = env.model.snr(world.distance_m[slot], 1.0, world.interference_w[slot])
    cpu_hz = world.cpu_hz_by_slot[slot]
    if expectation == "exact":
        expected = exact_expectation.expected_cost(env.model, mean_snr, cpu_hz)
    else:
        nodes = env.model.fading_nodes()
        expected = sum(env.model.cost(mean_snr * node, cpu_hz) for node in nodes) / nodes.size
    _, reward, _, _, info = env.step(2 * env.n_rbs + 1)  # encoder 2 on RB 1
    assert reward == pytest.approx(-0.1 * expected[user, 2, 1], rel=1e-6 if expectation
                                   == "exact" else 1e-4)
    assert info["cost"] == pytest.approx(env.slot_costs(slot)[0][user, 2, 1])


@pytest.mark.parametrize(("cell", "n_slots"), [
    ({}, 65), *[({"users": {"count": 1}, "cell": {"n_rbs": 1}, "encoders": ["ViT-B-32"],
                 "schedulers": ["random"]}, n) for n in (33, 65)]])
def test_costs_computed_chunk_by_chunk_are_those_of_the_whole_world(cell, n_slots):
    """The environment computes a world's costs COST_CHUNK slots at a time: bit for bit
    the costs of the whole world at once (also in a one-user, one-RB, one-encoder cell,
    where numpy would sum a lone slot's axis in another order), whichever slot comes
    first."""
    from netsim.model.world import generate_world

    scenario = make_scenario(slots=n_slots, **cell)
    env = SlotAssignmentEnv(scenario)
    model = env.model
    for seed in (3, 5, 7):  # 5 and 7: a lone slot's sum in a one-element cell differs
        world = generate_world(scenario, seed)
        whole = model.cost(model.snr(world.distance_m, world.fading, world.interference_w),
                           world.cpu_hz_by_slot)
        mean_snr = model.snr(world.distance_m, 1.0, world.interference_w)
        expected = model.expected_cost_at(mean_snr, world.cpu_hz_by_slot)
        for order in (range(n_slots), reversed(range(n_slots))):
            env.load_world(world)
            for slot in order:
                realised, reward = env.slot_costs(slot)
                assert realised.tobytes() == whole[slot].tobytes(), (seed, slot)
                assert reward.tobytes() == expected[slot].tobytes(), (seed, slot)


def test_an_environment_pickled_before_chunks_goes_on_alike():
    """An environment pickled (in a training checkpoint) by a version that held the whole
    world's costs unpickles into this one and steps exactly as if never pickled."""
    import pickle

    scenario = make_scenario(rl={"episode_slots": 7, "world_slots": 40})
    env = SlotAssignmentEnv(scenario)
    env.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(9):
        env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
    state = pickle.loads(pickle.dumps(env)).__dict__
    del state["_chunk"]  # what the earlier version pickled instead
    n = env.world.n_slots
    state.update(realised_cost=np.zeros((n, 5, 3, 6)), reward_cost=np.zeros((n, 5, 3, 6)),
                 _templates=[None] * n, _snr_feature=np.zeros((n, 5, 6)))
    old = SlotAssignmentEnv.__new__(SlotAssignmentEnv)
    old.__setstate__(state)
    for _ in range(60):
        action = int(rng.choice(np.flatnonzero(env.action_masks())))
        assert np.array_equal(env.action_masks(), old.action_masks())
        ours, theirs = env.step(action), old.step(action)
        assert ours[0].tobytes() == theirs[0].tobytes() and ours[1:4] == theirs[1:4]
        if ours[2]:
            assert env.reset()[0].tobytes() == old.reset()[0].tobytes()


def test_a_training_episode_without_a_request_is_passed_over():
    """With sparse requests (each user asks in a slot with probability 0.1), a reset
    passes over one-slot episodes nobody asks in: every episode starts with a user to
    assign, and an episode is never empty; with nobody ever asking, an error naming the
    key to raise."""
    from netsim.simulation.runner import NoRequestsError

    scenario = make_scenario(users={"arrivals": {"probability": 0.1}})
    env = SlotAssignmentEnv(scenario)
    env.reset(seed=0)
    skipped = 0
    for _ in range(400):
        assert env.assignment.users and env.world.active[env.slot].any()
        _, _, terminated, _, _ = env.step(int(np.flatnonzero(env.action_masks())[0]))
        if terminated:
            world, first = env.world, env.stop
            env.reset()
            passed = range(first if env.world is world else 0, env.slot)
            assert not env.world.active[list(passed)].any()
            skipped += len(passed)
    assert skipped > 0  # some empty one-slot worlds were passed over
    nobody = SlotAssignmentEnv(make_scenario(users={"arrivals": {"probability": 1e-12}}))
    with pytest.raises(NoRequestsError, match="rl.episode_slots"):
        nobody.reset(seed=0)  # one clear line from netsim train, not a traceback


def test_an_evaluation_passes_over_worlds_without_a_request():
    """Evaluation worlds nobody asks in are scored as netsim run scores seeds without
    requests: they add no request (and a return of 0); with none asking at all, one
    clear error."""
    from netsim.simulation.runner import NoRequestsError

    scenario = make_scenario(users={"arrivals": {"probability": 0.1}}, rl={"eval_slots": 1})
    env = SlotAssignmentEnv(scenario.model_copy(
        update={"rl": scenario.rl.model_copy(update={"episode_slots": 1})}))
    seeds = list(range(10_000, 10_012))
    asked = []
    for seed in seeds:
        observation, _ = env.reset(options={"world_seed": seed})
        if env.awaiting_action:
            asked.append(seed)
        else:
            assert not observation.any()
            with pytest.raises(gymnasium.error.ResetNeeded, match="reset"):
                env.step(0)  # not an IndexError from inside
    assert 0 < len(asked) < len(seeds)
    every = evaluate_policy(random_policy(np.random.default_rng(0)), scenario, seeds)
    some = evaluate_policy(random_policy(np.random.default_rng(0)), scenario, asked)
    assert every["score_vs_statistical"] == some["score_vs_statistical"]
    assert every["mean_return"] * len(seeds) == pytest.approx(some["mean_return"] * len(asked))
    with pytest.raises(NoRequestsError, match="rl.eval_slots"):
        evaluate_policy(random_policy(np.random.default_rng(0)), scenario,
                        sorted(set(seeds) - set(asked)))


@pytest.mark.parametrize("delay_model", ["analytic", "des"])
def test_a_training_whose_evaluation_worlds_hold_no_request_is_refused_up_front(
        tmp_path, delay_model):
    """No request in any evaluation world: netsim train says so in one line naming the
    keys, exit 2, before writing anything (not at its first evaluation)."""
    import yaml
    from typer.testing import CliRunner

    from netsim.cli import app

    data = yaml.safe_load((ROOT / "scenarios" / "paper.yaml").read_text())
    data["rl"] = {"eval_slots": 2, "eval_seeds": [10_000, 10_001], "episode_slots": 2}
    data["users"]["arrivals"] = ({"model": "poisson", "rate_per_s": 1e-9}
                                 if delay_model == "des" else {"probability": 1e-12})
    data["delay_model"] = delay_model
    scenario_file = tmp_path / "silent.yaml"
    scenario_file.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["train", str(scenario_file), "--steps", "64", "--out",
                                      str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "rl.eval_seeds" in lines[0] and "rl.eval_slots" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("delay_model", ["analytic", "des"])
def test_a_training_whose_episodes_hold_no_request_writes_nothing(tmp_path, monkeypatch,
                                                                   delay_model):
    """Evaluation worlds with requests, but training episodes so short that the
    environment finds none with a request in its draws (3 here, 10,000 and 1,000 by
    default): netsim train and netsim compare say so in one line, exit 2, before writing
    anything (the training's folder was left started)."""
    import yaml
    from typer.testing import CliRunner

    from netsim.cli import app
    from netsim.rl import env, queue_env

    monkeypatch.setattr(env, "MAX_EMPTY_EPISODES", 3)
    monkeypatch.setattr(queue_env, "MAX_EMPTY_WORLDS", 3)
    data = yaml.safe_load((ROOT / "scenarios" / "paper.yaml").read_text())
    data["rl"] = {"eval_slots": 3000, "eval_seeds": [10_000], "episode_slots": 2,
                  "eval_every_steps": 64}
    data["users"]["arrivals"] = ({"model": "poisson", "rate_per_s": 0.002}
                                 if delay_model == "des" else {"probability": 0.0002})
    data["delay_model"] = delay_model
    scenario_file = tmp_path / "rare.yaml"
    scenario_file.write_text(yaml.safe_dump(data))
    for command in (["train", "--steps", "64"], ["compare", "--algos", "ppo", "--seeds", "0",
                                                 "--steps", "64"]):
        out = tmp_path / command[0]
        result = CliRunner().invoke(app, [command[0], str(scenario_file), *command[1:],
                                          "--out", str(out), "--no-progress"])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "in 3 " in lines[0] and "rl.episode_slots" in lines[0]
        assert not out.exists() and not (tmp_path / f".{command[0]}.lock").exists()


@pytest.mark.parametrize("command", [["train", "--seed"], ["compare", "--seeds"],
                                     ["tune", "--seed"]])
def test_a_training_seed_over_2_to_the_32_is_one_line(tmp_path, command):
    """stable-baselines3 seeds numpy's legacy generator with the training seed, which
    takes at most 2**32 - 1: refused before anything is written (it failed after the
    folder was made, without naming the option)."""
    from typer.testing import CliRunner

    from netsim.cli import app

    source = ROOT / "scenarios" / ("sweeps/ppo_sensitivity.yaml" if command[0] == "tune"
                                   else "paper.yaml")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [command[0], str(source), command[1], str(2**32),
                                      "--out", str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"netsim: {command[1]}: 4294967296"), lines
    assert not any(tmp_path.iterdir())


def test_training_episodes_walk_through_a_world_before_drawing_the_next():
    env = SlotAssignmentEnv(make_scenario(rl={"episode_slots": 2, "world_slots": 6}))
    env.reset(seed=0)
    worlds, starts = [], []
    for _ in range(5):
        worlds.append(id(env.world))
        starts.append(env.slot)
        terminated = False
        while not terminated:
            _, _, terminated, _, _ = env.step(int(np.flatnonzero(env.action_masks())[0]))
        env.reset()
    assert starts == [0, 2, 4, 0, 2]
    assert worlds[0] == worlds[1] == worlds[2] != worlds[3] == worlds[4]


def test_one_slot_training_episodes_each_get_a_new_world():
    env = SlotAssignmentEnv(make_scenario())
    env.reset(seed=0)
    layouts = []
    for _ in range(300):  # past one block of snapshots
        layouts.append(tuple(env.world.distance_m[env.slot]))
        terminated = False
        while not terminated:
            _, _, terminated, _, _ = env.step(int(np.flatnonzero(env.action_masks())[0]))
        env.reset()
    assert len(set(layouts)) == 300


@pytest.mark.parametrize("order", ["farthest_first", "index"])
def test_users_are_assigned_in_the_documented_order(order):
    env = SlotAssignmentEnv(make_scenario(rl={"user_order": order, "episode_slots": 4},
                                          users={"arrivals": {"probability": 0.8}}))
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    sequence, terminated = [], False
    while not terminated:
        sequence.append(env.current_user)
        _, _, terminated, _, info = env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
        if "slot_steps" in info:
            slot = info["slot"]
            active = np.flatnonzero(env.world.active[slot])
            key = -env.world.distance_m[slot][active] if order == "farthest_first" else active
            assert sequence == list(active[np.argsort(key, kind="stable")])
            sequence = []


def test_the_rl_scheduler_decides_as_the_policy_acts_in_the_environment(trained):
    """netsim run's RL scheduler takes the users in the training order and, with the same
    model, makes the same decisions as the policy stepping the environment."""
    from netsim.simulation.registry import scheduler_class
    from netsim.simulation.scheduling import SchedulingProblem, SlotObservation

    scenario, _, path = trained
    cls = scheduler_class("rl")
    params = cls.Params(algo="ppo", model_path=str(path))
    scheduler = cls(params, np.random.default_rng(0))
    act = masked_predict(scheduler.model)
    env = SlotAssignmentEnv(scenario)
    for world_seed in range(11, 17):
        observation, _ = env.reset(options={"world_seed": world_seed})
        world, model, slot = env.world, env.model, env.slot
        decisions = None
        while decisions is None:
            observation, _, _, _, info = env.step(act(observation, env.action_masks()))
            decisions = info.get("slot_steps")
        users = np.flatnonzero(world.active[slot])
        mean_snr = model.snr(world.distance_m[slot], 1.0, world.interference_w[slot])
        problem = SchedulingProblem(
            env.slot_costs(slot)[0][users], env.penalty[users], tuple(scenario.encoders),
            scenario.users.voluntary_drop,
            SlotObservation(users, world.distance_m[slot], world.user_cpu_hz,
                            world.interference_w[slot], mean_snr),
        )
        allocation = scheduler.decide(problem)
        by_user = {step.user: (step.encoder, step.rb) for step in decisions}
        for row, user in enumerate(users):
            assert (allocation.encoder[row], allocation.rb[row]) == by_user[user]


def test_the_observation_tells_who_is_assigned_with_which_snr_and_clock():
    env = SlotAssignmentEnv(make_scenario())
    observation, _ = env.reset(seed=8)
    for _ in range(3):
        user, mean_snr, clock_hz = env.observer.current_user(observation)
        world, slot = env.world, env.slot
        assert user == env.current_user
        np.testing.assert_allclose(
            mean_snr, env.model.snr(world.distance_m[slot], 1.0, world.interference_w[slot])[user],
            rtol=1e-5)
        assert clock_hz == pytest.approx(world.cpu_hz_by_slot[slot][user], rel=1e-6)
        observation, *_ = env.step(int(np.flatnonzero(env.action_masks())[0]))


def test_the_myopic_reference_takes_each_users_cheapest_valid_action():
    from netsim.rl.evaluation import myopic_policy

    scenario = make_scenario(rl={"reward_model": "expected"})
    env = SlotAssignmentEnv(scenario)
    act = myopic_policy(scenario)
    observation, _ = env.reset(seed=9)
    terminated = False
    while not terminated:
        mask = env.action_masks()
        expected = np.append(env.slot_costs(env.slot)[1][env.current_user].ravel(), np.inf)
        action = act(observation, mask)
        assert mask[action]
        assert expected[action] == pytest.approx(expected[mask].min())
        observation, _, terminated, _, _ = env.step(action)


@pytest.mark.parametrize(("operation", "failing_call"),
                         [("replace", 1), ("replace", 2), ("rename", 1), ("rename", 2)])
@pytest.mark.filterwarnings(  # the first checkpoint's failure leaves none to resume from
    "ignore:.*no checkpoint to resume from yet:netsim.verbosity.NetsimWarning")
def test_a_training_whose_file_write_fails_resumes_to_the_uninterrupted_result(
        tmp_path, failing_nth_call, operation, failing_call, uninterrupted_ppo):
    """The N-th learning-curve write (os.replace of an atomic write) or checkpoint
    publication (os.rename of its staging folder) fails, as on a full disk: --resume
    then ends with the uninterrupted run's weights (the module's: uninterrupted_ppo),
    bit for bit."""
    import torch

    import netsim.io
    from netsim.loading import load_scenario
    from solvers.rl import training

    scenario_file = tmp_path / "tiny.yaml"
    scenario_file.write_text((ROOT / "scenarios" / "paper.yaml").read_text() + RESUME_RL)
    scenario = load_scenario(scenario_file)

    def weights(out):
        model = ALGORITHMS["ppo"][1].load(out / "model.zip", device="cpu")
        return model.policy.state_dict()

    whole = weights(uninterrupted_ppo)
    module = netsim.io.os if operation == "replace" else training.os
    out = tmp_path / "faulted"
    with failing_nth_call(module, operation, failing_call), pytest.raises(OSError):
        train(scenario, "ppo", out, steps=RESUME_STEPS, seed=0, progress=False)
    assert not (out / "model.zip").exists()
    train(scenario, "ppo", out, steps=RESUME_STEPS, seed=0, resume=True, progress=False)
    again = weights(out)
    assert all(torch.equal(whole[k], again[k]) for k in whole)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_a_size_free_training_on_two_environments_resumes_exactly(tmp_path,
                                                                  failing_nth_call, algo):
    """rl.n_envs: 2 and rl.policy: size_free: both environments are in the checkpoint,
    so a training whose second checkpoint publication fails resumes to the
    uninterrupted run's weights and curve; the two environments play different worlds."""
    import torch

    from netsim.loading import load_scenario
    from solvers.rl import training

    scenario_file = tmp_path / "tiny.yaml"
    scenario_file.write_text((ROOT / "scenarios" / "paper.yaml").read_text()
                             + RESUME_RL.replace("}", ", n_envs: 2, policy: size_free,"
                                                      " net_arch: [16]}"))
    scenario = load_scenario(scenario_file)
    venv = training.make_env(scenario, 0)
    first = venv.reset()
    assert first.shape[0] == 2 and not np.array_equal(first[0], first[1])

    def result(out):
        model = ALGORITHMS[algo][1].load(out / "model.zip", device="cpu")
        return (model.policy.state_dict(),
                pd.read_csv(out / "learning_curve.csv").drop(columns="wall_time_s"))

    whole, whole_curve = result(Path(train(scenario, algo, tmp_path / "whole", steps=1536,
                                           seed=0, progress=False)).parent)
    out = tmp_path / "faulted"
    with failing_nth_call(training.os, "rename", 2), pytest.raises(OSError):
        train(scenario, algo, out, steps=1536, seed=0, progress=False)
    train(scenario, algo, out, steps=1536, seed=0, resume=True, progress=False)
    again, again_curve = result(out)
    assert all(torch.equal(whole[k], again[k]) for k in whole)
    pd.testing.assert_frame_equal(whole_curve, again_curve)


def test_a_training_resumes_only_to_its_own_budget(tmp_path):
    """Resuming a finished 512-step training with --steps 256 replaced its model by a
    256-step one; with --steps 768, or a killed training with another budget, it gave a
    model that matched neither an uninterrupted training of the old budget nor one of
    the new (the linear learning rate and DQN's exploration span the budget). netsim
    compare, which resumes every training, did the same. Now either is one line naming
    both budgets, before anything changes (the budget read from finished.json, or from
    the latest checkpoint); the training's scenario.yaml records its budget as
    rl.total_steps, and a folder of the version before, whose scenario.yaml holds the
    file's, still resumes to its own budget."""
    import yaml

    from solvers.rl.compare import compare
    from solvers.rl.training import TrainingFolderError, train

    scenario = make_scenario(rl={**FAST_RL, "eval_every_steps": 256, "eval_slots": 2,
                                 "eval_seeds": [10_000], "checkpoint_every_steps": 256},
                             **SMALL_CELL)
    out = tmp_path / "ppo-s0"
    train(scenario, "ppo", out, steps=512, seed=0, progress=False)
    written = yaml.safe_load((out / "scenario.yaml").read_text())
    assert written["rl"]["total_steps"] == 512 != scenario.rl.total_steps
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    for steps in (256, 768):
        with pytest.raises(TrainingFolderError, match=rf"holds a training of 512 steps, "
                           rf"not the {steps} of --steps"):
            train(scenario, "ppo", out, steps=steps, seed=0, resume=True, progress=False)
        with pytest.raises(TrainingFolderError, match=rf"ppo-s0: holds a training of 512 "
                           rf"steps, not the {steps} of --steps"):
            compare(scenario, ["ppo"], [0], steps, tmp_path, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not (tmp_path / "compare.csv").exists()
    # a folder written before the budget was recorded in scenario.yaml (which held the
    # file's rl.total_steps) resumes to its own budget, and only to it
    written = (out / "scenario.yaml").read_text()
    (out / "scenario.yaml").write_text(written.replace("total_steps: 512", "total_steps: "
                                                       f"{scenario.rl.total_steps}"))
    train(scenario, "ppo", out, steps=512, seed=0, resume=True, progress=False)  # nothing
    record = (out / "finished.json").read_bytes()
    (out / "finished.json").write_bytes(record[:12])  # damaged: one line, not a JSON error
    with pytest.raises(TrainingFolderError, match=r"finished.json is damaged .*remove it"):
        train(scenario, "ppo", out, steps=512, seed=0, resume=True, progress=False)
    (out / "finished.json").write_bytes(record)
    with pytest.raises(TrainingFolderError, match=r"512 steps, not the "
                       rf"{scenario.rl.total_steps} of rl.total_steps"):
        train(scenario, "ppo", out, seed=0, resume=True, progress=False)
    with pytest.raises(TrainingFolderError, match="another algorithm"):  # named first
        train(scenario, "dqn", out, steps=256, seed=0, resume=True, progress=False)
    for name in ("finished.json", "model.zip"):  # as a training killed after a checkpoint
        (out / name).unlink()
    (out / "scenario.yaml").write_text(written)
    with pytest.raises(TrainingFolderError, match=r"512 steps, not the 768 of --steps"):
        train(scenario, "ppo", out, steps=768, seed=0, resume=True, progress=False)
    with pytest.raises(TrainingFolderError, match=r"ppo-s0: holds a training of 512"):
        compare(scenario, ["ppo"], [0], 768, tmp_path, progress=False)
    train(scenario, "ppo", out, steps=512, seed=0, resume=True, progress=False)  # its own
    # killed before its first checkpoint: nothing is reused, so any budget is its own;
    # the resume says it starts again (it was silent)
    from netsim.verbosity import NetsimWarning

    shutil.rmtree(out / "checkpoints")
    for name in ("finished.json", "model.zip"):
        (out / name).unlink()
    with pytest.warns(NetsimWarning, match=r"no checkpoint to resume from yet .* starts "
                      r"again from step 0, to 256 steps"):
        train(scenario, "ppo", out, steps=256, seed=0, resume=True, progress=False)
    assert json.loads((out / "finished.json").read_text())["steps"] == 256


def write_curve(folder, steps, score):
    folder.mkdir()
    pd.DataFrame({"env_steps": steps, "mean_return": score, "score_vs_statistical": score,
                  "score_vs_oracle": score}).to_csv(folder / "learning_curve.csv")


def test_compares_final_scores_are_each_trainings_last_evaluation(tmp_path):
    """A budget (100) that is not a multiple of rl.eval_every_steps (64): the final
    columns were the mean at step 64, dropping the final evaluations (PPO's at 128, the
    end of its last rollout, DQN's at 100); now they are each run's last evaluation,
    the curves end at the budget, and final_env_steps says where each run ended."""
    from solvers.rl.compare import aligned_curves, compare_table, learning_curves

    write_curve(tmp_path / "ppo-s0", [64, 128], [0.5, 0.1])
    write_curve(tmp_path / "ppo-s1", [64, 128], [0.6, 0.9])
    write_curve(tmp_path / "dqn-s0", [64, 100], [0.2, 0.4])
    write_curve(tmp_path / "dqn-s1", [64, 100], [0.3, 0.6])
    runs = learning_curves(tmp_path, ["ppo", "dqn"], [0, 1])
    table = compare_table(runs).set_index("algo")
    assert table.loc["ppo", "final_score_vs_statistical"] == pytest.approx(0.5)
    assert table.loc["dqn", "final_score_vs_statistical"] == pytest.approx(0.5)
    assert table["final_env_steps"].to_dict() == {"ppo": 128.0, "dqn": 100.0}
    assert sorted(aligned_curves(runs, 64, 100)["env_steps"].unique()) == [64, 100]


def test_compare_shows_no_value_before_a_runs_first_evaluation(tmp_path):
    """PPO's long rollout evaluates first at 128 steps, SAC at 64: on the common grid
    PPO has nothing at 64 (not its first value repeated), and steps to 95 % of its final
    score cannot come before its first evaluation."""
    from solvers.rl.compare import (
        aligned_curves,
        compare_table,
        learning_curves,
        summarise_curves,
    )

    for run, steps, score in (("ppo-s0", [128, 256], [0.96, 1.0]),
                              ("sac-s0", [64, 128, 192, 256], [0.5, 0.7, 0.9, 1.0])):
        write_curve(tmp_path / run, steps, score)
    runs = learning_curves(tmp_path, ["ppo", "sac"], [0])
    aligned = aligned_curves(runs, 64, 256)
    ppo = aligned[(aligned["algo"] == "ppo") & (aligned["metric"] == "score_vs_statistical")]
    assert ppo.set_index("env_steps")["value"].isna().to_dict() == {
        64: True, 128: False, 192: False, 256: False}
    table = compare_table(runs).set_index("algo")
    assert table.loc["ppo", "steps_to_95pct_of_final_score"] == 128
    assert table.loc["sac", "steps_to_95pct_of_final_score"] == 256
    curves = summarise_curves(aligned)
    assert curves.loc[(curves["algo"] == "ppo") & (curves["env_steps"] == 64), "mean"].isna().all()


def test_saved_models_of_earlier_versions_still_find_the_mask_spec():
    """DQN and SAC models pickle their MaskSpec by module and name; models saved since
    the first round name netsim.rl.observation.MaskSpec, so it must stay there (an older
    model without the size_free field reads it as False)."""
    import pickle

    from netsim.rl.masks import MaskSpec as FromMasks
    from netsim.rl.observation import MaskSpec

    assert FromMasks is MaskSpec and MaskSpec.__module__ == "netsim.rl.observation"
    old = MaskSpec(5, 6, 3, False)
    del old.__dict__["size_free"]  # as unpickled from a model saved before the field
    assert pickle.loads(pickle.dumps(old)).size_free is False


def test_an_evaluation_scores_the_references_as_netsim_run_records_them():
    """The learning curve's optima are `netsim run`'s references on the same worlds: the
    evaluation's reference costs per request equal the run's recorded rewards."""
    from netsim.simulation.runner import ORACLE_REFERENCE, STATISTICAL_REFERENCE, run_scenario

    scenario = make_scenario(**SMALL_CELL, rl=FAST_RL, schedulers=["random"])
    seeds = [10_000, 10_001]
    scores = evaluate_policy(random_policy(np.random.default_rng(0)), scenario, seeds)
    records = run_scenario(scenario.model_copy(update={"slots": FAST_RL["eval_slots"]}),
                           seeds).records
    requests = int((records["scheduler"] == "random").sum())
    assert requests == FAST_RL["eval_slots"] * len(seeds) * 3  # every user, every slot
    for key, label in (("oracle_mean_cost", ORACLE_REFERENCE),
                       ("statistical_mean_cost", STATISTICAL_REFERENCE)):
        recorded = -records.loc[records["scheduler"] == label, "reward"].sum() / requests
        assert scores[key] == pytest.approx(recorded, rel=1e-12), key
    assert scores["oracle_mean_cost"] < scores["statistical_mean_cost"] < scores["mean_cost"]


def test_an_off_policy_training_that_can_learn_nothing_says_so(tmp_path: Path) -> None:
    """DQN or SAC for no more steps than rl.learning_starts never took a gradient step:
    the model came back as initialised, without a word. It now warns (one line in the
    CLI, `netsim: warning: ...`); PPO, which learns from its first rollout, does not."""
    import warnings

    from netsim import api
    from netsim.verbosity import NetsimWarning, set_verbose

    scenario = make_scenario(users={"count": 2}, cell={"n_rbs": 2}, rl={
        "n_steps": 16, "batch_size": 16, "net_arch": [8], "eval_every_steps": 32,
        "eval_seeds": [10_000], "eval_slots": 1, "learning_starts": 32})
    with pytest.warns(NetsimWarning, match=r"sac: 32 steps train nothing: .*"
                      r"rl.learning_starts \(32\)") as caught:
        api.train(scenario, "sac", steps=32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NetsimWarning)
        api.train(scenario, "dqn", steps=33)  # one step more: it learns
        api.train(scenario, "ppo", steps=16)
    previous = warnings.formatwarning
    try:
        set_verbose(False)  # what the CLI does first
        line = warnings.formatwarning(caught[0].message, NetsimWarning, "x.py", 1)
    finally:
        warnings.formatwarning = previous
    assert line == f"netsim: warning: {caught[0].message}\n"
