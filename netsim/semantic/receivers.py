"""Classification receivers and their metrics (DESIGN §1, task performance).

- zero-shot: 100 x cosine between the received image embedding and the text embedding
  of "an image of a {label}" for every class (the CLIP classifier of the paper);
- trained head: the receiver trains its own classifier, without talking to the
  transmitter — a linear probe (torch) on its own images' features, clean or passed
  through the feature channel at SNRs drawn from a list (noise augmentation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from netsim.semantic.encoders import Encoder

PROMPT = "an image of a {label}"
LOGIT_SCALE = 100.0
RECEIVERS = ("zero-shot", "head")


@dataclass(frozen=True)
class Scores:
    accuracy: float
    cross_entropy: float
    """Mean soft-max cross-entropy of the true class, nats."""


def score(logits: torch.Tensor, labels: torch.Tensor) -> Scores:
    import torch.nn.functional as F

    accuracy = (logits.argmax(dim=1) == labels).double().mean().item()
    return Scores(float(accuracy), float(F.cross_entropy(logits.double(), labels).item()))


class ZeroShot:
    """CLIP zero-shot classifier over class names, logit scale 100."""

    def __init__(self, encoder: Encoder, class_names: Sequence[str]) -> None:
        self.text = encoder.encode_texts([PROMPT.format(label=name) for name in class_names])

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return LOGIT_SCALE * F.normalize(features.float(), dim=1) @ self.text.T


class LinearHead:
    """A linear soft-max classifier on standardised features, trained full-batch with Adam
    from zero weights (no draw from global random state)."""

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor, linear: torch.nn.Linear) -> None:
        self.mean, self.scale, self.linear = mean, scale, linear

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        import torch

        with torch.no_grad():
            return self.linear((features.float() - self.mean) / self.scale)

    @classmethod
    def train(
        cls,
        features: torch.Tensor,
        labels: torch.Tensor,
        n_classes: int,
        augment: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
        steps: int = 100,
        lr: float = 0.05,
        weight_decay: float = 1e-2,
    ) -> LinearHead:
        """``augment(features, step)`` returns the features the head sees at a step (for
        noise augmentation: the clean features through the channel); None trains on clean."""
        import torch
        import torch.nn.functional as F

        mean = features.float().mean(dim=0)
        scale = features.float().std(dim=0).clamp_min(1e-6)
        linear = torch.nn.Linear(features.shape[1], n_classes)
        torch.nn.init.zeros_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        optimiser = torch.optim.Adam(linear.parameters(), lr=lr, weight_decay=weight_decay)
        for step in range(steps):
            seen = features if augment is None else augment(features, step)
            loss = F.cross_entropy(linear((seen.float() - mean) / scale), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        linear.eval()
        return cls(mean, scale, linear)


def noise_augmentation(
    snr_db: Sequence[float], transmit: Callable[[torch.Tensor, float], torch.Tensor], seed: int
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """At each training step, the features through ``transmit`` at an SNR drawn from
    ``snr_db`` (uniformly, from a seeded generator)."""
    rng = np.random.default_rng([seed, 2])
    grid = np.asarray(snr_db, dtype=float)
    return lambda features, step: transmit(features, float(rng.choice(grid)))
