"""Gradient checking: compare the gradients that `backward()` computes with finite differences.

A derivative is the slope of a function, and a slope can be measured without any calculus:
nudge one input element by a tiny `eps` each way and see how much the output moves,

    df/dx[i]  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)          (central differences)

That is slow (two calls of `f` per element) but independent of every backward rule, which makes
it the referee for them. This module provides:

- `numerical_grad(fn, inputs, eps)`: the finite-difference gradient, in float64;
- `gradcheck(fn, inputs, ...)`: backward (through `tinygrad_edu.grad`) against `numerical_grad`,
  with a report naming the input, the worst element, both values and the errors;
- `gradgradcheck(fn, inputs, ...)`: the same for second derivatives (`create_graph=True`);
- `check_module_grads(module, loss_fn, *batch)`: every parameter of a model, as a table.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> x = tg.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
>>> tg.gradcheck(lambda x: (x.tanh() * x).sum(), [x])
True

Conventions shared by all of them:

- The inputs are never written to: each checked input's array is replaced by a float64 copy
  while the check runs (so float32 inputs are checked in float64, with a warning saying so),
  and the original array object is put back afterwards, also when `fn` raises.
- A non-scalar output `y` is reduced to the scalar `sum(u * y)` with a fixed pseudo-random seed
  direction `u` (see `numerical_grad`); backward is seeded with the same `u`.
- An element passes when |analytical - numerical| <= atol + rtol * |numerical|.
- `mode="exact"` differentiates element by element (2 calls of `fn` per element);
  `mode="directions"` compares v . grad with the finite difference along v,
  (f(x + h v) - f(x - h v)) / (2 h) with h = eps / |v|, for `n_directions` random directions v
  (2 calls of `fn` per direction, whatever the size: a 784x256 weight in a fraction of a
  second); `mode="auto"` picks exact for small inputs and directions for large ones.
- A finite difference that changes when the step shrinks straddles a kink (relu, abs, max
  near a tie); it is measured again with eps/10 instead of being reported as a mismatch. A
  point exactly on a kink has no derivative; the report says so.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_edu.errors import DTypeError
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
# mode="auto" checks an input element by element up to this many elements, along random
# directions above it: exact costs 2 calls of fn per element, which for a 784x256 weight is
# 400,000 forward passes.
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
    """The comparison for one input (or parameter).

    In exact mode `analytical` and `numerical` hold one value per element (flattened); in
    directions mode one directional derivative per random direction.
    """

    name: str
    shape: tuple[int, ...]
    mode: str  # "exact" or "directions"
    analytical: np.ndarray
    numerical: np.ndarray
    atol: float
    rtol: float
    note: str | None = None  # a diagnosis of the failure, when one was found
    remeasured: int = 0  # elements (directions) whose first finite difference straddled a kink

    @property
    def abs_err(self) -> np.ndarray:
        return np.abs(self.analytical - self.numerical)

    @property
    def rel_err(self) -> np.ndarray:
        """|a - n| / max(|a|, |n|, atol): relative to the larger value, but never to less than
        atol, so that gradients that are zero up to rounding noise do not show a huge ratio."""
        scale = np.maximum(np.maximum(np.abs(self.analytical), np.abs(self.numerical)), max(self.atol, 1e-300))
        return self.abs_err / scale

    @property
    def failed(self) -> np.ndarray:
        """Per element (or direction): True where the check fails. NaN never passes."""
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
        if self.total == 0:
            return 0
        violation = self.abs_err / (self.atol + self.rtol * np.abs(self.numerical) + 1e-300)
        return int(np.argmax(np.where(np.isnan(violation), np.inf, violation)))

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
    """Everything a check found: one `CheckRow` per input or parameter, and the settings.

    `str(report)` is the summary table; `report.details()` the per-input failure table.
    """

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

    def rule(self) -> str:
        return (
            f"pass: |analytical - numerical| <= atol + rtol*|numerical| with atol={self.atol:g}, "
            f"rtol={self.rtol:g}; numerical = central differences, eps={self.eps:g}, float64"
        )

    def details(self) -> str:
        """One line per input: how many elements failed, the worst one, both values, the errors."""
        header = ("input", "shape", "failed", "worst index", "analytical", "numerical", "abs err", "rel err")
        lines = []
        for row in self.rows:
            w = row.worst
            worst = f"dir {w}" if row.mode == "directions" else str(row.worst_index)
            values = (row.analytical[w], row.numerical[w], row.abs_err[w], row.rel_err[w]) if row.total else (0,) * 4
            lines.append(
                (
                    row.name,
                    str(row.shape),
                    f"{row.n_failed}/{row.total}" + (" dirs" if row.mode == "directions" else ""),
                    worst,
                    *(_num(v) for v in values[:2]),
                    *(_err(v) for v in values[2:]),
                )
            )
        return _table(header, lines)

    def summary(self) -> str:
        """The table of parameter, shape, check, max abs err, max rel err, result."""
        header = ("parameter", "shape", "check", "max abs err", "max rel err", "result")
        lines = [
            (
                row.name,
                str(row.shape),
                row.check,
                _err(row.max_abs_err),
                _err(row.max_rel_err),
                "ok" if row.passed else f"FAIL {row.n_failed}/{row.total}",
            )
            for row in self.rows
        ]
        return _table(header, lines)

    def explanations(self) -> list[str]:
        """For each failing row: the worst element spelled out, and any diagnosis."""
        out = []
        for row in self.failing():
            w = row.worst
            where = f"direction {w}" if row.mode == "directions" else f"element {row.worst_index}"
            out.append(
                f"{row.name}, {where}: backward gives {_num(row.analytical[w])}, finite differences "
                f"give {_num(row.numerical[w])}"
            )
            if row.note:
                out.append(f"  {row.note}")
        for row in self.rows:
            if row.remeasured:
                unit = "directions" if row.mode == "directions" else "elements"
                out.append(
                    f"note: {row.name}: {row.remeasured} of {row.total} {unit} straddled a kink at eps={self.eps:g} "
                    f"(their finite difference changed with the step) and were re-measured with eps={self.eps / 10:g}"
                )
        return out

    def __str__(self) -> str:
        verdict = (
            f"all {len(self.rows)} match finite differences"
            if self.passed
            else f"{len(self.failing())} of {len(self.rows)} FAIL"
        )
        parts = [self.summary(), f"{self.what}: {verdict}", self.rule(), *self.explanations(), *self.notes]
        return "\n".join(parts)

    def message(self) -> str:
        """The text of the GradcheckError: what failed, the table, the diagnosis, the fix."""
        names = ", ".join(row.name for row in self.failing())
        if self.what == "gradgradcheck":
            headline = (
                "the second derivatives that backward records under create_graph=True do not match finite "
                f"differences of the first derivatives, for {names}"
            )
        else:
            headline = f"the gradients from backward do not match finite differences for {names}"
        parts = [
            f"{self.what}: {headline}",
            self.details(),
            self.rule(),
            *self.explanations(),
            *self.notes,
        ]
        return "\n".join(parts)


def _verdict(report: GradcheckReport, raise_exception: bool) -> bool:
    """True when the check passed; otherwise raise GradcheckError with the report, or return False."""
    if report.passed:
        return True
    if raise_exception:
        raise GradcheckError(report.message(), report)
    return False


def _num(v: float) -> str:
    return f"{v:.6g}"


def _err(v: float) -> str:
    return f"{v:.2g}"


def _table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in (header, *lines))


# ---------------------------------------------------------------- public functions


def numerical_grad(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    *,
    grad_outputs: Any = None,
) -> tuple[np.ndarray | None, ...]:
    """The gradient of `fn` at `inputs` by central differences, one float64 array per input.

    For each element x[i] of each float input: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), with
    `fn` evaluated in float64 under `no_grad()`. Inputs are Tensors or float ndarrays (anything
    else, e.g. an index array, is passed through and gets None). They are never written to: each
    is replaced by a float64 copy while `fn` runs, and the original is back in place afterwards,
    even when `fn` raises.

    A non-scalar output y is reduced to the scalar sum(u * y) with a seed direction u, so the
    result is uᵀJ, which is what `backward(gradient=u)` computes. Pass `grad_outputs=u` (one array
    per output when `fn` returns a tuple) or leave it None: then u = 1 for a single-element
    output and otherwise `np.random.default_rng(0).standard_normal(y.shape)` (one draw per
    output, in order). A random u rather than ones: with ones, a gradient sent to the wrong
    output element (e.g. summed over the wrong axis) can add up to the right total.

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
    args = _as_args(inputs)
    positions = [i for i, a in enumerate(args) if _is_float(a)]
    if not positions:
        raise ValueError(
            "numerical_grad: none of the inputs is a float Tensor or float ndarray, so there is nothing to "
            f"differentiate (got {', '.join(type(a).__name__ for a in args) or 'no inputs'})"
        )
    result: list[np.ndarray | None] = [None] * len(args)
    with _float64_copies(args, positions) as (work, flats):
        with no_grad():
            base = _values(fn(*work), "numerical_grad")
        _require_finite(base, "numerical_grad")
        low = [(f"output {k}", v.dtype) for k, v in enumerate(base) if v.dtype.kind == "f" and v.dtype.itemsize < 8]
        if low:
            _, message = _rounding_message(low, eps, "numerical_grad")
            warnings.warn(message + "; compute fn in float64 for a reliable result", GradcheckWarning, stacklevel=2)
        directions = _directions(base, grad_outputs, seed=0)

        def evaluate() -> float:
            return _reduce(fn, work, directions, "numerical_grad")

        for i, flat in zip(positions, flats):
            grad = [_element_difference(evaluate, flat, k, eps) for k in range(flat.size)]
            result[i] = np.array(grad, dtype=np.float64).reshape(np.shape(work[i]))
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
    `requires_grad=True` is checked; other inputs are passed through as constants. The gradient
    comes from `tinygrad_edu.grad`, so `.grad` of the inputs is never touched; the numerical
    one from `numerical_grad` (same seed direction for a non-scalar output, see there).

    On a mismatch, raises `GradcheckError` whose message is a table naming each input, how many
    of its elements failed, the worst element's index, the analytical and numerical values and
    their absolute and relative errors, followed by a diagnosis when one is found (a constant
    factor, a transposed gradient, a kink). With `raise_exception=False`, returns False instead.

    `mode`: "exact" (element by element), "directions" (`n_directions` random directions per
    input; for large inputs) or "auto" (exact up to 1000 elements). `seed` fixes the random
    directions. float32 inputs are checked in float64 on a copy, with a `GradcheckWarning`.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> W = tg.Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    >>> x = tg.Tensor(np.array([0.3, -0.7]), requires_grad=True)
    >>> tg.gradcheck(lambda W, x: (W @ x).sigmoid(), [W, x])
    True
    """
    args = _as_args(inputs)
    checked = _checked_positions(args, "gradcheck")
    names = [_input_name(i, args[i]) for i in checked]
    report = _check(
        fn,
        args,
        checked,
        names,
        what="gradcheck",
        eps=eps,
        atol=atol,
        rtol=rtol,
        mode=mode,
        n_directions=n_directions,
        seed=seed,
        output_label=lambda k: f"output {k}",
    )
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
    like any other; this runs `gradcheck` on g: its recorded backward (what `create_graph=True`
    built) against finite differences of g itself. A backward rule that computes with NumPy on
    plain arrays gives right first derivatives but records nothing, so its second derivative is
    lost; this check catches that. Arguments as in `gradcheck`.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    >>> tg.gradgradcheck(lambda x: x.tanh().sum(), [x])
    True
    """
    args = _as_args(inputs)
    checked = _checked_positions(args, "gradgradcheck")
    names = [_input_name(i, args[i]) for i in checked]
    seed_directions: list[np.ndarray] = []  # for fn's outputs; fixed on the first call

    def first_derivatives(*xs: Any) -> tuple[Tensor, ...]:
        with enable_grad():  # numerical_grad calls this under no_grad(), and the graph is needed here
            outputs = _outputs(fn(*xs), "gradgradcheck")
            if not seed_directions:
                seed_directions.extend(_directions([o.data for o in outputs], None, seed))
            live = [(o, u) for o, u in zip(outputs, seed_directions) if o.requires_grad]
            tensors = [xs[i] for i in checked]
            grads: Sequence[Tensor | None] = [None] * len(tensors)
            if live:
                grads = _autograd(
                    [o for o, _ in live],
                    tensors,
                    grad_outputs=[u for _, u in live],
                    create_graph=True,
                    allow_unused=True,
                )
        return tuple(Tensor._wrap(np.zeros(t.shape)) if g is None else g for t, g in zip(tensors, grads))

    report = _check(
        first_derivatives,
        args,
        checked,
        names,
        what="gradgradcheck",
        eps=eps,
        atol=atol,
        rtol=rtol,
        mode=mode,
        n_directions=n_directions,
        seed=seed,
        output_label=lambda k: f"the first derivative for {names[k]}",
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
    - `module` a dict of named Tensors: the loss is `loss_fn(*batch)`, which uses those tensors
      (the general form: any model, any call).

    Returns a `GradcheckReport`; `print(report)` shows the table of parameter, shape, check
    (exact or n random directions), max abs error, max rel error and ok/FAIL, and `report.passed`
    says whether all passed. `verbose=True` prints it; `raise_exception=True` raises
    `GradcheckError` on a failure. `mode="auto"` checks parameters of up to 1000 elements exactly
    and larger ones along `n_directions` random directions. The loss must be deterministic: put
    a model with dropout in `eval()` mode. float32 parameters are checked in float64 copies.

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
    named, frozen = _named_parameters(module)
    if any(t.dtype != np.float64 for _, t in named):
        # The parameters are checked in float64 copies; the batch must follow, or the model would
        # mix dtypes (nn.Linear refuses a float32 input to float64 weights).
        batch = tuple(_float64_constant(b) for b in batch)
    if hasattr(module, "named_parameters"):
        if not batch:
            raise ValueError(
                "check_module_grads: pass the batch after loss_fn, e.g. check_module_grads(model, loss_fn, x, y); "
                "the loss is loss_fn(model(x), y)"
            )

        def fn(*_: Any) -> Any:
            return loss_fn(module(batch[0]), *batch[1:])

    else:

        def fn(*_: Any) -> Any:
            return loss_fn(*batch)

    params = [t for _, t in named]
    report = _check(
        fn,
        params,
        list(range(len(params))),
        [name for name, _ in named],
        what="check_module_grads",
        eps=eps,
        atol=atol,
        rtol=rtol,
        mode=mode,
        n_directions=n_directions,
        seed=seed,
        output_label=lambda k: "the loss",
    )
    if frozen:
        report.notes.append(f"not checked (requires_grad=False): {', '.join(frozen)}")
    if verbose:
        print(report)
    if raise_exception and not report.passed:
        raise GradcheckError(report.message(), report)
    return report


# ---------------------------------------------------------------- the check itself


def _check(
    fn: Callable[..., Any],
    args: list[Any],
    checked: list[int],
    names: list[str],
    *,
    what: str,
    eps: float,
    atol: float,
    rtol: float,
    mode: str,
    n_directions: int,
    seed: int,
    output_label: Callable[[int], str],
) -> GradcheckReport:
    """Backward against finite differences for the inputs at positions `checked` of `args`."""
    _check_eps(eps)
    if not (atol >= 0 and rtol >= 0):
        raise ValueError(f"{what}: atol and rtol must be >= 0, got atol={atol}, rtol={rtol}")
    if mode not in MODES:
        raise ValueError(f"{what}: mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if not (isinstance(n_directions, int) and n_directions >= 1):
        raise ValueError(f"{what}: n_directions must be a positive integer, got {n_directions!r}")
    notes: list[str] = []
    low_precision = [(name, args[i].dtype) for name, i in zip(names, checked) if args[i].dtype != np.float64]
    if low_precision:
        warnings.warn(_float32_note(low_precision, eps, what), GradcheckWarning, stacklevel=3)
        copied = ", ".join(n for n, _ in low_precision) + (" and the batch" if what == "check_module_grads" else "")
        notes.append(f"note: {copied} checked in float64 on a copy, not in their own dtype")

    with _float64_copies(args, checked) as (work, flats):
        tensors = [work[i] for i in checked]
        # The analytical gradient, seeded with the same directions as the numerical one.
        with enable_grad():
            outputs = _outputs(fn(*work), what)
        _require_finite([o.data for o in outputs], what)
        low = _low_precision(outputs, tensors)
        if low:
            error, message = _rounding_message(low, eps, what)
            if error > rtol:  # a mismatch would be a false alarm: refuse instead of reporting it
                raise DTypeError(
                    f"{message}, far above rtol={rtol:g}, so the check would fail whatever backward does. Compute fn "
                    "in float64 (no .float() or .cast(np.float32); tinygrad_edu.set_default_dtype(np.float64)), or, "
                    f"when the rounding is the point (checking a cast), use eps >= {2 * error * eps / rtol:.1g}, e.g. "
                    "eps=1e-2 for a function that is nearly linear at that scale."
                )
            notes.append(f"note: {message}; below rtol={rtol:g}, so the check is meaningful")
        directions = _directions([o.data for o in outputs], None, seed)
        for k, o in enumerate(outputs):
            if o.size != 1 and what != "gradgradcheck":  # there the outputs are gradients, never scalars
                notes.append(
                    f"note: {output_label(k)} has shape {o.shape}, not a single value: both sides compare the "
                    "gradient of sum(u * output) for a fixed random seed direction u (see numerical_grad)"
                )
        first = _combine(directions, [o.data for o in outputs])
        live = [(o, u) for o, u in zip(outputs, directions) if o.requires_grad]
        for k, o in enumerate(outputs):
            if not o.requires_grad:
                notes.append(
                    f"note: {output_label(k)} does not require grad: it was computed outside the graph (NumPy on "
                    "arrays or .data, or under no_grad()), so backward gives it no gradient. Compute it with "
                    "Tensor operations (in a backward rule: the operators that arrays and Tensors share, and "
                    "saved inputs/outputs rather than arrays derived from them)."
                )
        grads: Sequence[Tensor | None] = [None] * len(tensors)
        if live:
            grads = _autograd([o for o, _ in live], tensors, grad_outputs=[u for _, u in live], allow_unused=True)
        analytical = [
            np.zeros(t.size) if g is None else np.asarray(g.data, dtype=np.float64).reshape(-1)
            for t, g in zip(tensors, grads)
        ]
        del outputs, live, grads  # free the graph before the many forward passes below

        def evaluate() -> float:
            return _reduce(fn, work, directions, what)

        again = evaluate()
        if not math.isclose(again, first, rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(
                f"{what}: fn is not deterministic: two calls with the same inputs gave {first!r} and {again!r}. "
                "Finite differences need a function of the inputs alone: put a model with dropout in eval() "
                "mode, and draw random numbers once, outside fn."
            )

        rng = np.random.default_rng((seed, 1))  # input directions; output directions came from `seed`
        rows = []
        for name, t, flat, a in zip(names, tensors, flats, analytical):
            if flat.size and (mode == "directions" or (mode == "auto" and flat.size > AUTO_EXACT_MAX_ELEMENTS)):
                vs = rng.standard_normal((n_directions, flat.size))
                base = flat.copy()

                def measure(
                    k: int, step: float, flat: np.ndarray = flat, base: np.ndarray = base, vs: np.ndarray = vs
                ) -> float:
                    return _directional_difference(evaluate, flat, base, vs[k], step)

                row = CheckRow(name, t.shape, "directions", vs @ a, np.zeros(n_directions), atol, rtol)
            else:

                def measure(k: int, step: float, flat: np.ndarray = flat) -> float:
                    return _element_difference(evaluate, flat, k, step)

                row = CheckRow(name, t.shape, "exact", a, np.zeros(flat.size), atol, rtol)
            row.numerical[:] = [measure(k, eps) for k in range(row.total)]
            for k in np.flatnonzero(row.failed):
                better = _remeasure(lambda step, k=k: measure(k, step), row.numerical[k], eps, atol, rtol)
                if better is not None:
                    row.numerical[k] = better
                    row.remeasured += 1
            if not row.passed:
                if row.mode == "directions":
                    row.note = (
                        "directions mode shows that this gradient is wrong, not where; run mode='exact' on a "
                        "smaller model (or input) to see which elements are wrong"
                    )
                else:
                    row.note = _diagnose(row) or _kink(evaluate, flat, row, eps)
            rows.append(row)
    return GradcheckReport(what, rows, eps, atol, rtol, notes)


def _element_difference(evaluate: Callable[[], float], flat: np.ndarray, i: int, step: float) -> float:
    """(f(x + step e_i) - f(x - step e_i)) / (2 step), perturbing `flat` (a working copy) in place."""
    x = flat[i]
    try:
        flat[i] = x + step
        up = evaluate()
        flat[i] = x - step
        down = evaluate()
    finally:
        flat[i] = x  # the saved value itself, so the element is restored bit for bit
    # The step actually taken: x + step and x - step are rounded, and for a large |x| their
    # distance differs from 2 step noticeably.
    taken = (x + step) - (x - step)
    if taken == 0:
        raise ValueError(
            f"element {i} (flat index) is {x:g}, so large that x +- eps rounds back to x in float64 and there is "
            f"no step to measure a slope with; pass a larger eps (at least {abs(x) * 1e-15:.1g}) or rescale the input"
        )
    return (up - down) / taken


def _directional_difference(
    evaluate: Callable[[], float], flat: np.ndarray, base: np.ndarray, v: np.ndarray, step: float
) -> float:
    """The derivative along v, (f(x + h v) - f(x - h v)) / (2 h), comparable with v . grad.

    h = step / |v|, so that x moves by `step` in all (as one element does in exact mode): a
    step of eps in every one of 200,000 elements at once would cross many relu kinks."""
    h = step / float(np.linalg.norm(v))
    try:
        np.add(base, h * v, out=flat)
        up = evaluate()
        np.subtract(base, h * v, out=flat)
        down = evaluate()
    finally:
        flat[...] = base
    return (up - down) / (2 * h)


def _remeasure(measure: Callable[[float], float], first: float, eps: float, atol: float, rtol: float) -> float | None:
    """A better finite difference for a failing element (or direction), or None if `first` stands.

    For a smooth fn the central difference barely moves when the step shrinks (its error is
    O(eps^2)). If it moves by more than the tolerance, fn is not smooth at the scale of eps: a
    kink (relu, abs, max) lies within eps of the point and the first measurement straddles it.
    The difference with eps/10 is then the better measurement, provided eps/100 agrees with it.
    A wrong backward gives finite differences that agree at every step, so this never excuses it.
    """
    try:
        smaller = measure(eps / 10)
        if abs(smaller - first) <= atol + rtol * abs(smaller):
            return None
        smallest = measure(eps / 100)
    except ValueError:  # a step too small for the element's magnitude: the first measurement stands
        return None
    if abs(smallest - smaller) <= atol + rtol * abs(smallest):
        return smaller
    return None


def _diagnose(row: CheckRow) -> str | None:
    """Recognise the usual shapes of a wrong backward from the two gradients alone."""
    a, n = row.analytical, row.numerical
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        return "backward produced NaN or Inf; run it under tinygrad_edu.detect_anomaly() to find the op"
    if np.all(a == 0) and np.any(np.abs(n) > row.atol):
        return (
            "backward gives 0 everywhere, but fn does depend on this input: it is used outside the graph "
            "(NumPy on .data, or under no_grad()), or a backward rule returns None or zeros for it"
        )
    big = np.abs(n) > max(row.atol, 1e-12) * 10
    if big.sum() >= 2:
        ratio = a[big] / n[big]
        middle = float(np.median(ratio))
        if abs(middle - 1) > row.rtol and np.all(np.abs(ratio - middle) <= 1e-3 * abs(middle) + 1e-9):
            return (
                f"backward = {middle:.4g} x numerical on every element: a constant factor is wrong "
                "(-1 is a sign error; 0.5 or 2 a missing or extra factor 2)"
            )
    if len(row.shape) == 2 and row.shape[0] == row.shape[1]:
        square_a, square_n = a.reshape(row.shape), n.reshape(row.shape)
        if np.allclose(square_a, square_n.T, rtol=row.rtol, atol=row.atol):
            return (
                "backward equals the numerical gradient transposed: the backward returns a transposed gradient, "
                "or one broadcast or summed over the wrong axis (on a square input the shapes cannot tell)"
            )
    if row.total >= 2 and np.allclose(np.sort(a), np.sort(n), rtol=row.rtol, atol=row.atol):
        return (
            "backward has the right values at the wrong elements: the gradient is routed to the wrong "
            "positions (broadcast or summed over the wrong axis, transposed, or shifted indices)"
        )
    return None


def _kink(evaluate: Callable[[], float], flat: np.ndarray, row: CheckRow, eps: float) -> str | None:
    """Is fn smooth at the worst element? Finite differences are meaningless at a kink."""
    i = row.worst
    x = flat[i]

    def at(h: float) -> float:
        flat[i] = x + h
        try:
            return evaluate()
        finally:
            flat[i] = x

    small = eps / 10
    f0, up, down, up_small, down_small = at(0.0), at(eps), at(-eps), at(small), at(-small)
    left, right = (f0 - down) / eps, (up - f0) / eps
    central, central_small = (up - down) / (2 * eps), (up_small - down_small) / (2 * small)
    gap, gap_small = abs(right - left), abs((up_small - f0) / small - (f0 - down_small) / small)
    tol = row.atol + row.rtol * abs(central)
    # For a smooth fn, the two one-sided slopes differ by about f'' * eps, which shrinks with
    # the step; at a kink they differ by the jump in slope, however small the step.
    if gap > tol and gap_small > 0.5 * gap:
        return (
            f"fn is not differentiable at this point: its slope is {left:.6g} on the left and {right:.6g} on "
            f"the right (a kink, as relu at its threshold), so central differences give their average "
            f"{central:.6g} and no backward can match it; check at points away from kinks"
        )
    if abs(central_small - central) > tol:
        matches = abs(central_small - row.analytical[i]) <= row.atol + row.rtol * abs(central_small)
        return (
            f"the finite difference changes with eps here ({central:.6g} at eps={eps:g}, {central_small:.6g} at "
            f"eps={small:g}{', which matches backward' if matches else ''}): fn is not smooth within eps of this "
            "point (a kink such as relu or abs nearby); move the input away from it"
        )
    return None


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def _float64_copies(args: list[Any], positions: list[int]) -> Iterator[tuple[list[Any], list[np.ndarray]]]:
    """Run the body with each input at `positions` replaced by a float64 working copy.

    Yields the argument list to call fn with, and for each position a flat view into its copy
    (writing to it changes what fn sees). A Tensor keeps its identity, only its `.data` is
    swapped, so a model that holds the tensor sees the copy too; an ndarray is replaced in the
    argument list. The original arrays are never written to, and are put back on exit.
    """
    work = list(args)
    flats: list[np.ndarray] = []
    swapped: list[tuple[Tensor, np.ndarray]] = []
    seen: dict[int, np.ndarray] = {}  # a tensor passed twice gets one copy
    try:
        for i in positions:
            a = args[i]
            if isinstance(a, Tensor) and id(a) in seen:
                flats.append(seen[id(a)])
                continue
            # order="C": reshape(-1) of a C-ordered array is a view, so the flat index perturbs it.
            copy = np.array(a.data if isinstance(a, Tensor) else a, dtype=np.float64, order="C")
            if isinstance(a, Tensor):
                swapped.append((a, a.data))
                a.data = copy
                seen[id(a)] = copy.reshape(-1)
            else:
                work[i] = copy
            flats.append(copy.reshape(-1))
        yield work, flats
    finally:
        for tensor, original in reversed(swapped):
            tensor.data = original


def _reduce(fn: Callable[..., Any], work: list[Any], directions: list[np.ndarray], what: str) -> float:
    """fn at the current working copies, as the scalar sum over outputs of sum(u * y)."""
    with no_grad():
        values = _values(fn(*work), what)
    return _combine(directions, values)


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


def _low_precision(outputs: Sequence[Tensor], inputs: Sequence[Tensor]) -> list[tuple[str, np.dtype]]:
    """The tensors computed from the checked inputs on the way to the outputs that are below
    float64 (a `.float()` or `.cast(np.float32)` inside fn): each rounds what the inputs'
    perturbations do. Tensors that do not depend on the inputs (a float32 batch) round nothing
    that changes, so they are harmless. A walk with an explicit stack, like the engine's."""
    children: dict[int, list[Tensor]] = {}
    seen: set[int] = set()
    stack = list(outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        for parent in t.parents:
            children.setdefault(id(parent), []).append(t)
            stack.append(parent)
    found: list[tuple[str, np.dtype]] = []
    reached = {id(t) for t in inputs}
    frontier = list(inputs)
    while frontier:
        for child in children.get(id(frontier.pop()), ()):
            if id(child) not in reached:
                reached.add(id(child))
                frontier.append(child)
                if child.dtype.kind == "f" and child.dtype.itemsize < 8:
                    found.append((f"op '{child.op}'", child.dtype))
    found += [(f"output {k}", o.dtype) for k, o in enumerate(outputs) if o.dtype.kind == "f" and o.dtype.itemsize < 8]
    return found


def _rounding_message(found: list[tuple[str, np.dtype]], eps: float, what: str) -> tuple[float, str]:
    """How large the rounding error of the finite differences is, relative to the derivative,
    and a sentence that says where it comes from."""
    dtype = max((d for _, d in found), key=lambda d: np.finfo(d).eps)
    spacing = float(np.finfo(dtype).eps)  # the gap between 1.0 and the next representable number
    where = ", ".join(sorted({label for label, _ in found}))
    return spacing / (2 * eps), (
        f"{what}: fn rounds to {dtype} on the way from its inputs to its output ({where} gives {dtype}), although "
        f"the inputs are float64 here. Finite differences then carry rounding errors of about "
        f"{spacing / (2 * eps):.2g} of the derivative ({dtype} numbers near 1.0 are {spacing:.2g} apart, divided "
        f"by 2*eps = {2 * eps:g})"
    )


def _directions(values: list[np.ndarray], grad_outputs: Any, seed: int) -> list[np.ndarray]:
    """The seed direction u for each output (see numerical_grad)."""
    if grad_outputs is not None:
        given = list(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else [grad_outputs]
        if len(given) != len(values):
            raise ValueError(f"grad_outputs: fn has {len(values)} output(s) but {len(given)} seed direction(s) given")
        out = []
        for k, (u, v) in enumerate(zip(given, values)):
            u = np.asarray(u.data if isinstance(u, Tensor) else u, dtype=np.float64)
            if u.shape != v.shape:
                raise ValueError(f"grad_outputs: direction {k} has shape {u.shape} but output {k} has {v.shape}")
            out.append(u)
        return out
    rng = np.random.default_rng(seed)
    return [np.ones(v.shape) if v.size == 1 else rng.standard_normal(v.shape) for v in values]


def _float64_constant(value: Any) -> Any:
    """A float Tensor or ndarray of the batch as a float64 copy; anything else (class indices) as is."""
    if isinstance(value, Tensor) and value.dtype.kind == "f":
        return Tensor(np.asarray(value.data, dtype=np.float64))
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    return value


def _as_args(inputs: Any) -> list[Any]:
    return list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]


def _is_float(a: Any) -> bool:
    if isinstance(a, Tensor):
        return a.dtype.kind == "f"
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _checked_positions(args: list[Any], what: str) -> list[int]:
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError(
            f"{what}: none of the inputs is a Tensor with requires_grad=True, so there is no gradient to check; "
            "create them with Tensor(array, requires_grad=True)"
        )
    return checked


def _input_name(i: int, t: Tensor) -> str:
    return f"input {i}" if t.name is None else f"input {i} ({t.name})"


def _named_parameters(module: Any) -> tuple[list[tuple[str, Tensor]], list[str]]:
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
    frozen = [str(name) for name, t in items if not t.requires_grad]
    if not named:
        raise ValueError("check_module_grads: no parameter requires grad, so there is nothing to check")
    return named, frozen


def _check_eps(eps: float) -> None:
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ValueError(f"eps must be a small positive number such as 1e-6, got {eps!r}")


def _float32_note(low_precision: list[tuple[str, np.dtype]], eps: float, what: str) -> str:
    names = [name for name, _ in low_precision]
    dtype = low_precision[0][1]
    spacing = float(np.finfo(dtype).eps)  # the gap between 1.0 and the next representable number
    return (
        f"{what}: {', '.join(names)} {'is' if len(names) == 1 else 'are'} {dtype}; checking in float64 on a copy "
        f"(the tensors themselves are untouched). Finite differences in {dtype} are unreliable: near 1.0 its "
        f"numbers are {spacing:.2g} apart, so x +- {eps:g} and the loss itself are rounded by amounts that, "
        f"divided by 2*eps, give derivative errors of up to about {spacing / eps:.0%}; in float64 they are about "
        f"{np.finfo(np.float64).eps / eps:.0e}. Use float64 tensors to check exactly what you pass."
    )
