"""Optuna search: a study stored in a file resumes (2 trials, reopen, 1 more -> 3),
intermediate values come from the learning-curve evaluations, and the best values are
written back as a valid scenario file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from netsim.cli import app
from netsim.experiments.tune import open_study, tune
from netsim.loading import load_scenario
from tests.scenario_factory import RL, one_line, tiny, write_yaml


def tune_file(tmp_path: Path, **changes: Any) -> Path:
    data = tiny(seeds=[0], rl=RL, users={"count": 2},
                sweep={"grid": {"rl.learning_rate": [1e-4, 1e-3]},
                       "points": [{"rl.clip_range": 0.1}, {"rl.clip_range": 0.3}],
                       "kind": "train"})
    data.update(changes)
    return write_yaml(tmp_path / "tune.yaml", data)


@pytest.mark.parametrize("db", ["study.db", "study.log"])
def test_study_resumes_from_its_file(tmp_path: Path, db: str) -> None:
    path = tune_file(tmp_path)
    scenario = load_scenario(path)
    storage = str(tmp_path / db)
    first = tune(scenario, str(path), 2, storage, tmp_path / "out", progress=False)
    assert len(first.trials) == 2
    again = tune(scenario, str(path), 1, storage, tmp_path / "out", progress=False)
    assert len(again.trials) == 3
    assert len(open_study(scenario, storage, None, 0).trials) == 3
    trial = again.trials[0]
    assert set(trial.params) == {"rl.learning_rate", "sweep.points"}
    # intermediate values are the learning-curve evaluations, step by step
    curve = pd.read_csv(tmp_path / "out" / "trial-0" / "learning_curve.csv")
    assert trial.state.name == "COMPLETE"  # the pruner waits for two finished trials
    assert trial.intermediate_values == pytest.approx(
        dict(zip(curve["env_steps"], curve["score_vs_statistical"])), rel=1e-9)
    assert trial.value == pytest.approx(curve["score_vs_statistical"].iloc[-1], rel=1e-9)
    table = pd.read_csv(tmp_path / "out" / "trials.csv")
    assert list(table["number"]) == [0, 1, 2]


def test_tune_command_writes_the_best_scenario(tmp_path: Path) -> None:
    path = tune_file(tmp_path)
    best = tmp_path / "best.yaml"
    args = ["tune", str(path), "--trials", "2", "--study-db", str(tmp_path / "s.db"),
            "--out", str(tmp_path / "out"), "--write-best", str(best), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    written = load_scenario(best)
    assert not written.sweep
    data = yaml.safe_load(best.read_text())
    assert data["rl"]["clip_range"] in (0.1, 0.3)
    assert data["rl"]["learning_rate"] in (1e-4, 1e-3)
    assert CliRunner().invoke(app, ["tune", "--help"]).exit_code == 0


def test_tune_without_a_sweep_is_an_input_error(tmp_path: Path) -> None:
    path = tune_file(tmp_path, sweep={})
    result = CliRunner().invoke(app, ["tune", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert one_line(result) == (f"netsim: {path}: sweep: required key is missing: it is the "
                                "search space")
    assert not (tmp_path / "out").exists()
