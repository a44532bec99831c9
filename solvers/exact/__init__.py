"""Exact schedulers: optimal for the analytic model under the cost they are given."""
