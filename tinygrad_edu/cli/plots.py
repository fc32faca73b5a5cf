"""The pictures `tinygrad-edu train` writes: the training curves and the forward graph.

>>> import io
>>> history = History(train_loss=[1.0, 0.5], test_loss=[0.9, 0.6], test_acc=[0.7, 0.8])
>>> png = io.BytesIO()
>>> plot_history(history, png, title="two epochs")
>>> png.getvalue()[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import importlib.util
import os
from typing import IO

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.cli.errors import CommandError
from tinygrad_edu.cli.training import History
from tinygrad_edu.nn import functional as F  # noqa: N812
from tinygrad_edu.viz import GraphDrawing, draw_graph

__all__ = ["forward_graph", "plot_history", "require_matplotlib", "sample_loss"]

MATPLOTLIB_HINT = "pip install 'tinygrad_edu[plots]' or pip install matplotlib"


def require_matplotlib() -> None:
    """Fail before any work when the plot cannot be drawn, not after training."""
    if importlib.util.find_spec("matplotlib") is None:
        raise CommandError(f"the training plot needs matplotlib, which is not installed: {MATPLOTLIB_HINT}")


def plot_history(history: History, file: str | os.PathLike[str] | IO[bytes], title: str = "") -> None:
    """Write loss (train and test) and test-accuracy curves per epoch as a PNG to `file`.

    Uses matplotlib's Agg canvas directly, not pyplot, so it needs no display and does not
    change the backend of a notebook or program that imports this module.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"plotting needs matplotlib: {MATPLOTLIB_HINT}") from None
    epochs = np.arange(1, len(history.train_loss) + 1)
    fig = Figure(figsize=(10, 4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, history.train_loss, "o-", label="train (mean over the epoch)")
    loss_ax.plot(epochs, history.test_loss, "s-", label="test (after the epoch)")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    losses = history.train_loss + history.test_loss
    if losses and min(losses) > 0 and max(losses) / min(losses) > 10:
        loss_ax.set_yscale("log")  # the train loss falls by orders of magnitude: show the whole tail
    loss_ax.legend()
    acc = 100 * np.asarray(history.test_acc)
    if len(acc):
        acc_ax.plot(epochs, acc, "o-", color="tab:green", label=f"test (final {acc[-1]:.2f}%)")
        best = int(np.argmax(acc))
        acc_ax.plot(epochs[best], acc[best], "*", color="tab:red", markersize=12, label=f"best {acc[best]:.2f}%")
        acc_ax.legend(loc="lower right")
    acc_ax.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    fig.savefig(file, format="png")


def sample_loss(model: nn.Module, X: np.ndarray, y: np.ndarray) -> tg.Tensor:
    """The cross-entropy loss of the batch `(X, y)` through `model`, recorded for drawing: the
    input is named "images" and the loss "loss". The layers of an `nn.Sequential` are called one
    by one, the same computation as `model(x)`, so that each layer is an outermost module call:
    a box of its own in the drawing, and one node with `collapse_modules=True` (not one node for
    the whole network)."""
    x = tg.Tensor(X, name="images")
    if isinstance(model, nn.Sequential):
        for layer in model:
            x = layer(x)
        logits = x
    else:
        logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.name = "loss"
    return loss


def forward_graph(model: nn.Module, X: np.ndarray, y: np.ndarray) -> GraphDrawing:
    """The forward graph of `sample_loss(model, X, y)`, each layer call in a box
    (`viz.draw_graph`); render it with `.pipe(format="svg")`."""
    # show_grads=False: the graph of this batch, not the gradients left by the last training step
    return draw_graph(sample_loss(model, X, y), params=model, show_grads=False)
