"""The options of a drawing, checked in one place: `draw_graph`, `to_dict` and a trace's `draw`
all take the same keyword arguments and build one `DrawOptions` from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Tensor

RANKDIRS = ("LR", "RL", "TB", "BT")
DIRECTIONS = ("forward", "backward")


@dataclass(frozen=True)
class DrawOptions:
    """What to draw and how; the keyword arguments of `draw_graph` (see there)."""

    params: Mapping[str, Tensor] | Any | None = None
    show_values: bool = False
    show_grads: bool = True
    direction: str = "forward"
    rankdir: str = "LR"
    max_nodes: int | None = None
    collapse_modules: bool = False
    highlight: Tensor | Sequence[Tensor] | None = None

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"draw_graph: direction must be 'forward' or 'backward', got {self.direction!r}")
        if self.rankdir not in RANKDIRS:
            raise ValueError(f"draw_graph: rankdir must be one of {', '.join(RANKDIRS)}, got {self.rankdir!r}")
        n = self.max_nodes
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
            raise ValueError(f"draw_graph: max_nodes must be a positive integer or None, got {n!r}")
        self.highlighted()  # checked now, so a mistake is reported before any drawing
        self.param_names()

    def highlighted(self) -> set[int]:
        """The ids of the tensors to draw in the warning colour."""
        h = self.highlight
        items = [] if h is None else list(h) if isinstance(h, (list, tuple, set)) else [h]
        for item in items:
            if not isinstance(item, Tensor):
                raise TypeError(
                    f"draw_graph: highlight must be a Tensor or a list of Tensors, got {type(item).__name__}; "
                    "e.g. draw_graph(loss, highlight=error.tensor)"
                )
        return {id(t) for t in items}

    def param_names(self) -> dict[int, str]:
        """id(tensor) -> the name `params` gives it (`layers.0.weight`)."""
        params = self.params
        if params is None:
            return {}
        if isinstance(params, Mapping):
            items = params.items()
        elif hasattr(params, "named_parameters"):
            items = params.named_parameters()
        else:
            raise TypeError(
                f"draw_graph: params must be a dict of name -> Tensor or a Module (with "
                f"named_parameters()), got {type(params).__name__}; e.g. draw_graph(loss, params=model)"
            )
        names: dict[int, str] = {}
        for name, t in items:
            if not isinstance(t, Tensor):
                raise TypeError(f"draw_graph: params[{name!r}] is a {type(t).__name__}, not a Tensor")
            names[id(t)] = str(name)
        return names

    def module_names(self) -> dict[int, str]:
        """id(module) -> its name in `params.named_modules()` (`layers.0`), when params is a Module."""
        named_modules = getattr(self.params, "named_modules", None)
        return {} if named_modules is None else {id(m): name for name, m in named_modules()}


def as_roots(root: Any, caller: str = "draw_graph") -> list[Tensor]:
    """`root` (a Tensor or a list of them) as a list of distinct Tensors."""
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(
                f"{caller}: expected a Tensor (or a list of Tensors) to draw the graph of, got "
                f"{type(r).__name__}; pass the result of a computation, e.g. {caller}(loss)"
            )
    if not roots:
        raise ValueError(f"{caller}: expected at least one Tensor to draw, got an empty list")
    return list({id(r): r for r in roots}.values())
