"""The global random generators, left as a caller had them.

netsim draws every number from generators it seeds and passes down; the training
libraries do not (stable-baselines3 seeds Python's, numpy's and torch's global
generators with the training seed, and its import draws from them).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def global_generators_kept() -> Iterator[None]:
    """Python's, numpy's and torch's global generators go on after the body from where
    they were before it (torch's only if it was imported: a caller who has not imported
    it draws nothing from it)."""
    torch = sys.modules.get("torch")
    states = (random.getstate(), np.random.get_state(),
              None if torch is None else torch.get_rng_state())
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        if torch is not None:
            torch.set_rng_state(states[2])
