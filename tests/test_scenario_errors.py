"""Every class of bad scenario file is rejected by the CLI with one line naming the file,
the offending key and the problem; exit code 2; no traceback; nothing written."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from netsim.cli import app
from netsim.errors import ScenarioError
from netsim.loading import load_scenario
from netsim.model.taskloss import DEFAULT_PROFILE_PATH

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "scenarios" / "paper.yaml"


def paper_dict() -> dict[str, Any]:
    """scenarios/paper.yaml, shortened (2 slots, 1 seed) so that a bad file the product
    wrongly accepts fails its test quickly instead of running the whole study."""
    data = yaml.safe_load(PAPER.read_text(encoding="utf-8"))
    data.update(slots=2, seeds=[0])
    return data


def stderr_of(result) -> str:
    """stderr where this click version keeps it apart, else the mixed output."""
    try:
        return result.stderr
    except ValueError:  # older click: stderr mixed into output
        return result.output


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def set_key(path: str, value: Any) -> Callable[[dict], None]:
    """A mutation setting the dotted key ``path`` (e.g. 'cell.n_rbs') to ``value``."""

    def mutate(data: dict) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def write_profile(folder: Path, name: str, edit: Callable[[list[str]], list[str]]) -> None:
    lines = DEFAULT_PROFILE_PATH.read_text(encoding="utf-8").splitlines()
    (folder / name).write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def drop_column(column: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        header = lines[0].split(",")
        index = header.index(column)
        out = []
        for line in lines:
            cells = line.split(",", len(header) - 1)  # provenance (last) may hold commas
            out.append(",".join(cells[:index] + cells[index + 1 :]))
        return out

    return edit


def non_numeric(column: str, row: int, value: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        header = lines[0].split(",")
        index = header.index(column)
        cells = lines[row].split(",", len(header) - 1)
        cells[index] = value
        lines = list(lines)
        lines[row] = ",".join(cells)
        return lines

    return edit


# name -> (mutation of the paper dict | raw file text, profile to write or None,
#          texts that must appear in the message besides the file path)
CASES: dict[str, tuple[Any, Any, list[str]]] = {
    "snr_overflows": (set_key("cell.tx_power_w", 1e308), None,
                      ["cell.tx_power_w", "the SNR", "range of floating point"]),
    "energy_overflows": (set_key("base_station.kappa", 1e300), None,
                         ["base_station.kappa", "energy", "range of floating point"]),
    "no_request_can_arrive": (
        set_key("users.arrivals", {"probability": 0.0}), None,
        ["users.arrivals.probability", "no request would ever arrive"],
    ),
    "ilp_time_limit_zero": (
        set_key("schedulers", ["random", {"type": "ilp", "time_limit_s": 0}]), None,
        ["schedulers[1].time_limit_s", "greater than 0"],
    ),
    "ilp_solver_without_the_pulp_form": (
        set_key("schedulers", ["random", {"type": "ilp", "solver": "cbc"}]), None,
        ["schedulers[1].solver", "formulation: full"],
    ),
    "fading_parameter_of_another_law": (
        set_key("cell.fading", {"model": "rayleigh", "k_factor": 2.0}), None,
        ["k_factor", "unknown key"],
    ),
    "exact_expectation_in_the_digital_mode": (
        lambda d: (set_key("statistical", {"expectation": "exact"})(d),
                   set_key("transmission", {"mode": "digital"})(d)), None,
        ["statistical.expectation: exact", "paper or analog"],
    ),
    "label_of_a_reference": (
        set_key("schedulers", ["random", {"type": "greedy", "label": "reference:oracle_optimum"}]),
        None, ["schedulers[1].label", "references' own"],
    ),
    "unknown_top_level_key": (set_key("colour", "blue"), None, ["colour", "unknown key"]),
    "unknown_nested_key": (set_key("cell.n_rbz", 4), None, ["cell.n_rbz", "unknown key"]),
    "unknown_deep_key": (
        set_key("cell.pathloss.exponnent", 2.0), None, ["cell.pathloss.exponnent", "unknown key"]
    ),
    "wrong_type": (set_key("slots", "many"), None, ["slots", "integer", "'many'"]),
    "negative_power": (set_key("cell.tx_power_w", -1), None, ["cell.tx_power_w", "greater than 0"]),
    "zero_rbs": (set_key("cell.n_rbs", 0), None, ["cell.n_rbs", "greater than or equal to 1"]),
    "zero_t_max": (set_key("limits.max_delay_s", 0), None, ["limits.max_delay_s", "greater than 0"]),
    "negative_t_max": (
        set_key("limits.max_delay_s", -0.1), None, ["limits.max_delay_s", "greater than 0"]
    ),
    "empty_scheduler_list": (set_key("schedulers", []), None, ["schedulers", "at least 1"]),
    "missing_scheduler_list": (
        lambda d: d.pop("schedulers"), None, ["schedulers", "required key is missing"]
    ),
    "unknown_scheduler_type": (
        set_key("schedulers", [{"type": "hungarian"}, {"type": "telepathy"}]),
        None,
        ["schedulers[1].type", "unknown scheduler", "telepathy"],
    ),
    "bad_scheduler_parameter_value": (
        set_key("schedulers", [{"type": "hungarian", "information": "psychic"}]),
        None,
        ["schedulers[0].information", "psychic"],
    ),
    "unknown_scheduler_parameter": (
        set_key("schedulers", ["random", {"type": "greedy", "depth": 3}]),
        None,
        ["schedulers[1].depth", "unknown key"],
    ),
    "fixed_encoder_not_in_scenario": (
        lambda d: d.update(
            encoders=["ViT-B-32", "ViT-B-16"],
            schedulers=[{"type": "fixed_encoder", "encoder": "ViT-L-14"}],
        ),
        None,
        ["schedulers[0].encoder", "ViT-L-14"],
    ),
    "fixed_encoder_without_encoder": (
        set_key("schedulers", [{"type": "fixed_encoder"}]),
        None,
        ["schedulers[0].encoder", "required key is missing"],
    ),
    "unknown_encoder": (
        set_key("encoders", ["ViT-B-32", "ViT-H-99"]), None, ["encoders", "ViT-H-99", "unknown"]
    ),
    "duplicate_encoder": (
        set_key("encoders", ["ViT-B-32", "ViT-B-32"]), None, ["encoders", "twice"]
    ),
    "missing_profile_file": (set_key("profile", "nope.csv"), None, ["profile", "nope.csv"]),
    "min_distance_not_below_radius": (
        set_key("cell.min_distance_m", 600), None, ["cell.min_distance_m", "radius_m"]
    ),
    "cpu_hz_range_reversed": (
        set_key("users.cpu_hz_range", [2.5e9, 1.0e9]), None, ["users.cpu_hz_range", "lower bound"]
    ),
    "drop_penalty_wrong_length": (
        set_key("users.drop_penalty", [1.0, 2.0]), None, ["users.drop_penalty", "5 users"]
    ),
    "duplicate_seeds": (set_key("seeds", [0, 1, 0]), None, ["seeds", "twice"]),
    # the default output folder results/NAME would lie outside results/
    "name_climbing_out_of_results": (set_key("name", "../../elsewhere"), None,
                                     ["name: ", "one folder name"]),
    "name_of_a_path": (set_key("name", "/tmp/x"), None, ["name: ", "one folder name"]),
    "negative_seed_in_file": (set_key("seeds", [0, -1]), None, ["seeds"]),
    # seeds are int64 columns in records.csv: 2**63 was written as a float
    "seed_over_int64": (set_key("seeds", [2**63]), None, ["seeds", "9223372036854775807"]),
    "eval_seed_over_int64": (lambda d: d.update(rl={"eval_seeds": [2**63]}), None,
                             ["rl.eval_seeds"]),
    "negative_drop_penalty": (
        set_key("users.drop_penalty", -1), None, ["users.drop_penalty: ", "greater than 0"]
    ),
    "negative_drop_penalty_in_list": (
        set_key("users.drop_penalty", [1.0, 1.0, -1.0, 1.0, 1.0]),
        None,
        ["users.drop_penalty[2]", "greater than 0"],
    ),
    "nan_noise_psd": (
        set_key("cell.noise_psd_dbm_per_hz", float("nan")), None, ["cell.noise_psd_dbm_per_hz"]
    ),
    "infinite_noise_psd": (
        set_key("cell.noise_psd_dbm_per_hz", float("inf")), None, ["cell.noise_psd_dbm_per_hz"]
    ),
    "duplicate_scheduler_labels": (
        set_key("schedulers", ["random", "random"]), None, ["schedulers", "label"]
    ),
    "yaml_syntax_error": ("name: x\ncell: {n_rbs: 6\nslots: [1, 2\n", None, ["line", "YAML"]),
    "top_level_list": ("- name: x\n- slots: 3\n", None, ["mapping"]),
    "empty_file": ("", None, ["mapping"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario_is_rejected_with_one_line(case: str, tmp_path: Path) -> None:
    mutation, _, expected = CASES[case]
    scenario_file = tmp_path / f"{case}.yaml"
    if isinstance(mutation, str):
        scenario_file.write_text(mutation, encoding="utf-8")
    else:
        data = copy.deepcopy(paper_dict())
        mutation(data)
        scenario_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert_rejected(tmp_path, scenario_file, [str(scenario_file), *expected])


@pytest.mark.parametrize(
    ("case", "edit", "expected"),
    [
        ("missing_column", drop_column("cross_entropy"), ["cross_entropy", "missing"]),
        ("non_numeric_value", non_numeric("accuracy", 3, "high"), ["accuracy", "'high'", "line 4"]),
        ("non_numeric_snr", non_numeric("snr_db", 1, "loud"), ["snr_db", "'loud'", "line 2"]),
        ("snr_axis_that_forces_a_huge_table", non_numeric("snr_db", 1, "-1e9"),
         ["snr_db", "out of range", "line 2"]),
    ],
)
def test_malformed_profile_csv_is_rejected(
    case: str, edit: Callable[[list[str]], list[str]], expected: list[str], tmp_path: Path
) -> None:
    """A profile that exists but is malformed: the line names the CSV, the column, the row."""
    write_profile(tmp_path, "profile.csv", edit)
    data = paper_dict()
    data["profile"] = "profile.csv"
    scenario_file = tmp_path / f"{case}.yaml"
    scenario_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert_rejected(tmp_path, scenario_file, [str(tmp_path / "profile.csv"), *expected])


def test_profile_without_rows_for_an_encoder_is_rejected(tmp_path: Path) -> None:
    write_profile(tmp_path, "profile.csv", lambda lines: [l for l in lines if "ViT-L-14" not in l])
    data = paper_dict()
    data["profile"] = "profile.csv"
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert_rejected(tmp_path, scenario_file, [str(scenario_file), "profile", "ViT-L-14"])


def test_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    assert_rejected(tmp_path, missing, [str(missing), "no such file"])


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert_rejected(tmp_path, folder, [str(folder), "is a folder, not a scenario file"])


def test_binary_file(tmp_path: Path) -> None:
    scenario_file = tmp_path / "binary.yaml"
    scenario_file.write_bytes(b"\xff\xfe\x00\x81garbage\x00")
    assert_rejected(tmp_path, scenario_file, [str(scenario_file), "UTF-8"])


@pytest.mark.parametrize(
    ("seeds", "expected"),
    [
        ("a,b", ["--seeds", "'a'"]),
        ("-1", ["--seeds", "'-1'"]),
        ("0,,1", ["--seeds"]),
        ("5-2", ["--seeds", "backwards"]),
        ("9223372036854775808", ["--seeds", "2**63 - 1"]),
        ("0-9223372036854775808", ["--seeds", "2**63 - 1"]),
        ("", ["--seeds"]),
    ],
)
def test_bad_seeds_option(seeds: str, expected: list[str], tmp_path: Path) -> None:
    scenario_file = tmp_path / "paper.yaml"
    scenario_file.write_text(yaml.safe_dump(paper_dict(), sort_keys=False), encoding="utf-8")
    assert_rejected(tmp_path, scenario_file, expected, extra=("--seeds", seeds))


def assert_rejected(
    tmp_path: Path, scenario_file: Path, expected: list[str], extra: tuple[str, ...] = ()
) -> None:
    out_dir = tmp_path / "out"
    before = files_under(tmp_path)
    result = CliRunner().invoke(
        app, ["run", str(scenario_file), "--out", str(out_dir), "--no-progress", *extra]
    )
    output = result.output  # stdout and stderr together: nothing else may be printed
    lines = [line for line in output.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, output, result.exception)
    assert "Traceback" not in output
    assert len(lines) == 1, output
    line = lines[0]
    assert line in stderr_of(result), "the error line goes to stderr"
    assert line.startswith("netsim: "), line
    for text in expected:
        assert text in line, f"{text!r} not in {line!r}"
    for internal in ("constrained-float", "function-after", "function-before", "tagged-union"):
        assert internal not in line, f"pydantic's internal name {internal!r} in {line!r}"
    assert not out_dir.exists(), "the output folder must not be created"
    assert files_under(tmp_path) == before, "no file may be written"


# ----------------------------------------------------------------------- validate
def test_validate_good_file() -> None:
    result = CliRunner().invoke(app, ["validate", str(PAPER)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    assert str(PAPER) in result.output


def test_validate_bad_file(tmp_path: Path) -> None:
    data = paper_dict()
    data["cell"]["n_rbs"] = 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(bad)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    assert str(bad) in lines[0] and "cell.n_rbs" in lines[0]
    assert lines[0] in stderr_of(result)


def test_validate_good_and_bad_files_together(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slots: [\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(PAPER), str(bad)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 2, result.output
    assert any(str(PAPER) in line and "ok" in line for line in lines)
    assert any(str(bad) in line and "YAML" in line for line in lines)


@pytest.mark.parametrize(("updates", "expected"), [
    ({"sweep": {"users.count": [2, 2]}}, "sweep: two points share the folder"),
    ({"users": {"count": 100_000}, "cell": {"n_rbs": 100_000}, "slots": 10_000_000},
     "this run would hold about"),
    ({"users": {"count": 100_000}, "cell": {"n_rbs": 100_000}, "slots": 10_000_000,
      "sweep": {"seeds": [[0]]}}, "sweep point seeds=[0] would hold about"),
])
def test_validate_refuses_what_run_and_sweep_refuse(tmp_path: Path, updates: dict,
                                                    expected: str) -> None:
    """validate said ok for files that run or sweep then refused with exit 2 (a folder
    two points share, a run or a sweep point too big for memory); sweep refuses the
    latter before any work too (its point failed with a MemoryError)."""
    from tests.scenario_factory import one_line

    data = {**paper_dict(), **updates}
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert expected in one_line(result) and str(path) in one_line(result)
    if "sweep" in updates:
        out = tmp_path / "out"
        swept = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out)])
        assert swept.exit_code == 2 and expected in one_line(swept)
        assert not out.exists()


def test_load_scenario_raises_scenario_error(tmp_path: Path) -> None:
    data = paper_dict()
    data["limits"]["max_delay_s"] = 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(bad)
    error = caught.value
    assert error.source == str(bad)
    assert error.key == "limits.max_delay_s"
    assert "\n" not in str(error)
    assert str(error).startswith(f"{bad}: limits.max_delay_s: ")


def test_load_scenario_accepts_the_paper_scenario() -> None:
    scenario = load_scenario(PAPER)
    assert scenario.users.count == 5
    assert scenario.cell.n_rbs == 6


def test_yaml_that_expands_far_beyond_its_size_is_refused(tmp_path):
    """The 'billion laughs': aliases of aliases, 10^7 values from a dozen lines."""
    levels = ["    a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for level in range(1, 7):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        levels.append(f"    a{level}: &a{level} [{refs}]")
    text = "schedulers: [random]\nsweep:\n  grid:\n" + "\n".join(levels) + "\n"
    path = tmp_path / "laughs.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "expands to more than 1,000,000 values" in stderr_of(result)


def test_a_seed_range_too_long_is_refused_at_once(tmp_path):
    result = CliRunner().invoke(app, ["run", str(PAPER), "--seeds", "0-99999999999",
                                      "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2
    assert "more than 100,000 seeds" in stderr_of(result)
    assert not (tmp_path / "out").exists()


def test_a_run_too_big_for_memory_is_refused_before_the_work(tmp_path):
    """10 million slots x 1,000 users: refused at once with the reason, nothing written."""
    data = paper_dict()
    data.update(slots=10_000_000, seeds=[0, 1], schedulers=["random"])
    data["users"]["count"], data["cell"]["n_rbs"] = 1000, 1000
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 2
    assert "GiB of results in memory" in stderr_of(result)
    assert not out.exists()


def test_a_fading_or_pathloss_section_without_model_takes_the_default_model() -> None:
    """``fading: {per: user_rb}`` or ``pathloss: {exponent: 3.5}`` (and the overrides
    that set one key of such a section on a file that leaves it out) were refused:
    pydantic's union needed the ``model`` tag the schema gives a default."""
    import netsim

    base = {"schedulers": ["hungarian"], "slots": 2}
    fading = netsim.load_scenario({**base, "cell": {"fading": {"per": "user_rb"}}})
    assert (fading.cell.fading.model, fading.cell.fading.per) == ("rayleigh", "user_rb")
    path = netsim.load_scenario({**base, "cell": {"pathloss": {"exponent": 3.5}}})
    assert (path.cell.pathloss.model, path.cell.pathloss.exponent) == ("power_law", 3.5)
    assert netsim.load_scenario(base, {"cell.fading.per": "user_rb"}).cell.fading == \
        fading.cell.fading
    with pytest.raises(netsim.ScenarioError, match="cell.fading.k_factor: unknown key"):
        netsim.load_scenario({**base, "cell": {"fading": {"k_factor": 2.0}}})


def test_overrides_that_overlap_are_refused() -> None:
    """``{"cell.n_rbs": 2, "cell": {...}}``: the section's value replaced the whole
    section, so n_rbs was silently dropped (or kept, by the keys' order)."""
    import netsim

    with pytest.raises(netsim.ScenarioError, match=r"cell.n_rbs: also set by 'cell'"):
        netsim.load_scenario({"schedulers": ["hungarian"]},
                             {"cell.n_rbs": 2, "cell": {"radius_m": 300.0}})
