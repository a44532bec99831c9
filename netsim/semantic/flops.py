"""FLOPs per image of the user's receivers (issue 13: "the receiver's real work").

A user device's computing delay and energy follow from the work its receiver does on one
received feature vector: ``t_C = FLOPs / (FLOP/s)`` and ``E_U = FLOPs x (J/FLOP)``
(DESIGN §1, paper eqs. 5 and 8, with the decoder's FLOPs in place of ``c_u D s_d``).
This module counts those FLOPs with torch's own counter
(``torch.utils.flop_counter.FlopCounterMode``) on the real architectures, built with
random weights on the ``meta`` device: a random weight costs the same FLOPs as a trained
one, and a meta tensor has a shape but no storage, so even the 870 M-parameter U-Net
costs no memory and is counted in about a second.

What is counted (per image, batch 1 unless said otherwise):

* **classify** — the receivers of :mod:`netsim.semantic.receivers`, run as they are:
  ``ZeroShot.logits`` (the received features, normalised, times the K class text
  embeddings: one (1, d) x (d, K) product) and ``LinearHead.logits`` (standardise, then
  ``nn.Linear(d, K)``). Both are 2 d K FLOPs; K = 1000 (ImageNet) by default. Nothing
  depends on the number of denoising steps.
* **regenerate** — Stable unCLIP (``stabilityai/stable-diffusion-2-1-unclip-small``,
  diffusers' ``StableUnCLIPImg2ImgPipeline`` driven by ``image_embeds``, empty prompt,
  768 x 768 output; see :mod:`netsim.semantic.regeneration`):

  - once per image: the OpenCLIP ViT-H text encoder of SD 2.1 (23 layers used, width
    1024, 77 tokens) on the empty prompt. With classifier-free guidance the pipeline
    encodes the prompt ``""`` **and** the negative prompt ``""`` — two forward passes
    (``encode_prompt``: ``negative_prompt_embeds is None`` -> ``uncond_tokens = [""]``);
    without guidance, one. (An implementation could cache the constant empty-prompt
    embedding and skip the text encoder entirely; the pipeline does not.)
  - once per image: the AutoencoderKL decoder (``vae.decode``: post-quant conv +
    decoder) on the 4 x 96 x 96 latent.
  - once per image, for the 512-d encoders only: the receiver's affine adapter to the
    768-d ViT-L/14 space (:class:`netsim.semantic.regeneration.Adapter`).
  - **one denoising step = one U-Net forward at batch 2**: with classifier-free
    guidance (the pipeline's default ``guidance_scale = 10 > 1``) the latent is
    duplicated and the unconditional and conditional predictions are made in one
    batch-2 forward. ``guidance=False`` counts batch 1.
  - not counted, negligible: the noising of the image embedding (``noise_image_embeddings``:
    normalise, add noise, un-normalise, a 768-d sinusoidal noise-level embedding — O(10^4)
    elementwise operations against ~10^12 per step) and the scheduler's update (O(10^5)
    elementwise operations per step).

What the counter counts: matrix products and convolutions (``mm``, ``addmm``, ``bmm``,
``convolution``, attention kernels), 2 FLOPs per multiply-accumulate; bias additions,
normalisation, activations, softmax and other elementwise operations are not counted
(they add a few per cent). Note that torch's CPU fused attention kernel
(``_scaled_dot_product_flash_attention_for_cpu``) is not registered with the counter
(it counts 0 there), while on the meta device ``scaled_dot_product_attention`` is
decomposed into ``bmm`` and counted: count on meta, as this module does.

The counts are shipped in ``netsim/model/data/receiver_flops.csv``, written by::

    python -m netsim.semantic.flops --out netsim/model/data/receiver_flops.csv

(tests/test_flops.py checks that the shipped file equals what this module computes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsim.model.encoders import ENCODERS

if TYPE_CHECKING:
    import pandas as pd
    import torch

# --------------------------------------------------------------------------------------
# Workload constants
# --------------------------------------------------------------------------------------

DEFAULT_STEPS = 20
"""Denoising steps: the pipeline's default ``num_inference_steps`` and ``netsim profile
--unclip-steps``."""
N_CLASSES = 1000
"""Classes K of the classifiers (ImageNet)."""
IMAGE_SIZE = 768
"""Output side of Stable unCLIP (SD 2.1-v): the UNet's sample_size 96 x VAE factor 8."""
VAE_SCALE_FACTOR = 8
"""2 ** (len(vae block_out_channels) - 1): the pipeline's ``vae_scale_factor``."""
TEXT_TOKENS = 77
"""The tokenizer's ``model_max_length``: the prompt is padded to 77 tokens."""
UNCLIP_EMBED_DIM = 768
"""Image-embedding size of unclip-small: CLIP ViT-L/14 image embeddings."""
UNCLIP_ENCODER = "ViT-L-14"
"""The encoder whose embeddings the unCLIP decoder takes without an adapter."""

UNCLIP_MODEL = "stabilityai/stable-diffusion-2-1-unclip-small"

# --------------------------------------------------------------------------------------
# Published configurations (written here, never fetched)
#
# Sources, referred to below as [S1]..[S7]:
# [S1] Stability-AI/stablediffusion, configs/stable-diffusion/v2-1-stable-unclip-l-inference.yaml
#      (the original config of the ViT-L unCLIP checkpoint sd21-unclip-l.ckpt, which
#      diffusers published as stable-diffusion-2-1-unclip-small, "Duplicate from
#      diffusers/stable-diffusion-2-1-unclip-i2i-l"): unet_config num_classes "sequential",
#      adm_in_channels 1536, in/out_channels 4, model_channels 320, attention_resolutions
#      [4, 2, 1], num_res_blocks 2, channel_mult [1, 2, 4, 4], num_head_channels 64,
#      use_linear_in_transformer True, transformer_depth 1, context_dim 1024; image_size 96,
#      channels 4, scale_factor 0.18215; noise_aug timestep_dim 768, embedder ViT-L/14;
#      first_stage ch 128, ch_mult [1, 2, 4, 4], num_res_blocks 2, z_channels 4,
#      attn_resolutions []; cond_stage FrozenOpenCLIPEmbedder layer "penultimate".
# [S2] diffusers, src/diffusers/pipelines/stable_diffusion/convert_from_ckpt.py,
#      create_unet_diffusers_config: block_out_channels = model_channels x channel_mult;
#      Down/Up block types from attention_resolutions; with use_linear_in_transformer and
#      no num_heads, attention_head_dim = (model_channels // num_head_channels) x
#      channel_mult = (5, 10, 20, 20); num_classes == "sequential" with context_dim 1024
#      -> class_embed_type "projection", projection_class_embeddings_input_dim =
#      adm_in_channels; create_vae_diffusers_config and scaling_factor = scale_factor;
#      convert_open_clip_checkpoint drops resblock 23 when num_hidden_layers == 23.
# [S3] huggingface/candle, candle-transformers/src/models/stable_diffusion/mod.rs,
#      StableDiffusionConfig::v2_1 (citing stabilityai/stable-diffusion-2-1 unet/ and
#      vae/config.json): blocks (320, 5), (640, 10), (1280, 20), (1280, no attention, 20),
#      cross_attention_dim 1024, layers_per_block 2, norm_num_groups 32, norm_eps 1e-5,
#      use_linear_projection true; VAE block_out_channels [128, 256, 512, 512],
#      layers_per_block 2, latent_channels 4, norm_num_groups 32; default 768 x 768.
# [S4] huggingface/candle, .../stable_diffusion/clip.rs, Config::v2_1 (citing
#      stabilityai/stable-diffusion-2-1 text_encoder/config.json): vocab 49408, embed_dim
#      1024, intermediate 4096, max_position_embeddings 77, 23 layers, 16 heads,
#      projection_dim 512, activation gelu.
# [S5] Copies of stabilityai/stable-diffusion-2-1 unet/config.json on the Hugging Face Hub
#      (e.g. huggingface.co/briannlongzhao/33/blame/main/unet/config.json,
#      "_name_or_path": "stabilityai/stable-diffusion-2-1"): attention_head_dim [5, 10, 20,
#      20], block_out_channels [320, 640, 1280, 1280], cross_attention_dim 1024,
#      down_block_types 3 x CrossAttnDownBlock2D + DownBlock2D, in_channels 4,
#      layers_per_block 2, mid_block_type UNetMidBlock2DCrossAttn, norm_num_groups 32,
#      out_channels 4.
# [S6] Copies of the SD 2 / 2.1 text_encoder/config.json and vae/config.json on the Hub
#      (e.g. huggingface.co/Phani0404/mlfor3D/blob/main/text_encoder/config.json,
#      huggingface.co/MirageML/DiscDemon/blob/main/vae/config.json): CLIPTextModel
#      hidden_act gelu, hidden_size 1024, intermediate_size 4096,
#      max_position_embeddings 77, num_attention_heads 16, num_hidden_layers 23,
#      projection_dim 512, vocab_size 49408; AutoencoderKL block_out_channels [128, 256,
#      512, 512], 4 x DownEncoderBlock2D / UpDecoderBlock2D, latent_channels 4,
#      layers_per_block 2, norm_num_groups 32, sample_size 768, scaling_factor 0.18215.
# [S7] huggingface.co/stabilityai/stable-diffusion-2-1-unclip-small/blob/61fbd68/
#      image_encoder/config.json: CLIPVisionModelWithProjection, ViT-L/14 (hidden 1024,
#      24 layers, patch 14), projection_dim 768 — the image-embedding size; and
#      diffusers/stable-diffusion-2-1-unclip-t2i-l image_normalizer/config.json:
#      embedding_dim 768.
# Not found in the searchable corpus: a verbatim copy of unclip-small's own
# unet/config.json; its values are those [S2] derives from [S1] and agree with [S3]/[S5]
# for everything SD 2.1 has, plus the class embedding of [S1].
# --------------------------------------------------------------------------------------

UNET_CONFIG: dict[str, Any] = {
    "sample_size": 96,  # [S1] image_size 96; [S2] 768 // vae factor 8
    "in_channels": 4,  # [S1] in_channels 4; [S5]
    "out_channels": 4,  # [S1] out_channels 4; [S5]
    "layers_per_block": 2,  # [S1] num_res_blocks 2; [S3] [S5]
    "block_out_channels": (320, 640, 1280, 1280),  # [S1] 320 x [1, 2, 4, 4]; [S3] [S5]
    "down_block_types": (  # [S1] attention_resolutions [4, 2, 1] via [S2]; [S5]
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    "up_block_types": (  # [S2] mirror of the down blocks; [S3] (last block no attention)
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ),
    "cross_attention_dim": 1024,  # [S1] context_dim 1024; [S3] [S5]
    "attention_head_dim": (5, 10, 20, 20),  # [S2] 320 // 64 x [1, 2, 4, 4]; [S3] [S5]
    "use_linear_projection": True,  # [S1] use_linear_in_transformer; [S3]
    "transformer_layers_per_block": 1,  # [S1] transformer_depth 1
    "norm_num_groups": 32,  # [S3] [S5] (diffusers default)
    "class_embed_type": "projection",  # [S1] num_classes "sequential" via [S2]
    "projection_class_embeddings_input_dim": 2 * UNCLIP_EMBED_DIM,  # [S1] adm_in_channels 1536
}
"""UNet2DConditionModel of Stable unCLIP-L (stable-diffusion-2-1-unclip-small)."""

VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,  # [S1] in_channels 3; [S6]
    "out_channels": 3,  # [S1] out_ch 3; [S6]
    "down_block_types": ("DownEncoderBlock2D",) * 4,  # [S1] attn_resolutions [] via [S2]; [S6]
    "up_block_types": ("UpDecoderBlock2D",) * 4,  # idem
    "block_out_channels": (128, 256, 512, 512),  # [S1] ch 128 x [1, 2, 4, 4]; [S3] [S6]
    "layers_per_block": 2,  # [S1] num_res_blocks 2; [S3] [S6]
    "latent_channels": 4,  # [S1] z_channels 4; [S3] [S6]
    "norm_num_groups": 32,  # [S3] [S6]
    "sample_size": IMAGE_SIZE,  # [S6]
    "scaling_factor": 0.18215,  # [S1] scale_factor; [S2]; [S6]
}
"""AutoencoderKL of SD 2.1 (the unCLIP pipeline decodes with it)."""

TEXT_ENCODER_CONFIG: dict[str, Any] = {
    "vocab_size": 49408,  # [S4] [S6]
    "hidden_size": 1024,  # [S4] [S6]
    "intermediate_size": 4096,  # [S4] [S6]
    "num_hidden_layers": 23,  # [S4] [S6]; [S1] layer "penultimate" of ViT-H's 24; [S2]
    "num_attention_heads": 16,  # [S4] [S6]
    "max_position_embeddings": TEXT_TOKENS,  # [S4] [S6]
    "hidden_act": "gelu",  # [S4] [S6]
    "projection_dim": 512,  # [S4] [S6] (unused by CLIPTextModel)
}
"""transformers CLIPTextModel of SD 2.1: OpenCLIP ViT-H/14's text tower, 23 of 24 layers."""

SD21_BASE_UNET_OVERRIDES: dict[str, Any] = {
    "sample_size": 64,
    "class_embed_type": None,
    "projection_class_embeddings_input_dim": None,
}
"""stabilityai/stable-diffusion-2-1-base's U-Net = the SD 2.1 U-Net without the unCLIP class
embedding, at 512 x 512 (64 x 64 latent) — the workload of Apple's handset benchmark used
for :data:`netsim.model.devices.DEVICE_PROFILES`."""


# --------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------


def _flop_counter() -> Any:
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False)


def count_flops(module: Callable[..., Any], *inputs: Any, **kwargs: Any) -> int:
    """FLOPs of one call ``module(*inputs, **kwargs)`` by torch's FlopCounterMode
    (2 per multiply-accumulate; matrix products, convolutions and attention only), without
    gradients. Works on CPU and on meta tensors (same counts), except for CPU fused
    attention, which the counter misses: count attention on meta."""
    return sum(count_flops_by_op(module, *inputs, **kwargs).values())


def count_flops_by_op(module: Callable[..., Any], *inputs: Any, **kwargs: Any) -> dict[str, int]:
    """FLOPs of one call, by aten operator name (e.g. ``"convolution"``, ``"bmm"``)."""
    import torch

    with torch.no_grad(), _flop_counter() as counter:
        module(*inputs, **kwargs)
    return {
        str(getattr(op, "__name__", op)).split(".")[-1]: int(flops)
        for op, flops in counter.get_flop_counts().get("Global", {}).items()
    }


def _meta() -> torch.device:
    import torch

    return torch.device("meta")


def build_unet(**overrides: Any) -> Any:
    """The Stable unCLIP-L U-Net (:data:`UNET_CONFIG`, with ``overrides``), on meta."""
    from diffusers import UNet2DConditionModel

    with _meta():
        return UNet2DConditionModel(**{**UNET_CONFIG, **overrides}).eval()


def build_vae() -> Any:
    """The SD 2.1 AutoencoderKL (:data:`VAE_CONFIG`), on meta."""
    from diffusers import AutoencoderKL

    with _meta():
        return AutoencoderKL(**VAE_CONFIG).eval()


def build_text_encoder() -> Any:
    """The SD 2.1 text encoder (:data:`TEXT_ENCODER_CONFIG`), on meta."""
    from transformers import CLIPTextConfig, CLIPTextModel

    with _meta():
        return CLIPTextModel(CLIPTextConfig(**TEXT_ENCODER_CONFIG)).eval()


def unet_step_flops_by_op(
    latent_size: int = UNET_CONFIG["sample_size"], guidance: bool = True, unclip: bool = True
) -> dict[str, int]:
    """FLOPs of one denoising step by operator: one U-Net forward at batch 2 (classifier-free
    guidance) or 1, on a ``latent_size`` square latent. ``unclip=False``: the SD 2.1-base
    U-Net (no image-embedding class embedding)."""
    return dict(_unet_step_counts(latent_size, guidance, unclip))


@cache
def _unet_step_counts(
    latent_size: int, guidance: bool, unclip: bool
) -> tuple[tuple[str, int], ...]:
    import torch

    overrides: dict[str, Any] = {"sample_size": latent_size}
    if not unclip:
        overrides = {**SD21_BASE_UNET_OVERRIDES, **overrides}
    unet = build_unet(**overrides)
    batch = 2 if guidance else 1
    with _meta():
        sample = torch.empty(batch, UNET_CONFIG["in_channels"], latent_size, latent_size)
        timestep = torch.empty(batch, dtype=torch.long)
        context = torch.empty(batch, TEXT_TOKENS, UNET_CONFIG["cross_attention_dim"])
        labels = (
            torch.empty(batch, UNET_CONFIG["projection_class_embeddings_input_dim"])
            if unclip
            else None
        )
    counts = count_flops_by_op(
        unet, sample, timestep, encoder_hidden_states=context, class_labels=labels
    )
    return tuple(sorted(counts.items()))


def unet_step_flops(
    latent_size: int = UNET_CONFIG["sample_size"], guidance: bool = True, unclip: bool = True
) -> int:
    """FLOPs of one denoising step (see :func:`unet_step_flops_by_op`)."""
    return sum(unet_step_flops_by_op(latent_size, guidance, unclip).values())


@cache
def vae_decode_flops(latent_size: int = UNET_CONFIG["sample_size"]) -> int:
    """FLOPs of ``vae.decode`` of one latent (4 x latent_size^2 -> 3 x (8 latent_size)^2)."""
    import torch

    vae = build_vae()
    with _meta():
        latent = torch.empty(1, VAE_CONFIG["latent_channels"], latent_size, latent_size)
    return count_flops(vae.decode, latent)


@cache
def text_encoder_flops() -> int:
    """FLOPs of one text-encoder forward on one 77-token prompt."""
    import torch

    encoder = build_text_encoder()
    with _meta():
        ids = torch.zeros(1, TEXT_TOKENS, dtype=torch.long)
    return count_flops(encoder, ids)


def text_encoder_calls(guidance: bool = True) -> int:
    """Text-encoder forwards per image: prompt and negative prompt with guidance, else 1."""
    return 2 if guidance else 1


@cache
def classifier_flops(receiver: str, embed_dim: int, n_classes: int = N_CLASSES) -> int:
    """FLOPs of one classification of one feature vector by the receiver of
    :mod:`netsim.semantic.receivers` (``"zero-shot"`` or ``"head"``), run on meta."""
    import torch

    from netsim.semantic.receivers import LinearHead, ZeroShot

    with _meta():
        features = torch.empty(1, embed_dim)
        if receiver == "zero-shot":
            classifier: Any = ZeroShot.__new__(ZeroShot)  # skip encoding the class names
            classifier.text = torch.empty(n_classes, embed_dim)
        elif receiver == "head":
            classifier = LinearHead(
                torch.empty(embed_dim),
                torch.empty(embed_dim),
                torch.nn.Linear(embed_dim, n_classes),
            )
        else:
            raise ValueError(f"unknown classification receiver {receiver!r}: zero-shot or head")
    return count_flops(classifier.logits, features)


@cache
def adapter_flops(embed_dim: int, target_dim: int = UNCLIP_EMBED_DIM) -> int:
    """FLOPs of the receiver's affine adapter (:class:`netsim.semantic.regeneration.Adapter`)
    on one feature vector; 0 when the encoder already speaks the decoder's space."""
    if embed_dim == target_dim:
        return 0
    import torch

    from netsim.semantic.regeneration import Adapter

    with _meta():  # Adapter.__call__ builds its ones column on the default device
        adapter = Adapter(torch.empty(embed_dim + 1, target_dim, dtype=torch.float64))
        features = torch.empty(1, embed_dim)
        return count_flops(adapter, features)


# --------------------------------------------------------------------------------------
# Per receiver
# --------------------------------------------------------------------------------------

TASKS = ("classify", "regenerate")
RECEIVERS: dict[str, tuple[str, ...]] = {
    "classify": ("zero-shot", "head"),
    "regenerate": ("unclip",),
}
DEFAULT_RECEIVER = {"classify": "zero-shot", "regenerate": "unclip"}


@dataclass(frozen=True)
class ReceiverFlops:
    """The work of one receiver on one image: ``total(steps) = once + steps x per_step``."""

    receiver: str
    task: str
    encoder: str
    embed_dim: int
    once: int
    """FLOPs per image that do not depend on the number of denoising steps."""
    per_step: int
    """FLOPs per denoising step (0 for classification)."""
    parts: dict[str, int] = field(default_factory=dict)
    """The terms of ``once`` and ``per_step`` by component."""
    source: str = ""

    def total(self, steps: int = DEFAULT_STEPS) -> int:
        return self.once + (steps * self.per_step if self.task == "regenerate" else 0)


def _resolve_encoder(encoder: str | int) -> tuple[str, int]:
    if isinstance(encoder, int):
        names = [name for name, spec in ENCODERS.items() if spec.embed_dim == encoder]
        return (names[0] if len(names) == 1 else f"{encoder}-d", encoder)
    if encoder not in ENCODERS:
        raise ValueError(
            f"unknown encoder {encoder!r}: one of {', '.join(ENCODERS)} or a dimension"
        )
    return encoder, ENCODERS[encoder].embed_dim


def receiver_breakdown(
    task: str,
    encoder: str | int,
    *,
    receiver: str | None = None,
    guidance: bool = True,
    n_classes: int = N_CLASSES,
) -> ReceiverFlops:
    """The FLOPs of the receiver for ``task`` fed by ``encoder`` (a name of
    :data:`netsim.model.encoders.ENCODERS` or an embedding dimension)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: classify or regenerate")
    receiver = receiver or DEFAULT_RECEIVER[task]
    if receiver not in RECEIVERS[task]:
        raise ValueError(f"receiver {receiver!r} does not do {task}: {', '.join(RECEIVERS[task])}")
    name, dim = _resolve_encoder(encoder)
    if task == "classify":
        flops = classifier_flops(receiver, dim, n_classes)
        what = (
            "ZeroShot.logits: normalise, (1,d) @ (d,K)"
            if receiver == "zero-shot"
            else ("LinearHead.logits: standardise, nn.Linear(d,K)")
        )
        return ReceiverFlops(
            receiver,
            task,
            name,
            dim,
            once=flops,
            per_step=0,
            parts={"classifier": flops},
            source=f"netsim.semantic.receivers {what}, K={n_classes}; FlopCounterMode on meta",
        )
    calls = text_encoder_calls(guidance)
    parts = {
        "text_encoder": calls * text_encoder_flops(),
        "vae_decode": vae_decode_flops(),
        "adapter": adapter_flops(dim),
        "unet_step": unet_step_flops(guidance=guidance),
    }
    batch = 2 if guidance else 1
    adapter = f" + affine adapter {dim}+1->{UNCLIP_EMBED_DIM}" if parts["adapter"] else ""
    source = (
        f"{UNCLIP_MODEL} at {IMAGE_SIZE}x{IMAGE_SIZE}: once = SD 2.1 OpenCLIP-ViT-H text encoder"
        f" (23 layers, {TEXT_TOKENS} tokens) x{calls}"
        f"{' (CFG: prompt + negative prompt)' if guidance else ''}"
        f" + AutoencoderKL decode of a 4x96x96 latent{adapter}; per step = UNet2DConditionModel"
        f" (SD 2.1, projection class embedding {2 * UNCLIP_EMBED_DIM}) at batch {batch}"
        f"{' (classifier-free guidance)' if guidance else ''}; FlopCounterMode on meta"
    )
    return ReceiverFlops(
        receiver,
        task,
        name,
        dim,
        once=parts["text_encoder"] + parts["vae_decode"] + parts["adapter"],
        per_step=parts["unet_step"],
        parts=parts,
        source=source,
    )


def receiver_flops(
    task: str,
    encoder: str | int,
    steps: int = DEFAULT_STEPS,
    *,
    receiver: str | None = None,
    guidance: bool = True,
    n_classes: int = N_CLASSES,
) -> int:
    """Total FLOPs per image: classify -> the classifier; regenerate -> text encoder
    (x2 with guidance) + VAE decode (+ adapter for 512-d encoders) + steps x U-Net step."""
    return receiver_breakdown(
        task, encoder, receiver=receiver, guidance=guidance, n_classes=n_classes
    ).total(steps)


TABLE_COLUMNS = (
    "task",
    "receiver",
    "encoder",
    "embed_dim",
    "flops_once",
    "flops_per_step",
    "source",
)
"""Columns of the shipped CSV (netsim/model/data/receiver_flops.csv)."""


def flops_table(
    steps: int | None = None,
    *,
    encoders: Sequence[str] = tuple(ENCODERS),
    guidance: bool = True,
    n_classes: int = N_CLASSES,
) -> pd.DataFrame:
    """One row per (task, receiver, encoder): :data:`TABLE_COLUMNS`; with ``steps``, also
    ``steps`` and ``flops_total`` = flops_once + steps x flops_per_step."""
    import pandas as pd

    rows = []
    for task in TASKS:
        for receiver in RECEIVERS[task]:
            for encoder in encoders:
                counted = receiver_breakdown(
                    task, encoder, receiver=receiver, guidance=guidance, n_classes=n_classes
                )
                row: dict[str, Any] = {
                    "task": task,
                    "receiver": receiver,
                    "encoder": counted.encoder,
                    "embed_dim": counted.embed_dim,
                    "flops_once": counted.once,
                    "flops_per_step": counted.per_step,
                    "source": counted.source,
                }
                if steps is not None:
                    row["steps"] = steps if task == "regenerate" else 0
                    row["flops_total"] = counted.total(steps)
                rows.append(row)
    return pd.DataFrame(rows)


# Device classes (t_C = FLOPs / flops_per_s, E_U = FLOPs x joules_per_flop) live in the
# model layer, netsim/model/devices.py, which the simulator reads.


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def _si(value: float) -> str:
    """1024000 -> '1.024 M', 4.3e12 -> '4.298 T' (FLOPs, SI prefixes)."""
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {prefix}"
    return f"{value:.0f}"


def write_table(out: Path, *, guidance: bool = True, n_classes: int = N_CLASSES) -> pd.DataFrame:
    table = flops_table(guidance=guidance, n_classes=n_classes)[list(TABLE_COLUMNS)]
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, lineterminator="\n")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m netsim.semantic.flops",
        description="Count the FLOPs per image of the user's receivers (meta device).",
    )
    parser.add_argument("--out", type=Path, help="write the table (CSV) here")
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help="denoising steps for the total"
    )
    parser.add_argument(
        "--classes", type=int, default=N_CLASSES, help="classes K of the classifiers"
    )
    parser.add_argument(
        "--no-guidance",
        dest="guidance",
        action="store_false",
        help="count the U-Net at batch 1 and the text encoder once (guidance_scale <= 1)",
    )
    args = parser.parse_args(argv)
    if args.out is not None:
        write_table(args.out, guidance=args.guidance, n_classes=args.classes)
    shown = flops_table(args.steps, guidance=args.guidance, n_classes=args.classes)
    shown = shown.drop(columns="source")
    for column in ("flops_once", "flops_per_step", "flops_total"):
        shown[column] = shown[column].map(_si)
    print(shown.to_string(index=False))
    if args.out is not None:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
