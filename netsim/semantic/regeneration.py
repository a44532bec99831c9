"""Image regeneration from received CLIP features (DESIGN §1, task performance).

The user's decoder is diffusers' ``StableUnCLIPImg2ImgPipeline`` driven by
``image_embeds`` (no image, empty prompt). stable-diffusion-2-1-unclip-small was trained
on OpenAI ViT-L/14 image embeddings (768-d, projected, not normalised): a ViT-L-14
feature vector goes in as received. For the 512-d encoders the receiver trains an
**adapter** on its own images, without the transmitter: an affine least-squares map
(torch.linalg.lstsq, with a small ridge term) from the encoder's embeddings of those
images to the ViT-L-14 embeddings of the same images.

The score is the CLIP image-to-image similarity — the cosine between the scorer's
embeddings of the original and the regenerated image — with a scorer that is not the
transmitted encoder (otherwise the metric would reward reproducing its own features).

``unclip='random'`` builds the pipeline from tiny randomly initialised components (a
small UNet, VAE, CLIP text model and a tokenizer over a letters-only vocabulary), for
checks without weights; it exercises the same code path, not the same image quality.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsim.errors import ScenarioError
from netsim.semantic.encoders import seeded_init

if TYPE_CHECKING:
    import torch
    from PIL import Image


UNCLIP_MODEL = "stabilityai/stable-diffusion-2-1-unclip-small"
UNCLIP_ENCODER = "ViT-L-14"
"""The encoder whose embedding space the unCLIP decoder was trained in."""
RANDOM_UNCLIP = "random"


def _tiny_tokenizer(max_length: int) -> Any:
    """A CLIP BPE tokenizer over lower-case letters (no merges), written to a temporary folder."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in "abcdefghijklmnopqrstuvwxyz":
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "vocab.json").write_text(json.dumps(vocab))
        (Path(folder) / "merges.txt").write_text("#version: 0.2\n")
        return CLIPTokenizer(
            str(Path(folder) / "vocab.json"),
            str(Path(folder) / "merges.txt"),
            model_max_length=max_length,
        )


def tiny_unclip_pipeline(embed_dim: int = 768, seed: int = 0) -> Any:
    """StableUnCLIPImg2ImgPipeline from tiny random components (16 x 16 px output)."""
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableUnCLIPImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import (
        StableUnCLIPImageNormalizer,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    tokenizer = _tiny_tokenizer(max_length=8)
    small = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
    }
    with seeded_init(seed):
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                max_position_embeddings=8,
                projection_dim=16,
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
                **small,
            )
        )
        image_encoder = CLIPVisionModelWithProjection(
            CLIPVisionConfig(image_size=16, patch_size=8, projection_dim=embed_dim, **small)
        )
        unet = UNet2DConditionModel(
            sample_size=8,
            in_channels=4,
            out_channels=4,
            layers_per_block=1,
            block_out_channels=(8, 16),
            norm_num_groups=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=16,
            attention_head_dim=(2, 4),
            class_embed_type="projection",
            projection_class_embeddings_input_dim=2 * embed_dim,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            block_out_channels=(8, 16),
            norm_num_groups=4,
            latent_channels=4,
            layers_per_block=1,
        )
    pipe = StableUnCLIPImg2ImgPipeline(
        feature_extractor=CLIPImageProcessor(size=16, crop_size=16),
        image_encoder=image_encoder,
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=embed_dim),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        unet=unet,
        scheduler=DDIMScheduler(
            beta_schedule="scaled_linear",
            beta_start=0.00085,
            beta_end=0.012,
            prediction_type="v_prediction",
            set_alpha_to_one=False,
            steps_offset=1,
        ),
        vae=vae,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def resolve_unclip(source: str, cache_dir: str | None = None, allow_download: bool = False) -> str:
    """Where the unCLIP pipeline comes from: 'random', a local folder, the cached snapshot
    of a Hugging Face id (read from the cache only, never the network), or the id itself
    when downloads are allowed."""
    if source == RANDOM_UNCLIP or Path(source).expanduser().is_dir() or allow_download:
        return source
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(source, cache_dir=cache_dir, local_files_only=True)
    except (OSError, ValueError):
        where = cache_dir or "the Hugging Face cache (~/.cache/huggingface)"
        raise ScenarioError(
            "--unclip",
            source,
            f"not in {where}: run the command once with --download on a machine with internet,"
            " or pass --unclip DIR (a diffusers pipeline folder)",
        ) from None


def load_unclip(
    source: str,
    *,
    device: str,
    cache_dir: str | None = None,
    allow_download: bool = False,
    seed: int = 0,
) -> Any:
    """The unCLIP pipeline: 'random' (tiny, random weights), a local folder, or a Hugging
    Face model id read from the cache (fetched only with ``allow_download``)."""
    source = resolve_unclip(source, cache_dir, allow_download)
    if source == RANDOM_UNCLIP:
        return tiny_unclip_pipeline(seed=seed).to(device)
    from diffusers import StableUnCLIPImg2ImgPipeline
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # one line on failure, no advice on accelerate
    try:
        pipe = StableUnCLIPImg2ImgPipeline.from_pretrained(
            source, cache_dir=cache_dir, local_files_only=not allow_download
        )
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ScenarioError(
            "--unclip", source, f"cannot load the unCLIP pipeline: {first}"
        ) from None
    finally:
        diffusers_logging.set_verbosity(level)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def unclip_embed_dim(pipe: Any) -> int:
    return int(pipe.image_normalizer.config.embedding_dim)


class Adapter:
    """Affine map from one encoder's embeddings to the unCLIP decoder's embedding space,
    fitted by the receiver on its own images (ridge-regularised least squares)."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight  # (d_in + 1, d_out)

    @classmethod
    def fit(cls, source: torch.Tensor, target: torch.Tensor, ridge: float = 1e-3) -> Adapter:
        import torch

        x = torch.cat([source.double(), torch.ones(len(source), 1, dtype=torch.float64)], dim=1)
        y = target.double()
        penalty = ridge * x.pow(2).mean() * torch.eye(x.shape[1], dtype=torch.float64)
        penalty[-1, -1] = 0.0  # do not shrink the offset
        weight = torch.linalg.solve(x.T @ x + len(x) * penalty, x.T @ y)
        return cls(weight)

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        import torch

        x = torch.cat([features.double(), torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
        return (x @ self.weight).float()


def regenerate(
    pipe: Any,
    image_embeds: torch.Tensor,
    generator: torch.Generator,
    steps: int,
    batch_size: int = 8,
) -> list[Image.Image]:
    """One image per embedding, from the unCLIP pipeline with an empty prompt."""
    images: list[Image.Image] = []
    device = pipe.device
    for start in range(0, len(image_embeds), batch_size):
        batch = image_embeds[start : start + batch_size].to(device, pipe.unet.dtype)
        out = pipe(
            prompt=[""] * len(batch),
            image_embeds=batch,
            num_inference_steps=steps,
            generator=generator,
        )
        images.extend(out.images)
    return images


def clip_i2i_similarity(original_embeds: torch.Tensor, regenerated_embeds: torch.Tensor
                        ) -> torch.Tensor:
    """(N,) CLIP image-to-image similarity: the cosine between a scorer's embedding of each
    original image and of its regeneration (rows of the two (N, D) tensors; the
    originals' embeddings are computed once and reused across SNRs)."""
    import torch.nn.functional as F

    return (F.normalize(original_embeds, dim=1) * F.normalize(regenerated_embeds, dim=1)).sum(dim=1)
