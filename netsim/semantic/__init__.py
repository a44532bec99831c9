"""The semantic pipeline (DESIGN §4): real open_clip encoders, the noisy feature channel,
classification and regeneration receivers, and the measurement of task-loss profiles.

Heavy dependencies (torch, open_clip, diffusers) are imported inside functions, so that
importing netsim stays fast.
"""

PROFILE_OPTIONS = (
    "out", "encoders", "dataset", "snr", "task", "pretrained", "samples", "seed", "mode",
    "bits", "modulation", "fading", "receiver", "augment", "train_fraction", "image_size",
    "batch_size", "unclip", "unclip_steps", "scorer", "cache_dir", "download", "device",
    "progress",
)
"""The options of ``netsim profile`` (netsim/semantic/cli.py, which must take exactly
these; tested), for code that builds its command lines without importing the CLI."""
