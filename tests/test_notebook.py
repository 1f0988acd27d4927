"""The notebook in docs/examples runs (nbclient, a real kernel) and shows a Result as a
table and an inline SVG histogram, with no plotting library involved."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "examples" / "results.ipynb"


def test_the_results_notebook_runs_and_shows_the_histogram() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": "."}}
    ).execute()
    shown = notebook.cells[2].outputs
    [display] = [o for o in shown if o.get("output_type") == "execute_result"]
    html = display["data"]["text/html"]
    assert "<svg" in html and "</svg>" in html
    assert "00" in html and "11" in html
    assert display["data"]["text/plain"].startswith("<Result job=")
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
              if o.get("output_type") == "error"]  # fmt: skip
    assert errors == []
