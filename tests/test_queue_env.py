"""The closed loop as a gymnasium environment (netsim.rl.queue_env): it passes
gymnasium's checker, its masks are right, its return is the cost the simulation
records, a model trained in it schedules inside `netsim run`'s closed loop, and
gymnasium.make builds both environments."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import netsim.rl  # noqa: F401 - registers the environments
from netsim.rl.queue_env import QueueAssignmentEnv, queue_observation_size
from netsim.simulation.runner import loop_records
from tests.scenario_factory import ROOT, make_scenario

QUEUEING = ROOT / "scenarios" / "queueing.yaml"


def closed_loop(**changes):
    """paper.yaml's cell in the closed loop with Poisson traffic near capacity."""
    updates = {"delay_model": "des", "slot_duration_s": 0.1,
               "users": {"arrivals": {"model": "poisson", "rate_per_s": 4.0}},
               "rl": {"episode_slots": 40, "reward_model": "realised"}}
    updates.update(changes)
    return make_scenario(**updates)


def test_the_closed_loop_env_passes_the_gymnasium_checker():
    check_env(QueueAssignmentEnv(closed_loop()), skip_render_check=True)


@pytest.mark.parametrize("cores", [1, 2])
def test_an_episodes_realised_return_is_the_cost_the_simulation_records(cores):
    """Random valid actions for a whole episode: minus the sum of the realised rewards
    equals the total cost of the records netsim run would write for the same world,
    traffic and decisions (queueing, lost and unserved requests included)."""
    env = QueueAssignmentEnv(closed_loop(base_station={"cores": cores},
                                         users={"arrivals": {"model": "poisson",
                                                             "rate_per_s": 6.0},
                                                "queue": {"limit": 2}}))
    env.reset(seed=5)
    rng = np.random.default_rng(0)
    total, terminated, steps = 0.0, False, 0
    while not terminated:
        _, reward, terminated, _, info = env.step(
            int(rng.choice(np.flatnonzero(env.action_masks()))))
        assert reward == pytest.approx(-0.1 * info["cost"])
        total += info["cost"]
        steps += 1
    records = loop_records(env.model, env.loop.world, env.result(), "agent", 0)
    assert steps > 40 and (records["outcome"] == "blocked").any()
    assert total == pytest.approx(-records["reward"].sum(), rel=1e-9)


@pytest.mark.parametrize("cores", [1, 2, 3])
def test_the_ledger_times_requests_as_simpy_would(cores):
    """Without the SimPy processes of served requests (the environment's default), an
    episode goes exactly as with them: the same observations, rewards and infos, and the
    same records, every service time included, bit for bit (queue limit, timeout, and
    several cores, where SimPy's first come, first served picks the cores)."""
    scenario = closed_loop(base_station={"cores": cores},
                           users={"arrivals": {"model": "poisson", "rate_per_s": 15.0},
                                  "queue": {"limit": 4, "timeout_s": 0.3}})
    runs = []
    for realise in (False, True):
        env = QueueAssignmentEnv(scenario, realise=realise)
        observation, _ = env.reset(seed=3)
        rng, seen, terminated = np.random.default_rng(1), [observation], False
        while not terminated:
            observation, reward, terminated, _, info = env.step(
                int(rng.choice(np.flatnonzero(env.action_masks()))))
            seen.append((observation, reward, info))
        result = env.result()
        runs.append((seen, result, loop_records(env.model, env.loop.world, result, "a", 0)))
    (seen, result, records), (seen_simpy, result_simpy, records_simpy) = runs
    assert len(seen) == len(seen_simpy) > 40
    for ours, theirs in zip(seen[1:], seen_simpy[1:]):
        np.testing.assert_array_equal(ours[0], theirs[0])
        assert ours[1:] == theirs[1:]
    for name in ("outcome", "slot", "encoder", "rb", "stamps", "planned", "left_s"):
        np.testing.assert_array_equal(getattr(result, name), getattr(result_simpy, name))
    assert result.time_in_system_area == result_simpy.time_in_system_area
    assert (records["outcome"] == "expired").any() and (records["outcome"] == "served").any()
    assert records.equals(records_simpy)


@pytest.mark.parametrize("policy", ["mlp", "size_free"])
def test_without_fading_the_expected_reward_is_the_realised_one(policy):
    """No fading: what a statistical agent expects is what happens, so the expected
    reward is minus the realised cost, exactly (the per-request pricing exists only
    under Rayleigh fading; here the environment reads the table)."""
    env = QueueAssignmentEnv(closed_loop(cell={"fading": {"model": "none"}},
                                         rl={"episode_slots": 30, "policy": policy,
                                             "reward_model": "expected"}))
    env.reset(seed=2)
    rng, terminated, steps = np.random.default_rng(0), False, 0
    while not terminated:
        _, reward, terminated, _, info = env.step(
            int(rng.choice(np.flatnonzero(env.action_masks()))))
        assert reward == -env.scenario.rl.reward_scale * info["cost"]
        steps += 1
    assert steps > 30


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log10(0), inf - inf: expected
def test_a_request_that_never_arrives_is_stamped_as_netsim_run_stamps_it():
    """A mean SNR that underflows to 0 makes an air time infinite: SimPy's run to the
    end stamps the request (and those behind it on its RB or device) at +inf, and so
    do the ledger's times and the environment's result, with or without the SimPy
    processes."""
    scenario = closed_loop(cell={"pathloss": {"model": "power_law", "exponent": 2.0,
                                              "gain_at_1m_db": -4000.0}},
                           rl={"episode_slots": 10, "reward_model": "realised"})
    results = []
    for realise in (False, True):
        env = QueueAssignmentEnv(scenario, realise=realise)
        env.reset(seed=3)
        rng, terminated = np.random.default_rng(0), False
        while not terminated:
            _, _, terminated, _, _ = env.step(
                int(rng.choice(np.flatnonzero(env.action_masks()))))
        results.append(env.result())
    ledger, simpy = results
    served = ledger.outcome == 0
    assert served.any() and np.isposinf(ledger.left_s[served]).all()
    assert ledger.time_in_system_area == simpy.time_in_system_area == np.inf  # Little's sum
    for name in ("stamps", "planned", "left_s"):
        np.testing.assert_array_equal(getattr(ledger, name), getattr(simpy, name))


def test_a_result_taken_mid_episode_changes_nothing():
    """result() while a decision is awaited leaves the simulation where it is: the
    episode then goes on as one never looked at (SimPy's processes running)."""
    finals = []
    for look in (False, True):
        env = QueueAssignmentEnv(closed_loop(), realise=True)
        env.reset(seed=4)
        rng, terminated, steps = np.random.default_rng(2), False, 0
        while not terminated:
            _, _, terminated, _, _ = env.step(
                int(rng.choice(np.flatnonzero(env.action_masks()))))
            steps += 1
            if look and steps == 25:
                env.result()
        finals.append(env.result())
    for name in ("outcome", "stamps", "left_s"):
        np.testing.assert_array_equal(getattr(finals[0], name), getattr(finals[1], name))


def test_an_environment_pickled_before_realise_existed_replays():
    """A checkpoint written before the ledger-timed default (no ``realise`` in its
    state) resumes as the ledger-timed environment, which goes on exactly as SimPy's."""
    env = QueueAssignmentEnv(closed_loop())
    env.reset(seed=1)
    for _ in range(7):
        env.step(int(np.flatnonzero(env.action_masks())[0]))
    state = env.__getstate__()
    del state["realise"]
    copy = object.__new__(QueueAssignmentEnv)
    copy.__setstate__(state)
    assert copy.realise is False
    np.testing.assert_array_equal(copy.action_masks(), env.action_masks())
    action = int(np.flatnonzero(env.action_masks())[-1])
    ours, theirs = copy.step(action), env.step(action)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1:] == theirs[1:]


@pytest.mark.parametrize(("reward_model", "policy"),
                         [("expected", "mlp"), ("expected", "size_free"), ("realised", "mlp")])
def test_without_the_infos_cost_the_episode_is_the_same(reward_model, policy):
    """``report_cost=False`` (training's environments) skips the realised pricing that
    only the info's cost needs: the same observations, rewards and masks, the info
    without "cost", and the same records at the end."""
    scenario = closed_loop(rl={"episode_slots": 30, "reward_model": reward_model,
                               "policy": policy})
    envs = [QueueAssignmentEnv(scenario), QueueAssignmentEnv(scenario, report_cost=False)]
    for env in envs:
        env.reset(seed=3)
    rng = np.random.default_rng(1)
    terminated, served = False, 0
    while not terminated:
        mask = envs[0].action_masks()
        np.testing.assert_array_equal(mask, envs[1].action_masks())
        action = int(rng.choice(np.flatnonzero(mask)))
        (obs, reward, terminated, _, info), (obs2, reward2, _, _, info2) = (
            env.step(action) for env in envs)
        np.testing.assert_array_equal(obs, obs2)
        assert reward == reward2 and "cost" in info and "cost" not in info2
        assert {k: v for k, v in info.items() if k != "cost"} == info2
        served += action != envs[0].action_space.n - 1
    assert served > 30
    first, second = (loop_records(env.model, env.loop.world, env.result(), "agent", 0)
                     for env in envs)
    assert first.equals(second)


def test_masks_in_the_closed_loop_are_right_after_every_step():
    """Each slot: any encoder on an RB not yet taken this slot; 'leave it waiting' only
    if more users are waiting than RBs are left (voluntary_drop off)."""
    env = QueueAssignmentEnv(closed_loop(cell={"n_rbs": 3}, users={
        "count": 5, "arrivals": {"model": "poisson", "rate_per_s": 8.0}}))
    env.reset(seed=2)
    rng = np.random.default_rng(1)
    terminated, taken, left = False, set(), None
    while not terminated:
        if left is None:
            left = env.assignment.users_left
        mask = env.action_masks()
        free = [q for q in range(3) if q not in taken]
        expected = np.zeros((3, 3), dtype=bool)
        expected[:, free] = True
        np.testing.assert_array_equal(mask[:-1], expected.ravel())
        assert mask[-1] == (left > len(free))
        action = int(rng.choice(np.flatnonzero(mask)))
        _, _, terminated, _, info = env.step(action)
        assert not info["invalid_action"]
        if action < 9:
            taken.add(action % 3)
        left -= 1
        if left == 0:
            taken, left = set(), None


def test_the_observation_shows_the_queues():
    env = QueueAssignmentEnv(closed_loop(users={"arrivals": {"model": "poisson",
                                                             "rate_per_s": 9.0}}))
    observation, _ = env.reset(seed=0)
    size = queue_observation_size(5, 6, 1)
    assert observation.shape == (size,)
    seen_backlog = False
    terminated = False
    while not terminated:
        queue = observation[-(1 + 6 + 3 * 5):]
        waiting = queue[1 + 6 + 5: 1 + 6 + 10]
        users = [u for u in range(5) if env.loop.fifo[u]]
        np.testing.assert_array_equal(waiting, [len(env.loop.fifo[u]) for u in range(5)])
        assert env.assignment.current_user in users
        seen_backlog |= bool(queue[0] > 0)  # the CPU still busy at a boundary
        observation, _, terminated, _, _ = env.step(int(np.flatnonzero(env.action_masks())[-2]))
    assert seen_backlog


@pytest.mark.parametrize("policy", ["mlp", "size_free"])
def test_the_env_observes_what_the_rl_scheduler_sees(policy):
    """The environment builds each slot's features for the whole chunk of slots at once;
    its observations are, bit for bit, those problem_assignment builds slot by slot from
    the engine's problem alone (what the RL scheduler sees inside netsim run)."""
    from netsim.rl.assignment import problem_assignment

    env = QueueAssignmentEnv(closed_loop(rl={"episode_slots": 30, "policy": policy}))
    observation, _ = env.reset(seed=4)
    rng = np.random.default_rng(0)
    alone, shared, episodes = None, 0, 0
    for _ in range(400):
        if alone is None or alone.done:
            problem, _, _ = env.loop.awaiting
            alone = problem_assignment(env.observer, problem, env.scenario.rl.user_order,
                                       env.tau)
            shared += len(alone.users) > 1  # the other users enter the observation
        assert observation.tobytes() == alone.observation().tobytes()
        action = int(rng.choice(np.flatnonzero(env.action_masks())))
        alone.act(action)
        observation, _, terminated, _, _ = env.step(action)
        if terminated:
            observation, _ = env.reset()
            alone, episodes = None, episodes + 1
    assert shared > 10 and episodes >= 2  # slots of several users, and fresh worlds


def test_the_per_slot_environment_refuses_poisson_requests():
    """Poisson requests queue: the per-slot MDP took every user as requesting in every
    slot (the default Bernoulli probability 1) and said nothing; the myopic reference
    still acts on the closed loop's MLP observation."""
    from netsim.rl.env import SlotAssignmentEnv
    from netsim.rl.evaluation import myopic_policy

    with pytest.raises(ValueError, match=r"^users.arrivals: poisson: .*QueueAssignment-v0"):
        gymnasium.make("netsim/SlotAssignment-v0", scenario=str(QUEUEING))
    with pytest.raises(ValueError, match=r"^users.arrivals: poisson"):
        SlotAssignmentEnv(closed_loop())
    env = QueueAssignmentEnv(closed_loop())
    act = myopic_policy(env.scenario)
    observation, _ = env.reset(seed=3)
    for _ in range(20):
        mask = env.action_masks()
        action = act(observation, mask)
        assert mask[action]
        observation, _, terminated, _, _ = env.step(action)
        if terminated:
            observation, _ = env.reset()


def test_gymnasium_make_builds_both_environments():
    slot = gymnasium.make("netsim/SlotAssignment-v0", scenario=ROOT / "scenarios" / "paper.yaml")
    queue = gymnasium.make("netsim/QueueAssignment-v0", scenario=str(QUEUEING))
    assert type(slot.unwrapped).__name__ == "SlotAssignmentEnv"
    assert type(queue.unwrapped).__name__ == "QueueAssignmentEnv"
    observation, _ = queue.reset(seed=0)
    assert queue.observation_space.contains(observation)
    # entry points by name: a spec serialises, and builds the environment again
    again = gymnasium.make(gymnasium.envs.registration.EnvSpec.from_json(queue.spec.to_json()))
    assert type(again.unwrapped).__name__ == "QueueAssignmentEnv"


def test_what_is_not_a_scenario_an_action_or_a_reset_option_is_one_clear_error():
    """A scenario may be a file, a mapping (its content) or a Scenario, anything else is
    one TypeError line (an AttributeError from inside); an action is an integer (2.5
    served action 2, [3] failed inside numpy); a misspelt reset option is refused (it
    gave a random world)."""
    from netsim.rl.env import SlotAssignmentEnv
    from tests.scenario_factory import paper_dict

    env = gymnasium.make("netsim/SlotAssignment-v0", scenario=paper_dict())
    assert type(env.unwrapped).__name__ == "SlotAssignmentEnv"
    with pytest.raises(TypeError, match=r"takes a file path, a mapping or a Scenario, not int"):
        gymnasium.make("netsim/QueueAssignment-v0", scenario=3)
    for env in (SlotAssignmentEnv(make_scenario()), QueueAssignmentEnv(closed_loop())):
        with pytest.raises(ValueError, match=r"^options: unknown key 'worldseed' "
                                             r"\(known: world_seed\)"):
            env.reset(options={"worldseed": 3})
        for options in (5, ["world_seed"]):
            with pytest.raises(ValueError, match=r"^options: .*: a dict of reset options"):
                env.reset(options=options)
        env.reset(seed=0)
        n = env.action_space.n
        for action in (2.5, np.array([3]), "1", True, np.float32(1.0)):
            with pytest.raises(ValueError, match=rf"^action: .*: an integer index of the "
                                                 rf"Discrete\({n}\) action space"):
                env.step(action)
        for action in (np.int64(0), np.array(1), 2):  # what Discrete(n) holds
            mask = env.action_masks()
            env.step(action if mask[int(action)] else int(np.flatnonzero(mask)[0]))


@pytest.mark.parametrize("seed", [1.5, "5", -1, True, 2**63])
def test_a_world_seed_that_is_not_a_seed_is_one_clear_error(seed):
    """Not truncated (1.5 was world 1), not numpy's bare error (-1), in both
    environments; numpy integers are seeds."""
    from netsim.rl.env import SlotAssignmentEnv

    for env in (SlotAssignmentEnv(make_scenario()), QueueAssignmentEnv(closed_loop())):
        with pytest.raises(ValueError, match=r"^options\['world_seed'\]: .* 0 to 2\*\*63 - 1"):
            env.reset(options={"world_seed": seed})
        env.reset(options={"world_seed": np.int64(5)})
        assert env.awaiting_action


def test_the_closed_loop_env_needs_queues_that_carry_over():
    with pytest.raises(ValueError, match="delay_model: des"):
        QueueAssignmentEnv(make_scenario())
    with pytest.raises(ValueError, match="episode_slots >= 2"):
        QueueAssignmentEnv(closed_loop(rl={"episode_slots": 1}))


def test_a_model_trained_in_the_closed_loop_schedules_in_netsim_run(tmp_path):
    """A short PPO training on the closed loop; its model, named in a des scenario,
    runs beside the queue-aware schedulers, and refuses an analytic one."""
    from netsim.loading import load_scenario
    from netsim.simulation.runner import run_scenario
    from solvers.rl.training import train
    from tests.scenario_factory import episode_cost, paper_dict, write_yaml

    data = paper_dict()
    data.update(delay_model="des", slot_duration_s=0.1, slots=30, seeds=[0],
                schedulers=["queue_greedy"])
    data["users"]["arrivals"] = {"model": "poisson", "rate_per_s": 4.0}
    data["rl"] = {"episode_slots": 20, "n_steps": 128, "batch_size": 64, "n_epochs": 1,
                  "eval_every_steps": 256, "eval_slots": 10, "eval_seeds": [10000],
                  "net_arch": [16]}
    scenario_file = write_yaml(tmp_path / "q.yaml", data)
    model_path = train(load_scenario(scenario_file), "ppo", tmp_path / "train", steps=256,
                       seed=0, progress=False)
    data["schedulers"] = [{"type": "rl", "algo": "ppo", "model_path": str(model_path),
                           "label": "ppo"}, "queue_greedy"]
    result = run_scenario(load_scenario(write_yaml(tmp_path / "run.yaml", data)))
    summary = result.summary.set_index("scheduler")
    assert {"ppo", "queue_greedy"} <= set(summary.index)
    assert summary.loc["ppo", "requests"] == summary.loc["queue_greedy", "requests"]
    # in Python: the environment of another cell (slots of 0.05 s), told what the model
    # was trained on, shows it what netsim run shows it: the same decisions, the same
    # cost; scaled with that cell's own constants, it would not
    from solvers.rl.scheduler import load_model

    model = load_model(model_path, "ppo")
    faster = {**data, "slot_duration_s": 0.05, "slots": 20, "seeds": [3],
              "schedulers": data["schedulers"][:1]}
    other = load_scenario(write_yaml(tmp_path / "faster.yaml", faster))
    records = run_scenario(other).records
    ran = -records[records["scheduler"] == "ppo"]["reward"].sum()
    played = {trained_on is not None: episode_cost(
                  model, QueueAssignmentEnv(other, trained_on=trained_on), 3)
              for trained_on in (tmp_path / "train", None)}
    assert played[True] == pytest.approx(ran, rel=1e-9)
    assert played[False] != pytest.approx(ran, rel=1e-3)
    for wrong, problem in ((tmp_path / "nowhere", r"nowhere: no such file"),
                           ({"users": 3}, r"dict: a training folder")):
        with pytest.raises(ValueError, match=rf"^trained_on: .*{problem}"):
            QueueAssignmentEnv(other, trained_on=wrong)
    with pytest.raises(ValueError, match=r"^trained_on: trained with users.count = 5, "
                                         r"this scenario has 4"):
        QueueAssignmentEnv(load_scenario(write_yaml(tmp_path / "four.yaml", {
            **faster, "users": {**data["users"], "count": 4},
            "schedulers": ["queue_greedy"]})), trained_on=model_path)
    data["delay_model"] = "analytic"
    data["users"]["arrivals"] = {"model": "bernoulli", "probability": 0.5}
    from netsim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="trained in the closed loop"):
        load_scenario(write_yaml(tmp_path / "analytic.yaml", data))


@pytest.mark.parametrize("policy", ["mlp", "size_free"])
def test_a_pickled_env_goes_on_exactly_as_the_original(policy):
    """Training checkpoints pickle the environment; a live simulation is replayed from
    its world seed and the actions so far, so both copies go on identically (the
    size-free one holding an expected-cost table filled as it is read)."""
    import pickle

    env = QueueAssignmentEnv(closed_loop(rl={"episode_slots": 40, "reward_model": "realised",
                                             "policy": policy}))
    env.reset(seed=4)
    rng = np.random.default_rng(2)
    for _ in range(23):
        env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
    copy = pickle.loads(pickle.dumps(env))
    for _ in range(200):
        action = int(rng.choice(np.flatnonzero(env.action_masks())))
        np.testing.assert_array_equal(env.action_masks(), copy.action_masks())
        first, second = env.step(action), copy.step(action)
        np.testing.assert_array_equal(first[0], second[0])
        assert first[1:4] == second[1:4]
        if first[2]:
            env.reset()
            copy.reset()


def test_a_closed_loop_training_resumes_to_the_uninterrupted_result(tmp_path,
                                                                     failing_nth_call):
    """The second checkpoint's publication fails (a full disk) mid-episode; --resume
    replays the episode in progress from the checkpoint and ends with the uninterrupted
    run's weights, bit for bit, and its learning curve."""
    import pandas as pd
    import torch

    from netsim.loading import load_scenario
    from solvers.rl import training
    from solvers.rl.algorithms import ALGORITHMS
    from tests.scenario_factory import paper_dict, write_yaml

    data = paper_dict()
    data.update(delay_model="des", slot_duration_s=0.1, schedulers=["queue_greedy"])
    data["users"]["arrivals"] = {"model": "poisson", "rate_per_s": 4.0}
    data["rl"] = {"episode_slots": 30, "n_steps": 64, "batch_size": 32, "n_epochs": 1,
                  "checkpoint_every_steps": 128, "eval_every_steps": 192, "eval_slots": 5,
                  "eval_seeds": [10000], "net_arch": [16]}
    scenario = load_scenario(write_yaml(tmp_path / "q.yaml", data))

    def run(out, **kwargs):
        return training.train(scenario, "ppo", out, steps=384, seed=0, progress=False, **kwargs)

    run(tmp_path / "whole")
    with failing_nth_call(training.os, "rename", 2), pytest.raises(OSError):
        run(tmp_path / "faulted")
    run(tmp_path / "faulted", resume=True)
    cls = ALGORITHMS["ppo"][1]
    whole, again = (cls.load(tmp_path / name / "model.zip", device="cpu").policy.state_dict()
                    for name in ("whole", "faulted"))
    assert all(torch.equal(whole[k], again[k]) for k in whole)
    curves = [pd.read_csv(tmp_path / name / "learning_curve.csv").drop(columns="wall_time_s")
              for name in ("whole", "faulted")]
    pd.testing.assert_frame_equal(*curves)


@pytest.mark.parametrize("key", ["episode_slots", "eval_slots"])
def test_train_refuses_a_closed_loop_scenario_with_one_slot_episodes(tmp_path, key):
    """One line naming the file and the key, exit 2, nothing written, before any work
    (one-slot evaluation worlds failed at the first evaluation, naming the wrong key);
    the evaluation names rl.eval_slots too."""
    from typer.testing import CliRunner

    from netsim.cli import app
    from netsim.rl.evaluation import evaluate_policy, random_policy
    from tests.scenario_factory import one_line, paper_dict, write_yaml

    if key == "eval_slots":
        scenario = closed_loop(rl={"eval_slots": 1})
        with pytest.raises(ValueError, match="^rl.eval_slots: 1: "):
            evaluate_policy(random_policy(np.random.default_rng(0)), scenario, [0])
    data = paper_dict()
    data.update(delay_model="des", rl={"episode_slots": 5, "eval_slots": 5, key: 1})
    scenario_file = write_yaml(tmp_path / "s" / "q.yaml", data)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["train", str(scenario_file), "--out", str(out),
                                      "--steps", "64", "--no-progress"])
    assert result.exit_code == 2
    line = one_line(result)
    assert str(scenario_file) in line and f"rl.{key}: 1" in line
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_a_step_with_nobody_to_assign_says_reset_and_evaluation_passes_over_empty_worlds():
    """Before the first reset, after an episode's end and on an evaluation world nobody
    asks in, ``awaiting_action`` is False and a step raises gymnasium's ResetNeeded (not
    an AttributeError from inside); the evaluation passes over worlds without requests,
    as netsim run passes over such seeds, and names rl.eval_slots when none asks."""
    from netsim.rl.evaluation import evaluate_policy, random_policy
    from netsim.simulation.runner import NoRequestsError

    scenario = closed_loop(users={"arrivals": {"model": "poisson", "rate_per_s": 0.1}},
                           rl={"episode_slots": 3, "eval_slots": 3})
    from netsim.rl.env import SlotAssignmentEnv

    env = QueueAssignmentEnv(scenario)
    slot_env = SlotAssignmentEnv(make_scenario())
    for fresh in (env, slot_env):
        assert not fresh.awaiting_action
        assert fresh.action_masks().all()  # what the all-zero observation's mask reads
        with pytest.raises(gymnasium.error.ResetNeeded, match="reset"):
            fresh.step(0)
    with pytest.raises(gymnasium.error.ResetNeeded, match="reset"):
        env.result()  # was an AttributeError
    with pytest.raises(gymnasium.error.ResetNeeded, match="reset"):
        _ = slot_env.current_user
    seeds = list(range(10_000, 10_040))
    asked, empty = [], []
    for seed in seeds:
        observation, _ = env.reset(options={"world_seed": seed})
        (asked if env.loop.traffic.count else empty).append(seed)
        if not env.awaiting_action:
            assert not observation.any()
            with pytest.raises(gymnasium.error.ResetNeeded):
                env.step(env.action_space.n - 1)
    assert asked and empty
    env.reset(options={"world_seed": asked[0]})
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(int(np.flatnonzero(env.action_masks())[0]))
    assert not env.awaiting_action
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(0)
    policy = random_policy(np.random.default_rng(0))
    every = evaluate_policy(policy, scenario, seeds)
    some = evaluate_policy(random_policy(np.random.default_rng(0)), scenario, asked)
    assert every["score_vs_statistical"] == some["score_vs_statistical"]
    assert every["mean_return"] * len(seeds) == pytest.approx(some["mean_return"] * len(asked))
    with pytest.raises(NoRequestsError, match="rl.eval_slots"):
        evaluate_policy(policy, scenario, empty)
    with pytest.raises(ValueError, match="^seeds: no evaluation world given"):
        evaluate_policy(policy, scenario, [])
