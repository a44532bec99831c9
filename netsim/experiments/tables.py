"""Reading result tables: which columns of an aggregate are the swept keys."""

from __future__ import annotations

import pandas as pd

PROFILE_ROWS = ("encoder", "snr_db")
"""The row keys of a profile sweep's tables (a task-loss profile's rows)."""


def sweep_keys(table: pd.DataFrame) -> list[str]:
    """The swept keys of an aggregate or sweep summary: the columns before 'scheduler'
    (a profile aggregate: 'encoder'), 'seed' left out."""
    columns = list(table.columns)
    first = columns.index("scheduler" if "scheduler" in columns else PROFILE_ROWS[0])
    return [c for c in columns[:first] if c != "seed"]
