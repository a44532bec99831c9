"""Statistics shared by runs, sweeps and RL comparisons: intervals over seeds and
fairness."""

from __future__ import annotations

import numpy as np
from scipy import stats


def ci95_half_width(values: np.ndarray) -> float:
    """Half-width of the 95 % Student-t interval of the mean over seeds; NaN (an empty
    CSV cell) for one seed, whose spread is unknown, not zero."""
    if len(values) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values)))


def jain_index(values: np.ndarray) -> float:
    """Jain's fairness index (sum x)^2 / (n sum x^2) of non-negative values: 1 when all
    are equal, 1/n when one has everything; NaN when all are 0."""
    squares = float(np.sum(values**2))
    return float(np.sum(values) ** 2 / (len(values) * squares)) if squares > 0 else float("nan")
