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
from netsim.errors import ScenarioError
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


@pytest.mark.parametrize(("edit", "problem"), [
    (None, "cannot read it again"), ("a: [\n", "cannot read it again"),
    (b"\xff\xfe", "cannot read it again"), ("- 1\n", "no longer a scenario"),
    ("", "no longer a scenario")])
def test_a_scenario_gone_or_broken_by_the_end_of_the_trials_is_named(
        tmp_path: Path, edit: str | bytes | None, problem: str) -> None:
    """--write-best reads the scenario file again after the trials; a file removed
    meanwhile was reported as "--write-best best.yaml: writing failed (No such file or
    directory)", and one edited into bad YAML, a list or nothing gave a traceback. Now
    the scenario file is named, in one line."""
    import optuna

    from netsim.experiments.tune import write_best

    path = tune_file(tmp_path)
    scenario = load_scenario(path)
    study = open_study(scenario, str(tmp_path / "s.db"), None, 0)
    study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs={"values": "{}"}))
    if edit is None:
        path.unlink()
    elif isinstance(edit, bytes):
        path.write_bytes(edit)
    else:
        path.write_text(edit)
    with pytest.raises(ScenarioError, match=rf"{path.name}: .*{problem}"):
        write_best(study, scenario, str(path), path, tmp_path / "best.yaml")
    assert not (tmp_path / "best.yaml").exists()


def test_tune_without_a_sweep_is_an_input_error(tmp_path: Path) -> None:
    path = tune_file(tmp_path, sweep={})
    result = CliRunner().invoke(app, ["tune", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert one_line(result) == (f"netsim: {path}: sweep: required key is missing: it is the "
                                "search space")
    assert not (tmp_path / "out").exists()


def test_a_study_takes_trials_of_its_own_scenario_only(tmp_path: Path) -> None:
    """Another search space, another scenario setting, a study that minimises, or one
    holding trials netsim did not run, in the same study: one line, exit 2, nothing
    added (they were mixed in, and --write-best wrote values measured elsewhere)."""
    import optuna

    storage = str(tmp_path / "shared.db")
    first = tune_file(tmp_path)
    tune(load_scenario(first), str(first), 1, storage, tmp_path / "a", progress=False)
    other = tmp_path / "other"
    other.mkdir()
    cases = {
        "search space": tune_file(other, sweep={"grid": {"rl.ent_coef": [0.0, 0.01]},
                                                "kind": "train"}),
        "setting": tune_file(tmp_path / "other", rl={**RL, "n_epochs": 2}),
    }
    for case, path in cases.items():
        result = CliRunner().invoke(app, ["tune", str(path), "--trials", "1", "--study-db",
                                          storage, "--out", str(tmp_path / case),
                                          "--no-progress"])
        assert result.exit_code == 2, (case, result.output)
        assert one_line(result) == (
            f"netsim: --study-db {storage}: study 'tiny' holds trials of another scenario, "
            "search space or algorithm: tune that scenario, or choose another --study-name")
        assert not (tmp_path / case).exists()
    assert len(optuna.load_study(study_name="tiny", storage=f"sqlite:///{storage}").trials) == 1
    foreign = f"sqlite:///{tmp_path / 'foreign.db'}"
    optuna.create_study(study_name="tiny", storage=foreign, direction="minimize")
    optuna.create_study(study_name="mine", storage=foreign, direction="maximize").add_trial(
        optuna.trial.create_trial(value=1.0))
    # a study of an earlier netsim (no fingerprint): its trials are netsim's, over this
    # search space's keys: taken, and fingerprinted
    distribution = optuna.distributions.CategoricalDistribution([1e-4, 1e-3])
    optuna.create_study(study_name="earlier", storage=foreign, direction="maximize").add_trial(
        optuna.trial.create_trial(value=0.5, params={"rl.learning_rate": 1e-4},
                                  distributions={"rl.learning_rate": distribution},
                                  user_attrs={"values": "{}"}))
    earlier = open_study(load_scenario(first), foreign, "earlier", 0)
    assert len(earlier.trials) == 1 and "netsim_scenario_sha256" in earlier.user_attrs
    for name, problem in (("tiny", "does not maximise one objective"),
                          ("mine", "holds trials netsim tune did not run")):
        result = CliRunner().invoke(app, ["tune", str(first), "--study-db", foreign,
                                          "--study-name", name, "--out", str(tmp_path / name),
                                          "--no-progress"])
        assert result.exit_code == 2 and problem in one_line(result), result.output


def test_a_trial_whose_process_died_is_run_again_with_its_values(tmp_path: Path) -> None:
    """A trial killed (left RUNNING, its process gone) or interrupted (Ctrl-C leaves it
    FAIL) was never redone, so its values were lost to the study: the next tune marks
    the dead one FAIL and runs each again, once, with the same values."""
    import os
    import socket
    import subprocess
    import sys

    import optuna

    path = tune_file(tmp_path)
    scenario = load_scenario(path)
    storage = str(tmp_path / "study.db")
    study = open_study(scenario, storage, None, 0)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    killed, interrupted = study.ask(), study.ask()
    for trial, rate, clip in ((killed, 1e-4, 1), (interrupted, 1e-3, 0)):
        trial.suggest_categorical("rl.learning_rate", [1e-4, 1e-3])
        trial.suggest_categorical("sweep.points", [0, 1])
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", int(gone.stdout))
    study.tell(interrupted, state=optuna.trial.TrialState.FAIL)
    alive = study.ask()  # a trial another live worker is running: left alone
    alive.set_user_attr("host", socket.gethostname())
    alive.set_user_attr("pid", os.getpid())
    again = tune(scenario, str(path), 2, storage, tmp_path / "out", progress=False)
    states = {t.number: t.state.name for t in again.trials}
    assert states == {0: "FAIL", 1: "FAIL", 2: "RUNNING", 3: "COMPLETE", 4: "COMPLETE"}
    retries = {t.user_attrs["retry_of"]: t.params for t in again.trials[3:]}
    assert retries == {0: again.trials[0].params, 1: again.trials[1].params}
    table = pd.read_csv(tmp_path / "out" / "trials.csv")
    assert table["retry_of"].tolist()[3:] == [0, 1]
    third = tune(scenario, str(path), 1, storage, tmp_path / "out", progress=False)
    assert "retry_of" not in third.trials[-1].user_attrs  # each is redone once


@pytest.mark.parametrize("db", ["study.db", "study.log"])
def test_a_trial_of_another_machine_is_dead_when_its_heartbeat_stops(
        tmp_path: Path, monkeypatch, db: str) -> None:
    """A trial killed on another machine sharing the study stayed RUNNING for good (its
    process could be looked for only on its own machine), its values lost to the study.
    A running trial now records its time every HEARTBEAT_S (a thread, while it trains);
    one of another machine whose time is older than STALE_S is redone, once; a fresh
    one, or one that never recorded a time (an earlier netsim), is left alone."""
    import threading
    import time

    from netsim.experiments import tune as tuning
    from netsim.experiments.tune import ALIVE_AT, STALE_S, heartbeat, redo_dead_trials

    path = tune_file(tmp_path)
    scenario = load_scenario(path)
    storage = str(tmp_path / db)
    study = open_study(scenario, storage, None, 0)
    now = time.time()
    for alive_at in (now - STALE_S - 5, now - 5, None):
        trial = study.ask()
        trial.suggest_categorical("rl.learning_rate", [1e-4, 1e-3])
        trial.set_user_attr("host", "another-machine")
        trial.set_user_attr("pid", 1)  # alive here, which says nothing of that machine
        if alive_at is not None:
            trial.set_user_attr(ALIVE_AT, alive_at)
    assert redo_dead_trials(study, storage) == [0]
    assert [t.state.name for t in study.trials] == ["FAIL", "RUNNING", "RUNNING", "WAITING"]
    assert redo_dead_trials(study, storage) == []  # once
    # the heartbeat: recorded at once, then every HEARTBEAT_S until the block ends
    monkeypatch.setattr(tuning, "HEARTBEAT_S", 0.05)
    trial = study.ask()
    seen: list[float] = []
    with heartbeat(trial):
        deadline = time.time() + 10
        while len(set(seen)) < 3 and time.time() < deadline:
            seen.append(study.trials[-1].user_attrs.get(ALIVE_AT, 0.0))
            time.sleep(0.02)
    assert len(set(seen) - {0.0}) >= 2 and max(seen) >= now
    assert not any(t.name == "netsim-tune-heartbeat" for t in threading.enumerate())


def test_workers_starting_together_queue_one_retry(tmp_path: Path, monkeypatch) -> None:
    """Two tune workers starting at once on a study with a dead trial each read that no
    retry was queued yet, and each queued one: the trial ran twice. They now take turns
    (a lock file beside the study), so the second sees the first's retry."""
    import threading
    import time

    import optuna

    from netsim.experiments.tune import redo_dead_trials

    path = tune_file(tmp_path)
    scenario = load_scenario(path)
    storage = str(tmp_path / "study.db")
    study = open_study(scenario, storage, None, 0)
    trial = study.ask()
    trial.suggest_categorical("rl.learning_rate", [1e-4, 1e-3])
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    enqueue = optuna.Study.enqueue_trial

    def slow_enqueue(self, *args, **kwargs):
        time.sleep(0.5)  # the other worker reads the trials meanwhile
        return enqueue(self, *args, **kwargs)

    monkeypatch.setattr(optuna.Study, "enqueue_trial", slow_enqueue)
    queued: list[list[int]] = []
    workers = [threading.Thread(target=lambda: queued.append(redo_dead_trials(
        open_study(scenario, storage, None, 0), storage))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(queued) == [[], [0]]
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.user_attrs["retry_of"] for t in waiting] == [0]


def test_tune_refuses_what_it_would_damage(tmp_path: Path) -> None:
    """--write-best over the scenario being tuned or someone's file, a database that is
    not a study, a database server URL, a journal whose last record was cut off, a run
    sweep: one line, exit 2, before any trial, the files untouched."""
    import sqlite3
    from contextlib import closing

    path = tune_file(tmp_path)
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    for name in ("photos.db", "my#1.db"):
        with closing(sqlite3.connect(tmp_path / name)) as connection:
            connection.execute("CREATE TABLE photos (name TEXT)")
            connection.commit()
    journal = tmp_path / "torn.log"
    journal.write_bytes(b'{"op_code": 0, "worker_id": "w", "study_name": "tiny", "direc')
    (tmp_path / "run").mkdir()
    run_sweep = tune_file(tmp_path / "run", sweep={"users.count": [2, 3]})
    cases = [
        (["--write-best", str(path)], "--write-best", "is the scenario being tuned"),
        (["--write-best", str(tmp_path / "mine.yaml")], "--write-best",
         "netsim tune did not write"),
        (["--study-db", str(tmp_path / "photos.db")], "--study-db", "not an Optuna study"),
        # URL options, and a '#' in the name (it opened, and created, another file)
        (["--study-db", f"sqlite:///{tmp_path / 'photos.db'}?timeout=5"], "--study-db",
         "not an Optuna study"),
        (["--study-db", str(tmp_path / "my#1.db")], "--study-db", "not an Optuna study"),
        (["--study-db", "postgresql://user@host/db"], "--study-db", "other database URLs"),
        (["--study-db", str(journal)], "--study-db", "the last record was cut off"),
    ]
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    for extra, option, problem in cases:
        result = CliRunner().invoke(app, ["tune", str(path), "--trials", "1", "--out",
                                          str(tmp_path / "out"), "--no-progress", *extra])
        assert result.exit_code == 2, (extra, result.output)
        line = one_line(result)
        assert line.startswith(f"netsim: {option} ") and problem in line, line
        assert not (tmp_path / "out").exists()
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    result = CliRunner().invoke(app, ["tune", str(run_sweep), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "sweep.kind: run" in one_line(result)


def test_a_study_with_the_largest_seed_resumes(tmp_path: Path) -> None:
    """The sampler is seeded seed + trials so far: with --seed 2**32 - 1, a study with a
    trial could not be opened again (numpy's seed limit); the seed wraps instead."""
    import optuna

    scenario = load_scenario(tune_file(tmp_path))
    storage = str(tmp_path / "study.db")
    open_study(scenario, storage, None, 2**32 - 1).add_trial(
        optuna.trial.create_trial(value=0.5))
    assert len(open_study(scenario, storage, None, 2**32 - 1).trials) == 1


def test_a_study_tells_profiles_apart_by_their_content(tmp_path: Path) -> None:
    """Two scenarios that differ only in their profile CSV's numbers: one study took
    both (the resolved scenario names the profile, not its content)."""
    import shutil

    from netsim.model.taskloss import DEFAULT_PROFILE_PATH

    shutil.copy(DEFAULT_PROFILE_PATH, tmp_path / "p.csv")
    storage = str(tmp_path / "study.db")
    path = tune_file(tmp_path, profile="p.csv")
    open_study(load_scenario(path), storage, None, 0)
    text = (tmp_path / "p.csv").read_text().splitlines()
    header, first = text[0], text[1].split(",")
    column = header.split(",").index("cross_entropy")
    first[column] = str(float(first[column]) * 3)
    (tmp_path / "p.csv").write_text("\n".join([header, ",".join(first), *text[2:]]) + "\n")
    with pytest.raises(Exception, match="holds trials of another scenario"):
        open_study(load_scenario(path), storage, None, 0)
