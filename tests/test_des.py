"""The discrete-event engine against the analytic delay (eq. 6)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.simulation.engine import simulate_requests
from netsim.simulation.runner import run_scenario
from tests.scenario_factory import make_scenario

SCHEDULERS = [{"type": "hungarian", "information": "oracle"}, {"type": "random"}]


def _records(scenario):
    """The served requests of the scenario's own schedulers (the references differ by
    delay model)."""
    records = run_scenario(scenario).records
    mine = records["served"] & ~records["scheduler"].str.startswith("reference:")
    return records[mine].reset_index(drop=True)


def test_des_equals_analytic_exactly_without_contention():
    # one request per user, as many CPU cores as users, distinct RBs, slots far apart
    common = dict(users={"count": 4}, cell={"n_rbs": 6}, base_station={"cores": 4},
                  slots=30, slot_duration_s=1000.0, schedulers=SCHEDULERS)
    analytic = _records(make_scenario(delay_model="analytic", **common))
    des = _records(make_scenario(delay_model="des", **common))
    # the DES delay is decode end - arrival from event times up to 29,000 s: equal up to
    # the rounding of those absolute times
    np.testing.assert_allclose(des["total_delay_s"], analytic["total_delay_s"], atol=1e-9)
    np.testing.assert_allclose(des["queueing_delay_s"], 0.0, atol=1e-9)
    np.testing.assert_allclose(des["reward"], analytic["reward"], atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(
    cores=st.integers(1, 3),
    users=st.integers(1, 4),
    rbs=st.integers(4, 5),
    slot_s=st.sampled_from([0.01, 0.05, 0.2, 1.0]),
    seed=st.integers(0, 1000),
)
def test_des_never_faster_than_analytic(cores, users, rbs, slot_s, seed):
    common = dict(users={"count": users}, cell={"n_rbs": rbs}, base_station={"cores": cores},
                  slots=8, slot_duration_s=slot_s, seeds=[seed], schedulers=SCHEDULERS)
    analytic = _records(make_scenario(delay_model="analytic", **common))
    des = _records(make_scenario(delay_model="des", **common))
    # with U <= Q nothing is left waiting at a boundary: the same requests, same choices
    # for the queue-blind schedulers, only later
    assert (des["queueing_delay_s"] >= -1e-12).all()
    assert (des["total_delay_s"] >= analytic["total_delay_s"] - 1e-12).all()
    np.testing.assert_allclose(
        des["total_delay_s"] - des["queueing_delay_s"], analytic["total_delay_s"], atol=1e-9
    )


def test_one_core_serves_extractions_one_after_another():
    # three requests at t = 0 on one core: the CPU waits are 0, t_E, 2 t_E
    timeline = simulate_requests(
        arrival_s=np.zeros(3),
        user=np.array([0, 1, 2]),
        rb=np.array([0, 1, 2]),
        extraction_s=np.full(3, 0.09),
        transmission_s=np.full(3, 0.01),
        computing_s=np.full(3, 0.02),
        n_users=3,
        n_rbs=3,
        cpu_cores=1,
    )
    np.testing.assert_allclose(timeline.cpu_start_s, [0.0, 0.09, 0.18])
    np.testing.assert_allclose(timeline.queueing_delay_s, [0.0, 0.09, 0.18])
    np.testing.assert_allclose(timeline.decode_end_s, [0.12, 0.21, 0.30])


def test_a_busy_rb_delays_the_next_slot():
    # slot 0's request holds RB 0 for 1.5 s; slot 1's request on RB 0 waits 0.5 s
    # the RB is reserved when the decision is made, so slot 1's request waits for it
    timeline = simulate_requests(
        arrival_s=np.array([0.0, 1.0]),
        user=np.array([0, 1]),
        rb=np.array([0, 0]),
        extraction_s=np.array([0.0, 0.0]),
        transmission_s=np.array([1.5, 0.1]),
        computing_s=np.array([0.0, 0.0]),
        n_users=2,
        n_rbs=1,
        cpu_cores=1,
    )
    assert timeline.rb_start_s[1] == pytest.approx(1.5)
    assert timeline.queueing_delay_s[1] == pytest.approx(0.5)


def test_paper_scenario_queues_on_one_core():
    scenario = make_scenario(delay_model="des", slots=4, seeds=[0],
                             schedulers=[{"type": "fixed_encoder", "encoder": "ViT-L-14"}])
    records = _records(scenario)
    mine = records[records["scheduler"] == "fixed_encoder_ViT-L-14"]
    # five ViT-L-14 extractions of 88.5 ms on one processor: the last waits about 354 ms
    per_slot_max = mine.groupby(["seed", "slot"])["queueing_delay_s"].max()
    assert (per_slot_max > 0.35).all()


@pytest.mark.parametrize("delay_model", ["analytic", "des"])
def test_timestamps_tell_the_same_story_as_the_delays(delay_model):
    scenario = make_scenario(delay_model=delay_model, slots=10, slot_duration_s=0.1,
                             seeds=[0], schedulers=SCHEDULERS)
    r = _records(scenario)
    np.testing.assert_allclose(r["cpu_end_s"] - r["cpu_start_s"], r["extraction_delay_s"],
                               atol=1e-9)
    np.testing.assert_allclose(r["rb_end_s"] - r["rb_start_s"], r["transmission_delay_s"],
                               atol=1e-9)
    np.testing.assert_allclose(r["decode_end_s"] - r["decode_start_s"], r["computing_delay_s"],
                               atol=1e-9)
    np.testing.assert_allclose(r["decode_end_s"] - r["arrival_s"], r["total_delay_s"], atol=1e-9)
    np.testing.assert_allclose(r["arrival_s"], r["slot"] * 0.1, atol=1e-12)
    assert (r["cpu_start_s"] >= r["arrival_s"]).all() and (r["rb_start_s"] >= r["cpu_end_s"]).all()


def test_analytic_path_keeps_the_bytes_it_wrote_before_the_closed_loop(tmp_path):
    """paper.yaml (40 slots, seeds 0-1, the queue-blind schedulers) under the analytic
    model writes the very records.csv and summary.csv that netsim wrote before the
    closed loop existed (hashes taken from commit 11bc352's `netsim run`), with the
    expected cost of that time (64 equal-probability points; the default is now exact)."""
    import hashlib

    from typer.testing import CliRunner

    from netsim.cli import app
    from tests.scenario_factory import deep_update, paper_dict, write_yaml

    data = deep_update(paper_dict(), {"slots": 40, "seeds": [0, 1],
                                      "statistical": {"expectation": "quantiles"}})
    data["schedulers"] = [
        {"type": "hungarian", "information": "oracle"},
        {"type": "hungarian", "information": "statistical"},
        {"type": "greedy", "information": "statistical"}, "random",
        {"type": "fixed_encoder", "encoder": "ViT-L-14"}]
    path = write_yaml(tmp_path / "regress.yaml", data)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    digest = {name: hashlib.sha256((out / name).read_bytes()).hexdigest()
              for name in ("records.csv", "summary.csv")}
    assert digest == {
        "records.csv": "f87dabdf8c5ae67e065eb4e58fcbcec812e4ca2ea92e2ca85443f0b9a6630d04",
        "summary.csv": "1eed4476b630d5a49f5229a440ad8cb5bfd131666af5502111aa051fd147c8eb",
    }
