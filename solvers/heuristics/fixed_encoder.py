"""One encoder for every user (e.g. all ViT-B-32, all ViT-L-14); RBs assigned optimally
for that encoder, so the comparison isolates the value of choosing encoders."""

from __future__ import annotations

import numpy as np

from netsim.scenario import Scenario
from netsim.simulation.scheduling import (
    Allocation,
    ParameterError,
    Scheduler,
    SchedulerParams,
    SchedulingProblem,
)
from solvers.common import allocation_from_rbs, assign_rbs


class FixedEncoderParams(SchedulerParams):
    encoder: str
    """The encoder every user gets: one of the scenario's ``encoders``."""


class FixedEncoderScheduler(Scheduler):
    Params = FixedEncoderParams

    @classmethod
    def prepare(cls, params: FixedEncoderParams, scenario: Scenario) -> FixedEncoderParams:
        if params.encoder not in scenario.encoders:
            raise ParameterError("encoder", f"encoder {params.encoder!r} is not in the "
                                 "scenario's encoders")
        return params

    def decide(self, problem: SchedulingProblem) -> Allocation:
        index = problem.encoders.index(self.params.encoder)  # type: ignore[attr-defined]
        rb = assign_rbs(problem.cost[:, index, :], problem.drop_penalty, problem.voluntary_drop)
        return allocation_from_rbs(rb, np.full(problem.cost[:, 0, :].shape, index))
