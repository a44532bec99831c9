"""Reading scenario files: YAML with limits, the schema (:mod:`netsim.scenario`), then
the checks that need more than the schema (traffic, physics that overflows, each
scheduler's own parameters through its plugin, the task-loss profile) and the
expansion of a sweep into checked points. Every error is one ScenarioError naming the
file and the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from netsim.errors import ScenarioError, validation_error
from netsim.model.overflow import overflowing_quantity
from netsim.model.taskloss import load_profile, resolve_profile_path
from netsim.scenario import (
    PROFILE_OPTION,
    REFERENCE_PREFIX,
    Scenario,
    overlap_problem,
    overlapping_key,
    scenario_data,
    scheduler_label,
    set_dotted,
    sweep_values,
)
from netsim.simulation.registry import available_schedulers, check_algorithms, scheduler_class
from netsim.simulation.scheduling import ParameterError


def parse_scenario(data: Any, source: str, base_dir: Path | None = None) -> Scenario:
    """Validate a mapping as a scenario; raise ScenarioError naming the key on failure."""
    if not isinstance(data, dict):
        raise ScenarioError(source, "", "the file must hold a mapping of keys to values")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise validation_error(source, error) from None
    scenario._source_dir = base_dir
    _check_traffic(scenario, source)
    _check_physics(scenario, source)
    _check_schedulers(scenario, source)
    _check_profile(scenario, source)
    _check_device(scenario, source)
    if scenario.sweep:
        sweep_points(scenario, source)  # every point must be valid before anything runs
    return scenario


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key written twice in a mapping is an error."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (safe loader)."""
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ScenarioError(source, "", "is a folder, not a scenario file")
    if not path.is_file():
        raise ScenarioError(source, "", "no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ScenarioError(source, "", f"larger than {MAX_FILE_BYTES // 2**20} MiB: not a "
                            "scenario file")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ScenarioError(source, where, f"YAML syntax error: {problem}") from None
    except UnicodeDecodeError:
        raise ScenarioError(source, "", "not a UTF-8 text file") from None
    if _expanded_size(data) > MAX_VALUES:
        raise ScenarioError(source, "", f"expands to more than {MAX_VALUES:,} values "
                            "(YAML aliases repeating aliases): refused")
    return parse_scenario(data, source, path.parent)


MAX_FILE_BYTES = 8 * 2**20
"""Largest scenario file read (a scenario is a few kB)."""
MAX_VALUES = 1_000_000
"""Most values a scenario may hold once YAML aliases are expanded: aliases of aliases
(the 'billion laughs') make a few lines expand into billions, which validation would
then walk."""


def _expanded_size(data: Any) -> int:
    """Values in ``data`` counting shared (aliased) parts every time they appear; stops
    counting past MAX_VALUES."""
    count, stack = 0, [data]
    while stack and count <= MAX_VALUES:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return count


def _check_physics(scenario: Scenario, source: str) -> None:
    found = overflowing_quantity(scenario)
    if found is not None:
        key, what = found
        raise ScenarioError(source, key, f"with the scenario's other values {what} leaves "
                            "the range of floating point: choose physical values")


def _check_traffic(scenario: Scenario, source: str) -> None:
    """A run needs requests; queues exist only in the discrete-event model."""
    arrivals = scenario.users.arrivals
    if arrivals.model == "bernoulli" and arrivals.probability == 0:
        raise ScenarioError(source, "users.arrivals.probability",
                            "0: no request would ever arrive, there is nothing to simulate")
    _check_queues(scenario, source)


def _check_queues(scenario: Scenario, source: str) -> None:
    """Queues exist only in the discrete-event model; a zero timeout needs arrivals at
    the slot boundaries."""
    if scenario.delay_model == "des":
        if scenario.users.arrivals.model == "poisson" and scenario.users.queue.timeout_s == 0:
            raise ScenarioError(source, "users.queue.timeout_s",
                                "0 with poisson arrivals: every request arrives between slot "
                                "boundaries and expires before one offers it (0 is the "
                                "analytic model's drop with bernoulli arrivals): give a "
                                "timeout > 0")
        return
    if scenario.users.arrivals.model == "poisson":
        raise ScenarioError(source, "users.arrivals.model",
                            "poisson arrivals need delay_model: des (the analytic model has "
                            "no queue to wait in)")
    for key in ("limit", "timeout_s"):
        if getattr(scenario.users.queue, key) is not None:
            raise ScenarioError(source, f"users.queue.{key}", "needs delay_model: des")


def _check_device(scenario: Scenario, source: str) -> None:
    """A device class named in users.device must be one netsim knows."""
    from netsim.model.devices import DEVICE_PROFILES

    device = scenario.users.device
    if isinstance(device, str) and device not in DEVICE_PROFILES:
        raise ScenarioError(source, "users.device", f"unknown device class {device!r} "
                            f"(known: {', '.join(DEVICE_PROFILES)}, or "
                            "{flops_per_s, joules_per_flop})")


def _check_profile(scenario: Scenario, source: str) -> None:
    path = resolve_profile_path(scenario)
    if not path.is_file():
        raise ScenarioError(source, "profile", f"no such file: {path}")
    profile = load_profile(path)
    missing = [name for name in scenario.encoders if name not in profile.encoders]
    if missing:
        raise ScenarioError(source, "profile", f"{path} has no rows for encoder {missing[0]}")


def _check_schedulers(scenario: Scenario, source: str) -> None:
    for index, entry in enumerate(scenario.schedulers):
        key = f"schedulers[{index}]"
        if scheduler_label(entry).startswith(REFERENCE_PREFIX):
            raise ScenarioError(source, key + ".label", f"labels starting with "
                                f"{REFERENCE_PREFIX!r} are the references' own")
        try:
            cls = scheduler_class(entry.type)
        except KeyError:
            known = ", ".join(available_schedulers())
            raise ScenarioError(
                source, key + ".type", f"unknown scheduler {entry.type!r} (known: {known})"
            ) from None
        try:
            params = cls.Params.model_validate(entry.params)
        except ValidationError as error:
            raise validation_error(source, error, prefix=key) from None
        try:
            params = cls.prepare(params, scenario)
        except ParameterError as error:
            raise ScenarioError(source, f"{key}.{error.key}", error.problem) from None


def sweep_points(scenario: Scenario, source: str) -> list[tuple[dict[str, Any], Scenario]]:
    """Expand ``sweep`` into (point, scenario) pairs (see :func:`sweep_values`).

    A scenario without a sweep is one point, ``{}``. Each point is validated like a
    file; an error names the swept key and value.
    """
    if not scenario.sweep:
        return [({}, scenario)]
    if scenario.sweep.kind == "train":
        try:
            check_algorithms([scenario.sweep.algo])
        except ValueError as error:
            raise ScenarioError(source, "sweep.algo", str(error)) from None
    base = scenario_data(scenario)
    base.pop("sweep")
    points = []
    for values in sweep_values(scenario.sweep, source):
        scenario_values = {k: v for k, v in values.items()
                           if not (k.startswith(PROFILE_OPTION) and scenario.sweep.kind == "profile")}
        # profile options are netsim profile's own (checked by netsim.experiments.sweep)
        points.append((values, _with_values(base, scenario, source, scenario_values, values)))
    return points


def scenario_with(scenario: Scenario, source: str, values: dict[str, Any]) -> Scenario:
    """The scenario, its sweep removed, with ``values`` ({dotted key: value}) set;
    checked like a file (a tuning trial's scenario, one point of a sweep)."""
    base = scenario_data(scenario)
    base.pop("sweep")
    return _with_values(base, scenario, source, values, values)


def _with_values(base: dict[str, Any], scenario: Scenario, source: str,
                 values: dict[str, Any], point: dict[str, Any]) -> Scenario:
    data = copy.deepcopy(base)
    for key, value in values.items():
        if not set_dotted(data, key, value):
            raise ScenarioError(source, f"sweep.{key}", "no such key in the scenario")
    try:
        return parse_scenario(data, source, scenario.source_dir)
    except ScenarioError as error:
        where = ", ".join(f"{k}={v!r}" for k, v in point.items())
        raise ScenarioError(source, f"sweep ({where}): {error.key}", error.problem) from None


def with_overrides(scenario: Scenario, source: str, overrides: dict[str, Any]) -> Scenario:
    """The scenario with ``overrides`` ({dotted key: value}, e.g. ``{"users.count": 8}``)
    set on the values it was written with (what it leaves to defaults stays default, so
    ``{"cell.fading.model": "nakagami"}`` takes the law's own defaults), checked like a
    file: an unknown key or a bad value raises ScenarioError naming it. A value that is a
    mapping replaces the whole section it names. NumPy scalars and arrays are taken as the
    Python numbers and lists they hold."""
    data = scenario.model_dump(mode="json", exclude_unset=True)
    resolved = scenario_data(scenario)
    data["schedulers"] = resolved["schedulers"]
    if scenario.sweep:
        data["sweep"] = resolved["sweep"]
    switched = []
    for key in overrides:
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise ScenarioError(source, str(key), "not a dotted key like 'users.count'")
    found = overlapping_key(list(overrides))
    if found is not None:
        raise ScenarioError(source, found[0], overlap_problem(*found))
    for key, value in overrides.items():
        if not set_dotted(data, key, _plain(value), create=True):
            raise ScenarioError(source, key, "no such key: a level above it is a value")
        if key.endswith(".model"):
            switched.append(key.removesuffix(".model"))
    try:
        return parse_scenario(data, source, scenario.source_dir)
    except ScenarioError as error:
        section = next((s for s in switched if error.key.startswith(s + ".")), None)
        if section is None or not error.problem.startswith("unknown key"):
            raise
        raise ScenarioError(source, error.key, f"{error.problem}: not a key of the "
                            f"{section}.model you chose; to switch models give the whole "
                            f"section, e.g. {{'{section}': {{'model': ...}}}}") from None


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays (in lists and mappings too) made the Python
    numbers and lists they hold, as a YAML file would give them."""
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return copy.deepcopy(value)
