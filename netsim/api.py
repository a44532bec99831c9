"""netsim's Python API: scenarios, runs, trainings and sweeps from a notebook or a script,
with results as pandas DataFrames. The command line (``netsim run | train | sweep``) is a
thin layer over these functions.

Nothing touches the file system unless asked: :func:`run` keeps its tables in memory
(:meth:`RunResults.save` writes the folder ``netsim run`` would write, byte for byte);
:func:`train` and :func:`sweep` work in a temporary folder that is removed afterwards
unless ``out`` names one to keep.

Example::

    import netsim

    scenario = netsim.load_scenario("scenarios/paper.yaml", {"slots": 20, "seeds": [0]})
    results = netsim.run(scenario)
    results.summary[["scheduler", "mean_reward", "gap_to_statistical_pct"]]
    results.figures()["reward"]          # a matplotlib Figure
    results.save("results/paper", format="parquet")

Bad input raises an exception whose text is one line: :class:`netsim.errors.ScenarioError`
for a scenario (the line the command line prints, ``FILE: KEY: PROBLEM``), ValueError for
a bad argument or an output folder that cannot take the result (``out=...: problem``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from netsim.errors import ScenarioError
from netsim.generators import global_generators_kept
from netsim.scenario import Scenario, training_seed_problem

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

__all__ = ["RunResults", "SweepResults", "TrainingResults", "load_scenario", "run", "sweep",
           "train"]

OVERRIDES = " (overrides)"
"""Appended to a scenario's source in the errors of its overrides."""


def _folder_error(error: Exception) -> ValueError:
    """An output-folder error of the command line's (``--out DIR: ...``, perhaps naming
    ``--steps N``) as the API's."""
    text = str(error).replace("--out ", "out=", 1)
    return ValueError(text.replace("of --steps", "of steps").replace("--steps ", "steps="))


def _check_out(out: str | Path | None) -> None:
    """``out`` must be a folder (or not exist yet), nothing above it a file."""
    if out is None:
        return
    path = Path(out)
    for place in (path, *path.parents):
        if place.exists() and not place.is_dir():
            raise ValueError(f"out={out}: {place} is a file, not a folder")


def load_scenario(source: str | Path | Mapping[str, Any] | Scenario,
                  overrides: Mapping[str, Any] | None = None) -> Scenario:
    """A checked scenario from a YAML file, a mapping (the file's content as a dict) or a
    scenario, with ``overrides`` ({dotted key: value}, e.g. ``{"users.count": 8,
    "cell.fading.model": "rician"}``) set on it.

    Everything is validated as ``netsim run`` validates a file, overrides included: an
    unknown key or a bad value raises ScenarioError naming the key. Relative paths in a
    mapping (``profile``) are taken from the current folder.
    """
    from netsim.loading import load_scenario as read_file
    from netsim.loading import parse_scenario, with_overrides

    if isinstance(source, Scenario):
        scenario, name = source, source.name
    elif isinstance(source, Mapping):
        name = str(source.get("name", "<scenario>"))
        scenario = parse_scenario(dict(source), name, Path.cwd())
    elif isinstance(source, str | Path):
        scenario, name = read_file(source), str(source)
    else:
        raise TypeError("load_scenario takes a file path, a mapping or a Scenario, "
                        f"not {type(source).__name__}")
    if overrides:
        scenario = with_overrides(scenario, name + OVERRIDES, dict(overrides))
    return scenario


@dataclass(frozen=True)
class RunResults:
    """A run's tables, as ``netsim run`` writes them (every column: docs/outputs.md)."""

    scenario: Scenario
    records: pd.DataFrame
    """One row per request and scheduler (the references included)."""
    summary: pd.DataFrame
    """One row per scheduler: reward, task loss, violations, gaps to the references."""
    timing: pd.DataFrame
    """One row per scheduler: decision times (wall clock, so not reproducible)."""

    def figures(self) -> dict[str, Figure]:
        """The figures ``netsim plot`` draws for a run, by name (reward, loss_accuracy,
        violations, delay_cdf, encoder_share), as matplotlib figures."""
        from netsim.experiments.plotting import run_figures

        return run_figures(self.summary, self.records, self.scenario.task.kind,
                           self.scenario.limits.max_delay_s)

    def save(self, folder: str | Path, format: str = "csv") -> Path:
        """Write the run folder ``netsim run --out FOLDER --format FORMAT`` writes (the
        same bytes; all or nothing, replacing an earlier run there). ``format``: csv or
        parquet. Returns the folder."""
        from netsim.locks import FolderBusy, exclusive_writer
        from netsim.simulation.output import OutputError, check_output_folder, publish_run
        from netsim.simulation.runner import RunResult
        from netsim.table_files import TABLE_FORMATS

        if format not in TABLE_FORMATS:
            raise ValueError(f"format: {format!r}: choose one of {', '.join(TABLE_FORMATS)}")
        folder = Path(folder)
        try:
            check_output_folder(folder, self.scenario)
            with exclusive_writer(folder, "run"):
                publish_run(folder, self.scenario,
                            RunResult(self.records, self.summary, self.timing), format)
        except (OutputError, FolderBusy) as error:
            raise _folder_error(error) from None
        return folder


def run(scenario: Scenario | str | Path, seeds: list[int] | None = None,
        progress: bool = False) -> RunResults:
    """Simulate every scheduler of ``scenario`` (a Scenario, or a file path) on each of
    ``seeds`` (default: the scenario's), in memory; ``progress`` shows a bar over slots.

    A scenario with a sweep is refused (run it with :func:`sweep`).
    """
    from tqdm import tqdm

    from netsim.simulation.runner import run_scenario

    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if scenario.sweep:
        raise ScenarioError(scenario.name, "sweep", "a sweep: run it with netsim.sweep")
    if seeds is not None:
        if isinstance(seeds, str) or not isinstance(seeds, Iterable):
            raise ValueError(f"seeds: {seeds!r}: a list of seeds, e.g. [0, 1, 2] or "
                             "range(10)")
        scenario = load_scenario(scenario, {"seeds": list(seeds)})  # NumPy ints taken too
    total = len(scenario.seeds) * scenario.slots
    with tqdm(total=total, unit="slot", desc=scenario.name, disable=not progress or None,
              leave=False) as bar:
        result = run_scenario(scenario, list(scenario.seeds), on_slots=bar.update)
    return RunResults(scenario, result.records, result.summary, result.timing)


@dataclass(frozen=True)
class TrainingResults:
    """A finished training: the agent and its learning curve."""

    model: Any
    """The trained stable-baselines3 / sb3-contrib model (``model.predict``)."""
    learning_curve: pd.DataFrame
    """Scores against the exact optimum at every evaluation (learning_curve.csv)."""
    folder: Path | None
    """Where the training was kept (``out``), else None."""


def train(scenario: Scenario | str | Path, algo: str = "ppo", steps: int | None = None,
          seed: int = 0, out: str | Path | None = None, resume: bool = False,
          progress: bool = False) -> TrainingResults:
    """Train ``algo`` (ppo, dqn or sac) on ``scenario`` for ``steps`` environment steps
    (default ``rl.total_steps``), as ``netsim train`` does; with ``out``, the folder
    (checkpoints, TensorBoard logs, model.zip, learning_curve.csv) is kept there and
    ``resume`` continues it. The global generators (Python's, numpy's, torch's), which
    the training libraries draw from or seed, go on afterwards from where they were."""
    with global_generators_kept():  # the libraries' import draws from them too
        return _train(scenario, algo, steps, seed, out, resume, progress)


def _train(scenario: Scenario | str | Path, algo: str, steps: int | None, seed: int,
           out: str | Path | None, resume: bool, progress: bool) -> TrainingResults:
    from netsim.simulation.registry import check_algorithms, rl_entry
    from netsim.simulation.runner import NoRequestsError

    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    try:
        check_algorithms([algo])
    except ValueError as error:
        raise ValueError(f"algo: {error}") from None
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise ValueError(f"steps: {steps!r}: a number of environment steps, at least 1")
    _check_out(out)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(  # noqa: TRY004 - every bad argument is a ValueError (docs)
            f"seed: {seed!r}: a training seed is an integer")
    seed = int(seed)  # numpy's too
    if (problem := training_seed_problem(seed)) is not None:
        raise ValueError(f"seed: {problem}")
    if scenario.delay_model == "des":
        from netsim.rl.queue_env import check_closed_loop_scenario

        try:
            check_closed_loop_scenario(scenario)
        except ValueError as error:
            raise ScenarioError(scenario.name, "rl", str(error)) from None
    from netsim.rl.evaluation import check_evaluation_worlds, check_training_worlds

    check_evaluation_worlds(scenario)  # NoRequestsError before anything is written
    check_training_worlds(scenario, seed)
    with tempfile.TemporaryDirectory(prefix="netsim-train-") as temp:
        folder = Path(out) if out is not None else Path(temp)
        try:
            model_path = rl_entry("train")(scenario, algo, folder,
                                           steps=None if steps is None else int(steps),
                                           seed=seed, resume=resume, progress=progress)
        except NoRequestsError:
            raise
        except ValueError as error:  # the folder holds another training
            raise _folder_error(error) from None
        model = rl_entry("load")(model_path, algo)
        curve_path = folder / "learning_curve.csv"
        curve = pd.read_csv(curve_path) if curve_path.is_file() else pd.DataFrame()
    return TrainingResults(model, curve, Path(out) if out is not None else None)


def load_agent(path: str | Path, scenario: Scenario | str | Path | Mapping[str, Any] | None = None,
               algo: str | None = None) -> Any:
    """The agent ``netsim train`` saved at ``path`` (its model.zip, or its folder) as a
    stable-baselines3 / sb3-contrib model on the CPU, a fresh copy: ``model.predict(
    observation, action_masks=mask)`` acts. ``algo``: ppo, dqn or sac (default: the
    training's, from its finished.json). ``scenario``: the cell it will act in (default
    the one it was trained on), checked as ``netsim run`` checks an ``rl`` scheduler
    (the model file too: a corrupt one, another algorithm's, other spaces); a
    size-free model (``rl.policy: size_free``) is set up for that cell's RBs (its
    weights fit any number of users and RBs). Build the environment it acts in with
    ``trained_on=`` the model's folder, so that it sees what netsim run shows it."""
    from netsim.rl.assignment import training_problem
    from netsim.simulation.registry import check_algorithms, rl_entry, scheduler_class
    from netsim.simulation.scheduling import ParameterError

    path = Path(path)
    if path.is_dir():
        path = path / "model.zip"
    elif path.suffix in (".yaml", ".yml"):  # the training's scenario.yaml: its model beside
        path = path.with_name("model.zip")
    folder = path.parent
    for needed in (path, folder / "scenario.yaml"):
        if not needed.is_file():
            raise ValueError(f"path: {needed}: no such file (a training folder of netsim "
                             "train holds model.zip and scenario.yaml)")
    training = load_scenario(folder / "scenario.yaml")
    if algo is None:
        try:
            algo = json.loads((folder / "finished.json").read_text())["identity"]["algo"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ValueError(f"algo: not given, and {folder / 'finished.json'} does not say "
                             "(pass algo='ppo', 'dqn' or 'sac')") from None
    try:
        check_algorithms([algo])
    except ValueError as error:
        raise ValueError(f"algo: {error}") from None
    cell = training if scenario is None else load_scenario(scenario)
    problem = training_problem(training, cell)
    if problem is not None:  # the cell's fault, not the file's
        raise ValueError(f"scenario: {problem[1]}")
    rl = scheduler_class("rl")  # the rest netsim run checks of {type: rl, model_path: ...}
    try:
        rl.prepare(rl.Params(algo=algo, model_path=str(path.resolve())), cell)
    except ParameterError as error:
        key = "path" if error.key == "model_path" else error.key
        raise ValueError(f"{key}: {error.problem}") from None
    size_free = training.rl.policy == "size_free"
    return rl_entry("load")(path, algo, (cell.cell.n_rbs, len(cell.encoders)) if size_free
                            else None)


@dataclass(frozen=True)
class SweepResults:
    """A finished sweep's tables (docs/sweeps.md)."""

    aggregate: pd.DataFrame
    """Per point and scheduler: the mean over seeds of every summary metric, with 95 %
    half-widths (``METRIC_ci95``)."""
    summary: pd.DataFrame
    """Every point's and seed's summary rows, the swept values first."""
    timing: pd.DataFrame
    """Decision and training times per point and scheduler."""
    keys: list[str]
    """The swept keys."""
    folder: Path | None
    """Where the sweep was kept (``out``), else None."""


def sweep(scenario: Scenario | str | Path, out: str | Path | None = None,
          workers: int = 1, backend: str = "local", address: str | None = None,
          format: str = "csv", progress: bool = False) -> SweepResults:
    """Run a scenario's sweep as ``netsim sweep`` does (``workers`` processes, or Ray with
    ``backend="ray"``); with ``out`` the folder is kept, and a later call with the same
    ``out`` resumes it (finished points are not run again); ``format`` (csv or parquet) is
    how each point's tables are written. A point that fails raises RuntimeError naming
    it. With ``workers`` > 1 the local workers start as fresh processes that import the
    calling script again: in a script (not a notebook), call it under
    ``if __name__ == "__main__":``, or each worker starts the sweep anew and the pool
    breaks."""
    from netsim.experiments.sweep import BACKENDS, run_sweep, sweep_jobs
    from netsim.locks import FolderBusy, exclusive_writer
    from netsim.ownership import ForeignFolder
    from netsim.table_files import TABLE_FORMATS

    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if not scenario.sweep:
        raise ScenarioError(scenario.name, "sweep", "no sweep: run it with netsim.run")
    if format not in TABLE_FORMATS:
        raise ValueError(f"format: {format!r}: choose one of {', '.join(TABLE_FORMATS)}")
    if backend not in BACKENDS:
        raise ValueError(f"backend: {backend!r}: choose one of {', '.join(BACKENDS)}")
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ValueError(f"workers: {workers!r}: a number of processes, at least 1")
    _check_out(out)
    source = scenario.name
    jobs = sweep_jobs(scenario, source, format)
    with tempfile.TemporaryDirectory(prefix="netsim-sweep-") as temp:
        folder = Path(out) if out is not None else Path(temp) / "sweep"
        try:
            with exclusive_writer(folder, "sweep"):
                outcome = run_sweep(scenario, source, folder, backend, int(workers), address,
                                    progress, jobs=jobs)
        except (ForeignFolder, FolderBusy) as error:
            raise _folder_error(error) from None
        if outcome.failed:
            where, error = next(iter(outcome.failed.items()))
            raise RuntimeError(f"{len(outcome.failed)} sweep points failed; {where}: {error}")
        summary = pd.read_csv(folder / "sweep_summary.csv")
        timing = pd.read_csv(folder / "sweep_timing.csv")
    return SweepResults(outcome.aggregate, summary, timing, outcome.keys,
                        Path(out) if out is not None else None)
