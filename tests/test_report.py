"""netsim report: one self-contained HTML file for a run, a training, a comparison, a
sweep and a search; a folder that is none of them is an input error."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from netsim.cli import app
from netsim.experiments.report import build_report
from netsim.experiments.sweep import run_sweep
from netsim.experiments.tune import tune
from netsim.loading import load_scenario
from netsim.simulation.output import write_run
from netsim.simulation.runner import run_scenario
from solvers.rl.compare import compare
from tests.scenario_factory import RL, one_line, scenario_of, tiny, write_yaml


def images(text: str) -> list[str]:
    sources = re.findall(r'<img src="([^"]*)"', text)
    assert all(s.startswith("data:image/png;base64,iVBORw0KGgo") for s in sources)
    return sources


def check(text: str, tables: int, figures: int) -> None:
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<table") >= tables
    assert len(images(text)) >= figures
    assert "http://" not in text and "https://" not in text  # nothing to fetch


def test_run_report(tmp_path: Path) -> None:
    scenario = scenario_of(tiny(sweep={}))
    write_run(tmp_path, scenario, run_scenario(scenario))
    text = build_report(tmp_path)
    check(text, tables=2, figures=5)
    assert "jain_index" in text and "hungarian_statistical" in text
    assert "RL budget" not in text  # a run trains nothing


def test_sweep_report(tmp_path: Path) -> None:
    run_sweep(scenario_of(tiny()), "tiny.yaml", tmp_path, workers=1, progress=False)
    text = build_report(tmp_path)
    check(text, tables=2, figures=3)
    assert "users.count" in text and "mean_reward_ci95" in text
    assert "RL budget" not in text  # a sweep of runs trains nothing


def test_training_comparison_and_search_reports(tmp_path: Path) -> None:
    scenario = scenario_of(tiny(seeds=[0], rl=RL, users={"count": 2}, sweep={}))
    compare(scenario, ["ppo"], [0], 128, tmp_path / "compare", progress=False)
    check(build_report(tmp_path / "compare"), tables=1, figures=1)
    text = build_report(tmp_path / "compare" / "ppo-s0")
    check(text, tables=1, figures=1)
    assert f"RL budget {RL['total_steps']} steps" in text
    path = write_yaml(tmp_path / "tune.yaml",
                      tiny(seeds=[0], rl=RL, users={"count": 2},
                           sweep={"grid": {"rl.clip_range": [0.1, 0.2]}, "kind": "train"}))
    tune(load_scenario(path), str(path), 1, str(tmp_path / "s.db"), tmp_path / "tune",
         progress=False)
    text = build_report(tmp_path / "tune")
    check(text, tables=1, figures=1)
    assert "rl.clip_range" in text


def test_report_command(tmp_path: Path) -> None:
    scenario = scenario_of(tiny(sweep={}))
    write_run(tmp_path / "run", scenario, run_scenario(scenario))
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    check((tmp_path / "run" / "report.html").read_text(), tables=2, figures=5)
    (tmp_path / "empty").mkdir()
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "empty")])
    assert bad.exit_code == 2
    assert one_line(bad).startswith(f"netsim: {tmp_path / 'empty'}: not a netsim output folder")
    assert not (tmp_path / "empty" / "report.html").exists()
    assert CliRunner().invoke(app, ["report", "--help"]).exit_code == 0


def test_report_of_a_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert one_line(result) == f"netsim: {tmp_path / 'nowhere'}: no such folder"


def test_plot_and_report_say_what_their_argument_is_not(tmp_path: Path) -> None:
    """A missing path or a file: said as such (plot answered 'summary.csv: missing: is
    this a folder netsim run wrote?', report on a file 'no such folder')."""
    (tmp_path / "notes.txt").write_text("mine")
    for argv, line in (
            (["plot", str(tmp_path / "nowhere")], "no such folder (or profile CSV)"),
            (["plot", str(tmp_path / "notes.txt")], "not a folder netsim wrote, nor a profile CSV"),
            (["report", str(tmp_path / "notes.txt")], "not a folder")):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2
        assert one_line(result) == f"netsim: {argv[1]}: {line}"


def test_a_sweep_of_trainings_gives_its_budget_or_says_it_is_swept(tmp_path: Path) -> None:
    """The header of a sweep of kind train gave the base rl.total_steps as its budget even
    where the sweep swept it; a run's or a sweep of runs' header gave one at all."""
    import yaml

    from netsim.experiments.report import Report, describe_scenario

    def header(sweep: dict) -> str:
        data = {"name": "s", "rl": {"total_steps": 100}, "sweep": sweep}
        (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(data))
        report = Report("t")
        describe_scenario(report, tmp_path, "sweep")
        return report.html()

    assert "RL budget 100 steps" in header({"kind": "train", "grid": {"rl.gamma": [0.9]}})
    assert "RL budget swept (rl.total_steps)" in header(
        {"kind": "train", "grid": {"rl.total_steps": [300, 600]}})
    assert "RL budget swept" in header({"kind": "train", "points": [{"rl.total_steps": 3}]})
    assert "RL budget" not in header({"grid": {"users.count": [2, 3]}})
