"""HiGHS without its banner: the one place solvers get a HiGHS instance from."""

from __future__ import annotations

import os
import sys

import highspy

_BANNER_SHOWN = False


def quiet_highs() -> highspy.Highs:
    """A HiGHS instance that logs nothing. HiGHS prints its banner on stdout from C++
    when the first instance is made: that once, stdout's descriptor is pointed at
    /dev/null, so a command's output stays its own."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        highs = highspy.Highs()
    else:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SHOWN = True
    highs.setOptionValue("output_flag", False)
    return highs
