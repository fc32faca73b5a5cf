"""Histograms of each layer's activations in a 784→512→256→128→10 network, for three initialisations.

Teaches: what the initial weights do to the signal as it goes through the layers. With
weights N(0, 1)·0.01 the activations shrink about tenfold per layer until they are ~0 (and so
are the gradients); the default init of nn.Linear (uniform ±1/√fan_in) shrinks them more
gently; Kaiming's N(0, 2/fan_in), made for ReLU, keeps their size steady. Prints the mean and
std of each layer's output and saves the histograms as a PNG.

    python examples/activation_stats.py [--out DIR] [--small]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn

SIZES = [784, 512, 256, 128, 10]
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def inputs(n: int) -> tuple[np.ndarray, str]:
    """`n` MNIST test images when the files are there, else random images of the same size and range."""
    try:
        from tinygrad_edu.data import load_mnist

        return load_mnist(MNIST_DIR, kind="test")[0][:n], f"{n} MNIST test images"
    except (OSError, ValueError):
        rng = np.random.default_rng(0)
        return (rng.random((n, 784)) * (rng.random((n, 784)) < 0.2)).astype(np.float32), f"{n} random inputs"


def build(init: str) -> nn.MLP:
    model = nn.MLP(SIZES)  # nn.Linear's default init: uniform in ±1/√fan_in
    for layer in model.layers:
        if isinstance(layer, nn.Linear) and init != "default":
            std = 0.01 if init == "N(0,1)·0.01" else np.sqrt(2.0 / layer.in_features)  # Kaiming (He) normal
            layer.weight.data[...] = tg.randn(*layer.weight.shape).numpy() * std
            layer.bias.data[...] = 0
    return model


def layer_outputs(model: nn.MLP, x: tg.Tensor) -> list[tuple[str, np.ndarray]]:
    """The output of each ReLU, and the logits: what each layer passes on."""
    outputs, h = [], x
    with tg.no_grad():
        for i, layer in enumerate(model.layers):
            h = layer(h)
            if isinstance(layer, nn.ReLU) or i == len(model.layers) - 1:
                name = f"layer {len(outputs) + 1} ({h.shape[1]}{', logits' if i == len(model.layers) - 1 else ''})"
                outputs.append((name, h.numpy()))
    return outputs


def main(out: Path, n: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, what = inputs(n)
    inits = ["N(0,1)·0.01", "default", "Kaiming"]
    fig, axes = plt.subplots(len(inits), len(SIZES) - 1, figsize=(10, 6), sharex="row")
    for row, init in enumerate(inits):
        tg.manual_seed(0)
        print(f"{init}:")
        layers = layer_outputs(build(init), tg.Tensor(X))
        # The same bins for every layer of a row, so a layer whose signal has shrunk shows as a spike at 0.
        bins = np.linspace(min(v.min() for _, v in layers), max(v.max() for _, v in layers), 60)
        for col, (name, values) in enumerate(layers):
            print(f"  {name:<22} mean {values.mean():+.2e}  std {values.std():.2e}")
            ax = axes[row, col]
            ax.hist(values.ravel(), bins=bins, color=f"C{row}")
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            ax.set_title(f"{name}\nstd {values.std():.2g}", fontsize=8)
        axes[row, 0].set_ylabel(init, fontsize=9)
    fig.suptitle(f"Activations of a {'→'.join(map(str, SIZES))} MLP for {what}", fontsize=10)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "activation_stats.png"
    fig.savefig(path, dpi=70)
    plt.close(fig)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples"))
    parser.add_argument("--small", action="store_true", help="100 inputs instead of 500 (also: TINYGRAD_EDU_SMALL=1)")
    args = parser.parse_args()
    main(args.out, n=100 if args.small or os.environ.get("TINYGRAD_EDU_SMALL") == "1" else 500)
