"""Watch backpropagation step by step: the 3→4→2 network of the backprop tutorial, traced.

Teaches: backward() visits the ops in reverse topological order, one step per op; each step
receives the complete gradient of its result (∂L/∂out), applies its op's chain rule, and passes
a gradient to each input, where gradients from several uses are added. trace_backward(loss) runs
an ordinary backward and records every step: explain() prints them with this run's numbers, and
to_html() writes a player (one offline HTML file) that steps through the pass in a browser.
Rendering the player's pictures needs Graphviz's `dot` (make dot); without it only the text is
printed.

    python examples/watch_backprop.py [--out DIR]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.viz import trace_backward


def network() -> tg.Tensor:
    """The network of docs/backprop.md: 8 examples, 3 inputs, 4 hidden ReLU units, 2 outputs, MSE."""
    rng = np.random.default_rng(0)
    X = tg.Tensor(rng.standard_normal((8, 3)), name="X")
    Y = tg.Tensor(rng.standard_normal((8, 2)), name="Y")
    W1 = tg.Tensor(rng.standard_normal((4, 3)) * 0.5, requires_grad=True, name="W₁")
    b1 = tg.Tensor(np.zeros(4), requires_grad=True, name="b₁")
    W2 = tg.Tensor(rng.standard_normal((2, 4)) * 0.5, requires_grad=True, name="W₂")
    b2 = tg.Tensor(np.zeros(2), requires_grad=True, name="b₂")
    Z1 = X @ W1.T + b1
    Z1.name = "Z₁"
    H = Z1.relu()
    H.name = "H"
    Y_hat = H @ W2.T + b2
    Y_hat.name = "Ŷ"
    loss = ((Y_hat - Y) ** 2).mean()
    loss.name = "L"
    return loss


def main(out: Path) -> Path | None:
    trace = trace_backward(network())
    print(f"backward() ran {len(trace.steps)} steps: " + ", ".join(f"{s.index} {s.op}" for s in trace.steps))
    relu = next(s for s in trace.steps if s.op == "relu")
    print()
    print(trace.step_text(relu.index))  # the step that applies ReLU's mask: ∂L/∂Z₁ = ∂L/∂H ⊙ 1[Z₁ > 0]
    print()
    if shutil.which("dot") is None:
        print("Graphviz's dot is missing (install it with: make dot): no player written")
        return None
    path = trace.to_html(out / "watch_backprop.html")
    print(f"wrote {path}: open it in a browser and press → to step through backward()")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples"))
    main(parser.parse_args().out)
