"""User devices (netsim/model/devices.py): with users.device, t_C and E_U follow from the
receiver's counted FLOPs and the device's FLOP/s and J/FLOP (regeneration: once + steps x
per step); without it the paper's cycles model stands; a bad device is one line, exit 2."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import netsim
from netsim.cli import app
from netsim.model.devices import DEVICE_PROFILES, RECEIVER_FLOPS_PATH
from tests.scenario_factory import PAPER, make_scenario, one_line, paper_dict, write_yaml


def table_flops(task: str, encoder: str) -> tuple[int, int]:
    receiver = {"classify": "zero-shot", "regenerate": "unclip"}[task]
    with RECEIVER_FLOPS_PATH.open() as handle:
        row = next(r for r in csv.DictReader(handle)
                   if (r["task"], r["receiver"], r["encoder"]) == (task, receiver, encoder))
    return int(row["flops_once"]), int(row["flops_per_step"])


@pytest.mark.parametrize("device", ["handset", "edge_box"])
def test_regeneration_time_and_energy_follow_the_counted_flops(device):
    scenario = make_scenario(slots=4, seeds=[0], task={"kind": "regenerate",
                             "denoising_steps": 3}, users={"device": device},
                             encoders=["ViT-L-14"], schedulers=["random"])
    served = netsim.run(scenario).records.query("served")
    once, per_step = table_flops("regenerate", "ViT-L-14")
    flops = once + 3 * per_step  # 18.74 TFLOP
    profile = DEVICE_PROFILES[device]
    np.testing.assert_allclose(served["computing_delay_s"], flops / profile.flops_per_s,
                               rtol=1e-12)
    np.testing.assert_allclose(served["user_energy_j"], flops * profile.joules_per_flop,
                               rtol=1e-12)
    assert (served["total_delay_s"] > served["computing_delay_s"]).all()


def test_a_device_of_ones_own_and_classification():
    scenario = make_scenario(slots=3, seeds=[0], schedulers=["random"],
                             users={"device": {"flops_per_s": 1e9, "joules_per_flop": 1e-9}})
    served = netsim.run(scenario).records.query("served")
    flops = max(sum(table_flops("classify", name)) for name in scenario.encoders)
    assert flops == 1_536_000  # 2 d K with d = 768 (ViT-L/14) and K = 1000 classes
    np.testing.assert_allclose(served["computing_delay_s"], flops / 1e9)  # 1.5 ms
    np.testing.assert_allclose(served["user_energy_j"], flops * 1e-9)


def test_without_a_device_the_papers_cycles_model_stands():
    scenario = make_scenario(slots=3, seeds=[0], schedulers=["random"])
    served = netsim.run(scenario).records.query("served")
    users, task = scenario.users, scenario.task
    clocks = served["computing_delay_s"].to_numpy()
    implied_hz = users.cycles_per_bit * task.image_bits * task.decoder_size / clocks
    low, high = users.cpu_hz_range
    assert ((implied_hz >= low * (1 - 1e-12)) & (implied_hz <= high * (1 + 1e-12))).all()


@pytest.mark.parametrize(("device", "message"), [
    ("phone", "users.device: unknown device class 'phone' (known: handset, edge_box"),
    ({"flops_per_s": -1.0, "joules_per_flop": 1e-12}, "users.device.flops_per_s: Input "
     "should be greater than 0"),
    ({"flops_per_s": 1e12}, "users.device.joules_per_flop: required key is missing"),
])
def test_a_bad_device_is_one_line(tmp_path: Path, device, message):
    data = paper_dict()
    data["users"] = {**data.get("users", {}), "device": device}
    path = write_yaml(tmp_path / "bad.yaml", data)
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in one_line(result)
    assert not (tmp_path / "out").exists()
    assert path != PAPER
