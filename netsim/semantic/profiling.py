"""Measure a task-loss profile with the real pipeline (DESIGN §4): open_clip encoder ->
feature channel at each SNR -> classifier or unCLIP decoder -> metrics, written in the
schema ``netsim.model.taskloss`` reads (``netsim profile``).

The ``snr_db`` column is the per-element SNR of the received features, the axis the
simulator looks profiles up on: in the analog modes the RB's SNR itself; in digital mode
the equivalent feature SNR of the channel SNR measured
(``netsim.model.transmission.digital_feature_snr``), so that a scenario with the same
quantisation and modulation reads each row at the channel SNR it was measured at. The
metrics a task does not measure (CLIP-I for classification; accuracy and cross-entropy
for regeneration) are copied from the shipped analytic profile, and the provenance says so.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from netsim.errors import ScenarioError
from netsim.model.channel import db_to_linear, linear_to_db
from netsim.model.encoders import ENCODERS
from netsim.model.taskloss import DEFAULT_PROFILE_PATH, METRICS, load_profile
from netsim.model.transmission import bit_error_rate, digital_feature_snr
from netsim.scenario import Transmission
from netsim.semantic import data as datasets
from netsim.semantic.channel import make_generator, transmit
from netsim.semantic.encoders import Encoder, load_encoder
from netsim.semantic.receivers import RECEIVERS, LinearHead, ZeroShot, noise_augmentation, score
from netsim.semantic.regeneration import UNCLIP_MODEL

if TYPE_CHECKING:
    import torch

Task = Literal["classify", "regenerate"]
TASK_METRICS = {"classify": ("accuracy", "cross_entropy"), "regenerate": ("clip_i2i_similarity",)}
EncoderLoader = Callable[..., Encoder]


@dataclass(frozen=True)
class ProfileSettings:
    """Everything a measured profile depends on (recorded in its provenance)."""

    encoders: tuple[str, ...]
    dataset: str = datasets.SYNTHETIC
    snr_db: tuple[float, ...] = tuple(float(x) for x in range(-10, 21, 2))
    task: Task = "classify"
    pretrained: str = "openai"
    samples: int | None = 1000
    seed: int = 0
    transmission: Transmission = field(default_factory=lambda: Transmission(mode="analog"))
    fading: str = "none"
    receiver: str = "zero-shot"
    augment: bool = False
    """Trained head only: train on features through the channel at the grid's SNRs."""
    train_fraction: float = 0.5
    """Share of the images the receiver keeps to train its head or adapter."""
    image_size: int | None = None
    batch_size: int = 32
    cache_dir: str | None = None
    allow_download: bool = False
    device: str | None = None
    unclip: str = UNCLIP_MODEL
    unclip_steps: int = 20
    scorer: str = "RN50"

    def check(self) -> None:
        for name in self.encoders:
            if name not in ENCODERS:
                raise ScenarioError(
                    "--encoders", name, f"unknown encoder (known: {', '.join(ENCODERS)})"
                )
        if not self.encoders:
            raise ScenarioError("--encoders", "", "name at least one encoder")
        if self.image_size is not None:  # a ViT cannot encode an image smaller than a patch
            widest = max(self.encoders, key=lambda name: ENCODERS[name].patch_px)
            if self.image_size < ENCODERS[widest].patch_px:
                raise ScenarioError(
                    "--image-size", str(self.image_size),
                    f"smaller than {widest}'s {ENCODERS[widest].patch_px}-pixel patches: use "
                    f"at least {ENCODERS[widest].patch_px}")
        if self.receiver not in RECEIVERS:
            raise ScenarioError(
                "--receiver", self.receiver, f"must be one of {', '.join(RECEIVERS)}"
            )
        if self.task == "regenerate" and self.scorer in self.encoders:
            raise ScenarioError(
                "--scorer",
                self.scorer,
                "must differ from the transmitted encoders (a circular metric)",
            )
        if not 0.0 < self.train_fraction < 1.0:  # unused by a zero-shot receiver, still checked
            raise ScenarioError(
                "--train-fraction", str(self.train_fraction), "must lie strictly between 0 and 1"
            )
        if self.device is not None:
            self._check_device()

    def _check_device(self) -> None:
        """A torch device string this machine has (checked before any model loads)."""
        import torch

        try:
            device = torch.device(self.device)
        except RuntimeError:
            raise ScenarioError("--device", str(self.device), "not a torch device (e.g. cpu, "
                                "cuda, cuda:1, mps)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ScenarioError("--device", str(self.device), "no CUDA device here")

    def check_weights(self) -> None:
        """Fail now, not after encoding, if some model's weights cannot be found."""
        from netsim.semantic.encoders import resolve_weights
        from netsim.semantic.regeneration import UNCLIP_ENCODER, resolve_unclip

        names = list(self.encoders)
        if self.task == "regenerate":
            names += [self.scorer, UNCLIP_ENCODER]
            resolve_unclip(self.unclip, self.cache_dir, self.allow_download)
        for name in dict.fromkeys(names):
            resolve_weights(name, self.pretrained, self.cache_dir, self.allow_download)

    def provenance(self, images: datasets.LabelledImages, evaluated: int) -> str:
        mode = self.transmission
        channel = (
            mode.mode
            if mode.mode != "digital"
            else f"digital {mode.quantization_bits} bit {mode.modulation}"
        )
        receiver = (
            f"{self.receiver}{' noise-augmented' if self.augment else ''}"
            if self.task == "classify"
            else f"unclip {self.unclip} ({self.unclip_steps} steps); scorer {self.scorer}"
        )
        unmeasured = [m for m in METRICS if m not in TASK_METRICS[self.task]]
        text = (
            f"measured (netsim profile): task={self.task}; receiver={receiver};"
            f" weights={self.pretrained}; data={images.description};"
            f" samples={len(images)} (evaluated {evaluated}); seed={self.seed};"
            f" mode={channel}; fading={self.fading}; image_size={self.image_size or 'native'};"
            f" {' and '.join(unmeasured)} from the analytic default"
        )
        return text.replace('"', "'")


def parse_snr_grid(text: str) -> tuple[float, ...]:
    """'-10:20:2' (start:stop:step, stop included) or '0,5,10' -> SNR values in dB."""
    text = text.strip()
    match = re.fullmatch(r"(-?[\d.]+):(-?[\d.]+):([\d.]+)", text)
    try:
        if match:
            start, stop, step = (float(g) for g in match.groups())
            if step <= 0 or stop < start:
                raise ValueError
            values = np.arange(start, stop + step / 2, step)
        else:
            values = np.array([float(part) for part in text.split(",")])
    except ValueError:
        raise ScenarioError(
            "--snr", text, "want START:STOP:STEP (e.g. -10:20:2) or a list like 0,5,10"
        ) from None
    if not np.all(np.isfinite(values)) or len(set(values.tolist())) != len(values):
        raise ScenarioError("--snr", text, "values must be finite and distinct")
    return tuple(round(float(v), 6) for v in values)


def profile_snr_db(snr_db: float, mode: Transmission) -> float:
    """The profile's axis for a channel SNR: the per-element SNR of the received features."""
    if mode.mode != "digital":
        return snr_db
    ber = bit_error_rate(db_to_linear(snr_db), mode.modulation)
    return float(linear_to_db(digital_feature_snr(ber, mode.quantization_bits)))


def _point_generator(seed: int, encoder: str, snr_db: float, purpose: int = 0) -> torch.Generator:
    """The generator of one (encoder, SNR) point: the same whatever else is measured."""
    return make_generator(seed, zlib.crc32(encoder.encode()), round(snr_db * 1000) + 10**9, purpose)


class _Progress:
    def __init__(self, callback: Callable[[int], None] | None) -> None:
        self.callback = callback

    def __call__(self, amount: int) -> None:
        if self.callback is not None:
            self.callback(amount)


def work_units(settings: ProfileSettings, images: int) -> int:
    """Progress-bar total: images encoded, then images evaluated at every SNR, per encoder."""
    evaluated = (
        images
        if settings.task == "classify" and settings.receiver == "zero-shot"
        else (images - round(settings.train_fraction * images))
    )
    return len(settings.encoders) * (images + evaluated * len(settings.snr_db))


def _load(settings: ProfileSettings, loader: EncoderLoader, name: str) -> Encoder:
    return loader(
        name,
        settings.pretrained,
        cache_dir=settings.cache_dir,
        allow_download=settings.allow_download,
        image_size=settings.image_size,
        device=settings.device,
    )


def _training_channel(
    settings: ProfileSettings, name: str
) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """The channel a noise-augmented head trains through (its own draws, not the evaluation's)."""
    generator = _point_generator(settings.seed, name, 0.0, 1)
    return lambda x, snr: transmit(x, snr, settings.transmission, generator, settings.fading)


def _classify_rows(
    settings: ProfileSettings,
    images: datasets.LabelledImages,
    loader: EncoderLoader,
    progress: _Progress,
) -> list[dict[str, object]]:
    import torch

    labels = torch.as_tensor(images.labels)
    train, evaluate = datasets.split(len(images), settings.train_fraction, settings.seed)
    if settings.receiver == "zero-shot":
        evaluate = np.arange(len(images))
    rows = []
    for name in settings.encoders:
        encoder = _load(settings, loader, name)
        features = encoder.encode_images(images.images, settings.batch_size, on_batch=progress)
        if settings.receiver == "zero-shot":
            classifier = ZeroShot(encoder, images.class_names)
        else:
            augment = None
            if settings.augment:
                augment = noise_augmentation(
                    settings.snr_db, _training_channel(settings, name), settings.seed
                )
            classifier = LinearHead.train(
                features[train], labels[train], len(images.class_names), augment
            )
        for snr in settings.snr_db:
            generator = _point_generator(settings.seed, name, snr)
            received = transmit(
                features[evaluate], snr, settings.transmission, generator, settings.fading
            )
            scores = score(classifier.logits(received), labels[evaluate])
            rows.append(
                {
                    "encoder": name,
                    "snr_db": snr,
                    "accuracy": scores.accuracy,
                    "cross_entropy": scores.cross_entropy,
                }
            )
            progress(len(evaluate))
    provenance = settings.provenance(images, len(evaluate))
    return [dict(row, provenance=provenance) for row in rows]


def _regenerate_rows(
    settings: ProfileSettings,
    images: datasets.LabelledImages,
    loader: EncoderLoader,
    progress: _Progress,
) -> list[dict[str, object]]:
    from netsim.semantic.regeneration import (
        UNCLIP_ENCODER,
        Adapter,
        clip_i2i_similarity,
        load_unclip,
        regenerate,
        unclip_embed_dim,
    )

    train, evaluate = datasets.split(len(images), settings.train_fraction, settings.seed)
    device = settings.device or _device()
    pipe = load_unclip(
        settings.unclip,
        device=device,
        cache_dir=settings.cache_dir,
        allow_download=settings.allow_download,
        seed=settings.seed,
    )
    target_dim = unclip_embed_dim(pipe)
    originals = [images.images[i] for i in evaluate]
    scorer = _load(settings, loader, settings.scorer)
    original_embeds = scorer.encode_images(originals, settings.batch_size)
    target: torch.Tensor | None = None
    rows = []
    for name in settings.encoders:
        encoder = _load(settings, loader, name)
        features = encoder.encode_images(images.images, settings.batch_size, on_batch=progress)
        if encoder.embed_dim == target_dim:
            adapter = None
        else:  # the receiver maps this encoder's space onto the decoder's, from its own images
            if target is None:
                unclip_encoder = _load(settings, loader, UNCLIP_ENCODER)
                target = unclip_encoder.encode_images(
                    [images.images[i] for i in train], settings.batch_size
                )
            adapter = Adapter.fit(features[train], target)
        for snr in settings.snr_db:
            received = transmit(
                features[evaluate],
                snr,
                settings.transmission,
                _point_generator(settings.seed, name, snr),
                settings.fading,
            )
            embeds = received if adapter is None else adapter(received)
            regenerated = regenerate(
                pipe,
                embeds,
                _point_generator(settings.seed, name, snr, 2),
                settings.unclip_steps,
                settings.batch_size,
            )
            similarity = clip_i2i_similarity(
                original_embeds, scorer.encode_images(regenerated, settings.batch_size)
            ).mean().item()
            rows.append({"encoder": name, "snr_db": snr, "clip_i2i_similarity": float(similarity)})
            progress(len(evaluate))
    provenance = settings.provenance(images, len(evaluate))
    return [dict(row, provenance=provenance) for row in rows]


def _device() -> str:
    from netsim.semantic.encoders import default_device

    return default_device()


def _complete(rows: list[dict[str, object]], settings: ProfileSettings) -> list[dict[str, object]]:
    """Rows on the profile's SNR axis, with the unmeasured metrics from the analytic default;
    in digital mode, rows whose feature SNR repeats the previous row's (bit errors too rare
    to matter) are dropped."""
    default = load_profile(DEFAULT_PROFILE_PATH)
    out: list[dict[str, object]] = []
    seen: set[tuple[object, str]] = set()
    for row in rows:
        snr = profile_snr_db(float(row["snr_db"]), settings.transmission)
        key = (row["encoder"], f"{snr:.6g}")
        if key in seen:
            continue
        seen.add(key)
        full = dict(row, snr_db=snr)
        for metric in METRICS:
            if metric not in full:
                full[metric] = float(
                    default.lookup(metric, [str(row["encoder"])], np.array([[snr]]))[0, 0, 0]
                )
        out.append(full)
    return out


def measure_profile(
    settings: ProfileSettings,
    progress: Callable[[int], None] | None = None,
    loader: EncoderLoader = load_encoder,
    images: datasets.LabelledImages | None = None,
) -> list[dict[str, object]]:
    """The profile rows (encoder, snr_db, accuracy, cross_entropy, clip_i2i_similarity,
    provenance). ``images`` overrides the settings' data set (already loaded)."""
    settings.check()
    if images is None:
        images = load_dataset(settings)
    measure = _classify_rows if settings.task == "classify" else _regenerate_rows
    return _complete(measure(settings, images, loader, _Progress(progress)), settings)


def load_dataset(settings: ProfileSettings) -> datasets.LabelledImages:
    size = settings.image_size or 224
    images = datasets.load_images(settings.dataset, settings.samples, settings.seed, size)
    if len(images) < 2:
        raise ScenarioError(settings.dataset, "", f"{len(images)} images: need at least 2")
    return images


def write_profile(path: str | Path, rows: Sequence[dict[str, object]]) -> None:
    """The profile CSV, atomically, with stable float formatting (same rows, same bytes)."""
    from netsim.io import atomic_write_text
    from netsim.model.profile_model import render_csv

    atomic_write_text(path, render_csv(list(rows)))
