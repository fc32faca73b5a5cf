"""Wrong programs fail loudly; nothing is ever silently wrong (issue 10, SPEC "Reliability promises").

One regression test per defect of the engine, then three properties: threads that train side by
side, random programs that change a saved tensor in place, float16 reductions.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.gradient_check import numerical_grad

# ---------------------------------------------------------------- 1. in-place changes after forward


def test_a_step_between_forward_and_backward_raises_naming_the_tensor_and_the_op():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    w = tg.Tensor([3.0, 4.0], requires_grad=True, name="w")
    first = (x * w).sum()  # saves w
    (w * w).sum().backward()
    with tg.no_grad():
        w -= 0.1 * w.grad  # the update an optimizer makes
    with pytest.raises(tg.InPlaceError, match=r"mul: the tensor 'w' \(its input 1\).*changed in place"):
        first.backward()


def test_changing_the_output_of_exp_before_backward_raises():
    x = tg.Tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # exp keeps its output for the backward pass
    loss = y.sum()
    with tg.no_grad():
        y *= 2
    with pytest.raises(tg.InPlaceError, match=r"exp: the tensor of shape \(2,\) \(its output\)"):
        loss.backward()


def test_a_change_through_a_view_or_to_the_base_of_a_view_is_seen():
    w = tg.Tensor(np.ones((3, 2)), requires_grad=True, name="W")
    loss = (tg.Tensor(np.ones((4, 2))) @ w.T).sum()  # saves W.T, a view of W
    with tg.no_grad():
        w -= 1
    with pytest.raises(tg.InPlaceError, match="matmul"):
        loss.backward()
    w.grad = None
    detached = w.detach()  # shares W's memory, and so its version
    loss = (w * 2).sum()
    with tg.no_grad():
        detached += 1
    with pytest.raises(tg.InPlaceError):
        loss.backward()


def test_changes_that_backward_does_not_read_are_fine():
    x = tg.Tensor([1.0, -2.0], requires_grad=True)
    w = tg.Tensor([3.0, 1.0], requires_grad=True)
    loss = (x + w).relu().sum()  # add saves nothing, relu only a mask
    with tg.no_grad():
        w += 100
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0])


def test_writing_into_data_directly_bypasses_the_check_as_in_pytorch():
    w = tg.Tensor([3.0, 4.0], requires_grad=True)
    loss = (w * w).sum()
    w.data[:] = 0  # not through the library: no version bump, as PyTorch's .data
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [0.0, 0.0])


# ---------------------------------------------------------------- 2. grad mode per thread


def test_no_grad_in_one_thread_does_not_reach_another():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def quiet() -> None:
        with tg.no_grad(), tg.strict_shapes(), tg.detect_anomaly():
            inside.set()
            done.wait(5)

    other = threading.Thread(target=quiet)
    other.start()
    inside.wait(5)
    x = tg.Tensor([1.0], requires_grad=True)
    seen["records"] = (x * 2).requires_grad
    seen["modes"] = (tg.is_grad_enabled(), tg.grad_mode.switches.strict_shapes, tg.grad_mode.switches.detect_anomaly)
    done.set()
    other.join()
    assert seen == {"records": True, "modes": (True, False, False)}


def train_mlp(seed: int, steps: int = 50) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    model = nn.MLP([4, 8, 3])
    for p in model.parameters():  # same start for a seed, whatever the global generator did
        p.data[...] = rng.standard_normal(p.shape).astype(np.float32) * 0.3
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    X = tg.Tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = rng.integers(0, 3, 16)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def test_four_threads_train_while_a_fifth_toggles_no_grad():
    expected = {seed: train_mlp(seed) for seed in range(4)}
    results, errors, stop = {}, [], threading.Event()

    def toggle() -> None:
        while not stop.is_set():
            with tg.no_grad():
                pass

    def work(seed: int) -> None:
        try:
            results[seed] = train_mlp(seed)
        except Exception as error:  # collected, then reported by the assert
            errors.append(error)

    toggler = threading.Thread(target=toggle)
    workers = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    toggler.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    toggler.join()
    assert not errors, errors
    for seed in range(4):
        for got, want in zip(results[seed], expected[seed]):
            np.testing.assert_array_equal(got, want)
    assert tg.is_grad_enabled()


# ---------------------------------------------------------------- 3. every .grad owns its memory


def test_leaves_never_share_grad_memory_with_each_other_or_the_caller():
    a = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    b = tg.Tensor(np.ones((3, 2)), requires_grad=True)
    ((a.T + b) ** 2).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    p, q = tg.Tensor(np.ones(3), requires_grad=True), tg.Tensor(np.ones(3), requires_grad=True)
    (p + q).sum().backward()  # add passes one array to both inputs
    assert not np.shares_memory(p.grad.data, q.grad.data)
    g = np.ones(6)
    c = tg.Tensor(np.ones(6), requires_grad=True)
    c.reshape(2, 3).backward(tg.from_numpy(g.reshape(2, 3)))
    assert not np.shares_memory(c.grad.data, g)
    c.grad.data *= 0.5  # clipping one gradient in place changes nothing else
    np.testing.assert_array_equal(g, np.ones(6))


def test_a_fresh_gradient_is_not_copied():
    x = tg.Tensor(np.ones(1000), requires_grad=True)
    y = x * 3
    kept = {}
    tg.tensor.backward((y * y).sum(), on_step=lambda t, grad, grads: kept.setdefault(t, grads))
    assert x.grad.data is kept[y][0]  # the array y's rule made became .grad as it was


# ---------------------------------------------------------------- 4. casts to integers end the graph


def test_a_cast_to_an_integer_ends_the_graph():
    x = tg.Tensor([1.5, 2.5], requires_grad=True)
    assert not x.cast(np.int64).requires_grad and x.cast(np.int64).op is None
    assert not (x > 1).requires_grad
    (x.cast(np.int64).cast(np.float32) * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0])  # PyTorch: x, not 2x


# ---------------------------------------------------------------- 5. pow at 0, PyTorch's values


def test_pow_at_zero_has_pytorch_gradients_and_makes_no_nan():
    x = tg.Tensor([0.0, 2.0], requires_grad=True)
    with tg.detect_anomaly():  # no NaN made and then masked
        (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    e = tg.Tensor([2.0, 0.0, 0.5], requires_grad=True)
    (tg.Tensor([0.0, 0.0, 0.0]) ** e).sum().backward()
    np.testing.assert_array_equal(e.grad.data, [0.0, 0.0, 0.0])
    torch = pytest.importorskip("torch")
    for base, exponent in [([0.0, 0.0, 0.0, 3.0], [2.0, 0.0, -1.0, 0.0])]:
        t_base = torch.tensor(base, dtype=torch.float64, requires_grad=True)
        t_exp = torch.tensor(exponent, dtype=torch.float64, requires_grad=True)
        (t_base**t_exp).sum().backward()
        b = tg.Tensor(np.array(base), requires_grad=True)
        x = tg.Tensor(np.array(exponent), requires_grad=True)
        with np.errstate(divide="ignore"):
            (b**x).sum().backward()
        np.testing.assert_array_equal(b.grad.data, t_base.grad.numpy())
        np.testing.assert_array_equal(x.grad.data, t_exp.grad.numpy())


# ---------------------------------------------------------------- 7. integer division


def test_dividing_integers_is_true_division_in_the_default_float_dtype():
    np.testing.assert_allclose((tg.Tensor([1.0, 2.0]) / tg.Tensor(np.array([3, 4]))).data, [1 / 3, 0.5])
    pred, y = tg.Tensor(np.array([1, 0, 2])), tg.Tensor(np.array([1, 1, 2]))
    accuracy = (pred == y).sum() / 3
    assert accuracy.dtype == np.float32 and accuracy.item() == pytest.approx(2 / 3)
    assert (tg.Tensor(np.array([1, 2])) / tg.Tensor(np.array([3, 4]))).dtype == np.float32
    assert (tg.Tensor(np.array([1, 2])) * tg.Tensor(np.ones(2, np.float32))).dtype == np.float32  # not float64


# ---------------------------------------------------------------- 8. axes out of range


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda t: t.squeeze(3), "squeeze: axis 3 is out of range for a tensor with 3 dimensions"),
        (lambda t: t.transpose(0, 5), "transpose: axis 5 is out of range for a tensor with 3 dimensions"),
        (lambda t: t.unsqueeze(4), "unsqueeze: axis 4 is out of range for a tensor with 4 dimensions"),
        (lambda t: t.flatten(2, 1), "flatten: start_dim 2 comes after end_dim 1"),
        (lambda t: t.softmax(axis=5), "softmax: axis 5 is out of range for a tensor with 3 dimensions"),
        (lambda t: t.sum(axis=-4), "sum: axis -4 is out of range"),
        (lambda t: t.mean(axis=(0, 3)), "sum: axis 3 is out of range"),
        (lambda t: t[0, 0].mT, r"mT: needs a tensor of at least 2 dimensions, got shape \(6,\)"),
    ],
)
def test_an_axis_out_of_range_is_an_error_naming_the_op(call, words):
    with pytest.raises(tg.errors.AxisError, match=words) as error:
        call(tg.Tensor(np.zeros((1, 4, 6))))
    assert isinstance(error.value, IndexError)  # as PyTorch's "Dimension out of range"


# ---------------------------------------------------------------- 10. float16 reductions


@given(
    n=st.integers(1, 120_000),
    scale=st.sampled_from([1e-3, 1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_float16_reductions_accumulate_in_float32(n, scale, seed):
    values = (np.random.default_rng(seed).random(n) * scale).astype(np.float16)
    x, ref = tg.Tensor(values), values.astype(np.float64)
    tolerance = dict(rtol=2e-3, atol=1e-7)  # float16 rounding of the result itself
    np.testing.assert_allclose(x.mean().item(), ref.mean(), **tolerance)
    if n > 1:
        np.testing.assert_allclose(x.var().item(), ref.var(ddof=1), rtol=5e-3, atol=1e-6)
    softmax = np.exp(ref - ref.max()) / np.exp(ref - ref.max()).sum()
    np.testing.assert_allclose(x.softmax().data.astype(np.float64), softmax, rtol=2e-3, atol=3e-8)
    np.testing.assert_allclose(x.logsumexp().item(), np.log(np.exp(ref - ref.max()).sum()) + ref.max(), rtol=1e-3)
    np.testing.assert_allclose(
        x.log_softmax().data.astype(np.float64), np.log(softmax), rtol=2e-3, atol=2e-3 * np.log(n + 1)
    )
    for result in (x.mean(), x.softmax(), x.log_softmax(), x.logsumexp()):
        assert result.dtype == np.float16


def test_the_float16_failures_of_the_issue():
    ones = tg.Tensor(np.ones(100_000, np.float16))
    assert ones.mean().item() == 1.0 and ones.var().item() == 0.0  # were inf
    assert ones.softmax().data.astype(np.float64).sum() == pytest.approx(1.0, rel=2e-3)  # was 50x off


# ---------------------------------------------------------------- 12, 13. update loops that work


def test_the_manual_update_loop_of_micrograd_and_pytorch_works():
    p = tg.Tensor([1.0, 1.0], requires_grad=True)
    (p * 2).sum().backward()
    p.data -= 0.1 * p.grad  # an ndarray minus a Tensor: written into the array
    np.testing.assert_allclose(p.data, [0.8, 0.8])
    assert isinstance(np.ones(2) + p, tg.Tensor)  # an ndarray with a Tensor still gives a Tensor


def test_pytorchs_update_loop_changes_the_parameters_in_place():
    model = nn.Linear(3, 2)
    before = [p.data.copy() for p in model.parameters()]
    model(tg.ones(4, 3)).sum().backward()
    with tg.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    for p, old in zip(model.parameters(), before):
        assert p.is_leaf and p.requires_grad and p._version == 1
        np.testing.assert_allclose(p.data, old - 0.1 * p.grad.data, rtol=1e-6)


def test_an_in_place_operator_on_a_tensor_that_requires_grad_raises_with_grad_mode_on():
    p = tg.Tensor([1.0, 1.0], requires_grad=True)
    for change in ("p -= 1", "p += 1", "p *= 2", "p /= 2"):
        with pytest.raises(tg.InPlaceError, match=r"requires grad and grad mode is on.*no_grad"):
            exec(change, {"p": p})
    q = tg.Tensor([1.0, 1.0])
    with pytest.raises(tg.InPlaceError, match="its operand requires grad"):
        q += p
    np.testing.assert_array_equal(p.data, [1.0, 1.0])  # nothing changed


# ---------------------------------------------------------------- 14. smaller ones


def test_small_edge_cases_give_pytorchs_answers_or_clear_errors():
    with np.errstate(divide="ignore"):  # log(0) = -inf is the answer; NumPy would say so too
        assert tg.Tensor(np.zeros((2, 0))).logsumexp(axis=1).tolist() == [-np.inf, -np.inf]
    assert tg.Tensor(3.0).softmax().item() == 1.0 and tg.Tensor(3.0).log_softmax().item() == 0.0
    with pytest.raises(tg.DTypeError, match="None is not a number"):
        tg.Tensor(None)
    with pytest.raises(tg.DTypeError, match="None is not a number"):
        tg.Tensor([1.0, None])


def test_numpy_functions_with_no_derivative_refuse_a_tensor_that_requires_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert np.exp(x).op == "exp" and np.where(x.data > 1, x, 0).op == "where"  # recorded
    with pytest.raises(TypeError, match=r"np\.sin on a tensor that requires grad"):
        np.sin(x)
    with pytest.raises(TypeError, match=r"np\.(linalg\.)?norm"):
        np.linalg.norm(x)
    assert np.allclose(x, [1, 2]) and np.shape(x) == (2,)  # no float result: fine
    np.testing.assert_allclose(np.sin(x.detach()).data, np.sin([1.0, 2.0]))


# ---------------------------------------------------------------- the misuse property


PROGRAMS = {  # f(x, w) built from ops that keep w, or something made from it, for backward
    "mul": lambda x, w: (x * w).sum(),
    "div": lambda x, w: (x / w).sum(),
    "matmul": lambda x, w: (x.reshape(1, -1) @ w.reshape(-1, 1)).sum(),
    "matmul_T": lambda x, w: (x.reshape(1, -1) @ w.reshape(1, -1).T).sum(),
    "pow": lambda x, w: (w**2 * x).sum(),
    "exp": lambda x, w: (x * w).exp().sum(),
    "tanh": lambda x, w: (x * w).tanh().sum(),
    "log": lambda x, w: (w.log() * x).sum(),
}


@given(
    name=st.sampled_from(sorted(PROGRAMS)),
    change=st.sampled_from(["-=", "+=", "*=", "/=", "copy_", "zero_", "fill_"]),
    through_view=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_changing_a_saved_tensor_in_place_always_raises_and_unchanged_programs_are_right(
    name, change, through_view, seed
):
    rng = np.random.default_rng(seed)
    x0, w0 = rng.uniform(0.5, 2.0, 4), rng.uniform(0.5, 2.0, 4)
    program = PROGRAMS[name]
    x, w = tg.Tensor(x0, requires_grad=True), tg.Tensor(w0, requires_grad=True)
    loss = program(x, w)
    target = w.detach() if through_view else w
    with tg.no_grad():
        if change in ("copy_", "zero_", "fill_"):
            getattr(target, change)(*{"copy_": [np.ones(4)], "zero_": [], "fill_": [0.5]}[change])
        else:
            exec(f"target {change} 0.25", {"target": target})
    with pytest.raises(tg.InPlaceError, match="changed in place"):
        loss.backward()
    # The same program without the change: finite differences agree.
    x, w = tg.Tensor(x0, requires_grad=True), tg.Tensor(w0, requires_grad=True)
    program(x, w).backward()
    numeric = numerical_grad(lambda a, b: program(a, b), [tg.Tensor(x0), tg.Tensor(w0)])
    np.testing.assert_allclose(x.grad.data, numeric[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(w.grad.data, numeric[1], rtol=1e-6, atol=1e-8)
