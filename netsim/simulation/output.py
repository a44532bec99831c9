"""Writing a run's results: CSV files with stable bytes, each written atomically, and a
run folder published all or nothing."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import pandas as pd

from netsim.io import (
    atomic_write_bytes,
    is_leftover_probe,
    remove_tree,
    target_problem,
    write_problem,
)
from netsim.model.taskloss import resolve_profile_path
from netsim.scenario import Scenario, resolved_yaml
from netsim.simulation.runner import RunResult
from netsim.table_files import FLOAT_FORMAT, csv_text, has_table, table_bytes

__all__ = ["FLOAT_FORMAT", "csv_text"]  # kept here for the modules that import them
PROFILE_COPY = "profile.csv"
RUN_TABLES = ("records", "summary", "timing")


def resolved_scenario_text(scenario: Scenario) -> str:
    """The text of the scenario.yaml :func:`write_resolved_scenario` writes, model paths
    as the scenario gives them (the text that identifies a training or a study)."""
    if scenario.profile != "default":
        scenario = scenario.model_copy(update={"profile": PROFILE_COPY})
    return resolved_yaml(scenario)


def with_model_paths_for(scenario: Scenario, folder: Path | None) -> Scenario:
    """The scenario with each scheduler's relative ``model_path`` (read from the
    scenario's own folder, or the working directory) written for a scenario.yaml in
    ``folder``: relative to it where the model lies inside it (a training sweep's
    point), else absolute; so the written file loads and runs again where it lies
    (``folder`` None: a folder not known yet, as a sweep point's)."""
    inside = None if folder is None else Path(os.path.realpath(folder))
    entries, changed = [], False
    for entry in scenario.schedulers:
        given = entry.params.get("model_path")
        if isinstance(given, str) and given and not Path(given).is_absolute():
            path = _model_file(scenario, given)
            written = (path.relative_to(inside).as_posix()
                       if inside is not None and path.is_relative_to(inside) else str(path))
            if written != given:
                entry = type(entry).model_validate({**entry.model_dump(), "model_path": written})
                changed = True
        entries.append(entry)
    return scenario.model_copy(update={"schedulers": entries}) if changed else scenario


def resolved_scenario_files(scenario: Scenario, folder: Path | None = None
                            ) -> dict[str, bytes]:
    """scenario.yaml, self-contained: a profile other than the default is copied beside
    it as profile.csv, so the folder re-runs from anywhere, and a trained agent's
    ``model_path`` is written to load from ``folder``, where the file goes
    (:func:`with_model_paths_for`) (name -> bytes, in the order they are written)."""
    files = {}
    if scenario.profile != "default":
        files[PROFILE_COPY] = resolve_profile_path(scenario).read_bytes()
    files["scenario.yaml"] = scenario_file_text(scenario, folder).encode("utf-8")
    return files


def scenario_file_text(scenario: Scenario, folder: Path | None) -> str:
    """The text of the scenario.yaml written into ``folder`` (:func:`resolved_scenario_text`
    with the model paths :func:`with_model_paths_for` writes there)."""
    return resolved_scenario_text(with_model_paths_for(scenario, folder))


def models_inside(scenario: Scenario, folder: Path) -> list[str]:
    """The trained agents (model paths as the scenario gives them) that lie inside
    ``folder``: a run that replaces the folder whole would delete them."""
    inside = Path(os.path.realpath(folder))
    return [given for entry in scenario.schedulers
            if isinstance(given := entry.params.get("model_path"), str) and given
            and _model_file(scenario, given).is_relative_to(inside)]


def _model_file(scenario: Scenario, given: str) -> Path:
    """The file a scheduler's ``model_path`` names, as the loader opens it: read from the
    scenario's folder (or the working directory), links followed ("link/../x" is not
    "x")."""
    return Path(os.path.realpath(Path(scenario.source_dir or ".") / given))


def write_resolved_scenario(out_dir: Path, scenario: Scenario) -> None:
    """Write :func:`resolved_scenario_files` into ``out_dir``, each file atomically."""
    for name, data in resolved_scenario_files(scenario, out_dir).items():
        atomic_write_bytes(Path(out_dir) / name, data)


def run_files(scenario: Scenario, result: RunResult, table_format: str = "csv",
              folder: Path | None = None) -> dict[str, bytes]:
    """A run's files, name -> bytes, in the order :func:`write_run` writes them: records,
    summary and timing (wall-clock, so not reproducible) as .csv or .parquet
    (:mod:`netsim.table_files`), then :func:`resolved_scenario_files` for ``folder``,
    where they go. Every file but timing is byte-identical for the same inputs. (A
    sweep's job returns them to the driver as they are: no scratch copy on disk.)"""
    files = {f"{name}.{table_format}": table_bytes(getattr(result, name), table_format)
             for name in RUN_TABLES}
    return files | resolved_scenario_files(scenario, folder)


def write_run(out_dir: Path, scenario: Scenario, result: RunResult,
              table_format: str = "csv", folder: Path | None = None) -> None:
    """Write :func:`run_files` into ``out_dir``, each file atomically; ``folder``: where
    they will lie in the end, if not there (a publish's staging folder)."""
    for name, data in run_files(scenario, result, table_format,
                                out_dir if folder is None else folder).items():
        atomic_write_bytes(Path(out_dir) / name, data)


RUN_FILES = ("records.csv", "summary.csv", "timing.csv", "scenario.yaml")
"""What ``netsim run`` writes (``--format parquet``: the three tables as .parquet); a
folder holding scenario.yaml and records is a run folder, which a new run into the same
place replaces whole."""


class OutputError(Exception):
    """The output folder cannot take a run; ``str(error)`` is one line."""


def _is_run_folder(path: Path) -> bool:
    return (path / "scenario.yaml").is_file() and has_table(path, "records")


def check_output_folder(out_dir: Path, scenario: Scenario | None = None) -> None:
    """Before any work: raise OutputError unless ``out_dir`` can take a run. It must be
    absent, empty (empty probe folders a killed command left aside), or an earlier run
    folder (which the run will replace whole, plots and reports included) that holds no
    agent ``scenario`` runs (a training sweep's point holds its own); its parent must
    exist or be creatable, and it and an existing folder writable (tried by making and
    removing a folder in each, links followed, so read-only mounts, permissions and an
    immutable folder count)."""
    out_dir = Path(out_dir)
    problem = target_problem(out_dir, folder=True)
    if problem is not None:
        raise OutputError(f"--out {out_dir}: {problem}")
    inside = [] if scenario is None or not out_dir.is_dir() else models_inside(scenario, out_dir)
    if inside:
        raise OutputError(f"--out {out_dir}: holds {inside[0]}, an agent this scenario runs, "
                          "which the run would delete with the folder it replaces; choose "
                          "another folder")
    if (out_dir.is_dir() and not _is_run_folder(out_dir)
            and any(not is_leftover_probe(entry) for entry in out_dir.iterdir())):
        raise OutputError(f"--out {out_dir}: holds files that are not a netsim run "
                          "(no scenario.yaml and records.csv or .parquet); choose another folder")
    parent = out_dir.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"--out {out_dir}: cannot write in {parent}: "
                          f"{error.strerror or error}") from None
    problem = write_problem(out_dir, folder=True)  # beside it, and in it if it exists
    if problem is not None:
        raise OutputError(f"--out {out_dir}: {problem}")


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new folder ``parent/PREFIX<random hex>`` with the mode any folder gets under
    the user's umask (``tempfile.mkdtemp`` makes it 0700, and the published run folder
    would keep that, unreadable to the rest of a team on a shared file system)."""
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


def publish_run(out_dir: Path, scenario: Scenario, result: RunResult,
                table_format: str = "csv") -> None:
    """Write a run folder all or nothing: the files go into a hidden folder beside
    ``out_dir`` (:func:`write_run`), which then takes its place by renames; an earlier
    run there is moved aside first and removed once the new one is in place, or moved
    back if the move fails. A reader sees the old run, the new one, or for an instant no
    folder — never files of two runs. Leftovers of a publish killed midway (hidden
    ``.NAME.new-*`` and ``.NAME.old-*`` folders) are removed by the next one. An
    ``out_dir`` that is a symbolic link is published where it points (the link stays)."""
    out_dir = Path(out_dir).absolute()
    if out_dir.is_symlink():  # not the link replaced by a folder, the run left behind it
        out_dir = out_dir.resolve()
    parent, name = out_dir.parent, out_dir.name
    parent.mkdir(parents=True, exist_ok=True)
    for stale in [*parent.glob(f".{name}.new-*"), *parent.glob(f".{name}.old-*")]:
        remove_tree(stale)
    staging = _new_folder(parent, f".{name}.new-")
    aside = None
    try:
        write_run(staging, scenario, result, table_format, folder=out_dir)
        if out_dir.exists():
            aside = parent / f".{name}.old-{secrets.token_hex(4)}"  # stale ones went above
            os.rename(out_dir, aside)
        try:
            os.rename(staging, out_dir)
        except BaseException:
            if aside is not None:
                os.rename(aside, out_dir)
                aside = None
            raise
    except BaseException:
        remove_tree(staging)
        raise
    if aside is not None:
        remove_tree(aside)


POINT_FOLDER_BYTES = 255
"""Longest point folder name, in UTF-8 bytes (what file systems allow in one name)."""


def point_folder(values: dict[str, Any]) -> str:
    """Folder name of one sweep point, e.g. 'users.count=8,seed=0' (a '/' in a value
    becomes '_'); a name longer than POINT_FOLDER_BYTES (a swept list of per-user values)
    is cut, and ends with '~' and 16 hex digits of its SHA-256, then its seed. The
    point's values themselves are in its done.json."""
    name = ",".join(f"{key}={value}".replace("/", "_") for key, value in values.items())
    encoded = name.encode()
    if len(encoded) <= POINT_FOLDER_BYTES:
        return name
    tail = f"~{hashlib.sha256(encoded).hexdigest()[:16]}"
    if "seed" in values:
        tail += f",seed={values['seed']}"
    head = encoded[:POINT_FOLDER_BYTES - len(tail.encode())].decode(errors="ignore")
    return head + tail


def format_summary(summary: pd.DataFrame, extra: list[str] | None = None) -> str:
    """The headline columns of a summary as an aligned text table."""
    columns = {key: key for key in extra or []}
    columns |= {
        "scheduler": "scheduler",
        "mean_reward": "reward",
        "mean_task_loss": "loss",
        "accuracy": "accuracy",
        "delay_violation_rate": "delay viol",
        "energy_violation_rate": "energy viol",
        "gap_to_oracle_pct": "gap oracle %",
        "gap_to_statistical_pct": "gap stat %",
    }
    table = summary[list(columns)].rename(columns=columns)
    return table.to_string(index=False, float_format=lambda x: f"{x:.3f}")
