"""Console helpers shared by the command-line modules: one-line errors and exit codes.

Library code never imports the CLI; the CLI modules (``netsim/cli.py`` and the
semantic pipeline's ``netsim/semantic/cli.py``) import these helpers.
"""

from __future__ import annotations

from typing import NoReturn

import typer

EXIT_INPUT_ERROR = 2
"""Exit code for input a user can fix: one line on stderr, no traceback."""


def fail(message: str, code: int = EXIT_INPUT_ERROR) -> NoReturn:
    """Print ``netsim: MESSAGE`` on stderr and exit with ``code``."""
    typer.echo(f"netsim: {message}", err=True)
    raise typer.Exit(code)
