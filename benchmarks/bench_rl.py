"""RL benchmarks (outside the test suite): environment steps per second alone and
inside MaskablePPO training, and the environment's share of a training step (the
per-slot environment, or the closed loop for a ``delay_model: des`` scenario).

    python benchmarks/bench_rl.py [--steps N] [--scenario FILE] [--policy mlp|size_free]
    python benchmarks/bench_rl.py --orders [--scenario FILE]
    python benchmarks/bench_rl.py --cold [--scenario FILE] [--policy mlp|size_free]
    python benchmarks/bench_rl.py --parts [--scenario FILE] [--policy mlp|size_free]
                                  [--realise]
    python benchmarks/bench_rl.py --n-envs 1,2,4 [--algo ppo] [--steps N] [--repeats R]
    python benchmarks/bench_rl.py --worker [--scenario FILE] [--policy mlp|size_free]
                                  [--steps N] [--repeats R]

--orders scores the myopic reference policy (each user takes its action of least
expected cost, netsim.rl.evaluation.myopic_policy) under each rl.user_order, against
the statistical optimum on 20 held-out worlds: how much of the optimum the order of
assignment alone leaves within a per-user policy's reach.

--cold times the environment alone (random valid actions) warm, with 32 MB read
between its steps, and with one forward pass of netsim train's MaskablePPO policy
between its steps (what a rollout puts there): each step then starts on caches
something else filled, as inside training (interleaved, twice each).

--parts splits the environment's own time (random valid actions) into action masks,
steps within a slot, steps that end one (the closed loop runs on to the next boundary)
and resets, in us per step.

--n-envs times training (the algorithm as `netsim train` builds it, the scenario's
settings; PPO's n_steps divided by the number of environments, so that a rollout stays
the same number of steps) with rl.n_envs environments side by side in one process
(DummyVecEnv, what netsim train uses) and, for comparison, in one worker process each
(SB3's SubprocVecEnv), interleaved over R repeats: median steps/s, the ratio to one
environment, and the environments' share of the training's time (its calls to
step_wait, reset and env_method, action masks included).

--worker times MaskablePPO (as `netsim train` builds it) with the environment in this
process (DummyVecEnv, what netsim train uses) and in a worker process of its own (SB3's
SubprocVecEnv; each step's info carries the next action mask, so that a step is one
round trip), interleaved over R repeats: median steps/s and the environment's share (the
time the training waits for it), and whether both give the same weights. In a process
of its own the environment's caches stay warm (--cold shows what the policy's passes
cost it); a round trip through the pipe is what that costs instead.

The PPO learning curve against the exact optimum comes from `netsim train` itself
(learning_curve.csv); see the README for the recorded run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from netsim.loading import load_scenario
from netsim.rl.env import SlotAssignmentEnv
from netsim.rl.evaluation import evaluate_policy, myopic_policy
from netsim.rl.queue_env import QueueAssignmentEnv

PAPER = Path(__file__).resolve().parent.parent / "scenarios" / "paper.yaml"


REALISE = False
"""--realise: the closed-loop environment runs a SimPy process per served request (as
netsim run does) instead of taking its times from the ledger (training's default)."""


def env_class(scenario) -> type:
    """The environment netsim train uses for the scenario (the closed loop's without the
    info's realised cost, solvers.rl.training.make_env; with --realise, a SimPy process
    per served request)."""
    if scenario.delay_model != "des":
        return SlotAssignmentEnv

    class AsTrained(QueueAssignmentEnv):
        def __init__(self, scenario) -> None:
            super().__init__(scenario, realise=REALISE, report_cost=False)

    return AsTrained


def env_steps_per_second(scenario, steps: int, between=None) -> float:
    """Random valid actions, resets included: the environment alone. ``between``:
    called (untimed) with the observation and mask before each step, so that the step
    starts on caches something else has filled, as inside a training loop."""
    env = env_class(scenario)(scenario)
    observation, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    spent = 0.0
    for _ in range(steps):
        if between is not None:
            between(observation, env.action_masks())
        started = time.perf_counter()
        action = int(rng.choice(np.flatnonzero(env.action_masks())))
        observation, _, terminated, _, _ = env.step(action)
        if terminated:
            observation, _ = env.reset()
        spent += time.perf_counter() - started
    return steps / spent


def cold_rates(scenario, steps: int) -> None:
    """The environment alone warm, with 32 MB read between its steps, and with one
    forward pass of the MaskablePPO policy netsim train builds between its steps (what
    a rollout does), interleaved twice."""
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from netsim.rl.masks import MaskSpec
    from solvers.rl.algorithms import ALGORITHMS

    torch.set_num_threads(scenario.rl.torch_threads)
    other = np.ones(32 * 2**20 // 8)
    model = ALGORITHMS["ppo"][0](DummyVecEnv([lambda: env_class(scenario)(scenario)]),
                                 scenario.rl, 0, None, MaskSpec.from_scenario(scenario))

    def forward(observation, mask) -> None:
        with torch.no_grad():
            model.policy(torch.as_tensor(observation[None]), action_masks=mask[None])

    configs = {"warm": None, "32 MB read between steps": lambda *_: other.sum(),
               "a policy forward between steps": forward}
    for _ in range(2):
        for label, between in configs.items():
            rate = env_steps_per_second(scenario, steps, between)
            print(f"environment alone, {label:31s} {rate:8.0f} steps/s "
                  f"({1e6 / rate:.0f} us a step)")


def environment_parts(scenario, steps: int) -> dict[str, float]:
    """Random valid actions (as env_steps_per_second), the time split by what the step
    does, in us per step (each part amortised over all steps): action masks, steps
    within a slot, the steps that end one (the simulation runs on to the next
    boundary), and resets."""
    env = env_class(scenario)(scenario)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    spent = dict.fromkeys(("masks", "within a slot", "ending a slot", "resets"), 0.0)
    clock = time.perf_counter
    for _ in range(steps):
        started = clock()
        mask = env.action_masks()
        spent["masks"] += clock() - started
        action = int(rng.choice(np.flatnonzero(mask)))
        last = getattr(env.assignment, "users_left", 1) == 1
        started = clock()
        _, _, terminated, _, _ = env.step(action)
        spent["ending a slot" if last else "within a slot"] += clock() - started
        if terminated:
            started = clock()
            env.reset()
            spent["resets"] += clock() - started
    return {part: 1e6 * seconds / steps for part, seconds in spent.items()}


def ppo_steps_per_second(scenario, steps: int, keep_model: bool = False):  # type: ignore[no-untyped-def]
    """MaskablePPO learning ``steps`` steps; returns (steps/s, seconds spent in the
    environment's step(), reset() and action_masks()), and the model if ``keep_model``."""
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from netsim.rl.masks import MaskSpec
    from solvers.rl.algorithms import ALGORITHMS

    torch.set_num_threads(scenario.rl.torch_threads)  # as netsim train does

    spent = [0.0]

    class Timed(env_class(scenario)):
        def step(self, action):
            started = time.perf_counter()
            result = super().step(action)
            spent[0] += time.perf_counter() - started
            return result

        def reset(self, **kwargs):
            started = time.perf_counter()
            result = super().reset(**kwargs)
            spent[0] += time.perf_counter() - started
            return result

        def action_masks(self):
            started = time.perf_counter()
            result = super().action_masks()
            spent[0] += time.perf_counter() - started
            return result

    env = DummyVecEnv([lambda: Timed(scenario)])
    # as netsim train builds it: the scenario's rl settings and policy (mlp or size-free)
    model = ALGORITHMS["ppo"][0](env, scenario.rl, 0, None, MaskSpec.from_scenario(scenario))
    started = time.perf_counter()
    model.learn(steps)
    rate = steps / (time.perf_counter() - started)
    return (rate, spent[0], model) if keep_model else (rate, spent[0])


def timed_calls(venv, names: tuple[str, ...]) -> list[float]:
    """Wrap the vectorised environment's methods ``names`` so that the seconds the
    training spends in them add up in the returned one-element list."""
    waited = [0.0]

    def timed(method):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                waited[0] += time.perf_counter() - started
        return call

    for name in names:
        setattr(venv, name, timed(getattr(venv, name)))
    return waited


def vec_env_rates(scenario, algo: str, counts: list[int], steps: int, repeats: int) -> None:
    import statistics

    import torch
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from netsim.rl.masks import MaskSpec
    from solvers.rl.algorithms import ALGORITHMS
    from solvers.rl.training import make_env

    torch.set_num_threads(1)

    def subprocess_envs(each, n: int) -> SubprocVecEnv:
        def build(i: int):
            def make() -> Monitor:
                env = env_class(each)(each)
                env.reset(seed=i)
                return Monitor(env)
            return make
        return SubprocVecEnv([build(i) for i in range(n)])

    configs = [(kind, n) for n in counts for kind in ("dummy", "subproc")
               if not (kind == "subproc" and n == 1)]
    rates: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    shares: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    for _ in range(repeats):
        for kind, n in configs:  # interleaved: the machine's load hits every config alike
            rl = scenario.rl.model_copy(update={
                "n_envs": n, "n_steps": max(scenario.rl.n_steps // n, 2)})
            each = scenario.model_copy(update={"rl": rl})
            venv = make_env(each, 0) if kind == "dummy" else subprocess_envs(each, n)
            waited = timed_calls(venv, ("step_wait", "reset", "env_method"))
            model = ALGORITHMS[algo][0](venv, rl, 0, None, MaskSpec.from_scenario(each))
            waited[0] = 0.0
            started = time.perf_counter()
            model.learn(steps)
            wall = time.perf_counter() - started
            rates[(kind, n)].append(steps / wall)
            shares[(kind, n)].append(waited[0] / wall)
            venv.close()
    base = statistics.median(rates[("dummy", 1)])
    print(f"{algo} on {scenario.name}, {steps} steps, median of {repeats} (interleaved):")
    for (kind, n), values in rates.items():
        median = statistics.median(values)
        share = 100 * statistics.median(shares[(kind, n)])
        print(f"  n_envs {n} {kind:8s} {median:8.0f} steps/s   x{median / base:.2f}   "
              f"environment share {share:5.1f} %")


def worker_process_share(scenario, steps: int, repeats: int) -> None:
    """MaskablePPO with the environment in this process and in a worker process,
    interleaved (the module docstring's --worker)."""
    import statistics

    import gymnasium as gym
    import torch
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from netsim.rl.masks import MaskSpec
    from solvers.rl.algorithms import ALGORITHMS

    torch.set_num_threads(scenario.rl.torch_threads)

    class MaskInInfo(gym.Wrapper):
        """Each step's and reset's info carries the action mask that follows it."""

        def step(self, action):
            observation, reward, terminated, truncated, info = self.env.step(action)
            return observation, reward, terminated, truncated, {
                **info, "action_mask": self.env.unwrapped.action_masks()}

        def reset(self, **kwargs):
            observation, info = self.env.reset(**kwargs)
            return observation, {**info, "action_mask": self.env.unwrapped.action_masks()}

    def build():
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C stops the driver only
        return MaskInInfo(env_class(scenario)(scenario))

    waited = [0.0]

    class Worker(SubprocVecEnv):
        """The masks from the infos (after an episode's end, the reset's)."""

        def step_async(self, actions):
            started = time.perf_counter()
            super().step_async(actions)
            waited[0] += time.perf_counter() - started

        def step_wait(self):
            started = time.perf_counter()
            result = super().step_wait()
            self.masks = [(reset if done else info)["action_mask"]
                          for info, reset, done in zip(result[3], self.reset_infos, result[2],
                                                       strict=True)]
            waited[0] += time.perf_counter() - started
            return result

        def reset(self):
            started = time.perf_counter()
            observation = super().reset()
            self.masks = [info["action_mask"] for info in self.reset_infos]
            waited[0] += time.perf_counter() - started
            return observation

        def env_method(self, method_name, *args, indices=None, **kwargs):
            if method_name == "action_masks" and indices is None:
                return list(self.masks)
            return super().env_method(method_name, *args, indices=indices, **kwargs)

    def in_worker() -> tuple[float, float, torch.Tensor]:
        venv = Worker([build])
        venv.seed(0)
        model = ALGORITHMS["ppo"][0](venv, scenario.rl, 0, None, MaskSpec.from_scenario(scenario))
        waited[0] = 0.0
        started = time.perf_counter()
        model.learn(steps)
        wall = time.perf_counter() - started
        venv.close()
        return steps / wall, waited[0] / wall, weights(model)

    def weights(model) -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in model.policy.parameters()])

    rates: dict[str, list[float]] = {"in this process": [], "in a worker process": []}
    shares: dict[str, list[float]] = {key: [] for key in rates}
    same = True
    for _ in range(repeats):
        rate, spent, model = ppo_steps_per_second(scenario, steps, keep_model=True)
        rates["in this process"].append(rate)
        shares["in this process"].append(spent / (steps / rate))
        rate, share, other = in_worker()
        rates["in a worker process"].append(rate)
        shares["in a worker process"].append(share)
        same = same and torch.equal(weights(model), other)
    print(f"MaskablePPO on {scenario.name}, policy {scenario.rl.policy}, {steps} steps, "
          f"median of {repeats} (interleaved):")
    for key, values in rates.items():
        print(f"  environment {key:21s} {statistics.median(values):7.0f} steps/s, "
              f"its share {100 * statistics.median(shares[key]):5.1f} %")
    print(f"  the same weights either way: {same}")


def order_scores(scenario) -> None:
    seeds = list(range(10_000, 10_020))
    for order in ("farthest_first", "index"):
        ordered = scenario.model_copy(
            update={"rl": scenario.rl.model_copy(update={"user_order": order})})
        result = evaluate_policy(myopic_policy(ordered), ordered, seeds)
        print(f"myopic policy, user_order {order:15s}: score vs statistical "
              f"{result['score_vs_statistical']:.3f}, vs oracle {result['score_vs_oracle']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--scenario", type=Path, default=PAPER)
    parser.add_argument("--orders", action="store_true", help="score the user orders")
    parser.add_argument("--parts", action="store_true",
                        help="the environment alone, its time split by what a step does")
    parser.add_argument("--n-envs", help="time training with these rl.n_envs, e.g. 1,2,4")
    parser.add_argument("--algo", default="ppo", help="algorithm for --n-envs")
    parser.add_argument("--repeats", type=int, default=3, help="repeats for --n-envs, --worker")
    parser.add_argument("--worker", action="store_true",
                        help="PPO with the environment in this process and in a worker "
                             "process of its own: steps/s and the environment's share")
    parser.add_argument("--cold", action="store_true",
                        help="the environment alone, warm, with 32 MB read and with a "
                             "policy forward pass between steps (as in training)")
    parser.add_argument("--realise", action="store_true",
                        help="closed loop: a SimPy process per served request, as in "
                             "netsim run (training takes the ledger's times)")
    parser.add_argument("--policy", choices=("mlp", "size_free"),
                        help="rl.policy instead of the scenario's")
    args = parser.parse_args()
    global REALISE
    REALISE = args.realise
    scenario = load_scenario(args.scenario)
    if args.policy:
        scenario = scenario.model_copy(
            update={"rl": scenario.rl.model_copy(update={"policy": args.policy})})
    if args.n_envs:
        counts = [int(n) for n in args.n_envs.split(",")]
        vec_env_rates(scenario, args.algo, counts, args.steps, args.repeats)
        return
    if args.worker:
        worker_process_share(scenario, args.steps, args.repeats)
        return
    if args.orders:
        order_scores(scenario)
        return
    if args.parts:
        parts = environment_parts(scenario, args.steps)
        print(f"environment alone, us per step (amortised over {args.steps} steps): "
              + ", ".join(f"{part} {value:.1f}" for part, value in parts.items())
              + f"; total {sum(parts.values()):.1f}")
        return
    if args.cold:
        cold_rates(scenario, args.steps)
        return
    alone = env_steps_per_second(scenario, args.steps)
    training, in_env = ppo_steps_per_second(scenario, args.steps)
    share = in_env / (args.steps / training)
    print(f"scenario {args.scenario.name}: U = {scenario.users.count}, Q = {scenario.cell.n_rbs}, "
          f"policy {scenario.rl.policy}")
    print(f"environment alone:       {alone:10.0f} steps/s")
    print(f"inside MaskablePPO:      {training:10.0f} steps/s")
    print(f"environment share of a PPO training step: {100 * share:.1f} %")


if __name__ == "__main__":
    main()
