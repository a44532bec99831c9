"""The semantic pipeline with random weights (no downloads): open_clip encoders, the
feature channel, receivers, unCLIP regeneration from tiny components, measured profiles
and their use by the simulator. Models run at reduced input sizes (the tests are about
behaviour, not image size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from netsim.cli import app
from netsim.errors import ScenarioError
from netsim.loading import load_scenario
from netsim.model.taskloss import load_profile
from netsim.model.transmission import QUANTIZER_CLIP_SIGMAS, bit_error_rate, digital_feature_snr
from netsim.scenario import Transmission
from netsim.semantic.channel import dequantise, make_generator, quantise, transmit
from netsim.semantic.data import load_images, synthetic_images
from netsim.semantic.encoders import Encoder, load_encoder, resolve_weights
from netsim.semantic.profiling import (
    ProfileSettings,
    measure_profile,
    parse_snr_grid,
    profile_snr_db,
    write_profile,
)
from netsim.semantic.regeneration import Adapter, regenerate, tiny_unclip_pipeline
from netsim.simulation.runner import run_scenario
from tests.scenario_factory import paper_dict

SIZE = 32
"""Input size of every model here: 1 patch for ViT-B-32, 4 for ViT-B-16 and ViT-L-14."""
INF = float("inf")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: these models and batches are small, and on a shared machine
    the waits between two threads cost more than the second thread brings."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models() -> dict[tuple[str, str], Encoder]:
    return {}


@pytest.fixture(scope="module")
def loader(models):
    """load_encoder with each random model built once per module."""

    def load(name: str, pretrained: str = "none", **options) -> Encoder:
        key = (name, pretrained)
        if key not in models:
            options.update(image_size=SIZE, device="cpu")
            models[key] = load_encoder(name, pretrained, **options)
        return models[key]

    return load


@pytest.fixture(scope="module")
def shapes():
    return synthetic_images(240, seed=0, size=SIZE)


def profile_cli(out: Path, *args: str):
    """``netsim profile ... --out OUT`` through typer's test runner."""
    return CliRunner().invoke(app, ["profile", *args, "--out", str(out)])


def input_error_line(result, out: Path) -> str:
    """The one line of a failed command that exited with code 2 and wrote nothing."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert not out.exists()
    return lines[0]


def settings(**changes) -> ProfileSettings:
    base = {"encoders": ("ViT-B-32",), "pretrained": "none", "image_size": SIZE, "batch_size": 120}
    return ProfileSettings(**(base | changes))


# ------------------------------------------------------------------ encoders
@pytest.mark.parametrize(("name", "dim"), [("ViT-B-32", 512), ("ViT-B-16", 512), ("ViT-L-14", 768)])
def test_embedding_size_per_encoder(loader, shapes, name: str, dim: int) -> None:
    encoder = loader(name)
    assert encoder.embed_dim == dim
    assert encoder.encode_images(shapes.images[:2]).shape == (2, dim)
    activation = encoder.model.visual.transformer.resblocks[0].mlp.gelu
    x = torch.linspace(-4.0, 4.0, 17)  # OpenAI's weights need QuickGELU, x sigmoid(1.702 x)
    torch.testing.assert_close(activation(x), x * torch.sigmoid(1.702 * x))


def test_checkpoint_path_gives_identical_features(loader, shapes, tmp_path: Path) -> None:
    original = loader("ViT-B-32")
    torch.save(original.model.state_dict(), tmp_path / "ViT-B-32.pt")
    # a different random init, so identical features can only come from the checkpoint
    loaded = load_encoder(
        "ViT-B-32", str(tmp_path / "ViT-B-32.pt"), image_size=SIZE, device="cpu", init_seed=7
    )
    assert loaded.weights == str(tmp_path / "ViT-B-32.pt")
    assert torch.equal(
        loaded.encode_images(shapes.images[:6]), original.encode_images(shapes.images[:6])
    )
    # a folder of ENCODER.pt files names the same file
    assert resolve_weights("ViT-B-32", str(tmp_path)) == (
        "ViT-B-32-quickgelu",
        str(tmp_path / "ViT-B-32.pt"),
    )
    with pytest.raises(ScenarioError, match="no checkpoint ViT-L-14.pt"):
        resolve_weights("ViT-L-14", str(tmp_path))
    # a pretrained tag is read from a Hugging Face cache laid out as huggingface_hub does it
    repo = tmp_path / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    cached = repo / "snapshots" / ("0" * 40) / "open_clip_pytorch_model.bin"
    cached.symlink_to(tmp_path / "ViT-B-32.pt")
    assert resolve_weights("ViT-B-32", "openai", cache_dir=str(tmp_path / "hub")) == (
        "ViT-B-32-quickgelu",
        str(cached),
    )
    (tmp_path / "damaged.pt").write_bytes(b"\x80\x02not a checkpoint")
    with pytest.raises(ScenarioError, match="--pretrained: ViT-B-32: cannot load") as error:
        load_encoder("ViT-B-32", str(tmp_path / "damaged.pt"), image_size=SIZE, device="cpu")
    assert "\n" not in str(error.value)


def test_cli_starts_without_torch() -> None:
    """netsim's command line imports torch, open_clip and diffusers only when profiling."""
    code = "import sys, netsim.cli; print(sorted({'torch', 'open_clip', 'diffusers'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    assert CliRunner().invoke(app, ["profile", "--help"]).exit_code == 0


def test_openai_weights_missing_fails_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    line = input_error_line(
        profile_cli(out, "--encoders", "ViT-B-32", "--cache-dir", str(tmp_path)), out
    )
    assert line.startswith("netsim: --pretrained: ViT-B-32: no 'openai' weights")
    assert "--download" in line and "--pretrained FILE" in line


# ------------------------------------------------------------------ data
def test_synthetic_images_are_deterministic_and_labelled() -> None:
    a, b = synthetic_images(20, seed=3, size=24), synthetic_images(30, seed=3, size=24)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.images, b.images))
    assert np.array_equal(a.labels, b.labels[:20]) and len(a.class_names) == 12
    c = synthetic_images(20, seed=4, size=24)
    assert not all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.images, c.images))


def test_image_folder_class_is_folder_name(tmp_path: Path) -> None:
    for label, colour in (("red_apple", (200, 0, 0)), ("sky", (0, 0, 200))):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (8, 8), colour).save(tmp_path / label / f"{i}.png")
    images = load_images(str(tmp_path), samples=4, seed=0)
    assert images.class_names == ("red apple", "sky") and len(images) == 4
    assert all(
        np.asarray(im)[0, 0, 0] == (200 if y == 0 else 0)
        for im, y in zip(images.images, images.labels)
    )
    with pytest.raises(ScenarioError, match="no such folder"):
        load_images(str(tmp_path / "missing"), samples=4, seed=0)


# ------------------------------------------------------------------ channel
@pytest.mark.parametrize("mode", ["paper", "analog"])
@pytest.mark.parametrize("fading", ["none", "rayleigh"])
def test_infinite_snr_leaves_features_unchanged(mode: str, fading: str) -> None:
    x = torch.randn(16, 512, generator=torch.Generator().manual_seed(0))
    received = transmit(x, INF, Transmission(mode=mode), make_generator(1), fading)
    assert torch.equal(received, x)
    assert not torch.equal(transmit(x, 30.0, Transmission(mode=mode), make_generator(1), fading), x)


def test_digital_at_infinite_snr_is_only_quantised() -> None:
    x = torch.randn(16, 512, generator=torch.Generator().manual_seed(0))
    mode = Transmission(mode="digital", quantization_bits=6)
    received = transmit(x, INF, mode, make_generator(1))
    assert torch.equal(received, dequantise(*quantise(x, 6)))
    rms = x.pow(2).mean(dim=1, keepdim=True).sqrt()
    half_step = QUANTIZER_CLIP_SIGMAS * rms / 2**6  # step = 2 c rms / 2^b
    inside = x.abs() < 0.9 * QUANTIZER_CLIP_SIGMAS * rms
    assert ((received - x).abs() <= half_step * (1 + 1e-5))[inside].all()


@pytest.mark.parametrize(
    ("mode", "snr_db"),
    [
        (Transmission(mode="analog"), 10.0),
        (Transmission(mode="analog"), -5.0),
        (Transmission(mode="digital", modulation="qpsk"), 4.0),
        (Transmission(mode="digital", modulation="16qam", quantization_bits=4), 12.0),
    ],
)
def test_received_noise_matches_the_simulators_feature_snr(
    mode: Transmission, snr_db: float
) -> None:
    """The measured per-element SNR is what netsim.model.transmission predicts for that RB SNR."""
    x = torch.randn(400, 512, generator=torch.Generator().manual_seed(0))
    received = transmit(x, snr_db, mode, make_generator(2))
    measured = x.pow(2).mean() / (received - x).pow(2).mean()
    if mode.mode == "digital":
        expected = digital_feature_snr(
            bit_error_rate(10 ** (snr_db / 10), mode.modulation), mode.quantization_bits
        )
    else:
        expected = 10 ** (snr_db / 10)
    assert measured.item() == pytest.approx(float(expected), rel=0.1)
    assert profile_snr_db(snr_db, mode) == pytest.approx(10 * np.log10(float(expected)))


def test_rayleigh_fading_hurts_at_the_same_mean_snr() -> None:
    x = torch.randn(200, 512, generator=torch.Generator().manual_seed(0))
    awgn = transmit(x, 10.0, Transmission(mode="analog"), make_generator(3))
    faded = transmit(x, 10.0, Transmission(mode="analog"), make_generator(3), "rayleigh", block=32)
    assert (faded - x).pow(2).mean() > 2 * (awgn - x).pow(2).mean()  # E[1/|h|^2] diverges


def test_snr_grid_parsing() -> None:
    assert len(parse_snr_grid("-10:20:2")) == 16 and parse_snr_grid("-10:20:2")[-1] == 20.0
    assert parse_snr_grid("0, 5,10") == (0.0, 5.0, 10.0)
    for bad in ("20:-10:2", "a,b", "0:10:0", "1,1"):
        with pytest.raises(ScenarioError, match="--snr"):
            parse_snr_grid(bad)


# ------------------------------------------------------------------ receivers and profiles
@pytest.fixture(scope="module")
def head_profile(loader, shapes):
    grid = (-20.0, -10.0, 0.0, 10.0, 20.0)
    return measure_profile(settings(receiver="head", snr_db=grid), loader=loader, images=shapes)


def test_trained_head_accuracy_falls_with_noise(head_profile) -> None:
    accuracy = {row["snr_db"]: row["accuracy"] for row in head_profile}
    chance = 1 / 12
    assert accuracy[20.0] > 2.5 * chance  # the head learned something from random features
    assert accuracy[20.0] - accuracy[-20.0] > 0.15
    assert accuracy[0.0] > accuracy[-20.0] + 0.05
    assert accuracy[-20.0] < 2 * chance
    ce = {row["snr_db"]: row["cross_entropy"] for row in head_profile}
    assert ce[-20.0] > ce[0.0] > ce[20.0] * 0.99


def test_zero_shot_and_augmented_head_run_through_the_same_channel(loader, shapes) -> None:
    few = shapes.subset(np.arange(32))
    for options in ({"receiver": "zero-shot"}, {"receiver": "head", "augment": True}):
        rows = measure_profile(settings(snr_db=(0.0, 30.0), **options), loader=loader, images=few)
        assert [r["snr_db"] for r in rows] == [0.0, 30.0]
        from netsim.semantic import data as datasets

        evaluated = (len(few) if options["receiver"] == "zero-shot"  # nothing to train
                     else len(datasets.split(len(few), settings().train_fraction,
                                             settings().seed)[1]))
        for row in rows:  # a share of the evaluated images, and a finite cross-entropy
            assert row["accuracy"] * evaluated == pytest.approx(round(row["accuracy"] * evaluated))
            assert np.isfinite(row["cross_entropy"])
        assert f"receiver={options['receiver']}" in rows[0]["provenance"]


def test_same_seed_same_bytes(loader, shapes, tmp_path: Path) -> None:
    few = shapes.subset(np.arange(24))
    chosen = settings(
        receiver="head", snr_db=(-5.0, 5.0), transmission=Transmission(mode="digital")
    )
    for global_seed, name in ((1, "a.csv"), (2, "b.csv")):
        with torch.random.fork_rng(devices=[]):  # torch's global state must not matter
            torch.manual_seed(global_seed)
            rows = measure_profile(chosen, loader=loader, images=few)
        write_profile(tmp_path / name, rows)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    other = settings(
        receiver="head", snr_db=(-5.0, 5.0), transmission=Transmission(mode="digital"), seed=1
    )
    write_profile(tmp_path / "c.csv", measure_profile(other, loader=loader, images=few))
    assert (tmp_path / "c.csv").read_bytes() != (tmp_path / "a.csv").read_bytes()


def test_measured_profile_round_trips_into_a_simulation(head_profile, tmp_path: Path) -> None:
    write_profile(tmp_path / "measured.csv", head_profile)
    profile = load_profile(tmp_path / "measured.csv")
    assert "weights=none" in profile.provenance["ViT-B-32"]
    assert "samples=240 (evaluated 120)" in profile.provenance["ViT-B-32"]
    data = paper_dict()
    data.update(
        encoders=["ViT-B-32"],
        profile="measured.csv",
        slots=4,
        seeds=[0],
        schedulers=[{"type": "hungarian", "information": "oracle"}],
    )
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    scenario = load_scenario(tmp_path / "s.yaml")
    records = run_scenario(scenario, [0]).records
    served = records[records["served"]]
    assert len(served) > 0
    expected = np.interp(
        served["feature_snr_db"], profile.snr_db["ViT-B-32"], profile.values["accuracy"]["ViT-B-32"]
    )
    assert np.allclose(served["accuracy"], expected)
    assert np.allclose(
        served["task_loss"],
        np.interp(
            served["feature_snr_db"],
            profile.snr_db["ViT-B-32"],
            profile.values["cross_entropy"]["ViT-B-32"],
        ),
    )


def test_profile_command_writes_csv_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    options = "--encoders ViT-B-32 --pretrained none --samples 16 --image-size 32 --snr -10:10:10"
    result = profile_cli(out, *options.split(), "--no-progress")
    assert result.exit_code == 0, (result.output, result.exception)
    profile = load_profile(out)
    assert list(profile.snr_db["ViT-B-32"]) == [-10.0, 0.0, 10.0]
    result = CliRunner().invoke(app, ["plot", str(out)])
    assert result.exit_code == 0 and out.with_suffix(".png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ("--snr x", "--snr"),
        ("--task paint", "--task"),
        ("--encoders RN50", "--encoders"),
        ("--mode digital --modulation 8psk", "--modulation"),
        ("--task regenerate --encoders ViT-B-32 --scorer ViT-B-32", "--scorer"),
        # checked whatever the receiver, and before any model loads (they were accepted,
        # or blamed on --pretrained)
        ("--train-fraction 1.5", "--train-fraction"),
        ("--device tpu", "--device: tpu: not a torch device"),
        ("--seed 9223372036854775808", "profile: Invalid value for '--seed'"),
        # an image smaller than a ViT's patches: torch's RuntimeError after the loading
        ("--encoders ViT-B-16,ViT-B-32 --image-size 16",
         "--image-size: 16: smaller than ViT-B-32's 32-pixel patches"),
    ],
)
def test_profile_bad_input_one_line(args: str, key: str, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    line = input_error_line(profile_cli(out, "--pretrained", "none", *args.split()), out)
    assert line.startswith(f"netsim: {key}")


# ------------------------------------------------------------------ regeneration
def test_adapter_recovers_an_affine_map() -> None:
    g = torch.Generator().manual_seed(0)
    source, weight = torch.randn(300, 16, generator=g), torch.randn(16, 24, generator=g)
    target = source @ weight + 0.5
    adapter = Adapter.fit(source, target, ridge=0.0)
    assert torch.allclose(adapter(source[:5]), target[:5], atol=1e-4)


def test_tiny_unclip_pipeline_is_deterministic() -> None:
    pipe = tiny_unclip_pipeline(embed_dim=768, seed=0)
    embeds = torch.randn(2, 768, generator=torch.Generator().manual_seed(0))
    a = regenerate(pipe, embeds, torch.Generator().manual_seed(1), steps=2)
    b = regenerate(pipe, embeds, torch.Generator().manual_seed(1), steps=2)
    assert a[0].size == (16, 16) and len(a) == 2
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))


def test_missing_unclip_pipeline_fails_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    args = ("--task", "regenerate", "--pretrained", "none", "--cache-dir", str(tmp_path))
    line = input_error_line(profile_cli(out, *args), out)
    assert line.startswith("netsim: --unclip: stabilityai/") and "--download" in line


def test_regeneration_profile_end_to_end(loader, models, shapes) -> None:
    """ViT-B-32 (512-d, through a receiver-trained adapter to ViT-L-14's 768-d space) and
    ViT-L-14 -> channel -> tiny unCLIP -> CLIP-I similarity scored by RN50."""
    few = shapes.subset(np.arange(12))
    chosen = settings(
        task="regenerate",
        encoders=("ViT-B-32", "ViT-L-14"),
        unclip="random",
        unclip_steps=2,
        snr_db=(-10.0, 10.0),
        batch_size=8,
    )
    rows = measure_profile(chosen, loader=loader, images=few)
    assert [(r["encoder"], r["snr_db"]) for r in rows] == [
        ("ViT-B-32", -10.0),
        ("ViT-B-32", 10.0),
        ("ViT-L-14", -10.0),
        ("ViT-L-14", 10.0),
    ]
    assert all(np.isfinite(r["clip_i2i_similarity"]) for r in rows)
    assert "task=regenerate" in rows[0]["provenance"] and "scorer RN50" in rows[0]["provenance"]
    assert ("RN50", "none") in models  # the scorer is not a transmitted encoder


def test_clip_i2i_similarity_is_the_cosine_of_each_pair() -> None:
    """Hand-computed pairs: the same direction 1, opposite -1, orthogonal 0, and 45
    degrees 1/sqrt(2), whatever the lengths."""
    from netsim.semantic.regeneration import clip_i2i_similarity

    originals = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
    regenerated = torch.tensor([[5.0, 0.0], [-1.0, 0.0], [4.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(clip_i2i_similarity(originals, regenerated),
                               torch.tensor([1.0, -1.0, 0.0, 2**-0.5]))
