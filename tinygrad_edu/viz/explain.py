"""The backward pass as text: for each step, the gradient that arrived, the chain rule its op
applied (one formula per input, in the notation of the docs), and the gradients it passed on.

The formulas come from `RULES`, a table keyed by op name: one entry per primitive of the engine,
read with the names of this step's tensors. An op not in the table (a custom `Function`) gets a
generic line.

>>> print(formula("relu", "a¹", ("z¹",), 0))
∂L/∂z¹ = ∂L/∂a¹ ⊙ 1[z¹ > 0]
>>> print(formula("matmul", "t3", ("x", "Wᵀ"), 1, ndims=(2, 2)))
∂L/∂Wᵀ = xᵀ ∂L/∂t3
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

FULL_ARRAY = 64  # arrays with at most this many elements are printed in full, others summarised
DIGITS = 4  # significant digits of the numbers printed

# ∂L/∂(input i) for each primitive, written with {out} (the op's result) and {a}, {b}, {c} (its
# inputs, in argument order). ⊙ is the elementwise product, juxtaposition the matrix product.
RULES: dict[str, tuple[str | None, ...]] = {
    "neg": ("∂L/∂{a} = −∂L/∂{out}",),
    "exp": ("∂L/∂{a} = ∂L/∂{out} ⊙ exp({a}) = ∂L/∂{out} ⊙ {out}",),
    "log": ("∂L/∂{a} = ∂L/∂{out} / {a}",),
    "relu": ("∂L/∂{a} = ∂L/∂{out} ⊙ 1[{a} > 0]",),
    "tanh": ("∂L/∂{a} = ∂L/∂{out} ⊙ (1 − {out}²)",),
    "abs": ("∂L/∂{a} = ∂L/∂{out} ⊙ sign({a})",),
    "cast": ("∂L/∂{a} = ∂L/∂{out}, cast back to the dtype of {a}",),
    "add": ("∂L/∂{a} = ∂L/∂{out}", "∂L/∂{b} = ∂L/∂{out}"),
    "sub": ("∂L/∂{a} = ∂L/∂{out}", "∂L/∂{b} = −∂L/∂{out}"),
    "mul": ("∂L/∂{a} = ∂L/∂{out} ⊙ {b}", "∂L/∂{b} = ∂L/∂{out} ⊙ {a}"),
    "div": ("∂L/∂{a} = ∂L/∂{out} / {b}", "∂L/∂{b} = −∂L/∂{out} ⊙ {a} / {b}²"),
    "pow": ("∂L/∂{a} = ∂L/∂{out} ⊙ {b}·{a}^({b}−1)", "∂L/∂{b} = ∂L/∂{out} ⊙ {out}·ln({a})"),
    "maximum": (
        "∂L/∂{a} = ∂L/∂{out} ⊙ 1[{a} > {b}]  (half of it where {a} = {b})",
        "∂L/∂{b} = ∂L/∂{out} ⊙ 1[{b} > {a}]  (half of it where {a} = {b})",
    ),
    "where": (None, "∂L/∂{b} = ∂L/∂{out} where {a}, 0 elsewhere", "∂L/∂{c} = ∂L/∂{out} where not {a}, 0 elsewhere"),
    "sum": ("∂L/∂{a} = ∂L/∂{out} copied to every element of {a} that went into the sum",),
    "max": ("∂L/∂{a} = ∂L/∂{out} at the position of the maximum (shared between ties), 0 elsewhere",),
    "reshape": ("∂L/∂{a} = ∂L/∂{out} reshaped back to the shape of {a}",),
    "transpose": ("∂L/∂{a} = (∂L/∂{out})ᵀ  (the inverse permutation of the axes)",),
    "expand": ("∂L/∂{a} = ∂L/∂{out} summed over the axes along which {a} was repeated",),
    "getitem": ("∂L/∂{a} = ∂L/∂{out} put back where it was taken from, 0 elsewhere (added where an index repeats)",),
    "scatter_add": ("∂L/∂{a} = ∂L/∂{out} read back at the positions {a} was added to",),
    "cat": ("∂L/∂{a} = the part of ∂L/∂{out} where {a} was placed",),
}

# matmul depends on which operands are vectors: 1-D operands use an outer or a scalar product.
_MATMUL: dict[tuple[bool, bool], tuple[str, str]] = {
    (False, False): ("∂L/∂{a} = ∂L/∂{out} {b}ᵀ", "∂L/∂{b} = {a}ᵀ ∂L/∂{out}"),
    (False, True): ("∂L/∂{a} = ∂L/∂{out} ⊗ {b}  (an outer product)", "∂L/∂{b} = {a}ᵀ ∂L/∂{out}"),
    (True, False): ("∂L/∂{a} = ∂L/∂{out} {b}ᵀ", "∂L/∂{b} = {a} ⊗ ∂L/∂{out}  (an outer product)"),
    (True, True): ("∂L/∂{a} = ∂L/∂{out} · {b}", "∂L/∂{b} = ∂L/∂{out} · {a}"),
}

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@", "pow": "**"}


def formula(op: str, out: str, inputs: Sequence[str], index: int, ndims: Sequence[int] = ()) -> str:
    """The chain rule of `op` for its input `index`: ∂L/∂input in terms of ∂L/∂out."""
    names = dict(zip("abc", inputs), out=out)
    if op == "matmul" and len(ndims) == 2:
        rules: tuple[str | None, ...] = _MATMUL[(ndims[0] == 1, ndims[1] == 1)]
    elif op == "cat":
        rules = tuple(RULES["cat"][0].replace("{a}", "{" + "abc"[i] + "}") for i in range(min(len(inputs), 3)))
        if index >= 3:  # more inputs than letters: the rule is the same for each
            return f"∂L/∂{inputs[index]} = the part of ∂L/∂{out} where {inputs[index]} was placed"
    else:
        rules = RULES.get(op, ())
    rule = rules[index] if index < len(rules) else None
    if rule is None:
        return f"∂L/∂{inputs[index]} = what the backward of {op} returned for its input {index}"
    return rule.format(**names)


def forward_expression(op: str, out: str, inputs: Sequence[str]) -> str:
    """How the step's tensor was computed: `t4 = t3 + b¹`, `a¹ = relu(z¹)`."""
    if op in _INFIX and len(inputs) == 2:
        return f"{out} = {inputs[0]} {_INFIX[op]} {inputs[1]}"
    return f"{out} = {op}({', '.join(inputs)})"


def _number(value: float) -> str:
    return f"{value + 0.0:.{DIGITS}g}"  # + 0.0: no "-0"


def format_array(array: np.ndarray, indent: str = "        ") -> str:
    """An array as the text prints it: a number; a row of numbers; a matrix on lines of its own
    below (each line starting with `indent`); or, when large, its shape, mean and max |·|.
    Numbers have 4 significant digits, aligned in columns.

    >>> format_array(np.array(-0.0625))
    '-0.0625'
    >>> print(format_array(np.array([[1.0, -0.5], [0.25, 2.0]]), indent="  "))
    <BLANKLINE>
      [[   1 -0.5]
       [0.25    2]]
    >>> format_array(np.arange(100.0))
    'shape (100,), mean 49.5, max |·| 99'
    """
    array = np.asarray(array)
    if array.size > FULL_ARRAY:
        mean, largest = _number(float(array.mean())), _number(float(np.abs(array).max()))
        return f"shape {array.shape}, mean {mean}, max |·| {largest}"
    if array.ndim == 0:
        return _number(float(array))
    if array.dtype.kind not in "fiu":
        return np.array2string(array, separator=" ")
    width = max((len(_number(float(v))) for v in array.flat), default=1)
    body = np.array2string(
        array, max_line_width=200, threshold=FULL_ARRAY + 1, formatter={"all": lambda v: _number(float(v)).rjust(width)}
    )
    if array.ndim == 1:
        return body
    return "\n" + indent + body.replace("\n", "\n" + indent)


def equation(left: str, array: np.ndarray, note: str = "") -> str:
    """`∂L/∂b = [1 2]`, or, for a matrix, its shape after the `=` and its rows below."""
    value = format_array(array)
    if value.startswith("\n"):
        return f"{left} = ({' × '.join(map(str, np.shape(array)))}){note}{value}"
    return f"{left} = {value}{note}"


def _total(parts: Sequence[np.ndarray]) -> np.ndarray:
    total = parts[0]
    for g in parts[1:]:  # in the order they arrived, as the engine adds them
        total = total + g
    return total


def sum_text(parts: Sequence[np.ndarray], total: np.ndarray | None = None) -> str:
    """`2 + 2 = 4`: gradients of one element each, and their sum."""
    total = _total(parts) if total is None else total
    return " + ".join(_number(float(np.asarray(p).reshape(()))) for p in parts) + f" = {format_array(total)}"


_ELEMENTWISE = {"add", "sub", "mul", "div", "pow", "maximum", "where"}  # ops that broadcast their inputs


def _broadcast_note(op: str, name: str, shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str:
    """For an input that was broadcast: over which axes its gradient was summed back."""
    if op not in _ELEMENTWISE or tuple(shape) == tuple(out_shape):
        return ""
    lead = len(out_shape) - len(shape)
    axes = [*range(lead), *(lead + i for i, n in enumerate(shape) if n == 1 and out_shape[lead + i] != 1)]
    where = f"axis {axes[0]}" if len(axes) == 1 else f"axes {tuple(axes)}"
    return f", summed over {where} back to the shape {tuple(shape)} of {name} ({name} was broadcast)"


def paragraph(
    index: int,
    op: str,
    out: str,
    inputs: Sequence[str],
    shapes: Sequence[tuple[int, ...]],
    grad: np.ndarray,
    arrived: Sequence[np.ndarray],
    passed: Sequence[np.ndarray | None],
    before: Callable[[int], Sequence[tuple[int, np.ndarray]]],
    seed: bool = False,
) -> str:
    """One step of the pass as text.

    `grad` is ∂L/∂out, the sum of the gradients in `arrived` (one per use of `out`); `shapes` are
    the inputs' shapes; `passed` has one entry per input (None when that input needs no
    gradient); `before(i)` gives the gradients that input i had received before it got this one,
    as (step, gradient): from earlier steps, or from an earlier input of this op (as in `a + a`),
    so that meeting gradients can be shown being added. `seed`: `out` is the root, and its
    gradient is the seed of backward().
    """
    lines = [f"Step {index}: {op}  ({forward_expression(op, out, inputs)})"]
    if len(arrived) > 1:
        uses = f"the gradients from the {len(arrived)} uses of {out} were added"
        if all(np.size(p) == 1 for p in arrived):
            lines.append(f"Arrived: ∂L/∂{out} = {sum_text(arrived, grad)}  ({uses})")
        else:
            lines.append("Arrived: " + equation(f"∂L/∂{out}", grad, f"  ({uses})"))
    elif seed:
        lines.append("Arrived: " + equation(f"∂L/∂{out}", grad, "  (the seed: backward() starts here)"))
    else:
        lines.append("Arrived: " + equation(f"∂L/∂{out}", grad))
    lines.append("Chain rule:")
    ndims = [len(shape) for shape in shapes]
    for i, g in enumerate(passed):
        if g is not None:
            note = _broadcast_note(op, inputs[i], shapes[i], np.shape(grad))
            lines.append(f"    {formula(op, out, inputs, i, ndims)}{note}")
    lines.append("Passed on:")
    for i, (name, g) in enumerate(zip(inputs, passed)):
        if g is None:
            lines.append(f"    {name} needs no gradient")
            continue
        lines.append("    " + equation(f"∂L/∂{name}", g))
        earlier = before(i)
        if earlier:
            parts = [*(g for _, g in earlier), g]
            steps = sorted({s for s, _ in earlier if s != index})
            uses = {2: "twice"}.get(len(earlier) + 1, f"{len(earlier) + 1} times")
            if not steps:  # a + a: one tensor, two inputs of this op
                why = f"{name} is used {uses} by this op, so its gradients are added"
            else:
                what = "a gradient" if len(earlier) == 1 else f"{len(earlier)} gradients"
                sources = " and ".join(f"step {s}" for s in steps)
                if any(s == index for s, _ in earlier):
                    sources += " and this op"
                why = f"{name} already had {what} from {sources}, so they are added"
            if all(np.size(p) == 1 for p in parts):
                lines.append(f"    {why}: ∂L/∂{name} = {sum_text(parts)}")
            else:
                lines.append(f"    {why}: " + equation(f"∂L/∂{name}", _total(parts)))
    return "\n".join(lines)
