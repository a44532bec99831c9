"""Sweeps: the same aggregate from local processes and from Ray (local mode); a re-run
skips finished points; a point left half-done is redone; a train sweep adds the trained
agent to the schedulers; bad sweep input is one line, exit 2, nothing written; a real
`netsim sweep` killed with SIGKILL resumes to the same aggregate bytes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from netsim.cli import app
from netsim.errors import ScenarioError
from netsim.experiments.report import build_report
from netsim.experiments.sweep import DONE, run_sweep, sweep_jobs
from netsim.loading import load_scenario
from netsim.statistics import ci95_half_width
from tests.scenario_factory import one_line, scenario_of, tiny, write_yaml

AGGREGATES = ("aggregate.csv", "sweep_summary.csv")


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray instance for the module (start-up takes seconds), shut down after."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "sweep"
    outcome = run_sweep(scenario_of(tiny()), "tiny.yaml", out, "local", workers=2,
                        progress=False)
    assert not outcome.failed and len(outcome.ran) == 4 and not outcome.skipped
    return out


def test_points_are_named_by_their_values(local_sweep: Path) -> None:
    folders = sorted(p.name for p in local_sweep.iterdir() if p.is_dir())
    assert folders == [f"users.count={u},seed={s}" for u in (2, 3) for s in (0, 1)]
    table = pd.read_csv(local_sweep / "aggregate.csv")
    assert list(table.columns[:3]) == ["users.count", "scheduler", "seeds"]
    assert set(table["seeds"]) == {2}
    assert {"mean_reward", "mean_reward_ci95", "jain_index", "mean_user_reward"} <= set(table)
    # the aggregate is the mean over the seeds' summaries
    summary = pd.read_csv(local_sweep / "sweep_summary.csv")
    one = summary[(summary["users.count"] == 3) & (summary["scheduler"] == "random")]
    row = table[(table["users.count"] == 3) & (table["scheduler"] == "random")].iloc[0]
    assert row["mean_reward"] == pytest.approx(one["mean_reward"].mean())
    # two seeds: t(0.975, 1) s / sqrt(2) with s = |a - b| / sqrt(2), i.e. t |a - b| / 2
    a, b = one["mean_reward"]
    assert row["mean_reward_ci95"] == pytest.approx(12.706204736 * abs(a - b) / 2)


def test_one_seed_has_no_confidence_interval() -> None:
    """One seed's spread is unknown: the half-width is NaN (an empty cell), not 0."""
    assert np.isnan(ci95_half_width(np.array([-3.2])))
    assert ci95_half_width(np.array([1.0, 3.0])) == pytest.approx(12.706204736)


def test_ray_gives_the_same_aggregate_bytes(local_sweep: Path, ray_session,
                                            tmp_path: Path) -> None:
    outcome = run_sweep(scenario_of(tiny()), "tiny.yaml", tmp_path, "ray", progress=False)
    assert not outcome.failed and len(outcome.ran) == 4
    assert ray_session.is_initialized()  # a session it did not start is left running
    for name in AGGREGATES:
        assert (tmp_path / name).read_bytes() == (local_sweep / name).read_bytes()


def test_rerun_skips_finished_points(local_sweep: Path) -> None:
    markers = {p: p.stat().st_mtime_ns for p in local_sweep.glob(f"*/{DONE}")}
    outcome = run_sweep(scenario_of(tiny()), "tiny.yaml", local_sweep, progress=False)
    assert outcome.ran == [] and len(outcome.skipped) == 4
    assert {p: p.stat().st_mtime_ns for p in local_sweep.glob(f"*/{DONE}")} == markers


def test_point_killed_mid_run_is_redone(local_sweep: Path) -> None:
    before = {name: (local_sweep / name).read_bytes() for name in AGGREGATES}
    victim = local_sweep / "users.count=3,seed=1"
    (victim / DONE).unlink()  # as if killed after some files were written
    (victim / "summary.csv").write_text("half a fi")
    (victim / "leftover.tmp").write_text("x")
    outcome = run_sweep(scenario_of(tiny()), "tiny.yaml", local_sweep, progress=False)
    assert outcome.ran == [victim.name] and len(outcome.skipped) == 3
    assert not (victim / "leftover.tmp").exists() and (victim / DONE).is_file()
    for name, data in before.items():
        assert (local_sweep / name).read_bytes() == data


@pytest.mark.parametrize("damage", ["edited", "truncated", "deleted"])
def test_a_finished_point_with_damaged_files_is_redone(local_sweep: Path, tmp_path: Path,
                                                      damage: str) -> None:
    """done.json lists each file's SHA-256: a point whose files changed after it finished
    is not taken as finished."""
    out = tmp_path / "copy"
    shutil.copytree(local_sweep, out)
    before = {name: (out / name).read_bytes() for name in AGGREGATES}
    victim = out / "users.count=2,seed=0"
    records = victim / "records.csv"
    if damage == "edited":
        records.write_bytes(records.read_bytes().replace(b",", b";", 1))
    elif damage == "truncated":
        records.write_bytes(records.read_bytes()[:100])
    else:
        records.unlink()
    outcome = run_sweep(scenario_of(tiny()), "tiny.yaml", out, workers=1, progress=False)
    assert outcome.ran == [victim.name] and len(outcome.skipped) == 3
    for name, data in before.items():
        assert (out / name).read_bytes() == data


def test_what_killed_jobs_leave_is_removed_by_the_next_sweep(local_sweep: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(local_sweep, out)
    (out / "users.count=3,seed=0" / DONE).unlink()
    stale = out / ".work" / "netsim-point-killed"
    stale.mkdir(parents=True)
    (stale / "records.csv").write_text("half")
    outcome = run_sweep(scenario_of(tiny()), "tiny.yaml", out, workers=1, progress=False)
    assert outcome.ran == ["users.count=3,seed=0"]
    assert not (out / ".work").exists()


def test_workers_die_with_a_killed_sweep_driver(tmp_path: Path) -> None:
    """SIGKILL to the driver of a two-worker sweep: no worker process outlives it."""
    path = write_yaml(tmp_path / "slow.yaml", tiny(slots=4000, seeds=[0, 1, 2, 3]))
    out = tmp_path / "out"
    driver = subprocess.Popen(
        [sys.executable, "-m", "netsim", "sweep", str(path), "--out", str(out),
         "--no-progress", "--workers", "2"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            found = subprocess.run(["pgrep", "-f", "-P", str(driver.pid), "spawn_main"],
                                   capture_output=True, text=True, check=False)
            workers = [int(pid) for pid in found.stdout.split()]  # not the resource tracker
        assert len(workers) >= 2, "the workers never started"
        time.sleep(2.0)  # well into their points
        driver.kill()
        driver.wait()
        deadline = time.monotonic() + 10
        alive = workers
        while alive and time.monotonic() < deadline:
            time.sleep(0.2)
            alive = [pid for pid in workers if _alive(pid)]
        assert alive == []
    finally:
        if _alive(driver.pid):
            os.killpg(driver.pid, signal.SIGKILL)


def _dying_job(job: str, work_root: str | None) -> dict[str, bytes]:
    """A sweep job for map_local: 'dies' kills its worker; the others return their name."""
    if job == "dies":
        os.kill(os.getpid(), signal.SIGKILL)
    return {"name": job.encode()}


def test_a_point_whose_worker_dies_each_time_fails_alone() -> None:
    """A point whose worker dies every time (the OOM killer) broke the pool, and every
    point still waiting failed with it; now the others run again in a fresh pool and
    only that point fails, with one line saying so (after it ran alone)."""
    from netsim.experiments.sweep import map_local

    jobs = ["a", "dies", "b"]
    results: dict[str, list] = {job: [] for job in jobs}
    map_local(jobs, 2, lambda job, files, error: results[job].append((files, error)),
              execute=_dying_job)
    assert results["a"] == [({"name": b"a"}, None)] and results["b"] == [({"name": b"b"}, None)]
    [(files, error)] = results["dies"]
    assert files is None and "worker process running this point died" in str(error)


def test_a_sweep_whose_worker_is_killed_ends_with_every_point(local_sweep: Path,
                                                              tmp_path: Path) -> None:
    """SIGKILL to a worker of a real two-worker `netsim sweep` (here as it starts): the
    points its pool had not finished run again in a fresh pool, and the sweep ends as an
    uninterrupted one, byte for byte, instead of failing every point still waiting."""
    path = write_yaml(tmp_path / "tiny.yaml", tiny())
    out = tmp_path / "out"
    driver = subprocess.Popen(
        [sys.executable, "-m", "netsim", "sweep", str(path), "--out", str(out),
         "--no-progress", "--workers", "2"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while not workers and time.monotonic() < deadline:
            time.sleep(0.05)
            found = subprocess.run(["pgrep", "-f", "-P", str(driver.pid), "spawn_main"],
                                   capture_output=True, text=True, check=False)
            workers = [int(pid) for pid in found.stdout.split()]  # not the resource tracker
        assert workers, "no worker started"
        os.kill(workers[0], signal.SIGKILL)  # before it could finish a point
        stdout, stderr = driver.communicate(timeout=180)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert driver.returncode == 0, stderr
    assert "4 points x seeds: 4 run, 0 already finished, 0 failed" in stdout
    for name in AGGREGATES:
        assert (out / name).read_bytes() == (local_sweep / name).read_bytes()


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    from netsim.locks import process_alive

    return process_alive(pid)


@pytest.mark.parametrize("failing_write", [1, 2, 6, 8, 14, 20, 22, 23, 24, 25])
def test_a_failed_file_write_at_any_point_of_a_sweep_resumes_to_the_same_aggregates(
        local_sweep: Path, tmp_path: Path, failing_nth_call, failing_write: int) -> None:
    """Every file a sweep writes goes through one atomic write (25 for this sweep: the
    folder's marker, each point's records, scenario.yaml, summary, timing and
    done.json, then the 3 aggregates and scenario.yaml; the failures above hit each
    kind). Failing the N-th one (a full disk) and running the command again gives the
    aggregates of an uninterrupted sweep, byte for byte."""
    import netsim.io

    out = tmp_path / "sweep"
    with failing_nth_call(netsim.io.os, "replace", failing_write):
        try:
            first = run_sweep(scenario_of(tiny()), "tiny.yaml", out, workers=1, progress=False)
        except OSError:
            first = None
    assert first is None or first.failed  # the fault was seen
    again = run_sweep(scenario_of(tiny()), "tiny.yaml", out, workers=1, progress=False)
    assert not again.failed
    for name in AGGREGATES:
        assert (out / name).read_bytes() == (local_sweep / name).read_bytes()


def test_changed_scenario_reruns_its_points(local_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(local_sweep, out)
    changed = scenario_of(tiny(slots=4))
    outcome = run_sweep(changed, "tiny.yaml", out, workers=1, progress=False)
    assert len(outcome.ran) == 4  # the fingerprints differ from the finished points'


def test_an_edited_profile_file_reruns_the_points_that_read_it(tmp_path: Path) -> None:
    """A point's fingerprint holds its profile CSV's bytes, not only its path: finished
    points are redone after the file changes (they kept the old profile's results)."""
    from netsim.model.taskloss import DEFAULT_PROFILE_PATH

    profile = tmp_path / "profile.csv"
    shutil.copyfile(DEFAULT_PROFILE_PATH, profile)
    data = tiny(seeds=[0], profile=str(profile))
    first = run_sweep(scenario_of(data), "tiny.yaml", tmp_path / "out", workers=1,
                      progress=False)
    again = run_sweep(scenario_of(data), "tiny.yaml", tmp_path / "out", workers=1,
                      progress=False)
    assert len(first.ran) == 2 and len(again.skipped) == 2
    table = pd.read_csv(profile)
    table["cross_entropy"] *= 1.5
    table.to_csv(profile, index=False)
    edited = run_sweep(scenario_of(data), "tiny.yaml", tmp_path / "out", workers=1,
                       progress=False)
    assert len(edited.ran) == 2 and not edited.skipped


def test_a_seed_without_requests_is_passed_over_as_netsim_run_does(tmp_path: Path) -> None:
    """A point's seed in which nobody asks no longer fails the sweep (on every rerun): it
    is kept as such and left out of the aggregates, as netsim run leaves such a seed out
    of its summary; with nobody asking anywhere, one line and exit 1, as netsim run."""
    data = tiny(seeds=list(range(8)), slots=1,
                users={"arrivals": {"model": "bernoulli", "probability": 0.25}},
                sweep={"users.count": [1]})
    outcome = run_sweep(scenario_of(data), "tiny.yaml", tmp_path / "out", workers=1,
                        progress=False)
    assert not outcome.failed and 0 < len(outcome.without_requests) < 8
    aggregate = pd.read_csv(tmp_path / "out" / "aggregate.csv")
    assert (aggregate["seeds"] == 8 - len(outcome.without_requests)).all()
    quiet = write_yaml(tmp_path / "quiet.yaml", {**data, "seeds": [
        int(folder.split("seed=")[1]) for folder in outcome.without_requests]})
    result = CliRunner().invoke(app, ["sweep", str(quiet), "--out", str(tmp_path / "q"),
                                      "--no-progress", "--workers", "1"])
    assert result.exit_code == 1
    assert "no request arrived in any point's seed" in one_line(result)


def test_a_point_whose_values_make_a_long_name_gets_a_short_folder(tmp_path: Path) -> None:
    """A swept per-user list of 40 values names a folder of over 255 bytes, which the
    file system refuses (the sweep died with a traceback): the name is cut and ends with
    a hash of the whole and the seed; done.json and the aggregate keep the values."""
    penalties = [5.0 + 0.25 * k for k in range(40)]
    data = tiny(seeds=[0], slots=1, sweep={"points": [
        {"users.count": 40, "cell.n_rbs": 40, "users.drop_penalty": penalties},
        {"users.count": 40, "cell.n_rbs": 40, "users.drop_penalty": penalties[::-1]}]})
    outcome = run_sweep(scenario_of(data), "tiny.yaml", tmp_path, workers=1, progress=False)
    assert not outcome.failed, outcome.failed
    folders = [job.folder for job in outcome.jobs]
    assert len(set(folders)) == 2
    assert all(len(f.encode()) == 255 and f.endswith(",seed=0") and "~" in f for f in folders)
    marker = json.loads((tmp_path / folders[1] / DONE).read_text())
    assert marker["values"]["users.drop_penalty"] == penalties[::-1]
    assert len(pd.read_csv(tmp_path / "aggregate.csv")["users.drop_penalty"].unique()) == 2


def test_grid_and_points_combine() -> None:
    data = tiny(sweep={"points": [{"reward.lambda_delay": 1.0, "reward.lambda_energy": 1.0},
                                  {"reward.lambda_delay": 5.0, "reward.lambda_energy": 5.0}],
                       "grid": {"users.count": [2, 3]}})
    jobs = sweep_jobs(scenario_of(data), "tiny.yaml")
    assert [j.folder for j in jobs[:2]] == [
        "reward.lambda_delay=1.0,reward.lambda_energy=1.0,users.count=2,seed=0",
        "reward.lambda_delay=1.0,reward.lambda_energy=1.0,users.count=2,seed=1",
    ]
    assert len(jobs) == 8
    assert jobs[-1].data["reward"] == {"lambda_delay": 5.0, "lambda_energy": 5.0,
                                       "lambda_leakage": 100.0}


def test_train_sweep_adds_the_trained_agent(tmp_path: Path) -> None:
    rl = {"total_steps": 128, "n_steps": 64, "batch_size": 32, "n_epochs": 1,
          "net_arch": [16], "eval_every_steps": 64, "eval_seeds": [10_000], "eval_slots": 2}
    data = tiny(seeds=[0], rl=rl, sweep={"grid": {"users.count": [2]}, "kind": "train"})
    outcome = run_sweep(scenario_of(data), "tiny.yaml", tmp_path, progress=False)
    assert not outcome.failed, outcome.failed
    point = tmp_path / "users.count=2,seed=0"
    assert (point / "train" / "model.zip").is_file()
    assert not (point / "train" / "checkpoints").exists()
    assert "ppo" in set(pd.read_csv(tmp_path / "aggregate.csv")["scheduler"])
    timing = pd.read_csv(tmp_path / "sweep_timing.csv")
    assert timing.loc[timing["scheduler"] == "train:ppo", "train_wall_s"].iloc[0] > 0
    assert json.loads((point / DONE).read_text())["values"] == {"users.count": 2, "seed": 0}


def test_a_training_sweep_that_learns_nothing_says_so_once(tmp_path: Path) -> None:
    """Points whose budget trains nothing warned once per worker, in Python's two-line
    format (and not at all from Ray's workers in quiet mode); the driver now says it
    once, for every point that shares it, before any work."""
    import warnings

    from netsim.verbosity import NetsimWarning

    rl = {"total_steps": 32, "learning_starts": 64, "net_arch": [8], "batch_size": 16,
          "eval_every_steps": 32, "eval_seeds": [10_000], "eval_slots": 1}
    data = tiny(seeds=[0], rl=rl,
                sweep={"grid": {"users.count": [2, 3]}, "kind": "train", "algo": "dqn"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = run_sweep(scenario_of(data), "tiny.yaml", tmp_path, workers=1,
                            progress=False)
    assert not outcome.failed, outcome.failed
    ours = [str(w.message) for w in caught if issubclass(w.category, NetsimWarning)]
    assert len(ours) == 1, ours
    assert ours[0].startswith("2 points (users.count=2,seed=0, ...): dqn: 32 steps train "
                              "nothing"), ours


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ({"users.cont": [2]}, "tiny.yaml: sweep.users.cont: no such key in the scenario"),
        ({"users.count": [0]}, "tiny.yaml: sweep (users.count=0): users.count: Input should be "
                               "greater than or equal to 1 (got 0)"),
        ({"grid": {"users.count": [2]}, "kind": "train", "algo": "ppx"},
         "tiny.yaml: sweep.algo: unknown algorithm 'ppx' (known: ppo, dqn, sac)"),
        ({"grid": {"seeds": [[4, 2**32]]}, "kind": "train"},
         ("tiny.yaml: seeds: 4294967296: a training seed is from 0 to 2**32 - 1 "
          "(stable-baselines3 seeds numpy's legacy generator with it)")),
        ({"grid": {"users.count": []}}, "tiny.yaml: sweep.grid.users.count: List should have "
                                        "at least 1 item after validation, not 0 (got [])"),
        # the section's value replaced the whole section: both points ran with 3 RBs,
        # labelled 2 and 8
        ({"grid": {"cell.n_rbs": [2, 8], "cell": [{"radius_m": 300}]}},
         ("tiny.yaml: sweep.grid.cell.n_rbs: also set by 'cell', whose value replaces the "
          "whole section: put 'n_rbs' in that value, or drop one of the keys")),
        ({"points": [{"cell.fading.per": "user_rb"}], "grid": {"cell.fading": [{}]}},
         ("tiny.yaml: sweep.points[0].cell.fading.per: also set by 'cell.fading', whose "
          "value replaces the whole section: put 'per' in that value, or drop one of the keys")),
    ],
)
def test_bad_sweep_is_one_line_exit_2_nothing_written(tmp_path: Path, sweep: dict,
                                                      expected: str) -> None:
    path = write_yaml(tmp_path / "tiny.yaml", tiny(sweep=sweep))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 2
    assert one_line(result) == f"netsim: {path.parent}/{expected}"
    assert not out.exists()
    with pytest.raises(ScenarioError):
        sweep_jobs(scenario_of(tiny(sweep=sweep)), "tiny.yaml")


def test_sweep_command_runs_and_resumes(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "tiny.yaml", tiny(seeds=[0], sweep={"users.count": [2]}))
    args = ["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress", "--workers", "1"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "1 run, 0 already finished" in first.output
    again = CliRunner().invoke(app, args)
    assert "0 run, 1 already finished" in again.output
    assert CliRunner().invoke(app, ["sweep", "--help"]).exit_code == 0


def test_profile_sweep_measures_then_runs(tmp_path: Path) -> None:
    pytest.importorskip("netsim.semantic.cli")
    options = {"encoders": ["ViT-B-32"], "pretrained": "none", "samples": 6, "image_size": 32,
               "snr": "-10:20:15"}
    data = tiny(seeds=[0], encoders=["ViT-B-32"],
                schedulers=[{"type": "hungarian", "information": "statistical"}],
                sweep={"kind": "profile", "options": options,
                       "grid": {"options.mode": ["analog"]}})
    outcome = run_sweep(scenario_of(data), "tiny.yaml", tmp_path, progress=False)
    assert not outcome.failed, outcome.failed
    point = tmp_path / "options.mode=analog,seed=0"
    assert (point / "profile.csv").is_file()
    assert "profile: profile.csv" in (point / "scenario.yaml").read_text()
    table = pd.read_csv(tmp_path / "profile_aggregate.csv")
    assert list(table.columns[:4]) == ["options.mode", "encoder", "snr_db", "seeds"]
    assert list(table["snr_db"]) == [-10, 5, 20]
    assert "Measured profiles" in build_report(tmp_path)
    bad = tiny(sweep={"kind": "profile", "grid": {"options.colour": ["red"]}})
    with pytest.raises(ScenarioError, match="sweep.options.colour: not an option of netsim"):
        sweep_jobs(scenario_of(bad), "tiny.yaml")


def test_sweep_killed_with_sigkill_resumes_to_the_same_aggregates(tmp_path: Path) -> None:
    """A real `netsim sweep` (its own session, so the kill reaches any worker) is killed
    with SIGKILL once a point is finished and another is not: nothing unfinished looks
    finished, no aggregate is written; the same command then redoes only the unfinished
    points and ends with the aggregates of an uninterrupted run, byte for byte."""
    path = write_yaml(tmp_path / "tiny.yaml", tiny(slots=2000))  # about 1 s per point
    folders = [job.folder for job in sweep_jobs(load_scenario(path), str(path))]
    assert len(folders) == 4
    reference = tmp_path / "reference"
    uninterrupted = CliRunner().invoke(app, ["sweep", str(path), "--out", str(reference),
                                             "--no-progress", "--workers", "1"])
    assert uninterrupted.exit_code == 0, uninterrupted.output

    out = tmp_path / "out"
    command = [sys.executable, "-m", "netsim", "sweep", str(path), "--out", str(out),
               "--no-progress", "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not any((out / f / DONE).is_file() for f in folders):
            assert process.poll() is None, (
                f"the sweep ended before a point was finished: "
                f"{process.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "no point finished within 60 s"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    finished = [f for f in folders if (out / f / DONE).is_file()]
    unfinished = [f for f in folders if f not in finished]
    assert finished and unfinished, f"killed too late to leave a point unfinished: {finished}"
    assert not any((out / name).exists()
                   for name in (*AGGREGATES, "sweep_timing.csv", "scenario.yaml"))
    for folder in finished:  # a point marked done holds the uninterrupted run's files
        for name in ("records.csv", "summary.csv", "scenario.yaml"):
            assert (out / folder / name).read_bytes() == (reference / folder / name).read_bytes()
    markers = {f: (out / f / DONE).stat().st_mtime_ns for f in finished}

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=120,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert (f"4 points x seeds: {len(unfinished)} run, {len(finished)} already finished, "
            "0 failed") in resumed.stdout
    assert {f: (out / f / DONE).stat().st_mtime_ns for f in finished} == markers
    assert all((out / f / DONE).is_file() for f in unfinished)
    for name in AGGREGATES:
        assert (out / name).read_bytes() == (reference / name).read_bytes()
