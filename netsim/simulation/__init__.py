"""The timed world: traffic, the SimPy engine, the closed-loop runner, the scheduler interface and registry."""
