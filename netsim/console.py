"""Console helpers shared by the command-line modules: one-line errors and exit codes.

Library code never imports the CLI; the CLI modules (``netsim/cli.py`` and the
semantic pipeline's ``netsim/semantic/cli.py``) import these helpers.
"""

from __future__ import annotations

from typing import NoReturn

import typer
import typer.core
from typer.exceptions import TyperException

EXIT_INPUT_ERROR = 2
"""Exit code for input a user can fix: one line on stderr, no traceback."""


def fail(message: str, code: int = EXIT_INPUT_ERROR) -> NoReturn:
    """Print ``netsim: MESSAGE`` on stderr and exit with ``code``."""
    typer.echo(f"netsim: {message}", err=True)
    raise typer.Exit(code)


class OneLineUsageErrors(typer.core.TyperGroup):
    """The command group of ``netsim``: Typer's own usage errors (an unknown option, a
    number out of range, a missing argument) become one line and exit 2, like every
    other input error, instead of a usage block and a framed box."""

    def main(self, args=None, prog_name=None, complete_var=None,  # type: ignore[no-untyped-def, override]
             standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except TyperException as error:
            context = getattr(error, "ctx", None)
            if type(error).__name__ == "NoArgsIsHelpError" and context is not None:
                typer.echo(context.get_help())  # `netsim` alone: the help, as before
                raise SystemExit(EXIT_INPUT_ERROR) from None
            if not hasattr(error, "format_message"):
                raise
            path = context.command_path.split(" ", 1) if context is not None else []
            where = f"{path[1]}: " if len(path) == 2 else ""  # the subcommand, if any
            typer.echo(f"netsim: {where}{error.format_message()}", err=True)
            raise SystemExit(getattr(error, "exit_code", EXIT_INPUT_ERROR)) from None
        except typer.Abort:
            typer.echo("netsim: aborted", err=True)
            raise SystemExit(1) from None
        raise SystemExit(code if isinstance(code, int) else 0)
