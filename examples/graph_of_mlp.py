"""Draw the computational graph of an MLP's forward pass and loss, and of its backward pass.

Teaches: every op on tensors that require grad is recorded; draw_graph(loss, params=model)
shows the recorded graph with one box per module call (Linear, ReLU, Linear) and the
parameters named as in model.named_parameters(); direction="backward" shows the gradients
flowing from the loss to the weights. Rendering needs Graphviz's `dot` (make dot); without it
the DOT source is written instead.

    python examples/graph_of_mlp.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import nn
from tinygrad_edu.viz import draw_graph


def main(out: Path, sizes: list[int], batch: int) -> list[Path]:
    tg.manual_seed(0)
    model = nn.MLP(sizes)
    x = tg.randn(batch, sizes[0])
    x.name = "x"
    loss = F.cross_entropy(model(x), np.arange(batch) % sizes[-1])
    loss.name = "loss"
    forward = draw_graph(loss, params=model, rankdir="TB")
    loss.backward()
    backward = draw_graph(loss, params=model, direction="backward", rankdir="TB")
    print(f"{forward.total_nodes} nodes in the graph of MLP({sizes}) with cross-entropy, batch {batch}")

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, graph in [("mlp-forward", forward), ("mlp-backward", backward)]:
        if shutil.which("dot"):
            written.append(Path(graph.render(outfile=out / f"{name}.svg", cleanup=True)))
        else:
            (out / f"{name}.gv").write_text(graph.source, encoding="utf-8")
            written.append(out / f"{name}.gv")
            print("Graphviz's dot is missing (install it with: make dot); writing the DOT source instead")
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples"))
    parser.add_argument("--small", action="store_true", help="a 3→4→2 MLP (also: TINYGRAD_EDU_SMALL=1)")
    args = parser.parse_args()
    small = args.small or os.environ.get("TINYGRAD_EDU_SMALL") == "1"
    main(args.out, sizes=[3, 4, 2] if small else [4, 8, 8, 3], batch=3 if small else 5)
