"""What a drawing shows, before any drawing: the tensors to draw, their names, and the module
calls they belong to. `draw_graph`, `to_dict` and a trace's frames all start from this.

The graph is walked once, with `tinygrad_edu.autograd.toposort` (the one graph walk of the
package); everything else here is a pass over that list, reading each tensor's `parents`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_edu import hooks
from tinygrad_edu.autograd import toposort
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.viz.options import DrawOptions


@dataclass(eq=False)
class Region:
    """One module call: the recorded tensors computed between its inputs and its output."""

    label: str  # "layers.0: Linear(3→4)"
    call: hooks.ModuleCall
    output: Tensor
    number: int  # the order in which the calls were made
    members: set[int] = field(default_factory=set)  # ids of the recorded tensors inside
    parent: Region | None = None  # the smallest call that contains this one

    def __post_init__(self) -> None:
        self.input_ids = frozenset(id(x) for x in self.call.inputs)


@dataclass
class GraphModel:
    """The part of the graph that is drawn, and how it is named and grouped."""

    roots: list[Tensor]
    tensors: list[Tensor]  # drawn tensors, those nearest the roots first: node `t{i}` is tensors[i]
    index: dict[int, int]  # id(tensor) -> i
    total_nodes: int  # tensors + ops in the whole graph
    drawn_nodes: int  # tensors + ops drawn (a recorded tensor is drawn with the op that made it)
    names: dict[int, str]  # id(tensor) -> its name from `params`
    regions: list[Region]  # module calls, smallest first
    region_of: dict[int, Region]  # id(tensor) -> the innermost call it is drawn in

    @property
    def hidden_nodes(self) -> int:
        return self.total_nodes - self.drawn_nodes

    def name(self, t: Tensor) -> str | None:
        return self.names.get(id(t)) or t.name

    def collapsible(self) -> list[Region]:
        """The module calls that `collapse_modules=True` draws as one node each: the outermost
        calls, except that a call holding all the others alone (a model around its layers, a
        Sequential) is opened, level by level, so that its layers are the nodes."""
        units = [r for r in self.regions if r.parent is None]
        while len(units) == 1:
            inner = [r for r in self.regions if r.parent is units[0]]
            if not inner:
                break
            units = inner
        return units

    def collapsed_in(self, t: Tensor, units: list[Region]) -> Region | None:
        """Which of `units` hides `t` (None when `t` is drawn on its own)."""
        region, ids = self.region_of.get(id(t)), {id(u) for u in units}
        while region is not None and id(region) not in ids:
            region = region.parent
        return region


def describe_module(module: Any) -> str:
    """A short description of a module for a box label: `Linear(784→256)`, `MLP(3→4→2)`, `ReLU`.

    >>> class Linear:
    ...     in_features, out_features = 784, 256
    >>> describe_module(Linear())
    'Linear(784→256)'
    """
    cls = type(module).__name__
    n_in, n_out = getattr(module, "in_features", None), getattr(module, "out_features", None)
    if isinstance(n_in, (int, np.integer)) and isinstance(n_out, (int, np.integer)):
        return f"{cls}({n_in}→{n_out})"
    sizes = getattr(module, "sizes", None)
    if isinstance(sizes, (list, tuple)) and sizes and all(isinstance(n, (int, np.integer)) for n in sizes):
        return f"{cls}({'→'.join(str(n) for n in sizes)})"
    p = getattr(module, "p", None)
    if isinstance(p, float):
        return f"{cls}(p={p:g})"
    return cls


def build(roots: list[Tensor], options: DrawOptions) -> GraphModel:
    order = toposort(roots)  # inputs before the tensors made from them
    tensors, total, drawn_nodes = _nearest_roots(roots, order, options.max_nodes)
    index = {id(t): i for i, t in enumerate(tensors)}
    regions, region_of = _module_regions(order, index, options.module_names())
    return GraphModel(roots, tensors, index, total, drawn_nodes, options.param_names(), regions, region_of)


def _nearest_roots(roots: list[Tensor], order: list[Tensor], max_nodes: int | None) -> tuple[list[Tensor], int, int]:
    """The tensors sorted by their distance from the nearest root (the fewest ops between), and
    the first of them within `max_nodes`. Such a prefix is connected, since each tensor kept has
    a user one op nearer the roots that is kept too, so what is drawn stays one readable piece."""
    distance = {id(r): 0 for r in roots}
    for t in reversed(order):  # every user of t comes before t here, so its distance is final
        d = distance[id(t)] + 1
        for parent in t.parents:
            if distance.get(id(parent), d + 1) > d:
                distance[id(parent)] = d
    by_distance = sorted(reversed(order), key=lambda t: distance[id(t)])  # stable: ties keep their order
    budget = float("inf") if max_nodes is None else max_nodes
    drawn: list[Tensor] = []
    drawn_nodes = total = 0
    cutting = False
    for t in by_distance:
        cost = 1 if t._ctx is None else 2  # a recorded tensor is drawn with the op that made it
        total += cost
        if not cutting and drawn_nodes + cost <= budget:
            drawn.append(t)
            drawn_nodes += cost
        else:
            cutting = True  # keep counting, so the drawing can say how many were left out
    return drawn, total, drawn_nodes


def _module_regions(
    order: list[Tensor], drawn: dict[int, int], module_names: dict[int, str]
) -> tuple[list[Region], dict[int, Region]]:
    """The module calls among the drawn tensors (found through `tinygrad_edu.hooks`, so viz
    never imports nn), nested as the calls were, and the innermost call of every drawn tensor."""
    regions: list[Region] = []
    for t in order:  # in the order the calls were made
        if id(t) in drawn and t._ctx is not None:
            for call in hooks.module_calls(t):
                name = module_names.get(id(call.module), "")
                description = describe_module(call.module)
                regions.append(Region(f"{name}: {description}" if name else description, call, t, len(regions)))
    if not regions:
        return [], {}

    # A call holds everything from its output back to its inputs: carry each call from its output
    # to the parents, outputs first, and stop at the call's inputs, at leaves (placed below, by
    # who uses them) and at the edge of what is drawn.
    carried: dict[int, set[Region]] = {}
    for region in regions:
        carried.setdefault(id(region.output), set()).add(region)
    for t in reversed(order):
        inside = carried.pop(id(t), None)
        if not inside or t._ctx is None or id(t) not in drawn:
            continue
        for region in inside:
            region.members.add(id(t))
        for parent in t.parents:
            onward = {region for region in inside if id(parent) not in region.input_ids}
            if onward:
                carried.setdefault(id(parent), set()).update(onward)
    regions = [r for r in regions if r.members]

    calls_of: dict[int, list[Region]] = {}
    for region in regions:
        calls_of.setdefault(id(region.call.module), []).append(region)
    for calls in calls_of.values():
        if len(calls) > 1:  # one module called several times (shared weights, an unrolled loop)
            for number, region in enumerate(calls, start=1):
                region.label += f" (call {number})"

    # Smallest first: an op belongs to the innermost call, and a call's box sits in the
    # smallest box that contains all of it.
    regions.sort(key=lambda r: (len(r.members), r.number))
    for i, region in enumerate(regions):
        probe = next(iter(region.members))
        for outer in regions[i + 1 :]:
            if probe in outer.members and region.members <= outer.members:
                region.parent = outer
                break
    region_of: dict[int, Region] = {}
    for region in regions:
        for key in region.members:
            region_of.setdefault(key, region)

    # A leaf (a parameter, a constant made inside forward) goes in the innermost box holding
    # every op that uses it, unless it was passed in: the call's inputs stay outside its box.
    users: dict[int, list[int]] = {}
    for t in order:
        if t._ctx is not None and id(t) in drawn:
            for parent in t.parents:
                if parent._ctx is None and id(parent) in drawn:
                    users.setdefault(id(parent), []).append(id(t))
    for leaf, its_users in users.items():
        region = region_of.get(its_users[0])
        while region is not None and (leaf in region.input_ids or not all(u in region.members for u in its_users)):
            region = region.parent
        if region is not None:
            region_of[leaf] = region
    return regions, region_of
