"""``netsim report DIR``: one self-contained HTML file (tables, and figures embedded as
base64 PNG) that summarises what DIR holds — a run (``netsim run``), a training
(``netsim train``), a comparison (``netsim compare``), a sweep (``netsim sweep``) or a
search (``netsim tune``). pandas writes the tables, matplotlib the figures (the ones
``netsim plot`` draws, where they exist)."""

from __future__ import annotations

import base64
import html
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from netsim.errors import ScenarioError
from netsim.experiments.plotting import (
    check_columns,
    plot_sweep,
    read_aggregate,
    read_run_folder,
    read_table_checked,
    read_yaml_checked,
    run_figures,
    save_figure,
    subplots,
)
from netsim.experiments.tables import sweep_keys
from netsim.table_files import has_table, table_file

KINDS = {  # the file that tells what a folder is, in the order they are tried
    "sweep": "aggregate.csv",
    "comparison": "compare.csv",
    "search": "trials.csv",
    "training": "learning_curve.csv",
    "run": "summary.csv",
}
RUN_COLUMNS = ["scheduler", "served_fraction", "mean_reward", "mean_reward_ci95",
               "mean_user_reward", "worst_user_reward", "jain_index", "mean_task_loss",
               "accuracy", "delay_violation_rate", "energy_violation_rate",
               "gap_to_oracle_pct", "gap_to_statistical_pct"]
SWEEP_METRICS = (("mean_user_reward", "mean reward per user (eq. 11)"),
                 ("jain_index", "Jain's index of users' task performance"),
                 ("delay_violation_rate", "delay violation rate"),
                 ("energy_violation_rate", "energy violation rate"),
                 ("gap_to_statistical_pct", "cost gap to the statistical optimum (%)"))
TIMING_METRICS = (("mean_decision_ms", "time per slot decision (ms)"),
                  ("train_wall_s", "training wall time (s)"))
CURVE_METRICS = (("score_vs_statistical", "score vs statistical optimum (1 = optimal)"),
                 ("score_vs_oracle", "score vs oracle optimum"),
                 ("mean_return", "mean return per evaluation world"))
PROFILE_METRICS = ("accuracy", "cross_entropy")
STYLE = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:12px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}
img{max-width:100%;margin:1em 0}h2{border-bottom:1px solid #ccc}"""


class Report:
    """Sections of HTML, each a heading with tables, figures and notes."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def note(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def table(self, frame: pd.DataFrame, columns: list[str] | None = None,
              max_rows: int = 200) -> None:
        if columns is not None:
            frame = frame[[c for c in columns if c in frame.columns]]
        if len(frame) > max_rows:
            self.note(f"first {max_rows} of {len(frame)} rows")
            frame = frame.head(max_rows)
        self.parts.append(frame.to_html(index=False, float_format=lambda x: f"{x:.4g}",
                                        na_rep="", border=0))

    def figure(self, draw: Callable[[Path], Path]) -> None:
        """Embed the PNG that DRAW writes to the path it is given."""
        with tempfile.TemporaryDirectory() as temp:
            png = draw(Path(temp) / "figure.png").read_bytes()
        self.png(png)

    def png(self, data: bytes) -> None:
        encoded = base64.b64encode(data).decode("ascii")
        self.parts.append(f'<img src="data:image/png;base64,{encoded}">')

    def html(self) -> str:
        body = "\n".join(self.parts)
        return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>"
                f"<body><h1>{html.escape(self.title)}</h1>\n{body}\n</body></html>\n")


def folder_kind(folder: Path) -> str:
    for kind, marker in KINDS.items():
        if (folder / marker).is_file() or (
                kind == "run" and has_table(folder, marker.removesuffix(".csv"))):
            return kind
    known = ", ".join(KINDS.values())
    raise ScenarioError(str(folder), "", f"not a netsim output folder (none of {known})")


BUDGET_KEY = "rl.total_steps"


def describe_scenario(report: Report, folder: Path, kind: str) -> None:
    """The scenario in one paragraph (a comparison or a search has none at its top); the
    RL budget only for a training or a sweep of trainings (a run, or a sweep of runs,
    trains nothing): a training's scenario.yaml holds its budget, a sweep's the base
    value of a budget it may sweep."""
    path = folder / "scenario.yaml"
    if not path.is_file():
        return
    data = read_yaml_checked(path)
    cell, users, rl = (data.get(key) if isinstance(data.get(key), dict) else {}
                       for key in ("cell", "users", "rl"))
    encoders = data.get("encoders") if isinstance(data.get("encoders"), list) else []
    sweep = data.get("sweep") if isinstance(data.get("sweep"), dict) else {}
    budget = f"; RL budget {rl.get('total_steps')} steps" if kind == "training" else ""
    if kind == "sweep" and sweep.get("kind") == "train":
        grid = sweep.get("grid") if isinstance(sweep.get("grid"), dict) else {}
        points = sweep.get("points") if isinstance(sweep.get("points"), list) else []
        swept = BUDGET_KEY in grid or any(isinstance(point, dict) and BUDGET_KEY in point
                                          for point in points)
        budget = (f"; RL budget swept ({BUDGET_KEY})" if swept
                  else f"; RL budget {rl.get('total_steps')} steps")
    report.note(
        f"Scenario '{data.get('name')}': {users.get('count')} users, {cell.get('n_rbs')} RBs, "
        f"encoders {', '.join(map(str, encoders))}, seeds {data.get('seeds')}, "
        f"{data.get('slots')} slots per seed, delay model {data.get('delay_model')}"
        f"{budget}. {data.get('description', '')}".strip())


def run_report(report: Report, folder: Path) -> None:
    summary, records, scenario = read_run_folder(folder)
    timing_path = table_file(folder, "timing")
    timing = read_table_checked(timing_path, texts=("scheduler",)) if timing_path.is_file() else None
    report.heading("Schedulers")
    report.table(summary, RUN_COLUMNS)
    if timing is not None:
        report.heading("Decision time (wall clock)")
        report.table(timing)
    report.heading("Figures")
    figures = run_figures(summary, records, scenario["task"]["kind"],
                          scenario["limits"]["max_delay_s"])
    for figure in figures.values():
        report.figure(lambda path, figure=figure: save_figure(figure, path))


def plot_curves(curves: dict[str, pd.DataFrame], path: Path) -> Path:
    """Learning curves (one line per label) of the CURVE_METRICS against env steps."""
    fig, axes = subplots(1, len(CURVE_METRICS), figsize=(16, 4.5))
    for index, (label, curve) in enumerate(curves.items()):
        for ax, (metric, _) in zip(axes, CURVE_METRICS):
            ax.plot(curve["env_steps"], curve[metric], "-o", markersize=3, label=label,
                    color=f"C{index % 10}")
    for ax, (_, title) in zip(axes, CURVE_METRICS):
        ax.set_xlabel("environment steps")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].axhline(1.0, color="k", linestyle="--", linewidth=1)
    if len(curves) <= 12:
        axes[0].legend(fontsize=7)
    return save_figure(fig, path)


def read_curve(path: Path) -> pd.DataFrame:
    """A learning_curve.csv, checked (env_steps and the CURVE_METRICS, numbers)."""
    return read_table_checked(path, numbers=("env_steps", *(m for m, _ in CURVE_METRICS)))


def training_report(report: Report, folder: Path) -> None:
    curve = read_curve(folder / "learning_curve.csv")
    report.heading("Learning curve (held-out worlds, against the exact optimum)")
    report.figure(lambda p: plot_curves({folder.name: curve}, p))
    report.table(curve)


def comparison_report(report: Report, folder: Path) -> None:
    report.heading("Algorithms at the last evaluation (mean and 95 % CI over seeds)")
    report.table(read_table_checked(folder / "compare.csv", texts=("algo",)))
    if (folder / "convergence.png").is_file():
        report.png((folder / "convergence.png").read_bytes())


def search_report(report: Report, folder: Path) -> None:
    trials = read_table_checked(folder / "trials.csv", numbers=("number", "value"),
                              texts=("state",))
    numbers = trials["number"]
    if numbers.isna().any() or (numbers != numbers.round()).any():
        raise ScenarioError(str(folder / "trials.csv"), "number",
                            "every trial number must be a whole number")
    trials["number"] = numbers.astype(int)
    curves = {f"trial {n}": read_curve(folder / f"trial-{n}" / "learning_curve.csv")
              for n in trials["number"]
              if (folder / f"trial-{n}" / "learning_curve.csv").is_file()}
    report.heading("Trials (objective: last score vs the statistical optimum)")
    done = trials[trials["state"] == "COMPLETE"].sort_values("value", ascending=False)
    report.note(f"{len(trials)} trials: {len(done)} complete, "
                f"{int((trials['state'] == 'PRUNED').sum())} pruned.")
    report.table(pd.concat([done, trials[trials["state"] != "COMPLETE"]]))
    if curves:
        report.figure(lambda p: plot_curves(curves, p))


def sweep_report(report: Report, folder: Path) -> None:
    table, keys = read_aggregate(folder / "aggregate.csv",
                                 ("mean_reward", *(m for m, _ in SWEEP_METRICS)))
    timing_path = folder / "sweep_timing.csv"
    timing = (read_table_checked(timing_path, numbers=TIMING_METRICS[0][:1],
                               texts=("scheduler",)) if timing_path.is_file() else None)
    if timing is not None and timing["scheduler"].str.startswith("train:").any():
        check_columns(timing, timing_path, numbers=TIMING_METRICS[1][:1])
    profile_path = folder / "profile_aggregate.csv"
    profiles = (read_table_checked(profile_path, numbers=("snr_db",), texts=("encoder",))
                if profile_path.is_file() else None)
    curves = {path.parent.parent.name: read_curve(path)
              for path in sorted(folder.glob("*/train/learning_curve.csv"))}
    report.heading("Aggregate: mean over seeds (METRIC_ci95: 95 % Student-t half-width)")
    headline = [c for metric in ["mean_reward", *(m for m, _ in SWEEP_METRICS)]
                for c in (metric, f"{metric}_ci95")]
    report.table(table, [*keys, "scheduler", "seeds", *headline, "served_fraction"])
    report.figure(lambda p: plot_sweep(table, keys, p, SWEEP_METRICS[:3]))
    report.figure(lambda p: plot_sweep(table, keys, p, SWEEP_METRICS[3:]))
    if timing is not None:
        report.heading("Time (wall clock, mean and 95 % CI over seeds)")
        report.table(timing, [*keys, "scheduler", "seeds", "mean_decision_ms",
                              "mean_decision_ms_ci95", "p95_decide_ms", "train_steps",
                              "train_wall_s", "train_wall_s_ci95"])
        training = timing["scheduler"].str.startswith("train:")
        decisions, trainings = timing[~training], timing[training]
        report.figure(lambda p: plot_sweep(decisions, keys, p, TIMING_METRICS[:1], log_y=True))
        if len(trainings):
            report.figure(lambda p: plot_sweep(trainings, keys, p, TIMING_METRICS[1:]))
    if profiles is not None:
        profile_section(report, profiles)
    if curves:
        report.heading("Learning curves of the trained agents (one line per point and seed)")
        report.figure(lambda p: plot_curves(curves, p))


def profile_section(report: Report, table: pd.DataFrame) -> None:
    """A profile sweep's measured task performance against SNR, one line per encoder
    (and per value of the swept keys)."""
    keys = sweep_keys(table)
    report.heading("Measured profiles: task performance against SNR (mean, 95 % CI over seeds)")
    report.table(table.drop(columns=[c for c in table if c.startswith("clip_i2i")]))
    by_encoder = table.rename(columns={"encoder": "scheduler"})
    panels = tuple((m, m.replace("_", " ")) for m in PROFILE_METRICS if m in table
                   and table[m].notna().any())
    report.figure(lambda p: plot_sweep(by_encoder, ["snr_db", *keys], p, panels))


BUILDERS = {"run": run_report, "training": training_report, "comparison": comparison_report,
            "search": search_report, "sweep": sweep_report}


def build_report(folder: str | Path) -> str:
    """The HTML report of FOLDER (raises ScenarioError if it is no netsim output)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(str(folder), "", "not a folder" if folder.exists() else
                            "no such folder")
    kind = folder_kind(folder)
    report = Report(f"netsim {kind}: {folder.resolve().name}")
    describe_scenario(report, folder, kind)
    BUILDERS[kind](report, folder)
    return report.html()
