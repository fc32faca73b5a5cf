"""Tests of tinygrad_edu.nn: Module registration and traversal, containers, Linear and its
initialisation, activations, Dropout, MLP, state dicts, no_grad inference, and the hooks seam."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import hooks, nn
from tinygrad_edu.errors import DTypeError, ShapeError


class Net(nn.Module):
    """A parameter of its own between submodules: order and names must follow PyTorch."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.head = nn.Linear(2, 1)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return self.head(self.dropout(self.encoder(x) * self.scale))


NET_PARAMETER_NAMES = [
    "scale",
    "encoder.0.weight",
    "encoder.0.bias",
    "encoder.2.weight",
    "encoder.2.bias",
    "head.weight",
    "head.bias",
]


# ---------------------------------------------------------------- registration and traversal


def test_named_parameters_order_and_names():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == NET_PARAMETER_NAMES
    params = dict(net.named_parameters())
    assert params["encoder.0.weight"] is net.encoder[0].weight
    assert params["scale"] is net.scale
    assert [p.shape for p in net.parameters()] == [(2,), (4, 3), (4,), (2, 4), (2,), (1, 2), (1,)]
    assert all(isinstance(p, tg.Tensor) and p.requires_grad and p.is_leaf for p in net.parameters())


def test_named_parameters_order_matches_pytorch():
    torch = pytest.importorskip("torch")

    class TorchNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
            self.scale = torch.nn.Parameter(torch.ones(2))
            self.head = torch.nn.Linear(2, 1)
            self.dropout = torch.nn.Dropout(0.5)

    torch_net = TorchNet()
    assert [name for name, _ in Net().named_parameters()] == [name for name, _ in torch_net.named_parameters()]
    assert [name for name, _ in Net().named_modules()] == [name for name, _ in torch_net.named_modules()]
    assert list(Net().state_dict()) == list(torch_net.state_dict())


def test_named_modules_and_children():
    net = Net()
    assert [name for name, _ in net.named_modules()] == [
        "",
        "encoder",
        "encoder.0",
        "encoder.1",
        "encoder.2",
        "head",
        "dropout",
    ]
    assert next(iter(net.named_modules()))[1] is net
    assert [name for name, _ in net.named_children()] == ["encoder", "head", "dropout"]
    assert [type(m).__name__ for m in net.modules()] == [
        "Net",
        "Sequential",
        "Linear",
        "ReLU",
        "Linear",
        "Linear",
        "Dropout",
    ]
    assert [name for name, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [name for name, _ in net.head.named_parameters(prefix="head")] == ["head.weight", "head.bias"]


def test_nested_modules_three_levels():
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2, bias=False)])

        def forward(self, x):
            for layer in self.inner:
                x = layer(x).tanh()
            return x

    class Deep(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.Sequential(Block(), Block())

        def forward(self, x):
            return self.blocks(x)

    deep = Deep()
    assert [name for name, _ in deep.named_parameters()] == [
        "blocks.0.inner.0.weight",
        "blocks.0.inner.0.bias",
        "blocks.0.inner.1.weight",
        "blocks.1.inner.0.weight",
        "blocks.1.inner.0.bias",
        "blocks.1.inner.1.weight",
    ]
    deep(tg.ones(3, 2)).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in deep.parameters())


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.Tanh(), shared)
    assert [name for name, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.named_modules())) == 3  # "", "0", "1": the second use of `shared` is the same module
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as PyTorch's state_dict


def test_only_trainable_leaf_tensors_are_registered():
    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trainable = tg.randn(2, requires_grad=True)  # any leaf that requires grad
            self.constant = tg.ones(2)  # no grad: a plain attribute
            self.computed = self.trainable * 2  # not a leaf: an intermediate result
            self.number = 3

    holder = Holder()
    assert [name for name, _ in holder.named_parameters()] == ["trainable"]
    assert holder.number == 3 and holder.constant.shape == (2,)
    del holder.trainable
    assert list(holder.named_parameters()) == []


def test_assignments_that_would_silently_lose_weights_are_refused():
    layer = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"Linear.weight is a parameter.*does not require grad"):
        layer.weight = tg.zeros(3, 2)
    with pytest.raises(TypeError, match=r"Linear.weight is a parameter.*ndarray"):
        layer.weight = np.zeros((3, 2))
    layer.bias = None  # removing a parameter is fine
    assert [name for name, _ in layer.named_parameters()] == ["weight"]

    class ListHolder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]

    with pytest.raises(TypeError, match=r"nn.ModuleList"):
        ListHolder()

    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first"):
        Forgetful()

    seq = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="submodule"):
        setattr(seq, "0", 5)
    with pytest.raises(TypeError, match="add_module"):
        seq.add_module("1", 5)


def test_register_helpers_and_apply():
    module = nn.Module()
    module.register_parameter("w", nn.Parameter([1.0, 2.0]))
    module.add_module("child", nn.Linear(2, 1))
    assert [name for name, _ in module.named_parameters()] == ["w", "child.weight", "child.bias"]
    with pytest.raises(TypeError, match="register_parameter"):
        module.register_parameter("v", tg.ones(2))
    visited = []
    module.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "Module"]  # children first, as PyTorch
    with pytest.raises(NotImplementedError, match="forward"):
        module(tg.ones(2))


def test_parameter_is_a_tiny_tensor_subclass():
    p = nn.Parameter(np.array([1.0, 2.0]))
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float64
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.data, [2.0, 4.0])
    assert type(p * 2) is tg.Tensor

    class Frozen(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Parameter(np.eye(2), requires_grad=False)  # registered, as in PyTorch

    assert list(Frozen().state_dict()) == ["table"]


def test_module_list_and_sequential_behave_like_lists():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    assert isinstance(layers[-1], nn.ReLU) and len(layers) == 4
    assert [type(m).__name__ for m in layers[1:3]] == ["Linear", "Linear"]
    assert [name for name, _ in layers[2:].named_children()] == ["0", "1"]  # a ModuleList slice is renumbered
    replacement = nn.Tanh()
    layers[0] = replacement
    assert layers[0] is replacement and "0.weight" not in dict(layers.named_parameters())
    with pytest.raises(IndexError, match="out of range for 4 modules"):
        layers[4]
    with pytest.raises(TypeError, match="not a Module"):
        layers.append(lambda x: x)

    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert [name for name, _ in seq[1:].named_children()] == ["1", "2"]  # a Sequential slice keeps names
    named = nn.Sequential({"hidden": nn.Linear(2, 3), "act": nn.ReLU()})
    assert [name for name, _ in named.named_parameters()] == ["hidden.weight", "hidden.bias"]
    with pytest.raises(TypeError, match=r"Sequential\(\*layers\)"):
        nn.Sequential([nn.Linear(2, 2)])
    with pytest.raises(TypeError, match=r"nn.ReLU\(\)"):
        nn.Sequential(nn.Linear(2, 2), tg.relu)


def test_sequential_applies_modules_in_order():
    tg.manual_seed(0)
    first, second = nn.Linear(3, 4), nn.Linear(4, 2)
    seq = nn.Sequential(first, nn.Tanh(), second)
    x = tg.randn(5, 3)
    expected = np.tanh(x.data @ first.weight.data.T + first.bias.data) @ second.weight.data.T + second.bias.data
    np.testing.assert_allclose(seq(x).data, expected, rtol=1e-6)


def test_zero_grad():
    net = Net().eval()
    net(tg.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_matches_pytorch():
    expected = """MLP(
  (layers): Sequential(
    (0): Linear(in_features=784, out_features=256, bias=True)
    (1): ReLU()
    (2): Linear(in_features=256, out_features=10, bias=True)
  )
)"""
    assert repr(nn.MLP([784, 256, 10])) == expected
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Linear(3, 1, bias=False))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Sigmoid(), torch.nn.Tanh(), torch.nn.Linear(3, 1, bias=False)
    )
    assert repr(ours) == repr(theirs)


def test_module_to_double_converts_parameters_and_grads():
    layer = nn.Linear(2, 2)
    layer(tg.ones(1, 2)).sum().backward()
    weight = layer.weight
    layer.double()
    assert layer.weight is weight  # converted in place: optimisers keep their references
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in layer.parameters())
    assert layer(tg.Tensor(np.ones((1, 2)))).dtype == np.float64
    with pytest.raises(DTypeError, match="floating point"):
        layer.to(np.int64)


def test_deepcopy_gives_an_independent_model():
    net = nn.MLP([2, 3, 1])
    clone = copy.deepcopy(net)
    clone.layers[0].weight.data += 1
    assert not np.array_equal(clone.layers[0].weight.data, net.layers[0].weight.data)
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]


# ---------------------------------------------------------------- Linear


def test_linear_forward_is_x_wT_plus_b_and_grads_keep_the_weight_layout():
    rng = np.random.default_rng(0)
    layer = nn.Linear(4, 3)
    x = tg.Tensor(rng.standard_normal((5, 4)).astype(np.float32))
    out = layer(x)
    assert out.shape == (5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, x.data @ layer.weight.data.T + layer.bias.data, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, np.ones((5, 3)).T @ x.data, rtol=1e-6)
    np.testing.assert_allclose(layer.bias.grad.data, [5, 5, 5])
    assert layer.weight.grad.data.flags.c_contiguous
    assert layer(x[0]).shape == (3,)  # a single sample
    assert nn.Linear(4, 3, bias=False)(x).shape == (5, 3)


def test_linear_init_bounds_and_variance_match_the_formulas():
    tg.manual_seed(0)
    fan_in = 400
    layer = nn.Linear(fan_in, 5000)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): sqrt(1/3) * sqrt(3 / fan_in)
    for tensor, tolerance in ((layer.weight.data, 0.02), (layer.bias.data, 0.08)):
        assert np.abs(tensor).max() <= bound
        assert np.abs(tensor).max() > 0.99 * bound  # the whole interval is used
        np.testing.assert_allclose(tensor.var(), bound**2 / 3, rtol=tolerance)  # variance of U(-b, b)
        assert abs(tensor.mean()) < 4 * bound / math.sqrt(3 * tensor.size)
    assert layer.weight.dtype == np.float32 and layer.weight.shape == (5000, 400)


def test_init_functions_match_the_formulas():
    rng = np.random.default_rng(0)
    w = tg.zeros(300, 200)
    nn.init.kaiming_uniform_(w, generator=rng)  # leaky_relu with a=0: gain sqrt(2)
    bound = math.sqrt(2) * math.sqrt(3 / 200)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    np.testing.assert_allclose(w.data.var(), bound**2 / 3, rtol=0.03)
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu", generator=rng)
    assert math.sqrt(6 / 300) * 0.99 < np.abs(w.data).max() <= math.sqrt(6 / 300)
    nn.init.xavier_uniform_(w, generator=rng)
    xavier = math.sqrt(6 / 500)
    assert xavier * 0.99 < np.abs(w.data).max() <= xavier
    np.testing.assert_allclose(w.data.var(), xavier**2 / 3, rtol=0.03)
    assert nn.init.zeros_(w) is w and not w.data.any()
    assert nn.init.ones_(w).data.min() == 1
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(tg.zeros(3))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        nn.init.calculate_gain("swish")


def test_same_seed_gives_the_same_model():
    tg.manual_seed(42)
    a = nn.MLP([5, 7, 3])
    tg.manual_seed(42)
    b = nn.MLP([5, 7, 3])
    c = nn.MLP([5, 7, 3])
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
        assert not np.array_equal(pa.data, pc.data)


def test_a_passed_generator_gives_the_same_model_and_leaves_the_global_one_alone():
    tg.manual_seed(0)
    expected_next = tg.rand(3).data
    tg.manual_seed(0)
    a = nn.MLP([4, 3, 2], generator=np.random.default_rng(7))
    b = nn.MLP([4, 3, 2], generator=np.random.default_rng(7))
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    np.testing.assert_array_equal(tg.rand(3).data, expected_next)


def test_linear_refuses_a_bias_that_would_broadcast():
    layer = nn.Linear(3, 4)
    with pytest.raises(ShapeError, match=r"bias must have shape \(4,\), got \(4, 1\).*\(4, 4\).*reshape\(4\)"):
        layer.bias = nn.Parameter(np.zeros((4, 1), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"weight must have shape .* \(4, 3\), got \(3, 4\)"):
        layer.weight = nn.Parameter(np.zeros((3, 4), dtype=np.float32))
    layer.bias = nn.Parameter(np.zeros(4, dtype=np.float32))  # the right shape is accepted
    assert layer(tg.ones(3)).shape == (4,)


def test_linear_input_errors_explain_the_fix():
    layer = nn.Linear(784, 10)
    with pytest.raises(ShapeError, match=r"input has shape \(2, 28, 28\).*in_features=784.*reshape\(2, 784\)"):
        layer(tg.zeros(2, 28, 28))
    with pytest.raises(ShapeError, match=r"transposed: pass x.T"):
        layer(tg.zeros(784, 5))
    with pytest.raises(DTypeError, match=r"dtype float64 but the weights have float32"):
        layer(tg.Tensor(np.zeros((2, 784))))
    ints = tg.Tensor(np.zeros((2, 784), dtype=np.int64))
    with pytest.raises(DTypeError, match=r"dtype int64.*x.cast\(np.float32\)") as error:
        layer(ints)
    assert "model.to" not in str(error.value)  # model.to(np.int64) is itself an error
    with pytest.raises(DTypeError):
        layer.to(np.int64)
    assert layer(ints.cast(np.float32)).shape == (2, 10)  # the suggested fix works
    assert layer(tg.Tensor(ints, dtype=np.float32)).shape == (2, 10)
    with pytest.raises(DTypeError, match=r"float64 but the weights have float32.*x.cast\(np.float32\).*model.to"):
        layer(tg.Tensor(np.zeros((2, 784))))
    assert nn.Linear(784, 10).to(np.float64)(tg.Tensor(np.zeros((2, 784)))).dtype == np.float64
    with pytest.raises(TypeError, match=r"expected a Tensor, got list"):
        layer([[0.0] * 784])
    with pytest.raises(ValueError, match="positive integer"):
        nn.Linear(0, 3)


# ---------------------------------------------------------------- activations, Dropout, MLP


def test_activation_modules():
    x = tg.Tensor([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(nn.ReLU()(x).data, [0, 0, 3])
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data), rtol=1e-6)


def test_dropout_is_inverted_in_training_and_identity_in_eval():
    tg.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = tg.ones(50000)
    out = drop(x)
    kept = out.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out.data[kept], 1 / 0.7, rtol=1e-6)
    assert abs(out.data.mean() - 1) < 0.02  # the expected value is unchanged
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(-0.1)


def test_train_and_eval_reach_dropout_in_nested_modules():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = tg.ones(4, 3)
    np.testing.assert_array_equal(net(x).data, net(x).data)  # deterministic in eval mode
    net.train()
    assert net.dropout.training and net.encoder[1].training
    tg.manual_seed(1)
    outs = {tuple(net(tg.ones(64, 3)).data.ravel()) for _ in range(3)}
    assert len(outs) == 3  # dropout is random again


def test_mlp_structure():
    model = nn.MLP([784, 256, 10])
    assert [type(m) for m in model.layers] == [nn.Linear, nn.ReLU, nn.Linear]
    assert [name for name, _ in model.named_parameters()] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]
    assert model.layers[0].weight.shape == (256, 784) and model.layers[2].weight.shape == (10, 256)
    deep = nn.MLP([3, 4, 5, 2], activation="tanh")
    assert [type(m) for m in deep.layers] == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert [type(m) for m in nn.MLP([3, 2]).layers] == [nn.Linear]
    assert type(nn.MLP([3, 4, 2], activation=nn.Sigmoid).layers[1]) is nn.Sigmoid
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        nn.MLP([3, 4, 2], activation="gelu")
    with pytest.raises(ValueError, match="at least one layer"):
        nn.MLP([3])


def test_mlp_returns_logits_without_a_final_activation():
    tg.manual_seed(0)
    model = nn.MLP([3, 16, 4])
    x = tg.randn(32, 3)
    out = model(x)
    hidden = np.maximum(x.data @ model.layers[0].weight.data.T + model.layers[0].bias.data, 0)
    expected = hidden @ model.layers[2].weight.data.T + model.layers[2].bias.data
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)
    assert (out.data < 0).any()  # no ReLU (or softmax) after the last layer


def test_no_grad_inference_records_nothing_and_gives_the_same_values():
    tg.manual_seed(0)
    model = nn.MLP([6, 8, 3])
    x = tg.randn(4, 6)
    with_grad = model(x)
    assert with_grad.requires_grad and with_grad.op is not None
    with tg.no_grad():
        without = model(x)
    assert not without.requires_grad and without.op is None and without.parents == ()
    assert hooks.module_call(without) is None
    np.testing.assert_array_equal(without.data, with_grad.data)


# ---------------------------------------------------------------- the hooks seam used by the graph drawer


def test_every_module_call_is_recorded_innermost_first():
    tg.manual_seed(0)
    model = nn.MLP([3, 4, 2])
    x = tg.randn(5, 3)
    out = model(x)  # MLP -> Sequential -> Linear all return this very tensor
    calls = hooks.module_calls(out)
    assert [call.module for call in calls] == [model.layers[2], model.layers, model]
    assert calls[0].inputs[0].op == "relu" and calls[-1].inputs == (x,)
    hidden = calls[0].inputs[0]
    assert [call.module for call in hooks.module_calls(hidden)] == [model.layers[1]]
    assert [call.module for call in hooks.module_calls(hidden.parents[0])] == [model.layers[0]]

    seq = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.5)).eval()
    out = seq(x)  # Dropout hands the Linear's output back unchanged: it made nothing to box
    assert [call.module for call in hooks.module_calls(out)] == [seq[0], seq]


# ---------------------------------------------------------------- state_dict / load_state_dict


def test_state_dict_names_values_and_sharing():
    net = Net()
    state = net.state_dict()
    assert list(state) == NET_PARAMETER_NAMES
    for name, param in net.named_parameters():
        assert state[name].data is param.data  # shared, as in PyTorch
        assert not state[name].requires_grad


def test_load_state_dict_round_trip_and_casting():
    source, target = Net(), Net()
    assert target.load_state_dict(source.state_dict()) == nn.IncompatibleKeys([], [])
    for (_, a), (_, b) in zip(source.named_parameters(), target.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)
        assert a.data is not b.data
    weight = target.head.weight
    as_float64 = {k: v.data.astype(np.float64) + 1 for k, v in source.state_dict().items()}
    target.load_state_dict(as_float64)
    assert target.head.weight is weight and weight.dtype == np.float32  # copied in place, cast
    np.testing.assert_allclose(weight.data, source.head.weight.data + 1)


def test_strict_load_lists_every_problem_and_changes_nothing():
    tg.manual_seed(0)
    model = nn.MLP([4, 5, 3])
    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    tg.manual_seed(1)
    other = nn.MLP([4, 6, 3]).state_dict()  # layers.0 and layers.2.weight have other shapes
    del other["layers.2.bias"]
    other["layers.4.weight"] = tg.zeros(3, 3)
    other["layers.0.bias"] = np.array(["a"] * 6)
    with pytest.raises(nn.StateDictError) as info:
        model.load_state_dict(other)
    message = str(info.value)
    assert "missing keys (in the model, not in the state dict): layers.2.bias" in message
    assert "unexpected keys (in the state dict, not in the model): layers.4.weight" in message
    assert "layers.0.weight: the state dict has shape (6, 4), the model has (5, 4)" in message
    assert "layers.2.weight: the state dict has shape (3, 6), the model has (3, 5)" in message
    assert "layers.0.bias: the value has dtype <U1, not a number" in message
    assert "the model is unchanged" in message
    with pytest.raises(nn.StateDictError):
        model.load_state_dict(other, strict=False)  # wrong shapes are an error even when not strict
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, before[name])


def test_failing_load_leaves_every_weight_unchanged_even_the_ones_that_fit():
    tg.manual_seed(0)
    model = nn.MLP([4, 5, 3])
    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    update = {k: v.data + 1 for k, v in model.state_dict().items()}
    update["layers.2.bias"] = np.zeros(4)  # only the last entry is wrong
    with pytest.raises(
        nn.StateDictError, match=r"layers.2.bias: the state dict has shape \(4,\), the model has \(3,\)"
    ):
        model.load_state_dict(update)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, before[name])


def test_non_strict_load_skips_missing_and_unexpected_keys():
    model = nn.MLP([2, 3, 1])
    partial = {"layers.0.weight": np.full((3, 2), 0.5), "extra": np.zeros(1)}
    result = model.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model.layers[0].weight.data, 0.5)
    with pytest.raises(nn.StateDictError, match="missing keys"):
        model.load_state_dict(partial)
    with pytest.raises(TypeError, match=r"load_state_dict\(tinygrad_edu.load\(path\)\)"):
        model.load_state_dict("model.npz")


# ---------------------------------------------------------------- layers beyond MLPs


def test_small_layers_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    for ours, theirs in [
        (nn.LeakyReLU(), torch.nn.LeakyReLU()),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (nn.GELU(), torch.nn.GELU()),
        (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
        (nn.Unflatten(3, (5, 1)), torch.nn.Unflatten(3, (5, 1))),
    ]:
        assert repr(ours) == repr(theirs)
        out = ours(tg.Tensor(x))
        # float32: GELU's 1 + erf(x/√2) cancels for x < 0, so an absolute tolerance of float32 rounding
        np.testing.assert_allclose(out.data, theirs(torch.from_numpy(x)).numpy(), rtol=1e-6, atol=1e-6)
    assert repr(nn.Embedding(10, 3)) == repr(torch.nn.Embedding(10, 3))


def test_embedding_looks_up_rows_and_refuses_bad_ids():
    tg.manual_seed(0)
    emb = nn.Embedding(1000, 8)
    assert abs(emb.weight.data.std() - 1.0) < 0.05 and abs(emb.weight.data.mean()) < 0.05  # N(0, 1), as PyTorch
    ids = np.array([[3, 999], [3, 0]])
    out = emb(ids)
    assert out.shape == (2, 2, 8)
    np.testing.assert_array_equal(out.data[0, 0], emb.weight.data[3])
    with pytest.raises(IndexError, match=r"embedding: index 1000 is out of range for an embedding of 1000 rows"):
        emb(np.array([1000]))
    with pytest.raises(IndexError, match=r"index -1 is out of range"):
        emb(np.array([-1]))  # NumPy would silently take the last row
    with pytest.raises(DTypeError, match=r"integer indices"):
        emb(tg.Tensor([1.0, 2.0]))


def test_unflatten_refuses_a_size_that_does_not_fit():
    with pytest.raises(ShapeError, match=r"cannot split dimension 1 of an input of shape \(2, 780\) into \(1, 28"):
        nn.Unflatten(1, (1, 28, 28))(tg.zeros(2, 780))
