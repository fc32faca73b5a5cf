"""What a gradient check needs around the check itself (`tinygrad_edu.gradient_check`).

- `Settings`: the step, the tolerances and the mode, validated once;
- `float64_copies`: the inputs swapped for float64 working copies while the check runs, and
  the originals put back afterwards, also when fn raises;
- `seed_directions`: the fixed direction u that makes a non-scalar output the scalar sum(u * y);
- `slope_along`: the slope along a random direction, for `mode="directions"`;
- reading fn's arguments and results, with errors that say what was expected.

>>> import numpy as np
>>> x = np.array([1.0, 2.0], dtype=np.float32)
>>> with float64_copies([x], [0]) as (work, flats):
...     flats[0][1] = 5.0  # writing to the flat view changes what fn sees, never x
...     print(work[0].dtype, work[0].tolist())
float64 [1.0, 5.0]
>>> x.tolist()
[1.0, 2.0]
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor

MODES = ("exact", "directions", "auto")
# Exact costs 2 calls of fn per element: 400,000 forward passes for a 784x256 weight.
AUTO_EXACT_MAX_ELEMENTS = 1000


@dataclass(frozen=True)
class Settings:
    """How to compare: the finite-difference step, the tolerances, exact or random directions."""

    what: str  # the checking function, for messages
    eps: float
    atol: float
    rtol: float
    mode: str = "exact"
    n_directions: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        check_eps(self.eps)
        if not (self.atol >= 0 and self.rtol >= 0):
            raise ValueError(f"{self.what}: atol and rtol must be >= 0, got atol={self.atol}, rtol={self.rtol}")
        if self.mode not in MODES:
            raise ValueError(f"{self.what}: mode must be one of {', '.join(map(repr, MODES))}, got {self.mode!r}")
        if not (isinstance(self.n_directions, int) and self.n_directions >= 1):
            raise ValueError(f"{self.what}: n_directions must be a positive integer, got {self.n_directions!r}")

    def by_directions(self, size: int) -> bool:
        """Whether an input of `size` elements is checked along random directions."""
        return size > 0 and (self.mode == "directions" or (self.mode == "auto" and size > AUTO_EXACT_MAX_ELEMENTS))


def check_eps(eps: float) -> None:
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ValueError(f"eps must be a small positive number such as 1e-6, got {eps!r}")


# ---------------------------------------------------------------- working copies and directions


@contextlib.contextmanager
def float64_copies(args: list[Any], positions: list[int]) -> Iterator[tuple[list[Any], list[np.ndarray]]]:
    """Run the body with each input at `positions` replaced by a float64 working copy.

    Yields the arguments to call fn with, and per position a flat view of its copy. A Tensor
    keeps its identity and only its `.data` is swapped, so a model holding the tensor sees the
    copy too; the original arrays are put back on exit. A tensor passed twice gets one copy.
    """
    work, flats, swapped, copies = list(args), [], [], {}
    try:
        for i in positions:
            a = args[i]
            if id(a) not in copies:
                # order="C": reshape(-1) of a C-ordered array is a view, so a flat index perturbs it.
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


def slope_along(loss: Callable[[], float], flat: np.ndarray, directions: np.ndarray, k: int, step: float) -> float:
    """The slope along direction v = directions[k], (f(x + h v) - f(x - h v)) / 2h, to compare
    with v . grad. With h = step / |v| the point moves by `step` in all, as one element does
    in exact mode. `flat` is the flat view of x's working copy, put back bit for bit."""
    v = directions[k]
    base, h = flat.copy(), step / float(np.linalg.norm(v))
    try:
        flat[:] = base + h * v
        up = loss()
        flat[:] = base - h * v
        down = loss()
    finally:
        flat[:] = base
    return (up - down) / (2 * h)


def seed_directions(values: list[np.ndarray], grad_outputs: Any, seed: int) -> list[np.ndarray]:
    """The seed direction u per output: `grad_outputs` when given, else 1 for a single value
    and `np.random.default_rng(seed).standard_normal(shape)` per output, in order."""
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        return [np.ones(v.shape) if v.size == 1 else rng.standard_normal(v.shape) for v in values]
    given = as_list(grad_outputs)
    if len(given) != len(values):
        raise ValueError(f"grad_outputs: fn has {len(values)} output(s) but {len(given)} seed direction(s) given")
    seeds = [np.asarray(u.data if isinstance(u, Tensor) else u, dtype=np.float64) for u in given]
    for k, (u, v) in enumerate(zip(seeds, values)):
        if u.shape != v.shape:
            raise ValueError(f"grad_outputs: direction {k} has shape {u.shape} but output {k} has {v.shape}")
    return seeds


def checked_scalar(seeds: list[np.ndarray], values: list[np.ndarray]) -> float:
    """The scalar that both sides differentiate: the sum over outputs of sum(u * y)."""
    return float(sum(np.sum(u * v) for u, v in zip(seeds, values)))


# ---------------------------------------------------------------- fn's arguments and results


def as_list(items: Any) -> list[Any]:
    return list(items) if isinstance(items, (tuple, list)) else [items]


def values_of(fn: Callable[..., Any], work: list[Any], what: str) -> list[np.ndarray]:
    """fn's outputs at the current working copies, as arrays, recording no graph."""
    with no_grad():
        result = fn(*work)
    try:
        return [np.asarray(y.data if isinstance(y, Tensor) else y) for y in as_list(result)]
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what}: fn must return Tensors, arrays or numbers, got {type(result).__name__}") from error


def tensors_of(result: Any, what: str) -> list[Tensor]:
    items = as_list(result)
    if not items or not all(isinstance(y, Tensor) for y in items):
        got = ", ".join(type(y).__name__ for y in items) or "nothing"
        raise TypeError(
            f"{what}: fn must return a Tensor (or a tuple of Tensors) computed from its inputs, got {got}; "
            "backward can only run through Tensor operations"
        )
    return items


def require_finite(values: list[np.ndarray], what: str) -> None:
    for k, v in enumerate(values):
        if v.dtype.kind in "fc" and not np.all(np.isfinite(v)):
            raise ValueError(
                f"{what}: output {k} of fn contains NaN or Inf at these inputs, so no derivative can be compared; "
                "check at inputs where fn is finite"
            )


def require_deterministic(first: float, again: float, what: str) -> None:
    if not math.isclose(again, first, rel_tol=1e-9, abs_tol=1e-12):
        raise ValueError(
            f"{what}: fn is not deterministic: two calls with the same inputs gave {first!r} and {again!r}. "
            "Finite differences need a function of the inputs alone: put a model with dropout in eval() mode, "
            "and draw random numbers once, outside fn."
        )


def is_float(a: Any) -> bool:
    return isinstance(a, (Tensor, np.ndarray)) and a.dtype.kind == "f"


def checked_inputs(inputs: Any, what: str) -> tuple[list[Any], list[int], list[str]]:
    """The arguments, the positions of those to check (Tensors that require grad), their names."""
    args = as_list(inputs)
    checked = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError(
            f"{what}: none of the inputs is a Tensor with requires_grad=True, so there is no gradient to check; "
            "create them with Tensor(array, requires_grad=True)"
        )
    names = [f"input {i}" if args[i].name is None else f"input {i} ({args[i].name})" for i in checked]
    return args, checked, names


def named_parameters(module: Any) -> tuple[list[tuple[str, Tensor]], list[str]]:
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


def module_loss(module: Any, loss_fn: Callable[..., Any], batch: tuple[Any, ...], float64: bool) -> Callable[..., Any]:
    """The loss of `check_module_grads`, a function of no argument (the parameters are in the
    model): `loss_fn(module(batch[0]), *batch[1:])`, or `loss_fn(*batch)` for a dict of tensors.
    With `float64` the float parts of the batch are float64 copies, to match the parameters'
    working copies (nn.Linear refuses a float32 input to float64 weights)."""
    is_model = hasattr(module, "named_parameters")
    if is_model and not batch:
        raise ValueError(
            "check_module_grads: pass the batch after loss_fn, e.g. check_module_grads(model, loss_fn, x, y); "
            "the loss is loss_fn(model(x), y)"
        )
    if float64:
        batch = tuple(_float64_copy(b) if is_float(b) else b for b in batch)  # class indices stay as they are

    def loss(*_: Any) -> Any:
        return loss_fn(module(batch[0]), *batch[1:]) if is_model else loss_fn(*batch)

    return loss


def _float64_copy(value: Tensor | np.ndarray) -> Tensor | np.ndarray:
    return Tensor(value.data.astype(np.float64)) if isinstance(value, Tensor) else value.astype(np.float64)
