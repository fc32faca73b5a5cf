"""Gradient checking: compare the gradients that `backward()` computes with finite differences.

A derivative is a slope, and a slope can be measured without any calculus: nudge one input
element by a tiny `eps` each way and see how much the output moves,

    df/dx[i]  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)          (central differences)

That is slow (two calls of `f` per element) but shares nothing with the backward rules, which
makes it their referee. An element passes when |analytical - numerical| <= atol + rtol |numerical|.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> x = tg.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
>>> tg.gradcheck(lambda x: (x.tanh() * x).sum(), [x])
True

The check runs on float64 copies of the inputs (float32 is far too coarse for finite
differences) and never changes the inputs themselves. `mode="directions"` compares v . grad
with the slope along `n_directions` random directions v, 2 calls of `fn` each whatever the
size; `mode="auto"` does that above 1,000 elements. That machinery is in `gradient_setup`; the
report, and why a check failed, in `gradient_diagnosis`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from tinygrad_edu import gradient_diagnosis as diagnosis
from tinygrad_edu import gradient_setup as setup
from tinygrad_edu.grad_mode import enable_grad
from tinygrad_edu.gradient_diagnosis import CheckRow, GradcheckReport
from tinygrad_edu.gradients import grad
from tinygrad_edu.tensor import Tensor

__all__ = ["GradcheckError", "GradcheckReport", "GradcheckWarning", "check_module_grads", "gradcheck"]
__all__ += ["gradgradcheck", "numerical_grad"]


class GradcheckError(RuntimeError):
    """Backward disagrees with finite differences. `.report` holds the full `GradcheckReport`."""

    def __init__(self, message: str, report: GradcheckReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class GradcheckWarning(UserWarning):
    """A check ran, but not exactly as asked (float32 inputs checked in float64 copies)."""


def numerical_grad(
    fn: Callable[..., Any], inputs: Any, eps: float = 1e-6, *, grad_outputs: Any = None
) -> tuple[np.ndarray | None, ...]:
    """The gradient of `fn` at `inputs` by central differences, one float64 array per input.

    Inputs are Tensors or float arrays; anything else (an index array) is passed through and
    gets None. A non-scalar output y is reduced to sum(u * y), so the result is uᵀJ, what
    `backward(gradient=u)` computes: u is `grad_outputs` (one per output of a tuple), or else 1
    for a single value and `np.random.default_rng(0).standard_normal(y.shape)` per output, in
    order. Random, because with ones a gradient summed over the wrong axis can add up right.

    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> numerical_grad(lambda x: (x ** 2).sum(), [x])[0].round(6).tolist()
    [2.0, 4.0, 6.0]
    >>> numerical_grad(lambda x: x ** 2, [x], grad_outputs=np.array([1.0, 0.0, -1.0]))[0].round(6).tolist()
    [2.0, 0.0, -6.0]
    """
    setup.check_eps(eps)
    args = setup.as_list(inputs)
    positions = [i for i, a in enumerate(args) if setup.is_float(a)]
    if not positions:
        got = ", ".join(type(a).__name__ for a in args) or "no inputs"
        raise ValueError(f"numerical_grad: no input is a float Tensor or float ndarray to differentiate (got {got})")
    result: list[np.ndarray | None] = [None] * len(args)
    with setup.float64_copies(args, positions) as (work, flats):
        values = setup.values_of(fn, work, "numerical_grad")
        setup.require_finite(values, "numerical_grad")
        u = setup.seed_directions(values, grad_outputs, seed=0)
        if rounding := diagnosis.float32_outputs(values, setup.checked_scalar(u, values), eps):
            warnings.warn(rounding, GradcheckWarning, stacklevel=2)

        def loss() -> float:
            return setup.checked_scalar(u, setup.values_of(fn, work, "numerical_grad"))

        for i, flat in zip(positions, flats):
            result[i] = np.array([_slope_at(loss, flat, k, eps) for k in range(flat.size)]).reshape(args[i].shape)
    return tuple(result)


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    *,
    mode: str = "exact",
    n_directions: int = 10,
    seed: int = 0,
) -> bool:
    """Check `fn`'s backward against finite differences at `inputs`; True when they match.

    Every input that is a Tensor with `requires_grad=True` is checked, the others are constants.
    The analytical gradient comes from `tinygrad_edu.grad` (`.grad` is never touched), the
    numerical one as in `numerical_grad`. On a mismatch raises `GradcheckError`, whose message
    names each failing input, how many elements failed, the worst one's index, both values and
    the errors, with a diagnosis when one is found (`raise_exception=False`: returns False).

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> W = tg.Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    >>> x = tg.Tensor(np.array([0.3, -0.7]), requires_grad=True)
    >>> tg.gradcheck(lambda W, x: (W @ x).sigmoid(), [W, x])
    True
    """
    settings = setup.Settings("gradcheck", eps, atol, rtol, mode, n_directions, seed)
    args, checked, names = setup.checked_inputs(inputs, settings.what)
    return _verdict(_compare(fn, args, checked, names, settings), raise_exception)


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    *,
    mode: str = "exact",
    n_directions: int = 10,
    seed: int = 0,
) -> bool:
    """Check second derivatives: `gradcheck` of the first derivatives, which
    grad(fn(x), x, create_graph=True) makes a function of the inputs like any other. A backward
    rule that computes with NumPy on plain arrays gives right first derivatives but records
    nothing, so its second derivative is lost; this catches it. Arguments as in `gradcheck`.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    >>> tg.gradgradcheck(lambda x: x.tanh().sum(), [x])
    True
    """
    settings = setup.Settings("gradgradcheck", eps, atol, rtol, mode, n_directions, seed)
    args, checked, names = setup.checked_inputs(inputs, settings.what)
    seeds: list[np.ndarray] = []  # for fn's outputs: drawn on the first call, then fixed

    def first_derivatives(*xs: Any) -> tuple[Tensor, ...]:
        with enable_grad():  # finite differences call this under no_grad(); the graph is needed
            outputs = setup.tensors_of(fn(*xs), settings.what)
            if not seeds:
                seeds.extend(setup.seed_directions([y.data for y in outputs], None, seed))
            tensors = [xs[i] for i in checked]
            grads = _backward(outputs, seeds, tensors, create_graph=True)
        return tuple(Tensor(np.zeros(t.shape)) if g is None else g for t, g in zip(tensors, grads))

    return _verdict(_compare(first_derivatives, args, checked, names, settings), raise_exception)


def check_module_grads(
    module: Any,
    loss_fn: Callable[..., Any],
    *batch: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    mode: str = "auto",
    n_directions: int = 10,
    seed: int = 0,
    raise_exception: bool = False,
    verbose: bool = False,
) -> GradcheckReport:
    """Check the gradient of a loss with respect to every parameter of a model.

    The loss is `loss_fn(module(batch[0]), *batch[1:])` for an `nn.Module` (e.g.
    `check_module_grads(model, F.cross_entropy, x, y)`), or `loss_fn(*batch)` for a dict of named
    Tensors that the loss uses. Returns a `GradcheckReport`: `print(report)` shows one row per
    parameter (shape, exact or n directions, largest errors, ok or FAIL) and the verdict.
    `raise_exception=True` raises `GradcheckError` on a mismatch; `verbose=True` prints the report.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> W = tg.Tensor(np.array([[0.5, -1.0], [2.0, 0.3]]), requires_grad=True)
    >>> x, y = np.array([[1.0, 2.0]]), np.array([[0.5, -0.5]])
    >>> print(check_module_grads({"W": W}, lambda x, y: ((x @ W - y) ** 2).mean(), x, y))  # doctest: +ELLIPSIS
    parameter  shape   check  max abs err  max rel err  result
    W          (2, 2)  exact  ...  ok
    check_module_grads: all 1 match finite differences
    pass: |analytical - numerical| <= atol + rtol*|numerical| with atol=1e-05, rtol=0.001; ...
    """
    settings = setup.Settings("check_module_grads", eps, atol, rtol, mode, n_directions, seed)
    named, frozen = setup.named_parameters(module)
    loss = setup.module_loss(module, loss_fn, batch, float64=any(t.dtype != np.float64 for _, t in named))
    report = _compare(loss, [t for _, t in named], list(range(len(named))), [n for n, _ in named], settings)
    if frozen:
        report.notes.append(f"not checked (requires_grad=False): {', '.join(frozen)}")
    if verbose:
        print(report)
    _verdict(report, raise_exception)
    return report


# ---------------------------------------------------------------- the comparison


def _compare(
    fn: Callable[..., Any], args: list[Any], checked: list[int], names: list[str], settings: setup.Settings
) -> GradcheckReport:
    """Backward against finite differences for the inputs at positions `checked` of `args`."""
    low = [(name, args[i].dtype) for name, i in zip(names, checked) if args[i].dtype != np.float64]
    with setup.float64_copies(args, checked) as (work, flats):
        tensors = [work[i] for i in checked]
        # 1. The analytical gradient of the scalar sum(u * fn(inputs)): backward, seeded with u.
        with enable_grad():
            outputs = setup.tensors_of(fn(*work), settings.what)
        values = [y.data for y in outputs]
        setup.require_finite(values, settings.what)
        u = setup.seed_directions(values, None, settings.seed)
        loss_value = setup.checked_scalar(u, values)
        grads = _backward(outputs, u, tensors)
        analytical = [np.zeros(t.size) if g is None else np.ravel(g.data) for t, g in zip(tensors, grads)]
        if low:
            warnings.warn(diagnosis.float32_inputs(low, loss_value, settings), GradcheckWarning, stacklevel=3)
        # The report's notes; raises DTypeError when fn rounds to float32 too coarsely to be checked.
        notes = diagnosis.notes(outputs, tensors, names, low, loss_value, analytical, settings)
        del outputs, grads  # free the graph before the many forward passes below

        # 2. The numerical gradient of the same scalar, by central differences.
        def loss() -> float:
            return setup.checked_scalar(u, setup.values_of(fn, work, settings.what))

        setup.require_deterministic(loss_value, loss(), settings.what)
        rng = np.random.default_rng((settings.seed, 1))  # the input directions (u came from `seed`)
        rows = [_compare_input(*each, loss, settings, rng) for each in zip(names, tensors, flats, analytical)]
    return GradcheckReport(settings.what, rows, settings.eps, settings.atol, settings.rtol, notes)


def _compare_input(
    name: str,
    tensor: Tensor,
    flat: np.ndarray,
    analytical: np.ndarray,
    loss: Callable[[], float],
    settings: setup.Settings,
    rng: np.random.Generator,
) -> CheckRow:
    """One input, element by element, or along random directions when it is large. `flat` is
    the flat view of its working copy: writing to it moves what `loss()` sees."""
    if settings.by_directions(flat.size):
        vs = rng.standard_normal((settings.n_directions, flat.size))  # analytical: v . grad per direction v
        mode, analytical, measure = "directions", vs @ analytical, partial(setup.slope_along, loss, flat, vs)
    else:
        mode, measure = "exact", partial(_slope_at, loss, flat)  # measure(k, step): a slope, by element k
    numerical = np.array([measure(k, settings.eps) for k in range(analytical.size)], dtype=np.float64)
    row = CheckRow(name, tensor.shape, mode, analytical, numerical, settings.atol, settings.rtol)
    # row.failed is the pass rule: True where not |analytical - numerical| <= atol + rtol |numerical|.
    for k in np.flatnonzero(row.failed):  # a kink (relu, abs) within eps of the point?
        better = diagnosis.remeasure_at_kink(partial(measure, k), numerical[k], settings.eps, row.atol, row.rtol)
        if better is not None:
            row.numerical[k], row.remeasured = better, row.remeasured + 1
    if not row.passed:
        worst = row.worst
        row.note = diagnosis.why_it_fails(row, lambda h: _nudged(loss, flat, worst, h), settings.eps)
    return row


def _slope_at(loss: Callable[[], float], flat: np.ndarray, k: int, step: float) -> float:
    """The central difference for element k: (f(x + step) - f(x - step)) / (2 step)."""
    x = flat[k]
    taken = (x + step) - (x - step)  # 2 step, as rounded for this x: noticeably off when |x| is large
    if taken == 0:
        raise ValueError(
            f"element {k} (flat index) is {x:g}, so large that x +- eps rounds back to x in float64 and there is "
            f"no step to measure a slope with; pass a larger eps (at least {abs(x) * 1e-15:.1g}) or rescale the input"
        )
    return (_nudged(loss, flat, k, step) - _nudged(loss, flat, k, -step)) / taken


def _nudged(loss: Callable[[], float], flat: np.ndarray, k: int, h: float) -> float:
    """`loss()` with element k of the working copy moved by h, then put back bit for bit."""
    x = flat[k]
    flat[k] = x + h
    try:
        return loss()
    finally:
        flat[k] = x


def _backward(
    outputs: list[Tensor], seeds: list[np.ndarray], tensors: list[Tensor], create_graph: bool = False
) -> list[Tensor | None]:
    """grad(sum_k sum(u_k * outputs[k]), tensors); None for a tensor no output depends on."""
    live = [k for k, y in enumerate(outputs) if y.requires_grad]  # the others were computed outside the graph
    if not live:
        return [None] * len(tensors)
    roots, live_seeds = [outputs[k] for k in live], [seeds[k] for k in live]
    return list(grad(roots, tensors, grad_outputs=live_seeds, create_graph=create_graph, allow_unused=True))


def _verdict(report: GradcheckReport, raise_exception: bool) -> bool:
    if raise_exception and not report.passed:
        raise GradcheckError(report.message(), report)
    return report.passed
