"""Command line: ``netsim run | sweep | tune | report | train | compare | validate | schema |
plot``.

Input errors print one line (file, key, problem) and exit with code 2; nothing is written.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netsim.console import EXIT_INPUT_ERROR, OneLineUsageErrors, fail
from netsim.errors import ScenarioError
from netsim.semantic.cli import profile

if TYPE_CHECKING:
    from netsim.scenario import Scenario

app = typer.Typer(
    cls=OneLineUsageErrors,
    help="netsim: CLIP semantic communication over OFDMA — simulate, schedule, compare.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    verbose: Annotated[bool | None, typer.Option(
        "--verbose/--quiet", "-v/-q",
        help="Show what third-party libraries print (HiGHS's banner and solver log, Ray's "
             "and Optuna's logs, their Python warnings), or hide it (the default; "
             "NETSIM_VERBOSE=1 makes --verbose the default).")] = None,
) -> None:
    """netsim: CLIP semantic communication over OFDMA — simulate, schedule, compare."""
    from netsim.verbosity import is_verbose, set_verbose

    set_verbose(is_verbose() if verbose is None else verbose)


FORMAT_HELP = "Table format of records, summary and timing: csv or parquet."


def check_format(table_format: str) -> str:
    """The --format value, or a one-line error (exit 2)."""
    from netsim.table_files import TABLE_FORMATS

    if table_format not in TABLE_FORMATS:
        fail(f"--format: {table_format!r}: choose one of {', '.join(TABLE_FORMATS)}")
    return table_format


MAX_SEEDS = 100_000
"""Most seeds one command takes (each is a whole simulated world)."""


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '0-4' or a mix ('0-2,7') -> list of seeds, in order; a seed given twice
    is refused (as in a scenario file's ``seeds``: a repeated seed would count one world
    twice in every mean)."""
    from netsim.scenario import MAX_SEED

    seeds: dict[int, None] = {}  # ordered
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d{1,19})(?:-(\d{1,19}))?", part)
        if not match:
            raise ValueError(f"--seeds: {part!r} is not a seed or a range like 0-4")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if high < low:
            raise ValueError(f"--seeds: range {part!r} runs backwards")
        if high > MAX_SEED:
            raise ValueError(f"--seeds: {high} is over the largest seed, 2**63 - 1")
        if high - low < len(seeds):  # walk the shorter of the range and the seeds so far
            twice = next((seed for seed in range(low, high + 1) if seed in seeds), None)
        else:
            twice = next((seed for seed in seeds if low <= seed <= high), None)
        if twice is not None:
            raise ValueError(f"--seeds: seed {twice} is given twice; each seed once")
        if high - low + 1 + len(seeds) > MAX_SEEDS:
            raise ValueError(f"--seeds: more than {MAX_SEEDS:,} seeds")
        seeds.update(dict.fromkeys(range(low, high + 1)))
    return list(seeds)


@app.command()
def run(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: results/NAME, NAME from the scenario)."),
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(help="Seeds to run instead of the file's, e.g. '0,1,2' or '0-9'."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    table_format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "csv",
) -> None:
    """Simulate a scenario with every scheduler it lists; write records, summary, timing
    (.csv, or .parquet with --format parquet) and the resolved scenario.yaml into the
    output folder. The Python API's netsim.run does the same in memory."""
    from netsim.api import load_scenario
    from netsim.locks import FolderBusy, exclusive_writer
    from netsim.simulation.output import OutputError, check_output_folder

    check_format(table_format)
    try:
        scenario = load_scenario(scenario_file)
        if seeds is not None:  # the resolved scenario.yaml records the seeds that ran
            scenario = scenario.model_copy(update={"seeds": parse_seeds(seeds)})
    except (ScenarioError, ValueError) as error:
        fail(str(error))
    out_dir = out if out is not None else Path("results") / scenario.name
    if scenario.sweep:  # the sweep engine, one point after another in this process
        run_sweep_command(scenario, scenario_file, out_dir, "local", 1, None, progress,
                          table_format)
        return
    check_memory(scenario, scenario_file)
    try:
        check_output_folder(out_dir, scenario)
        with exclusive_writer(out_dir, "run"):
            _run_and_publish(scenario, scenario_file, out_dir, progress, table_format)
    except (OutputError, FolderBusy) as error:
        fail(str(error))


def check_memory(scenario, scenario_file: Path) -> None:
    """Refuse, before the work, a run whose results cannot fit in this machine's memory."""
    from netsim.simulation.runner import memory_problem

    problem = memory_problem(scenario)
    if problem is not None:
        fail(f"{scenario_file}: {problem}")


def _run_and_publish(scenario, scenario_file: Path, out_dir: Path, progress: bool,
                     table_format: str) -> None:
    """Simulate (:func:`netsim.api.run`), then publish the run folder (see :func:`run`)."""
    from netsim.api import run as run_in_memory
    from netsim.simulation.output import format_summary, publish_run
    from netsim.simulation.runner import NoRequestsError, RunResult

    try:
        done = run_in_memory(scenario, progress=progress)
        result = RunResult(done.records, done.summary, done.timing)
    except KeyboardInterrupt:
        fail("interrupted; nothing was written", code=130)
    except MemoryError:
        fail(f"{scenario_file}: out of memory: reduce slots, users or RBs; nothing was written",
             code=1)
    except NoRequestsError as error:
        fail(f"{scenario_file}: {error}; nothing was written", code=1)
    try:
        publish_run(out_dir, scenario, result, table_format)
    except OSError as error:
        kept = "the earlier run there is kept" if out_dir.exists() else "nothing was written"
        fail(f"--out {out_dir}: writing the results failed ({error.strerror or error}); {kept}",
             code=1)
    typer.echo(format_summary(result.summary))
    typer.echo(f"wrote {out_dir}/records.{table_format}, summary.{table_format}, "
               f"timing.{table_format}, scenario.yaml")


def run_sweep_command(scenario, scenario_file: Path, out_dir: Path, backend: str,
                      workers: int | None, address: str | None, progress: bool,
                      table_format: str = "csv") -> None:
    """Run a sweep's unfinished points, print the outcome and the aggregate table."""
    from netsim.experiments.sweep import describe, run_sweep, sweep_jobs
    from netsim.simulation.output import format_summary
    from netsim.simulation.runner import NoRequestsError

    try:
        jobs = sweep_jobs(scenario, str(scenario_file), table_format)
    except ScenarioError as error:
        fail(str(error))
    from netsim.locks import FolderBusy, exclusive_writer
    from netsim.ownership import ForeignFolder

    _check_targets(("--out", out_dir, True))
    _check_owner(out_dir, "sweep")
    _check_targets(("--out", out_dir, True), writing=True)
    try:
        with exclusive_writer(out_dir, "sweep"):
            outcome = run_sweep(scenario, str(scenario_file), out_dir, backend, workers,
                                address, progress, jobs=jobs)
    except (FolderBusy, ForeignFolder) as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; run the same command again to resume (finished points are kept)",
             code=130)
    except NoRequestsError as error:  # in every point's seed: as netsim run says it
        fail(str(error), code=1)
    for line in describe(outcome):
        typer.echo(line, err=bool(outcome.failed))
    if outcome.failed:
        fail("some points failed; fix them and run the same command again", code=1)
    typer.echo(format_summary(outcome.aggregate, extra=outcome.keys))
    typer.echo(f"wrote {out_dir}/aggregate.csv, sweep_summary.csv, sweep_timing.csv and one "
               "folder per point and seed")


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Scenario YAML file with a 'sweep:' section.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Sweep folder (default: results/NAME)."),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="Where points run: 'local' (processes) or 'ray'.")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address (e.g. 'auto' or 'HOST:6379'; with --backend ray). "
                          "Default: a local Ray instance with --workers CPUs."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Parallel points (default: the number of CPUs).")
    ] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Seeds to run instead of the file's, e.g. '0-4'.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar over points.")] = True,
    table_format: Annotated[str, typer.Option(
        "--format", help="Table format of each point's records, summary and timing: csv "
                         "or parquet (the aggregates stay CSV).")] = "csv",
) -> None:
    """Run every point of a sweep, once per seed, in parallel; skip points already
    finished (a killed sweep resumes); write aggregate.csv (mean and 95 % CI over seeds)."""
    from netsim.experiments.sweep import BACKENDS
    from netsim.loading import load_scenario

    check_format(table_format)

    try:
        if backend not in BACKENDS:
            raise ValueError(f"--backend: {backend!r} is not one of {', '.join(BACKENDS)}")
        if address is not None and backend != "ray":
            raise ValueError("--address: only with --backend ray")
        scenario = load_scenario(sweep_file)
        if not scenario.sweep:
            raise ScenarioError(str(sweep_file), "sweep", "required key is missing")
        if seeds is not None:
            scenario = scenario.model_copy(update={"seeds": parse_seeds(seeds)})
    except (ScenarioError, ValueError) as error:
        fail(str(error))
    out_dir = out if out is not None else Path("results") / scenario.name
    run_sweep_command(scenario, sweep_file, out_dir, backend, workers, address, progress,
                      table_format)


def _check_owner(out_dir: Path, command: str) -> None:
    """Before any work: fail with one line unless OUT_DIR can take the command's results
    (netsim.ownership)."""
    from netsim.ownership import ForeignFolder, check_folder

    try:
        check_folder(out_dir, command)
    except ForeignFolder as error:
        fail(str(error))


def _check_targets(*targets: tuple[str, Path | None, bool], writing: bool = False) -> None:
    """Fail with one line for the first (OPTION, PATH, FOLDER) whose PATH cannot be
    written: before any work, what can be told without writing
    (:func:`netsim.io.target_problem`); with ``writing``, the last check before the work,
    whether anything can be written there, found by trying (:func:`netsim.io.write_problem`;
    last, so that a command refused for another reason leaves every folder untouched)."""
    from netsim.io import target_problem, write_problem

    for option, path, folder in targets:
        if path is None:
            continue
        problem = (write_problem(path, folder) if writing
                   else target_problem(path, folder))
        if problem:
            fail(f"{option} {path}: {problem}" if option else f"{path}: {problem}")


@app.command()
def tune(
    scenario_file: Annotated[Path, typer.Argument(
        help="Scenario YAML file whose 'sweep:' (grid and/or points) is the search space.")],
    trials: Annotated[int, typer.Option(min=1, help="Trials to run now (added to the study).")] = 10,
    study_db: Annotated[
        str | None,
        typer.Option(help="Study storage: a .db file or sqlite:///PATH (SQLite), or a .log file "
                          "(Optuna journal). Default: OUT/study.db."),
    ] = None,
    study_name: Annotated[
        str | None, typer.Option(help="Study name in the storage (default: the scenario's name).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Training seed and sampler seed.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for trial trainings and trials.csv "
                                         "(default: results/NAME/tune)."),
    ] = None,
    write_best: Annotated[
        Path | None,
        typer.Option(help="Write the scenario with the best trial's values here (YAML)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar over trials.")] = True,
) -> None:
    """Search an RL agent's hyperparameters with Optuna (TPE sampler, median pruning on
    the learning-curve evaluations); the study resumes from its file and can be shared
    by several workers running this command at once."""
    from netsim.experiments.tune import best_file_problem, search_space, study_path
    from netsim.experiments.tune import tune as run_tune
    from netsim.experiments.tune import write_best as store_best
    from netsim.loading import load_scenario
    from netsim.scenario import training_seed_problem

    if (problem := training_seed_problem(seed)) is not None:
        fail(f"--seed: {problem}")
    try:
        scenario = load_scenario(scenario_file)
        search_space(scenario, str(scenario_file))
        if write_best is not None and write_best.suffix not in (".yaml", ".yml"):
            raise ValueError(f"--write-best: {write_best} should end in .yaml")
    except (ScenarioError, ValueError) as error:
        fail(str(error))
    out_dir = out if out is not None else Path("results") / scenario.name / "tune"
    storage = study_db if study_db is not None else str(out_dir / "study.db")
    try:
        study_file = study_path(storage)  # a path, or a sqlite:/// URL's
    except ScenarioError as error:
        fail(str(error))
    _check_targets(("--out", out_dir, True), ("--write-best", write_best, False),
                   ("--study-db", study_file, False))
    if write_best is not None and (problem := best_file_problem(write_best, scenario_file)):
        fail(f"--write-best {write_best}: {problem}")
    _check_owner(out_dir, "tune")
    _check_targets(("--out", out_dir, True), ("--write-best", write_best, False),
                   ("--study-db", study_file, False), writing=True)
    try:
        study = run_tune(scenario, str(scenario_file), trials, storage, out_dir, study_name,
                         seed, progress)
    except ScenarioError as error:  # e.g. a study file that is damaged or not a study
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; run the same command again to add trials to the study", code=130)
    finished = [t for t in study.trials if t.value is not None and t.state.name == "COMPLETE"]
    typer.echo(f"study '{study.study_name}' in {storage}: {len(study.trials)} trials, "
               f"{len(finished)} complete; trials in {out_dir}/trials.csv")
    if finished:
        typer.echo(f"best: trial {study.best_trial.number}, score vs statistical optimum "
                   f"{study.best_value:.4f}, {study.best_trial.user_attrs['values']}")
    if write_best is not None:
        try:
            store_best(study, scenario, str(scenario_file), scenario_file, write_best)
        except ScenarioError as error:
            fail(str(error))
        except OSError as error:  # checked before the trials: it became unwritable since
            fail(f"--write-best {write_best}: writing failed ({error.strerror or error}); "
                 "nothing was written (the study keeps its trials)", code=1)
        typer.echo(f"wrote {write_best}")


@app.command()
def train(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    algo: Annotated[str, typer.Option(help="RL algorithm: ppo, dqn or sac.")] = "ppo",
    steps: Annotated[
        int | None, typer.Option(min=1, help="Environment steps (default: the file's rl.total_steps).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Training seed.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: results/NAME/train-ALGO-sSEED)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the folder's last checkpoint.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train an RL scheduler on a scenario: TensorBoard logs, checkpoints every
    rl.checkpoint_every_steps, and learning_curve.csv against the exact optimum."""
    from netsim.loading import load_scenario
    from netsim.simulation.registry import check_algorithms, rl_entry

    try:
        scenario = load_scenario(scenario_file)
        check_algorithms([algo])
    except ScenarioError as error:
        fail(str(error))
    except ValueError as error:
        fail(f"--algo: {error}")
    _check_trainable(scenario_file, scenario, [seed], "--seed")  # before the lock
    train_fn = rl_entry("train")
    out_dir = out if out is not None else Path("results") / scenario.name / f"train-{algo}-s{seed}"
    _check_targets(("--out", out_dir, True))
    from netsim.locks import FolderBusy, exclusive_writer
    from netsim.ownership import ForeignFolder, check_folder

    try:
        check_folder(out_dir, "train")
    except ForeignFolder as error:
        fail(str(error))
    _check_targets(("--out", out_dir, True), writing=True)
    try:
        with exclusive_writer(out_dir, "train"):
            model_path = train_fn(scenario, algo, out_dir, steps=steps, seed=seed,
                                  resume=resume, progress=progress)
    except FolderBusy as error:
        fail(str(error))
    except ValueError as error:  # the folder holds another training (TrainingFolderError)
        fail(str(error))
    except KeyboardInterrupt:
        again = "" if steps is None else f" --steps {steps}"  # the same budget
        fail(f"interrupted; resume with --resume{again} --out {out_dir}", code=130)
    typer.echo(f"wrote {model_path} and {out_dir}/learning_curve.csv")


def _check_trainable(scenario_file: Path, scenario: Scenario, seeds: list[int],
                     option: str) -> None:
    """One line, exit 2, before anything is written, for trainings that cannot run: a
    seed out of range (``option``), a closed loop without queues that carry over,
    evaluation worlds without a request, or a seed whose environments find no episode
    with one."""
    from netsim.rl.evaluation import check_evaluation_worlds, check_training_worlds
    from netsim.scenario import training_seed_problem

    for seed in seeds:
        if (problem := training_seed_problem(seed)) is not None:
            fail(f"{option}: {problem}")
    try:
        if scenario.delay_model == "des":  # trained in the closed loop
            from netsim.rl.queue_env import check_closed_loop_scenario

            check_closed_loop_scenario(scenario)
        check_evaluation_worlds(scenario)
        for seed in seeds:
            check_training_worlds(scenario, seed)
    except ValueError as error:
        fail(f"{scenario_file}: {error}")


@app.command()
def compare(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    algos: Annotated[str, typer.Option(help="Algorithms, comma-separated.")] = "ppo,sac,dqn",
    seeds: Annotated[str, typer.Option(help="Training seeds, e.g. '0-4'.")] = "0-4",
    steps: Annotated[
        int | None, typer.Option(min=1, help="Steps per training (default: rl.total_steps).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: results/NAME/compare)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train every algorithm on every seed with the same budget and hyperparameters;
    write convergence curves (mean, 95 % CI) and a table against the exact optimum.
    Re-running the same command resumes unfinished trainings."""
    from netsim.loading import load_scenario
    from netsim.simulation.registry import check_algorithms, rl_entry

    algo_list = list(dict.fromkeys(a.strip() for a in algos.split(",") if a.strip()))
    if not algo_list:
        fail(f"--algos: {algos!r} names no algorithm")
    try:
        scenario = load_scenario(scenario_file)
        seed_list = parse_seeds(seeds)
        check_algorithms(algo_list)
    except ScenarioError as error:
        fail(str(error))
    except ValueError as error:
        fail(f"--algos: {error}" if "algorithm" in str(error) else str(error))
    compare_fn = rl_entry("compare")
    budget = scenario.rl.total_steps if steps is None else steps
    every = scenario.rl.eval_every_steps
    if budget < every:  # no evaluation inside the budget: no curve to compare
        where = f"--steps {steps}" if steps is not None else \
            f"{scenario_file}: rl.total_steps: {budget}"
        fail(f"{where}: fewer than rl.eval_every_steps ({every}), so no evaluation to compare")
    _check_trainable(scenario_file, scenario, seed_list, "--seeds")
    out_dir = out if out is not None else Path("results") / scenario.name / "compare"
    _check_targets(("--out", out_dir, True))
    _check_owner(out_dir, "compare")
    _check_targets(("--out", out_dir, True), writing=True)
    try:
        table = compare_fn(scenario, algo_list, seed_list, budget, out_dir, progress)
    except ValueError as error:  # a training folder there holds another training
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; run the same command again to resume", code=130)
    typer.echo(table.to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep=""))
    typer.echo(f"wrote {out_dir}/compare.csv, curves.csv, convergence.png")


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files to check.")],
) -> None:
    """Check scenario files as run and sweep check them before any work (schema, the
    sweep's points and folders, the memory a run would hold); one line per file."""
    from netsim.experiments.sweep import sweep_jobs
    from netsim.loading import load_scenario
    from netsim.simulation.runner import memory_problem

    failed = False
    for path in files:
        try:
            sc = load_scenario(path)
            if sc.sweep:  # the points' folders and memory, as netsim sweep checks them
                sweep_jobs(sc, str(path))
            elif (problem := memory_problem(sc)) is not None:  # as netsim run checks it
                raise ScenarioError(str(path), "", problem)
        except ScenarioError as error:
            typer.echo(f"netsim: {error}", err=True)
            failed = True
            continue
        typer.echo(
            f"{path}: ok ({sc.users.count} users, {sc.cell.n_rbs} RBs, {len(sc.encoders)} "
            f"encoders, {len(sc.schedulers)} schedulers, {len(sc.seeds)} seeds x {sc.slots} slots)"
        )
    if failed:
        raise typer.Exit(EXIT_INPUT_ERROR)


@app.command()
def schema() -> None:
    """Print the JSON schema of scenario files (every key, default and unit)."""
    from netsim.scenario import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(
        help="A folder written by netsim run, train, compare, sweep or tune.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="HTML file (default: FOLDER/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML file (tables, figures embedded) summarising a run,
    a training, a comparison, a sweep or a search."""
    from netsim.experiments.report import build_report
    from netsim.io import atomic_write_text

    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        fail(f"--out {out}: should end in .html")  # not over a CSV of the folder
    if out is not None:
        _check_targets(("--out", out, False))
    elif folder.is_dir():
        _check_targets(("", folder / "report.html", False))
    try:
        text = build_report(folder)
    except ScenarioError as error:
        fail(str(error))
    path = out if out is not None else folder / "report.html"
    _check_targets(("--out" if out is not None else "", path, False), writing=True)
    try:
        atomic_write_text(path, text)
    except OSError as error:
        fail(f"{path}: writing the report failed ({error.strerror or error}); nothing was "
             "written", code=1)
    typer.echo(f"wrote {path}")


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(
        help="Folder written by 'netsim run' or 'netsim sweep', or a profile CSV.")],
) -> None:
    """Draw the comparison figures (PNG) of a run into RUN_DIR/plots; of a sweep, its
    sweep figure (and load curves) and every point's; for a profile CSV, accuracy
    (CLIP-I similarity if measured for regeneration) against SNR into FILE.png."""
    from netsim.experiments.plotting import plot_run

    try:
        written = plot_run(run_dir)
    except ScenarioError as error:
        fail(str(error))
    except OSError as error:  # inputs are read and checked first: this is a write
        fail(f"{run_dir}: writing the figures failed ({error.strerror or error})", code=1)
    for path in written:
        typer.echo(f"wrote {path}")


app.command(name="profile")(profile)  # netsim profile: body in netsim/semantic/cli.py


def main() -> None:  # pragma: no cover - console entry for `python -m netsim`
    sys.exit(app())
