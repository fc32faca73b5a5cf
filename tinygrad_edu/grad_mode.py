"""The engine's switches: whether operations are recorded, and two debugging modes.

Each switch belongs to one thread, as in PyTorch: a `no_grad()` block in one thread never
changes what another thread records. Each is a context manager that restores the previous value
on exit, so they nest, and each also works as a decorator:

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
>>> with tg.no_grad():
...     y = x * 2
>>> y.requires_grad, y.op
(False, None)
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable
from typing import Any


class _Switches(threading.local):
    """Read on every operation. A new thread starts with these class-level defaults."""

    grad_enabled = True
    strict_shapes = False
    detect_anomaly = False
    debugging = False  # strict_shapes or detect_anomaly: one read tells the engine both are off


switches = _Switches()


class _Switch(contextlib.ContextDecorator):
    """Sets one attribute of `switches` on enter and restores the old value on exit."""

    attribute = ""
    value = True

    def __new__(cls, func: Callable[..., Any] | None = None, *args: Any):
        switch = super().__new__(cls)
        # `@no_grad` without parentheses: decorate `func` straight away.
        return switch(func) if callable(func) else switch

    def _recreate_cm(self) -> _Switch:
        # A fresh copy per call, so a recursive (or concurrently called) decorated function
        # restores the value it found.
        return copy.copy(self)

    def __enter__(self) -> None:
        self._previous = getattr(switches, self.attribute)
        _set(self.attribute, self.value)

    def __exit__(self, *exc_info: object) -> None:
        _set(self.attribute, self._previous)


def _set(attribute: str, value: bool) -> None:
    setattr(switches, attribute, value)
    switches.debugging = switches.strict_shapes or switches.detect_anomaly


class no_grad(_Switch):
    """Record nothing: results have `requires_grad=False`, no parents and no saved buffers.

    Use it for inference, evaluation and optimiser steps.
    """

    attribute, value = "grad_enabled", False


class enable_grad(_Switch):
    """Record operations again, e.g. inside a function called under `no_grad`."""

    attribute, value = "grad_enabled", True


class set_grad_enabled(_Switch):
    """`with set_grad_enabled(training):` records operations only when `training` is true."""

    attribute = "grad_enabled"

    def __init__(self, mode: bool) -> None:
        self.value = bool(mode)


class strict_shapes(_Switch):
    """Refuse any broadcast that grows *both* operands, such as `(4,) + (4, 1) -> (4, 4)`.

    That broadcast is legal NumPy but is almost always a shape bug (a bias of shape `(4, 1)`
    added to an output of shape `(4,)`), so inside this block it raises `ShapeError`.
    """

    attribute, value = "strict_shapes", True


class detect_anomaly(_Switch):
    """Check every forward result and every gradient for NaN or Inf and name the op that made it.

    Each op recorded inside the block also remembers the line of your code that made it, and the
    error names that line and carries the tensor as `.tensor`, so that
    `draw_graph(loss, highlight=error.tensor)` shows where it happened.
    """

    attribute, value = "detect_anomaly", True


def is_grad_enabled() -> bool:
    """True when operations are being recorded for backward (in this thread)."""
    return switches.grad_enabled
