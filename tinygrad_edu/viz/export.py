"""`to_dict`: the graph that `draw_graph` draws, as data (for JSON, a web page, or a test)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Tensor
from tinygrad_edu.viz.graph import build
from tinygrad_edu.viz.labels import SMALL_TENSOR
from tinygrad_edu.viz.options import DrawOptions, as_roots


def to_dict(
    root: Tensor | Sequence[Tensor],
    *,
    params: Mapping[str, Tensor] | Any | None = None,
    max_nodes: int | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The graph that computed `root` as JSON-serialisable data: `{"nodes": [...], "edges": [...]}`.

    Nodes have the ids of `draw_graph`'s picture (`t3` for a tensor, `op3` for the op that made
    it) and the keys `id`, `kind` (`"tensor"` or `"op"`), `op` (the op's name; for a tensor, the
    op that made it, None for a leaf), `name`, `shape`, `dtype`, `module` (the innermost module
    call it was computed in, as labelled in the drawing, or None); tensors also have
    `requires_grad`, `value` and `grad` (None when there is no gradient), each a summary:
    `shape`, `min`, `max`, `mean`, `abs_max`, `nonfinite` (how many NaN/inf) and `values` (the
    values as nested lists when at most 8 elements, else None). A NaN or an infinity is written
    as the string "nan", "inf" or "-inf", so the result is strict JSON. An edge is
    `{"source": id, "target": id}`, with `"input": i` on the arrows into an op (its i-th argument).
    `params` and `max_nodes` mean what they mean for `draw_graph`.

    >>> import json
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, -2.0], requires_grad=True, name="x")
    >>> y = x.relu().sum()
    >>> y.backward()
    >>> graph = to_dict(y)
    >>> for node in graph["nodes"]:
    ...     print(node["id"], node["kind"], node["op"], node["name"])
    t0 tensor sum None
    op0 op sum None
    t1 tensor relu None
    op1 op relu None
    t2 tensor None x
    >>> graph["nodes"][-1]["grad"]["values"]
    [1.0, 0.0]
    >>> [(e["source"], e["target"]) for e in graph["edges"]][:2]
    [('op0', 't0'), ('t1', 'op0')]
    >>> len(json.dumps(graph, allow_nan=False)) > 0
    True
    """
    options = DrawOptions(params=params, max_nodes=max_nodes)
    model = build(as_roots(root, "to_dict"), options)
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for i, t in enumerate(model.tensors):
        region = model.region_of.get(id(t))
        module = None if region is None else region.label
        grad = t._grad  # not .grad: that warns on tensors that are not leaves
        nodes.append(
            {
                "id": f"t{i}",
                "kind": "tensor",
                "op": t.op,
                "name": model.name(t),
                "shape": list(t.shape),
                "dtype": str(t.dtype),
                "module": module,
                "requires_grad": bool(t.requires_grad),
                "value": summarize(t.data),
                "grad": None if grad is None else summarize(grad.data),
            }
        )
        if t._ctx is None:
            continue
        nodes.append(
            {
                "id": f"op{i}",
                "kind": "op",
                "op": t.op,
                "name": None,
                "shape": list(t.shape),
                "dtype": str(t.dtype),
                "module": module,
            }
        )
        edges.append({"source": f"op{i}", "target": f"t{i}"})
        for position, parent in enumerate(t.parents):
            j = model.index.get(id(parent))
            if j is not None:
                edges.append({"source": f"t{j}", "target": f"op{i}", "input": position})
    return {"nodes": nodes, "edges": edges}


def _number(value: Any) -> float | int | bool | str:
    """A JSON number, or "nan"/"inf"/"-inf" for the values JSON cannot hold."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def summarize(array: np.ndarray) -> dict[str, Any]:
    """Shape, min, max, mean, max |·|, count of NaN/inf, and the values of a small array."""
    out: dict[str, Any] = {"shape": list(array.shape)}
    if array.size == 0:
        return {**out, "min": None, "max": None, "mean": None, "abs_max": None, "nonfinite": 0, "values": []}
    numeric = array.astype(np.float64)
    finite = np.isfinite(numeric)
    out["min"] = _number(array.min())
    out["max"] = _number(array.max())
    out["mean"] = _number(numeric.mean())
    out["abs_max"] = _number(np.abs(numeric).max())
    out["nonfinite"] = int(array.size - finite.sum())
    if array.size <= SMALL_TENSOR:
        values = np.vectorize(_number, otypes=[object])(array) if array.ndim else _number(array[()])
        out["values"] = values.tolist() if isinstance(values, np.ndarray) else values
    else:
        out["values"] = None
    return out
