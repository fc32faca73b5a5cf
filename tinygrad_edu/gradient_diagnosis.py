"""Why a gradient check failed: the report tables, likely bugs, kinks and float32 rounding.

`tinygrad_edu.gradient_check` decides whether backward matches finite differences; this module
puts the result into words. Each piece is small and independent:

- the report: `summary_table`, `details_table`, `report_text`, `failure_text`;
- likely bugs: `likely_bug` recognises a wrong sign or factor, a gradient at the wrong
  elements, zeros and NaN from the two gradients alone;
- kinks: `remeasure_at_kink` saves a smooth point from a finite difference that straddles a
  nearby kink, `kink_at` recognises a point with no derivative (relu at 0);
- float32 rounding: `float32_inputs`, `float32_rounding` and `float32_outputs` say how much a
  float32 value rounds the finite differences, and refuse a check that rounding would decide.

>>> import numpy as np
>>> likely_bug(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))  # doctest: +ELLIPSIS
'backward = 0.5 x numerical on every element: a constant factor is wrong ...'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu.autograd import toposort
from tinygrad_edu.errors import DTypeError

if TYPE_CHECKING:
    from tinygrad_edu.gradient_check import CheckRow, GradcheckReport
    from tinygrad_edu.tensor import Tensor

# ---------------------------------------------------------------- the report


def summary_table(rows: Sequence[CheckRow]) -> str:
    """One line per input or parameter: shape, check (exact or n directions), max errors, result.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> W = tg.Tensor(np.array([[0.5, -1.0]]), requires_grad=True)
    >>> report = tg.check_module_grads({"W": W}, lambda: (W * W).sum())
    >>> print(summary_table(report.rows))  # doctest: +ELLIPSIS
    parameter  shape   check  max abs err  max rel err  result
    W          (1, 2)  exact  ...  ok
    """
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
        for row in rows
    ]
    return _table(header, lines)


def details_table(rows: Sequence[CheckRow]) -> str:
    """One line per input: how many elements failed, the worst one, both values and the errors."""
    header = ("input", "shape", "failed", "worst index", "analytical", "numerical", "abs err", "rel err")
    lines = []
    for row in rows:
        w, directions = row.worst, row.mode == "directions"
        values = (row.analytical[w], row.numerical[w], row.abs_err[w], row.rel_err[w]) if row.total else (0,) * 4
        lines.append(
            (
                row.name,
                str(row.shape),
                f"{row.n_failed}/{row.total}" + (" dirs" if directions else ""),
                f"dir {w}" if directions else str(row.worst_index),
                *(_num(v) for v in values[:2]),
                *(_err(v) for v in values[2:]),
            )
        )
    return _table(header, lines)


def report_text(report: GradcheckReport) -> str:
    """`str(report)`: the summary table, the verdict, the pass rule, explanations and notes."""
    n = len(report.rows)
    verdict = f"all {n} match finite differences" if report.passed else f"{len(report.failing())} of {n} FAIL"
    return "\n".join(
        [summary_table(report.rows), f"{report.what}: {verdict}", _rule(report), *_explanations(report), *report.notes]
    )


def failure_text(report: GradcheckReport) -> str:
    """The message of a GradcheckError: what failed, the per-element table, why, and the fix."""
    names = ", ".join(row.name for row in report.failing())
    if report.what == "gradgradcheck":
        headline = (
            "the second derivatives that backward records under create_graph=True do not match finite "
            f"differences of the first derivatives, for {names}"
        )
    else:
        headline = f"the gradients from backward do not match finite differences for {names}"
    parts = [f"{report.what}: {headline}", details_table(report.rows), _rule(report)]
    return "\n".join([*parts, *_explanations(report), *report.notes])


def _rule(report: GradcheckReport) -> str:
    return (
        f"pass: |analytical - numerical| <= atol + rtol*|numerical| with atol={report.atol:g}, "
        f"rtol={report.rtol:g}; numerical = central differences, eps={report.eps:g}, float64"
    )


def _explanations(report: GradcheckReport) -> list[str]:
    """For each failing row the worst element spelled out and its diagnosis; then the kinks."""
    out = []
    for row in report.failing():
        w = row.worst
        where = f"direction {w}" if row.mode == "directions" else f"element {row.worst_index}"
        out.append(
            f"{row.name}, {where}: backward gives {_num(row.analytical[w])}, "
            f"finite differences give {_num(row.numerical[w])}"
        )
        if row.note:
            out.append(f"  {row.note}")
    for row in report.rows:
        if row.remeasured:
            unit = "directions" if row.mode == "directions" else "elements"
            out.append(
                f"note: {row.name}: {row.remeasured} of {row.total} {unit} straddled a kink at eps={report.eps:g} "
                f"(their finite difference changed with the step) and were re-measured with eps={report.eps / 10:g}"
            )
    return out


def _num(v: float) -> str:
    return f"{v:.6g}"


def _err(v: float) -> str:
    return f"{v:.2g}"


def _table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in (header, *lines))


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


def rounding_error(dtype: Any, eps: float) -> float:
    """How far off a central difference with step eps can be, relative to the derivative, when
    fn rounds to `dtype`: values near 1.0 are `finfo(dtype).eps` apart, divided by 2 eps.

    >>> f"{rounding_error(np.float32, 1e-6):.2g}", f"{rounding_error(np.float64, 1e-6):.2g}"
    ('0.06', '1.1e-10')
    """
    return float(np.finfo(dtype).eps) / (2 * eps)


def float32_inputs(low: Sequence[tuple[str, np.dtype]], eps: float, what: str) -> str:
    """The warning for checked inputs below float64, which are checked in float64 copies."""
    names, dtype = [name for name, _ in low], low[0][1]
    return (
        f"{what}: {', '.join(names)} {'is' if len(names) == 1 else 'are'} {dtype}; checking in float64 on a copy "
        f"(the tensors themselves are untouched). Finite differences in {dtype} are unreliable: near 1.0 its "
        f"numbers are {np.finfo(dtype).eps:.2g} apart, so rounding the loss, divided by 2*eps, gives derivative "
        f"errors of about {rounding_error(dtype, eps):.0%}; in float64 about {rounding_error(np.float64, eps):.0e}. "
        "Use float64 tensors to check exactly what you pass."
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
    depends = {id(t) for t in inputs}
    found = []
    for t in toposort(outputs):  # inputs before the tensors made from them
        if id(t) not in depends and any(id(p) in depends for p in t.parents):
            depends.add(id(t))
            if _below_float64(t.dtype):
                found.append((f"op '{t.op}'", t.dtype))
    return found + [(f"output {k}", o.dtype) for k, o in enumerate(outputs) if _below_float64(o.dtype)]


def float32_rounding(
    outputs: Sequence[Tensor], inputs: Sequence[Tensor], eps: float, rtol: float, what: str
) -> list[str]:
    """A note when fn rounds below float64 between its inputs and outputs; raises DTypeError
    when the rounding is larger than rtol, so the check would fail whatever backward does."""
    found = low_precision_ops(outputs, inputs)
    if not found:
        return []
    error, message = _rounding_text(found, eps, what)
    if error > rtol:  # a mismatch would be a false alarm: refuse instead of reporting it
        raise DTypeError(
            f"{message}, far above rtol={rtol:g}, so the check would fail whatever backward does. Compute fn "
            "in float64 (no .float() or .cast(np.float32); tinygrad_edu.set_default_dtype(np.float64)), or, "
            f"when the rounding is the point (checking a cast), use eps >= {2 * error * eps / rtol:.1g}, e.g. "
            "eps=1e-2 for a function that is nearly linear at that scale."
        )
    return [f"note: {message}; below rtol={rtol:g}, so the check is meaningful"]


def float32_outputs(values: Sequence[np.ndarray], eps: float, what: str) -> str | None:
    """The warning for `numerical_grad` when fn's outputs are below float64, or None."""
    found = [(f"output {k}", v.dtype) for k, v in enumerate(values) if _below_float64(v.dtype)]
    return _rounding_text(found, eps, what)[1] + "; compute fn in float64 for a reliable result" if found else None


def _rounding_text(found: Sequence[tuple[str, np.dtype]], eps: float, what: str) -> tuple[float, str]:
    dtype = max((d for _, d in found), key=lambda d: np.finfo(d).eps)  # the coarsest decides
    where = ", ".join(sorted({label for label, _ in found}))
    error = rounding_error(dtype, eps)
    return error, (
        f"{what}: fn rounds to {dtype} on the way from its inputs to its output ({where} gives {dtype}), although "
        f"the inputs are float64 here. Finite differences then carry rounding errors of about {error:.2g} of the "
        f"derivative ({dtype} numbers near 1.0 are {np.finfo(dtype).eps:.2g} apart, divided by 2*eps = {2 * eps:g})"
    )


def _below_float64(dtype: np.dtype) -> bool:
    return dtype.kind == "f" and dtype.itemsize < 8


# ---------------------------------------------------------------- fn's outputs


def output_notes(outputs: Sequence[Tensor], label: Callable[[int], str], what: str) -> list[str]:
    """Notes on outputs that are not a single value (a seed direction is used) or that were
    computed outside the graph (backward gives them no gradient at all)."""
    notes = [
        f"note: {label(k)} has shape {o.shape}, not a single value: both sides compare the gradient of "
        "sum(u * output) for a fixed random seed direction u (see numerical_grad)"
        for k, o in enumerate(outputs)
        if o.size != 1 and what != "gradgradcheck"  # there the outputs are gradients, never scalars
    ]
    return notes + [
        f"note: {label(k)} does not require grad: it was computed outside the graph (NumPy on arrays or .data, "
        "or under no_grad()), so backward gives it no gradient. Compute it with Tensor operations (in a backward "
        "rule: the operators that arrays and Tensors share, and saved inputs/outputs rather than arrays derived "
        "from them)."
        for k, o in enumerate(outputs)
        if not o.requires_grad
    ]
