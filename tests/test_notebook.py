"""examples/watch_backprop.ipynb runs in a real Jupyter kernel (nbclient + ipykernel), and its
cells show what they promise: the steps, a picture of one moment, and the player."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "watch_backprop.ipynb"


@pytest.mark.skipif(shutil.which("dot") is None, reason="the notebook draws pictures: needs Graphviz's dot (make dot)")
def test_the_notebook_runs_and_shows_the_player(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' (nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' (nbclient, ipykernel)")
    pytest.importorskip("ipykernel", reason="pip install -e '.[test]' (ipykernel)")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # stored clean
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    texts = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "(7, 'relu')" in texts and "∂L/∂Z₁ = ∂L/∂H ⊙ 1[Z₁ > 0]" in texts
    pictures = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(pictures) == 1 and "▶ step 7: relu" in pictures[0]
    (player,) = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert player.startswith("<iframe srcdoc=") and "id=&quot;step-title&quot;" in player
    assert "id=&quot;step-text&quot;" in player and "Step 10: transpose" in player
