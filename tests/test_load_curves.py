"""Load curves of a sweep over the offered load (netsim plot on a sweep folder): a real
tiny `netsim sweep` plotted through the CLI gives the figure, the curves' table and the
instability CSV; the instability rule on hand-made tables; the backlog count on
hand-made records; the shipped load sweep is queueing.yaml's scenario."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from netsim.cli import app
from netsim.experiments.plotting import (
    BACKLOG_THRESHOLD,
    LOAD_KEY,
    backlog_fractions,
    capacity_lines,
    instability_loads,
    plot_load_curves,
)
from netsim.loading import load_scenario
from netsim.scenario import scenario_data
from tests.scenario_factory import ROOT

QUEUEING = ROOT / "scenarios" / "queueing.yaml"
LOAD_SWEEP = ROOT / "scenarios" / "sweeps" / "queueing_load.yaml"
CORES = "base_station.cores"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------- a real tiny sweep
@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """queueing.yaml cut down (U = 2, 21 slots of 0.1 s, one seed, two schedulers) at
    1 and 40 requests/s per user (4 per slot: far past the slot structure's capacity),
    run by `netsim sweep` and drawn by `netsim plot`."""
    folder = tmp_path_factory.mktemp("load")
    data = yaml.safe_load(QUEUEING.read_text())
    data.update(name="tiny_load", seeds=[0], slots=21,
                schedulers=[{"type": "hungarian", "information": "oracle"},
                            {"type": "fixed_encoder", "encoder": "ViT-B-32"}],
                sweep={"grid": {LOAD_KEY: [1.0, 40.0], CORES: [1]}})
    data["users"]["count"] = 2
    source = folder / "tiny_load.yaml"
    source.write_text(yaml.safe_dump(data, sort_keys=False))
    out = folder / "sweep"
    runner = CliRunner()
    done = runner.invoke(app, ["sweep", str(source), "--out", str(out), "--workers", "1",
                               "--no-progress"])
    assert done.exit_code == 0, done.output
    drawn = runner.invoke(app, ["plot", str(out)])
    assert drawn.exit_code == 0, drawn.output
    assert f"wrote {out / 'plots' / 'load_curves.png'}" in drawn.output
    return out


def test_plot_of_a_load_sweep_writes_the_figure_and_the_instability_csv(tiny_sweep: Path):
    plots = tiny_sweep / "plots"
    assert (plots / "load_curves.png").read_bytes().startswith(PNG_MAGIC)
    assert (plots / "sweep.png").read_bytes().startswith(PNG_MAGIC)  # the generic figure too
    aggregate = pd.read_csv(tiny_sweep / "aggregate.csv")
    curves = pd.read_csv(plots / "load_curves.csv")
    # the figure's table: the aggregate's rows, with the backlog measured from the records
    assert len(curves) == len(aggregate)
    assert curves["backlog_fraction"].between(0, 1).all()
    # one seed: its median is its mean
    assert np.allclose(curves["backlog_fraction_median"], curves["backlog_fraction"])
    for column in ("mean_total_delay_s", "delay_violation_rate", "mean_reward"):
        assert np.allclose(curves[column], aggregate[column])
    unstable = pd.read_csv(plots / "instability.csv")
    schedulers = set(aggregate["scheduler"])
    assert set(unstable["scheduler"]) == schedulers  # the two references included
    assert {"hungarian_oracle", "fixed_encoder_ViT-B-32"} < schedulers
    assert list(unstable[CORES]) == [1] * len(schedulers)
    assert (unstable["criterion"] == f"backlog_fraction_median > {BACKLOG_THRESHOLD:g}").all()
    # 40 requests/s per user against one slot a user per 0.1 s: the BS queue grows by
    # 3 requests a slot for everyone, so every scheduler is unstable there at the latest
    assert unstable["unstable_load"].isin([1.0, 40.0]).all()
    high = curves[curves[LOAD_KEY] == 40.0]
    assert (high["backlog_fraction_median"] > 0.5).all()
    assert (high["unserved_fraction"] > 0.5).all()


# --------------------------------------------------------- the instability rule
def hand_made(rows: dict[tuple[int, str], list[float]], loads: list[float]) -> pd.DataFrame:
    """An aggregate-like table: keys first, then the scheduler and its metrics."""
    records = []
    for (cores, scheduler), backlog in rows.items():
        for load, value in zip(loads, backlog):
            records.append({LOAD_KEY: load, CORES: cores, "scheduler": scheduler,
                            "seeds": 3, "mean_total_delay_s": 0.1 + value,
                            "delay_violation_rate": min(1.0, 2 * value),
                            "mean_reward": -value, "backlog_fraction": value})
    return pd.DataFrame(records)


def test_instability_load_is_the_smallest_load_over_the_threshold():
    loads = [1.0, 2.0, 4.0, 8.0]
    table = hand_made({
        (1, "myopic"): [0.01, 0.02, 0.20, 0.60],  # unstable from 4
        (2, "myopic"): [0.01, 0.01, 0.03, 0.40],  # a second core moves it to 8
        (1, "queue_aware"): [0.00, 0.01, 0.02, 0.05],  # 0.05 is not above 0.05: stable
        (1, "overloaded"): [0.30, 0.50, 0.70, 0.80],  # unstable at the first load
        (1, "noisy"): [0.01, 0.06, 0.03, 0.50],  # the smallest load over it counts
        (1, "no_backlog"): [float("nan")] * 4,  # not measured (analytic): never flagged
    }, loads)
    table = table.sample(frac=1.0, random_state=0).reset_index(drop=True)  # any row order
    result = instability_loads(table, keys=[LOAD_KEY, CORES]).set_index([CORES, "scheduler"])
    expected = {  # (unstable_load, last_stable_load)
        (1, "myopic"): (4.0, 2.0),
        (2, "myopic"): (8.0, 4.0),
        (1, "queue_aware"): (math.nan, 8.0),
        (1, "overloaded"): (1.0, math.nan),
        (1, "noisy"): (2.0, 1.0),
        (1, "no_backlog"): (math.nan, 8.0),
    }
    assert len(result) == len(expected)
    for key, (unstable, last_stable) in expected.items():
        row = result.loc[key]
        assert row["unstable_load"] == unstable or (math.isnan(unstable)
                                                    and math.isnan(row["unstable_load"])), key
        assert row["last_stable_load"] == last_stable or (
            math.isnan(last_stable) and math.isnan(row["last_stable_load"])), key
        assert row["max_load_swept"] == 8.0
    assert result.loc[(1, "myopic"), "backlog_at_unstable"] == 0.20
    assert result.loc[(1, "myopic"), "mean_total_delay_s_at_unstable"] == pytest.approx(0.30)
    # the swept keys are read off the table when not given (columns before 'scheduler')
    assert instability_loads(table).equals(instability_loads(table, keys=[LOAD_KEY, CORES]))
    # a stricter threshold flags more
    strict = instability_loads(table, threshold=0.015).set_index([CORES, "scheduler"])
    assert strict.loc[(1, "myopic"), "unstable_load"] == 2.0
    assert strict.loc[(1, "queue_aware"), "unstable_load"] == 4.0
    assert (result["criterion"] == "backlog_fraction > 0.05").all()


def test_the_median_over_seeds_decides_where_the_table_has_it():
    """One seed's rare event (a transmission in a deep fade holding an RB for a minute)
    moves the mean over seeds, not the median: a load sweep's table has both, and the
    median decides."""
    table = hand_made({(1, "s"): [0.01, 0.08, 0.30]}, [1.0, 2.0, 4.0])
    table["backlog_fraction_median"] = [0.01, 0.02, 0.30]  # 0.08: one seed of three at 0.2
    result = instability_loads(table)
    assert result["unstable_load"].tolist() == [4.0]
    assert result["backlog_at_unstable"].tolist() == [0.30]
    assert result["criterion"].tolist() == ["backlog_fraction_median > 0.05"]
    by_mean = instability_loads(table, column="backlog_fraction")
    assert by_mean["unstable_load"].tolist() == [2.0]


def test_a_key_that_moves_with_the_load_does_not_split_the_curves():
    table = hand_made({(1, "s"): [0.01, 0.08]}, [1.0, 2.0])
    table[CORES] = [1, 2]  # a points list: {load: 1, cores: 1}, {load: 2, cores: 2}
    result = instability_loads(table)
    assert CORES not in result and result["unstable_load"].tolist() == [2.0]


def test_load_curves_figure_from_a_hand_made_table(tmp_path: Path):
    loads = [1.0, 2.0, 4.0]
    table = hand_made({(1, "a"): [0.0, 0.1, 0.3], (1, "reference:b"): [0.0, 0.0, 0.0]}, loads)
    table = table.drop(columns=CORES)  # one swept key: one row of panels
    unstable = instability_loads(table, keys=[LOAD_KEY])
    assert list(unstable["unstable_load"].fillna(-1)) == [2.0, -1]
    scenario = scenario_data(load_scenario(QUEUEING))
    path = plot_load_curves(table, unstable, [LOAD_KEY], tmp_path / "curves.png", scenario)
    assert path.read_bytes().startswith(PNG_MAGIC)


# ----------------------------------------------------------------- the backlog
def test_backlog_counts_requests_waiting_or_not_yet_decoded_at_the_end():
    end = 10.0
    records = pd.DataFrame({
        "scheduler": ["s"] * 6 + ["t"] * 2,
        "seed": [0] * 6 + [0, 1],
        "outcome": ["served", "served", "unserved", "blocked", "expired", "served",
                    "served", "unserved"],
        "served": [True, True, False, False, False, True, True, False],
        # decoded before the end, after it (still in the system), exactly at it
        "decode_end_s": [3.0, 10.5, np.nan, np.nan, np.nan, 10.0, 1.0, np.nan],
    })
    result = backlog_fractions(records, end).set_index(["scheduler", "seed"])
    assert result.loc[("s", 0), "backlog_fraction"] == pytest.approx(2 / 6)
    assert result.loc[("t", 0), "backlog_fraction"] == 0.0
    assert result.loc[("t", 1), "backlog_fraction"] == 1.0
    analytic = backlog_fractions(records.drop(columns="outcome"), end)
    assert analytic["backlog_fraction"].isna().all() and len(analytic) == 3


def test_capacity_lines_follow_the_papers_extraction_times():
    scenario = scenario_data(load_scenario(QUEUEING))
    lines = {name: load for load, name in capacity_lines(scenario, None)}
    assert lines["1/τ"] == pytest.approx(1 / scenario["slot_duration_s"])  # 10 per user
    # t_E = 4.8 / 19.2 / 88.5 ms (eq. 3), U = 5, one core
    assert lines["CPU, all ViT-B-32"] == pytest.approx(1 / (5 * 0.0048169), rel=1e-3)
    assert lines["CPU, all ViT-L-14"] == pytest.approx(1 / (5 * 0.08849), rel=1e-3)
    two = {name: load for load, name in capacity_lines(scenario, 2)}
    assert two["CPU, all ViT-L-14"] == pytest.approx(2 * lines["CPU, all ViT-L-14"])
    assert capacity_lines({}, 1) == []


# ------------------------------------------------------------ the shipped files
def test_load_sweep_is_queueing_yaml_at_other_loads_and_cores():
    """The sweep's base is queueing.yaml's scenario but for the budget (seeds, slots)
    and the swept keys; it sweeps the load and the cores."""
    base, sweep = (scenario_data(load_scenario(p)) for p in (QUEUEING, LOAD_SWEEP))
    assert sweep["sweep"]["grid"][CORES] == [1, 2]
    loads = sweep["sweep"]["grid"][LOAD_KEY]
    assert loads == sorted(loads) and len(loads) >= 5
    for data in (base, sweep):
        for key in ("name", "description", "seeds", "slots", "sweep", "rl"):
            data.pop(key)  # rl: how an agent trains here, not the simulated system
        data["users"]["arrivals"].pop("rate_per_s")
        data["base_station"].pop("cores")
    assert sweep == base
