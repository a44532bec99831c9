"""A hostile user at `netsim compare`, `tune`, `report` and `plot`: odd arguments and
damaged inputs each give one line `netsim: ...` naming the argument or file, exit code 2,
no traceback, and write nothing. No training runs here: the RL toolkit's `train` and
`compare` are replaced by functions that fail the test, so every case below is refused
before any training would start."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from netsim.cli import app
from netsim.experiments.sweep import run_sweep
from netsim.simulation import registry
from netsim.simulation.output import write_run
from netsim.simulation.runner import run_scenario
from tests.scenario_factory import RL, ROOT, scenario_of, tiny

CURVE = ("env_steps,score_vs_statistical,score_vs_oracle,mean_return\n"
         "64,0.5,0.4,-1.0\n128,0.8,0.7,-0.5\n")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One of each folder and file the commands read, undamaged: a run, a sweep, a
    training, a search and a comparison (the last three hand-made), a scenario and a
    search-space scenario."""
    folder = tmp_path_factory.mktemp("hostile")
    scenario = scenario_of(tiny(sweep={}))
    write_run(folder / "run", scenario, run_scenario(scenario))
    run_sweep(scenario_of(tiny()), "tiny.yaml", folder / "sweep", workers=1, progress=False)
    (folder / "run.yaml").write_text(yaml.safe_dump(
        tiny(sweep={}, seeds=[0], rl=RL, users={"count": 2})))
    (folder / "tune.yaml").write_text(yaml.safe_dump(
        tiny(seeds=[0], rl=RL, users={"count": 2},
             sweep={"grid": {"rl.clip_range": [0.1, 0.2]}, "kind": "train"})))
    write(folder / "training" / "learning_curve.csv", CURVE)
    write(folder / "search" / "trials.csv",
          "number,state,value,last_step,rl.clip_range\n0,COMPLETE,0.8,128,0.1\n"
          "1,PRUNED,,64,0.2\n")
    write(folder / "search" / "trial-0" / "learning_curve.csv", CURVE)
    write(folder / "comparison" / "compare.csv",
          "algo,seeds,final_mean_return\nppo,1,-0.5\n")
    return folder


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def cut(path: Path, keep: int) -> None:
    """Keep the first KEEP characters (negative: drop the last -KEEP)."""
    path.write_text(path.read_text()[:keep])


def not_a_number(path: Path, column: str) -> None:
    """Put 'x' in COLUMN of the first row."""
    header, first, *rest = path.read_text().splitlines()
    cells = first.split(",")
    cells[header.split(",").index(column)] = "x"
    path.write_text("\n".join([header, ",".join(cells), *rest]) + "\n")


def files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob("*")}


@pytest.fixture()
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """The RL toolkit's train and compare fail the test if called."""
    real = registry.rl_entry

    def refuse(*args, **kwargs):
        raise AssertionError("an input error was not caught before training")

    monkeypatch.setattr(registry, "rl_entry",
                        lambda name: refuse if name in ("train", "compare") else real(name))


Damage = Callable[[Path], object] | None
# (id, damage to the copy D, command line ({D} is the copy), text the line must hold)
CASES: list[tuple[str, Damage, str, str]] = [
    # compare: checks before any training
    ("compare-empty-algos", None, "compare {D}/run.yaml --algos ,", "--algos"),
    ("compare-unknown-algo", None, "compare {D}/run.yaml --algos ppo,foo", "'foo'"),
    ("compare-bad-seeds", None, "compare {D}/run.yaml --algos ppo --seeds x", "--seeds"),
    ("compare-backward-seeds", None, "compare {D}/run.yaml --algos ppo --seeds 4-1",
     "--seeds"),
    ("compare-steps-below-eval", None,
     "compare {D}/run.yaml --algos ppo --seeds 0 --steps 10", "--steps 10"),
    ("compare-missing-scenario", None, "compare {D}/nope.yaml --algos ppo", "nope.yaml"),
    ("compare-damaged-scenario", lambda d: write(d / "run.yaml", "name: [x\n"),
     "compare {D}/run.yaml --algos ppo", "run.yaml"),
    ("compare-out-is-a-file", None,
     "compare {D}/run.yaml --algos ppo --seeds 0 --steps 128 --out {D}/run.yaml", "--out"),
    ("compare-out-under-a-file", None,
     "compare {D}/run.yaml --algos ppo --seeds 0 --steps 128 --out {D}/run.yaml/x",
     "is a file"),
    # tune: checks before the study and any trial
    ("tune-no-sweep", None, "tune {D}/run.yaml", "sweep"),
    ("tune-run-folder", None, "tune {D}/run", "run"),
    ("tune-damaged-scenario", lambda d: write(d / "tune.yaml", "sweep: {grid: [\n"),
     "tune {D}/tune.yaml", "tune.yaml"),
    ("tune-unknown-grid-key",
     lambda d: replace(d / "tune.yaml", "rl.clip_range", "rl.nonexistent"),
     "tune {D}/tune.yaml --trials 1 --out {D}/t", "rl.nonexistent"),
    ("tune-write-best-not-yaml", None, "tune {D}/tune.yaml --write-best {D}/b.txt",
     "--write-best"),
    ("tune-write-best-under-a-file", None,
     "tune {D}/tune.yaml --out {D}/t --write-best {D}/run.yaml/b.yaml", "--write-best"),
    ("tune-out-is-a-file", None, "tune {D}/tune.yaml --out {D}/run.yaml", "--out"),
    ("tune-study-db-is-a-folder", None, "tune {D}/tune.yaml --out {D}/t --study-db {D}/run",
     "--study-db"),
    ("tune-study-db-under-a-file", None,
     "tune {D}/tune.yaml --out {D}/t --study-db {D}/run.yaml/s.db", "--study-db"),
    ("tune-study-db-not-sqlite", lambda d: write(d / "s.db", "garbage"),
     "tune {D}/tune.yaml --out {D}/t --study-db {D}/s.db", "--study-db"),
    ("tune-study-db-damaged-journal", lambda d: write(d / "s.log", "garbage\n"),
     "tune {D}/tune.yaml --out {D}/t --study-db {D}/s.log", "--study-db"),
    ("tune-study-db-bad-url", None, "tune {D}/tune.yaml --out {D}/t --study-db foo://bar",
     "--study-db"),
    # report
    ("report-missing-folder", None, "report {D}/nope", "nope"),
    ("report-a-file", None, "report {D}/run.yaml", "run.yaml"),
    ("report-empty-folder", lambda d: (d / "empty").mkdir(), "report {D}/empty", "empty"),
    ("report-out-is-a-folder", None, "report {D}/run --out {D}/sweep.html",
     "--out"),
    ("report-out-over-a-csv", None, "report {D}/run --out {D}/run/summary.csv", "--out"),
    ("report-out-under-a-file", None, "report {D}/run --out {D}/run.yaml/r.html", "--out"),
    ("report-default-out-is-a-folder", lambda d: (d / "run" / "report.html").mkdir(),
     "report {D}/run", "report.html"),
    ("report-empty-summary", lambda d: write(d / "run" / "summary.csv", ""),
     "report {D}/run", "summary.csv"),
    ("report-wrong-header", lambda d: write(d / "run" / "summary.csv", "a,b\n1,2\n"),
     "report {D}/run", "summary.csv"),
    ("report-non-numeric", lambda d: not_a_number(d / "run" / "summary.csv", "mean_reward"),
     "report {D}/run", "mean_reward"),
    ("report-binary-summary", lambda d: (d / "run" / "summary.csv").write_bytes(b"\xff\xfe"),
     "report {D}/run", "summary.csv"),
    ("report-truncated-records", lambda d: cut(d / "run" / "records.csv", -40),
     "report {D}/run", "records.csv"),
    ("report-missing-records", lambda d: (d / "run" / "records.csv").unlink(),
     "report {D}/run", "records.csv"),
    ("report-damaged-scenario", lambda d: write(d / "run" / "scenario.yaml", "a: [\n"),
     "report {D}/run", "scenario.yaml"),
    ("report-scenario-a-list", lambda d: write(d / "run" / "scenario.yaml", "- 1\n"),
     "report {D}/run", "scenario.yaml"),
    ("report-scenario-without-task", lambda d: write(d / "run" / "scenario.yaml", "a: 1\n"),
     "report {D}/run", "task.kind"),
    ("report-empty-aggregate", lambda d: write(d / "sweep" / "aggregate.csv", ""),
     "report {D}/sweep", "aggregate.csv"),
    ("report-header-only-aggregate", lambda d: cut(d / "sweep" / "aggregate.csv", 400),
     "report {D}/sweep", "aggregate.csv"),
    ("report-empty-sweep-timing", lambda d: write(d / "sweep" / "sweep_timing.csv", ""),
     "report {D}/sweep", "sweep_timing.csv"),
    ("report-empty-curve", lambda d: write(d / "training" / "learning_curve.csv", ""),
     "report {D}/training", "learning_curve.csv"),
    ("report-non-numeric-curve",
     lambda d: write(d / "training" / "learning_curve.csv", CURVE.replace("64,", "x,")),
     "report {D}/training", "env_steps"),
    ("report-wrong-header-trials", lambda d: write(d / "search" / "trials.csv", "a\n1\n"),
     "report {D}/search", "trials.csv"),
    ("report-damaged-trial-curve",
     lambda d: write(d / "search" / "trial-0" / "learning_curve.csv", "a\n1\n"),
     "report {D}/search", "trial-0"),
    ("report-empty-compare", lambda d: write(d / "comparison" / "compare.csv", ""),
     "report {D}/comparison", "compare.csv"),
    # plot
    ("plot-missing-path", None, "plot {D}/nope", "nope"),
    ("plot-empty-folder", lambda d: (d / "empty").mkdir(), "plot {D}/empty", "empty"),
    ("plot-training-folder", None, "plot {D}/training", "training"),
    ("plot-empty-summary", lambda d: write(d / "run" / "summary.csv", ""),
     "plot {D}/run", "summary.csv"),
    ("plot-wrong-header", lambda d: write(d / "run" / "summary.csv", "a,b\n1,2\n"),
     "plot {D}/run", "mean_reward"),
    ("plot-truncated-records", lambda d: cut(d / "run" / "records.csv", -40),
     "plot {D}/run", "records.csv"),
    ("plot-served-not-a-flag",
     lambda d: replace(d / "run" / "records.csv", ",False,", ",maybe,"),
     "plot {D}/run", "served"),
    ("plot-damaged-scenario", lambda d: write(d / "run" / "scenario.yaml", "a: [\n"),
     "plot {D}/run", "scenario.yaml"),
    ("plot-plots-is-a-file", lambda d: write(d / "run" / "plots", "x"),
     "plot {D}/run", "plots"),
    ("plot-empty-aggregate", lambda d: write(d / "sweep" / "aggregate.csv", ""),
     "plot {D}/sweep", "aggregate.csv"),
    ("plot-aggregate-without-keys",
     lambda d: write(d / "sweep" / "aggregate.csv", "scheduler,mean_reward,"
                     "delay_violation_rate,energy_violation_rate\nx,1,0,0\n"),
     "plot {D}/sweep", "aggregate.csv"),
    ("plot-damaged-point", lambda d: write(d / "sweep" / "users.count=3,seed=1" /
                                           "summary.csv", ""),
     "plot {D}/sweep", "users.count=3,seed=1"),
    ("plot-empty-profile-csv", lambda d: write(d / "p.csv", ""), "plot {D}/p.csv", "p.csv"),
]


@pytest.mark.parametrize(("damage", "command", "named"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_refused_with_one_line_and_nothing_written(
        base: Path, tmp_path: Path, no_training: None, damage: Damage, command: str,
        named: str) -> None:
    copy = tmp_path / "d"
    shutil.copytree(base, copy)
    if damage is not None:
        damage(copy)
    if "sweep.html" in command:
        (copy / "sweep.html").mkdir()
    before = files(copy)
    args = [part.replace("{D}", str(copy)) for part in command.split()]
    if args[0] in ("compare", "tune"):
        args.append("--no-progress")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("netsim: ") and named in lines[0], lines[0]
    assert files(copy) == before  # nothing written, nothing changed


@pytest.mark.parametrize(("command", "written"), [
    ("report {D}/run", "run/report.html"),
    ("report {D}/sweep", "sweep/report.html"),
    ("report {D}/training", "training/report.html"),
    ("report {D}/search --out {D}/out/search.html", "out/search.html"),
    ("report {D}/comparison", "comparison/report.html"),
    ("plot {D}/run", "run/plots/reward.png"),
])
def test_undamaged_folders_still_work(base: Path, tmp_path: Path, command: str,
                                      written: str) -> None:
    copy = tmp_path / "d"
    shutil.copytree(base, copy)
    args = [part.replace("{D}", str(copy)) for part in command.split()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert (copy / written).is_file()


@pytest.mark.parametrize(("argv", "named"), [
    (["train", "{S}", "--steps", "0"], "--steps"),
    (["train", "{S}", "--steps", "many"], "--steps"),
    (["run", "{S}", "--nope"], "--nope"),
    (["run"], "scenario_file"),
    (["sweep", "{S}", "--workers", "0"], "--workers"),
    (["bogus"], "bogus"),
])
def test_usage_errors_are_one_line(tmp_path: Path, argv: list[str], named: str) -> None:
    """Typer's own checks (options out of range, unknown options or commands, missing
    arguments) answer like every other input error: one line, exit 2, in a real
    process (the formatting happens in the command group's main)."""
    import subprocess
    import sys

    args = [part.replace("{S}", str(ROOT / "scenarios" / "paper.yaml")) for part in argv]
    done = subprocess.run([sys.executable, "-m", "netsim", *args], capture_output=True,
                          text=True, cwd=tmp_path, check=False)
    assert done.returncode == 2
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("netsim: ") and named in lines[0], lines
    assert not any(tmp_path.iterdir())


def read_only_folder() -> Path | None:
    """A folder no file can be made in, even by root (a read-only mount), or None."""
    for candidate in (Path("/sys"), Path("/proc/sys")):
        try:
            handle, probe = tempfile.mkstemp(dir=candidate)
        except OSError:
            return candidate
        os.close(handle)
        os.unlink(probe)
    return None


@pytest.fixture()
def read_only() -> Path:
    """A read-only folder (the test is skipped on a machine without one)."""
    folder = read_only_folder()
    if folder is None:
        pytest.skip("no read-only mount on this machine")
    return folder


def fail_if_called(*args, **kwargs):
    raise AssertionError("the work started before the output was checked")


def refused_in(result, read_only: Path) -> None:
    """RESULT is the one line, exit 2, naming READ_ONLY as not writable."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"cannot write in {read_only}" in lines[0], lines


@pytest.mark.parametrize("command", [
    "run {D}/run.yaml --out {RO}/out",
    "sweep {D}/tune.yaml --out {RO}/out",
    "train {D}/run.yaml --steps 128 --out {RO}/out",
    "compare {D}/run.yaml --algos ppo --seeds 0 --steps 128 --out {RO}/out",
    "tune {D}/tune.yaml --trials 1 --out {RO}/out",
    "tune {D}/tune.yaml --trials 1 --out {D}/t --write-best {RO}/best.yaml",
    "report {D}/run --out {RO}/report.html",
])
def test_an_output_in_a_read_only_place_is_refused_before_the_work(
        base: Path, tmp_path: Path, no_training: None, monkeypatch: pytest.MonkeyPatch,
        read_only: Path, command: str) -> None:
    """Permissions and read-only mounts are found by trying, before any work: the tune
    search wrote its study and ran every trial before finding --write-best unwritable."""
    from netsim.experiments import tune
    from netsim.simulation import runner

    monkeypatch.setattr(runner, "run_scenario", fail_if_called)
    monkeypatch.setattr(tune, "tune", fail_if_called)
    copy = tmp_path / "d"
    shutil.copytree(base, copy)
    before = files(copy)
    args = [part.replace("{D}", str(copy)).replace("{RO}", str(read_only))
            for part in command.split()]
    refused_in(CliRunner().invoke(app, args), read_only)
    assert files(copy) == before


def test_profile_out_in_a_read_only_place_is_refused_before_the_measurement(
        monkeypatch: pytest.MonkeyPatch, read_only: Path) -> None:
    """netsim profile measured for as long as it takes (hours on real weights), then
    failed with a traceback writing its CSV: its --out is now checked first."""
    from netsim.semantic import profiling

    monkeypatch.setattr(profiling, "load_dataset", fail_if_called)
    refused_in(CliRunner().invoke(app, ["profile", "--encoders", "ViT-B-32", "--pretrained",
                                        "none", "--out", str(read_only / "p.csv")]), read_only)


def test_an_output_name_too_long_for_netsims_own_files_is_refused_first(tmp_path: Path
                                                                       ) -> None:
    """Beside an output netsim writes hidden files named after it, up to 16 bytes longer
    (.NAME.probe-XXXXXXXX, .NAME.new-XXXXXXXX, .NAME.lock): a name of 240-255 bytes,
    which file systems allow, passed or failed the checks by command and then failed
    after the work (a run's results, a profile) or with a traceback (a lock file). One
    rule now, before any work: at most 239 bytes."""
    from netsim.io import OUTPUT_NAME_MAX_BYTES, target_problem, write_problem

    def problem(path: Path, folder: bool) -> str | None:
        return target_problem(path, folder) or write_problem(path, folder)

    assert OUTPUT_NAME_MAX_BYTES == 239
    for name in ("b" * 239, "é" * 119 + "b"):
        out = tmp_path / name
        assert problem(out, folder=True) is None
        out.mkdir()
        assert problem(out, folder=True) is None  # probed beside it and in it
        assert problem(out / "x.csv", folder=False) is None
        assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no probe left
        assert not any(out.iterdir())
        out.rmdir()
    for name in ("b" * 240, "é" * 120, "b" * 255):
        problem = target_problem(tmp_path / name, folder=True)
        assert problem is not None and "may be at most 239" in problem
    result = CliRunner().invoke(app, ["run", str(ROOT / "scenarios" / "paper.yaml"), "--out",
                                      str(tmp_path / ("r" * 245))])
    assert result.exit_code == 2 and "may be at most 239" in one_line_of(result)
    assert not any(tmp_path.iterdir())


def one_line_of(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("command", ["run {D}/run.yaml", "sweep {D}/tune.yaml",
                                     "train {D}/run.yaml --steps 128",
                                     "compare {D}/run.yaml --algos ppo --seeds 0 --steps 128",
                                     "tune {D}/tune.yaml --trials 1"])
def test_an_output_that_links_to_nothing_is_one_line(base: Path, tmp_path: Path,
                                                     no_training: None, command: str) -> None:
    """--out a dangling symbolic link: a traceback (FileExistsError) after the checks."""
    copy = tmp_path / "d"
    shutil.copytree(base, copy)
    (tmp_path / "link").symlink_to(tmp_path / "gone" / "out")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    args = [part.replace("{D}", str(copy)) for part in command.split()]
    for out in ("link", "link/sub", "loop"):  # the link itself, or one on the way
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / out),
                                          "--no-progress"])
        assert result.exit_code == 2, (out, result.output, result.exception)
        assert "which does not exist" in one_line_of(result)
    assert not (tmp_path / "gone").exists()


def test_an_existing_folder_is_probed_in_it_and_beside_it(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A command's first write into an existing folder is its lock file beside it: a
    folder that could be written but whose parent could not passed the check and then
    failed with a traceback. Both places are tried; a Ctrl-C during a probe leaves no
    probe behind."""
    from netsim import io

    out = tmp_path / "out"
    out.mkdir()
    tried: list[Path] = []
    real = io.probe_writable
    monkeypatch.setattr(io, "probe_writable", lambda place, name: tried.append(place))
    assert io.write_problem(out, folder=True) is None
    assert tried == [tmp_path.resolve(), out.resolve()]
    # a link is followed: where the writes land (the lock file beside the target)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere" / "target")
    tried.clear()
    assert io.write_problem(tmp_path / "link", folder=True) is None
    assert tried == [(tmp_path / "elsewhere").resolve(),
                     (tmp_path / "elsewhere" / "target").resolve()]
    (tmp_path / "link").unlink()
    for folder in ("elsewhere/target", "elsewhere"):
        (tmp_path / folder).rmdir()
    monkeypatch.setattr(io, "probe_writable", real)
    removals = []
    remove = os.rmdir

    def interrupted_once(path):
        removals.append(path)
        if len(removals) == 1:
            raise KeyboardInterrupt
        remove(path)

    monkeypatch.setattr(os, "rmdir", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        io.probe_writable(tmp_path, "out")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
