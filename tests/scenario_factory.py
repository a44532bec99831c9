"""Small scenarios for tests, built from the shipped paper scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from netsim.loading import parse_scenario
from netsim.scenario import Scenario

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
