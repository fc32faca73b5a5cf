"""The seam between `nn` and `viz`: a record of which module call produced which tensor.

`nn.Module.__call__` reports each call here; `viz.draw_graph` reads it back to draw the tensors
computed inside one module call in one labelled box. Neither package imports the other, and the
record holds no tensor alive: it forgets a call as soon as its output tensor is gone.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModuleCall:
    """One call of a module: the module, the tensors it was given and the one it returned."""

    module: Any
    inputs: tuple[Any, ...]


_calls: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def record_module_call(module: Any, inputs: tuple[Any, ...], output: Any) -> None:
    """Remember that `module(*inputs)` returned `output` (called by `nn.Module.__call__`)."""
    if getattr(output, "_ctx", None) is not None:  # only outputs that are part of a graph
        _calls[output] = ModuleCall(module, tuple(x for x in inputs if hasattr(x, "_ctx")))


def module_call(tensor: Any) -> ModuleCall | None:
    """The module call that returned `tensor`, if any."""
    try:
        return _calls.get(tensor)
    except TypeError:  # not weak-referenceable: not a Tensor
        return None
