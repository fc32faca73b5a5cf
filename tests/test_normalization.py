"""Tests of BatchNorm1d/2d and LayerNorm: batch statistics in train(), running statistics in
eval(), the running statistics after several steps (against their formula and PyTorch), buffers
in state_dict with PyTorch's names, and a state_dict round trip of a CNN with BatchNorm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import nn, optim
from tinygrad_edu.errors import ShapeError
from tinygrad_edu.nn.models import small_cnn

SHAPES = {nn.BatchNorm1d: [(8, 3), (8, 3, 5)], nn.BatchNorm2d: [(8, 3, 4, 5)]}


def batches(shape: tuple[int, ...], count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * (i + 1) + i for i in range(count)]


def running_reference(xs: list[np.ndarray], momentum: float | None = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's rule written out: exponential averages of the batch mean and unbiased variance."""
    axes = (0, *range(2, xs[0].ndim))
    mean, var = np.zeros(xs[0].shape[1]), np.ones(xs[0].shape[1])
    for t, x in enumerate(xs, start=1):
        m = 1.0 / t if momentum is None else momentum
        mean = (1 - m) * mean + m * x.mean(axis=axes)
        var = (1 - m) * var + m * x.var(axis=axes, ddof=1)
    return mean, var


@pytest.mark.parametrize("layer", [nn.BatchNorm1d, nn.BatchNorm2d])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_running_statistics_follow_the_formula(layer, momentum):
    for shape in SHAPES[layer]:
        bn = layer(3, momentum=momentum).double()
        xs = batches(shape, 4)
        for x in xs:
            bn(tg.Tensor(x))
        mean, var = running_reference(xs, momentum)
        np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.data, var, rtol=1e-12)
        assert bn.num_batches_tracked.item() == 4 and bn.num_batches_tracked.dtype == np.int64


def test_train_normalises_with_the_batch_and_eval_with_the_running_statistics():
    bn = nn.BatchNorm2d(3).double()
    x = batches((8, 3, 4, 4), 1)[0] * 5 + 3
    y = bn(tg.Tensor(x)).data  # train(): zero mean, unit (biased) variance per channel
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    bn.eval()
    before = (bn.running_mean.data.copy(), bn.running_var.data.copy())
    out = bn(tg.Tensor(x)).data
    rm, rv = (a.reshape(1, 3, 1, 1) for a in before)
    np.testing.assert_allclose(out, (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean.data, before[0])  # eval() leaves them alone
    assert bn.num_batches_tracked.item() == 1
    one = bn(tg.Tensor(x[:1])).data  # a single sample is fine in eval(), and independent of the batch
    np.testing.assert_allclose(one, out[:1], rtol=1e-12)


@pytest.mark.parametrize("layer", [nn.BatchNorm1d, nn.BatchNorm2d])
def test_batch_norm_matches_pytorch_in_train_and_eval(layer):
    torch = pytest.importorskip("torch")
    torch_layer = {nn.BatchNorm1d: torch.nn.BatchNorm1d, nn.BatchNorm2d: torch.nn.BatchNorm2d}[layer]
    for shape in SHAPES[layer]:
        ours, theirs = layer(3).double(), torch_layer(3).double()
        rng = np.random.default_rng(1)
        ours.weight.data[...] = rng.standard_normal(3)
        ours.bias.data[...] = rng.standard_normal(3)
        theirs.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in ours.state_dict().items()})
        for step, x in enumerate(batches(shape, 5, seed=2)):
            if step == 3:
                ours.eval(), theirs.eval()
            mine, reference = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            out, expected = ours(mine), theirs(reference)
            np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
            weights = rng.standard_normal(shape)
            (out * weights).sum().backward()
            (expected * torch.tensor(weights)).sum().backward()
            np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=1e-9, atol=1e-12)
            for name, value in theirs.state_dict().items():
                np.testing.assert_allclose(ours.state_dict()[name].data, value.numpy(), rtol=1e-12, err_msg=name)
            for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
                np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
                p.grad, q.grad = None, None


def test_batch_norm_without_running_statistics_or_affine():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False).double()
    assert list(bn.state_dict()) == [] and list(bn.parameters()) == []
    x = batches((6, 2), 1)[0]
    expected = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    np.testing.assert_allclose(bn(tg.Tensor(x)).data, expected, rtol=1e-12)
    np.testing.assert_allclose(bn.eval()(tg.Tensor(x)).data, expected, rtol=1e-12)  # batch statistics always


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training.*model.eval\(\)"):
        nn.BatchNorm1d(3)(tg.zeros(1, 3))
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(3\): expected input of shape \(N, C, H, W\) with C = 3"):
        nn.BatchNorm2d(3)(tg.zeros(4, 3))
    with pytest.raises(ShapeError, match=r"C = 3, got \(4, 5\)"):
        nn.BatchNorm1d(3)(tg.zeros(4, 5))
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1d(3, momentum=2.0)


def test_layer_norm_layer_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.LayerNorm((3, 4)).double(), torch.nn.LayerNorm((3, 4)).double()
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)) * 3 + 1
    np.testing.assert_allclose(ours(tg.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_batch_norm_repr_and_state_dict_names_match_pytorch():
    torch = pytest.importorskip("torch")
    assert repr(nn.BatchNorm2d(16)) == repr(torch.nn.BatchNorm2d(16))
    assert repr(nn.BatchNorm1d(4, momentum=None)) == repr(torch.nn.BatchNorm1d(4, momentum=None))
    tg.manual_seed(0)
    model = small_cnn()
    theirs = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)),
        torch.nn.Conv2d(1, 16, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(32),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(1568, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    assert list(model.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in model.named_buffers()] == [name for name, _ in theirs.named_buffers()]
    # PyTorch's weights load into ours, and both then compute the same.
    model.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    model.eval(), theirs.eval()
    np.testing.assert_allclose(model(tg.Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-5)


def train_a_little(model: nn.Module, steps: int = 3) -> None:
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        loss = F.cross_entropy(model(tg.Tensor(rng.random((8, 64), dtype=np.float32))), rng.integers(0, 10, 8))
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_state_dict_round_trip_of_a_cnn_with_batch_norm_buffers(tmp_path: Path):
    tg.manual_seed(0)
    model = small_cnn(image_size=8)
    train_a_little(model)
    state = model.state_dict()
    assert {"2.running_mean", "2.running_var", "2.num_batches_tracked", "6.running_var"} <= set(state)
    assert state["2.num_batches_tracked"].item() == 3
    tg.save(state, tmp_path / "cnn.npz")

    tg.manual_seed(1)
    restored = small_cnn(image_size=8)
    running = restored[2].running_mean
    restored.load_state_dict(tg.load(tmp_path / "cnn.npz"))
    assert restored[2].running_mean is running  # loaded in place
    for name, value in restored.state_dict().items():
        np.testing.assert_array_equal(value.data, state[name].data, err_msg=name)
        assert value.dtype == state[name].dtype
    x = tg.Tensor(np.random.default_rng(5).random((6, 64), dtype=np.float32))
    model.eval(), restored.eval()
    np.testing.assert_array_equal(restored(x).data, model(x).data)


def test_a_failed_load_leaves_parameters_and_buffers_unchanged():
    tg.manual_seed(0)
    model = small_cnn(image_size=8)
    train_a_little(model, steps=1)
    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    bad = {k: v.data + 1 for k, v in model.state_dict().items()}
    bad["6.running_var"] = np.ones(7)  # the wrong shape, found only after the others were checked
    with pytest.raises(nn.StateDictError, match=r"6.running_var: the state dict has shape \(7,\), the model has \(32,"):
        model.load_state_dict(bad)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, before[name], err_msg=name)


def test_buffers_are_registered_like_pytorch():
    bn = nn.BatchNorm1d(3)
    assert [name for name, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    bn.running_mean = tg.ones(3)  # a Tensor assigned to a buffer's name replaces the buffer
    assert bn.state_dict()["running_mean"].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match="running_mean is a buffer"):
        bn.running_mean = [0.0, 0.0, 0.0]
    with pytest.raises(TypeError, match="requires grad, so it is a parameter"):
        bn.register_buffer("extra", tg.ones(3, requires_grad=True))
    with pytest.raises(KeyError, match="already taken"):
        bn.register_buffer("weight", tg.ones(3))
    bn.register_buffer("scratch", tg.zeros(3), persistent=False)
    assert "scratch" not in bn.state_dict() and "scratch" in dict(bn.named_buffers())
    bn.double()
    assert bn.running_var.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    del bn.scratch
    assert "scratch" not in dict(bn.named_buffers())
