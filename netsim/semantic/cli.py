"""``netsim profile``: measure a task-loss profile with the real semantic pipeline.

Registered on netsim's command line by ``netsim/cli.py``; torch, open_clip and diffusers
are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netsim.semantic.regeneration import UNCLIP_MODEL


def profile(
    out: Annotated[Path, typer.Option("--out", "-o", help="Profile CSV to write.")],
    encoders: Annotated[
        str, typer.Option(help="Encoders to measure, comma-separated.")
    ] = "ViT-B-32,ViT-B-16,ViT-L-14",
    dataset: Annotated[
        str,
        typer.Option(
            help="'synthetic' (coloured shapes, generated) or an image folder ROOT/CLASS/IMAGE."
        ),
    ] = "synthetic",
    snr: Annotated[
        str, typer.Option(help="SNR grid in dB: START:STOP:STEP (stop included) or a list 0,5,10.")
    ] = "-10:20:2",
    task: Annotated[str, typer.Option(help="classify or regenerate.")] = "classify",
    pretrained: Annotated[
        str,
        typer.Option(
            help="Encoder weights: a pretrained tag (openai) read from the Hugging Face "
            "cache, a checkpoint file, a folder of ENCODER.pt files, or 'none' (random)."
        ),
    ] = "openai",
    samples: Annotated[
        int, typer.Option(min=2, help="Images to use (drawn with the seed).")
    ] = 1000,
    seed: Annotated[int, typer.Option(
        min=0, max=2**63 - 1, help="Seed of data, channel noise and training.")] = 0,
    mode: Annotated[
        str,
        typer.Option(
            help="Feature channel: analog (noise at the SNR) or digital (quantise, bit errors)."
        ),
    ] = "analog",
    bits: Annotated[int, typer.Option(min=1, max=16, help="Digital mode: bits per element.")] = 8,
    modulation: Annotated[
        str, typer.Option(help="Digital mode: bpsk, qpsk, 16qam or 64qam.")
    ] = "qpsk",
    fading: Annotated[
        str,
        typer.Option(
            help="none, or rayleigh: block fading within each vector, equalised (the "
            "simulator draws a slot's fading itself: use none for scenario profiles)."
        ),
    ] = "none",
    receiver: Annotated[
        str,
        typer.Option(
            help="classify: zero-shot (CLIP text prompts) or head (receiver-trained linear probe)."
        ),
    ] = "zero-shot",
    augment: Annotated[
        bool,
        typer.Option(help="Train the head on features through the channel at the grid's SNRs."),
    ] = False,
    train_fraction: Annotated[
        float, typer.Option(help="Share of images the receiver trains its head or adapter on.")
    ] = 0.5,
    image_size: Annotated[
        int | None,
        typer.Option(
            min=16, help="Encoder input size (default: native 224; smaller for quick checks)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per encoder batch.")] = 32,
    unclip: Annotated[
        str,
        typer.Option(
            help="regenerate: unCLIP pipeline, a Hugging Face id (from the cache), a local "
            "folder, or 'random' (tiny random weights)."
        ),
    ] = UNCLIP_MODEL,
    unclip_steps: Annotated[int, typer.Option(min=1, help="regenerate: denoising steps.")] = 20,
    scorer: Annotated[
        str,
        typer.Option(
            help="regenerate: open_clip model scoring CLIP-I similarity (not a transmitted one)."
        ),
    ] = "RN50",
    cache_dir: Annotated[
        str | None, typer.Option(help="Hugging Face cache folder (default: ~/.cache/huggingface).")
    ] = None,
    download: Annotated[
        bool, typer.Option(help="Allow fetching missing weights from the Hugging Face hub.")
    ] = False,
    device: Annotated[
        str | None, typer.Option(help="torch device (default: cuda when present).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Measure how each encoder's task performance falls with channel noise (encoder ->
    feature channel at each SNR -> classifier or unCLIP decoder) and write the profile CSV
    a scenario's 'profile:' key reads."""
    from pydantic import ValidationError

    from netsim.console import fail
    from netsim.errors import ScenarioError
    from netsim.io import target_problem, write_problem
    from netsim.scenario import Transmission

    if (problem := target_problem(out, folder=False)) is not None:
        fail(f"--out {out}: {problem}")
    try:
        from netsim.semantic.profiling import ProfileSettings, load_dataset, parse_snr_grid

        if task not in ("classify", "regenerate"):
            raise ScenarioError("--task", task, "must be classify or regenerate")
        if mode not in ("analog", "digital"):
            raise ScenarioError("--mode", mode, "must be analog or digital")
        try:
            transmission = Transmission(mode=mode, quantization_bits=bits, modulation=modulation)
        except ValidationError:
            raise ScenarioError(
                "--modulation", modulation, "must be bpsk, qpsk, 16qam or 64qam"
            ) from None
        if fading not in ("none", "rayleigh"):
            raise ScenarioError("--fading", fading, "must be none or rayleigh")
        settings = ProfileSettings(
            encoders=tuple(e.strip() for e in encoders.split(",") if e.strip()),
            dataset=dataset,
            snr_db=parse_snr_grid(snr),
            task=task,
            pretrained=pretrained,  # type: ignore[arg-type]
            samples=samples,
            seed=seed,
            transmission=transmission,
            fading=fading,
            receiver=receiver,
            augment=augment,
            train_fraction=train_fraction,
            image_size=image_size,
            batch_size=batch_size,
            cache_dir=cache_dir,
            allow_download=download,
            device=device,
            unclip=unclip,
            unclip_steps=unclip_steps,
            scorer=scorer,
        )
        settings.check()
        settings.check_weights()
        if (problem := write_problem(out, folder=False)) is not None:
            fail(f"--out {out}: {problem}")  # before the measurement, which can take hours
        images = load_dataset(settings)
        rows = _measure_with_bar(settings, images, progress)
    except ScenarioError as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; nothing was written", code=130)
    from netsim.semantic.profiling import write_profile

    try:
        write_profile(out, rows)
    except OSError as error:  # checked before the measurement: it became unwritable since
        fail(f"--out {out}: writing the profile failed ({error.strerror or error}); nothing "
             "was written", code=1)
    typer.echo(f"wrote {out} ({len(rows)} rows)")


def _measure_with_bar(settings, images, progress: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    from netsim.semantic.profiling import measure_profile, work_units

    with tqdm(
        total=work_units(settings, len(images)),
        unit="img",
        desc="profile",
        disable=not progress or None,
        leave=False,
    ) as bar:
        return measure_profile(settings, progress=bar.update, images=images)
