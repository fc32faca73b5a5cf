"""The seam between `nn` and `viz`: a record of which module calls produced which tensor.

`nn.Module.__call__` reports each call here; `viz.draw_graph` reads it back to draw the tensors
computed inside one module call in one labelled box. Neither package imports the other, and the
record holds no tensor alive: it forgets a tensor's calls as soon as the tensor is gone.

Tensors are looked up by identity (`id`), never with `==`, which compares elementwise.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModuleCall:
    """One call of a module: the module and the tensors it was given."""

    module: Any
    inputs: tuple[Any, ...]


# id(output) -> (a weak reference to the output, the calls that returned it, innermost first).
# A container returns its last layer's tensor, so one tensor can be the output of several calls.
_calls: dict[int, tuple[weakref.ref, tuple[ModuleCall, ...]]] = {}


def record_module_call(module: Any, inputs: tuple[Any, ...], output: Any) -> None:
    """Remember that `module(*inputs)` returned `output` (called by `nn.Module.__call__`)."""
    if getattr(output, "_ctx", None) is None:  # only outputs that are part of a graph
        return
    call = ModuleCall(module, tuple(x for x in inputs if hasattr(x, "_ctx")))
    key = id(output)
    entry = _calls.get(key)
    if entry is not None and entry[0]() is output:
        _calls[key] = (entry[0], (*entry[1], call))
    else:
        _calls[key] = (weakref.ref(output, lambda _, key=key: _calls.pop(key, None)), (call,))


def module_calls(tensor: Any) -> tuple[ModuleCall, ...]:
    """The module calls that returned `tensor`, innermost first (empty if none)."""
    entry = _calls.get(id(tensor))
    return entry[1] if entry is not None and entry[0]() is tensor else ()


def module_call(tensor: Any) -> ModuleCall | None:
    """The outermost module call that returned `tensor`, if any."""
    calls = module_calls(tensor)
    return calls[-1] if calls else None
