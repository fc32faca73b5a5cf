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

Conventions shared by every function here:

- Inputs are never written to: each checked input's array is replaced by a float64 copy while
  the check runs (float32 is far too coarse for finite differences), and put back afterwards,
  also when `fn` raises.
- A non-scalar output y is reduced to the scalar sum(u * y) with a fixed random seed direction
  u, and backward is seeded with the same u (see `numerical_grad`).
- `mode="exact"` nudges element by element; `mode="directions"` compares v . grad with the
  slope along `n_directions` random directions v (2 calls of `fn` per direction, whatever the
  size); `mode="auto"` is exact up to `AUTO_EXACT_MAX_ELEMENTS` elements, directions above.

Why a check failed (the tables, likely bugs, kinks, float32 rounding) is explained by
`tinygrad_edu.gradient_diagnosis`, which the report calls.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_edu import gradient_diagnosis as diagnosis
from tinygrad_edu.grad_mode import enable_grad, no_grad
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tensor import grad as _autograd

__all__ = [
    "GradcheckError",
    "GradcheckReport",
    "GradcheckWarning",
    "check_module_grads",
    "gradcheck",
    "gradgradcheck",
    "numerical_grad",
]

MODES = ("exact", "directions", "auto")
# Exact costs 2 calls of fn per element: 400,000 forward passes for a 784x256 weight.
AUTO_EXACT_MAX_ELEMENTS = 1000


class GradcheckError(RuntimeError):
    """Backward disagrees with finite differences. `.report` holds the full `GradcheckReport`."""

    def __init__(self, message: str, report: GradcheckReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class GradcheckWarning(UserWarning):
    """A check ran, but not exactly as asked (float32 inputs checked in float64 copies)."""


# ---------------------------------------------------------------- results


@dataclass
class CheckRow:
    """The comparison for one input (or parameter): one value per element in exact mode
    (flattened), one directional derivative per random direction in directions mode."""

    name: str
    shape: tuple[int, ...]
    mode: str  # "exact" or "directions"
    analytical: np.ndarray
    numerical: np.ndarray
    atol: float
    rtol: float
    note: str | None = None  # why it failed, when the diagnosis found out
    remeasured: int = 0  # elements (directions) whose first finite difference straddled a kink

    @property
    def abs_err(self) -> np.ndarray:
        return np.abs(self.analytical - self.numerical)

    @property
    def rel_err(self) -> np.ndarray:
        """|a - n| relative to the larger of |a| and |n|, but never to less than atol, so that
        gradients that are zero up to rounding noise do not show a huge ratio."""
        scale = np.maximum(np.maximum(np.abs(self.analytical), np.abs(self.numerical)), max(self.atol, 1e-300))
        return self.abs_err / scale

    @property
    def failed(self) -> np.ndarray:
        """True where the check fails, per element (or direction). NaN never passes."""
        return ~(self.abs_err <= self.atol + self.rtol * np.abs(self.numerical))

    @property
    def n_failed(self) -> int:
        return int(self.failed.sum())

    @property
    def total(self) -> int:
        return self.analytical.size

    @property
    def passed(self) -> bool:
        return self.n_failed == 0

    @property
    def worst(self) -> int:
        """Flat position of the element (or direction) furthest outside its tolerance."""
        violation = self.abs_err / (self.atol + self.rtol * np.abs(self.numerical) + 1e-300)
        return int(np.argmax(np.where(np.isnan(violation), np.inf, violation))) if self.total else 0

    @property
    def worst_index(self) -> tuple[int, ...] | int:
        """The worst element as an index into the input (exact mode), or the direction's number."""
        if self.mode == "directions":
            return self.worst
        return tuple(int(i) for i in np.unravel_index(self.worst, self.shape)) if self.total else ()

    @property
    def max_abs_err(self) -> float:
        return float(np.max(self.abs_err)) if self.total else 0.0

    @property
    def max_rel_err(self) -> float:
        return float(np.max(self.rel_err)) if self.total else 0.0

    @property
    def check(self) -> str:
        return "exact" if self.mode == "exact" else f"{self.total} dirs"


@dataclass
class GradcheckReport:
    """One `CheckRow` per input or parameter, and the settings. `str(report)` is the summary
    table, `report.details()` the per-element table; both come from `gradient_diagnosis`."""

    what: str  # "gradcheck", "gradgradcheck" or "check_module_grads"
    rows: list[CheckRow]
    eps: float
    atol: float
    rtol: float
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    def __bool__(self) -> bool:
        return self.passed

    def failing(self) -> list[CheckRow]:
        return [row for row in self.rows if not row.passed]

    def summary(self) -> str:
        return diagnosis.summary_table(self.rows)

    def details(self) -> str:
        return diagnosis.details_table(self.rows)

    def __str__(self) -> str:
        return diagnosis.report_text(self)

    def message(self) -> str:
        return diagnosis.failure_text(self)


# ---------------------------------------------------------------- public functions


def numerical_grad(
    fn: Callable[..., Any], inputs: Any, eps: float = 1e-6, *, grad_outputs: Any = None
) -> tuple[np.ndarray | None, ...]:
    """The gradient of `fn` at `inputs` by central differences, one float64 array per input.

    Inputs are Tensors or float ndarrays; anything else (an index array) is passed through
    unchanged and gets None. A non-scalar output y is reduced to sum(u * y), so the result is
    uᵀJ, what `backward(gradient=u)` computes. Pass `grad_outputs=u` (one per output when `fn`
    returns a tuple) or leave it None: u = 1 for a single-element output, otherwise
    `np.random.default_rng(0).standard_normal(y.shape)` per output, in order. Random rather
    than ones, because with ones a gradient summed over the wrong axis can add up right.

    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> (g,) = numerical_grad(lambda x: (x ** 2).sum(), [x])
    >>> np.round(g, 6).tolist()
    [2.0, 4.0, 6.0]
    >>> (g,) = numerical_grad(lambda x: x ** 2, [x], grad_outputs=np.array([1.0, 0.0, -1.0]))
    >>> np.round(g, 6).tolist()
    [2.0, 0.0, -6.0]
    """
    _check_eps(eps)
    args = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    positions = [i for i, a in enumerate(args) if _is_float(a)]
    if not positions:
        raise ValueError(
            "numerical_grad: none of the inputs is a float Tensor or float ndarray, so there is nothing to "
            f"differentiate (got {', '.join(type(a).__name__ for a in args) or 'no inputs'})"
        )
    result: list[np.ndarray | None] = [None] * len(args)
    with _float64_copies(args, positions) as (work, flats):
        with no_grad():
            values = _values(fn(*work), "numerical_grad")
        _require_finite(values, "numerical_grad")
        rounding = diagnosis.float32_outputs(values, eps, "numerical_grad")
        if rounding:
            warnings.warn(rounding, GradcheckWarning, stacklevel=2)
        directions = _seed_directions(values, grad_outputs, seed=0)

        def loss() -> float:
            return _reduce(fn, work, directions, "numerical_grad")

        for i, flat in zip(positions, flats):
            slopes = [_slope_at(loss, flat, k, eps) for k in range(flat.size)]
            result[i] = np.array(slopes, dtype=np.float64).reshape(np.shape(work[i]))
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

    `fn(*inputs)` returns a Tensor (or a tuple of them). Every input that is a Tensor with
    `requires_grad=True` is checked, the others are constants. The analytical gradient comes
    from `tinygrad_edu.grad` (`.grad` is never touched), the numerical one as in `numerical_grad`.

    On a mismatch raises `GradcheckError`, whose message names each failing input, how many
    elements failed, the worst element's index, the analytical and numerical values and their
    errors, with a diagnosis when one is found; with `raise_exception=False` returns False.
    `mode`, `n_directions` and `seed` as in the module docstring.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> W = tg.Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    >>> x = tg.Tensor(np.array([0.3, -0.7]), requires_grad=True)
    >>> tg.gradcheck(lambda W, x: (W @ x).sigmoid(), [W, x])
    True
    """
    settings = _Settings("gradcheck", eps, atol, rtol, mode, n_directions, seed)
    args, checked, names = _checked_inputs(inputs, settings.what)
    report = _compare(fn, args, checked, names, lambda k: f"output {k}", settings)
    return _verdict(report, raise_exception)


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
    """Check second derivatives: the backward of the backward, against finite differences.

    The first derivatives g(x) = grad(fn(x), x, create_graph=True) are a function of the inputs
    like any other, so this is `gradcheck` on g. A backward rule that computes with NumPy on
    plain arrays gives right first derivatives but records nothing, so its second derivative is
    lost; this catches it. Arguments as in `gradcheck`.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    >>> tg.gradgradcheck(lambda x: x.tanh().sum(), [x])
    True
    """
    settings = _Settings("gradgradcheck", eps, atol, rtol, mode, n_directions, seed)
    args, checked, names = _checked_inputs(inputs, settings.what)
    seeds: list[np.ndarray] = []  # for fn's outputs, drawn on the first call and then fixed

    def first_derivatives(*xs: Any) -> tuple[Tensor, ...]:
        with enable_grad():  # numerical differences call this under no_grad(); the graph is needed
            outputs = _outputs(fn(*xs), "gradgradcheck")
            if not seeds:
                seeds.extend(_seed_directions([o.data for o in outputs], None, seed))
            tensors = [xs[i] for i in checked]
            grads = _backward(outputs, seeds, tensors, create_graph=True)
        return tuple(Tensor(np.zeros(t.shape)) if g is None else g for t, g in zip(tensors, grads))

    report = _compare(
        first_derivatives, args, checked, names, lambda k: f"the first derivative for {names[k]}", settings
    )
    return _verdict(report, raise_exception)


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

    - `module` with `named_parameters()` (an `nn.Module`): the loss is
      `loss_fn(module(batch[0]), *batch[1:])`, e.g. `check_module_grads(model, F.cross_entropy, x, y)`.
    - `module` a dict of named Tensors: the loss is `loss_fn(*batch)`, which uses those tensors.

    Returns a `GradcheckReport`: `print(report)` shows one row per parameter (shape, exact or n
    random directions, max abs and rel error, ok/FAIL), `report.passed` the verdict.
    `verbose=True` prints it, `raise_exception=True` raises `GradcheckError` on a failure. The
    loss must be deterministic: put a model with dropout in `eval()` mode.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> W = tg.Tensor(np.array([[0.2, -0.5], [1.0, 0.3]]), requires_grad=True)
    >>> x, y = np.array([[1.0, 2.0]]), np.array([[0.5, -0.5]])
    >>> report = check_module_grads({"W": W}, lambda x, y: ((x @ W - y) ** 2).mean(), x, y)
    >>> report.passed
    True
    >>> print(report.summary())  # doctest: +ELLIPSIS
    parameter  shape   check  max abs err  max rel err  result
    W          (2, 2)  exact  ...
    """
    settings = _Settings("check_module_grads", eps, atol, rtol, mode, n_directions, seed)
    named, frozen = _named_parameters(module)
    if any(t.dtype != np.float64 for _, t in named):
        # The parameters are checked in float64 copies; the batch must follow, or the model
        # would mix dtypes (nn.Linear refuses a float32 input to float64 weights).
        batch = tuple(_float64_constant(b) for b in batch)
    if hasattr(module, "named_parameters") and not batch:
        raise ValueError(
            "check_module_grads: pass the batch after loss_fn, e.g. check_module_grads(model, loss_fn, x, y); "
            "the loss is loss_fn(model(x), y)"
        )

    def loss(*_: Any) -> Any:
        if hasattr(module, "named_parameters"):
            return loss_fn(module(batch[0]), *batch[1:])
        return loss_fn(*batch)

    names, params = [name for name, _ in named], [t for _, t in named]
    report = _compare(loss, params, list(range(len(params))), names, lambda k: "the loss", settings)
    if frozen:
        report.notes.append(f"not checked (requires_grad=False): {', '.join(frozen)}")
    if verbose:
        print(report)
    if raise_exception and not report.passed:
        raise GradcheckError(report.message(), report)
    return report


# ---------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class _Settings:
    """How to compare: the finite-difference step, the tolerances, exact or random directions."""

    what: str  # the function checking, for messages
    eps: float
    atol: float
    rtol: float
    mode: str
    n_directions: int
    seed: int

    def __post_init__(self) -> None:
        _check_eps(self.eps)
        if not (self.atol >= 0 and self.rtol >= 0):
            raise ValueError(f"{self.what}: atol and rtol must be >= 0, got atol={self.atol}, rtol={self.rtol}")
        if self.mode not in MODES:
            raise ValueError(f"{self.what}: mode must be one of {', '.join(map(repr, MODES))}, got {self.mode!r}")
        if not (isinstance(self.n_directions, int) and self.n_directions >= 1):
            raise ValueError(f"{self.what}: n_directions must be a positive integer, got {self.n_directions!r}")

    def by_directions(self, size: int) -> bool:
        """Whether an input of `size` elements is checked along random directions."""
        return size > 0 and (self.mode == "directions" or (self.mode == "auto" and size > AUTO_EXACT_MAX_ELEMENTS))


def _compare(
    fn: Callable[..., Any],
    args: list[Any],
    checked: list[int],
    names: list[str],
    label: Callable[[int], str],
    settings: _Settings,
) -> GradcheckReport:
    """Backward against finite differences for the inputs at positions `checked` of `args`.
    `label(k)` names fn's output k in notes."""
    notes: list[str] = []
    low = [(name, args[i].dtype) for name, i in zip(names, checked) if args[i].dtype != np.float64]
    if low:
        warnings.warn(diagnosis.float32_inputs(low, settings.eps, settings.what), GradcheckWarning, stacklevel=3)
        copied = ", ".join(name for name, _ in low) + (
            " and the batch" if settings.what == "check_module_grads" else ""
        )
        notes.append(f"note: {copied} checked in float64 on a copy, not in their own dtype")

    with _float64_copies(args, checked) as (work, flats):
        tensors = [work[i] for i in checked]
        # 1. The analytical gradient: backward, seeded with u for a non-scalar output.
        with enable_grad():
            outputs = _outputs(fn(*work), settings.what)
        values = [o.data for o in outputs]
        _require_finite(values, settings.what)
        notes += diagnosis.float32_rounding(
            outputs, tensors, settings.eps, settings.rtol, settings.what
        )  # raises when hopeless
        notes += diagnosis.output_notes(outputs, label, settings.what)
        directions = _seed_directions(values, None, settings.seed)
        grads = _backward(outputs, directions, tensors)
        analytical = [np.zeros(t.size) if g is None else np.ravel(g.data) for t, g in zip(tensors, grads)]
        del outputs, grads  # free the graph before the many forward passes below

        # 2. The numerical gradient, of the same scalar sum(u * fn(inputs)).
        def loss() -> float:
            return _reduce(fn, work, directions, settings.what)

        first, again = _combine(directions, values), loss()
        if not math.isclose(again, first, rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(
                f"{settings.what}: fn is not deterministic: two calls with the same inputs gave {first!r} and "
                f"{again!r}. Finite differences need a function of the inputs alone: put a model with dropout in "
                "eval() mode, and draw random numbers once, outside fn."
            )
        rng = np.random.default_rng((settings.seed, 1))  # input directions; the output seeds came from `seed`
        rows = [
            _compare_input(name, t.shape, flat, a, loss, settings, rng)
            for name, t, flat, a in zip(names, tensors, flats, analytical)
        ]
    return GradcheckReport(settings.what, rows, settings.eps, settings.atol, settings.rtol, notes)


def _compare_input(
    name: str,
    shape: tuple[int, ...],
    flat: np.ndarray,
    analytical: np.ndarray,
    loss: Callable[[], float],
    settings: _Settings,
    rng: np.random.Generator,
) -> CheckRow:
    """One input, element by element or along random directions: `flat` is its working copy."""
    if settings.by_directions(flat.size):
        vs, base = rng.standard_normal((settings.n_directions, flat.size)), flat.copy()
        row = CheckRow(
            name, shape, "directions", vs @ analytical, np.zeros(settings.n_directions), settings.atol, settings.rtol
        )

        def measure(k: int, step: float) -> float:
            return _slope_along(loss, flat, base, vs[k], step)

    else:
        row = CheckRow(name, shape, "exact", analytical, np.zeros(flat.size), settings.atol, settings.rtol)

        def measure(k: int, step: float) -> float:
            return _slope_at(loss, flat, k, step)

    row.numerical[:] = [measure(k, settings.eps) for k in range(row.total)]
    for k in np.flatnonzero(row.failed):  # a kink (relu, abs) within eps of the point?
        better = diagnosis.remeasure_at_kink(
            lambda step, k=k: measure(k, step), row.numerical[k], settings.eps, settings.atol, settings.rtol
        )
        if better is not None:
            row.numerical[k], row.remeasured = better, row.remeasured + 1
    if not row.passed:
        worst = row.worst
        row.note = diagnosis.why_it_fails(row, lambda h: _nudged(loss, flat, worst, h), settings.eps)
    return row


def _nudged(loss: Callable[[], float], flat: np.ndarray, k: int, h: float) -> float:
    """`loss()` with element k of the working copy moved by h, then put back bit for bit."""
    x = flat[k]
    flat[k] = x + h
    try:
        return loss()
    finally:
        flat[k] = x


def _slope_at(loss: Callable[[], float], flat: np.ndarray, k: int, step: float) -> float:
    """The central difference for element k: (f(x + step) - f(x - step)) / (2 step)."""
    x = flat[k]
    # Divide by the step actually taken: x + step and x - step are rounded, noticeably for a large |x|.
    taken = (x + step) - (x - step)
    if taken == 0:
        raise ValueError(
            f"element {k} (flat index) is {x:g}, so large that x +- eps rounds back to x in float64 and there is "
            f"no step to measure a slope with; pass a larger eps (at least {abs(x) * 1e-15:.1g}) or rescale the input"
        )
    return (_nudged(loss, flat, k, step) - _nudged(loss, flat, k, -step)) / taken


def _slope_along(loss: Callable[[], float], flat: np.ndarray, base: np.ndarray, v: np.ndarray, step: float) -> float:
    """The slope along v, (f(x + h v) - f(x - h v)) / (2 h), comparable with v . grad. With
    h = step / |v| the point moves by `step` in all, as one element does in exact mode."""
    h = step / float(np.linalg.norm(v))
    try:
        np.add(base, h * v, out=flat)
        up = loss()
        np.subtract(base, h * v, out=flat)
        down = loss()
    finally:
        flat[...] = base
    return (up - down) / (2 * h)


def _backward(
    outputs: Sequence[Tensor], seeds: list[np.ndarray], tensors: list[Tensor], create_graph: bool = False
) -> Sequence[Tensor | None]:
    """grad(sum_k sum(u_k * outputs[k]), tensors); None for a tensor no output depends on."""
    live = [(o, u) for o, u in zip(outputs, seeds) if o.requires_grad]
    if not live:  # nothing was recorded: every gradient is missing
        return [None] * len(tensors)
    roots, live_seeds = [o for o, _ in live], [u for _, u in live]
    return _autograd(roots, tensors, grad_outputs=live_seeds, create_graph=create_graph, allow_unused=True)


def _verdict(report: GradcheckReport, raise_exception: bool) -> bool:
    if report.passed:
        return True
    if raise_exception:
        raise GradcheckError(report.message(), report)
    return False


# ---------------------------------------------------------------- inputs and outputs


@contextlib.contextmanager
def _float64_copies(args: list[Any], positions: list[int]) -> Iterator[tuple[list[Any], list[np.ndarray]]]:
    """Run the body with each input at `positions` replaced by a float64 working copy.

    Yields the arguments to call fn with, and per position a flat view of its copy (writing to
    it changes what fn sees). A Tensor keeps its identity and only its `.data` is swapped, so a
    model holding the tensor sees the copy too; the original arrays are put back on exit.
    """
    work, flats = list(args), []
    swapped: list[tuple[Tensor, np.ndarray]] = []
    copies: dict[int, np.ndarray] = {}  # a tensor passed twice gets one copy
    try:
        for i in positions:
            a = args[i]
            if id(a) not in copies:
                # order="C": reshape(-1) of a C-ordered array is a view, so the flat index perturbs it.
                copy = np.array(a.data if isinstance(a, Tensor) else a, dtype=np.float64, order="C")
                if isinstance(a, Tensor):
                    swapped.append((a, a.data))
                    a.data = copy
                else:
                    work[i] = copy
                copies[id(a)] = copy.reshape(-1)
            flats.append(copies[id(a)])
        yield work, flats
    finally:
        for tensor, original in reversed(swapped):
            tensor.data = original


def _seed_directions(values: list[np.ndarray], grad_outputs: Any, seed: int) -> list[np.ndarray]:
    """The seed direction u per output (see numerical_grad)."""
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        return [np.ones(v.shape) if v.size == 1 else rng.standard_normal(v.shape) for v in values]
    given = list(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else [grad_outputs]
    if len(given) != len(values):
        raise ValueError(f"grad_outputs: fn has {len(values)} output(s) but {len(given)} seed direction(s) given")
    seeds = [np.asarray(u.data if isinstance(u, Tensor) else u, dtype=np.float64) for u in given]
    for k, (u, v) in enumerate(zip(seeds, values)):
        if u.shape != v.shape:
            raise ValueError(f"grad_outputs: direction {k} has shape {u.shape} but output {k} has {v.shape}")
    return seeds


def _reduce(fn: Callable[..., Any], work: list[Any], directions: list[np.ndarray], what: str) -> float:
    """fn at the current working copies, as the scalar sum over outputs of sum(u * y)."""
    with no_grad():
        return _combine(directions, _values(fn(*work), what))


def _combine(directions: list[np.ndarray], values: list[np.ndarray]) -> float:
    return float(sum(np.sum(u * v) for u, v in zip(directions, values)))


def _values(result: Any, what: str) -> list[np.ndarray]:
    items = result if isinstance(result, (tuple, list)) else (result,)
    try:
        return [np.asarray(item.data if isinstance(item, Tensor) else item) for item in items]
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what}: fn must return Tensors, arrays or numbers, got {type(result).__name__}") from error


def _outputs(result: Any, what: str) -> tuple[Tensor, ...]:
    items = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if not items or not all(isinstance(item, Tensor) for item in items):
        got = ", ".join(type(item).__name__ for item in items) or "nothing"
        raise TypeError(
            f"{what}: fn must return a Tensor (or a tuple of Tensors) computed from its inputs, got {got}; "
            "backward can only run through Tensor operations"
        )
    return items


def _require_finite(values: list[np.ndarray], what: str) -> None:
    for k, v in enumerate(values):
        if v.dtype.kind in "fc" and not np.all(np.isfinite(v)):
            raise ValueError(
                f"{what}: output {k} of fn contains NaN or Inf at these inputs, so no derivative can be compared; "
                "check at inputs where fn is finite"
            )


def _checked_inputs(inputs: Any, what: str) -> tuple[list[Any], list[int], list[str]]:
    """The arguments, the positions of those to check (Tensors that require grad), their names."""
    args = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError(
            f"{what}: none of the inputs is a Tensor with requires_grad=True, so there is no gradient to check; "
            "create them with Tensor(array, requires_grad=True)"
        )
    names = [f"input {i}" if args[i].name is None else f"input {i} ({args[i].name})" for i in checked]
    return args, checked, names


def _named_parameters(module: Any) -> tuple[list[tuple[str, Tensor]], list[str]]:
    """(name, tensor) for each parameter that requires grad, and the names of those that do not."""
    if hasattr(module, "named_parameters"):
        items = list(module.named_parameters())
    elif isinstance(module, dict):
        items = list(module.items())
    else:
        raise TypeError(
            "check_module_grads: expected a module with named_parameters() (an nn.Module) or a dict of named "
            f"Tensors, got {type(module).__name__}"
        )
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"check_module_grads: parameter {name!r} is a {type(t).__name__}, not a Tensor")
    named = [(str(name), t) for name, t in items if t.requires_grad]
    if not named:
        raise ValueError("check_module_grads: no parameter requires grad, so there is nothing to check")
    return named, [str(name) for name, t in items if not t.requires_grad]


def _float64_constant(value: Any) -> Any:
    """A float Tensor or ndarray of the batch as a float64 copy; anything else (class indices) as is."""
    if isinstance(value, Tensor) and value.dtype.kind == "f":
        return Tensor(np.asarray(value.data, dtype=np.float64))
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    return value


def _is_float(a: Any) -> bool:
    return (isinstance(a, Tensor) or isinstance(a, np.ndarray)) and a.dtype.kind == "f"


def _check_eps(eps: float) -> None:
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ValueError(f"eps must be a small positive number such as 1e-6, got {eps!r}")
