"""The Python API (netsim.api) against the command line: paper.yaml run in memory equals
`netsim run`'s files; overrides are checked like files; Parquet holds the CSV's table
(columns, dtypes, values) and the figures and reports read it; a sweep in memory equals
`netsim sweep`'s aggregate; a training returns its agent and curve and leaves nothing
behind; `--verbose` lets the solver's output through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import netsim
from netsim.cli import app
from netsim.table_files import csv_text
from tests.scenario_factory import PAPER, one_line, paper_dict, tiny, write_yaml

TABLES = ("records", "summary")  # timing is wall clock


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def paper_cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """paper.yaml through `netsim run`, once in CSV and once in Parquet."""
    folders = {}
    for table_format in ("csv", "parquet"):
        out = tmp_path_factory.mktemp(table_format) / "paper"
        result = invoke("run", PAPER, "--out", out, "--no-progress", "--format", table_format)
        assert result.exit_code == 0, result.output
        folders[table_format] = out
    return folders


@pytest.fixture(scope="module")
def paper_api() -> netsim.RunResults:
    return netsim.run(netsim.load_scenario(PAPER))


def test_the_api_runs_paper_yaml_in_memory_as_the_cli_writes_it(
        paper_cli: dict[str, Path], paper_api: netsim.RunResults, tmp_path: Path) -> None:
    for name in TABLES:
        expected = (paper_cli["csv"] / f"{name}.csv").read_text(encoding="utf-8")
        assert csv_text(getattr(paper_api, name)) == expected
    assert list(paper_api.timing["scheduler"]) == list(
        pd.read_csv(paper_cli["csv"] / "timing.csv")["scheduler"])
    saved = paper_api.save(tmp_path / "saved")
    for name in ("records.csv", "summary.csv", "scenario.yaml"):
        assert (saved / name).read_bytes() == (paper_cli["csv"] / name).read_bytes()


def test_parquet_holds_the_csv_table_with_its_dtypes(paper_cli: dict[str, Path],
                                                     paper_api: netsim.RunResults) -> None:
    for name in ("records", "summary", "timing"):
        parquet = pd.read_parquet(paper_cli["parquet"] / f"{name}.parquet")
        in_memory = getattr(paper_api, name)
        assert list(parquet.columns) == list(in_memory.columns)
        assert dict(parquet.dtypes) == dict(in_memory.dtypes)
        if name != "timing":
            assert csv_text(parquet) == (paper_cli["csv"] / f"{name}.csv").read_text()
            pd.testing.assert_frame_equal(parquet, in_memory)  # full precision kept
    assert sorted(p.name for p in paper_cli["parquet"].iterdir()) == [
        "records.parquet", "scenario.yaml", "summary.parquet", "timing.parquet"]


def test_plots_and_reports_read_a_parquet_run(paper_cli: dict[str, Path],
                                              tmp_path: Path) -> None:
    import shutil

    figures = {}
    for table_format, source in paper_cli.items():
        folder = tmp_path / table_format
        shutil.copytree(source, folder)
        assert invoke("plot", folder).exit_code == 0
        assert invoke("report", folder).exit_code == 0
        figures[table_format] = {p.name: p.read_bytes() for p in (folder / "plots").iterdir()}
        assert "Schedulers" in (folder / "report.html").read_text()
    assert figures["parquet"] == figures["csv"]  # the same figures, to the byte


def test_a_damaged_parquet_file_is_one_line(paper_cli: dict[str, Path],
                                            tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "damaged"
    shutil.copytree(paper_cli["parquet"], folder)
    data = (folder / "records.parquet").read_bytes()
    (folder / "records.parquet").write_bytes(data[: len(data) // 2])
    result = invoke("plot", folder)
    assert result.exit_code == 2
    assert "records.parquet: not a readable Parquet file" in one_line(result)


def test_overrides_are_checked_like_a_file() -> None:
    scenario = netsim.load_scenario(PAPER, {"users.count": 8, "slots": 3,
                                            "cell.fading.model": "nakagami"})
    assert (scenario.users.count, scenario.slots, scenario.cell.fading.model) == (
        8, 3, "nakagami")
    assert scenario.cell.n_rbs == 6  # the file's other values stay
    again = netsim.load_scenario(scenario, {"users.count": 4})
    assert again.users.count == 4 and again.slots == 3
    from_dict = netsim.load_scenario(paper_dict(), {"seeds": [7]})
    assert from_dict.seeds == [7] and from_dict.users.count == 5
    for overrides, message in [
            ({"users.cout": 3}, "users.cout: unknown key"),
            ({"users.count": 0}, "users.count: Input should be greater than or equal to 1"),
            ({"slots.every": 3}, "slots.every: no such key"),
            ({"delay_model": "queues"}, "delay_model: Input should be 'analytic' or 'des'")]:
        with pytest.raises(netsim.ScenarioError) as error:
            netsim.load_scenario(PAPER, overrides)
        assert str(error.value) == f"{PAPER} (overrides): {message}" or (
            str(error.value).startswith(f"{PAPER} (overrides): {message}")), str(error.value)
        assert "\n" not in str(error.value)
    with pytest.raises(netsim.ScenarioError, match="no such file"):
        netsim.load_scenario("no-such-file.yaml")


def test_a_sweep_in_memory_equals_the_cli_sweep(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "tiny.yaml", tiny())
    for table_format in ("csv", "parquet"):
        result = invoke("sweep", path, "--out", tmp_path / table_format, "--workers", "1",
                        "--no-progress", "--format", table_format)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "parquet" / "users.count=2,seed=0" / "records.parquet").is_file()
    swept = netsim.sweep(path)  # CSV points, in a temporary folder
    assert swept.folder is None and swept.keys == ["users.count"]
    assert csv_text(swept.aggregate) == (tmp_path / "csv" / "aggregate.csv").read_text()
    # Parquet points keep every digit, so their aggregate differs only past the CSV's 10
    from_parquet = pd.read_csv(tmp_path / "parquet" / "aggregate.csv")
    pd.testing.assert_frame_equal(from_parquet, pd.read_csv(tmp_path / "csv" / "aggregate.csv"),
                                  rtol=1e-8)
    assert invoke("plot", tmp_path / "parquet").exit_code == 0  # the Parquet points plotted


def test_a_training_returns_its_agent_and_curve_and_leaves_nothing(tmp_path: Path,
                                                                   monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    assert tempfile.gettempdir() == str(tmp_path)
    scenario = netsim.load_scenario(PAPER, {"rl.n_steps": 64, "rl.batch_size": 32,
                                            "rl.eval_seeds": [1, 2], "rl.eval_slots": 2})
    import random

    import numpy as np
    import torch

    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    trained = netsim.train(scenario, "ppo", steps=128, seed=np.int64(3))  # numpy's seed too
    # the notebook's global generators go on from where they were (training reseeded them)
    drawn = random.random(), np.random.rand(), torch.rand(1).item()
    random.seed(11), np.random.seed(11), torch.manual_seed(11)
    assert drawn == (random.random(), np.random.rand(), torch.rand(1).item())
    assert trained.folder is None and list(tmp_path.glob("netsim-*")) == []
    assert trained.model.num_timesteps == 128
    assert list(trained.learning_curve["env_steps"]) == [128]
    assert trained.learning_curve["score_vs_statistical"].between(0, 1.5).all()


def test_a_training_resumed_to_another_budget_is_refused_in_the_apis_words(
        tmp_path: Path) -> None:
    """The refusal names the API's arguments (out=, steps=), not the CLI's options."""
    scenario = netsim.load_scenario(PAPER, {"rl.n_steps": 64, "rl.batch_size": 32,
                                            "rl.eval_seeds": [1], "rl.eval_slots": 1})
    netsim.train(scenario, "ppo", steps=64, out=tmp_path / "t")
    with pytest.raises(ValueError, match=r"^out=.*t: holds a training of 64 steps, not "
                       r"the 128 of steps; .*resume it with steps=64, or"):
        netsim.train(scenario, "ppo", steps=128, out=tmp_path / "t", resume=True)


def test_verbose_lets_the_solver_banner_through(tmp_path: Path) -> None:
    data = paper_dict()
    data.update(slots=2, seeds=[0], schedulers=[{"type": "ilp", "information": "oracle"}])
    scenario = write_yaml(tmp_path / "ilp.yaml", data)
    outputs = {}
    for flags in ([], ["--verbose"]):
        done = subprocess.run([sys.executable, "-m", "netsim", *flags, "run", str(scenario),
                               "--out", str(tmp_path / f"out{len(flags)}"), "--no-progress"],
                              capture_output=True, text=True, check=True)
        outputs[bool(flags)] = done.stdout + done.stderr
    assert "HiGHS" not in outputs[False]
    assert "Running HiGHS" in outputs[True]
    # NETSIM_VERBOSE=true makes --verbose the default; --quiet still wins
    import os

    for flags, expected in (([], True), (["--quiet"], False)):
        done = subprocess.run([sys.executable, "-m", "netsim", *flags, "run", str(scenario),
                               "--out", str(tmp_path / "env"), "--no-progress"],
                              capture_output=True, text=True, check=True,
                              env={**os.environ, "NETSIM_VERBOSE": "true"})
        assert ("Running HiGHS" in done.stdout) is expected


def test_overrides_take_numpy_values_and_say_how_to_switch_a_model(tmp_path: Path) -> None:
    import numpy as np

    scenario = netsim.load_scenario(PAPER, {"users.count": np.int64(7),
                                            "seeds": np.arange(2)})
    assert scenario.users.count == 7 and scenario.seeds == [0, 1]
    assert netsim.run(netsim.load_scenario(scenario, {"slots": 2, "schedulers": ["random"]}),
                      seeds=np.arange(1)).records["seed"].unique().tolist() == [0]
    # what the file left to defaults stays default: the law's own m
    assert netsim.load_scenario(PAPER, {"cell.fading.model": "nakagami"}).cell.fading.m == 2.0
    rician = netsim.load_scenario(PAPER, {"cell.fading": {"model": "rician", "k_factor": 4}})
    with pytest.raises(netsim.ScenarioError, match=r"cell.fading.k_factor: unknown key: not "
                       r"a key of the cell.fading.model you chose; to switch models give"):
        netsim.load_scenario(rician, {"cell.fading.model": "rayleigh"})
    assert netsim.load_scenario(rician, {"cell.fading": {"model": "rayleigh"}}
                                ).cell.fading.model == "rayleigh"
    # a mapping replaces its section: the keys it leaves out take their defaults
    written = netsim.load_scenario(PAPER, {"users.drop_penalty": 7.0})
    assert netsim.load_scenario(written, {"users": {"count": 8}}).users.drop_penalty == 10.0
    assert netsim.load_scenario(written, {"users.count": 8}).users.drop_penalty == 7.0


def test_bad_arguments_are_refused_before_any_work(tmp_path: Path) -> None:
    sweep_scenario = netsim.load_scenario(write_yaml(tmp_path / "tiny.yaml", tiny()))
    (tmp_path / "afile").write_text("x")
    for call, message in [
            (lambda: netsim.sweep(sweep_scenario, format="xlsx"), "format: 'xlsx'"),
            (lambda: netsim.sweep(sweep_scenario, workers=0), "workers: 0"),
            (lambda: netsim.sweep(sweep_scenario, backend="dask"), "backend: 'dask'"),
            (lambda: netsim.sweep(sweep_scenario, out=tmp_path / "afile"), "is a file"),
            (lambda: netsim.train(PAPER, steps=0), "steps: 0"),
            (lambda: netsim.train(PAPER, algo="a2c"), "algo:"),
            (lambda: netsim.train(PAPER, seed=2**32), "^seed: 4294967296: a training seed"),
            (lambda: netsim.train(PAPER, seed=1.0), "^seed: 1.0: a training seed is an integer"),
            (lambda: netsim.run(PAPER, seeds="0-2"), "^seeds: '0-2': a list of seeds"),
            (lambda: netsim.run(PAPER, seeds=3), "^seeds: 3: a list of seeds"),
            (lambda: netsim.train(PAPER, out=tmp_path / "afile" / "x"), "is a file")]:
        with pytest.raises(ValueError, match=message) as error:
            call()
        assert "\n" not in str(error.value)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    small = netsim.run(netsim.load_scenario(PAPER, {"slots": 2, "seeds": [0],
                                                    "schedulers": ["random"]}))
    with pytest.raises(ValueError, match=r"^out=.*foreign: holds files that are not a netsim"):
        small.save(foreign)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "foreign", "tiny.yaml"]


def test_a_parquet_file_damaged_inside_is_one_printable_line(paper_cli: dict[str, Path],
                                                             tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "flipped"
    shutil.copytree(paper_cli["parquet"], folder)
    data = bytearray((folder / "records.parquet").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(255 - b for b in data[middle:middle + 64])
    (folder / "records.parquet").write_bytes(bytes(data))
    result = invoke("plot", folder)
    assert result.exit_code == 2
    line = one_line(result)
    assert "records.parquet: not a readable Parquet file" in line
    assert line.isprintable()


def test_figures_leave_the_callers_matplotlib_alone(paper_api: netsim.RunResults) -> None:
    """Importing netsim's plotting switched matplotlib to Agg (a notebook's inline
    figures stopped showing); now it keeps the caller's backend, and its figures are not
    left open in pyplot."""
    import importlib

    import matplotlib
    import matplotlib.pyplot as plt

    from netsim.experiments import plotting

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands for a notebook's own backend
    try:
        importlib.reload(plotting)  # what importing it does
        open_before = plt.get_fignums()
        figures = paper_api.figures()
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == open_before
        assert figures["reward"].axes and "reward" in figures
    finally:
        matplotlib.use(before)
