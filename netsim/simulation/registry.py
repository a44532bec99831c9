"""Finds schedulers by the name a scenario file uses: the ``netsim.schedulers``
entry-point group declared in pyproject.toml. A new scheduler is one module and one
line there."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from netsim.simulation.scheduling import Scheduler

GROUP = "netsim.schedulers"
RL_GROUP = "netsim.rl"


@cache
def _entry_points(group: str = GROUP) -> dict[str, object]:
    """The group's entry points by name, read once (each look-up reads every installed
    package's metadata: about 0.07 s)."""
    return {ep.name: ep for ep in entry_points(group=group)}


def available_schedulers() -> list[str]:
    """Registered scheduler names, sorted."""
    return sorted(_entry_points())


def rl_entry(name: str):
    """The RL toolkit's ``algorithms`` (names), ``train``, ``load`` (a trained model),
    ``compare`` or ``learns_nothing`` (why a budget trains nothing) function."""
    return _entry_points(RL_GROUP)[name].load()  # type: ignore[attr-defined]


def check_algorithms(names: list[str]) -> None:
    """Raise ValueError naming the first unknown RL algorithm."""
    known = rl_entry("algorithms")
    for name in names:
        if name not in known:
            raise ValueError(f"unknown algorithm {name!r} (known: {', '.join(known)})")


def scheduler_class(name: str) -> type[Scheduler]:
    """The scheduler class registered as ``name``; KeyError if none."""
    entry = _entry_points()[name]
    cls = entry.load()  # type: ignore[attr-defined]
    if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
        raise TypeError(f"entry point {name!r} is not a netsim Scheduler")
    return cls
