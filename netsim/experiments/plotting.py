"""Comparison figures of a run folder (``netsim plot DIR``), PNG via matplotlib; for a
sweep folder the sweep figure, and for a sweep over the offered load
(``users.arrivals.rate_per_s``) the load curves with each scheduler's instability load."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from netsim.errors import ScenarioError
from netsim.experiments.tables import sweep_keys
from netsim.io import atomic_write_bytes, atomic_write_text
from netsim.simulation.output import csv_text
from netsim.table_files import has_table, read_table, table_file

REFERENCE_PREFIX = "reference:"


# ------------------------------------------------------------------ checked reading
# What the figures read of a folder netsim wrote is checked as it is read: a damaged,
# truncated or foreign file raises ScenarioError ("FILE: COLUMN: PROBLEM", one line).
SUMMARY_COLUMNS = ("scheduler",)
SUMMARY_NUMBERS = ("mean_reward", "mean_reward_ci95", "mean_task_loss",
                   "delay_violation_rate", "energy_violation_rate")
RECORDS_NUMBERS = ("total_delay_s",)
SWEEP_NUMBERS = ("mean_reward", "delay_violation_rate", "energy_violation_rate")


def read_table_checked(path: Path, numbers: tuple[str, ...] = (), texts: tuple[str, ...] = (),
                     flags: tuple[str, ...] = (), rows: bool = True, **read_options
                     ) -> pd.DataFrame:
    """The CSV at PATH; ScenarioError if it is missing, unreadable, empty (no rows when
    ROWS), lacks one of the columns NUMBERS (numeric cells, empty allowed), TEXTS (no
    empty cell) or FLAGS (True/False in every cell)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return check_columns(_read_parquet(path, read_options), path, numbers, texts, flags,
                             rows)
    try:
        frame = pd.read_csv(path, **read_options)
        with path.open("rb") as handle:  # netsim ends every CSV with a newline
            size = handle.seek(0, 2)
            handle.seek(max(size - 1, 0))
            if size and handle.read(1) != b"\n":
                raise ScenarioError(str(path), "", "truncated: the last line is incomplete")
    except FileNotFoundError:
        raise ScenarioError(str(path), "", "missing") from None
    except pd.errors.EmptyDataError:
        raise ScenarioError(str(path), "", "the file is empty") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "", "not a text (UTF-8) CSV file") from None
    except (pd.errors.ParserError, ValueError) as error:
        reason = " ".join(str(error).split())[:200]
        raise ScenarioError(str(path), "", f"not a readable CSV file ({reason})") from None
    except OSError as error:
        raise ScenarioError(str(path), "", f"cannot read it ({error.strerror or error})") from None
    return check_columns(frame, path, numbers, texts, flags, rows)


def _read_parquet(path: Path, read_options: dict) -> pd.DataFrame:
    """A Parquet table; ScenarioError (one line) if missing or unreadable."""
    import pyarrow

    try:
        return read_table(path, **read_options)
    except FileNotFoundError:
        raise ScenarioError(str(path), "", "missing") from None
    except (pyarrow.ArrowException, ValueError, OSError) as error:
        if isinstance(error, OSError) and error.strerror:  # the file system's, not pyarrow's
            raise ScenarioError(str(path), "", f"cannot read it ({error.strerror})") from None
        reason = "".join(c if c.isprintable() else " " for c in str(error))
        reason = " ".join(reason.split())[:200]
        raise ScenarioError(str(path), "", f"not a readable Parquet file ({reason})") from None


def check_columns(frame: pd.DataFrame, path: Path, numbers: tuple[str, ...] = (),
                  texts: tuple[str, ...] = (), flags: tuple[str, ...] = (),
                  rows: bool = True) -> pd.DataFrame:
    """FRAME (read from PATH) checked as :func:`read_table_checked` says; NUMBERS made
    numeric, TEXTS made strings."""
    for column in (*numbers, *texts, *flags):
        if column not in frame.columns:
            raise ScenarioError(str(path), column, "required column is missing "
                                "(a damaged file, or not one netsim wrote)")
    if rows and frame.empty:
        raise ScenarioError(str(path), "", "no rows (a damaged or unfinished file)")
    for column in numbers:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column][values.isna() & frame[column].notna()]
        if len(bad):
            raise ScenarioError(str(path), column, f"row {bad.index[0] + 2}: "
                                f"{str(bad.iloc[0])[:40]!r} is not a number")
        frame[column] = values
    for column in texts:
        empty = frame[column].isna()
        if empty.any():
            raise ScenarioError(str(path), column,
                                f"row {int(empty.to_numpy().argmax()) + 2}: empty cell")
        frame[column] = frame[column].astype(str)
    for column in flags:
        if frame[column].dtype != bool:
            values = frame[column].map({True: True, False: False, "True": True,
                                        "False": False})
            bad = frame[column][values.isna()]
            if len(bad):
                raise ScenarioError(str(path), column, f"row {bad.index[0] + 2}: "
                                    f"{str(bad.iloc[0])[:40]!r} is not True or False")
            frame[column] = values.astype(bool)
    return frame


def read_aggregate(path: Path, numbers: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """A sweep's aggregate.csv (checked: a scheduler column, the NUMBERS columns, at least
    one row) and its swept keys (the columns before 'scheduler'; at least one)."""
    table = read_table_checked(path, numbers=numbers, texts=("scheduler",))
    keys = sweep_keys(table)
    if not keys:
        raise ScenarioError(str(path), "", "no swept key column before 'scheduler'")
    return table, keys


def read_yaml_checked(path: Path) -> dict:
    """The YAML mapping at PATH; ScenarioError if it is missing, unreadable or no mapping."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(path), "", "missing") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "", "not a text (UTF-8) file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ScenarioError(str(path), "", f"{where}YAML syntax error") from None
    except OSError as error:
        raise ScenarioError(str(path), "", f"cannot read it ({error.strerror or error})") from None
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "", "the file must hold a mapping of keys to values")
    return data


def scenario_value(data: dict, path: Path, key: str, kind: type | tuple[type, ...]):
    """DATA's dotted KEY (a resolved scenario.yaml read from PATH), of type KIND."""
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ScenarioError(str(path), key, "required key is missing")
        node = node[part]
    if not isinstance(node, kind) or isinstance(node, bool):
        name = getattr(kind, "__name__", "number")
        raise ScenarioError(str(path), key, f"{node!r} is not a {name}")
    return node


def check_figure_folder(folder: Path) -> None:
    """Before drawing: FOLDER (where figures go) must be a folder or creatable as one."""
    folder = Path(folder)
    for place in (folder, *folder.parents):
        if place.exists():
            if not place.is_dir():
                where = "" if place == folder else f", so {folder} cannot be one"
                raise ScenarioError(str(place), "", f"is a file, not a folder for the "
                                    f"figures{where}")
            return


def read_run_folder(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The checked summary, records and resolved scenario of a run folder; the scenario
    dict holds ``task.kind`` and ``limits.max_delay_s`` (checked) for the figures."""
    summary_file, records_file = table_file(run_dir, "summary"), table_file(run_dir, "records")
    for path in (summary_file, records_file, run_dir / "scenario.yaml"):
        if not path.is_file():
            raise ScenarioError(str(run_dir), path.name,
                                "missing: is this a folder 'netsim run' wrote?")
    scenario = read_yaml_checked(run_dir / "scenario.yaml")
    kind = scenario_value(scenario, run_dir / "scenario.yaml", "task.kind", str)
    scenario_value(scenario, run_dir / "scenario.yaml", "limits.max_delay_s", (int, float))
    metric = "accuracy" if kind == "classify" else "clip_i2i_similarity"
    summary = read_table_checked(summary_file, numbers=(*SUMMARY_NUMBERS, metric),
                                 texts=SUMMARY_COLUMNS)
    shares = tuple(c for c in summary.columns if str(c).startswith("share_"))
    check_columns(summary, summary_file, numbers=shares)
    records = read_table_checked(records_file, numbers=RECORDS_NUMBERS,
                                 texts=("scheduler",), flags=("served",), keep_default_na=True)
    return summary, records, scenario


def subplots(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None,
             **grid) -> tuple[Figure, Any]:
    """``pyplot.subplots`` without pyplot: a figure that no backend or figure manager
    knows, drawn by Agg when saved, so that netsim never changes the caller's matplotlib
    backend or keeps figures open (a notebook shows one when it is returned)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **grid)


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically (no timestamp metadata, so stable bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight", metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _colors(labels: list[str]) -> list[str]:
    return ["0.6" if label.startswith(REFERENCE_PREFIX) else "C0" for label in labels]


def reward_figure(summary: pd.DataFrame) -> Figure:
    data = summary.sort_values("mean_reward")
    fig, ax = subplots(figsize=(8, 0.45 * len(data) + 1.5))
    ax.barh(data["scheduler"], data["mean_reward"], xerr=data["mean_reward_ci95"],
            color=_colors(list(data["scheduler"])), capsize=3)
    ax.set_xlabel("mean reward per request (eq. 11; higher is better), 95 % CI over seeds")
    ax.set_title("Reward by scheduler (grey: exact references)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def loss_accuracy_figure(summary: pd.DataFrame, task_kind: str) -> Figure:
    data = summary.sort_values("mean_task_loss")
    fig, axes = subplots(1, 2, figsize=(11, 0.45 * len(data) + 1.5), sharey=True)
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
    return fig


def violations_figure(summary: pd.DataFrame) -> Figure:
    data = summary.sort_values("scheduler")
    y = np.arange(len(data))
    fig, ax = subplots(figsize=(8, 0.5 * len(data) + 1.5))
    ax.barh(y - 0.2, 100 * data["delay_violation_rate"], height=0.4, label="delay > T_max")
    ax.barh(y + 0.2, 100 * data["energy_violation_rate"], height=0.4, label="energy > E_max")
    ax.set_yticks(y, data["scheduler"])
    ax.set_xlabel("served requests violating the limit (%)")
    ax.set_title("Constraint violations")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return fig


def delay_cdf_figure(records: pd.DataFrame, max_delay_s: float) -> Figure:
    fig, ax = subplots(figsize=(8, 5))
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
    return fig


def encoder_share_figure(summary: pd.DataFrame) -> Figure:
    shares = [c for c in summary.columns if c.startswith("share_")]
    data = summary.sort_values("scheduler")
    fig, ax = subplots(figsize=(8, 0.45 * len(data) + 1.5))
    left = np.zeros(len(data))
    for index, column in enumerate(shares):
        ax.barh(data["scheduler"], 100 * data[column], left=left, label=column[6:],
                color=f"C{index}")
        left += 100 * data[column].to_numpy()
    ax.set_xlabel("share of served requests (%)")
    ax.set_title("Encoder choice")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.2 / len(data)), ncol=len(shares))
    return fig


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
    fig, axes = subplots(1, len(panels), figsize=(5.3 * len(panels), 5), squeeze=False)
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


# ------------------------------------------------------------------ load curves
LOAD_KEY = "users.arrivals.rate_per_s"
"""A sweep over this key (Poisson requests per second per user, delay_model: des) gets
the load curves (:func:`plot_load_curves`) beside its sweep figure."""
BACKLOG_THRESHOLD = 0.05
"""A scheduler is unstable at a load where, in at least half of the seeds (the median),
more than this share of the requests is still in the system when arrivals stop
(:func:`backlog_fractions`, :func:`instability_loads`)."""
BACKLOG_CRITERION = "backlog_fraction_median"
"""The column :func:`instability_loads` reads, where the table has it (a load sweep's
table, :func:`load_curve_table`); else ``backlog_fraction`` (e.g. a hand-made table)."""
LOAD_PANELS = (("mean_total_delay_s", "mean delay of served requests (s, log)"),
               ("delay_violation_rate", "late fraction (served requests over T_max)"),
               ("mean_reward", "mean reward per request (eq. 11)"),
               (BACKLOG_CRITERION, "backlog when arrivals stop (share of requests, median)"))
RECORD_COLUMNS = ("scheduler", "seed", "served", "outcome", "decode_end_s")
"""What :func:`load_curve_table` reads of a point's records.csv."""
INSTABILITY_DOC = (
    f"unstable from the smallest load at which, in at least half of the seeds, more than "
    f"{BACKLOG_THRESHOLD:.0%} of the requests are still in the system when arrivals stop"
)


def backlog_fractions(records: pd.DataFrame, end_s: float) -> pd.DataFrame:
    """Per scheduler and seed of one closed-loop run: the share of its requests still in
    the system at ``end_s`` (the last slot boundary, when arrivals stop): waiting at the
    BS (outcome ``unserved``) or served but not yet decoded (``decode_end_s`` later).
    Blocked and expired requests have left. NaN for records without an ``outcome``
    column (the analytic model has no queues).

    Why this measures stability: a stable system holds on average L = lambda W requests
    (Little's law, W the mean time in the system), so at the end of a run of length H
    its backlog is about W / H of the lambda H requests, and shrinks as H grows; an
    unstable one, which completes requests at a rate mu < lambda, keeps about
    1 - mu / lambda of them, whatever H. (The BS wait and the unserved fraction alone
    miss it: with voluntary_drop false and Q >= U every waiting user is served at each
    slot, so the backlog of a scheduler that overloads the CPU, the RBs or the devices
    builds up behind the BS, in committed work.)
    """
    if "outcome" not in records.columns:
        frame = records[["scheduler", "seed"]].drop_duplicates()
        return frame.assign(backlog_fraction=np.nan).reset_index(drop=True)
    in_system = (records["outcome"] == "unserved") | (
        (records["outcome"] == "served") & (records["decode_end_s"] > end_s))
    frame = records[["scheduler", "seed"]].assign(backlog_fraction=in_system.astype(float))
    return (frame.groupby(["scheduler", "seed"], sort=False)["backlog_fraction"].mean()
            .reset_index())


def load_curve_table(sweep_dir: Path, table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The sweep's aggregate TABLE with the backlog added: :func:`backlog_fractions` of
    every finished point folder (values from its ``done.json``, the end of arrivals from
    its ``scenario.yaml``), per point and scheduler its mean over seeds
    (``backlog_fraction``, ``_ci95``) and its median (``backlog_fraction_median``)."""
    from netsim.experiments.sweep import DONE
    from netsim.statistics import ci95_half_width

    measured = ["backlog_fraction", "backlog_fraction_ci95", BACKLOG_CRITERION]
    table = table.drop(columns=measured, errors="ignore")
    frames = []
    for folder in sorted(p for p in sweep_dir.iterdir() if (p / DONE).is_file()):
        if not has_table(folder, "records"):
            continue
        values = _done_values(folder / DONE)
        scenario_file = folder / "scenario.yaml"
        scenario = read_yaml_checked(scenario_file)
        end_s = ((scenario_value(scenario, scenario_file, "slots", int) - 1)
                 * scenario_value(scenario, scenario_file, "slot_duration_s", (int, float)))
        records = read_table_checked(table_file(folder, "records"), texts=("scheduler",),
                                     numbers=("seed",), usecols=lambda c: c in RECORD_COLUMNS)
        part = backlog_fractions(records, end_s)
        for key in keys:
            part[key] = values.get(key)
        frames.append(part)
    if not frames:
        return table.assign(**{column: np.nan for column in measured})
    backlog = pd.concat(frames, ignore_index=True)
    for key in keys:  # the aggregate's types (a YAML 2 is an int, the CSV's 2.0 a float)
        backlog[key] = backlog[key].astype(table[key].dtype)
    per_point = (backlog.groupby([*keys, "scheduler"], sort=False)["backlog_fraction"]
                 .agg(backlog_fraction="mean",
                      backlog_fraction_ci95=lambda v: ci95_half_width(v.dropna().to_numpy()),
                      backlog_fraction_median="median")
                 .reset_index())
    return table.merge(per_point, on=[*keys, "scheduler"], how="left")


def _done_values(path: Path) -> dict:
    """The swept values a finished point's done.json records; ScenarioError if damaged."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))["values"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ScenarioError(str(path), "values", "unreadable (a damaged file)") from None
    if not isinstance(values, dict):
        raise ScenarioError(str(path), "values", "not a mapping of keys to values")
    return values


def row_keys(table: pd.DataFrame, keys: list[str], load_key: str = LOAD_KEY) -> list[str]:
    """The swept keys other than the load that split the curves (e.g. the cores); a key
    that moves with the load (a sweep's ``points`` list: one value per load, several in
    all) does not."""
    def moves_with_load(key: str) -> bool:
        per_load = table.groupby(load_key)[key].nunique(dropna=False).max()
        return per_load == 1 and table[key].nunique(dropna=False) > 1

    return [k for k in keys if k != load_key and not moves_with_load(k)]


def instability_loads(table: pd.DataFrame, keys: list[str] | None = None,
                      load_key: str = LOAD_KEY, threshold: float = BACKLOG_THRESHOLD,
                      column: str | None = None) -> pd.DataFrame:
    """Per value of the other swept keys (e.g. the cores) and scheduler: the smallest
    swept load at which the backlog COLUMN exceeds THRESHOLD (``unstable_load``, NaN if
    none; a NaN backlog never counts), the largest swept load below it
    (``last_stable_load``), the largest load swept, and at the unstable load the backlog,
    the mean delay and the late fraction. COLUMN: ``backlog_fraction_median`` where the
    table has it, else ``backlog_fraction``."""
    keys = sweep_keys(table) if keys is None else keys
    if column is None:
        column = BACKLOG_CRITERION if BACKLOG_CRITERION in table else "backlog_fraction"
    other = row_keys(table, keys, load_key)
    rows = []
    for label, group in table.groupby([*other, "scheduler"], sort=False):
        label = label if isinstance(label, tuple) else (label,)
        group = group.sort_values(load_key)
        loads = group[load_key].to_numpy(dtype=float)
        over = np.flatnonzero(group[column].to_numpy(dtype=float) > threshold)
        first = over[0] if over.size else None
        row = dict(zip([*other, "scheduler"], label))
        row["unstable_load"] = loads[first] if first is not None else np.nan
        below = loads[:first] if first is not None else loads
        row["last_stable_load"] = below[-1] if below.size else np.nan
        row["max_load_swept"] = loads[-1]
        for name, source in (("backlog_at_unstable", column),
                             ("mean_total_delay_s_at_unstable", "mean_total_delay_s"),
                             ("delay_violation_rate_at_unstable", "delay_violation_rate")):
            known = first is not None and source in group
            row[name] = group[source].to_numpy(dtype=float)[first] if known else np.nan
        row["criterion"] = f"{column} > {threshold:g}"
        rows.append(row)
    return pd.DataFrame(rows)


def capacity_lines(scenario: dict, cores: int | None) -> list[tuple[float, str]]:
    """Per-user loads (requests/s) that saturate a resource, from a resolved scenario:
    the slot structure (one request per user per slot, 1 / tau) and, per encoder, the
    BS cores if every request used it (cores / (U t_E), eq. 3)."""
    from netsim.model.delay import extraction_delay_s
    from netsim.model.encoders import relative_size

    try:
        bs, users = scenario["base_station"], scenario["users"]["count"]
        cores = bs["cores"] if cores is None else cores
        lines = [(1.0 / scenario["slot_duration_s"], "1/τ")]
        for name in scenario["encoders"]:
            t_e = float(extraction_delay_s(bs["cycles_per_bit"], scenario["task"]["image_bits"],
                                           relative_size(name), bs["cpu_hz"]))
            lines.append((cores / (users * t_e), f"CPU, all {name}"))
    except (KeyError, TypeError):
        return []
    return lines


def load_panels(table: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """LOAD_PANELS, the backlog panel drawing ``backlog_fraction`` (mean over seeds)
    where the table has no median."""
    if BACKLOG_CRITERION in table or "backlog_fraction" not in table:
        return LOAD_PANELS
    return (*LOAD_PANELS[:-1], ("backlog_fraction", "backlog when arrivals stop (share)"))


def plot_load_curves(table: pd.DataFrame, instability: pd.DataFrame, keys: list[str],
                     path: Path, scenario: dict | None = None,
                     load_key: str = LOAD_KEY) -> Path:
    """The classic load curves: LOAD_PANELS' metrics against the offered load, one line
    per scheduler, one row of panels per value of the other swept keys (e.g. the BS
    cores); a cross marks the load at which each scheduler becomes unstable
    (:func:`instability_loads`), the line continues dashed beyond it. Grey verticals:
    the loads that saturate the slot structure and the cores (:func:`capacity_lines`)."""
    other = row_keys(table, keys, load_key)
    panels = load_panels(table)
    rows = [()] if not other else list(
        table[other].drop_duplicates().sort_values(other).itertuples(index=False, name=None))
    schedulers = sorted(table["scheduler"].unique(), key=lambda s: (s.startswith(
        REFERENCE_PREFIX), s))
    color = {s: f"C{i % 10}" for i, s in enumerate(schedulers)}
    fig, axes = subplots(len(rows), len(panels), squeeze=False,
                             figsize=(4.6 * len(panels), 3.9 * len(rows)))
    x_max = float(table[load_key].max())
    for r, row_values in enumerate(rows):
        mask = np.ones(len(table), dtype=bool)
        unstable_mask = np.ones(len(instability), dtype=bool)
        for key, value in zip(other, row_values):
            mask &= (table[key] == value).to_numpy()
            unstable_mask &= (instability[key] == value).to_numpy()
        part, marks = table[mask], instability[unstable_mask]
        row_name = ", ".join(f"{k} = {v}" for k, v in zip(other, row_values))
        cores = dict(zip(other, row_values)).get("base_station.cores")
        for scheduler in schedulers:
            group = part[part["scheduler"] == scheduler].sort_values(load_key)
            if group.empty:
                continue
            found = marks.loc[marks["scheduler"] == scheduler, "unstable_load"]
            unstable = float(found.iloc[0]) if len(found) else np.nan
            reference = scheduler.startswith(REFERENCE_PREFIX)
            for ax, (column, _) in zip(axes[r], panels):
                if column not in group:
                    continue
                x, y = group[load_key].to_numpy(float), group[column].to_numpy(float)
                error = group.get(f"{column}_ci95")
                error = None if error is None or column == "mean_total_delay_s" else error
                stable = ~(x > unstable) if not np.isnan(unstable) else np.ones_like(x, bool)
                error_stable = None if error is None else error.to_numpy(float)[stable]
                ax.errorbar(x[stable], y[stable], yerr=error_stable,
                            fmt=":" if reference else "-o", color=color[scheduler],
                            markersize=3.5, capsize=2, linewidth=1.3,
                            label=scheduler if ax is axes[0, 0] else None)
                if not np.isnan(unstable):
                    beyond = x >= unstable
                    ax.plot(x[beyond], y[beyond], "--", color=color[scheduler],
                            linewidth=1.0, alpha=0.6)
                    ax.plot(x[x == unstable], y[x == unstable], "X", color=color[scheduler],
                            markersize=10, markeredgecolor="k", markeredgewidth=0.6)
        for ax, (column, title) in zip(axes[r], panels):
            ax.set_title(f"{title}\n{row_name}" if row_name else title, fontsize=9)
            ax.set_xlabel(f"offered load: {load_key} (requests/s per user)", fontsize=8)
            ax.grid(alpha=0.3)
            if column == "mean_total_delay_s":
                ax.set_yscale("log")
            if column in (BACKLOG_CRITERION, "backlog_fraction"):
                ax.axhline(BACKLOG_THRESHOLD, color="k", linestyle="--", linewidth=0.8)
            if column != "mean_total_delay_s" and column != "mean_reward":
                ax.set_ylim(-0.03, 1.03)
            for load, name in capacity_lines(scenario or {}, cores):
                if load <= 1.05 * x_max:
                    ax.axvline(load, color="0.5", linestyle=":", linewidth=0.9)
                    ax.text(load, 1.0, name, rotation=90, fontsize=6, color="0.35",
                            ha="right", va="top", transform=ax.get_xaxis_transform())
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(Line2D([], [], marker="X", color="0.4", linestyle="none",
                              markeredgecolor="k", markersize=9))
    labels.append("becomes unstable (dashed beyond)")
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle("Load curves: mean and 95 % CI over seeds (backlog: median); "
                 + INSTABILITY_DOC, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_load_sweep(sweep_dir: Path, table: pd.DataFrame, keys: list[str]) -> list[Path]:
    """A load sweep's curves and tables into SWEEP_DIR/plots: load_curves.png,
    load_curves.csv (what the figure draws) and instability.csv (per scheduler, and
    value of the other swept keys, the load at which it becomes unstable)."""
    return _load_sweep_job(sweep_dir, table, keys)()


def _load_sweep_job(sweep_dir: Path, table: pd.DataFrame,
                    keys: list[str]) -> Callable[[], list[Path]]:
    """Read and check what :func:`plot_load_sweep` draws (ScenarioError before anything
    is written); returns the function that draws and writes it."""
    out = sweep_dir / "plots"
    curves = load_curve_table(sweep_dir, table, keys)
    instability = instability_loads(curves, keys)
    scenario_file = sweep_dir / "scenario.yaml"
    scenario = read_yaml_checked(scenario_file) if scenario_file.is_file() else None
    columns = [*keys, "scheduler", "seeds"] + [
        c for column, _ in LOAD_PANELS for c in (column, f"{column}_ci95") if c in curves]
    extra = [c for c in ("backlog_fraction", "backlog_fraction_ci95", "unserved_fraction",
                         "mean_bs_wait_s", "mean_queueing_delay_s", "served_fraction")
             if c in curves]

    def draw() -> list[Path]:
        atomic_write_text(out / "load_curves.csv", csv_text(curves[columns + extra]))
        atomic_write_text(out / "instability.csv", csv_text(instability))
        figure = plot_load_curves(curves, instability, keys, out / "load_curves.png", scenario)
        return [figure, out / "load_curves.csv", out / "instability.csv"]

    return draw


def plot_profile(csv_path: Path) -> Path:
    """A task-loss profile CSV: accuracy (CLIP-I similarity for a measured regeneration
    profile) against SNR, one line per encoder, written beside it as FILE.png."""
    from netsim.model.taskloss import load_profile

    profile = load_profile(csv_path)
    regenerate = any("task=regenerate" in text for text in profile.provenance.values())
    metric = "clip_i2i_similarity" if regenerate else "accuracy"
    fig, ax = subplots(figsize=(7, 4.5))
    for index, encoder in enumerate(profile.encoders):
        ax.plot(profile.snr_db[encoder], profile.values[metric][encoder], "-o", markersize=3,
                label=encoder, color=f"C{index % 10}")
    ax.set_xlabel("per-element SNR of the received features (dB)")
    ax.set_ylabel("CLIP image-to-image similarity" if regenerate else "accuracy")
    ax.set_title(f"Task-loss profile {csv_path.name}")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, csv_path.with_suffix(".png"))


RUN_FIGURES = ("reward", "loss_accuracy", "violations", "delay_cdf", "encoder_share")
"""The figures of a run, by name (each saved as plots/NAME.png)."""


def run_figures(summary: pd.DataFrame, records: pd.DataFrame, task_kind: str,
                max_delay_s: float) -> dict[str, Figure]:
    """A run's figures (:data:`RUN_FIGURES`) as matplotlib figures, from its summary and
    records, the task kind and T_max (s)."""
    return {
        "reward": reward_figure(summary),
        "loss_accuracy": loss_accuracy_figure(summary, task_kind),
        "violations": violations_figure(summary),
        "delay_cdf": delay_cdf_figure(records, max_delay_s),
        "encoder_share": encoder_share_figure(summary),
    }


def plot_run(run_dir: str | Path) -> list[Path]:
    """All figures of a run folder, written to RUN_DIR/plots; for a sweep folder, the
    sweep figure (and, for a load sweep, :func:`plot_load_sweep`'s curves and tables) and
    every point's figures; for a profile CSV, its curves. Returns the paths written.
    Everything is read and checked before the first file is written: a damaged or
    foreign input raises ScenarioError and writes nothing."""
    run_dir = Path(run_dir)
    if run_dir.is_file() and run_dir.suffix == ".csv":
        check_figure_folder(run_dir.parent)
        if run_dir.with_suffix(".png").is_dir():
            raise ScenarioError(str(run_dir.with_suffix(".png")), "", "is a folder, not a file")
        return [plot_profile(run_dir)]
    if not run_dir.is_dir():
        raise ScenarioError(str(run_dir), "", "no such folder (or profile CSV)" if not
                            run_dir.exists() else "not a folder netsim wrote, nor a profile CSV")
    return [path for draw in _plot_jobs(run_dir) for path in draw()]


def _plot_jobs(run_dir: Path) -> list[Callable[[], list[Path]]]:
    """The figures of RUN_DIR (see :func:`plot_run`), read and checked: functions that
    draw and write them."""
    sweep_file = run_dir / "aggregate.csv"
    if sweep_file.is_file():
        table, keys = read_aggregate(sweep_file, SWEEP_NUMBERS)
        check_figure_folder(run_dir / "plots")
        jobs = [lambda: [plot_sweep(table, keys, run_dir / "plots" / "sweep.png")]]
        if LOAD_KEY in keys:
            jobs.append(_load_sweep_job(run_dir, table, keys))
        for folder in sorted(p for p in run_dir.iterdir() if has_table(p, "summary")):
            jobs += _plot_jobs(folder)
        return jobs
    summary, records, scenario = read_run_folder(run_dir)
    out = run_dir / "plots"
    check_figure_folder(out)
    kind, max_delay_s = scenario["task"]["kind"], scenario["limits"]["max_delay_s"]
    return [lambda: [save_figure(figure, out / f"{name}.png") for name, figure
                     in run_figures(summary, records, kind, max_delay_s).items()]]
