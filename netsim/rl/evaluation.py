"""A policy on held-out worlds against the exact optimum, slot by slot (DESIGN §3).

For every evaluation seed, one world of ``rl.eval_slots`` slots; the policy assigns the
users step by step, and on the same slots the Hungarian scheduler finds the oracle
optimum (realised cost) and the statistical optimum (expected cost over fading, scored
at its realised cost). Normalised score = optimal cost / policy cost (1 = optimal).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from netsim.rl.env import SlotAssignmentEnv
from netsim.rl.size_free import action_costs
from netsim.scenario import Scenario
from netsim.simulation.runner import build_scheduler, reference_entries
from netsim.simulation.scheduling import Allocation, SchedulingProblem

Policy = Callable[[np.ndarray, np.ndarray], int]
"""(observation, action mask) -> action."""


def _optimum(reference, cost: np.ndarray, penalty: np.ndarray,
             env: SlotAssignmentEnv) -> Allocation:
    problem = SchedulingProblem(cost, penalty, tuple(env.scenario.encoders),
                                env.scenario.users.voluntary_drop)
    return reference.decide(problem)


def evaluate_policy(policy: Policy, scenario: Scenario, seeds: list[int] | None = None) -> dict:
    """Mean cost per request of ``policy`` and of both optima, normalised scores and the
    policy's delay- and energy-violation rates, over the evaluation worlds (under
    ``delay_model: des``, in the closed loop: :func:`evaluate_closed_loop`)."""
    seeds = list(scenario.rl.eval_seeds if seeds is None else seeds)
    if scenario.delay_model == "des":
        return evaluate_closed_loop(policy, scenario, seeds)
    evaluation = scenario.model_copy(
        update={"rl": scenario.rl.model_copy(update={"episode_slots": scenario.rl.eval_slots})}
    )
    env = SlotAssignmentEnv(evaluation)
    model, limits = env.model, scenario.limits
    # the references of netsim run under the analytic model (the per-slot optima)
    oracle_reference, statistical_reference = (
        build_scheduler(entry, 0, scenario) for entry in reference_entries("analytic").values())
    totals = {"policy": 0.0, "oracle": 0.0, "statistical": 0.0}
    requests = served = delay_violations = energy_violations = 0
    for seed in seeds:
        observation, _ = env.reset(options={"world_seed": seed})
        world = env.world
        expected = model.expected_cost(world.distance_m, world.interference_w,
                                       world.user_cpu_hz)
        metrics = model.evaluate(
            model.snr(world.distance_m, world.fading, world.interference_w), world.user_cpu_hz
        )
        terminated = False
        while not terminated:
            slot = env.slot
            observation, _, terminated, _, info = env.step(
                policy(observation, env.action_masks())
            )
            totals["policy"] += info["cost"]
            requests += 1
            if "slot_steps" not in info:
                continue
            users = np.array([step.user for step in info["slot_steps"]])
            for step in info["slot_steps"]:
                if step.served:
                    served += 1
                    u, m, q = step.user, step.encoder, step.rb
                    delay = metrics.total_delay_s[slot, u, m, q]
                    energy = metrics.bs_energy_j[slot, u, m, q] + metrics.user_energy_j[slot, u]
                    delay_violations += int(delay > limits.max_delay_s)
                    energy_violations += int(energy > limits.max_energy_j)
            penalty = env.penalty[users]
            realised = env.realised_cost[slot][users]
            oracle = _optimum(oracle_reference, realised, penalty, env)
            statistical = _optimum(statistical_reference, expected[slot][users], penalty, env)
            totals["oracle"] += oracle.objective(
                SchedulingProblem(realised, penalty, tuple(env.scenario.encoders)))
            totals["statistical"] += statistical.objective(
                SchedulingProblem(realised, penalty, tuple(env.scenario.encoders)))
    return {
        "mean_cost": totals["policy"] / requests,
        "mean_return": -totals["policy"] / len(seeds),
        "oracle_mean_cost": totals["oracle"] / requests,
        "statistical_mean_cost": totals["statistical"] / requests,
        "score_vs_oracle": totals["oracle"] / totals["policy"],
        "score_vs_statistical": totals["statistical"] / totals["policy"],
        "delay_violation_rate": delay_violations / max(served, 1),
        "energy_violation_rate": energy_violations / max(served, 1),
    }


def evaluate_closed_loop(policy: Policy, scenario: Scenario, seeds: list[int]) -> dict:
    """The policy scheduling inside the closed loop (:class:`QueueAssignmentEnv`) on each
    evaluation seed's world and traffic (``rl.eval_slots`` slots), against the
    queue-aware exact per-slot references of ``netsim run`` (queue MILP, oracle and
    statistical) on the same world and traffic; every cost is what the simulation
    records (queueing included, lost and unserved requests at their penalty). Keys as
    :func:`evaluate_policy`'s; the scores compare with per-slot exact decisions, which
    a policy that looks ahead may beat (score above 1)."""
    from netsim.rl.queue_env import QueueAssignmentEnv
    from netsim.simulation.runner import loop_records, run_closed_loop_seed

    evaluation = scenario.model_copy(
        update={"rl": scenario.rl.model_copy(update={"episode_slots": scenario.rl.eval_slots})}
    )
    env = QueueAssignmentEnv(evaluation)
    oracle_label, statistical_label = reference_entries("des")
    totals = {"policy": 0.0, oracle_label: 0.0, statistical_label: 0.0}
    requests = served = delay_violations = energy_violations = 0
    for seed in seeds:
        observation, _ = env.reset(options={"world_seed": seed})
        terminated = env.assignment is None
        while not terminated:
            observation, _, terminated, _, _ = env.step(policy(observation, env.action_masks()))
        world = env.loop.world
        records = loop_records(env.model, world, env.result(), "policy", seed)
        totals["policy"] -= float(records["reward"].sum())
        requests += len(records)
        done = records[records["served"]]
        served += len(done)
        delay_violations += int((done["total_delay_s"] > scenario.limits.max_delay_s).sum())
        energy_violations += int((done["total_energy_j"] > scenario.limits.max_energy_j).sum())
        references = {label: build_scheduler(entry, seed, env.scenario)
                      for label, entry in reference_entries("des").items()}
        results = run_closed_loop_seed(env.model, world, seed, references)  # same world
        for label, result in results.items():
            totals[label] -= float(loop_records(env.model, world, result, label,
                                                seed)["reward"].sum())
    requests = max(requests, 1)
    return {
        "mean_cost": totals["policy"] / requests,
        "mean_return": -totals["policy"] / len(seeds),
        "oracle_mean_cost": totals[oracle_label] / requests,
        "statistical_mean_cost": totals[statistical_label] / requests,
        "score_vs_oracle": totals[oracle_label] / totals["policy"],
        "score_vs_statistical": totals[statistical_label] / totals["policy"],
        "delay_violation_rate": delay_violations / max(served, 1),
        "energy_violation_rate": energy_violations / max(served, 1),
    }


def myopic_policy(scenario: Scenario) -> Policy:
    """A reference that knows the cost model: each user in turn takes the valid action of
    least expected cost given what the observation shows (its mean SNRs and clock),
    with no regard for the users after it. What a policy could reach by learning each
    user's expected cost perfectly, and nothing about the others."""
    env = SlotAssignmentEnv(scenario)
    if env.size_free:  # the observation shows each action's expected cost
        return lambda observation, mask: int(np.argmin(np.where(
            mask, action_costs(observation, env.n_encoders), np.inf)))

    def act(observation: np.ndarray, mask: np.ndarray) -> int:
        user, mean_snr, clock_hz = env.observer.current_user(observation)
        cost = env.model.quadrature_expected_cost(mean_snr[None, :], np.array([clock_hz]))
        flat = np.append(cost.ravel(), env.penalty[user])
        return int(np.argmin(np.where(mask, flat, np.inf)))

    return act


def random_policy(rng: np.random.Generator) -> Policy:
    """Uniform among the valid actions."""
    return lambda observation, mask: int(rng.choice(np.flatnonzero(mask)))
