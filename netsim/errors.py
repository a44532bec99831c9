"""Errors a user can fix by editing their input; the CLI prints them as one line, exit 2."""

from __future__ import annotations


class ScenarioError(Exception):
    """A scenario (or a file it points to) is invalid.

    ``str(error)`` is one line: ``FILE: KEY: PROBLEM``.
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)
