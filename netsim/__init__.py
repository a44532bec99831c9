"""netsim: a discrete-event simulator of CLIP semantic communication over OFDMA.

The system model follows Yang et al., "Contrastive Language-Image Pre-Training Model
based Semantic Communication Performance Optimization" (arXiv 2507.08873).

The Python API is :mod:`netsim.api` — ``load_scenario``, ``run``, ``train``, ``sweep``,
results as pandas DataFrames — and its names are importable from ``netsim`` itself
(loaded on first use, so that ``import netsim`` and the command line start fast).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = {"RunResults": "netsim.api", "SweepResults": "netsim.api",
        "TrainingResults": "netsim.api", "load_agent": "netsim.api",
        "load_scenario": "netsim.api", "run": "netsim.api",
        "sweep": "netsim.api", "train": "netsim.api", "ScenarioError": "netsim.errors"}
__all__ = ["RunResults", "ScenarioError", "SweepResults", "TrainingResults", "__version__",
           "load_agent", "load_scenario", "run", "sweep", "train"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from netsim.api import (
        RunResults,
        SweepResults,
        TrainingResults,
        load_agent,
        load_scenario,
        run,
        sweep,
        train,
    )
    from netsim.errors import ScenarioError


def __getattr__(name: str) -> Any:
    """The API's names, imported when first asked for (PEP 562)."""
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'netsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
