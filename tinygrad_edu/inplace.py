"""In-place changes: `t += x`, `-=`, `*=`, `/=`, `copy_`, `zero_`, `fill_`, and the version
counter that makes them safe.

Each change writes into `t.data` and bumps `t`'s version (shared with its views, as in PyTorch),
so that a backward pass that needs the old values raises instead of computing a wrong gradient
(see `versions.py`). On a tensor that requires grad they are refused
while grad mode is on: an update step is written under `no_grad()`, as in PyTorch.

>>> import tinygrad_edu as tg
>>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
>>> with tg.no_grad():
...     w -= 0.5
>>> w.tolist(), w._version
([0.5, 1.5], 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu.errors import InPlaceError, ShapeError, describe
from tinygrad_edu.grad_mode import switches
from tinygrad_edu.versions import note_inplace_change

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor


class InPlaceOps:
    """The in-place operators, as methods of `Tensor`."""

    __slots__ = ()

    @property
    def _version(self) -> int:
        """How many times this tensor's data was changed in place through the library."""
        return 0 if self._counter is None else self._counter[0]

    def _version_counter(self) -> list[int]:
        """[version, number of the in-place change that made it], shared with views; made when needed."""
        if self._counter is None:
            self._counter = [0, 0]
        return self._counter

    def _inplace(self, symbol: str, ufunc: np.ufunc | None, other: Any) -> Tensor:
        """`self.data = ufunc(self.data, other)` in place (a copy when `ufunc` is None), and the
        version goes up, as with PyTorch's in-place ops."""
        if switches.grad_enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            who = "this tensor requires grad" if self.requires_grad else "its operand requires grad"
            raise InPlaceError(
                f"{symbol}: {who} and grad mode is on, so an in-place change would break the graph "
                f"(shape {self.shape}). For an update step write it under `with tg.no_grad():`; to "
                f"compute a new value write `t = t {symbol[0]} x` instead."
            )
        operand = other.data if isinstance(other, InPlaceOps) else other
        try:
            if ufunc is None:
                np.copyto(self.data, operand, casting="same_kind")
            else:
                ufunc(self.data, operand, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as error:
            read_only = "" if self.data.flags.writeable else " (its data is read-only, e.g. a batch: copy it)"
            raise ShapeError(
                f"{symbol}: cannot change a tensor of shape {self.shape} ({self.dtype}) in place with "
                f"{describe([np.asarray(operand)])}{read_only}: {error}"
            ) from None
        note_inplace_change(self._version_counter())
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("+=", np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("-=", np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("*=", np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("/=", np.true_divide, other)

    def copy_(self, src: Any) -> Tensor:
        """Copy `src`'s values into this tensor in place (broadcast, cast to this dtype)."""
        return self._inplace("copy_", None, src)

    def zero_(self) -> Tensor:
        """Fill with zeros in place."""
        return self.copy_(0)

    def fill_(self, value: float) -> Tensor:
        """Fill with `value` in place."""
        return self.copy_(value)
