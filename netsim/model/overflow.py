"""Physics that overflows: values the schema accepts one by one (each positive and
finite) whose products leave float64 — an energy of 1e300 J squared, a clock of 1e-300
Hz — and would write ``inf`` into every result. Checked when a scenario is loaded, before
any work, on the extremes of each quantity (eqs. 2–8)."""

from __future__ import annotations

import numpy as np

from netsim.model import channel, delay, energy
from netsim.model.encoders import relative_size
from netsim.scenario import Scenario

LARGEST = 1e150
"""A quantity beyond this (in its SI unit) is refused: later products (a penalty, a
square, a sum over users) would overflow even where it does not."""


def _device_checks(scenario: Scenario) -> list[tuple[str, str, np.ndarray]]:
    """A device of one's own (users.device): its t_C and E_U from the receiver's FLOPs."""
    device = scenario.users.device
    if device is None or isinstance(device, str):
        return []  # no device, or a named class (checked against the known ones)
    from netsim.model.devices import device_computing_delay_s, device_energy_j, receiver_flops

    flops = receiver_flops(scenario.task.kind, list(scenario.encoders),
                           scenario.task.denoising_steps)
    return [("users.device.flops_per_s", "the user computing delay t_C",
             np.array(device_computing_delay_s(flops, device.flops_per_s))),
            ("users.device.joules_per_flop", "the user energy E_U",
             np.array(device_energy_j(flops, device.joules_per_flop)))]


def overflowing_quantity(scenario: Scenario) -> tuple[str, str] | None:
    """(scenario key, what overflows) for the first quantity out of range, or None."""
    bs, users, task, cell = scenario.base_station, scenario.users, scenario.task, scenario.cell
    sizes = np.array([relative_size(name) for name in scenario.encoders])
    low_hz, high_hz = users.cpu_hz_range
    with np.errstate(all="ignore"):
        noise = channel.noise_power_w(cell)
        gain = channel.path_gain(np.array([cell.min_distance_m, cell.radius_m]), cell.pathloss)
        snr = cell.tx_power_w * gain / noise
        checks = [
            ("base_station.cpu_hz", "the extraction delay t_E (eq. 3)",
             delay.extraction_delay_s(bs.cycles_per_bit, task.image_bits, sizes, bs.cpu_hz)),
            ("base_station.kappa", "the BS computing energy (eq. 7)",
             energy.bs_energy_j(bs.kappa, bs.cpu_hz, bs.cycles_per_bit, task.image_bits,
                                sizes, 0.0, np.zeros((1, len(sizes), 1)))),
            ("users.cpu_hz_range", "the user computing delay t_C (eq. 5)",
             delay.computing_delay_s(users.cycles_per_bit, task.image_bits, task.decoder_size,
                                     np.array([low_hz, high_hz]))),
            ("users.kappa", "the user energy E_U (eq. 8)",
             energy.user_energy_j(users.kappa, np.array([low_hz, high_hz]),
                                  users.cycles_per_bit, task.image_bits, task.decoder_size)),
            ("cell.tx_power_w", "the SNR (eq. 2)", snr),
            ("cell.tx_power_w", "the transmit energy P t_T (eq. 7)",
             np.array(cell.tx_power_w * task.image_bits)),
            *_device_checks(scenario),
        ]
    for key, what, values in checks:
        values = np.asarray(values, dtype=float)
        if not np.all(np.isfinite(values)) or np.any(np.abs(values) > LARGEST):
            return key, what
    return None
