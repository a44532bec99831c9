"""Writing a run's results: CSV files with stable bytes, each written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from netsim.io import atomic_write_bytes, atomic_write_text
from netsim.scenario import Scenario, resolve_profile_path, resolved_yaml
from netsim.simulation.runner import RunResult

FLOAT_FORMAT = "%.10g"
PROFILE_COPY = "profile.csv"


def csv_text(frame: pd.DataFrame) -> str:
    """A DataFrame as CSV text: fixed float format, '\\n' line ends, no index."""
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_resolved_scenario(out_dir: Path, scenario: Scenario) -> None:
    """scenario.yaml, self-contained: a profile other than the default is copied beside
    it as profile.csv, so the folder re-runs from anywhere."""
    if scenario.profile != "default":
        source = resolve_profile_path(scenario)
        atomic_write_bytes(out_dir / PROFILE_COPY, source.read_bytes())
        scenario = scenario.model_copy(update={"profile": PROFILE_COPY})
    atomic_write_text(out_dir / "scenario.yaml", resolved_yaml(scenario))


def write_run(out_dir: Path, scenario: Scenario, result: RunResult) -> None:
    """records.csv, summary.csv, timing.csv (wall-clock, so not reproducible) and the
    resolved scenario.yaml. Every other file is byte-identical for the same inputs."""
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "records.csv", csv_text(result.records))
    atomic_write_text(out_dir / "summary.csv", csv_text(result.summary))
    atomic_write_text(out_dir / "timing.csv", csv_text(result.timing))
    write_resolved_scenario(out_dir, scenario)


def point_folder(values: dict[str, Any]) -> str:
    """Folder name of one sweep point, e.g. 'users.count=8,seed=0' (a '/' in a value
    becomes '_')."""
    return ",".join(f"{key}={value}".replace("/", "_") for key, value in values.items())


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
