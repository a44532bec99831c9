"""Helpers shared by the test modules: small scenarios built from the shipped paper
scenario, YAML writing, and the one-line error check (test modules import these from
here, never from each other)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from netsim.loading import parse_scenario
from netsim.scenario import Scenario
from netsim.simulation.scheduling import SchedulingProblem

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "scenarios" / "paper.yaml"


def paper_dict() -> dict[str, Any]:
    return yaml.safe_load(PAPER.read_text())


def deep_update(data: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            deep_update(data[key], value)
        else:
            data[key] = value
    return data


def make_scenario(**updates: Any) -> Scenario:
    """paper.yaml with nested overrides, e.g. make_scenario(cell={"n_rbs": 3}, slots=4)."""
    data = deep_update(paper_dict(), updates)
    return parse_scenario(data, "test-scenario", PAPER.parent)


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def one_line(result) -> str:
    """The only non-blank line of a CLI result's output (an error is one line)."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def tiny(**changes: Any) -> dict[str, Any]:
    """A 3-slot, 3-RB sweep over users.count [2, 3], two seeds: small enough for many runs."""
    data = paper_dict()
    data.update(name="tiny", slots=3, seeds=[0, 1], cell={**data["cell"], "n_rbs": 3},
                schedulers=[{"type": "hungarian", "information": "statistical"}, "random"],
                sweep={"users.count": [2, 3]})
    data.update(changes)
    return data


def scenario_of(data: dict[str, Any]):
    return parse_scenario(data, "tiny.yaml", PAPER.parent)


RL = {"total_steps": 128, "n_steps": 64, "batch_size": 32, "n_epochs": 1, "net_arch": [16],
      "eval_every_steps": 64, "eval_seeds": [10_000], "eval_slots": 2}


def brute_force(problem: SchedulingProblem) -> float:
    """Enumerate every feasible allocation over x[u, m, q] (no best-encoder shortcut)."""
    n_users, n_enc, n_rbs = problem.shape
    must_serve = min(n_users, n_rbs)
    best = np.inf

    def search(u: int, used: frozenset, total: float, served: int) -> None:
        nonlocal best
        if u == n_users:
            if problem.voluntary_drop or served == must_serve:
                best = min(best, total)
            return
        search(u + 1, used, total + problem.drop_penalty[u], served)
        for q in range(n_rbs):
            if q not in used:
                for m in range(n_enc):
                    search(u + 1, used | {q}, total + problem.cost[u, m, q], served + 1)

    search(0, frozenset(), 0.0, 0)
    return best


def episode_cost(agent, env, world_seed: int) -> float:  # type: ignore[no-untyped-def]
    """The realised cost of one episode on world ``world_seed`` (the sum of the infos'
    ``cost``) with ``agent``'s deterministic, masked actions: what netsim run records
    for that agent on that seed."""
    observation, _ = env.reset(options={"world_seed": world_seed})
    total, terminated = 0.0, False
    while not terminated:
        action, _ = agent.predict(observation, action_masks=env.action_masks(),
                                  deterministic=True)
        observation, _, terminated, _, info = env.step(action)
        total += info["cost"]
    return total
