"""`tinygrad-edu train` and its training loop (`tinygrad_edu.cli.training`): the targets, the outputs, the log.

Cost on this shared 2-core machine (one BLAS thread, see `one_blas_thread`): the default digits
run (30 epochs) takes about 3 s and one MNIST epoch about 4 s, so they run in every suite. The
full 10-epoch MNIST and Fashion-MNIST targets take about 30 s each; they run too, unless

    TINYGRAD_EDU_QUICK=1 .venv/bin/python -m pytest   # leaves the two long runs out

Tests that read MNIST files use ../shared/data and are skipped, with the reason, when it is absent.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.cli import main
from tinygrad_edu.cli.recipes import DATASETS, IMAGE_SHAPES, MODELS, RECIPES, TrainConfig, build_model, load_dataset
from tinygrad_edu.cli.train import save_outputs
from tinygrad_edu.cli.training import evaluate, fit, run_training
from tinygrad_edu.nn.models import small_cnn

# The shared data folder next to the repository (or next to the folder of worktrees that holds it).
SHARED = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents[1:4] if (p / "shared" / "data").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "data",
)

needs_sklearn = pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None,
    reason="scikit-learn is not installed (pip install 'tinygrad_edu[data]')",
)
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="matplotlib is not installed (pip install 'tinygrad_edu[plots]')",
)


def needs_files(dataset: str) -> pytest.MarkDecorator:
    folder = SHARED / dataset
    return pytest.mark.skipif(
        not (folder / "train-images-idx3-ubyte.gz").is_file(),
        reason=f"the {dataset} files are not in {folder} (the shared data folder next to the repository)",
    )


slow = pytest.mark.skipif(
    os.environ.get("TINYGRAD_EDU_QUICK") == "1",
    reason="a full 10-epoch training run (about 30 s here), left out because TINYGRAD_EDU_QUICK=1",
)


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Train with one BLAS thread. On this shared 2-core machine, OpenBLAS's two threads wait
    for each other whenever a neighbour holds a core, which made these tests 3-7x slower
    (53 s against 16 s for this file and test_data.py); the results are the same. Needs
    threadpoolctl, which comes with scikit-learn; without it nothing changes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ---------------------------------------------------------------- the digits default, end to end


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """`tinygrad-edu train --out DIR` with every default, once for the module."""
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn is not installed (pip install 'tinygrad_edu[data]')")
    out = tmp_path_factory.mktemp("digits")
    buffer = io.StringIO()  # not a TTY: the command must print plain lines
    with contextlib.redirect_stdout(buffer):
        status = main(["train", "--out", str(out)])
    return status, buffer.getvalue(), out


def test_digits_default_reaches_97_percent(digits_run: tuple[int, str, Path]) -> None:
    status, output, _ = digits_run
    assert status == 0
    final = float(output.split("test accuracy ")[-1].split("%")[0])
    assert final >= 97.0, output


def test_output_is_plain_lines_per_epoch(digits_run: tuple[int, str, Path]) -> None:
    _, output, _ = digits_run
    assert "\r" not in output and "\x1b" not in output  # no progress-bar control characters in a log
    epoch_lines = [line for line in output.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == RECIPES[("mlp", "digits")].epochs
    for line in epoch_lines:
        for field in ("train loss", "test loss", "test acc", "time", "img/s"):
            assert field in line, line
    assert output.splitlines()[0].startswith("digits: 1438 training and 359 test images; MLP 64 → 256 → 128 → 10")


@needs_matplotlib
def test_outputs_written(digits_run: tuple[int, str, Path]) -> None:
    _, output, out = digits_run
    state = tg.load(out / "model.npz")
    model = nn.MLP([64, 256, 128, 10])
    model.load_state_dict(state)  # the saved weights fit the model they came from
    _, _, X_test, y_test = load_dataset("digits")
    _, accuracy = evaluate(model, X_test, y_test)
    assert f"{100 * accuracy:.2f}%" in output  # the saved model is the one that was reported
    png = (out / "training.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    graph = out / "graph.svg" if shutil.which("dot") else out / "graph.dot"
    text = graph.read_text()
    for label in ("layers.0.weight", "layers.4.bias", "Linear(64→256)", "ReLU", "images", "loss", "(8, 64)"):
        assert label in text, label
    if graph.suffix == ".svg":
        assert "<svg" in text and text.count('class="cluster"') >= 5  # one box per layer call
    # the backprop player of the same batch (the text of the pass when `dot` is missing)
    if shutil.which("dot"):
        page = (out / "backprop.html").read_text(encoding="utf-8")
        assert 'id="step-title"' in page and "Step 0: mul" in page and "MLP 64 → 256 → 128 → 10" in page
        assert "∂L/∂layers.0.weight = (∂L/∂layers.0.weightᵀ)ᵀ" in page  # the last step reaches the first layer
        assert "  backprop.html  backward() on that batch, step by step" in output
    else:
        assert "∂L/∂layers.0.weight" in (out / "backprop.txt").read_text(encoding="utf-8")


def test_same_seed_same_run() -> None:
    data = load_dataset("digits")
    histories = []
    for _ in range(2):
        tg.manual_seed(3)
        model = nn.MLP([64, 32, 10])
        histories.append(fit(model, data, epochs=2, batch_size=64, lr=0.1, optimizer="sgd", seed=3, log=None))
    assert histories[0].train_loss == histories[1].train_loss
    assert histories[0].test_acc == histories[1].test_acc


def test_evaluate_records_no_graph_and_restores_mode() -> None:
    model = nn.MLP([4, 8, 3])
    seen = []
    forward = model.forward

    def spy(x: tg.Tensor) -> tg.Tensor:
        out = forward(x)
        seen.append((tg.is_grad_enabled(), model.training, out.requires_grad))
        return out

    model.forward = spy
    X, y = np.random.default_rng(0).random((10, 4), dtype=np.float32), np.arange(10) % 3
    loss, accuracy = evaluate(model, X, y, batch_size=4)
    assert seen == [(False, False, False)] * 3  # 3 batches, each under no_grad in eval mode
    assert model.training and 0 <= accuracy <= 1 and loss > 0
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_goes_500_images_at_a_time() -> None:
    """So that evaluating a CNN on the 10,000 MNIST test images stays small in memory."""
    model = nn.MLP([4, 3])
    sizes = []
    forward = model.forward
    model.forward = lambda x: sizes.append(len(x)) or forward(x)
    X = np.zeros((1200, 4), dtype=np.float32)
    evaluate(model, X, np.zeros(1200, dtype=np.int64))
    assert sizes == [500, 500, 200]


@pytest.mark.parametrize(
    ("schedule", "expected"), [("cosine", None), ("step", [0.1, 0.1, 0.03, 0.03, 0.009]), ("none", [0.1] * 5)]
)
def test_schedules(schedule: str, expected: list[float] | None) -> None:
    data = tuple(
        np.asarray(a) for a in (np.eye(4, dtype=np.float32), np.arange(4), np.eye(4, dtype=np.float32), np.arange(4))
    )
    model = nn.MLP([4, 4])
    history = fit(model, data, epochs=5, batch_size=2, lr=0.1, optimizer="sgd", schedule=schedule, log=None)
    if expected is None:
        expected = [0.05 * (1 + np.cos(np.pi * e / 5)) for e in range(5)]
    np.testing.assert_allclose(history.lr, expected, rtol=1e-6)


def test_progress_bar_shows_loss_and_throughput(capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm (pip install 'tinygrad_edu[progress]')")
    rng = np.random.default_rng(0)
    data = (
        rng.random((2000, 8), dtype=np.float32),
        rng.integers(0, 10, 2000),
        rng.random((10, 8), dtype=np.float32),
        np.arange(10),
    )
    fit(nn.MLP([8, 10]), data, epochs=1, batch_size=10, lr=0.1, log=print, progress="bar")
    err_and_out = "".join(capsys.readouterr())
    assert "epoch 1/1" in err_and_out and "loss" in err_and_out and "img/s" in err_and_out


def test_lines_progress_for_long_epochs(capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    data = (
        rng.random((1000, 8), dtype=np.float32),
        rng.integers(0, 10, 1000),
        rng.random((10, 8), dtype=np.float32),
        np.arange(10),
    )
    fit(nn.MLP([8, 10]), data, epochs=1, batch_size=10, lr=0.1, log=print, progress="lines")  # 100 batches
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines[:3]] == ["250/1000", "500/1000", "750/1000"]
    assert lines[3].startswith("epoch 1/1")


def test_sgd_and_custom_hidden_on_digits(tmp_path: Path) -> None:
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn is not installed")
    config = TrainConfig(dataset="digits", hidden=[32], epochs=3, optimizer="adam", schedule="none")
    result = run_training(config, log=None)
    assert result.model.sizes == (64, 32, 10)
    assert result.config.lr == 1e-3  # adam's default when the recipe's optimizer (sgd) is overridden
    assert result.history.test_acc[-1] > 0.5  # 3 epochs at Adam's lr: learning, not finished
    if importlib.util.find_spec("matplotlib") is not None:
        grads = [p.grad for p in result.model.parameters()]
        paths = save_outputs(result, tmp_path / "nested" / "out")
        assert all(p.grad is g for p, g in zip(result.model.parameters(), grads))  # the player's backward left none
        graph = "graph.svg" if shutil.which("dot") else "graph.dot"
        player = "backprop.html" if shutil.which("dot") else "backprop.txt"
        assert {name: path.name for name, path in paths.items()} == {
            "model.npz": "model.npz",
            "training.png": "training.png",
            "graph.svg": graph,
            "backprop.html": player,
        }
        assert sorted(p.name for p in (tmp_path / "nested" / "out").iterdir()) == sorted(
            [graph, "model.npz", "training.png", player]
        )


@needs_sklearn
@needs_matplotlib
def test_without_dot_the_outputs_are_the_dot_source_and_the_steps_as_text(tmp_path: Path, monkeypatch) -> None:
    result = run_training(TrainConfig(dataset="digits", hidden=[8], epochs=1), log=None)
    out = tmp_path / "out"
    out.mkdir()
    (out / "backprop.html").write_text("the player of an earlier run")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    paths = save_outputs(result, out)
    assert (paths["graph.svg"].name, paths["backprop.html"].name) == ("graph.dot", "backprop.txt")
    assert sorted(p.name for p in out.iterdir()) == ["backprop.txt", "graph.dot", "model.npz", "training.png"]
    text = (out / "backprop.txt").read_text(encoding="utf-8")
    assert text.startswith("Step 0: mul  (loss = ") and "∂L/∂layers.0.weight = (∂L/∂layers.0.weightᵀ)ᵀ" in text


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_diverging_loss_stops_with_a_hint(capsys: pytest.CaptureFixture) -> None:
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn is not installed")
    status = main(["train", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "1", "--progress", "none"])
    assert status == 1
    assert "the training loss became nan at epoch 1, batch 2" in capsys.readouterr().err


# ---------------------------------------------------------------- --model cnn


def test_a_recipe_for_every_network_and_dataset() -> None:
    assert set(RECIPES) == set(itertools.product(MODELS, DATASETS))
    for (model, dataset), recipe in RECIPES.items():
        config = TrainConfig(dataset=dataset, model=model).resolved()  # the recipe passes its own checks
        assert (config.hidden, config.epochs, config.lr) == (recipe.hidden, recipe.epochs, recipe.lr)
        tg.manual_seed(0)
        network = build_model(config)
        with tg.no_grad():
            logits = network(tg.zeros(2, math.prod(IMAGE_SHAPES[dataset])))  # the loaders' flat rows
        assert logits.shape == (2, 10), (model, dataset)
        assert MODELS[model].describe(network).startswith(model.upper() + " "), (model, dataset)


def test_cnn_recipes_are_the_measured_ones() -> None:
    """digits: 10 epochs of batch 32; MNIST and Fashion-MNIST: 5 epochs of batch 64 (99% on MNIST);
    all Adam 2e-3 with cosine decay, a dense layer of 128."""
    for dataset, epochs, batch in [("digits", 10, 32), ("mnist", 5, 64), ("fashion-mnist", 5, 64)]:
        recipe = RECIPES[("cnn", dataset)]
        assert (recipe.epochs, recipe.batch_size, recipe.hidden) == (epochs, batch, (128,))
        assert (recipe.optimizer, recipe.lr, recipe.schedule) == ("adam", 2e-3, "cosine")


def test_cnn_hidden_is_its_dense_layer() -> None:
    config = TrainConfig(dataset="mnist", model="cnn", hidden=[64]).resolved()
    model = build_model(config)
    assert [layer.out_features for layer in model if isinstance(layer, nn.Linear)] == [64, 10]
    assert MODELS["cnn"].describe(model) == "CNN 1×28×28 → conv3×3 16 → pool2 → conv3×3 32 → pool2 → 64 → 10"
    for hidden in ([], [128, 64]):
        with pytest.raises(ValueError, match=r"--hidden for --model cnn is the size of its one dense layer"):
            TrainConfig(dataset="digits", model="cnn", hidden=hidden).resolved()


@needs_sklearn
@needs_matplotlib
def test_cnn_on_digits_through_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """One epoch of `tinygrad-edu train --model cnn`: every output, in runs/digits-cnn by default."""
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "cnn", "--epochs", "1"]) == 0
    output = capsys.readouterr().out
    description = "CNN 1×8×8 → conv3×3 16 → pool2 → conv3×3 32 → pool2 → 128 → 10"
    assert output.splitlines()[0].startswith(f"digits: 1438 training and 359 test images; {description}; adam")
    final = float(output.split("test accuracy ")[-1].split("%")[0])
    assert 80.0 <= final < 100.0, output  # about 93% after one epoch; chance is 10%
    out = tmp_path / "runs" / "digits-cnn"  # not runs/digits: an MLP run's outputs stay
    model = small_cnn(image_size=8)
    model.load_state_dict(tg.load(out / "model.npz"))  # weights and BatchNorm's running statistics
    _, _, X_test, y_test = load_dataset("digits")
    assert f"{100 * evaluate(model, X_test, y_test)[1]:.2f}%" in output  # the saved model is the one reported
    assert (out / "training.png").read_bytes().startswith(b"\x89PNG")
    if not shutil.which("dot"):
        assert {p.name for p in out.iterdir()} == {"model.npz", "training.png", "graph.dot", "backprop.txt"}
        return
    assert {p.name for p in out.iterdir()} == {"model.npz", "training.png", "graph.svg", "backprop.html"}
    # The graph: every op, each layer call in a box of its own (no box around the whole Sequential).
    svg = (out / "graph.svg").read_text()
    for label in ("1: Conv2d", "2: BatchNorm2d", "3: ReLU", "4: MaxPool2d", "9: Flatten", "12: Linear(128→10)"):
        assert label in svg, label
    boxes = re.findall(r'<g id="[^"]*" class="cluster">\s*<title>(cluster_[^<]*)</title>', svg)
    assert len(boxes) == 13 and "cluster_legend" in boxes  # the 12 layers after Unflatten (no op recorded), a legend
    assert "1.weight" in svg and "(16, 1, 3, 3) float32" in svg and "matmul" in svg
    # The player: a node per layer in every frame, the text op by op; a few MB, not the 20 of op-by-op frames.
    page = (out / "backprop.html").read_text(encoding="utf-8")
    frames = json.loads(re.search(r'<script type="application/json" id="frames-data">(.*?)</script>', page, re.S)[1])
    titles = [frame["title"] for frame in frames["frames"]]
    assert titles[:2] == ["The forward graph", "Step 0: mul"] and len(titles) == page.count("<svg") > 50
    assert f"Watching backprop: {description}, a batch of 8 digits test images" in page
    assert "5: Conv2d" in page and "of 16 ops done" in page and "∂L/∂5.weight" in page
    assert len(page.encode()) < 8_000_000


# ---------------------------------------------------------------- data errors (argument errors: test_cli_args.py)


def test_missing_data_dir_says_where_and_how(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    where = tmp_path / "no-mnist-here"
    status = main(["train", "--dataset", "mnist", "--data-dir", str(where), "--out", str(tmp_path / "out")])
    assert status == 1
    err = capsys.readouterr().err
    assert str(where) in err and "does not exist" in err
    assert "train-images-idx3-ubyte.gz" in err and "--download" in err
    assert not (tmp_path / "out").exists()


def test_default_data_dir_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "cache"))
    assert main(["train", "--dataset", "fashion-mnist", "--out", str(tmp_path / "out")]) == 1
    assert str(tmp_path / "cache" / "fashion-mnist") in capsys.readouterr().err


# ---------------------------------------------------------------- MNIST and Fashion-MNIST


@needs_files("mnist")
def test_one_mnist_epoch(tmp_path: Path) -> None:
    """One epoch of the MNIST recipe: a quick check that also runs with TINYGRAD_EDU_QUICK=1."""
    config = TrainConfig(dataset="mnist", data_dir=SHARED / "mnist", epochs=1)
    result = run_training(config, log=None)
    assert result.model.sizes == (784, 256, 128, 10)
    assert result.history.test_acc[0] >= 0.95  # about 96.5% after one epoch


@slow
@needs_files("mnist")
def test_mnist_target(tmp_path: Path) -> None:
    result = run_training(TrainConfig(dataset="mnist", data_dir=SHARED / "mnist"), log=print)
    assert result.model.sizes == (784, 256, 128, 10)
    assert result.config.optimizer == "adam" and result.config.epochs == 10
    assert result.history.test_acc[-1] >= 0.98


@slow
@needs_files("fashion-mnist")
def test_fashion_mnist_target(tmp_path: Path) -> None:
    result = run_training(TrainConfig(dataset="fashion-mnist", data_dir=SHARED / "fashion-mnist"), log=print)
    assert result.model.sizes == (784, 256, 128, 10) and result.config.epochs == 10
    assert result.history.test_acc[-1] >= 0.88
