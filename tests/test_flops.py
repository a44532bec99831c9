"""FLOPs of the user's receivers (issue 13, netsim/semantic/flops.py): the counter agrees with
hand counts on small networks (CPU and meta), the real architectures are counted on the
meta device (no weights, no memory), and the shipped table is what the module computes."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from netsim.model.encoders import ENCODERS
from netsim.semantic import flops

SHIPPED = Path(flops.__file__).resolve().parents[1] / "model" / "data" / "receiver_flops.csv"
DEVICES = ("cpu", "meta")


# --- the counter against hand counts ---------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_linear_matches_hand_count(device: str) -> None:
    batch, n_in, n_out = 3, 7, 5
    layer = torch.nn.Linear(n_in, n_out, device=device)
    x = torch.randn(batch, n_in, device=device)
    assert flops.count_flops(layer, x) == 2 * batch * n_in * n_out


@pytest.mark.parametrize("device", DEVICES)
def test_conv2d_matches_hand_count(device: str) -> None:
    batch, c_in, c_out, k, side = 2, 3, 8, 3, 11
    conv = torch.nn.Conv2d(c_in, c_out, k, stride=2, padding=1, device=device)
    x = torch.randn(batch, c_in, side, side, device=device)
    side_out = (side + 2 * 1 - k) // 2 + 1  # 6
    assert flops.count_flops(conv, x) == 2 * batch * side_out * side_out * c_out * c_in * k * k


@pytest.mark.parametrize("device", DEVICES)
def test_batched_matmul_matches_hand_count(device: str) -> None:
    b, n, k, m = 4, 5, 6, 7
    a, c = torch.randn(b, n, k, device=device), torch.randn(b, k, m, device=device)
    assert flops.count_flops(torch.bmm, a, c) == 2 * b * n * k * m
    assert flops.count_flops_by_op(torch.matmul, a, c) == {"bmm": 2 * b * n * k * m}


@pytest.mark.parametrize("device", DEVICES)
def test_sequential_is_the_sum_of_its_layers(device: str) -> None:
    batch, c_in, c_out, side, hidden = 2, 3, 4, 8, 10
    net = torch.nn.Sequential(
        torch.nn.Conv2d(c_in, c_out, 3, padding=1),
        torch.nn.ReLU(),  # elementwise: not counted
        torch.nn.Flatten(),
        torch.nn.Linear(c_out * side * side, hidden),
        torch.nn.Linear(hidden, 1),
    ).to(device)
    x = torch.randn(batch, c_in, side, side, device=device)
    conv = 2 * batch * side * side * c_out * c_in * 9
    linears = 2 * batch * c_out * side * side * hidden + 2 * batch * hidden * 1
    assert flops.count_flops(net, x) == conv + linears


def test_cpu_and_meta_counts_agree() -> None:
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 5), torch.nn.Flatten(), torch.nn.Linear(6 * 12 * 12, 9)
    )
    counts = {}
    for device in DEVICES:
        counts[device] = flops.count_flops(net.to(device), torch.randn(2, 3, 16, 16, device=device))
    assert counts["cpu"] == counts["meta"] > 0


def test_attention_is_counted_on_meta() -> None:
    """On meta, scaled_dot_product_attention decomposes into two batched products: QK^T and
    AV, 4 B H N M D FLOPs (on CPU the fused kernel is missed by the counter: count on meta)."""
    b, h, n, m, d = 2, 4, 64, 32, 16
    with torch.device("meta"):
        q, k, v = torch.empty(b, h, n, d), torch.empty(b, h, m, d), torch.empty(b, h, m, d)
    assert flops.count_flops(F.scaled_dot_product_attention, q, k, v) == 4 * b * h * n * m * d


# --- the receivers ---------------------------------------------------------------------


@pytest.mark.parametrize("receiver", ["zero-shot", "head"])
@pytest.mark.parametrize("encoder", list(ENCODERS))
def test_classifiers_are_one_d_by_k_product(receiver: str, encoder: str) -> None:
    d = ENCODERS[encoder].embed_dim
    expected = 2 * d * flops.N_CLASSES
    assert flops.receiver_flops("classify", encoder, receiver=receiver) == expected
    assert flops.receiver_flops("classify", d, 50, receiver=receiver) == expected  # no steps
    assert flops.classifier_flops(receiver, d, 10) == 2 * d * 10


def test_adapter_only_for_the_512_d_encoders() -> None:
    assert flops.adapter_flops(512) == 2 * 513 * flops.UNCLIP_EMBED_DIM
    assert flops.adapter_flops(flops.UNCLIP_EMBED_DIM) == 0
    b32 = flops.receiver_breakdown("regenerate", "ViT-B-32")
    l14 = flops.receiver_breakdown("regenerate", "ViT-L-14")
    assert b32.once - l14.once == 2 * 513 * 768 and b32.per_step == l14.per_step


def test_text_encoder_matches_hand_count() -> None:
    """23 pre-norm transformer layers on 77 tokens of width 1024 (MLP 4096): q, k, v, out
    projections 4 x 2 T h^2, MLP 2 x 2 T h i, attention QK^T and AV 2 x 2 T^2 h — the
    config is the one counted."""
    cfg = flops.TEXT_ENCODER_CONFIG
    t, h, i = flops.TEXT_TOKENS, cfg["hidden_size"], cfg["intermediate_size"]
    per_layer = 8 * t * h * h + 4 * t * h * i + 4 * t * t * h
    assert flops.text_encoder_flops() == cfg["num_hidden_layers"] * per_layer


def test_regeneration_parts_add_up() -> None:
    guided = flops.receiver_breakdown("regenerate", "ViT-L-14")
    assert guided.parts["text_encoder"] == 2 * flops.text_encoder_flops()  # prompt + negative
    assert guided.once == guided.parts["text_encoder"] + guided.parts["vae_decode"]
    assert guided.per_step == flops.unet_step_flops(96, True)
    plain = flops.receiver_breakdown("regenerate", "ViT-L-14", guidance=False)
    assert plain.parts["text_encoder"] == flops.text_encoder_flops()
    assert 2 * plain.per_step == guided.per_step  # batch 1 vs 2, everything per sample


def test_unet_has_the_published_checkpoint_size() -> None:
    """unclip-small's unet/diffusion_pytorch_model.safetensors is listed at 3.48 GB in float32
    (huggingface.co/stabilityai/stable-diffusion-2-1-unclip-small/tree/3dd0970/unet): the
    configured U-Net must hold 3.48e9 / 4 parameters (to the rounding of '3.48')."""
    parameters = sum(p.numel() for p in flops.build_unet().parameters())
    assert 3.475e9 / 4 <= parameters <= 3.485e9 / 4


def test_unet_conv_work_scales_with_latent_area() -> None:
    """A 48 x 48 latent has 1/4 of the area of 96 x 96: exactly 1/4 of the convolution
    FLOPs; attention (quadratic in the area) shrinks faster, the constant text-side
    projections slower — the whole step lands between 1/16 and 1/4."""
    full, half = flops.unet_step_flops_by_op(96), flops.unet_step_flops_by_op(48)
    assert half["convolution"] / full["convolution"] == pytest.approx(0.25, rel=1e-3)
    ratio = sum(half.values()) / sum(full.values())
    assert 1 / 16 < ratio < 0.26
    assert sum(full.values()) == flops.unet_step_flops()


@pytest.mark.parametrize("steps", [1, 20, 50])
@pytest.mark.parametrize("encoder", ["ViT-B-32", "ViT-L-14"])
def test_total_is_once_plus_steps_per_step(steps: int, encoder: str) -> None:
    counted = flops.receiver_breakdown("regenerate", encoder)
    assert counted.per_step > 0 and counted.once > 0
    total = flops.receiver_flops("regenerate", encoder, steps)
    assert total == counted.once + steps * counted.per_step
    table = flops.flops_table(steps)
    assert (
        table["flops_total"] == table["flops_once"] + table["steps"] * table["flops_per_step"]
    ).all()
    assert (table.loc[table["task"] == "classify", "flops_per_step"] == 0).all()


def test_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="task"):
        flops.receiver_flops("caption", "ViT-B-32")
    with pytest.raises(ValueError, match="encoder"):
        flops.receiver_flops("classify", "RN50")
    with pytest.raises(ValueError, match="receiver"):
        flops.receiver_flops("regenerate", "ViT-B-32", receiver="head")


# --- the shipped table and the device defaults -------------------------------------------


def test_shipped_table_is_what_the_module_computes() -> None:
    shipped = pd.read_csv(SHIPPED)
    assert tuple(shipped.columns) == flops.TABLE_COLUMNS
    computed = flops.flops_table()[list(flops.TABLE_COLUMNS)]
    pd.testing.assert_frame_equal(shipped, computed, check_dtype=False)


def test_documented_command_writes_the_shipped_file(tmp_path: Path) -> None:
    out = tmp_path / "receiver_flops.csv"
    with redirect_stdout(io.StringIO()) as shown:
        assert flops.main(["--out", str(out)]) == 0
    assert out.read_bytes() == SHIPPED.read_bytes()
    assert "unclip" in shown.getvalue() and " T" in shown.getvalue()


def test_device_profiles_follow_their_sources() -> None:
    from netsim.model import devices

    assert devices.SD21_BASE_STEP_FLOPS == flops.unet_step_flops(64, True, unclip=False)
    handset, edge = devices.DEVICE_PROFILES["handset"], devices.DEVICE_PROFILES["edge_box"]
    assert handset.flops_per_s == pytest.approx(2.69 * devices.SD21_BASE_STEP_FLOPS)
    assert edge.flops_per_s == pytest.approx(42.5e12)
    for profile in (handset, edge):
        assert profile.joules_per_flop == pytest.approx(profile.watts / profile.flops_per_s)
