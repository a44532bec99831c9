"""``netsim tune``: hyperparameter search for an RL agent with Optuna.

The search space is the scenario's ``sweep``: every grid key is a categorical choice
among its values, and a ``points`` list is one categorical choice among its entries
(keys that move together) — so a sweep file (e.g. scenarios/sweeps/ppo_sensitivity.yaml)
is searched with the TPE sampler instead of run point by point. A trial trains
``sweep.algo`` (rl.total_steps steps) at the chosen values; at every learning-curve
evaluation (rl.eval_every_steps) its score against the statistical optimum is reported
to Optuna, whose median pruner stops trials that fall behind. The objective is the
last evaluation's score (1 = optimal), maximised.

The study lives in a file database, so a study resumes and several workers (processes
or machines sharing the file) can run trials of one study at once: ``sqlite:///PATH``
or a ``.db`` path (SQLite), or a ``.log``/``.jsonl`` path (Optuna's journal file, the
better choice for many concurrent workers).

Output folder: ``trial-<number>/`` (each trial's training folder), ``trials.csv``
(every trial: state, value, parameters; rewritten after each trial).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from netsim.errors import ScenarioError
from netsim.io import atomic_write_text
from netsim.loading import parse_scenario, scenario_with
from netsim.model.taskloss import portable_profile
from netsim.ownership import claim_folder
from netsim.scenario import Scenario, set_dotted
from netsim.simulation.output import csv_text
from netsim.verbosity import is_verbose

OBJECTIVE = "score_vs_statistical"
POINT_CHOICE = "sweep.points"
JOURNAL_SUFFIXES = (".log", ".jsonl", ".journal")


def search_space(scenario: Scenario, source: str) -> dict[str, list[Any]]:
    """Parameter name -> choices: each grid key, plus ``sweep.points`` (entry indexes)."""
    if not scenario.sweep:
        raise ScenarioError(source, "sweep", "required key is missing: it is the search space")
    space = {key: list(values) for key, values in scenario.sweep.grid.items()}
    if scenario.sweep.points:
        space[POINT_CHOICE] = list(range(len(scenario.sweep.points)))
    return space


def chosen_values(scenario: Scenario, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters as dotted-key values (a points choice expanded)."""
    values = dict(scenario.sweep.points[params[POINT_CHOICE]]) if POINT_CHOICE in params else {}
    values.update({key: value for key, value in params.items() if key != POINT_CHOICE})
    return values


def open_storage(study_db: str):
    """An Optuna storage for a file: a journal file or SQLite (see the module doc)."""
    import optuna

    if "://" in study_db:
        return study_db
    path = Path(study_db)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in JOURNAL_SUFFIXES:
        check_journal(path)
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(str(path)))
    return optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")


def check_journal(path: Path) -> None:
    """Refuse, before Optuna appends to it, a journal file whose complete lines are not
    all JSON records (a damaged file, or not a journal)."""
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n") or not line.strip():
                continue  # a line another worker is writing now
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                raise ScenarioError(f"--study-db {path}", "", f"line {number}: not an Optuna "
                                    "journal record (a damaged file, or not a journal)")


def open_study(scenario: Scenario, study_db: str, study_name: str | None, seed: int):
    """Create or load the study. The TPE sampler's seed moves on with the number of
    trials already stored, so a resumed study does not replay its first random draws."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    name = study_name or scenario.name
    try:
        storage = open_storage(study_db)
        try:
            done = len(optuna.load_study(study_name=name, storage=storage).trials)
        except KeyError:
            done = 0
        return optuna.create_study(
            study_name=name, storage=storage, load_if_exists=True, direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed + done),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
        )
    except (OSError, ValueError, SQLAlchemyError, optuna.exceptions.OptunaError) as error:
        # a damaged or foreign file, a folder, an unknown URL scheme: input to fix
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        reason = " ".join(str(reason).split("\n")[0].split())[:200]
        raise ScenarioError(f"--study-db {study_db}", "",
                            f"cannot open the study ({reason})") from None


def make_objective(scenario: Scenario, source: str, out_dir: Path, seed: int,
                   space: dict[str, list[Any]]) -> Callable:
    import optuna

    from netsim.simulation.registry import rl_entry

    train = rl_entry("train")
    algo = scenario.sweep.algo

    def objective(trial: optuna.Trial) -> float:
        params = {key: trial.suggest_categorical(key, _choices(choices))
                  for key, choices in space.items()}
        values = chosen_values(scenario, {k: _value(v) for k, v in params.items()})
        trial.set_user_attr("values", json.dumps(values, sort_keys=True))
        candidate = scenario_with(scenario, source, values)
        scores: list[float] = []

        def report(row: dict) -> None:
            scores.append(float(row[OBJECTIVE]))
            trial.report(scores[-1], step=int(row["env_steps"]))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at {row['env_steps']} steps")

        train(candidate, algo, out_dir / f"trial-{trial.number}", seed=seed, progress=False,
              on_evaluation=report)
        return scores[-1]

    return objective


def _choices(values: list[Any]) -> list[Any]:
    """Optuna's categorical choices must be None, bool, int, float or str."""
    return [v if v is None or isinstance(v, (bool, int, float, str)) else json.dumps(v)
            for v in values]


def _value(choice: Any) -> Any:
    if isinstance(choice, str) and choice[:1] in "[{":
        return json.loads(choice)
    return choice


def trials_table(study) -> pd.DataFrame:
    rows = [{"number": t.number, "state": t.state.name, "value": t.value,
             "last_step": t.last_step, **t.params} for t in study.trials]
    return pd.DataFrame(rows)


def tune(scenario: Scenario, source: str, trials: int, study_db: str, out_dir: Path,
         study_name: str | None = None, seed: int = 0, progress: bool = True,
         on_trial: Callable[[Any], None] | None = None):
    """Run TRIALS more trials of the study; returns the study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO if is_verbose() else optuna.logging.WARNING)
    space = search_space(scenario, source)
    out_dir = Path(out_dir)
    study = open_study(scenario, study_db, study_name, seed)
    claim_folder(out_dir, "tune")
    objective = make_objective(scenario, source, out_dir, seed, space)

    def after(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        atomic_write_text(out_dir / "trials.csv", csv_text(trials_table(study)))
        if on_trial is not None:
            on_trial(trial)

    study.optimize(objective, n_trials=trials, callbacks=[after], show_progress_bar=progress,
                   catch=())
    return study


def write_best(study, scenario: Scenario, source: str, scenario_file: Path,
               out_file: Path) -> dict[str, Any]:
    """Write the scenario file with the best trial's values set and its sweep removed;
    returns the values. The file keeps what the original file wrote (not every default)."""
    try:
        best = study.best_trial
    except ValueError:
        raise ScenarioError(source, "", "the study has no finished trial yet") from None
    values = json.loads(best.user_attrs["values"])
    data = yaml.safe_load(Path(scenario_file).read_text(encoding="utf-8"))
    data.pop("sweep", None)
    if data.get("profile", "default") != "default":  # keep it readable from OUT's folder
        data["profile"] = portable_profile(scenario)
    for key, value in values.items():
        set_dotted(data, key, value, create=True)
    header = (f"# Best trial {best.number} of study '{study.study_name}': "
              f"{OBJECTIVE} = {best.value:.4f}\n# values: {json.dumps(values)}\n")
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parse_scenario(yaml.safe_load(text), str(out_file), Path(scenario_file).parent)
    atomic_write_text(out_file, text)
    return values
