"""Training helpers that work on gradients: `clip_grad_norm_` (as `torch.nn.utils`).

>>> import tinygrad_edu as tg
>>> w = tg.Tensor([0.0, 0.0], requires_grad=True)
>>> (w * tg.Tensor([3.0, 4.0])).sum().backward()      # grad = [3, 4], norm 5
>>> round(clip_grad_norm_([w], max_norm=1.0).item(), 6)
5.0
>>> [round(g, 4) for g in w.grad.tolist()]           # scaled to norm 1
[0.6, 0.8]
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale the gradients of `parameters` in place so that their total norm is at most `max_norm`.

    The total norm is the norm of all gradients together, as if concatenated into one vector
    (`norm_type` 2 by default; `float("inf")` for the largest absolute value). When it exceeds
    `max_norm`, every gradient is multiplied by max_norm / (total_norm + 1e-6), the same factor
    for all, so the direction of the step is kept. Returns the total norm before clipping, as a
    0-d Tensor, as PyTorch does. Parameters without a gradient are skipped.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number >= 0, got {max_norm!r}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive (2.0, 1.0, inf, ...), got {norm_type}")
    if not grads:
        return Tensor(0.0)
    dtype = np.result_type(*(g.dtype for g in grads))
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g.data))) if g.size else 0.0 for g in grads)
    else:
        # Each gradient's norm first, then the norm of those norms: no concatenated copy.
        norms = [np.linalg.norm(g.data.ravel(), ord=norm_type) for g in grads]
        total = float(np.linalg.norm(np.array(norms, dtype=np.float64), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so they cannot be "
            "clipped; find the NaN or Inf with tinygrad_edu.detect_anomaly(), or pass error_if_nonfinite=False"
        )
    coefficient = max_norm / (total + 1e-6)
    if not coefficient >= 1.0:  # also a NaN total, which makes every gradient NaN, as in PyTorch
        with no_grad():
            for g in grads:
                g *= coefficient  # in place: each .grad owns its memory, and its version goes up
    return Tensor(np.array(total, dtype=dtype))
