"""Writing a run's results: CSV files with stable bytes, each written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from netsim.io import atomic_write_text
from netsim.runner import RunResult
from netsim.scenario import Scenario, resolved_yaml

FLOAT_FORMAT = "%.10g"


def csv_text(frame: pd.DataFrame) -> str:
    """A DataFrame as CSV text: fixed float format, '\\n' line ends, no index."""
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_run(out_dir: Path, scenario: Scenario, result: RunResult) -> None:
    """records.csv, summary.csv, timing.csv (wall-clock, so not reproducible) and the
    resolved scenario.yaml. Every other file is byte-identical for the same inputs."""
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "records.csv", csv_text(result.records))
    atomic_write_text(out_dir / "summary.csv", csv_text(result.summary))
    atomic_write_text(out_dir / "timing.csv", csv_text(result.timing))
    atomic_write_text(out_dir / "scenario.yaml", resolved_yaml(scenario))


def format_summary(summary: pd.DataFrame) -> str:
    """The headline columns of a summary as an aligned text table."""
    columns = {
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
