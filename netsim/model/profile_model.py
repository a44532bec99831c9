"""The analytic default task-loss profile and the code that regenerates it (DESIGN §4).

Model (no curve is drawn by hand; two numbers per encoder come from open_clip's
published profile, the rest are the constants below):

* A K-class zero-shot classifier scores an image by the cosine between its unit-norm
  embedding x and each class's text embedding t_k, at logit scale 100.
* Clean cosines: wrong classes ~ N(mu, tau^2) independently, the true class
  ~ N(mu + delta_m, tau^2). delta_m is solved so that clean top-1 accuracy equals the
  encoder's published ImageNet zero-shot accuracy.
* The channel adds n ~ N(0, I / (d gamma)) to x (per-element SNR gamma on a unit-norm
  d-dimensional vector). n.t_k has variance 1/(d gamma); text embeddings share a
  cosine rho, so n.(t_true - t_k) has variance 2 (1 - rho) / (d gamma): each class gets
  an independent part of variance (1 - rho) / (d gamma) and a common part that cancels
  in the arg-max and the soft-max. The received vector's norm sqrt(1 + 1/gamma) scales
  every cosine down.
* Accuracy: exact one-dimensional integral
  P(correct) = int phi(z) Phi(z + delta / s)^(K-1) dz, s^2 = tau^2 + (1 - rho)/(d gamma).
* Cross-entropy: Monte Carlo over the same model, seeded.
* CLIP image-to-image similarity of a regenerated image: the clean regeneration
  similarity times the cosine between the sent and the received embedding (Monte
  Carlo of (1 + x.n) / |x + n| in d dimensions).

Run ``python -m netsim.model.profile_model`` to rewrite netsim/data/default_profile.csv.
"""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

from netsim.model.encoders import ENCODERS
from netsim.model.taskloss import COLUMNS, DEFAULT_PROFILE_PATH


@dataclass(frozen=True)
class AnalyticProfileModel:
    n_classes: int = 1000
    """K: ImageNet-1k, where the published clean accuracies were measured."""
    logit_scale: float = 100.0
    wrong_cosine_mean: float = 0.20
    cosine_spread: float = 0.025
    """tau: spread of clean image-text cosines: 2.5 logits at scale 100, inside the
    1-5 logits of CLIP's zero-shot margins (DESIGN §1)."""
    text_cosine: float = 0.8
    """rho: cosine between text embeddings of two classes."""
    clean_regeneration_similarity: float = 0.80
    """CLIP-I similarity of an unCLIP regeneration from the clean embedding (assumed)."""
    samples: int = 2000
    snr_db_grid: tuple[float, ...] = tuple(float(x) for x in range(-20, 41))
    seed: int = 2507_08873

    def provenance(self, encoder: str) -> str:
        return (
            f"analytic (netsim.model.profile_model): clean top-1 {ENCODERS[encoder].zero_shot_top1}"
            f" = open_clip ImageNet zero-shot; Gaussian noise on unit-norm "
            f"{ENCODERS[encoder].embed_dim}-d embedding; K={self.n_classes}"
            f" tau={self.cosine_spread} rho={self.text_cosine}"
            f" regen_clean={self.clean_regeneration_similarity}"
            f" samples={self.samples} seed={self.seed}"
        )


_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(200)
_GH_WEIGHTS = _GH_WEIGHTS / np.sqrt(2.0 * np.pi)


def top1_accuracy(margin_over_spread: float, n_classes: int) -> float:
    """P(true score beats K-1 iid competitors), scores unit-variance Gaussians whose
    means differ by ``margin_over_spread``: int phi(z) Phi(z + m)^(K-1) dz."""
    log_cdf = special.log_ndtr(_GH_NODES + margin_over_spread)
    return float(np.sum(_GH_WEIGHTS * np.exp((n_classes - 1) * log_cdf)))


def clean_margin(model: AnalyticProfileModel, accuracy: float) -> float:
    """delta: the mean cosine advantage of the true class giving ``accuracy`` when clean."""
    target = lambda m: top1_accuracy(m, model.n_classes) - accuracy
    return model.cosine_spread * optimize.brentq(target, -10.0, 20.0, xtol=1e-12)


def _cross_entropy(
    model: AnalyticProfileModel, delta: float, noise_std: float, norm: float, draws: np.ndarray
) -> float:
    """Mean soft-max cross-entropy; ``draws`` (samples, K) are standard normals shared by
    every SNR point (common random numbers keep the curve smooth)."""
    cosines = draws * np.hypot(model.cosine_spread, noise_std)  # column 0: the true class
    cosines[:, 0] += delta
    logits = model.logit_scale * cosines / norm
    return float(np.mean(special.logsumexp(logits, axis=1) - logits[:, 0]))


def _embedding_cosine(snr: float, along: np.ndarray, chi2: np.ndarray, embed_dim: int) -> float:
    """E[cos(x, x + n)] for unit x in d dims and n ~ N(0, I / (d snr)); ``along`` are
    standard normals (x.n) and ``chi2`` chi-square(d) draws (|n|^2), shared across SNRs."""
    variance = 1.0 / (embed_dim * snr)
    along = along * np.sqrt(variance)
    return float(np.mean((1.0 + along) / np.sqrt(1.0 + 2.0 * along + chi2 * variance)))


def build_rows(model: AnalyticProfileModel, encoders: list[str]) -> list[dict[str, object]]:
    """The profile table, one row per (encoder, SNR)."""
    rows: list[dict[str, object]] = []
    root = np.random.SeedSequence(model.seed)
    for encoder, seq in zip(encoders, root.spawn(len(encoders))):
        rng = np.random.default_rng(seq)
        spec = ENCODERS[encoder]
        delta = clean_margin(model, spec.zero_shot_top1)
        draws = rng.standard_normal((model.samples, model.n_classes))
        along = rng.standard_normal(model.samples * 10)
        chi2 = stats.chi2.rvs(spec.embed_dim, size=model.samples * 10, random_state=rng)
        for snr_db in model.snr_db_grid:
            snr = 10.0 ** (snr_db / 10.0)
            noise_std = np.sqrt((1.0 - model.text_cosine) / (spec.embed_dim * snr))
            spread = np.hypot(model.cosine_spread, noise_std)
            norm = np.sqrt(1.0 + 1.0 / snr)
            rows.append(
                {
                    "encoder": encoder,
                    "snr_db": snr_db,
                    "accuracy": top1_accuracy(delta / spread, model.n_classes),
                    "cross_entropy": _cross_entropy(model, delta, noise_std, norm, draws),
                    "clip_i2i_similarity": model.clean_regeneration_similarity
                    * _embedding_cosine(snr, along, chi2, spec.embed_dim),
                    "provenance": model.provenance(encoder),
                }
            )
    return rows


def render_csv(rows: list[dict[str, object]]) -> str:
    """Rows as CSV text with fixed float formatting (stable bytes)."""
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row[column]
            if isinstance(value, float):
                cells.append(f"{value:.6g}")
            else:
                text = str(value)
                cells.append(f'"{text}"' if "," in text else text)
        out.write(",".join(cells) + "\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate the analytic default profile.")
    parser.add_argument("--out", type=Path, default=DEFAULT_PROFILE_PATH)
    args = parser.parse_args(argv)
    from netsim.io import atomic_write_text

    text = render_csv(build_rows(AnalyticProfileModel(), list(ENCODERS)))
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
