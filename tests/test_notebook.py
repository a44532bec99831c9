"""The example notebook (examples/paper.ipynb) runs from top to bottom on the current
code (nbclient, a fresh Python kernel), so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_example_notebook_executes(monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.read(EXAMPLES / "paper.ipynb", as_version=4)
    # the kernel draws inline, as in Jupyter (CI's MPLBACKEND=Agg would draw nowhere)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "users.cout: unknown key" in text
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 3  # the comparison, the sweep, the encoder shares
