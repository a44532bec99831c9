"""The random world: reproducible, within its bounds, with the stated statistics."""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from netsim.model.channel import dbm_to_w
from netsim.model.world import generate_snapshots, generate_world
from tests.scenario_factory import make_scenario


def test_same_seed_same_world_other_seed_other_world():
    scenario = make_scenario(slots=50, users={"mobility": {"model": "random_walk"}})
    a, b, c = generate_world(scenario, 7), generate_world(scenario, 7), generate_world(scenario, 8)
    for field in ("position_m", "fading", "interference_w", "active", "user_cpu_hz"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.fading, c.fading)


def test_random_walk_stays_in_the_cell_and_moves_at_its_speed():
    scenario = make_scenario(slots=500, slot_duration_s=1.0,
                             users={"count": 20, "mobility": {"model": "random_walk",
                                                              "speed_mps": 30.0}})
    world = generate_world(scenario, 1)
    cell = scenario.cell
    assert world.distance_m.min() >= cell.min_distance_m - 1e-9
    assert world.distance_m.max() <= cell.radius_m + 1e-9
    steps = np.linalg.norm(np.diff(world.position_m, axis=0), axis=-1)
    assert steps.max() <= 30.0 + 1e-6
    assert np.median(steps) > 25.0


def test_fading_is_unit_mean_exponential_and_interference_is_ar1():
    scenario = make_scenario(slots=20000, users={"count": 2}, cell={"n_rbs": 3})
    world = generate_world(scenario, 3)
    assert abs(world.fading.mean() - 1.0) < 0.02
    assert abs(np.median(world.fading) - np.log(2)) < 0.02
    itf = scenario.cell.interference
    level_db = 10 * np.log10(world.interference_w / dbm_to_w(itf.mean_dbm))
    assert abs(level_db.mean()) < 0.5
    assert abs(level_db.std() - itf.std_db) < 0.3
    lag1 = np.corrcoef(level_db[1:, 0], level_db[:-1, 0])[0, 1]
    assert abs(lag1 - itf.slot_correlation) < 0.02


def test_arrival_probability_and_per_rb_fading_shape():
    scenario = make_scenario(slots=4000, users={"arrivals": {"probability": 0.3}},
                             cell={"fading": {"per": "user_rb"}})
    world = generate_world(scenario, 0)
    assert abs(world.active.mean() - 0.3) < 0.02
    assert world.fading.shape == (4000, scenario.users.count, scenario.cell.n_rbs)


def test_snapshots_are_independent_one_slot_worlds():
    """RL training draws one-slot worlds in blocks: same laws as generate_world's
    single slot (two-sample KS on distances, clocks, interference and fading)."""
    scenario = make_scenario(slots=1, users={"arrivals": {"probability": 0.6}})
    block = generate_snapshots(scenario, 5, 2000)
    singles = [generate_world(scenario, seed) for seed in range(2000)]
    assert block.distance_m.shape == block.user_cpu_hz.shape == (2000, scenario.users.count)
    pairs = {
        "distance": (block.distance_m, [w.distance_m for w in singles]),
        "clock": (block.user_cpu_hz, [w.user_cpu_hz for w in singles]),
        "interference": (block.interference_w, [w.interference_w for w in singles]),
        "fading": (block.fading, [w.fading for w in singles]),
    }
    for name, (batched, one_by_one) in pairs.items():
        assert ks_2samp(np.ravel(batched), np.concatenate([np.ravel(x) for x in one_by_one]))\
            .pvalue > 0.01, name
    assert abs(block.active.mean() - 0.6) < 0.02
    assert len(np.unique(block.distance_m[:, 0])) == 2000  # a new layout every slot
