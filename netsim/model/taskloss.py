"""Task-loss profiles: (encoder, SNR in dB) -> accuracy, cross-entropy, CLIP image-to-image
similarity, read from a CSV table and interpolated linearly in SNR (DESIGN §4).

Columns: encoder, snr_db, accuracy, cross_entropy, clip_i2i_similarity, provenance.
Outside the table's SNR range the nearest row's values hold.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from netsim.errors import ScenarioError

if TYPE_CHECKING:
    from netsim.scenario import Scenario

DEFAULT_PROFILE_PATH = Path(__file__).parent / "data" / "default_profile.csv"
COLUMNS = ("encoder", "snr_db", "accuracy", "cross_entropy", "clip_i2i_similarity", "provenance")
METRICS = ("accuracy", "cross_entropy", "clip_i2i_similarity")
_BOUNDS = {"accuracy": (0.0, 1.0), "cross_entropy": (0.0, math.inf), "clip_i2i_similarity": (-1.0, 1.0),
           "snr_db": (-300.0, 300.0)}
"""Allowed values per column. SNRs beyond +-300 dB are not physical, and the expected
-value tables span the profile's SNR axis at a fixed step: a wider axis would make them
huge (netsim.model.cost)."""


@dataclass(frozen=True)
class TaskProfile:
    """A task-performance table per encoder, sorted by SNR."""

    snr_db: dict[str, np.ndarray]
    values: dict[str, dict[str, np.ndarray]]
    """values[metric][encoder] -> array aligned with snr_db[encoder]."""
    provenance: dict[str, str]
    source: str

    @property
    def encoders(self) -> tuple[str, ...]:
        return tuple(self.snr_db)

    def lookup(self, metric: str, encoders: list[str], snr_db: np.ndarray) -> np.ndarray:
        """metric at snr_db (..., users, rbs) for each encoder -> (..., users, encoders, rbs)."""
        snr_db = np.asarray(snr_db, dtype=float)
        out = np.empty(snr_db.shape[:-1] + (len(encoders),) + snr_db.shape[-1:])
        for m, name in enumerate(encoders):
            out[..., m, :] = np.interp(snr_db, self.snr_db[name], self.values[metric][name])
        return out


def task_loss_metric(task_kind: str) -> str:
    """The profile column a task's loss comes from."""
    return "cross_entropy" if task_kind == "classify" else "clip_i2i_similarity"


def task_loss(profile: TaskProfile, task_kind: str, encoders: list[str], snr_db: np.ndarray):
    """Task loss of the objective (paper eq. 10): cross-entropy for classification,
    1 - CLIP image-to-image similarity for regeneration; (..., users, encoders, rbs)."""
    values = profile.lookup(task_loss_metric(task_kind), encoders, snr_db)
    return values if task_kind == "classify" else 1.0 - values


def load_profile(path: str | Path) -> TaskProfile:
    """Read and check a profile CSV; ScenarioError (file, row/column, problem) if malformed."""
    path = Path(path)
    source = str(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ScenarioError(source, missing[0], "required column is missing")
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(source, "", f"cannot read profile ({error})") from None
    if not rows:
        raise ScenarioError(source, "", "the profile has no rows")

    table: dict[str, list[tuple[float, ...]]] = {}
    provenance: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        numbers = []
        for column in ("snr_db", *METRICS):
            try:
                value = float(row[column])
            except (TypeError, ValueError):
                raise ScenarioError(
                    source, f"line {line}: {column}", f"not a number ({row[column]!r})"
                ) from None
            low, high = _BOUNDS.get(column, (-math.inf, math.inf))
            if math.isnan(value) or not low <= value <= high or math.isinf(value):
                raise ScenarioError(source, f"line {line}: {column}", f"out of range ({value})")
            numbers.append(value)
        encoder = row["encoder"]
        table.setdefault(encoder, []).append(tuple(numbers))
        provenance.setdefault(encoder, row["provenance"])

    snr: dict[str, np.ndarray] = {}
    values: dict[str, dict[str, np.ndarray]] = {m: {} for m in METRICS}
    for encoder, entries in table.items():
        data = np.array(sorted(entries))
        if len(np.unique(data[:, 0])) != len(data):
            raise ScenarioError(source, "snr_db", f"encoder {encoder} repeats an SNR value")
        snr[encoder] = data[:, 0]
        for i, metric in enumerate(METRICS, start=1):
            values[metric][encoder] = data[:, i]
    return TaskProfile(snr, values, provenance, source)


def resolve_profile_path(scenario: Scenario) -> Path:
    """Where the task-loss profile CSV of a scenario lies."""
    if scenario.profile == "default":
        return DEFAULT_PROFILE_PATH
    path = Path(scenario.profile)
    if not path.is_absolute() and scenario.source_dir is not None:
        path = scenario.source_dir / path
    return path


def portable_profile(scenario: Scenario) -> str:
    """The ``profile`` value to write into a scenario file that lies elsewhere than the
    scenario's own: ``default``, or the profile's absolute path."""
    if scenario.profile == "default":
        return "default"
    return str(resolve_profile_path(scenario).resolve())
