"""A run folder is published all or nothing, and checked before the work starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from netsim.cli import app
from netsim.simulation import output
from tests.scenario_factory import deep_update, one_line, paper_dict, write_yaml


def scenario_file(tmp_path: Path, seed: int) -> Path:
    data = deep_update(paper_dict(), {"slots": 3, "seeds": [seed],
                                      "schedulers": ["random"]})
    return write_yaml(tmp_path / f"s{seed}.yaml", data)


def run(path: Path, out: Path):
    return CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress"])


def contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden_leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir()
                  if p.name.startswith(f".{out.name}.") and p.name != f".{out.name}.lock")


def test_a_second_run_replaces_the_first_whole(tmp_path):
    out = tmp_path / "out"
    assert run(scenario_file(tmp_path, 0), out).exit_code == 0
    (out / "plots").mkdir()
    (out / "plots" / "reward.png").write_bytes(b"stale figure of run 0")
    assert run(scenario_file(tmp_path, 1), out).exit_code == 0
    assert sorted(contents(out)) == sorted(output.RUN_FILES)  # run 0's figure went with it
    assert b"seeds:\n- 1\n" in (out / "scenario.yaml").read_bytes()
    assert hidden_leftovers(out) == []


def test_an_out_folder_that_is_a_link_is_published_where_it_points(tmp_path):
    """results/out -> data/out: the new run replaces the old one in data/out and the link
    stays (it was replaced by a folder, the old run left behind it, and a hidden link
    left over)."""
    target, link = tmp_path / "data" / "out", tmp_path / "results" / "out"
    assert run(scenario_file(tmp_path, 0), target).exit_code == 0
    link.parent.mkdir()
    link.symlink_to(target, target_is_directory=True)
    assert run(scenario_file(tmp_path, 1), link).exit_code == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert sorted(contents(target)) == sorted(output.RUN_FILES)
    assert b"seeds:\n- 1\n" in (target / "scenario.yaml").read_bytes()
    assert hidden_leftovers(target) == [] and hidden_leftovers(link) == []
    # one folder, one writer, however it is named (the link had a lock of its own)
    from netsim.locks import exclusive_writer

    with exclusive_writer(target, "run"):
        result = run(scenario_file(tmp_path, 2), link)
    assert result.exit_code == 2 and "is writing there" in one_line(result)
    # nor through ".." (`--out ..` locked "./....lock", another lock than the folder's)
    from netsim.locks import FolderBusy

    (target / "sub").mkdir()
    with (exclusive_writer(target, "run"), pytest.raises(FolderBusy),
          exclusive_writer(target / "sub" / "..", "run")):
        pass
    assert not (target / "sub" / "....lock").exists()


@pytest.mark.parametrize("failing_call", [1, 2])
def test_a_failed_publish_leaves_the_earlier_run_whole(tmp_path, failing_nth_call,
                                                        failing_call):
    """The move aside (call 1) or the move into place (call 2) fails: the folder holds
    exactly the earlier run's files, and nothing hidden is left beside it."""
    out = tmp_path / "out"
    assert run(scenario_file(tmp_path, 0), out).exit_code == 0
    before = contents(out)
    with failing_nth_call(output.os, "rename", failing_call):
        result = run(scenario_file(tmp_path, 1), out)
    assert result.exit_code == 1
    assert "the earlier run there is kept" in one_line(result)
    assert contents(out) == before
    assert hidden_leftovers(out) == []


@pytest.mark.parametrize("failing_write", [1, 2, 3, 4])
def test_a_failed_file_write_leaves_the_earlier_run_whole(tmp_path, failing_nth_call,
                                                          failing_write):
    """Each of the run's four file writes fails in turn (a full disk): the folder holds
    exactly the earlier run's files, nothing hidden is left, exit 1 with one line."""
    import netsim.io

    out = tmp_path / "out"
    assert run(scenario_file(tmp_path, 0), out).exit_code == 0
    before = contents(out)
    with failing_nth_call(netsim.io.os, "replace", failing_write):
        result = run(scenario_file(tmp_path, 1), out)
    assert result.exit_code == 1, result.output
    assert "No space left on device" in one_line(result)
    assert contents(out) == before
    assert hidden_leftovers(out) == []


def test_a_publish_killed_midway_is_cleaned_up_by_the_next(tmp_path):
    out = tmp_path / "out"
    (tmp_path / ".out.new-abc").mkdir()  # what a kill between the two renames leaves
    (tmp_path / ".out.new-abc" / "records.csv").write_text("half\n")
    (tmp_path / ".out.old-def").mkdir()
    assert run(scenario_file(tmp_path, 0), out).exit_code == 0
    assert hidden_leftovers(out) == []


@pytest.mark.parametrize("case", ["file", "foreign", "unwritable"])
def test_an_output_that_cannot_take_a_run_fails_before_the_work(tmp_path, monkeypatch, case):
    from netsim.simulation import runner

    def no_work(*args, **kwargs):
        raise AssertionError("the simulation ran before the output was checked")

    monkeypatch.setattr(runner, "run_scenario", no_work)
    out = tmp_path / "out"
    if case == "file":
        out.write_text("not a folder")
        expected = "is a file"
    elif case == "foreign":
        out.mkdir()
        (out / "thesis.tex").write_text("precious")
        expected = "not a netsim run"
    else:  # a parent that cannot hold folders: a regular file on the way (a read-only
        # place: tests/test_hostile_cli.py)
        (tmp_path / "blocker").write_text("x")
        out = tmp_path / "blocker" / "out"
        expected = "blocker is a file, not a folder"
    result = run(scenario_file(tmp_path, 0), out)
    assert result.exit_code == 2
    line = one_line(result)
    assert expected in line and str(out) in line
    if case == "foreign":
        assert (out / "thesis.tex").read_text() == "precious"


def test_a_run_folder_that_cannot_be_written_in_is_refused_before_the_work(tmp_path,
                                                                           monkeypatch):
    """An earlier run folder is probed from inside as well as beside it (an immutable
    folder, `chattr +i`, failed only after the simulation, when it was to be moved
    aside): a folder that cannot be written in is one line, exit 2, before the work,
    the earlier run untouched."""
    from netsim import io
    from netsim.simulation import runner

    out = tmp_path / "out"
    assert run(scenario_file(tmp_path, 0), out).exit_code == 0
    before = contents(out)
    real = io.probe_writable

    def immutable_out(place, name):
        if Path(place) == out.resolve():
            raise PermissionError(1, "Operation not permitted")
        real(place, name)

    def no_work(*args, **kwargs):
        raise AssertionError("the simulation ran before the output was checked")

    monkeypatch.setattr(io, "probe_writable", immutable_out)
    monkeypatch.setattr(runner, "run_scenario", no_work)
    result = run(scenario_file(tmp_path, 1), out)
    assert result.exit_code == 2
    assert one_line(result) == (f"netsim: --out {out}: cannot write in {out.resolve()}: "
                                "Operation not permitted")
    assert contents(out) == before


def test_a_probe_a_killed_command_left_in_an_empty_folder_does_not_stop_a_run(tmp_path):
    """Another command (sweep, train) probes an existing --out folder from inside; killed
    between making and removing that empty ``.NAME.probe-*`` folder, it leaves it there.
    The folder is still empty to `netsim run`, which replaces it with the run; a probe
    name that holds something, or a file beside the probe, still makes it foreign."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".out.probe-k1ll3d00").mkdir()
    assert run(scenario_file(tmp_path, 0), out).exit_code == 0
    assert (out / "records.csv").is_file() and not (out / ".out.probe-k1ll3d00").exists()
    for name, foreign in (("held", ".out.probe-notempty"), ("beside", "notes.txt")):
        other = tmp_path / name
        other.mkdir()
        (other / ".held.probe-k1ll3d00").mkdir()
        if foreign.startswith("."):
            (other / foreign).mkdir()
            (other / foreign / "data").write_text("mine")
        else:
            (other / foreign).write_text("mine")
        result = run(scenario_file(tmp_path, 0), other)
        assert result.exit_code == 2 and "not a netsim run" in one_line(result), name


def test_a_run_in_which_no_request_arrived_is_one_line_and_writes_nothing(tmp_path):
    data = deep_update(paper_dict(), {
        "slots": 2, "seeds": [0], "delay_model": "des", "schedulers": ["random"],
        "users": {"arrivals": {"model": "poisson", "rate_per_s": 0.001}}})
    out = tmp_path / "out"
    result = run(write_yaml(tmp_path / "quiet.yaml", data), out)
    assert result.exit_code == 1
    assert "no request arrived" in one_line(result)
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "sweep", "train"])
def test_one_folder_one_writer(tmp_path, command):
    """While a netsim process writes a folder, another aimed at it is refused with one
    line before it starts; once the first is gone the folder is free again."""
    import subprocess
    import sys

    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         ("import sys, time; from netsim.locks import exclusive_writer\n"
          f"with exclusive_writer({str(out)!r}, 'run'):\n"
          "    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        path = scenario_file(tmp_path, 0)
        args = {"run": ["run", str(path)], "train": ["train", str(path), "--steps", "64"],
                "sweep": ["sweep", str(path)]}[command]
        if command == "sweep":
            data = deep_update(paper_dict(), {"slots": 2, "seeds": [0], "schedulers":
                                              ["random"], "sweep": {"users.count": [2, 3]}})
            args = ["sweep", str(write_yaml(tmp_path / "sweep.yaml", data))]
        result = CliRunner().invoke(app, [*args, "--out", str(out), "--no-progress"])
        assert result.exit_code == 2
        line = one_line(result)
        assert "netsim run (pid" in line and str(out) in line
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    assert run(scenario_file(tmp_path, 0), out).exit_code == 0


@pytest.mark.parametrize("command", ["sweep", "compare", "tune", "train"])
@pytest.mark.parametrize("holding", ["notes", "run", "other command", "damaged marker",
                                     "marker is a folder"])
def test_commands_that_add_to_a_folder_refuse_a_folder_of_something_else(
        tmp_path, command, holding):
    """sweep, compare, tune and train keep what is in their folder and add to it; aimed at a
    folder of someone's notes, a run, or another command's results, each is refused
    with one line before the work, and the folder is left as it was."""
    out = tmp_path / "out"
    if holding == "notes":
        out.mkdir()
        (out / "notes.txt").write_text("mine\n")
    elif holding == "run":
        assert run(scenario_file(tmp_path, 0), out).exit_code == 0
    elif holding == "damaged marker":
        out.mkdir()
        (out / ".netsim-folder").write_bytes(b"\xff\xfe")
    elif holding == "marker is a folder":
        (out / ".netsim-folder").mkdir(parents=True)
    else:
        out.mkdir()
        (out / ".netsim-folder").write_text("sweep\n" if command != "sweep" else "tune\n")
    before = contents(out)
    data = deep_update(paper_dict(), {"slots": 2, "seeds": [0], "schedulers": ["random"],
                                      "sweep": {"rl.learning_rate": [0.001, 0.0003]},
                                      "rl": {"eval_every_steps": 64}})
    if command == "tune":  # a search space is a sweep of kind train
        data["sweep"] = {"grid": data["sweep"], "kind": "train"}
    path = write_yaml(tmp_path / "s.yaml", data)
    args = {"sweep": ["sweep", str(path), "--no-progress"],
            "compare": ["compare", str(path), "--algos", "ppo", "--seeds", "0", "--steps",
                        "64", "--no-progress"],
            "tune": ["tune", str(path), "--trials", "1", "--no-progress"],
            "train": ["train", str(path), "--steps", "64", "--no-progress"]}[command]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    line = one_line(result)
    assert str(out) in line and "choose another folder" in line
    assert contents(out) == before


def test_a_sweep_folder_takes_its_own_sweep_again(tmp_path):
    """The marker a sweep leaves lets the same command resume there (and an empty folder
    or one with hidden files only is anyone's)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".hidden").write_text("")
    data = deep_update(paper_dict(), {"slots": 2, "seeds": [0], "schedulers": ["random"],
                                      "sweep": {"users.count": [2, 3]}})
    args = ["sweep", str(write_yaml(tmp_path / "s.yaml", data)), "--out", str(out),
            "--workers", "1", "--no-progress"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (out / ".netsim-folder").read_text() == "sweep\n"
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "2 already finished" in again.output


def test_a_run_folder_gets_the_mode_the_umask_gives(tmp_path):
    """A published run folder was 0700 (tempfile.mkdtemp's staging folder, renamed into
    place), whatever the umask: teammates could not read results/NAME."""
    import os

    old = os.umask(0o022)
    try:
        out = tmp_path / "out"
        assert run(scenario_file(tmp_path, 0), out).exit_code == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize("command", ["run", "sweep", "train"])
def test_an_out_name_too_long_for_the_file_system_is_one_line(tmp_path, command):
    """A 260-byte folder name ended in a traceback (OSError: File name too long)."""
    out = tmp_path / ("a" * 260)
    data = deep_update(paper_dict(), {"slots": 2, "seeds": [0], "schedulers": ["random"]})
    if command == "sweep":
        data["sweep"] = {"users.count": [2]}
    path = write_yaml(tmp_path / "s.yaml", data)
    result = CliRunner().invoke(app, [command, str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "260 bytes long; file systems allow 255" in one_line(result)
