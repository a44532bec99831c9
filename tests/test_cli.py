"""End to end through the command line on a small scenario: run, its files, their
reproducibility, --seeds, the resolved scenario.yaml, plot, schema, --help; and atomic
file output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import netsim.io
from netsim.cli import app, parse_seeds
from netsim.io import atomic_write_text
from netsim.loading import load_scenario
from netsim.model.taskloss import DEFAULT_PROFILE_PATH
from netsim.scenario import scheduler_label
from netsim.simulation.runner import ORACLE_REFERENCE, RECORD_COLUMNS, STATISTICAL_REFERENCE
from tests.scenario_factory import one_line, write_yaml

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "scenarios" / "paper.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_FILES = ("records.csv", "summary.csv", "timing.csv", "scenario.yaml")
REPRODUCIBLE_FILES = ("records.csv", "summary.csv", "scenario.yaml")
SLOTS, SEEDS = 5, [0, 1]
SCHEDULERS: list[Any] = [
    {"type": "hungarian", "information": "oracle"},
    {"type": "hungarian", "information": "statistical"},
    {"type": "ilp", "information": "oracle"},
    "random",
    {"type": "greedy"},
    {"type": "fixed_encoder", "encoder": "ViT-B-32"},
]


def small_scenario(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(PAPER.read_text(encoding="utf-8"))
    data.update(slots=SLOTS, seeds=list(SEEDS), schedulers=list(SCHEDULERS))
    data.update(changes)
    return data





def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def run_ok(scenario_file: Path, out_dir: Path, *extra: str) -> None:
    result = invoke("run", scenario_file, "--out", out_dir, "--no-progress", *extra)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small scenario run twice into two folders, and once with --seeds 3."""
    base = tmp_path_factory.mktemp("cli")
    scenario_file = write_yaml(base / "scenario" / "small.yaml", small_scenario())
    paths = {"scenario": scenario_file}
    for name, extra in (("run1", ()), ("run2", ()), ("seeds3", ("--seeds", "3"))):
        run_ok(scenario_file, base / name, *extra)
        paths[name] = base / name
    return paths


# -------------------------------------------------------------------------- run
def test_run_writes_the_four_files(runs: dict[str, Path]) -> None:
    for name in RUN_FILES:
        path = runs["run1"] / name
        assert path.is_file(), name
        assert path.stat().st_size > 0, name
    leftovers = [p.name for p in runs["run1"].iterdir() if p.name not in RUN_FILES]
    assert leftovers == [], "no temporary or other files beside the results"


def expected_labels(scenario_file: Path) -> set[str]:
    scenario = load_scenario(scenario_file)
    labels = {scheduler_label(entry) for entry in scenario.schedulers}
    assert len(labels) == len(SCHEDULERS)
    return labels | {ORACLE_REFERENCE, STATISTICAL_REFERENCE}


def test_records_one_row_per_slot_user_scheduler_seed(runs: dict[str, Path]) -> None:
    records = pd.read_csv(runs["run1"] / "records.csv")
    users = load_scenario(runs["scenario"]).users.count
    labels = expected_labels(runs["scenario"])
    assert list(records.columns) == RECORD_COLUMNS
    assert len(records) == SLOTS * users * len(labels) * len(SEEDS)
    assert set(records["scheduler"]) == labels
    assert sorted(records["seed"].unique()) == SEEDS
    assert sorted(records["slot"].unique()) == list(range(SLOTS))
    assert sorted(records["user"].unique()) == list(range(users))
    assert not records.duplicated(["scheduler", "seed", "slot", "user"]).any()
    counts = records.groupby(["scheduler", "seed"]).size()
    assert (counts == SLOTS * users).all()


def test_summary_and_timing_name_every_scheduler(runs: dict[str, Path]) -> None:
    labels = expected_labels(runs["scenario"])
    summary = pd.read_csv(runs["run1"] / "summary.csv")
    assert sorted(summary["scheduler"]) == sorted(labels)
    timing = pd.read_csv(runs["run1"] / "timing.csv")
    assert set(timing["scheduler"]) == labels


def test_run_twice_gives_identical_bytes(runs: dict[str, Path]) -> None:
    for name in REPRODUCIBLE_FILES:
        first = (runs["run1"] / name).read_bytes()
        second = (runs["run2"] / name).read_bytes()
        assert first == second, f"{name} differs between two identical runs"


def test_seeds_option_overrides_the_files_seeds(runs: dict[str, Path]) -> None:
    records = pd.read_csv(runs["seeds3"] / "records.csv")
    assert sorted(records["seed"].unique()) == [3]
    users = load_scenario(runs["scenario"]).users.count
    assert len(records) == SLOTS * users * len(expected_labels(runs["scenario"]))


def test_resolved_scenario_records_the_seeds_that_ran(runs: dict[str, Path]) -> None:
    """scenario.yaml beside the results must describe the run that produced them."""
    written = yaml.safe_load((runs["seeds3"] / "scenario.yaml").read_text(encoding="utf-8"))
    assert written["seeds"] == [3]


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("3", [3]), ("0,1,2", [0, 1, 2]), ("0-4", [0, 1, 2, 3, 4]), ("0-2,7", [0, 1, 2, 7]),
     ("2-3,0-1", [2, 3, 0, 1]), (" 2 , 5 ", [2, 5])],
)
def test_parse_seeds(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(("text", "seed"), [("1,1", 1), ("0-4,3", 3), ("3,0-4", 3),
                                            ("0-2,2-5", 2), ("0-60000,0-60000", 0)])
def test_a_seed_given_twice_is_refused_as_in_a_scenario_file(text: str, seed: int) -> None:
    with pytest.raises(ValueError, match=rf"--seeds: seed {seed} is given twice"):
        parse_seeds(text)


def test_resolved_scenario_loads_and_reproduces_the_run(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    resolved = runs["run1"] / "scenario.yaml"
    again = load_scenario(resolved)
    original = load_scenario(runs["scenario"])
    assert again.model_dump() == original.model_dump()
    assert [scheduler_label(e) for e in again.schedulers] == [
        scheduler_label(e) for e in original.schedulers
    ]
    run_ok(resolved, tmp_path / "rerun")
    for name in REPRODUCIBLE_FILES:
        assert (tmp_path / "rerun" / name).read_bytes() == (runs["run1"] / name).read_bytes(), name


def test_resolved_scenario_with_a_relative_profile_loads_from_the_results(tmp_path: Path) -> None:
    """A profile named relative to the scenario file must still be found when the
    resolved scenario.yaml is loaded from the (different) output folder."""
    scenario_dir = tmp_path / "study"
    scenario_dir.mkdir()
    shutil.copy(DEFAULT_PROFILE_PATH, scenario_dir / "my_profile.csv")
    scenario_file = write_yaml(
        scenario_dir / "s.yaml",
        small_scenario(slots=2, seeds=[0], schedulers=["random"], profile="my_profile.csv"),
    )
    out_dir = tmp_path / "elsewhere" / "out"
    run_ok(scenario_file, out_dir)
    load_scenario(out_dir / "scenario.yaml")
    run_ok(out_dir / "scenario.yaml", tmp_path / "rerun")
    assert (tmp_path / "rerun" / "records.csv").read_bytes() == (
        out_dir / "records.csv"
    ).read_bytes()


def test_run_interrupted_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netsim.simulation.runner

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(netsim.simulation.runner, "run_scenario", interrupted)
    scenario_file = write_yaml(tmp_path / "s.yaml", small_scenario())
    out_dir = tmp_path / "out"
    result = invoke("run", scenario_file, "--out", out_dir, "--no-progress")
    assert result.exit_code == 130, (result.output, result.exception)
    assert "interrupted" in one_line(result)
    assert "Traceback" not in result.output
    assert not out_dir.exists()


# ------------------------------------------------------------------------- plot
def test_plot_writes_png_files(runs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(runs["run1"], run_dir)
    result = invoke("plot", run_dir)
    assert result.exit_code == 0, (result.output, result.exception)
    pngs = sorted((run_dir / "plots").glob("*.png"))
    assert pngs, "no figures written"
    for png in pngs:
        data = png.read_bytes()
        assert len(data) > 1000, png.name
        assert data.startswith(PNG_MAGIC), png.name
        assert str(png) in result.output
    leftovers = [p.name for p in (run_dir / "plots").iterdir() if p.suffix != ".png"]
    assert leftovers == []


@pytest.mark.parametrize("make", [True, False], ids=["empty_folder", "missing_folder"])
def test_plot_without_results_fails_with_one_line(make: bool, tmp_path: Path) -> None:
    run_dir = tmp_path / "nothing"
    if make:
        run_dir.mkdir()
    result = invoke("plot", run_dir)
    assert result.exit_code == 2, (result.output, result.exception)
    line = one_line(result)
    assert line.startswith("netsim: ") and str(run_dir) in line
    assert "Traceback" not in result.output
    assert not (run_dir / "plots").exists()


# ------------------------------------------------------------------ schema, help
def test_schema_prints_json() -> None:
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert "properties" in schema
    for key in ("cell", "users", "limits", "schedulers", "seeds", "slots"):
        assert key in schema["properties"], key


@pytest.mark.parametrize("command", [[], ["run"], ["validate"], ["schema"], ["plot"]])
def test_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ atomic write
def test_atomic_write_text_writes_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("where", ["replace", "fsync"])
@pytest.mark.parametrize("existing", [None, "old content\n"], ids=["new", "existing"])
def test_atomic_write_text_interrupted_leaves_no_trace(
    where: str, existing: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "sub" / "out.txt"
    if existing is not None:
        target.parent.mkdir()
        target.write_text(existing, encoding="utf-8")

    def interrupt(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(netsim.io.os, where, interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new content " * 1000)
    monkeypatch.undo()
    if existing is None:
        assert not target.exists()
        assert list(target.parent.iterdir()) == []
    else:
        assert target.read_text(encoding="utf-8") == existing
        assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_run_output_is_its_own_no_solver_banner(tmp_path: Path) -> None:
    """The first HiGHS instance prints a banner from C++ on stdout; a run with the ILP and
    the queue MILP shows the summary table first, nothing of the solver's."""
    import subprocess
    import sys

    data = yaml.safe_load(PAPER.read_text())
    data.update(slots=2, seeds=[0], delay_model="des",
                schedulers=[{"type": "ilp", "information": "oracle"}, "queue_milp"])
    scenario = write_yaml(tmp_path / "ilp.yaml", data)
    done = subprocess.run([sys.executable, "-m", "netsim", "run", str(scenario), "--out",
                           str(tmp_path / "out"), "--no-progress"], capture_output=True,
                          text=True, check=True)
    assert "HiGHS" not in done.stdout + done.stderr
    assert done.stdout.split()[0] == "scheduler"
