"""What a gradient check found, put into words: the report, and why a check failed.

`tinygrad_edu.gradient_check` compares backward with finite differences; this module holds
what it found and explains it:

- the report: `CheckRow` (one input, element by element) and `GradcheckReport` (all of them,
  the tables, the verdict and the error message);
- likely bugs: `likely_bug` recognises a wrong sign or factor, a gradient at the wrong
  elements, zeros and NaN, from the two gradients alone;
- kinks: `remeasure_at_kink` saves a smooth point from a finite difference that straddles a
  nearby kink, `kink_at` recognises a point with no derivative (relu at 0);
- float32 rounding: a loss L rounded to float32 puts an absolute error of about
  ulp(L)/(2·eps) into every finite difference (`rounding_error`); the check warns about it,
  notes it, or refuses to run when it would decide the result.

>>> import numpy as np
>>> likely_bug(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))  # doctest: +ELLIPSIS
'backward = 0.5 x numerical on every element: a constant factor is wrong ...'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu.autograd import toposort
from tinygrad_edu.errors import DTypeError

if TYPE_CHECKING:
    from tinygrad_edu.gradient_setup import Settings
    from tinygrad_edu.tensor import Tensor

# ---------------------------------------------------------------- the report


@dataclass
class CheckRow:
    """One input (or parameter) compared: per element, flattened (mode "exact"), or per random
    direction (mode "directions"). `failed` applies the pass rule."""

    name: str
    shape: tuple[int, ...]
    mode: str
    analytical: np.ndarray
    numerical: np.ndarray
    atol: float
    rtol: float
    note: str | None = None  # why it failed, when the diagnosis found out
    remeasured: int = 0  # elements whose first finite difference straddled a kink

    @property
    def failed(self) -> np.ndarray:
        """Per element: not |analytical - numerical| <= atol + rtol |numerical|. NaN fails."""
        return ~(self.abs_err <= self.atol + self.rtol * np.abs(self.numerical))

    @property
    def abs_err(self) -> np.ndarray:
        return np.abs(self.analytical - self.numerical)

    @property
    def rel_err(self) -> np.ndarray:
        # Relative to the larger value, but never to less than atol: noise around 0 shows no huge ratio.
        larger = np.maximum(np.abs(self.analytical), np.abs(self.numerical))
        return self.abs_err / np.maximum(larger, max(self.atol, 1e-300))

    @property
    def worst(self) -> int:
        """Flat position of the element (or direction) furthest outside its tolerance."""
        violation = self.abs_err / (self.atol + self.rtol * np.abs(self.numerical) + 1e-300)
        return int(np.argmax(np.nan_to_num(violation, nan=np.inf))) if self.total else 0

    @property
    def worst_index(self) -> tuple[int, ...] | int:
        """The worst element as an index into the input, or the number of the worst direction."""
        if self.mode == "directions":
            return self.worst
        return tuple(int(i) for i in np.unravel_index(self.worst, self.shape)) if self.total else ()

    @property
    def total(self) -> int:
        return self.analytical.size

    @property
    def n_failed(self) -> int:
        return int(self.failed.sum())

    @property
    def passed(self) -> bool:
        return self.n_failed == 0

    @property
    def max_abs_err(self) -> float:
        return float(np.max(self.abs_err, initial=0.0))

    @property
    def max_rel_err(self) -> float:
        return float(np.max(self.rel_err, initial=0.0))

    @property
    def check(self) -> str:
        return "exact" if self.mode == "exact" else f"{self.total} dirs"


@dataclass
class GradcheckReport:
    """One `CheckRow` per input or parameter, and the settings. `str(report)` is the summary
    table, the verdict and the notes; `report.details()` the per-element table.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> W = tg.Tensor(np.array([[0.5, -1.0]]), requires_grad=True)
    >>> print(tg.check_module_grads({"W": W}, lambda: (W * W).sum()))  # doctest: +ELLIPSIS
    parameter  shape   check  max abs err  max rel err  result
    W          (1, 2)  exact  ...  ok
    check_module_grads: all 1 match finite differences
    pass: |analytical - numerical| <= atol + rtol*|numerical| with atol=1e-05, rtol=0.001; ...
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

    def summary(self) -> str:
        """One line per input or parameter: shape, check (exact or n directions), max errors, result."""
        lines = [(r.name, r.shape, r.check, _err(r.max_abs_err), _err(r.max_rel_err), _result(r)) for r in self.rows]
        return _table(("parameter", "shape", "check", "max abs err", "max rel err", "result"), lines)

    def details(self) -> str:
        """One line per input: how many elements failed, the worst one, both values and the errors."""
        lines = []
        for r in self.rows:
            w, dirs = r.worst, r.mode == "directions"
            a, n, abs_err, rel_err = (
                (r.analytical[w], r.numerical[w], r.abs_err[w], r.rel_err[w]) if r.total else (0,) * 4
            )
            failed = f"{r.n_failed}/{r.total}" + (" dirs" if dirs else "")
            where = f"dir {w}" if dirs else r.worst_index
            lines.append((r.name, r.shape, failed, where, _num(a), _num(n), _err(abs_err), _err(rel_err)))
        header = ("input", "shape", "failed", "worst index", "analytical", "numerical", "abs err", "rel err")
        return _table(header, lines)

    def __str__(self) -> str:
        n = len(self.rows)
        verdict = f"all {n} match finite differences" if self.passed else f"{len(self.failing())} of {n} FAIL"
        return "\n".join([self.summary(), f"{self.what}: {verdict}", self._rule(), *self._explanations()])

    def message(self) -> str:
        """The message of a GradcheckError: what failed, the per-element table, why, and the fix."""
        names = ", ".join(row.name for row in self.failing())
        if self.what == "gradgradcheck":
            headline = (
                "the second derivatives that backward records under create_graph=True do not match finite "
                f"differences of the first derivatives, for {names}"
            )
        else:
            headline = f"the gradients from backward do not match finite differences for {names}"
        return "\n".join([f"{self.what}: {headline}", self.details(), self._rule(), *self._explanations()])

    def _rule(self) -> str:
        return (
            f"pass: |analytical - numerical| <= atol + rtol*|numerical| with atol={self.atol:g}, "
            f"rtol={self.rtol:g}; numerical = central differences, eps={self.eps:g}, float64"
        )

    def _explanations(self) -> list[str]:
        """For each failing row its worst element spelled out and its diagnosis; the kinks; the notes."""
        out = []
        for r in self.failing():
            where = f"direction {r.worst}" if r.mode == "directions" else f"element {r.worst_index}"
            out.append(
                f"{r.name}, {where}: backward gives {_num(r.analytical[r.worst])}, "
                f"finite differences give {_num(r.numerical[r.worst])}"
            )
            out += [f"  {r.note}"] if r.note else []
        for r in self.rows:
            if r.remeasured:
                unit = "directions" if r.mode == "directions" else "elements"
                out.append(
                    f"note: {r.name}: {r.remeasured} of {r.total} {unit} "
                    f"straddled a kink at eps={self.eps:g} (their finite difference changed with the step) and were "
                    f"re-measured with eps={self.eps / 10:g}"
                )
        return out + self.notes


def _result(row: CheckRow) -> str:
    return "ok" if row.passed else f"FAIL {row.n_failed}/{row.total}"


def _num(v: float) -> str:
    return f"{v:.6g}"


def _err(v: float) -> str:
    return f"{v:.2g}"


def _table(header: Sequence[str], lines: Sequence[Sequence[Any]]) -> str:
    rows = [header, *([str(cell) for cell in line] for line in lines)]
    widths = [max(len(cell) for cell in column) for column in zip(*rows)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


# ---------------------------------------------------------------- likely bugs


def why_it_fails(row: CheckRow, loss_near_worst: Callable[[float], float], eps: float) -> str | None:
    """The diagnosis of a failing row: a likely bug, or a kink at its worst element.
    `loss_near_worst(h)` is the checked scalar with the worst element moved by h."""
    if row.mode == "directions":
        return (
            "directions mode shows that this gradient is wrong, not where; run mode='exact' on a "
            "smaller model (or input) to see which elements are wrong"
        )
    return likely_bug(row.analytical, row.numerical, row.atol, row.rtol) or kink_at(
        loss_near_worst, eps, row.atol, row.rtol
    )


def likely_bug(analytical: np.ndarray, numerical: np.ndarray, atol: float = 1e-5, rtol: float = 1e-3) -> str | None:
    """Recognise the usual shapes of a wrong backward from the two gradients (flat) alone.

    >>> likely_bug(np.array([0.0, 0.0]), np.array([1.5, -2.0]))  # doctest: +ELLIPSIS
    'backward gives 0 everywhere, but fn does depend on this input: ...'
    >>> likely_bug(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0]))  # doctest: +ELLIPSIS
    'backward has the right values at the wrong elements: ...'
    """
    a, n = analytical, numerical
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        return "backward produced NaN or Inf; run it under tinygrad_edu.detect_anomaly() to find the op"
    if np.all(a == 0) and np.any(np.abs(n) > atol):
        return (
            "backward gives 0 everywhere, but fn does depend on this input: it is used outside the graph "
            "(NumPy on .data, or under no_grad()), or a backward rule returns None or zeros for it"
        )
    big = np.abs(n) > 10 * max(atol, 1e-12)  # elements whose ratio is not noise
    if big.sum() >= 2:
        ratio = a[big] / n[big]
        middle = float(np.median(ratio))
        if abs(middle - 1) > rtol and np.all(np.abs(ratio - middle) <= 1e-3 * abs(middle) + 1e-9):
            return (
                f"backward = {middle:.4g} x numerical on every element: a constant factor is wrong "
                "(-1 is a sign error; 0.5 or 2 a missing or extra factor 2)"
            )
    if a.size >= 2 and np.allclose(np.sort(a), np.sort(n), rtol=rtol, atol=atol):
        return (
            "backward has the right values at the wrong elements: the gradient is transposed, broadcast or "
            "summed over the wrong axis, or its indices are shifted"
        )
    return None


# ---------------------------------------------------------------- kinks


def remeasure_at_kink(
    measure: Callable[[float], float], first: float, eps: float, atol: float, rtol: float
) -> float | None:
    """A better finite difference for a failing element, or None when `first` stands.

    `measure(step)` is the central difference with that step. For a smooth fn it barely moves
    when the step shrinks (its error is O(step²)); if it moves by more than the tolerance, a
    kink (relu, abs, max) lies within eps of the point and `first` straddles it. Then eps/10
    is the better measurement, provided eps/100 agrees with it. A wrong backward has finite
    differences that agree at every step, so this never excuses it.

    >>> x = 1e-7  # relu is smooth here, but its kink at 0 is within eps = 1e-6
    >>> measure = lambda step: (max(x + step, 0) - max(x - step, 0)) / (2 * step)
    >>> round(measure(1e-6), 6), remeasure_at_kink(measure, measure(1e-6), 1e-6, 1e-5, 1e-3)
    (0.55, 1.0)
    """
    try:
        smaller = measure(eps / 10)
        if abs(smaller - first) <= atol + rtol * abs(smaller):
            return None
        smallest = measure(eps / 100)
    except ValueError:  # a step too small for the element's magnitude: the first measurement stands
        return None
    return smaller if abs(smallest - smaller) <= atol + rtol * abs(smallest) else None


def kink_at(f: Callable[[float], float], eps: float, atol: float = 1e-5, rtol: float = 1e-3) -> str | None:
    """Explain why no backward can match at a point where fn has no derivative.

    `f(h)` is fn with the element moved by h. For a smooth f the slopes on the left and on the
    right differ by about f'' * eps, which shrinks with the step; at a kink they differ by the
    jump in slope, however small the step.

    >>> kink_at(lambda h: abs(h), 1e-6)  # doctest: +ELLIPSIS
    'fn is not differentiable at this point: its slope is -1 on the left and 1 on the right ...'
    >>> kink_at(lambda h: (1 + h) ** 2, 1e-6) is None
    True
    """
    small = eps / 10
    f0, up, down, up_small, down_small = f(0.0), f(eps), f(-eps), f(small), f(-small)
    left, right, central = (f0 - down) / eps, (up - f0) / eps, (up - down) / (2 * eps)
    gap, gap_small = abs(right - left), abs((up_small - f0) - (f0 - down_small)) / small
    if gap > atol + rtol * abs(central) and gap_small > 0.5 * gap:
        return (
            f"fn is not differentiable at this point: its slope is {left:.6g} on the left and {right:.6g} on "
            f"the right (a kink, as relu at its threshold), so central differences give their average "
            f"{central:.6g} and no backward can match it; check at points away from kinks"
        )
    return None


# ---------------------------------------------------------------- float32 rounding


def rounding_error(dtype: Any, loss: float, eps: float) -> float:
    """The absolute error in a central difference with step eps when fn's result, near `loss`,
    is rounded to `dtype`: each of f(x ± eps) is off by up to half the spacing ulp(L) of the
    numbers near L, so their difference divided by 2 eps is off by up to ulp(L)/(2·eps).

    >>> f"{rounding_error(np.float32, 1.0, 1e-6):.2g}", f"{rounding_error(np.float64, 1.0, 1e-6):.2g}"
    ('0.06', '1.1e-10')
    """
    return float(np.spacing(np.asarray(abs(loss), dtype=dtype))) / (2 * eps)


def _effect(dtype: np.dtype, loss: float, eps: float) -> str:
    """The one phrase that says how much rounding to `dtype` disturbs the finite differences."""
    return (
        f"rounding to {dtype} gives an absolute error in the derivative of about ulp(L)/(2·eps) ≈ "
        f"{rounding_error(dtype, loss, eps):.2g} for a loss near {loss:.3g}"
    )


def float32_inputs(low: Sequence[tuple[str, np.dtype]], loss: float, settings: Settings) -> str:
    """The warning for checked inputs below float64, which are checked in float64 copies."""
    names, dtype = [name for name, _ in low], low[0][1]
    return (
        f"{settings.what}: {', '.join(names)} {'is' if len(names) == 1 else 'are'} {dtype}; checking in float64 on "
        f"a copy (the tensors themselves are untouched). Finite differences in {dtype} are unreliable: "
        f"{_effect(dtype, loss, settings.eps)} (in float64: ≈ {rounding_error(np.float64, loss, settings.eps):.1g}). "
        "Use float64 tensors to check exactly what you pass."
    )


def float32_outputs(values: Sequence[np.ndarray], loss: float, eps: float) -> str | None:
    """The warning for `numerical_grad` when fn's outputs are below float64, or None."""
    found = [(f"output {k}", v.dtype) for k, v in enumerate(values) if _below_float64(v.dtype)]
    return (
        f"{_rounding('numerical_grad', found, loss, eps)[0]}; compute fn in float64 for a reliable result"
        if found
        else None
    )


def low_precision_ops(outputs: Sequence[Tensor], inputs: Sequence[Tensor]) -> list[tuple[str, np.dtype]]:
    """The tensors below float64 on the way from `inputs` to `outputs` (a `.float()` inside fn),
    outputs included: each rounds what the inputs' perturbations do. A float32 tensor that does
    not depend on the inputs (a constant batch) rounds nothing that changes, so it is left out.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    >>> batch = tg.Tensor(np.array([3.0, 4.0], dtype=np.float32))
    >>> low_precision_ops([(x.float() * batch).double().sum()], [x])
    [("op 'cast'", dtype('float32')), ("op 'mul'", dtype('float32'))]
    """
    depends, found = {id(t) for t in inputs}, []
    for t in toposort(outputs):  # inputs before the tensors made from them
        if id(t) not in depends and any(id(p) in depends for p in t.parents):
            depends.add(id(t))
            if _below_float64(t.dtype):
                found.append((f"op '{t.op}'", t.dtype))
    return found + [(f"output {k}", y.dtype) for k, y in enumerate(outputs) if _below_float64(y.dtype)]


def float32_rounding(
    outputs: Sequence[Tensor], inputs: Sequence[Tensor], loss: float, gradient: float, settings: Settings
) -> list[str]:
    """A note when fn rounds below float64 between its inputs and outputs; raises DTypeError
    when that rounding exceeds the tolerance of the largest gradient element (`gradient`), so
    that the check would fail whatever backward does."""
    found = low_precision_ops(outputs, inputs)
    if not found:
        return []
    message, error = _rounding(settings.what, found, loss, settings.eps)
    tolerance = settings.atol + settings.rtol * gradient
    if error > tolerance:  # a mismatch would be a false alarm: refuse instead of reporting it
        raise DTypeError(
            f"{message}, above the check's tolerance atol + rtol·max|gradient| = {tolerance:.2g}, so the check would "
            "fail whatever backward does. Compute fn in float64 (no .float() or .cast(np.float32); "
            "tinygrad_edu.set_default_dtype(np.float64)), or, when the rounding is the point (checking a cast), use "
            f"eps >= {2 * error * settings.eps / tolerance:.1g} (the error is then half the tolerance), e.g. eps=1e-2 "
            "for a function that is nearly linear at that scale."
        )
    return [f"note: {message}; below the check's tolerance {tolerance:.2g}, so the check is meaningful"]


def _rounding(what: str, found: Sequence[tuple[str, np.dtype]], loss: float, eps: float) -> tuple[str, float]:
    """What rounding to the coarsest dtype found does to the finite differences, in words and in size."""
    dtype = max((d for _, d in found), key=lambda d: np.finfo(d).eps)
    where = ", ".join(sorted({label for label, _ in found}))
    message = (
        f"{what}: fn rounds to {dtype} on the way from its inputs to its output ({where} gives {dtype}), although "
        f"the inputs are float64 here: {_effect(dtype, loss, eps)}"
    )
    return message, rounding_error(dtype, loss, eps)


def _below_float64(dtype: np.dtype) -> bool:
    return dtype.kind == "f" and dtype.itemsize < 8


# ---------------------------------------------------------------- the notes of a report


def notes(
    outputs: Sequence[Tensor],
    inputs: Sequence[Tensor],
    names: Sequence[str],
    low: Sequence[tuple[str, np.dtype]],
    loss: float,
    analytical: Sequence[np.ndarray],
    settings: Settings,
) -> list[str]:
    """The report's notes: inputs checked on float64 copies, fn rounding below float64 (raises
    when that decides the check), outputs that are not a single value or that left the graph."""
    what, out = settings.what, []
    if low:
        batch = " and the batch" if what == "check_module_grads" else ""
        out.append(
            f"note: {', '.join(name for name, _ in low)}{batch} checked in float64 on a copy, not in their own dtype"
        )
    gradient = max((float(np.max(np.abs(a), initial=0.0)) for a in analytical), default=0.0)
    out += float32_rounding(outputs, inputs, loss, gradient, settings)
    for k, y in enumerate(outputs):
        if what == "gradgradcheck":  # its fn gives the first derivatives: never a single value, nothing to note
            label = f"the first derivative for {names[k]}"
        else:
            label = "the loss" if what == "check_module_grads" else f"output {k}"
            if y.size != 1:
                out.append(
                    f"note: {label} has shape {y.shape}, not a single value: both sides compare the gradient of "
                    "sum(u * output) for a fixed random seed direction u (see numerical_grad)"
                )
        if not y.requires_grad:
            out.append(
                f"note: {label} does not require grad: it was computed outside the graph (NumPy on arrays or "
                ".data, or under no_grad()), so backward gives it no gradient. Compute it with Tensor operations "
                "(in a backward rule: the operators that arrays and Tensors share, and saved inputs/outputs rather "
                "than arrays derived from them)."
            )
    return out
