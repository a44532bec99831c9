"""Comparison figures of a run folder (``netsim plot DIR``), PNG via matplotlib."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from netsim.errors import ScenarioError
from netsim.io import atomic_write_bytes

REFERENCE_PREFIX = "reference:"


def _read(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    for name in ("summary.csv", "records.csv", "scenario.yaml"):
        if not (run_dir / name).is_file():
            raise ScenarioError(str(run_dir), name, "missing: is this a folder 'netsim run' wrote?")
    summary = pd.read_csv(run_dir / "summary.csv")
    records = pd.read_csv(run_dir / "records.csv", keep_default_na=True)
    scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    return summary, records, scenario


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically (no timestamp metadata, so stable bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _colors(labels: list[str]) -> list[str]:
    return ["0.6" if label.startswith(REFERENCE_PREFIX) else "C0" for label in labels]


def plot_reward(summary: pd.DataFrame, path: Path) -> Path:
    data = summary.sort_values("mean_reward")
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(data) + 1.5))
    ax.barh(data["scheduler"], data["mean_reward"], xerr=data["mean_reward_ci95"],
            color=_colors(list(data["scheduler"])), capsize=3)
    ax.set_xlabel("mean reward per request (eq. 11; higher is better), 95 % CI over seeds")
    ax.set_title("Reward by scheduler (grey: exact references)")
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def plot_loss_accuracy(summary: pd.DataFrame, path: Path, task_kind: str) -> Path:
    data = summary.sort_values("mean_task_loss")
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(data) + 1.5), sharey=True)
    colors = _colors(list(data["scheduler"]))
    axes[0].barh(data["scheduler"], data["mean_task_loss"], color=colors)
    loss_name = "cross-entropy" if task_kind == "classify" else "1 - CLIP-I similarity"
    axes[0].set_xlabel(f"mean task loss of served users ({loss_name})")
    metric = "accuracy" if task_kind == "classify" else "clip_i2i_similarity"
    axes[1].barh(data["scheduler"], data[metric], color=colors)
    axes[1].set_xlabel(f"mean {metric.replace('_', ' ')} (dropped users count 0)")
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Task performance")
    return save_figure(fig, path)


def plot_violations(summary: pd.DataFrame, path: Path) -> Path:
    data = summary.sort_values("scheduler")
    y = np.arange(len(data))
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(data) + 1.5))
    ax.barh(y - 0.2, 100 * data["delay_violation_rate"], height=0.4, label="delay > T_max")
    ax.barh(y + 0.2, 100 * data["energy_violation_rate"], height=0.4, label="energy > E_max")
    ax.set_yticks(y, data["scheduler"])
    ax.set_xlabel("served requests violating the limit (%)")
    ax.set_title("Constraint violations")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def plot_delay_cdf(records: pd.DataFrame, path: Path, max_delay_s: float) -> Path:
    fig, ax = plt.subplots(figsize=(8, 5))
    served = records[records["served"]]
    for index, (label, group) in enumerate(served.groupby("scheduler", sort=True)):
        delays = np.sort(group["total_delay_s"].to_numpy()) * 1e3
        style = ":" if label.startswith(REFERENCE_PREFIX) else "-"
        ax.step(delays, np.arange(1, len(delays) + 1) / len(delays), style, where="post",
                label=label, color=f"C{index % 10}")
    ax.axvline(max_delay_s * 1e3, color="k", linestyle="--", linewidth=1, label="T_max")
    ax.set_xlabel("total delay per request (ms)")
    ax.set_ylabel("fraction of served requests")
    ax.set_xlim(0, max(3 * max_delay_s * 1e3, 1))
    ax.set_title("Delay distribution (eq. 6, queueing included under the DES model)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path)


def plot_encoder_share(summary: pd.DataFrame, path: Path) -> Path:
    shares = [c for c in summary.columns if c.startswith("share_")]
    data = summary.sort_values("scheduler")
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(data) + 1.5))
    left = np.zeros(len(data))
    for index, column in enumerate(shares):
        ax.barh(data["scheduler"], 100 * data[column], left=left, label=column[6:],
                color=f"C{index}")
        left += 100 * data[column].to_numpy()
    ax.set_xlabel("share of served requests (%)")
    ax.set_title("Encoder choice")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.2 / len(data)), ncol=len(shares))
    return save_figure(fig, path)


SWEEP_PANELS = (("mean_reward", "mean reward per request"),
                ("delay_violation_rate", "delay violation rate"),
                ("energy_violation_rate", "energy violation rate"))


def plot_sweep(sweep: pd.DataFrame, keys: list[str], path: Path,
               panels: tuple[tuple[str, str], ...] = SWEEP_PANELS, log_y: bool = False) -> Path:
    """Metrics against the first swept key, one line per scheduler (and per value of any
    other swept key); error bars where a METRIC_ci95 column holds the 95 % CI (not on a
    log scale)."""
    x_key = keys[0]
    # keys that move with x (a sweep's points list) do not split the lines
    other = [k for k in keys[1:] if sweep.groupby(x_key)[k].nunique().max() > 1]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.3 * len(panels), 5), squeeze=False)
    axes = axes[0]
    for index, (label, group) in enumerate(sweep.groupby(["scheduler", *other], sort=True)):
        name = label if isinstance(label, str) else ", ".join(map(str, label))
        group = group.sort_values(x_key)
        style = ":" if str(name).startswith(REFERENCE_PREFIX) else "-o"
        for ax, (column, _) in zip(axes, panels):
            error = None if log_y else group.get(f"{column}_ci95")
            ax.errorbar(group[x_key], group[column], yerr=error, fmt=style, label=name,
                        color=f"C{index % 10}", markersize=4, capsize=3)
    for ax, (_, title) in zip(axes, panels):
        ax.set_xlabel(x_key)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if log_y:
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Sweep over {', '.join(keys)} (mean and 95 % CI over seeds)")
    return save_figure(fig, path)


def plot_profile(csv_path: Path) -> Path:
    """A task-loss profile CSV: accuracy (CLIP-I similarity for a measured regeneration
    profile) against SNR, one line per encoder, written beside it as FILE.png."""
    from netsim.model.taskloss import load_profile

    profile = load_profile(csv_path)
    regenerate = any("task=regenerate" in text for text in profile.provenance.values())
    metric = "clip_i2i_similarity" if regenerate else "accuracy"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for index, encoder in enumerate(profile.encoders):
        ax.plot(profile.snr_db[encoder], profile.values[metric][encoder], "-o", markersize=3,
                label=encoder, color=f"C{index % 10}")
    ax.set_xlabel("per-element SNR of the received features (dB)")
    ax.set_ylabel("CLIP image-to-image similarity" if regenerate else "accuracy")
    ax.set_title(f"Task-loss profile {csv_path.name}")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, csv_path.with_suffix(".png"))


def plot_run(run_dir: str | Path) -> list[Path]:
    """All figures of a run folder, written to RUN_DIR/plots; for a sweep folder, the
    sweep figure and every point's figures; for a profile CSV, its curves. Returns the
    paths written."""
    run_dir = Path(run_dir)
    if run_dir.is_file() and run_dir.suffix == ".csv":
        return [plot_profile(run_dir)]
    sweep_file = run_dir / "aggregate.csv"
    if sweep_file.is_file():
        from netsim.experiments.sweep import sweep_keys

        table = pd.read_csv(sweep_file)
        written = [plot_sweep(table, sweep_keys(table), run_dir / "plots" / "sweep.png")]
        for folder in sorted(p for p in run_dir.iterdir() if (p / "summary.csv").is_file()):
            written += plot_run(folder)
        return written
    summary, records, scenario = _read(run_dir)
    out = run_dir / "plots"
    return [
        plot_reward(summary, out / "reward.png"),
        plot_loss_accuracy(summary, out / "loss_accuracy.png", scenario["task"]["kind"]),
        plot_violations(summary, out / "violations.png"),
        plot_delay_cdf(records, out / "delay_cdf.png", scenario["limits"]["max_delay_s"]),
        plot_encoder_share(summary, out / "encoder_share.png"),
    ]
