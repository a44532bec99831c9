"""Benchmark of the semantic pipeline (outside the test suite).

1. Images per second of each CLIP image encoder at its native 224 x 224 input, batched,
   in inference mode (random weights: the same FLOPs as the OpenAI weights), after one
   warm-up batch; preprocessing (open_clip's transform on PIL images) included.
2. Time to measure a classification profile with ``measure_profile`` (the code behind
   ``netsim profile``) on N synthetic images at 16 SNR points (-10:20:2), split into the
   encoding and the channel + receiver part, for the encoders chosen (default ViT-B-32;
   the others' encoding time follows from part 1).

    python benchmarks/bench_semantic.py [--device cpu|cuda] [--samples 1000]
        [--profile-encoders ViT-B-32] [--receiver zero-shot|head] [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time
from importlib.metadata import version

import torch

from netsim.model.encoders import ENCODERS
from netsim.semantic.data import synthetic_images
from netsim.semantic.encoders import load_encoder
from netsim.semantic.profiling import ProfileSettings, measure_profile, parse_snr_grid

IMAGES_PER_ENCODER = {"ViT-B-32": 64, "ViT-B-16": 32, "ViT-L-14": 8}
"""Images timed per encoder on a CPU (about the same wall time each); x8 on a GPU."""


def encoder_throughput(device: str, scale: int) -> dict[str, float]:
    rates = {}
    for name in ENCODERS:
        encoder = load_encoder(name, "none", device=device)
        count = IMAGES_PER_ENCODER[name] * scale
        images = synthetic_images(count + 8, seed=0, size=224).images
        batch = min(32, count)
        encoder.encode_images(images[:8], batch_size=8)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        encoder.encode_images(images[8:], batch_size=batch)
        if device == "cuda":
            torch.cuda.synchronize()
        rates[name] = count / (time.perf_counter() - start)
        print(
            f"  {name:9s} {rates[name]:8.2f} images/s  ({count} images, batch {batch})", flush=True
        )
        del encoder
    return rates


class TimedLoader:
    """load_encoder, timing each model's construction."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        encoder = load_encoder(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        return encoder


def profile_time(encoder: str, samples: int, receiver: str, device: str) -> None:
    grid = parse_snr_grid("-10:20:2")
    settings = ProfileSettings(
        encoders=(encoder,),
        pretrained="none",
        samples=samples,
        snr_db=grid,
        receiver=receiver,
        device=device,
    )
    start = time.perf_counter()
    images = synthetic_images(samples, seed=0, size=224)
    data_s = time.perf_counter() - start
    marks: list[float] = []

    def on_progress(amount: int) -> None:  # encoding batches first, then one call per SNR point
        marks.append(time.perf_counter())

    loader = TimedLoader()
    start = time.perf_counter()
    rows = measure_profile(settings, progress=on_progress, loader=loader, images=images)
    total = time.perf_counter() - start
    points = len(grid)  # the last calls, one per SNR point; time from the first one to the
    # last, scaled by points / (points - 1), leaves the receiver's set-up out
    snr_s = (marks[-1] - marks[-points]) * points / (points - 1)
    print(
        f"  profile of {encoder} ({receiver}): {samples} synthetic images x "
        f"{len(grid)} SNR points, {len(rows)} rows"
    )
    print(f"    generating the images  {data_s:8.1f} s")
    print(f"    measure_profile total  {total:8.1f} s  (model construction {loader.seconds:.1f} s)")
    print(
        f"    of which the {points} SNR points (channel + receiver) {snr_s:.2f} s; the rest is "
        "encoding (and training a head)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--profile-encoders", default="ViT-B-32")
    parser.add_argument("--receiver", default="zero-shot")
    parser.add_argument("--quick", action="store_true", help="100 images in part 2")
    args = parser.parse_args()
    print("bench_semantic")
    print(f"  platform  {platform.platform()}")
    print(
        f"  torch     {version('torch')} threads {torch.get_num_threads()}; "
        f"open_clip {version('open_clip_torch')}; device {args.device}"
    )
    print("encoder throughput (224 px, random weights)")
    encoder_throughput(args.device, 8 if args.device == "cuda" else 1)
    print("profile measurement")
    for encoder in (e.strip() for e in args.profile_encoders.split(",")):
        profile_time(encoder, 100 if args.quick else args.samples, args.receiver, args.device)


if __name__ == "__main__":
    main()
