"""HiGHS without its banner, the one place solvers get a HiGHS instance from, and
models built for it as arrays."""

from __future__ import annotations

import os
import sys

import highspy
import numpy as np
from numpy.typing import ArrayLike

from netsim.verbosity import is_verbose

_BANNER_SHOWN = False


def quiet_highs() -> highspy.Highs:
    """A HiGHS instance that logs nothing (unless ``netsim --verbose``,
    :mod:`netsim.verbosity`). HiGHS prints its banner on stdout from C++
    when the first instance is made: that once, stdout's descriptor is pointed at
    /dev/null, so a command's output stays its own."""
    global _BANNER_SHOWN
    if is_verbose():  # netsim --verbose: the banner and every solve's log
        return highspy.Highs()
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


class ArrayModel:
    """Columns and rows of a MILP, gathered as arrays and handed to highspy in one
    piece (no per-variable objects, unlike a modelling layer such as PuLP)."""

    def __init__(self) -> None:
        self.cost: list[np.ndarray] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.n_cols = 0
        self.row_cols: list[np.ndarray] = []
        self.row_vals: list[np.ndarray] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []

    def columns(self, shape: int | tuple[int, ...], lower: ArrayLike, upper: ArrayLike,
                cost: ArrayLike = 0.0, integer: bool = False) -> np.ndarray:
        size = int(np.prod(shape))
        index = np.arange(self.n_cols, self.n_cols + size).reshape(shape)
        self.n_cols += size
        for store, value in ((self.cost, cost), (self.lower, lower), (self.upper, upper)):
            store.append(np.broadcast_to(np.asarray(value, dtype=float), shape).ravel().copy())
        self.integer.append(np.full(size, integer))
        return index

    def row(self, cols: ArrayLike, vals: ArrayLike, lower: float = -np.inf,
            upper: float = np.inf) -> None:
        self.row_cols.append(np.asarray(cols, dtype=np.int64).ravel())
        self.row_vals.append(np.asarray(vals, dtype=float).ravel())
        self.row_lower.append(float(lower))
        self.row_upper.append(float(upper))

    def highs(self, options: dict[str, object] | None = None,
              time_limit_s: float | None = None) -> highspy.Highs:
        """A quiet HiGHS instance holding the model, with ``options`` set and, if given,
        a time limit."""
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_cols, len(self.row_lower)
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.concatenate(self.lower)
        lp.col_upper_ = np.concatenate(self.upper)
        lp.row_lower_ = np.array(self.row_lower)
        lp.row_upper_ = np.array(self.row_upper)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lengths = [c.size for c in self.row_cols]
        lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        lp.a_matrix_.index_ = np.concatenate(self.row_cols).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate(self.row_vals)
        integer = np.concatenate(self.integer)
        if integer.any():  # an LP (no integer column) leaves it empty
            lp.integrality_ = [highspy.HighsVarType.kInteger if i
                               else highspy.HighsVarType.kContinuous for i in integer]
        highs = quiet_highs()
        highs.passModel(lp)
        for name, value in (options or {}).items():
            if highs.setOptionValue(name, value) != highspy.HighsStatus.kOk:
                raise ValueError(f"HiGHS {highs.version()} refuses option {name} = {value!r}")
        if time_limit_s is not None:
            highs.setOptionValue("time_limit", float(time_limit_s))
        return highs
