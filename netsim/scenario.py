"""Scenario files: the strict schema, every default with its unit.

Every parameter of the system model (DESIGN §1–2) has its default here and only here.
A scenario YAML file overrides any subset; unknown keys are errors. This module is the
schema only and imports nothing of netsim above it; reading files, checking them
against the scheduler plugins and the profile, and expanding sweeps is
:mod:`netsim.loading`.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from netsim.errors import ScenarioError
from netsim.model.encoders import ENCODERS

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True, ge=1)]
"""A whole number >= 1; YAML booleans and floats are rejected."""
MAX_SEED = 2**63 - 1
"""The largest seed: seeds are written in int64 columns (records.csv, sweep tables)."""
Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
"""A seed: 0 .. MAX_SEED."""
MAX_TRAINING_SEED = 2**32 - 1
"""The largest training seed: stable-baselines3 seeds numpy's legacy generator with it."""


def training_seed_problem(seed: int) -> str | None:
    """Why ``seed`` cannot seed a training (one line), or None."""
    if not 0 <= seed <= MAX_TRAINING_SEED:
        return (f"{seed}: a training seed is from 0 to 2**32 - 1 (stable-baselines3 seeds "
                "numpy's legacy generator with it)")
    return None


NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True
    )


# --------------------------------------------------------------------------- channel
class PowerLawPathLoss(Strict):
    """Paper's law: g(d) = g_1m * d**(-exponent), d in metres."""

    model: Literal["power_law"] = "power_law"
    exponent: PositiveFloat = 2.0
    gain_at_1m_db: float = Field(
        -38.5, le=0, description="path gain at 1 m, dB (free space at 2 GHz: -38.5 dB)"
    )


class MacroPathLoss(Strict):
    """3GPP macro-cell law: PL = 128.1 + 37.6 log10(d / km) dB."""

    model: Literal["3gpp_macro"] = "3gpp_macro"


class Fading(Strict):
    """Block fading: the power gain o, of mean 1, redrawn each slot."""

    model: Literal["rayleigh", "none"] = "rayleigh"
    """rayleigh: o ~ Exp(1) (paper); none: o = 1."""
    per: Literal["user", "user_rb"] = "user"
    """user: one gain per user (paper, h_u); user_rb: frequency-selective, one per user and RB."""


class RicianFading(Fading):
    """A line-of-sight path holding K / (K + 1) of the mean power beside the scattered
    Rayleigh part: o = |sqrt(K / (K + 1)) + CN(0, 1 / (K + 1))|^2, a scaled non-central
    chi-square with 2 degrees of freedom (K = 0 is Rayleigh)."""

    model: Literal["rician"]  # type: ignore[assignment]
    k_factor: float = Field(3.0, ge=0, le=1e4)
    """K, linear (not dB)."""


class NakagamiFading(Fading):
    """Nakagami-m amplitude: o ~ Gamma(m, 1 / m) (m = 1 is Rayleigh; larger m, less
    fading)."""

    model: Literal["nakagami"]  # type: ignore[assignment]
    m: float = Field(2.0, ge=0.5, le=1e4)
    """Shape m >= 1/2."""


FadingLaw = Annotated[Fading | RicianFading | NakagamiFading, Field(discriminator="model")]
"""A fading law chosen by ``model`` (rayleigh, rician, nakagami, none)."""


class Interference(Strict):
    """Inter-cell interference per RB, an AR(1) process in dB over slots."""

    mean_dbm: float = Field(-78.0, le=60)
    """Mean interference power in one RB, dBm."""
    std_db: NonNegativeFloat = 6.0
    slot_correlation: float = Field(0.9, ge=0, lt=1)
    """AR(1) coefficient from one slot to the next (0: independent slots)."""


class Cell(Strict):
    n_rbs: Annotated[Count, Field(le=100_000)] = 6
    """Q, number of resource blocks."""
    rb_bandwidth_hz: PositiveFloat = 1.8e5
    """B, one LTE resource block (12 x 15 kHz)."""
    tx_power_w: PositiveFloat = 0.2
    """P, BS transmit power in one RB, W (0.2 W = 23 dBm)."""
    noise_psd_dbm_per_hz: float = -174.0
    """N0, thermal noise power spectral density, dBm/Hz."""
    noise_figure_db: NonNegativeFloat = 7.0
    """Receiver noise figure added to N0, dB."""
    radius_m: PositiveFloat = 600.0
    """Cell radius: users lie at most this far from the BS, m."""
    min_distance_m: PositiveFloat = 40.0
    """Users lie at least this far from the BS, m."""
    pathloss: Annotated[PowerLawPathLoss | MacroPathLoss, Field(discriminator="model")] = (
        PowerLawPathLoss()
    )
    fading: FadingLaw = Fading()
    interference: Interference = Interference()

    @model_validator(mode="before")
    @classmethod
    def _default_models(cls, data: Any) -> Any:
        """A pathloss or fading section written without ``model`` takes the default one
        (power_law, rayleigh), as the section left out does: ``fading: {per: user_rb}``."""
        if not isinstance(data, dict):
            return data
        for key, default in (("pathloss", "power_law"), ("fading", "rayleigh")):
            section = data.get(key)
            if isinstance(section, dict) and "model" not in section:
                data = {**data, key: {"model": default, **section}}
        return data

    @field_validator("min_distance_m")
    @classmethod
    def _annulus(cls, value: float, info: ValidationInfo) -> float:
        radius = info.data.get("radius_m")
        if radius is not None and value >= radius:
            raise ValueError(f"must be smaller than radius_m ({radius}) (got {value})")
        return value


# ------------------------------------------------------------------- compute, users
class BaseStation(Strict):
    cpu_hz: PositiveFloat = 1.5e9
    """f_B, the clock of the BS processor that runs the encoders, cycles/s."""
    cycles_per_bit: PositiveFloat = 6.0
    """c_B, cycles per image bit for the reference encoder (ViT-B-32, s_m = 1)."""
    kappa: PositiveFloat = 6.4e-26
    """kappa_B, effective switched capacitance: compute power = kappa * f**3, W."""
    cores: Count = 1
    """Processors that run extraction jobs in parallel (DES only)."""


class Mobility(Strict):
    model: Literal["static", "random_walk"] = "static"
    """static: users keep their positions; random_walk: a step per slot, random direction."""
    speed_mps: NonNegativeFloat = 1.5
    """Walking speed for random_walk, m/s."""


class Arrivals(Strict):
    """Request traffic (netsim/simulation/traffic.py)."""

    model: Literal["bernoulli", "poisson"] = "bernoulli"
    """bernoulli: at each slot's start a user requests one image with ``probability``;
    poisson: each user's requests arrive at continuous times, a Poisson process of
    ``rate_per_s`` (delay_model: des only), and wait at the BS for a slot boundary."""
    probability: Probability = 1.0
    """Bernoulli: probability that a user requests an image in a slot."""
    rate_per_s: PositiveFloat = 1.0
    """Poisson: requests per second per user."""


class RequestQueue(Strict):
    """Each user's FIFO of waiting requests at the BS (delay_model: des). One request
    per user is served per slot (paper 10a), the oldest first. A request lost to the
    limit or the timeout is counted and costs the user's drop_penalty."""

    limit: Annotated[int, Field(strict=True, ge=1)] | None = None
    """Most requests one user may have waiting; an arrival that finds the FIFO full is
    blocked. null: no limit."""
    timeout_s: NonNegativeFloat | None = None
    """A request still waiting this long after its arrival expires, between slot
    boundaries too (one whose timeout ends before the next boundary is never offered).
    0, with bernoulli arrivals (at the boundaries): a request not served at the boundary
    it arrives at is lost (the analytic model's drop); refused with poisson arrivals,
    whose requests would all expire unoffered. null: requests wait as long as it
    takes."""


class DeviceCompute(Strict):
    """A user device's own compute figures (netsim/model/devices.py)."""

    flops_per_s: PositiveFloat
    """FLOP/s it sustains on the receiver network."""
    joules_per_flop: PositiveFloat
    """Energy per FLOP, J."""


class Users(Strict):
    count: Annotated[Count, Field(le=100_000)] = 5
    """U, number of users."""
    cpu_hz_range: tuple[PositiveFloat, PositiveFloat] = (1.0e9, 2.5e9)
    """f_u drawn once per user, uniformly in this range, cycles/s."""
    cycles_per_bit: PositiveFloat = 40.0
    """c_u, decoder cycles per image bit for a decoder of relative size s_d = 1."""
    kappa: PositiveFloat = 5.0e-27
    """kappa_u of the user device: compute power = kappa * f**3, W."""
    device: str | DeviceCompute | None = None
    """The users' device class, whose receiver's counted FLOPs set t_C = FLOPs / (FLOP/s)
    and E_U = FLOPs x J/FLOP (netsim/model/devices.py): handset, edge_box, or
    {flops_per_s, joules_per_flop}. null: the paper's t_C = c_u D s_d / f_u (eqs. 5, 8)."""
    mobility: Mobility = Mobility()
    arrivals: Arrivals = Arrivals()
    queue: RequestQueue = RequestQueue()
    drop_penalty: PositiveFloat | list[PositiveFloat] = 10.0
    """Cost of leaving a user unserved, loss units (scalar, or one value per user)."""
    voluntary_drop: bool = False
    """false: every user is served while RBs last (paper 10a), users are dropped only
    when U > Q, the ones with the largest penalty served first; true: a scheduler may
    also leave a user unserved whenever serving would cost more than its penalty."""

    @field_validator("cpu_hz_range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError("lower bound is above the upper bound")
        return value

    @field_validator("drop_penalty")
    @classmethod
    def _one_penalty_per_user(cls, value: Any, info: ValidationInfo) -> Any:
        count = info.data.get("count")
        if isinstance(value, list) and count is not None and len(value) != count:
            raise ValueError(f"lists {len(value)} values for {count} users")
        return value


# --------------------------------------------------------------------- task, limits
class Task(Strict):
    kind: Literal["classify", "regenerate"] = "classify"
    """classify: loss = cross-entropy; regenerate: loss = 1 - CLIP image similarity."""
    image_bits: PositiveFloat = 224 * 224 * 3 * 8
    """D, bits of one image (224 x 224 RGB, 8 bits)."""
    decoder_size: PositiveFloat = 1.0
    """s_d, relative size of the user's decoder (paper eq. 5)."""
    denoising_steps: Annotated[int, Field(strict=True, ge=1, le=1000)] = 20
    """Regeneration with users.device: U-Net steps of the diffusion decoder per image
    (Stable unCLIP's default, 20)."""


class Transmission(Strict):
    mode: Literal["paper", "analog", "digital"] = "paper"
    """paper: Shannon-rate timing, analog noise at the RB's SNR (the paper's model);
    analog: one element per channel use at B symbols/s, noise at the RB's SNR;
    digital: b-bit quantisation sent at the modulation's rate, bit errors at its BER."""
    bits_per_element: int = Field(32, ge=1, le=64, strict=True)
    """Bits per feature element for Z_m = embed_dim * bits (paper mode)."""
    quantization_bits: int = Field(8, ge=1, le=16, strict=True)
    """Digital mode: bits per element after uniform quantisation."""
    modulation: Literal["bpsk", "qpsk", "16qam", "64qam"] = "qpsk"


class Limits(Strict):
    max_delay_s: PositiveFloat = 0.2
    """T_max, paper: 200 ms."""
    max_energy_j: PositiveFloat = 20.0
    """E_max per transmission (BS + user), paper: 20 J."""
    max_leakage: Annotated[float, Field(gt=0, le=1)] | None = None
    """L_max, the task performance an eavesdropper may reach from a request's features
    (accuracy for classify, CLIP-I similarity for regenerate); above it eq. 11's cost
    gains lambda_leakage v_L. null: leakage is recorded, not penalised."""


class Reward(Strict):
    """Paper eq. 11 penalty weights, per unit of relative violation (see netsim.model.cost)."""

    lambda_delay: NonNegativeFloat = 100.0
    lambda_energy: NonNegativeFloat = 100.0
    lambda_leakage: NonNegativeFloat = 100.0
    """Weight of the leakage violation v_L = clip((L - L_max) / L_max, 0, 1) (with
    limits.max_leakage)."""


Coordinate = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
"""A position coordinate, m (within 1,000 km of the BS)."""


class Eavesdroppers(Strict):
    """Passive eavesdroppers (netsim.model.leakage): each overhears the RB a request is
    sent on, at its own SNR from the users' channel model (path gain, fading drawn from
    the same law, the RB's interference); the leakage of a request is the task
    performance the best-hearing eavesdropper reaches from its features."""

    count: Annotated[int, Field(strict=True, ge=0, le=1000)] = 0
    """Number of eavesdroppers; 0: none (no leakage columns)."""
    positions_m: list[tuple[Coordinate, Coordinate]] | None = None
    """Their fixed positions [x, y], m, the BS at the origin, one per eavesdropper, each
    at least cell.min_distance_m from the BS; null: drawn once per seed uniformly over
    the cell's annulus, like the users."""

    @field_validator("positions_m")
    @classmethod
    def _one_position_each(cls, value: Any, info: ValidationInfo) -> Any:
        count = info.data.get("count")
        if value is not None and count is not None and len(value) != count:
            raise ValueError(f"lists {len(value)} positions for {count} eavesdroppers")
        return value


class Statistical(Strict):
    """How a statistical scheduler's expected cost over the fading law is integrated."""

    expectation: Literal["auto", "exact", "quantiles"] = "auto"
    """exact: piece by piece between the gains where the cost's pieces switch
    (netsim.model.expectation; transmission mode paper or analog, every fading law);
    quantiles: the mean over ``fading_quantiles`` equal-probability points of the law;
    auto: exact where it exists, else quantiles."""
    fading_quantiles: int = Field(64, ge=2, le=4096, strict=True)
    """Points of the quantile grid over the fading law (expectation: quantiles)."""


class RL(Strict):
    """The paper's MDP and the training of RL schedulers (PPO, DQN, SAC)."""

    episode_slots: Annotated[Count, Field(le=10_000)] = 1
    """Slots per episode; a slot takes one step per requesting user. One slot keeps an
    episode's return equal to minus the slot's cost, what the optimum minimises."""
    world_slots: Annotated[Count, Field(le=100_000)] = 1
    """Slots drawn per random training world: consecutive episodes play its slots in
    turn (same users and devices; fading and interference evolve), then a new world
    is drawn. 1 (default): a new world every episode, drawn 256 at a time in one
    vectorised pass (netsim.model.world.generate_snapshots), so resets stay cheap."""
    user_order: Literal["farthest_first", "index"] = "farthest_first"
    """Order in which a slot's requesting users are assigned, one per step.
    farthest_first: cell-edge users (largest distance) first, who have the fewest good
    RBs; index: by user index, whatever the layout. With farthest_first even a policy
    that takes each user's best free RB reaches 100 % of the statistical optimum on
    paper.yaml; with index, 71 % (benchmarks/bench_rl.py --orders)."""
    total_steps: Annotated[Count, Field(le=1_000_000_000)] = 100_000
    """Environment steps of a training run (netsim train --steps overrides)."""
    learning_rate: PositiveFloat = 3e-4
    learning_rate_schedule: Literal["constant", "linear"] = "linear"
    """constant: learning_rate throughout; linear: from learning_rate down to 0 at the
    end of training (SB3's progress_remaining), which lets the final policy settle."""
    clip_range: float = Field(0.2, gt=0, le=1)
    """PPO's clip epsilon."""
    n_steps: Annotated[Count, Field(ge=2, le=1_000_000)] = 1024
    """PPO: environment steps per rollout and environment (at least 2: PPO normalises
    advantages over a minibatch)."""
    batch_size: Annotated[Count, Field(ge=2, le=1_000_000)] = 128
    """Minibatch size of each gradient step (at least 2: PPO normalises advantages
    over it)."""
    n_epochs: Annotated[Count, Field(le=1000)] = 10
    gamma: float = Field(1.0, gt=0, le=1)
    """Discount; 1 keeps an episode's return equal to minus its total cost."""
    gae_lambda: float = Field(0.95, ge=0, le=1)
    ent_coef: NonNegativeFloat = 0.01
    net_arch: list[Annotated[int, Field(strict=True, ge=1, le=4096)]] = Field(
        default_factory=lambda: [128, 128], min_length=1
    )
    """Hidden layer sizes of the policy and value networks (size_free: of the network
    applied to each RB's row)."""
    policy: Literal["mlp", "size_free"] = "mlp"
    """mlp: a multilayer perceptron on the whole observation (every user's mean SNR on
    every RB), for one cell size; size_free: one network shared across RBs, on the
    size-free observation (:mod:`netsim.rl.size_free`), whose trained model runs on any
    number of users and RBs with the same encoders."""
    reward_model: Literal["realised", "expected"] = "expected"
    """What the agent learns from. expected (default): minus the eq. 11 cost averaged
    over the fading the agent cannot see — what the statistical optimum minimises,
    with far less variance; realised: minus the cost under this slot's fading draw
    (the paper's literal reward). Evaluation always scores realised costs. On
    paper.yaml, 200k PPO steps reach 0.94 of the statistical optimum with realised
    rewards and about 1.0 with expected ones (docs/rl.md)."""
    reward_scale: PositiveFloat = 0.1
    """Rewards are multiplied by this for learning; reported returns are unscaled."""
    invalid_action_penalty: NonNegativeFloat = 10.0
    """Extra cost of a masked action (the user is left unserved); a masked policy never
    takes one."""
    buffer_size: Annotated[Count, Field(le=100_000_000)] = 100_000
    """DQN, SAC: replay buffer capacity, transitions."""
    learning_starts: Annotated[int, Field(strict=True, ge=0)] = 1_000
    """DQN, SAC: random valid actions before learning starts, steps."""
    train_freq: Annotated[Count, Field(le=100_000)] = 4
    """DQN, SAC: environment steps between gradient updates."""
    target_update_interval: Annotated[Count, Field(le=10_000_000)] = 1_000
    """DQN: steps between target-network copies."""
    exploration_fraction: float = Field(0.3, gt=0, le=1)
    """DQN: share of training over which epsilon falls from 1 to its final value."""
    exploration_final_eps: float = Field(0.05, ge=0, le=1)
    tau: float = Field(0.005, gt=0, le=1)
    """SAC: soft target-update rate."""
    torch_threads: Annotated[Count, Field(le=1024)] = 1
    """CPU threads torch uses while training. The networks are small: one thread is
    fastest on CPU, and several training runs can share a machine without contention
    (on 2 cores, PPO runs side by side at 2 threads each slowed one another
    more than tenfold)."""
    n_envs: Annotated[Count, Field(le=64)] = 1
    """Environments stepped side by side in one process (SB3's DummyVecEnv; the policy
    acts on all of them in one batch); environment i is seeded seed + i. PPO's rollout
    is then n_steps x n_envs steps (docs/rl.md, "Several environments": what it buys on
    2 cores)."""
    eval_every_steps: Annotated[Count, Field(le=1_000_000_000)] = 5_000
    eval_seeds: list[Seed] = Field(
        default_factory=lambda: list(range(10_000, 10_020)), min_length=1
    )
    """Held-out worlds for evaluation (training draws its worlds from other seeds). A
    world keeps its users' places and devices for all its slots, so the score depends
    on how many worlds are played more than on how long: 20 worlds x 25 slots by
    default (3 x 50 gave scores that differed from 20 other worlds by up to 0.07)."""
    eval_slots: Annotated[Count, Field(le=100_000)] = 25
    checkpoint_every_steps: Annotated[Count, Field(le=1_000_000_000)] = 10_000


class SchedulerEntry(BaseModel):
    """One scheduler to run: its registry type, an optional label and its own parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    label: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# ------------------------------------------------------------------------- sweeps
SweepValues = Annotated[list[Any], Field(min_length=1)]


class Sweep(Strict):
    """The points of a sweep: every entry of ``points`` (one empty entry if none)
    combined with every combination of the ``grid`` values. Keys are dotted scenario
    keys (``users.count``, ``rl.clip_range``, ``seeds``...). Each point runs once per
    seed of its scenario. The short form ``{KEY: [values]}`` is a grid."""

    grid: dict[str, SweepValues] = Field(default_factory=dict)
    """Values per key; the points are their Cartesian product."""
    points: list[Annotated[dict[str, Any], Field(min_length=1)]] = Field(default_factory=list)
    """Explicit points, e.g. [{reward.lambda_delay: 1, reward.lambda_energy: 1}]:
    several keys that move together."""
    kind: Literal["run", "train", "profile"] = "run"
    """run: simulate the scenario's schedulers; train: train the RL agent ``algo``
    (rl.total_steps steps, the point's seed), then simulate it beside the schedulers;
    profile: measure a task-loss profile with ``netsim profile`` (``options``, the
    point's seed), then simulate the schedulers on it."""
    algo: str = "ppo"
    """The RL algorithm of a train sweep (and of netsim tune)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Profile sweeps: options of ``netsim profile`` (``snr: "-10:20:2"``, ``samples``...);
    grid and point keys ``options.NAME`` vary one."""

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and data and not set(data) & set(cls.model_fields):
            return {"grid": data}
        return data

    @model_validator(mode="after")
    def _options_for_profiles(self) -> Sweep:
        if self.options and self.kind != "profile":
            raise ValueError("options are for kind: profile")
        return self

    def __bool__(self) -> bool:
        return bool(self.grid or self.points)


# ------------------------------------------------------------------------- scenario
class Scenario(Strict):
    name: str = "unnamed"
    """Names the default output folder, results/NAME: one folder name (no '/', not '.'
    or '..')."""
    description: str = ""
    seeds: list[Seed] = Field(
        default_factory=lambda: [0], min_length=1
    )
    """One independent random world per seed; every scheduler sees the same worlds."""
    slots: Annotated[Count, Field(le=10_000_000)] = 100
    """Slots simulated per seed."""
    slot_duration_s: PositiveFloat = 1.0
    """Time between slots: requests arrive at each slot's start, s."""
    delay_model: Literal["analytic", "des"] = "analytic"
    """analytic: eq. 6 (sum of service times); des: SimPy queues for CPU, RB, device."""
    cell: Cell = Cell()
    base_station: BaseStation = BaseStation()
    users: Users = Users()
    task: Task = Task()
    encoders: list[str] = Field(default_factory=lambda: list(ENCODERS), min_length=1)
    """Encoders the BS may choose from (netsim/encoders.py)."""
    transmission: Transmission = Transmission()
    profile: str = "default"
    """Task-loss profile CSV, relative to the scenario file, or 'default' (shipped)."""
    limits: Limits = Limits()
    reward: Reward = Reward()
    eavesdroppers: Eavesdroppers = Eavesdroppers()
    statistical: Statistical = Statistical()
    rl: RL = RL()
    schedulers: list[SchedulerEntry] = Field(min_length=1)
    """Schedulers to compare: {type: NAME, label: optional, ...its parameters}."""
    sweep: Sweep = Field(default_factory=lambda: Sweep())
    """Points to run (netsim sweep, netsim run): a grid over dotted keys, e.g.
    {"users.count": [3, 5, 8]}, or the long form {grid, points, kind, algo}."""
    _source_dir: Path | None = PrivateAttr(default=None)

    @property
    def source_dir(self) -> Path | None:
        """Folder of the file this scenario was read from (relative paths start there)."""
        return self._source_dir

    @field_validator("encoders")
    @classmethod
    def _known_encoders(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in ENCODERS:
                raise ValueError(f"unknown encoder {name!r} (known: {', '.join(ENCODERS)})")
        if len(set(names)) != len(names):
            raise ValueError("an encoder is listed twice")
        return names

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("a seed is listed twice")
        return seeds

    @field_validator("schedulers", mode="before")
    @classmethod
    def _shorthand(cls, entries: Any) -> Any:
        if isinstance(entries, list):
            return [{"type": e} if isinstance(e, str) else e for e in entries]
        return entries

    @field_validator("name")
    @classmethod
    def _one_folder_name(cls, name: str) -> str:
        if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise ValueError("must be one folder name (it names results/NAME): not empty, "
                             "no '/' or '\\', not '.' or '..'")
        return name

    @model_validator(mode="after")
    def _exact_expectation_exists(self) -> Scenario:
        if self.statistical.expectation == "exact" and not exact_expectation_exists(self):
            raise ValueError(
                "statistical.expectation: exact exists for transmission mode paper or analog "
                "(the digital mode's bit errors make the loss non-linear in the SNR); use auto "
                "or quantiles here")
        return self

    @model_validator(mode="after")
    def _eavesdroppers_in_the_cell(self) -> Scenario:
        for index, (x, y) in enumerate(self.eavesdroppers.positions_m or []):
            if math.hypot(x, y) < self.cell.min_distance_m:
                raise ValueError(
                    f"eavesdroppers.positions_m[{index}]: [{x}, {y}] is closer to the BS "
                    f"than cell.min_distance_m ({self.cell.min_distance_m} m)")
        return self

    @model_validator(mode="after")
    def _unique_labels(self) -> Scenario:
        labels = [scheduler_label(e) for e in self.schedulers]
        duplicates = sorted({x for x in labels if labels.count(x) > 1})
        if duplicates:
            raise ValueError(
                f"two schedulers share the label {duplicates[0]!r}: give one a 'label'"
            )
        return self


def exact_expectation_exists(scenario: Scenario) -> bool:
    """Whether netsim.model.expectation integrates this scenario's expected cost exactly:
    a feature SNR equal to the channel SNR (every fading law)."""
    return scenario.transmission.mode in {"paper", "analog"}


def scheduler_label(entry: SchedulerEntry) -> str:
    """The name a scheduler carries in results: its label, else type + parameters."""
    if entry.label:
        return entry.label
    params = entry.params
    return "_".join([entry.type, *(str(params[k]) for k in sorted(params))])


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """The fully resolved scenario as plain data (every default filled in)."""
    data = scenario.model_dump(mode="json")
    data["schedulers"] = [
        {"type": e.type, **({"label": e.label} if e.label else {}), **e.params}
        for e in scenario.schedulers
    ]
    if not scenario.sweep:
        data["sweep"] = {}
    return data


def resolved_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML text."""
    return yaml.safe_dump(scenario_data(scenario), sort_keys=False, allow_unicode=True)


def set_dotted(data: dict[str, Any], key: str, value: Any, create: bool = False) -> bool:
    """Set ``data[a][b][c] = value`` for the key ``a.b.c``; False if no such key exists
    (``create``: make the missing levels, as for a file that leaves them to defaults)."""
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        if create and part not in node:
            node[part] = {}
        if not isinstance(node.get(part), dict):
            return False
        node = node[part]
    if leaf not in node and not create:
        return False
    node[leaf] = value
    return True


PROFILE_OPTION = "options."
"""Prefix of a profile sweep's keys that vary an option of netsim profile."""


def overlapping_key(keys: list[str]) -> tuple[str, str] | None:
    """A pair (inner, outer) of dotted keys of which the outer names a section that holds
    the inner (``cell.n_rbs`` inside ``cell``), or None: setting both, the later would
    silently undo the earlier."""
    for inner in keys:
        for outer in keys:
            if inner != outer and inner.startswith(outer + "."):
                return inner, outer
    return None


def overlap_problem(inner: str, outer: str) -> str:
    """The one-line problem of two overlapping keys (:func:`overlapping_key`)."""
    return (f"also set by {outer!r}, whose value replaces the whole section: put "
            f"{inner.removeprefix(outer + '.')!r} in that value, or drop one of the keys")


def sweep_values(sweep: Sweep, source: str) -> list[dict[str, Any]]:
    """The sweep's points as {key: value} mappings, in order: each ``points`` entry
    (in the file's order) combined with the grid (last key varying fastest)."""
    keys = list(sweep.grid)
    for index, entry in enumerate(sweep.points):
        for key in entry:
            if key in sweep.grid:
                raise ScenarioError(source, f"sweep.points[{index}].{key}",
                                    "also swept in sweep.grid")
    for index, entry in enumerate(sweep.points or [{}]):
        where = {**{key: f"sweep.points[{index}].{key}" for key in entry},
                 **{key: f"sweep.grid.{key}" for key in keys}}
        found = overlapping_key(list(where))
        if found is not None:
            inner, outer = found
            raise ScenarioError(source, where[inner], overlap_problem(inner, outer))
    return [
        {**entry, **dict(zip(keys, values))}
        for entry in (sweep.points or [{}])
        for values in itertools.product(*(sweep.grid[k] for k in keys))
    ]


REFERENCE_PREFIX = "reference:"
"""Labels of the reference schedulers every run adds (netsim.simulation.runner)."""
