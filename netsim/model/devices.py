"""User devices: what a user's receiver costs in time and energy when the receiver is a
real network (issue 13), instead of the paper's cycles model (eqs. 5, 8).

With ``users.device`` (a class of :data:`DEVICE_PROFILES`, or its own FLOP/s and J/FLOP),

    t_C = F / flops_per_s,     E_U = F x joules_per_flop,

where F is the FLOPs the task's receiver spends on one image, counted with torch's
FLOP counter on the published architectures (netsim/semantic/flops.py, shipped as
``data/receiver_flops.csv``): the zero-shot classifier for classification (about 1 MFLOP),
and for regeneration Stable unCLIP (stable-diffusion-2-1-unclip-small at 768 x 768) —
its text encoder and VAE decoder once, plus one U-Net forward per denoising step
(``task.denoising_steps``, the pipeline's classifier-free guidance doubling it).
Without ``users.device`` the paper's model stands, and results keep their bytes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RECEIVER_FLOPS_PATH = Path(__file__).parent / "data" / "receiver_flops.csv"
RECEIVERS = {"classify": "zero-shot", "regenerate": "unclip"}
"""The receiver each task runs on the device (the table's ``receiver`` column)."""


def device_computing_delay_s(flops: float, flops_per_s: float) -> float:
    """t_C = F / flops_per_s: the receiver's time on one image, s (replaces eq. 5)."""
    return flops / flops_per_s


def device_energy_j(flops: float, joules_per_flop: float) -> float:
    """E_U = F x joules_per_flop: the receiver's energy on one image, J (replaces eq. 8)."""
    return flops * joules_per_flop


@dataclass(frozen=True)
class DeviceProfile:
    """A device class's compute: FLOP/s it sustains on the receiver, J per FLOP, its
    power (W), whether the rate is measured or a datasheet peak, and the sources."""

    flops_per_s: float
    joules_per_flop: float
    watts: float
    basis: str
    """"measured" (achieved on a diffusion U-Net) or "peak" (datasheet; t_C is then a
    lower bound)."""
    source: str

    @classmethod
    def at_power(cls, flops_per_s: float, watts: float, basis: str,
                 source: str) -> DeviceProfile:
        """The profile of a device sustaining ``flops_per_s`` at ``watts``: its J/FLOP
        derived as W / (FLOP/s)."""
        return cls(flops_per_s, watts / flops_per_s, watts, basis, source)


# Handset: Apple's Core ML Stable Diffusion benchmark (github.com/apple/ml-stable-diffusion,
# README "Performance Benchmarks", stabilityai/stable-diffusion-2-1-base 512x512, Aug 2023):
# iPhone 14 Pro Max (A16 Bionic, Neural Engine, CPU_AND_NE, SPLIT_EINSUM_V2, 6-bit palettized
# weights, float16 activations) runs 2.69 diffusion iterations/s, one iteration = one U-Net
# forward at batch 2 (classifier-free guidance). Derived: the SD 2.1-base U-Net at a 64x64
# latent and batch 2 counts SD21_BASE_STEP_FLOPS = 1.609e12 (unet_step_flops(64, True,
# unclip=False), checked by tests/test_flops.py), so the achieved rate is 2.69 x 1.609e12 =
# 4.33e12 FLOP/s sustained. (Apple quotes the A16 Neural Engine at 17 trillion operations/s
# peak, at the iPhone 14 Pro launch: the benchmark reaches ~25 % of it.) Power: Apple
# publishes none; 3.5 W is assumed, the measured power of a phone NPU under sustained ML
# inference (Google Pixel 6 / Tensor, MLPerf image classification: 2.84-3.54 W; AOSP device
# tree android_device_google_raviole, change "Disable CPU Idle in NNAPI workload",
# gerrit.omnirom.org). Derived: J/FLOP = 3.5 / 4.33e12 = 8.1e-13.
SD21_BASE_STEP_FLOPS = 1_608_514_928_640
HANDSET_ITERATIONS_PER_S = 2.69
HANDSET_WATTS = 3.5

# Edge box: NVIDIA Jetson AGX Orin 64GB, power mode MAXN. NVIDIA Jetson AGX Orin Series
# Technical Brief (as summarised in public write-ups of nvidia-jetson-agx-orin-technical-
# brief.pdf): Ampere GPU, 16 SMs, 2048 CUDA cores (5.3 FP32 TFLOPS) and 64 third-generation
# Tensor Cores, 170 sparse INT8 TOPS; each Tensor Core does 16 FP16 HMMA per 32 INT8 IMMA
# (+ 2 DLA, 105 sparse INT8 TOPS; 275 TOPS in all). Derived: dense = sparse / 2 = 85 INT8
# TOPS; FP16 at half the INT8 rate: 42.5 FP16 dense TFLOPS (GPU peak). Power: module
# datasheet, "JAO 64GB Maximum Module Power: Up to 60W" (quoted by NVIDIA on
# forums.developer.nvidia.com, "Maximum power consumption bounds for Orin AGX"); the
# 15 W / 30 W / 50 W power modes lower the clocks. Derived: J/FLOP = 60 / 42.5e12 =
# 1.41e-12. Peak, not achieved: expect diffusion U-Nets to reach a fraction of it (the
# handset above reaches ~25 % of its peak).
ORIN_FP16_DENSE_FLOPS = 170e12 / 2 / 2
ORIN_MAXN_WATTS = 60.0


def _device_profiles(sd21_base_step_flops: int) -> dict[str, DeviceProfile]:
    handset_rate = HANDSET_ITERATIONS_PER_S * sd21_base_step_flops
    return {
        "handset": DeviceProfile.at_power(
            handset_rate, HANDSET_WATTS, "measured", (
                "apple/ml-stable-diffusion README: iPhone 14 Pro Max (A16 Neural Engine) 2.69"
                " it/s on SD 2.1-base 512x512, batch-2 U-Net, fp16 activations; x counted"
                " SD 2.1-base U-Net step FLOPs (derived). Power 3.5 W assumed: Pixel 6 NPU"
                " measured 2.84-3.54 W under MLPerf inference (AOSP raviole change)."
                " J/FLOP derived = W / (FLOP/s)."
            )),
        "edge_box": DeviceProfile.at_power(
            ORIN_FP16_DENSE_FLOPS, ORIN_MAXN_WATTS, "peak", (
                "NVIDIA Jetson AGX Orin 64GB, MAXN: Technical Brief GPU 170 sparse INT8 TOPS"
                " -> 42.5 dense FP16 TFLOPS (derived: /2 sparsity, /2 FP16 vs INT8); module"
                " datasheet up to 60 W. J/FLOP derived = W / (FLOP/s). Peak: t_C is a lower"
                " bound."
            )),
    }


DEVICE_PROFILES: dict[str, DeviceProfile] = _device_profiles(SD21_BASE_STEP_FLOPS)
"""name -> DeviceProfile(flops_per_s, joules_per_flop, watts, basis, source): "handset"
(measured, ~4.3e12 FLOP/s, ~8.1e-13 J/FLOP) and "edge_box" (Jetson AGX Orin 64GB MAXN, peak
4.25e13 FLOP/s, 1.41e-12 J/FLOP); see the comments above for the published figures and
which numbers are derived."""


@cache
def _receiver_table() -> dict[tuple[str, str], tuple[float, float]]:
    """(task, encoder) -> (FLOPs once per image, FLOPs per denoising step) of the task's
    receiver (:data:`RECEIVERS`), from the shipped table."""
    with RECEIVER_FLOPS_PATH.open(newline="", encoding="utf-8") as handle:
        return {(row["task"], row["encoder"]): (float(row["flops_once"]),
                                                 float(row["flops_per_step"]))
                for row in csv.DictReader(handle)
                if RECEIVERS.get(row["task"]) == row["receiver"]}


def receiver_flops(task_kind: str, encoders: list[str], denoising_steps: int) -> float:
    """F, the FLOPs of one image's receiver for the task: once + steps x per step (steps
    count for regeneration only). The most over the scenario's encoders, so that t_C stays
    a property of the user (they differ by 0.5 MFLOP for classification, by 0.8 MFLOP of
    adapter for regeneration: far below a microsecond on either device class)."""
    table = _receiver_table()
    steps = denoising_steps if task_kind == "regenerate" else 0
    return max(once + steps * per_step
               for once, per_step in (table[(task_kind, name)] for name in encoders))
