"""Command line: ``netsim run | validate | schema | plot``.

Input errors print one line (file, key, problem) and exit with code 2; nothing is written.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from netsim.errors import ScenarioError

app = typer.Typer(
    help="netsim: CLIP semantic communication over OFDMA — simulate, schedule, compare.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_INPUT_ERROR = 2


def fail(message: str, code: int = EXIT_INPUT_ERROR) -> NoReturn:
    typer.echo(f"netsim: {message}", err=True)
    raise typer.Exit(code)


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '0-4' or a mix ('0-2,7') -> list of distinct seeds, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise ValueError(f"--seeds: {part!r} is not a seed or a range like 0-4")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if high < low:
            raise ValueError(f"--seeds: range {part!r} runs backwards")
        seeds.extend(s for s in range(low, high + 1) if s not in seeds)
    return seeds


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
) -> None:
    """Simulate a scenario with every scheduler it lists; write records.csv, summary.csv,
    timing.csv and the resolved scenario.yaml into the output folder."""
    from tqdm import tqdm

    from netsim.output import format_summary, point_folder, write_run, write_sweep
    from netsim.runner import run_scenario
    from netsim.scenario import load_scenario, sweep_points

    try:
        scenario = load_scenario(scenario_file)
        if seeds is not None:  # the resolved scenario.yaml records the seeds that ran
            scenario = scenario.model_copy(update={"seeds": parse_seeds(seeds)})
        seed_list = list(scenario.seeds)
        points = sweep_points(scenario, str(scenario_file))
    except (ScenarioError, ValueError) as error:
        fail(str(error))
    out_dir = out if out is not None else Path("results") / scenario.name
    total = sum(len(seed_list) * point.slots for _, point in points)
    results = []
    try:
        with tqdm(total=total, unit="slot", desc=scenario.name, disable=not progress or None,
                  leave=False) as bar:
            for values, point in points:
                if values:
                    bar.set_postfix_str(point_folder(values))
                results.append(run_scenario(point, seed_list, on_slots=bar.update))
    except KeyboardInterrupt:
        fail("interrupted; nothing was written", code=130)
    except MemoryError:
        fail(f"{scenario_file}: out of memory: reduce slots, users or RBs; nothing was written",
             code=1)
    if scenario.sweep:
        combined = write_sweep(out_dir, scenario, points, results)
        typer.echo(format_summary(combined, extra=list(scenario.sweep)))
        typer.echo(f"wrote {out_dir}/sweep_summary.csv and one folder per point")
    else:
        write_run(out_dir, scenario, results[0])
        typer.echo(format_summary(results[0].summary))
        typer.echo(f"wrote {out_dir}/records.csv, summary.csv, timing.csv, scenario.yaml")


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
    from netsim.registry import check_algorithms, rl_entry
    from netsim.scenario import load_scenario

    try:
        scenario = load_scenario(scenario_file)
        check_algorithms([algo])
    except ScenarioError as error:
        fail(str(error))
    except ValueError as error:
        fail(f"--algo: {error}")
    train_fn = rl_entry("train")
    out_dir = out if out is not None else Path("results") / scenario.name / f"train-{algo}-s{seed}"
    try:
        model_path = train_fn(scenario, algo, out_dir, steps=steps, seed=seed, resume=resume,
                              progress=progress)
    except KeyboardInterrupt:
        fail(f"interrupted; resume with --resume --out {out_dir}", code=130)
    typer.echo(f"wrote {model_path} and {out_dir}/learning_curve.csv")


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
    from netsim.registry import check_algorithms, rl_entry
    from netsim.scenario import load_scenario

    algo_list = [a.strip() for a in algos.split(",") if a.strip()]
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
    out_dir = out if out is not None else Path("results") / scenario.name / "compare"
    try:
        table = compare_fn(scenario, algo_list, seed_list, budget, out_dir, progress)
    except KeyboardInterrupt:
        fail("interrupted; run the same command again to resume", code=130)
    typer.echo(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    typer.echo(f"wrote {out_dir}/compare.csv, curves.csv, convergence.png")


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files to check.")],
) -> None:
    """Check scenario files against the schema; one line per file."""
    from netsim.scenario import load_scenario

    failed = False
    for path in files:
        try:
            sc = load_scenario(path)
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
def plot(
    run_dir: Annotated[Path, typer.Argument(help="Folder written by 'netsim run'.")],
) -> None:
    """Draw the comparison figures (PNG) of a run into RUN_DIR/plots."""
    from netsim.plotting import plot_run

    try:
        written = plot_run(run_dir)
    except ScenarioError as error:
        fail(str(error))
    for path in written:
        typer.echo(f"wrote {path}")


def main() -> None:  # pragma: no cover - console entry for `python -m netsim`
    sys.exit(app())
