"""One policy for every cell size (rl.policy: size_free): its observation and masks are
right in both environments, its features match a hand-computed slot, its network is
permutation-equivariant over RBs, a saved model of each algorithm runs in `netsim run`
at other cell sizes with valid actions, and it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium.utils.env_checker import check_env

from netsim.rl.assignment import SlotAssignment
from netsim.rl.env import SlotAssignmentEnv
from netsim.rl.masks import MaskSpec, masks_from_observations
from netsim.rl.queue_env import QueueAssignmentEnv
from netsim.rl.size_free import (
    GLOBAL_FEATURES,
    RB_FEATURES,
    SizeFreeEncoder,
    action_costs,
    size_free_observation_size,
)
from solvers.rl.size_free import RBSetNetwork
from tests.scenario_factory import episode_cost, make_scenario, paper_dict, write_yaml

SIZE_FREE = {"policy": "size_free"}


def closed_loop(**rl):
    return make_scenario(delay_model="des", slot_duration_s=0.1,
                         users={"arrivals": {"model": "poisson", "rate_per_s": 4.0}},
                         rl={"episode_slots": 20, **SIZE_FREE, **rl})


@pytest.mark.parametrize("kind", ["analytic", "closed_loop"])
def test_size_free_envs_pass_the_checker_and_masks_read_back_right(kind):
    """gymnasium's checker; along random valid episodes, the masks read back from each
    observation (what DQN and SAC do with replayed states) equal action_masks()."""
    if kind == "analytic":
        scenario = make_scenario(users={"count": 7}, cell={"n_rbs": 5}, rl=SIZE_FREE)
        env = SlotAssignmentEnv(scenario)
    else:
        scenario = closed_loop()
        env = QueueAssignmentEnv(scenario)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (size_free_observation_size(
        scenario.cell.n_rbs, len(scenario.encoders)),)
    spec = MaskSpec.from_scenario(scenario)
    rng = np.random.default_rng(3)
    observation, _ = env.reset(seed=5)
    drops = 0
    for _ in range(150):
        mask = env.action_masks()
        assert np.array_equal(masks_from_observations(observation, spec)[0], mask)
        drops += int(mask[-1])
        observation, _, terminated, _, _ = env.step(int(rng.choice(np.flatnonzero(mask))))
        if terminated:
            observation, _ = env.reset()
    if kind == "analytic":  # 7 users on 5 RBs: the last users may go unserved
        assert drops > 0


def test_size_free_features_of_a_hand_computed_slot():
    """Three users on three RBs, one encoder: the header, and per RB the user's own
    costs, the others' best SNR, first choices, price and least cost, by hand."""
    encoder = SizeFreeEncoder(n_encoders=1, radius_m=100.0, interference_mean_dbm=-80.0,
                              interference_std_db=5.0, cpu_low_hz=1e9, cpu_span_hz=1e9,
                              cost_scale=0.5)
    cost = np.array([[[1.0, 2.0, 3.0]],   # user 0
                     [[4.0, 6.0, 9.0]],   # user 1: cheapest on RB 0, then RB 1 (+2)
                     [[5.0, 8.0, 7.0]]])  # user 2: cheapest on RB 0, then RB 2 (+2)
    mean_snr = 10.0 ** np.array([[1.0, 2.0, 3.0], [0.5, 0.0, 4.0], [2.0, 1.0, 0.0]])
    slot = encoder.slot_template(np.full(3, 1e-11), np.array([50.0, 100.0, 20.0]),
                                 np.array([1.5e9, 2e9, 1e9]), mean_snr, cost,
                                 np.array([10.0, 10.0, 10.0]))
    assignment = SlotAssignment(encoder, [0, 1, 2], slot, slot.snr, 1, False)
    observation = encoder.observe(assignment)
    header = dict(zip(GLOBAL_FEATURES, observation[:len(GLOBAL_FEATURES)], strict=True))
    assert header["users_left_per_free_rb"] == 1.0 and header["free_share"] == 1.0
    assert header["drop_allowed"] == 0.0
    assert header["distance"] == pytest.approx(0.5) and header["clock"] == pytest.approx(0.5)
    assert header["drop_penalty"] == pytest.approx(5.0)
    rows = observation[len(GLOBAL_FEATURES):].reshape(3, -1)
    column = {name: rows[:, i] for i, name in enumerate(RB_FEATURES)}
    np.testing.assert_allclose(column["free"], 1.0)
    np.testing.assert_allclose(column["interference"], -0.0, atol=1e-6)  # -80 dBm
    np.testing.assert_allclose(column["snr"], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(column["others_best_snr"], [2.0, 1.0, 4.0])
    np.testing.assert_allclose(column["others_first_choice"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(column["price"], [1.0, 0.0, 0.0])  # 0.5 x max(2, 2)
    np.testing.assert_allclose(column["others_least_cost"], [2.0, 3.0, 3.5])
    np.testing.assert_allclose(rows[:, len(RB_FEATURES)], [0.5, 1.0, 1.5])
    np.testing.assert_allclose(action_costs(observation, 1), [0.5, 1.0, 1.5, 5.0])
    assignment.act(0)  # user 0 takes RB 0: user 1 is assigned next, user 2 is the other
    rows = encoder.observe(assignment)[len(GLOBAL_FEATURES):].reshape(3, -1)
    np.testing.assert_allclose(rows[:, 0], [0.0, 1.0, 1.0])
    np.testing.assert_allclose(rows[:, RB_FEATURES.index("others_first_choice")], [0, 0, 1])
    np.testing.assert_allclose(rows[:, RB_FEATURES.index("price")], [0.0, 0.0, 0.5])


def test_the_network_is_permutation_equivariant_over_rbs_and_fits_any_size():
    """Permuting the RB rows permutes the action scores the same way (per encoder) and
    leaves "unserved" alone; the same weights score 4 and 40 RBs."""
    th.manual_seed(0)
    network = RBSetNetwork(n_encoders=3, hidden=[16, 16])
    width = len(RB_FEATURES) + 3
    for n_rbs in (4, 40):
        header = th.randn(2, len(GLOBAL_FEATURES))
        rows = th.randn(2, n_rbs, width)
        order = th.randperm(n_rbs)
        scores = network(th.cat([header, rows.reshape(2, -1)], dim=1))
        permuted = network(th.cat([header, rows[:, order].reshape(2, -1)], dim=1))
        assert scores.shape == (2, 3 * n_rbs + 1)
        per_action = scores[:, :-1].reshape(2, 3, n_rbs)
        th.testing.assert_close(permuted[:, :-1].reshape(2, 3, n_rbs), per_action[:, :, order])
        th.testing.assert_close(permuted[:, -1], scores[:, -1])


@pytest.mark.parametrize("algo", ["ppo", "dqn", "sac"])
def test_one_saved_model_schedules_cells_of_other_sizes(tmp_path, algo):
    """Trained on 7 users and 6 RBs, the model runs in `netsim run` on 3 users x 3 RBs
    and 12 users x 9 RBs: every served user on its own RB, the rest unserved only where
    RBs run out."""
    from netsim.loading import load_scenario
    from netsim.simulation.runner import run_scenario
    from solvers.rl.training import train

    data = paper_dict()
    data["users"]["count"] = 7  # more users than RBs: "unserved" is learnt too
    data["rl"] = {**SIZE_FREE, "n_steps": 64, "batch_size": 32, "n_epochs": 1,
                  "net_arch": [16], "learning_starts": 32, "eval_every_steps": 10_000,
                  "eval_seeds": [10_000], "eval_slots": 2}
    model = train(load_scenario(write_yaml(tmp_path / "train.yaml", data)), algo,
                  tmp_path / "train", steps=128, seed=0, progress=False)
    for users, rbs in ((3, 3), (12, 9)):
        run = dict(data, slots=4, seeds=[0], schedulers=[
            {"type": "rl", "algo": algo, "model_path": str(model), "label": "agent"}])
        run["users"] = {**data["users"], "count": users}
        run["cell"] = {**data["cell"], "n_rbs": rbs}
        records = run_scenario(load_scenario(write_yaml(tmp_path / f"{users}.yaml", run))
                               ).records
        agent = records[records["scheduler"] == "agent"]
        assert len(agent) == 4 * users
        for _, slot in agent.groupby("slot"):
            served = slot[slot["served"]]
            assert served["rb"].is_unique and served["rb"].between(0, rbs - 1).all()
            assert len(served) == min(users, rbs)
    # the same from Python: netsim.load_agent for the larger cell, acting in its
    # environment built with trained_on, which shows it what netsim run shows it
    import netsim

    larger = load_scenario(tmp_path / "12.yaml").model_copy(update={
        "slots": data["rl"].get("episode_slots", 25)})
    larger = larger.model_copy(update={"rl": larger.rl.model_copy(update={
        "episode_slots": larger.slots})})
    agent_model = netsim.load_agent(tmp_path / "train", scenario=larger)
    records = run_scenario(larger).records
    total = episode_cost(agent_model, SlotAssignmentEnv(larger, trained_on=tmp_path / "train"), 0)
    assert total == pytest.approx(-records[records["scheduler"] == "agent"]["reward"].sum(),
                                  rel=1e-9)
    with pytest.raises(ValueError, match=r"^scenario: trained with encoders = "):
        netsim.load_agent(model, scenario=larger.model_copy(update={"encoders": ["ViT-B-32"]}))
    again = netsim.load_agent(tmp_path / "train" / "scenario.yaml", scenario=larger)
    assert again is not agent_model and type(again) is type(agent_model)
    other = "ppo" if algo != "ppo" else "dqn"  # the file checked as netsim run checks it
    with pytest.raises(ValueError, match=rf"^path: .*model.zip cannot be loaded as a {other} "):
        netsim.load_agent(model, scenario=larger, algo=other)
    with pytest.raises(ValueError, match=r"^path: .*nowhere.zip: no such file"):
        netsim.load_agent(tmp_path / "nowhere.zip")


def test_a_size_free_model_needs_statistical_information_and_drops_it_learnt(tmp_path):
    """Refused with one line: oracle information (training saw expected costs), and a
    cell where users may go unserved for a model that never could leave one unserved."""
    from netsim.errors import ScenarioError
    from netsim.loading import load_scenario
    from solvers.rl.training import train

    data = paper_dict()
    data["rl"] = {**SIZE_FREE, "n_steps": 32, "batch_size": 32, "n_epochs": 1,
                  "net_arch": [8], "eval_every_steps": 10_000, "eval_seeds": [10_000],
                  "eval_slots": 1}
    model = train(load_scenario(write_yaml(tmp_path / "train.yaml", data)), "ppo",
                  tmp_path / "train", steps=32, seed=0, progress=False)
    data["schedulers"] = [{"type": "rl", "model_path": str(model), "information": "oracle"}]
    with pytest.raises(ScenarioError, match="expected cost.*information must be statistical"):
        load_scenario(write_yaml(tmp_path / "run.yaml", data))
    # an MLP model's decisions do not depend on it either: it only relabelled the agent
    mlp = train(load_scenario(write_yaml(tmp_path / "mlp.yaml", {
        **paper_dict(), "rl": {**data["rl"], "policy": "mlp"}})), "ppo", tmp_path / "mlp",
        steps=32, seed=0, progress=False)
    data["schedulers"] = [{"type": "rl", "model_path": str(mlp), "information": "oracle"}]
    with pytest.raises(ScenarioError, match="observation alone.*information must be statistical"):
        load_scenario(write_yaml(tmp_path / "run.yaml", data))
    data["schedulers"] = [{"type": "rl", "model_path": str(model)}]
    for users, voluntary, why in ((7, False, "7 users on 6 RBs"),
                                  (5, True, "users.voluntary_drop: true")):
        data["users"] = {**data["users"], "count": users, "voluntary_drop": voluntary}
        with pytest.raises(ScenarioError, match=f"never learnt to leave one unserved.*{why}"):
            load_scenario(write_yaml(tmp_path / "run.yaml", data))


def test_size_free_ppo_learns_and_carries_over_to_a_larger_cell():
    """3,000 steps of size-free PPO on paper.yaml's cell reach 0.95 of the statistical
    optimum there and on a cell of 20 users and 20 RBs it never saw (random: about 0.3)."""
    from netsim.rl.evaluation import evaluate_policy, random_policy
    from solvers.rl.algorithms import ALGORITHMS, masked_predict
    from solvers.rl.scheduler import _load_model
    from solvers.rl.training import make_env

    th.set_num_threads(1)
    # 100 slots: the realised-cost score of a few slots is noisy (random fading)
    evaluation = {"eval_seeds": list(range(10_000, 10_010)), "eval_slots": 10}
    scenario = make_scenario(rl={**SIZE_FREE, **evaluation})
    model = ALGORITHMS["ppo"][0](make_env(scenario, 0), scenario.rl, 0, None,
                                 MaskSpec.from_scenario(scenario))
    model.learn(3_000)
    assert evaluate_policy(masked_predict(model), scenario)["score_vs_statistical"] >= 0.95
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / "model.zip")
        larger_model = _load_model(str(Path(folder) / "model.zip"), "ppo", 0, 0, (20, 3))
    larger = make_scenario(users={"count": 20}, cell={"n_rbs": 20}, rl={
        **SIZE_FREE, "eval_seeds": list(range(10_000, 10_005)), "eval_slots": 4})
    score = evaluate_policy(masked_predict(larger_model), larger)["score_vs_statistical"]
    random = evaluate_policy(random_policy(np.random.default_rng(0)), larger)
    assert score >= 0.95 > random["score_vs_statistical"] + 0.2


@pytest.mark.parametrize("voluntary_drop", [False, True])
def test_farthest_first_greedy_is_the_myopic_policy_on_the_size_free_observation(
        voluntary_drop):
    """`greedy` with order farthest_first decides each slot as the myopic policy acting
    on the size-free observation's expected costs (7 users on 5 RBs: some go unserved)."""
    from netsim.model.world import generate_world
    from netsim.rl.evaluation import myopic_policy
    from netsim.simulation.scheduling import SchedulingProblem, SlotObservation
    from solvers.heuristics.greedy import GreedyParams, GreedyScheduler

    scenario = make_scenario(users={"count": 7, "voluntary_drop": voluntary_drop,
                                    "drop_penalty": 2.0},
                             cell={"n_rbs": 5}, slots=6, rl=SIZE_FREE)
    env = SlotAssignmentEnv(scenario)
    env.load_world(generate_world(scenario, 4))
    policy = myopic_policy(scenario)
    greedy = GreedyScheduler(GreedyParams(order="farthest_first"), np.random.default_rng(0))
    world, served_somewhere = env.world, 0
    observation = env.assignment.observation()
    for slot in range(world.n_slots):
        users = np.flatnonzero(world.active[slot])
        mean_snr = env.model.snr(world.distance_m[slot], 1.0, world.interference_w[slot])
        cost = env.model.expected_cost_at(mean_snr, world.cpu_hz_by_slot[slot])[users]
        decision = greedy.decide(SchedulingProblem(
            cost, env.penalty[users], tuple(scenario.encoders), voluntary_drop,
            SlotObservation(users, world.distance_m[slot], world.cpu_hz_by_slot[slot],
                            world.interference_w[slot], mean_snr)))
        chosen = {}
        while env.slot == slot:
            info = env.step(policy(observation, env.action_masks()))
            observation, info = info[0], info[4]
            if "slot_steps" in info:
                chosen = {step.user: (step.encoder, step.rb) for step in info["slot_steps"]}
        for row, user in enumerate(users):
            assert (decision.encoder[row], decision.rb[row]) == chosen[user]
            served_somewhere += int(decision.rb[row] >= 0)
        if env.slot >= env.stop:
            break
    assert served_somewhere > 0
