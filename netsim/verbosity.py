"""Quiet by default: what third-party libraries print (HiGHS's banner and solver log,
Ray's and Optuna's logs, Python warnings raised in their code) stays out of netsim's
output unless ``netsim --verbose`` (or ``NETSIM_VERBOSE=1``) asks for it.

The setting lives in the environment, so worker processes (sweeps, Ray tasks, the
``netsim profile`` a profile sweep starts) inherit it.
"""

from __future__ import annotations

import os
import warnings

VERBOSE_ENV = "NETSIM_VERBOSE"
OWN_MODULES = r"(netsim|solvers)(\.|$)"
"""Warnings raised in these modules are netsim's own and always shown."""


TRUE_WORDS = ("1", "true", "yes", "on", "y", "t")
"""Values of NETSIM_VERBOSE that mean verbose (any case); anything else means quiet."""


def is_verbose() -> bool:
    """Whether third-party output is wanted (``NETSIM_VERBOSE=1``, or true, yes, on)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in TRUE_WORDS


class NetsimWarning(UserWarning):
    """Something netsim will do as asked but that is most likely not what was meant
    (a training that can learn nothing); the CLI prints it as one line."""


_python_format = warnings.formatwarning


def _format_warning(message, category, filename, lineno, line=None) -> str:  # type: ignore[no-untyped-def]
    """``netsim: warning: MESSAGE`` for netsim's own warnings, Python's format else."""
    if issubclass(category, NetsimWarning):
        return f"netsim: warning: {message}\n"
    return _python_format(message, category, filename, lineno, line)


def set_verbose(verbose: bool) -> None:
    """Record the choice for this process and its children, and filter Python warnings
    accordingly: quiet hides the warnings of every module but netsim's own."""
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"
    warnings.formatwarning = _format_warning
    if verbose:
        warnings.resetwarnings()
        warnings.simplefilter("default")
    else:
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=OWN_MODULES)
