"""The package's layers (DESIGN §5): imports form no cycle, nothing imports the command
line, and the scenario schema imports nothing of netsim above it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI_MODULES = {"netsim.cli", "netsim.semantic.cli"}
ALLOWED = {"netsim.__main__": {"netsim.cli"}, "netsim.cli": {"netsim.semantic.cli"}}
"""The only arrows into the CLI: `python -m netsim` starts it, and the top-level CLI
registers the semantic pipeline's commands."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_nothing_imports_the_command_line():
    arrows = []
    for package in ("netsim", "solvers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = module_name(path)
            for target in imported(path) & CLI_MODULES:
                if target not in ALLOWED.get(name, set()):
                    arrows.append(f"{name} -> {target}")
    assert arrows == []


def test_the_walk_sees_an_import_of_the_cli(tmp_path):
    """The check above can fail: a function-level import of the CLI is found."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from netsim.cli import fail\n")
    assert "netsim.cli" in imported(sample)


def test_the_profile_options_list_is_the_commands():
    import inspect

    from netsim.semantic import PROFILE_OPTIONS
    from netsim.semantic.cli import profile

    assert tuple(inspect.signature(profile).parameters) == PROFILE_OPTIONS


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (function-level imports included)."""
    paths = {module_name(path): path for package in ("netsim", "solvers")
             for path in sorted((ROOT / package).rglob("*.py"))}
    return {name: {t for t in imported(path) if t in paths and t != name}
            for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_imports_have_no_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_check_can_fail():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_schema_imports_nothing_above_it():
    """netsim.scenario is read by every layer; it may use only the error type and the
    encoder table, never the model, simulation, solvers or RL above it."""
    assert import_graph()["netsim.scenario"] <= {"netsim.errors", "netsim.model.encoders"}


def test_the_citation_file_cites_the_paper_the_readme_names():
    """CITATION.cff (Citation File Format 1.2) names the software and, as its preferred
    citation, the paper whose model netsim implements, with the arXiv id the README and
    the paper scenario give."""
    import re
    import tomllib

    import yaml

    root = Path(__file__).resolve().parent.parent
    citation = yaml.safe_load((root / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert {"message", "title", "authors", "version"} <= set(citation)
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert citation["version"] == project["version"]
    paper = citation["preferred-citation"]
    arxiv = re.search(r"arXiv (\d{4}\.\d{5})", (root / "README.md").read_text()).group(1)
    assert paper["identifiers"][0]["value"] == f"arXiv:{arxiv}"
    assert arxiv in (root / "scenarios" / "paper.yaml").read_text()
    assert all(author.get("family-names") for author in paper["authors"])
