"""CLIP image encoders through open_clip (DESIGN §1): ViT-B-32, ViT-B-16, ViT-L-14.

Weights (``pretrained``):

* ``none`` — random initialisation (tests, benchmarks: same FLOPs as the real model);
* a pretrained tag, e.g. ``openai`` — looked up in the Hugging Face cache (``cache_dir``
  or the default ~/.cache/huggingface) and open_clip's URL cache (~/.cache/clip); never
  fetched unless ``allow_download`` (so an offline machine fails at once, with one line);
* a checkpoint file, or a folder holding ``<ENCODER>.pt|.bin|.safetensors`` files.

The OpenAI weights were trained with QuickGELU: a tag whose open_clip config says so,
a checkpoint file and random weights all use open_clip's ``-quickgelu`` model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsim.errors import ScenarioError
from netsim.model.encoders import ENCODERS

if TYPE_CHECKING:
    import torch
    from PIL import Image

RANDOM_WEIGHTS = "none"
CHECKPOINT_SUFFIXES = (".pt", ".bin", ".safetensors", ".pth")
OPTION = "--pretrained"


def _quickgelu_name(name: str) -> str:
    import open_clip

    if name in ENCODERS:
        return ENCODERS[name].open_clip_name
    variant = f"{name}-quickgelu"
    return variant if variant in open_clip.list_models() else name


def _cached_checkpoint(cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    """The file a pretrained tag's weights would be downloaded to, if it is already there."""
    from huggingface_hub import try_to_load_from_cache

    hub = cfg.get("hf_hub", "")
    if hub:
        repo, filename = os.path.split(hub)
        names = (
            [filename]
            if filename
            else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        )
        for name in names:
            path = try_to_load_from_cache(repo, name, cache_dir=cache_dir)
            if isinstance(path, str):
                return path
    url = cfg.get("url", "")
    if url:
        folder = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "clip"
        path = folder / os.path.basename(url)
        if path.is_file():
            return str(path)
    return None


def resolve_weights(
    name: str, pretrained: str, cache_dir: str | None = None, allow_download: bool = False
) -> tuple[str, str | None]:
    """(open_clip model name, what to pass as open_clip's ``pretrained``: a file, a tag to
    download, or None for random weights)."""
    import open_clip

    if pretrained == RANDOM_WEIGHTS:
        return _quickgelu_name(name), None
    path = Path(pretrained).expanduser()
    if path.is_file():
        return _quickgelu_name(name), str(path)
    if path.is_dir():
        for suffix in CHECKPOINT_SUFFIXES:
            if (path / f"{name}{suffix}").is_file():
                return _quickgelu_name(name), str(path / f"{name}{suffix}")
        raise ScenarioError(
            str(path), name, f"no checkpoint {name}.pt (or .bin, .safetensors) in the folder"
        )
    base = name if name in open_clip.list_models() else _quickgelu_name(name)
    cfg = open_clip.get_pretrained_cfg(base, pretrained)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(base)) or "none"
        raise ScenarioError(
            OPTION,
            name,
            f"{pretrained!r} is not 'none', a checkpoint file or folder, or a pretrained "
            f"tag of {base} (tags: {tags})",
        )
    model_name = _quickgelu_name(name) if cfg.get("quick_gelu") else base
    cached = _cached_checkpoint(cfg, cache_dir)
    if cached is not None:
        return model_name, cached
    if allow_download:
        return model_name, pretrained
    where = cache_dir or "the Hugging Face cache (~/.cache/huggingface)"
    raise ScenarioError(
        OPTION,
        name,
        f"no '{pretrained}' weights in {where}: run the command once with --download on a "
        f"machine with internet, or pass --pretrained FILE or a folder of {name}.pt files",
    )


@dataclass
class Encoder:
    """A loaded open_clip model: image features (unnormalised, as transmitted) and text features."""

    name: str
    weights: str
    model: Any
    preprocess: Any
    tokenizer: Any
    device: str

    @property
    def embed_dim(self) -> int:
        return int(self.model.visual.output_dim)

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    def encode_images(
        self, images: list[Image.Image], batch_size: int = 32, on_batch=None
    ) -> torch.Tensor:
        """(N, d) float32 image embeddings on the CPU, batched, in inference mode."""
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = torch.stack(
                    [self.preprocess(im) for im in images[start : start + batch_size]]
                )
                out.append(self.model.encode_image(batch.to(self.device)).float().cpu())
                if on_batch is not None:
                    on_batch(len(batch))
        return torch.cat(out) if out else torch.empty(0, self.embed_dim)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """(K, d) unit-norm text embeddings on the CPU."""
        import torch

        with torch.inference_mode():
            tokens = self.tokenizer(texts).to(self.device)
            return self.model.encode_text(tokens, normalize=True).float().cpu()


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Seed torch's global generator for module constructors that draw their initial
    weights from it, and restore its state afterwards."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_encoder(
    name: str,
    pretrained: str = "openai",
    *,
    cache_dir: str | None = None,
    allow_download: bool = False,
    image_size: int | None = None,
    device: str | None = None,
    init_seed: int = 0,
) -> Encoder:
    """An open_clip model in eval mode. ``image_size`` overrides the model's input size
    (smaller images for quick checks with random weights; positional embeddings of a
    checkpoint are resized by open_clip). Random weights are drawn with ``init_seed``."""
    import logging

    import open_clip

    model_name, source = resolve_weights(name, pretrained, cache_dir, allow_download)
    device = device or default_device()
    open_clip_log = logging.getLogger()  # open_clip logs to the root logger
    level = open_clip_log.level
    open_clip_log.setLevel(logging.CRITICAL)  # its complaints become our one-line error
    try:
        with seeded_init(init_seed):
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name,
                pretrained=source,
                force_image_size=image_size,
                cache_dir=cache_dir,
                device=device,
            )
    except Exception as error:  # noqa: BLE001 - a damaged or foreign checkpoint fails in many ways
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ScenarioError(
            OPTION, name, f"cannot load {model_name} weights from {source}: {problem}"
        ) from None
    finally:
        open_clip_log.setLevel(level)
    model.eval()
    if name in ENCODERS and model.visual.output_dim != ENCODERS[name].embed_dim:
        raise ScenarioError(
            OPTION,
            name,
            f"embedding size {model.visual.output_dim}, expected {ENCODERS[name].embed_dim}",
        )
    weights = "random" if source is None else pretrained
    return Encoder(name, weights, model, preprocess, open_clip.get_tokenizer(model_name), device)
