"""Labelled images: an image folder (class = folder name) or a deterministic synthetic set
of coloured shapes, so that everything runs offline."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from netsim.errors import ScenarioError

if TYPE_CHECKING:
    from PIL import Image

SYNTHETIC = "synthetic"
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 180, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 215, 30),
}
SHAPES = ("circle", "square", "triangle")


@dataclass(frozen=True)
class LabelledImages:
    """Images with integer labels into ``class_names``; ``description`` goes into provenance."""

    images: list[Image.Image]
    labels: np.ndarray
    class_names: tuple[str, ...]
    description: str

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> LabelledImages:
        return LabelledImages(
            [self.images[i] for i in index], self.labels[index], self.class_names, self.description
        )


def synthetic_class_names(
    colours: int = len(COLOURS), shapes: int = len(SHAPES)
) -> tuple[str, ...]:
    """'red circle', 'red square', ...: every colour x shape pair is a class."""
    return tuple(
        f"{colour} {shape}"
        for colour, shape in itertools.product(list(COLOURS)[:colours], SHAPES[:shapes])
    )


def synthetic_image(
    index: int, seed: int, size: int, class_names: tuple[str, ...]
) -> tuple[Image.Image, int]:
    """Image ``index`` of the synthetic set: one shape of one colour on a grey background,
    at a random position, size and rotation. Drawn from its own generator (seed, index), so
    image i is the same whatever the set's length."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng([seed, index])
    label = int(rng.integers(len(class_names)))
    colour_name, shape = class_names[label].split(" ")
    background = int(rng.integers(90, 170))
    image = Image.new("RGB", (size, size), (background,) * 3)
    draw = ImageDraw.Draw(image)
    radius = size * rng.uniform(0.18, 0.32)
    cx, cy = rng.uniform(radius, size - radius, size=2)
    jitter = rng.integers(-20, 21, size=3)
    colour = tuple(int(c) for c in np.clip(np.array(COLOURS[colour_name]) + jitter, 0, 255))
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    else:
        corners = 4 if shape == "square" else 3
        draw.regular_polygon(
            (cx, cy, radius), corners, rotation=float(rng.uniform(0, 360)), fill=colour
        )
    return image, label


def synthetic_images(samples: int, seed: int, size: int = 224) -> LabelledImages:
    """``samples`` synthetic labelled images (12 classes: 4 colours x 3 shapes)."""
    names = synthetic_class_names()
    pairs = [synthetic_image(i, seed, size, names) for i in range(samples)]
    return LabelledImages(
        [p[0] for p in pairs],
        np.array([p[1] for p in pairs], dtype=np.int64),
        names,
        f"synthetic({len(names)} classes; {size} px)",
    )


def folder_images(root: str | Path, samples: int | None, seed: int) -> LabelledImages:
    """An image folder (torchvision ImageFolder: ROOT/CLASS/IMAGE); ``samples`` images drawn
    without replacement with the seed (all when None or more than there are)."""
    from torchvision.datasets import ImageFolder

    root = Path(root)
    if not root.is_dir():
        raise ScenarioError(
            str(root), "", "no such folder (want ROOT/CLASS_NAME/IMAGE files, or 'synthetic')"
        )
    try:
        folder = ImageFolder(str(root))
    except (FileNotFoundError, RuntimeError) as error:
        raise ScenarioError(str(root), "", f"not an image folder ({error})") from None
    count = len(folder.samples)
    index = np.arange(count)
    if samples is not None and samples < count:
        index = np.sort(np.random.default_rng(seed).choice(count, size=samples, replace=False))
    images = []
    for i in index:
        path = folder.samples[i][0]
        try:
            images.append(folder.loader(path))
        except OSError as error:
            raise ScenarioError(path, "", f"cannot read image ({error})") from None
    labels = np.array([folder.targets[i] for i in index], dtype=np.int64)
    names = tuple(name.replace("_", " ") for name in folder.classes)
    return LabelledImages(images, labels, names, f"folder({root.name}; {len(names)} classes)")


def load_images(dataset: str, samples: int | None, seed: int, size: int = 224) -> LabelledImages:
    """``dataset`` is 'synthetic' or an image folder."""
    if dataset == SYNTHETIC:
        return synthetic_images(samples if samples is not None else 1000, seed, size)
    return folder_images(dataset, samples, seed)


def split(count: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of range(count) into the receiver's own training images and
    the evaluation images."""
    order = np.random.default_rng([seed, 1]).permutation(count)
    n_train = round(train_fraction * count)
    return np.sort(order[:n_train]), np.sort(order[n_train:])
