"""A policy on held-out worlds against the exact references, scored as ``netsim run``
scores a scheduler (DESIGN §3).

For every evaluation seed, one world of ``rl.eval_slots`` slots (and, under
``delay_model: des``, its traffic). The policy plays it in the RL environment; the
run's references (:func:`netsim.simulation.runner.reference_entries`: the per-slot
oracle and statistical optima, or in the closed loop the queue-aware exact per-slot
decisions) schedule the same world through the runner; and every decision, the
policy's included, becomes the runner's request records, whose rewards and violations
give the scores. Normalised score = reference cost / policy cost (1 = as good).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from netsim.model.cost import CellModel
from netsim.rl.env import SlotAssignmentEnv
from netsim.rl.observation import ObservationEncoder
from netsim.rl.size_free import action_costs
from netsim.scenario import Scenario
from netsim.simulation.runner import (
    NoRequestsError,
    SchedulerRun,
    build_scheduler,
    drop_penalties,
    gather_chunk,
    reference_entries,
    request_records,
    schedule_seed,
    slots_text,
)

Policy = Callable[[np.ndarray, np.ndarray], int]
"""(observation, action mask) -> action."""

POLICY = "policy"


def evaluate_policy(policy: Policy, scenario: Scenario, seeds: list[int] | None = None) -> dict:
    """Mean cost per request of ``policy`` and of both references, normalised scores and
    the policy's delay- and energy-violation rates, over the evaluation worlds (under
    ``delay_model: des``, in the closed loop: :func:`evaluate_closed_loop`)."""
    seeds = list(scenario.rl.eval_seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("seeds: no evaluation world given")
    if scenario.delay_model == "des":
        return evaluate_closed_loop(policy, scenario, seeds)
    evaluation = scenario.model_copy(
        update={"rl": scenario.rl.model_copy(update={"episode_slots": scenario.rl.eval_slots})}
    )
    model = CellModel.from_scenario(evaluation.model_copy(
        update={"slots": scenario.rl.eval_slots}))  # the runner's slots: the world's
    env = SlotAssignmentEnv(evaluation, model)
    records: list[pd.DataFrame] = []
    for seed in seeds:
        observation, _ = env.reset(options={"world_seed": seed})
        if not env.awaiting_action:
            continue  # no request in this world: nothing to decide or score (as netsim run)
        decided: dict[str, list[int]] = {"slot": [], "user": [], "encoder": [], "rb": []}
        terminated = False
        while not terminated:
            slot = env.slot
            observation, _, terminated, _, info = env.step(
                policy(observation, env.action_masks()))
            for step in info.get("slot_steps", ()):
                for name, value in zip(decided, (slot, step.user, step.encoder, step.rb)):
                    decided[name].append(value)
        world = env.world
        order = np.lexsort((decided["user"], decided["slot"]))  # the runner's order
        chunk = {name: np.array(values, dtype=np.int64)[order]
                 for name, values in decided.items()}
        metrics = model.evaluate(
            model.snr(world.distance_m, world.fading, world.interference_w), world.user_cpu_hz,
            model.eavesdropper_snr(world, slice(None)))
        run = SchedulerRun(POLICY)
        run.add(**chunk, **gather_chunk(chunk, metrics, slice(0, world.n_slots)))
        references = {label: build_scheduler(entry, seed, model.scenario)
                      for label, entry in reference_entries("analytic").items()}
        runs = {POLICY: run, **schedule_seed(model, world, references)}
        records += [request_records(model, world, each, seed) for each in runs.values()]
    if not records:
        raise no_evaluation_request(scenario, len(seeds))
    return scores(pd.concat(records, ignore_index=True), scenario, len(seeds))


def scores(records: pd.DataFrame, scenario: Scenario, n_seeds: int) -> dict:
    """The evaluation's figures from the request records of the policy (label
    ``policy``) and of the references of the scenario's delay model."""
    oracle_label, statistical_label = reference_entries(scenario.delay_model)
    by_label = records.groupby("scheduler", sort=False)
    cost = {label: -float(group["reward"].sum()) for label, group in by_label}
    policy = by_label.get_group(POLICY)
    requests = max(len(policy), 1)
    done = policy[policy["served"]]
    limits = scenario.limits
    return {
        "mean_cost": cost[POLICY] / requests,
        "mean_return": -cost[POLICY] / n_seeds,
        "oracle_mean_cost": cost[oracle_label] / requests,
        "statistical_mean_cost": cost[statistical_label] / requests,
        "score_vs_oracle": cost[oracle_label] / cost[POLICY],
        "score_vs_statistical": cost[statistical_label] / cost[POLICY],
        "delay_violation_rate": int((done["total_delay_s"] > limits.max_delay_s).sum())
        / max(len(done), 1),
        "energy_violation_rate": int((done["total_energy_j"] > limits.max_energy_j).sum())
        / max(len(done), 1),
    }


def check_evaluation_worlds(scenario: Scenario) -> None:
    """NoRequestsError (one line, naming the keys) unless a request arrives in at least
    one evaluation world (``rl.eval_seeds``, ``rl.eval_slots`` slots each, drawn as
    :func:`evaluate_policy` and :func:`evaluate_closed_loop` draw them): checked before
    a training starts, rather than at its first evaluation."""
    from netsim.model.world import generate_world
    from netsim.simulation.traffic import generate_traffic

    worlds = scenario.model_copy(update={"slots": scenario.rl.eval_slots})
    for seed in scenario.rl.eval_seeds:
        world = generate_world(worlds, seed)
        if (generate_traffic(worlds, world, seed).count if scenario.delay_model == "des"
                else world.active.any()):
            return
    raise no_evaluation_request(scenario, len(scenario.rl.eval_seeds))


def check_training_worlds(scenario: Scenario, seed: int) -> None:
    """NoRequestsError (the environment's one line) if a training environment finds no
    episode with a request to decide: the first reset of each of the ``rl.n_envs``
    environments a training seeded ``seed`` starts with (environment i seeded seed + i,
    as :func:`solvers.rl.training.make_env`), made before the training writes anything."""
    if scenario.delay_model == "des":
        from netsim.rl.queue_env import QueueAssignmentEnv as Environment
    else:
        Environment = SlotAssignmentEnv
    for i in range(scenario.rl.n_envs):
        Environment(scenario).reset(seed=seed + i)


def no_evaluation_request(scenario: Scenario, n_worlds: int) -> NoRequestsError:
    """The error of evaluation worlds none of which holds a request."""
    return NoRequestsError(f"rl.eval_seeds: no request arrives in any of the {n_worlds} "
                           f"evaluation worlds of {slots_text(scenario.rl.eval_slots)}: raise "
                           "rl.eval_slots (or users.arrivals' probability or rate)")


def evaluate_closed_loop(policy: Policy, scenario: Scenario, seeds: list[int]) -> dict:
    """The policy scheduling inside the closed loop (:class:`QueueAssignmentEnv`) on each
    evaluation seed's world and traffic (``rl.eval_slots`` slots), against the
    queue-aware exact per-slot references of ``netsim run`` (queue MILP, oracle and
    statistical) on the same world and traffic; every cost is what the simulation
    records (queueing included, lost and unserved requests at their penalty). Keys as
    :func:`evaluate_policy`'s; the scores compare with per-slot exact decisions, which
    a policy that looks ahead may beat (score above 1)."""
    from netsim.rl.queue_env import QueueAssignmentEnv, check_closed_loop_scenario
    from netsim.simulation.runner import loop_records, run_closed_loop_seed

    check_closed_loop_scenario(scenario, episodes=False)  # naming rl.eval_slots
    evaluation = scenario.model_copy(
        update={"rl": scenario.rl.model_copy(update={"episode_slots": scenario.rl.eval_slots})}
    )
    env = QueueAssignmentEnv(evaluation)
    records: list[pd.DataFrame] = []
    for seed in seeds:
        observation, _ = env.reset(options={"world_seed": seed})
        if not env.loop.traffic.count:
            continue  # nobody asks in this world: nothing to score (as netsim run)
        terminated = not env.awaiting_action  # requests, all lost before a boundary
        while not terminated:
            observation, _, terminated, _, _ = env.step(policy(observation, env.action_masks()))
        world = env.loop.world
        references = {label: build_scheduler(entry, seed, env.scenario)
                      for label, entry in reference_entries("des").items()}
        results = {POLICY: env.result(),
                   **run_closed_loop_seed(env.model, world, seed, references)}  # same world
        records += [loop_records(env.model, world, result, label, seed)
                    for label, result in results.items()]
    if not records:
        raise no_evaluation_request(scenario, len(seeds))
    return scores(pd.concat(records, ignore_index=True), scenario, len(seeds))


def myopic_policy(scenario: Scenario) -> Policy:
    """A reference that knows the cost model: each user in turn takes the valid action of
    least expected cost given what the observation shows (its mean SNRs and clock),
    with no regard for the users after it. What a policy could reach by learning each
    user's expected cost perfectly, and nothing about the others."""
    if scenario.rl.policy == "size_free":  # the observation shows each action's expected cost
        n_encoders = len(scenario.encoders)
        return lambda observation, mask: int(np.argmin(np.where(
            mask, action_costs(observation, n_encoders), np.inf)))
    # the MLP observation (the closed loop's begins with it): the user, its SNRs, its clock
    observer, model = ObservationEncoder.from_scenario(scenario), CellModel.from_scenario(scenario)
    penalty = drop_penalties(scenario)

    def act(observation: np.ndarray, mask: np.ndarray) -> int:
        user, mean_snr, clock_hz = observer.current_user(observation)
        cost = model.expected_cost_at(mean_snr[None, :], np.array([clock_hz]))
        flat = np.append(cost.ravel(), penalty[user])
        return int(np.argmin(np.where(mask, flat, np.inf)))

    return act


def random_policy(rng: np.random.Generator) -> Policy:
    """Uniform among the valid actions."""
    return lambda observation, mask: int(rng.choice(np.flatnonzero(mask)))
