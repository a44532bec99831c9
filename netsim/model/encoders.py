"""The CLIP image encoders a base station can choose from (DESIGN §1).

Figures are open_clip's published profile of the image towers with OpenAI weights.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderSpec:
    """Published facts about one CLIP image encoder."""

    name: str
    embed_dim: int
    image_params_m: float
    """Parameters of the image tower, millions."""
    image_gflops: float
    """Giga multiply-accumulates per 224 x 224 image (open_clip counts MACs as GFLOPs)."""
    zero_shot_top1: float
    """ImageNet zero-shot top-1 accuracy, fraction."""
    open_clip_name: str
    """Model name understood by ``open_clip.create_model``."""
    pretrained_tag: str = "openai"

    @property
    def patch_px(self) -> int:
        """The side of the ViT's image patches, pixels (the last part of the name): the
        smallest input it can encode."""
        return int(self.name.rsplit("-", 1)[1])


ENCODERS: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in (
        EncoderSpec("ViT-B-32", 512, 87.85, 8.82, 0.6332, "ViT-B-32-quickgelu"),
        EncoderSpec("ViT-B-16", 512, 86.19, 35.13, 0.6834, "ViT-B-16-quickgelu"),
        EncoderSpec("ViT-L-14", 768, 303.97, 162.03, 0.7554, "ViT-L-14-quickgelu"),
    )
}

REFERENCE_ENCODER = "ViT-B-32"
"""Relative encoder size s_m (paper eq. 3) is measured against this encoder's GFLOPs."""


def relative_size(name: str) -> float:
    """s_m of paper eq. 3: the encoder's compute relative to ViT-B-32 (= 1)."""
    return ENCODERS[name].image_gflops / ENCODERS[REFERENCE_ENCODER].image_gflops
