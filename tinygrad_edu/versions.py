"""Version counters: how a backward pass knows that a tensor it saved was changed in place.

An op that saves a tensor for backward (Exp keeps its result, Mul its inputs) computes its
derivative from those values. If `w -= lr * w.grad` or `exp_out.zero_()` changes them before the
backward pass runs, the gradient would be computed from the new values: silently wrong. So every
in-place change (`inplace.py`) bumps the tensor's version, and the backward pass checks.

In-place changes are also counted all together, and each version counter notes which change
made it; an op notes the count when it is recorded. So a backward finds in one comparison that
nothing changed in place since the op ran, the usual case; otherwise it looks at each tensor the
op saved. (PyTorch notes each saved tensor's version instead: the same check, but one version per
saved tensor per op would cost this Python engine on every op.)
"""

from __future__ import annotations

import threading
from typing import Any

from tinygrad_edu.errors import InPlaceError

changes = [0]  # in-place changes made so far, by every thread
_changes_lock = threading.Lock()


def note_inplace_change(counter: list[int]) -> None:
    """Record an in-place change to a tensor whose version counter (shared with its views) is
    `counter` = [version, number of the change that made it]."""
    with _changes_lock:
        changes[0] += 1
        counter[0] += 1
        counter[1] = changes[0]


def check_unchanged(ctx: Any) -> None:
    """Raise if a tensor that the op of `ctx` saved was changed in place after it was recorded."""
    for array in ctx.saved or ():
        tensor = ctx.owner(array)
        if tensor is not None and tensor._counter is not None and tensor._counter[1] > ctx.recorded_at:
            inputs = [i for i, parent in enumerate(ctx.parents) if parent is tensor]
            what = f"its input {inputs[0]}" if inputs else "its output"
            label = f"'{tensor.name}'" if tensor.name else f"of shape {tensor.shape}"
            raise InPlaceError(
                f"{ctx.op.name}: the tensor {label} ({what}), saved for the backward pass, was changed "
                f"in place after the op used it (it is at version {tensor._counter[0]} now), so its "
                "gradient would be computed from the new values. Run backward() before changing it "
                "(e.g. before optimizer.step()), or give the op a copy: x.clone()."
            )
