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
better choice for many concurrent workers). A study records the SHA-256 of the resolved
scenario it tunes (sweep and algorithm included) and takes trials of that scenario only.
A trial whose process died (killed, or interrupted with Ctrl-C) is run again, with the
same values, by the next ``netsim tune`` on the study: on the machine that ran it, its
process is gone; on another, its heartbeat (the time a running trial records every
HEARTBEAT_S) is older than STALE_S.

Output folder: ``trial-<number>/`` (each trial's training folder), ``trials.csv``
(every trial: state, value, parameters; rewritten after each trial).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import pandas as pd
import yaml

from netsim.errors import ScenarioError
from netsim.io import atomic_write_text
from netsim.loading import parse_scenario, scenario_with
from netsim.locks import process_alive, turn_on
from netsim.model.taskloss import portable_profile, resolve_profile_path
from netsim.ownership import claim_folder
from netsim.scenario import Scenario, set_dotted
from netsim.simulation.output import csv_text, resolved_scenario_text
from netsim.verbosity import is_verbose

OBJECTIVE = "score_vs_statistical"
SQLITE_URL = "sqlite:///"
OPTUNA_TABLES = frozenset({"studies", "trials", "version_info"})
"""Tables every Optuna SQLite study database holds."""
BEST_HEADER = "# Best trial "
"""How a file --write-best wrote begins (the only file it writes over)."""
FINGERPRINT = "netsim_scenario_sha256"
"""Study attribute: the SHA-256 of the resolved scenario (sweep and algorithm included)
whose trials the study holds."""
POINT_CHOICE = "sweep.points"
ALIVE_AT = "alive_at"
"""Trial attribute: when (Unix time, s) its process last said it was running."""
HEARTBEAT_S = 60.0
"""How often a running trial records ALIVE_AT."""
STALE_S = 600.0
"""A RUNNING trial of another machine whose ALIVE_AT is older than this is taken as dead
(ten missed heartbeats; the machines' clocks must agree to within a few minutes)."""
JOURNAL_SUFFIXES = (".log", ".jsonl", ".journal")


def search_space(scenario: Scenario, source: str) -> dict[str, list[Any]]:
    """Parameter name -> choices: each grid key, plus ``sweep.points`` (entry indexes)."""
    if not scenario.sweep:
        raise ScenarioError(source, "sweep", "required key is missing: it is the search space")
    if scenario.sweep.kind != "train":
        raise ScenarioError(source, "sweep.kind", f"{scenario.sweep.kind}: netsim tune searches "
                            "an agent's training: set kind: train (and algo)")
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

    path = study_path(study_db)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in JOURNAL_SUFFIXES:
        check_journal(path)
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(str(path)))
    check_study_database(path)
    return optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")


def study_path(study_db: str) -> Path:
    """The file of ``--study-db``: a path, or a ``sqlite:///PATH`` URL (ScenarioError for
    any other URL: a database server is not a file this command can check and own)."""
    if "://" not in study_db:
        return Path(study_db)
    if not study_db.startswith(SQLITE_URL) or len(study_db) == len(SQLITE_URL):
        raise ScenarioError(f"--study-db {study_db}", "", "a study file is a path or "
                            f"{SQLITE_URL}PATH (SQLite); other database URLs are not taken")
    return Path(study_db[len(SQLITE_URL):].split("?", 1)[0])  # without URL options


def check_study_database(path: Path) -> None:
    """Refuse, before Optuna adds its tables to it, an SQLite file that holds tables and
    is not an Optuna study database (someone's data)."""
    import sqlite3

    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        uri = f"file:{pathname2url(str(path.resolve()))}?mode=ro"  # '#', '?' quoted
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            tables = {row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        return  # not SQLite at all: opening it says so
    if tables and not OPTUNA_TABLES <= tables:
        raise ScenarioError(f"--study-db {path}", "", "an SQLite database that is not an "
                            f"Optuna study (tables {', '.join(sorted(tables)[:5])}): choose "
                            "another file")


def check_journal(path: Path) -> None:
    """Refuse, before Optuna appends to it, a journal file whose complete lines are not
    all JSON records (a damaged file, or not a journal), or whose last line was cut off
    (Optuna would append the next record to it)."""
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                time.sleep(1.0)  # another worker may be writing it now: look again
                if not _line_complete(path, number):
                    raise ScenarioError(f"--study-db {path}", "", f"line {number}: the last "
                                        "record was cut off (a write was killed): remove that "
                                        "line to resume the study")
                continue
            if line.strip() and not _is_record(line):
                raise ScenarioError(f"--study-db {path}", "", f"line {number}: not an Optuna "
                                    "journal record (a damaged file, or not a journal)")


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _line_complete(path: Path, number: int) -> bool:
    """Whether line ``number`` of the journal now ends in a newline and is a record."""
    with path.open("rb") as handle:
        for index, line in enumerate(handle, start=1):
            if index == number:
                return line.endswith(b"\n") and _is_record(line)
    return False


def open_study(scenario: Scenario, study_db: str, study_name: str | None, seed: int):
    """Create or load the study. The TPE sampler's seed moves on with the number of
    trials already stored, so a resumed study does not replay its first random draws."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    name = study_name or scenario.name
    text = resolved_scenario_text(scenario).encode()  # names a profile, not its content
    profile = (b"" if scenario.profile == "default"
               else resolve_profile_path(scenario).read_bytes())
    fingerprint = hashlib.sha256(text + b"\0" + profile).hexdigest()
    try:
        storage = open_storage(study_db)
        try:
            existing = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            existing = None
        if existing is not None:
            check_same_study(existing, fingerprint, search_space(scenario, study_db), study_db)
        done = 0 if existing is None else len(existing.trials)
        study = optuna.create_study(
            study_name=name, storage=storage, load_if_exists=True, direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=(seed + done) % 2**32),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
        )
        if FINGERPRINT not in study.user_attrs:
            study.set_user_attr(FINGERPRINT, fingerprint)
        return study
    except (OSError, ValueError, SQLAlchemyError, optuna.exceptions.OptunaError) as error:
        # a damaged or foreign file, a folder, an unknown URL scheme: input to fix
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        reason = " ".join(str(reason).split("\n")[0].split())[:200]
        raise ScenarioError(f"--study-db {study_db}", "",
                            f"cannot open the study ({reason})") from None


def check_same_study(study, fingerprint: str, space: dict[str, list[Any]],
                     study_db: str) -> None:
    """ScenarioError unless the stored ``study`` is one netsim tune can add trials to: it
    maximises one objective and holds trials of this very scenario, search space and
    algorithm (or none yet; or, without a fingerprint, netsim's trials over ``space``'s
    keys)."""
    import optuna

    where = f"--study-db {study_db}"
    if len(study.directions) != 1 or study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ScenarioError(where, "", f"study '{study.study_name}' does not maximise one "
                            "objective (netsim tune maximises the score): choose another "
                            "--study-name")
    stored = study.user_attrs.get(FINGERPRINT)
    if stored is None and study.trials and not all(
            "values" in t.user_attrs and set(t.params) <= set(space) for t in study.trials):
        # a study of an earlier netsim (no fingerprint yet) is taken if its trials are
        # netsim's (each records its values) over this search space's keys
        raise ScenarioError(where, "", f"study '{study.study_name}' holds trials netsim tune "
                            "did not run: choose another --study-name")
    if stored is not None and stored != fingerprint:
        raise ScenarioError(where, "", f"study '{study.study_name}' holds trials of another "
                            "scenario, search space or algorithm: tune that scenario, or "
                            "choose another --study-name")


def make_objective(scenario: Scenario, source: str, out_dir: Path, seed: int,
                   space: dict[str, list[Any]]) -> Callable:
    import optuna

    from netsim.simulation.registry import rl_entry

    train = rl_entry("train")
    algo = scenario.sweep.algo

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("host", socket.gethostname())  # to tell, later, if it died
        trial.set_user_attr("pid", os.getpid())
        with heartbeat(trial):
            return run_trial(trial)

    def run_trial(trial: optuna.Trial) -> float:
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


@contextmanager
def heartbeat(trial) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Record ALIVE_AT on the trial now and every HEARTBEAT_S while the block runs (a
    thread; a beat the storage refuses, e.g. a busy SQLite file, is skipped), so that a
    worker on another machine can tell the trial from one whose process died."""
    storage, trial_id = trial.storage, trial._trial_id
    stop = threading.Event()

    def beat() -> None:
        while True:
            with suppress(Exception):  # a missed beat is harmless; ten in a row are not
                storage.set_trial_user_attr(trial_id, ALIVE_AT, time.time())
            if stop.wait(HEARTBEAT_S):
                return

    thread = threading.Thread(target=beat, name="netsim-tune-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def trial_died(trial, host: str, now_s: float) -> bool:  # type: ignore[no-untyped-def]
    """Whether a RUNNING trial's process is gone: on this machine (``host``), its
    process; on another, its heartbeat is older than STALE_S. A trial with neither
    (still starting, or run by a netsim before heartbeats) is taken as alive."""
    attrs = trial.user_attrs
    if attrs.get("host") == host:
        return "pid" in attrs and not process_alive(attrs["pid"])
    alive_at = attrs.get(ALIVE_AT)
    return isinstance(alive_at, (int, float)) and now_s - alive_at > STALE_S


def redo_dead_trials(study, study_db: str) -> list[int]:
    """Queue again, with the same values, each trial whose process died, once: one that
    failed (Ctrl-C ends a trial as FAIL), or one still RUNNING whose process is gone
    (:func:`trial_died`; a kill, or a machine that went down; it is marked FAIL first).
    A retry is not retried. Done
    holding the study file's lock (:func:`netsim.locks.turn_on`): workers starting at
    once would each queue the same retry. Returns the numbers of the trials queued
    again."""
    from optuna.trial import TrialState

    host, queued = socket.gethostname(), []
    with ExitStack() as held:
        try:
            held.enter_context(turn_on(study_path(study_db)))
        except OSError as error:  # a study file in a folder this user cannot write to
            raise ScenarioError(f"--study-db {study_db}", "",
                                f"cannot lock the study ({error.strerror or error})") from None
        trials = study.get_trials(deepcopy=False)
        retried = {t.user_attrs.get("retry_of") for t in trials}
        now_s = time.time()
        for trial in trials:
            attrs = trial.user_attrs
            if trial.state == TrialState.RUNNING and trial_died(trial, host, now_s):
                # what optuna.storages.fail_stale_trials does for a heartbeat that stopped
                study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            elif trial.state != TrialState.FAIL:
                continue
            if trial.number not in retried and "retry_of" not in attrs and trial.params:
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
                queued.append(trial.number)
    return queued


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
             "last_step": t.last_step, "retry_of": t.user_attrs.get("retry_of"), **t.params}
            for t in study.trials]
    table = pd.DataFrame(rows)
    if "retry_of" in table:
        table["retry_of"] = table["retry_of"].astype("Int64")  # a trial number, or empty
    return table


def tune(scenario: Scenario, source: str, trials: int, study_db: str, out_dir: Path,
         study_name: str | None = None, seed: int = 0, progress: bool = True,
         on_trial: Callable[[Any], None] | None = None):
    """Run TRIALS more trials of the study; returns the study."""
    import optuna

    # Optuna's own lines (a trial's failure and traceback included) only with --verbose
    optuna.logging.set_verbosity(optuna.logging.INFO if is_verbose() else optuna.logging.ERROR)
    space = search_space(scenario, source)
    out_dir = Path(out_dir)
    study = open_study(scenario, study_db, study_name, seed)
    claim_folder(out_dir, "tune")
    redo_dead_trials(study, study_db)
    objective = make_objective(scenario, source, out_dir, seed, space)

    def after(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        atomic_write_text(out_dir / "trials.csv", csv_text(trials_table(study)))
        if on_trial is not None:
            on_trial(trial)

    study.optimize(objective, n_trials=trials, callbacks=[after], show_progress_bar=progress,
                   catch=())
    return study


def best_file_problem(out_file: Path, scenario_file: Path) -> str | None:
    """Why --write-best may not write ``out_file`` (one line), or None: it is the
    scenario being tuned, or an existing file that an earlier --write-best did not write
    (someone's scenario)."""
    if not out_file.is_file():
        return None
    if out_file.resolve() == Path(scenario_file).resolve():
        return "is the scenario being tuned; write the best values to another file"
    with out_file.open("rb") as handle:
        head = handle.read(len(BEST_HEADER))
    if head != BEST_HEADER.encode():
        return ("holds a file netsim tune did not write (it would be replaced): choose "
                "another file")
    return None


def write_best(study, scenario: Scenario, source: str, scenario_file: Path,
               out_file: Path) -> dict[str, Any]:
    """Write the scenario file with the best trial's values set and its sweep removed;
    returns the values. The file keeps what the original file wrote (not every default)."""
    try:
        best = study.best_trial
    except ValueError:
        raise ScenarioError(source, "", "the study has no finished trial yet") from None
    values = json.loads(best.user_attrs["values"])
    try:  # read before the trials; gone, unreadable or edited since
        data = yaml.safe_load(Path(scenario_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = error.strerror if isinstance(error, OSError) else type(error).__name__
        raise ScenarioError(str(scenario_file), "", "cannot read it again to write the best "
                            f"values ({reason or error})") from None
    if not isinstance(data, dict):
        raise ScenarioError(str(scenario_file), "", "is no longer a scenario (edited during "
                            "the trials?): nothing was written")
    data.pop("sweep", None)
    if data.get("profile", "default") != "default":  # keep it readable from OUT's folder
        data["profile"] = portable_profile(scenario)
    for key, value in values.items():
        set_dotted(data, key, value, create=True)
    header = (f"{BEST_HEADER}{best.number} of study '{study.study_name}': "
              f"{OBJECTIVE} = {best.value:.4f}\n# values: {json.dumps(values)}\n")
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parse_scenario(yaml.safe_load(text), str(out_file), Path(scenario_file).parent)
    atomic_write_text(out_file, text)
    return values
