"""The training loop behind `tinygrad-edu train`: `fit` a model, `evaluate` it, `run_training`.

Code, tests and benchmarks call the same loop as the command:

>>> from tinygrad_edu.cli.training import TrainConfig, run_training
>>> result = run_training(TrainConfig(dataset="digits", epochs=3), log=None)
>>> len(result.history.test_acc), result.history.test_acc[-1] > 0.9
(3, True)

`run_training` loads the data, builds the network of `config.model` (`recipes.MODELS`) and
calls `fit`, which runs the epochs (a progress bar on a terminal, plain lines otherwise) and
evaluates on the test split after each one, under `no_grad`. Writing the outputs is the
command's job (`tinygrad_edu.cli.train`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.cli.progress import EpochProgress, Log, progress_mode
from tinygrad_edu.cli.recipes import MODELS, TrainConfig, build_model, load_dataset, make_optimizer, make_scheduler
from tinygrad_edu.data import DataLoader
from tinygrad_edu.nn import functional as F  # noqa: N812  (PyTorch's spelling, familiar to our users)

__all__ = ["History", "TrainConfig", "TrainResult", "evaluate", "fit", "run_training"]

SAMPLE_SIZE = 8  # test images kept with the result, for drawing the forward graph


@dataclass
class History:
    """Per-epoch measurements of `fit` (losses are means per sample, accuracy in [0, 1])."""

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)  # seconds of training, evaluation excluded
    lr: list[float] = field(default_factory=list)  # the learning rate at the start of each epoch


@dataclass
class TrainResult:
    model: nn.Module
    history: History
    config: TrainConfig  # resolved: no None left
    sample: tuple[np.ndarray, np.ndarray] | None = None  # a small test batch (X, y), for the graph

    def describe_model(self) -> str:
        """The network in one line, e.g. "MLP 64 → 256 → 128 → 10"."""
        return MODELS[self.config.model].describe(self.model)


# Images per evaluation batch: a CNN's im2col of 500 MNIST images is about 60 MB of float32;
# larger batches only add memory (the whole MNIST test set at once would be over 1 GB).
EVAL_BATCH_SIZE = 500


def evaluate(model: nn.Module, X: np.ndarray, y: np.ndarray, batch_size: int = EVAL_BATCH_SIZE) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on `(X, y)`, in eval mode and under `no_grad`,
    `batch_size` images at a time."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    try:
        with tg.no_grad():  # nothing is recorded: no graph, no saved buffers
            for start in range(0, len(X), batch_size):
                xb, yb = tg.Tensor(X[start : start + batch_size]), y[start : start + batch_size]
                logits = model(xb)
                total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
                correct += int((logits.data.argmax(axis=1) == yb).sum())
    finally:
        model.train(was_training)
    return total_loss / len(X), correct / len(X)


def fit(
    model: nn.Module,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str = "adam",
    schedule: str = "cosine",
    weight_decay: float = 0.0,
    seed: int | None = 0,
    log: Log = print,
    progress: bool | str | None = None,
) -> History:
    """Train `model` on `data = (X_train, y_train, X_test, y_test)` and evaluate after each epoch.

    Mini-batches of `batch_size` are reshuffled every epoch (reproducibly for a given `seed`);
    the loss is the softmax cross-entropy; `optimizer` is "adam" or "sgd" (momentum 0.9), both
    with L2 `weight_decay`; `schedule` ("cosine", "step" or "none") sets the learning rate per
    epoch. `log` receives one line per epoch (None: silent). `progress`: None picks a tqdm bar
    on a terminal and plain lines otherwise; "bar", "lines" or False force one. A loss that
    turns NaN or infinite stops training with a `FloatingPointError`.
    """
    X_train, y_train, X_test, y_test = data
    loader = DataLoader(X_train, y_train, batch_size, shuffle=True, seed=seed)
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    scheduler = make_scheduler(schedule, opt, epochs)
    mode = progress_mode(progress, log)
    history = History()
    model.train()
    for epoch in range(1, epochs + 1):
        history.lr.append(opt.param_groups[0]["lr"])
        bar = EpochProgress(mode, len(X_train), len(loader), f"epoch {epoch}/{epochs}", log)
        start = time.perf_counter()
        try:
            for batch, (xb, yb) in enumerate(loader, 1):
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                value = loss.item()
                if not math.isfinite(value):  # every later step would be NaN too: stop and say why
                    raise FloatingPointError(
                        f"the training loss became {value} at epoch {epoch}, batch {batch} (lr {history.lr[-1]:g}); "
                        "the learning rate is probably too high for this optimizer, try a smaller --lr"
                    )
                bar.update(len(yb), value)
        finally:
            bar.close()
        elapsed = time.perf_counter() - start
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc = evaluate(model, X_test, y_test)
        history.train_loss.append(bar.mean_loss)
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        history.epoch_time.append(elapsed)
        if log is not None:
            width = len(str(epochs))
            log(
                f"epoch {epoch:>{width}}/{epochs}  train loss {history.train_loss[-1]:.4f}  test loss {test_loss:.4f}  "
                f"test acc {100 * test_acc:6.2f}%  lr {history.lr[-1]:.2e}  "
                f"time {elapsed:5.2f}s ({len(X_train) / elapsed:,.0f} img/s)"
            )
    return history


def run_training(config: TrainConfig, log: Log = print, progress: bool | str | None = None) -> TrainResult:
    """Load `config.dataset`, build the network, `fit` it and return the model and its history.

    The seed fixes the weights (through `tinygrad_edu.manual_seed`) and the batch order.
    """
    config = config.resolved()
    data = load_dataset(config.dataset, config.data_dir, config.download)
    tg.manual_seed(config.seed)
    model = build_model(config)
    result = TrainResult(model, History(), config, sample=(data[2][:SAMPLE_SIZE], data[3][:SAMPLE_SIZE]))
    if log is not None:
        log(
            f"{config.dataset}: {len(data[0])} training and {len(data[2])} test images; {result.describe_model()}; "
            f"{config.optimizer} lr {config.lr:g}, schedule {config.schedule}, batch {config.batch_size}, "
            f"{config.epochs} epochs, seed {config.seed}"
        )
    result.history = fit(
        model,
        data,
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        optimizer=config.optimizer,
        schedule=config.schedule,
        weight_decay=config.weight_decay,
        seed=config.seed,
        log=log,
        progress=progress,
    )
    return result
