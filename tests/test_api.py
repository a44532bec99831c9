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
    trained = netsim.train(scenario, "ppo", steps=128)
    assert trained.folder is None and list(tmp_path.glob("netsim-*")) == []
    assert trained.model.num_timesteps == 128
    assert list(trained.learning_curve["env_steps"]) == [128]
    assert trained.learning_curve["score_vs_statistical"].between(0, 1.5).all()


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
