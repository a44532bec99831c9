"""``netsim compare``: the paper's Fig. 4 made honest. Train every algorithm with the
same seeds, the same step budget and the same hyperparameters (the scenario's ``rl``
section, tuned for none of them), then write convergence curves with confidence bands
and a table that places every agent against the exact optimum.

Output folder:
    <algo>-s<seed>/          one training each (netsim train's folder; re-running resumes)
    curves.csv               per algorithm and evaluation step: mean and 95 % CI over seeds
    compare.csv              per algorithm: final return, steps to 95 %, scores
    convergence.png          mean return and score vs the statistical optimum over steps
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from netsim.experiments.plotting import save_figure, subplots
from netsim.io import atomic_write_text
from netsim.ownership import claim_folder
from netsim.scenario import Scenario
from netsim.simulation.output import csv_text
from netsim.statistics import ci95_half_width
from solvers.rl.training import TrainingFolderError, budget_problem, train

METRICS = ("mean_return", "score_vs_statistical", "score_vs_oracle")


def run_trainings(scenario: Scenario, algos: list[str], seeds: list[int], steps: int,
                  out_dir: Path, progress: bool = True) -> None:
    """Every (algorithm, seed) training, each resumable in its own folder."""
    runs = [(algo, seed) for algo in algos for seed in seeds]
    for algo, seed in runs:  # before any training: each resumes to its own budget
        if (problem := budget_problem(out_dir / f"{algo}-s{seed}", steps)) is not None:
            raise TrainingFolderError(problem)
    claim_folder(out_dir, "compare")
    for algo, seed in tqdm(runs, desc="trainings", unit="run", disable=not progress or None):
        train(scenario, algo, out_dir / f"{algo}-s{seed}", steps=steps, seed=seed,
              resume=True, progress=False)


def learning_curves(out_dir: Path, algos: list[str], seeds: list[int]) -> dict:
    """(algo, seed) -> that training's learning_curve.csv."""
    return {(algo, seed): pd.read_csv(out_dir / f"{algo}-s{seed}" / "learning_curve.csv")
            for algo in algos for seed in seeds}


def aligned_curves(curves: dict, every: int, steps: int) -> pd.DataFrame:
    """Every run's learning curve interpolated onto the common grid every, 2 every, ...
    and the budget ``steps`` itself (algorithms evaluate at their own rollout ends, so
    raw step counts differ); NaN at grid steps before a run's first evaluation (a long
    rollout evaluates late), never a value it did not measure."""
    grid = np.unique(np.append(np.arange(every, steps + 1, every), steps))
    rows = []
    for (algo, seed), curve in curves.items():
        for metric in METRICS:
            values = np.interp(grid, curve["env_steps"], curve[metric], left=np.nan)
            rows += [{"algo": algo, "seed": seed, "env_steps": int(s), "metric": metric,
                      "value": v} for s, v in zip(grid, values)]
    return pd.DataFrame(rows)


def summarise_curves(aligned: pd.DataFrame) -> pd.DataFrame:
    grouped = aligned.groupby(["algo", "metric", "env_steps"], sort=False)["value"]
    return grouped.agg(mean="mean",
                       ci95=lambda v: ci95_half_width(v.dropna().to_numpy())).reset_index()


def steps_to_fraction(steps: np.ndarray, score: np.ndarray, fraction: float = 0.95) -> float:
    """First evaluation step at which the score reaches ``fraction`` of its final value."""
    reached = np.flatnonzero(score >= fraction * score[-1])
    return float(steps[reached[0]])


def compare_table(curves: dict) -> pd.DataFrame:
    """Per algorithm, over seeds: each training's final evaluation (that of its saved
    model: PPO finishes its last rollout, so up to rl.n_steps - 1 steps past the budget;
    ``final_env_steps`` says where), and the steps its score took to reach 95 % of that
    final score (first evaluation that did)."""
    rows = []
    for algo in dict.fromkeys(algo for algo, _ in curves):
        runs = [curve for (name, _), curve in curves.items() if name == algo]
        finals = pd.DataFrame([curve.iloc[-1] for curve in runs])
        row = {"algo": algo, "seeds": len(runs),
               "final_env_steps": float(finals["env_steps"].mean())}
        for metric in METRICS:
            values = finals[metric].to_numpy(dtype=float)
            row[f"final_{metric}"] = values.mean()
            row[f"final_{metric}_ci95"] = ci95_half_width(values)
        row["steps_to_95pct_of_final_score"] = float(np.mean([
            steps_to_fraction(curve["env_steps"].to_numpy(),
                              curve["score_vs_statistical"].to_numpy())
            for curve in runs]))
        rows.append(row)
    return pd.DataFrame(rows)


def plot_convergence(curves: pd.DataFrame, path: Path, budget: str) -> None:
    fig, axes = subplots(1, 2, figsize=(13, 5))
    panels = [("mean_return", "mean return per evaluation world (eq. 11)"),
              ("score_vs_statistical", "score vs statistical optimum (1 = optimal)")]
    for ax, (metric, title) in zip(axes, panels):
        for index, (algo, curve) in enumerate(
                curves[curves["metric"] == metric].groupby("algo", sort=False)):
            x, mean, ci = curve["env_steps"], curve["mean"], curve["ci95"]
            ax.plot(x, mean, label=algo, color=f"C{index}")
            ax.fill_between(x, mean - ci, mean + ci, alpha=0.2, color=f"C{index}")
        ax.set_xlabel("environment steps")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].axhline(1.0, color="k", linestyle="--", linewidth=1)
    axes[0].legend()
    fig.suptitle(f"Convergence: mean and 95 % CI over seeds ({budget})")
    save_figure(fig, path)


def compare(scenario: Scenario, algos: list[str], seeds: list[int], steps: int,
            out_dir: Path, progress: bool = True) -> pd.DataFrame:
    """Train, align, summarise, plot; returns the comparison table."""
    out_dir = Path(out_dir)
    run_trainings(scenario, algos, seeds, steps, out_dir, progress)
    runs = learning_curves(out_dir, algos, seeds)
    curves = summarise_curves(aligned_curves(runs, scenario.rl.eval_every_steps, steps))
    table = compare_table(runs)
    atomic_write_text(out_dir / "curves.csv", csv_text(curves))
    atomic_write_text(out_dir / "compare.csv", csv_text(table))
    plot_convergence(curves, out_dir / "convergence.png",
                     f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} x {steps} steps "
                     "each, same hyperparameters")
    return table
