"""Every script in examples/ runs, with small sizes (TINYGRAD_EDU_SMALL=1), in a fresh interpreter.

Each runs in a temporary directory, so whatever it writes (runs/examples/...) goes there, and
each test checks the lines that say the example taught what it claims.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MNIST_DIR = EXAMPLES.parent.parent / "shared" / "data" / "mnist"

# example -> lines its output must contain
EXPECTED = {
    "forward_pass.py": ["y_hat (2,)", "X (2, 3) → Z1 (2, 4) → Y_hat (2, 2)", "z2 = -0.0630  ŷ = 0.4843"],
    "backprop_mse_gradcheck.py": ["max |backward − hand|", "gradcheck: backward() matches"],
    "mnist_mlp.py": ["loss before training 2.3", "epoch 1: mean loss", "test accuracy"],
    "dqn_qnetwork.py": ["greedy action", "TD error"],
    "graph_of_mlp.py": ["nodes in the graph of MLP([3, 4, 2])", "mlp-forward", "mlp-backward"],
    "activation_stats.py": ["layer 1 (512)", "layer 4 (10, logits)", "Kaiming:", "activation_stats.png"],
    "custom_op.py": ["gradcheck(SiLU): backward agrees", "gradcheck(WrongSiLU) caught the wrong backward"],
    "watch_backprop.py": ["backward() ran 11 steps", "∂L/∂Z₁ = ∂L/∂A₁ ⊙ 1[Z₁ > 0]", "[[0.147     0     0 0.939]]"],
    "cnn_mnist.py": ["MaxPool2d    -> (64, 16, 14, 14)", "Flatten      -> (64, 1568)", "epoch 1: mean loss"],
}
NEEDS_MNIST = ("mnist_mlp.py", "cnn_mnist.py")


def run(script: str, cwd: Path, *args: str) -> str:
    env = {**os.environ, "TINYGRAD_EDU_SMALL": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"examples/{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_every_example_is_tested() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_small(script: str, tmp_path: Path) -> None:
    if script in NEEDS_MNIST and not MNIST_DIR.exists():
        out = run(script, tmp_path)
        assert "skipped: no MNIST files" in out
        pytest.skip(f"no MNIST files in {MNIST_DIR}: the example said so and exited cleanly")
    out = run(script, tmp_path)
    for line in EXPECTED[script]:
        assert line in out, f"examples/{script}: expected {line!r} in its output:\n{out}"
    doc = (EXAMPLES / script).read_text(encoding="utf-8").split('"""')[1]
    assert len(doc.strip()) > 80, f"examples/{script} needs a docstring saying what it teaches"
    if script == "activation_stats.py":
        png = tmp_path / "runs" / "examples" / "activation_stats.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if script == "graph_of_mlp.py":
        suffix = ".svg" if shutil.which("dot") else ".gv"
        assert (tmp_path / "runs" / "examples" / f"mlp-forward{suffix}").stat().st_size > 1_000


def test_mnist_example_skips_cleanly_without_data(tmp_path: Path) -> None:
    out = run("mnist_mlp.py", tmp_path, "--data-dir", str(tmp_path / "nowhere"))
    assert "skipped: no MNIST files" in out and "--data-dir" in out
