"""The documentation site builds with ``mkdocs build --strict`` (every warning an error:
broken links and anchors, pages missing from the nav, docstrings mkdocstrings cannot
render), and the pages generated at build time hold what they are generated from:
the scenario reference (docs/hooks.py, from netsim.scenario), the command-line help
(from netsim.cli) and the Python API reference (mkdocstrings, from netsim.api)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_MKDOCS_2_WARNING": "1",
           "MPLBACKEND": "Agg"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def test_every_page_is_built(site: Path) -> None:
    for source in sorted((ROOT / "docs").glob("*.md")):
        built = site / "index.html" if source.stem == "index" else site / source.stem / "index.html"
        assert built.is_file(), f"{source.name} was not built"


def test_the_scenario_reference_is_generated_from_the_schema(site: Path) -> None:
    from netsim.scenario import Scenario

    html = page(site, "scenarios")
    assert "<!-- netsim:scenario-reference -->" not in html
    for key in ("users.count", "cell.n_rbs", "limits.max_delay_s", "cell.fading.k_factor",
                "users.queue.timeout_s", "rl.clip_range", "sweep.grid", "schedulers[].type"):
        assert f"<code>{key}</code>" in html, key
    for section in Scenario.model_fields:
        assert f"<code>{section}</code>" in html, section
    # a field's docstring, and a default only the models know (a default_factory)
    assert "Q, number of resource blocks." in html
    assert "<code>[128, 128]</code>" in html


def test_the_cli_page_holds_every_commands_help(site: Path) -> None:
    import typer

    from netsim.cli import app

    html = page(site, "cli")
    assert "<!-- netsim:cli-help -->" not in html
    for name in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
        assert f"$ netsim {name} --help" in html, name


def test_the_api_page_renders_netsim_api(site: Path) -> None:
    html = page(site, "python-api")
    for name in ("load_scenario", "RunResults", "run", "train", "sweep"):
        assert f'id="netsim.api.{name}"' in html, name
