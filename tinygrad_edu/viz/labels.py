"""How nodes look: one style per kind of node, short summaries of arrays, and the node labels.

Labels are Graphviz's HTML-like labels (a small table per node), so a row can be bold or
coloured, e.g. a gradient in red beside the value. Text goes in through `html.escape` and
`graphviz.escape` (which keeps backslashes literal); nothing is escaped by hand.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from dataclasses import dataclass

import graphviz
import numpy as np

FONT = "Helvetica,Arial,sans-serif"
FONT_SIZE = 10
SMALL_TENSOR = 8  # tensors with at most this many elements show their values in a node


@dataclass(frozen=True)
class Style:
    """The frame of a node: fill, border colour, border width, and dashed or not."""

    fill: str
    border: str
    width: int = 1
    dashed: bool = False
    text: str = "#000000"
    font_size: int = FONT_SIZE
    padding: int = 2  # around the text: a thinner border gets more, to keep a node's size


# One style per kind of node. Colours are told apart by lightness as well as hue, so the picture
# still reads in greyscale and for colour-blind readers; the trace's states also differ in text.
STYLES: dict[str, Style] = {
    "parameter": Style("#cfe3f7", "#1f5f99", width=2),
    "input": Style("#eeeeee", "#707070", dashed=True),
    "intermediate": Style("#ffffff", "#606060"),
    "output": Style("#ffd9a8", "#c05800", width=2),
    "scalar": Style("#eeeeee", "#909090", dashed=True, font_size=9),
    "op": Style("#fff1a8", "#9a7d00"),
    "backward_op": Style("#f9d2d0", "#a3322c"),
    "seed": Style("#ffd9a8", "#c05800", width=2),
    "module": Style("#ece6fa", "#6a4fb3", width=2),
    "hidden": Style("#fde2e1", "#c62828", text="#8e1c1c", font_size=11),
    "highlight": Style("#ffcdd2", "#d50000", width=4, text="#7f0000"),
    # a trace's ops: not reached yet, done, and the one running in this frame (the same size in
    # each state, so that the picture does not move from frame to frame)
    "pending": Style("#f4f4f4", "#b0b0b0", dashed=True, text="#707070", padding=5),
    "done": Style("#c8e6c9", "#2e7d32", padding=5),
    "current": Style("#ffb74d", "#bf360c", width=4, padding=2),
    # a collapsed module call in a trace, in the same three states (padding applies to each row,
    # so these keep one border width for all three)
    "module_pending": Style("#f4f4f4", "#b0b0b0", width=2, dashed=True, text="#707070"),
    "module_done": Style("#c8e6c9", "#2e7d32", width=2),
    "module_current": Style("#ffb74d", "#bf360c", width=2),
}
GRAD_COLOR = "#a3322c"  # gradients: the same red as the arrows of the backward view
MUTED_COLOR = "#8a8a8a"
CLUSTER_STYLE = {
    "style": "rounded,dashed",
    "color": "#6a4fb3",
    "fontcolor": "#4b3590",
    "fontsize": "11",
    "labeljust": "l",
    "margin": "10",
}


def text(value: str) -> str:
    """Plain text for an HTML-like label: markup characters and backslashes kept literal."""
    return html.escape(graphviz.escape(value), quote=False)


@dataclass(frozen=True)
class Row:
    """One line of a node's label."""

    content: str  # plain text
    bold: bool = False
    color: str | None = None
    min_width: float | None = None  # points: keeps a node's size the same in every frame of a trace

    def markup(self) -> str:
        body = text(self.content)
        if self.bold:
            body = f"<B>{body}</B>"
        if self.color is not None:
            body = f'<FONT COLOR="{self.color}">{body}</FONT>'
        width = f' WIDTH="{round(self.min_width)}"' if self.min_width else ""
        return f"<TR><TD{width}>{body}</TD></TR>"


def table(rows: Sequence[Row | str], kind: str) -> str:
    """An HTML-like label: the rows, framed in the style of `kind`."""
    return _table(tuple(rows), kind)


@functools.lru_cache(maxsize=4096)  # big graphs repeat the same few labels ("neg", "(2,) float32")
def _table(rows: tuple[Row | str, ...], kind: str) -> str:
    style = STYLES[kind]
    padding = 1 if style.font_size < FONT_SIZE else style.padding
    dashed = ",dashed" if style.dashed else ""
    frame = (
        f'BORDER="{style.width}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="{padding}" '
        f'STYLE="rounded{dashed}" BGCOLOR="{style.fill}" COLOR="{style.border}"'
    )
    body = "".join((Row(r) if isinstance(r, str) else r).markup() for r in rows)
    label = f"<TABLE {frame}>{body}</TABLE>"
    if style.text != "#000000" or style.font_size != FONT_SIZE:
        label = f'<FONT COLOR="{style.text}" POINT-SIZE="{style.font_size}">{label}</FONT>'
    return f"<{label}>"


def number(value: float) -> str:
    """3 significant digits, and never "-0"."""
    return f"{value + 0.0:.3g}"


def summary(array: np.ndarray) -> str:
    """A few values of a small array, min/mean/max of a large one."""
    if array.size == 0:
        return "(empty)"
    if array.size <= SMALL_TENSOR:
        # No padding: NumPy pads values to align columns on a terminal, which only adds stray
        # spaces in a one-line label.
        formatted = np.array2string(
            array,
            separator=", ",
            max_line_width=1_000_000,
            formatter={"float_kind": number, "bool": str},
        )
        return " ".join(formatted.split())
    if array.dtype.kind == "b":
        return f"{int(array.sum())} of {array.size} true"
    return f"min {number(array.min())}  mean {number(array.mean())}  max {number(array.max())}"


_dtype_names: dict[np.dtype, str] = {}


def shape_dtype(array: np.ndarray) -> str:
    dtype = array.dtype
    name = _dtype_names.get(dtype)
    if name is None:  # str(dtype) is slow enough to show up on huge graphs
        name = _dtype_names[dtype] = str(dtype)
    return f"{array.shape} {name}"


def backward_name(op: str) -> str:
    """`matmul` -> `MatmulBackward`, `scatter_add` -> `ScatterAddBackward` (PyTorch's grad_fn style)."""
    return "".join(part.capitalize() for part in op.split("_")) + "Backward"


# Approximate glyph widths of Helvetica (and Arial, Liberation Sans), in em, by kind of character;
# anything else (∂, ⊙, subscripts, ✓) is taken as wide, since it comes from a fallback font.
_NARROW, _MEDIUM, _WIDE = set(" .,:;!|'ilj[]/\\"), set("()-frtI"), set("mwMW%")


def _glyph(char: str) -> float:
    if char in _NARROW:
        return 0.28
    if char in _MEDIUM:
        return 0.34
    if char.isascii():
        if char.isdigit() or char.islower():
            return 0.56
        return 0.86 if char in _WIDE else 0.70
    return 0.80


def text_width(content: str, font_size: float = FONT_SIZE, bold: bool = False) -> float:
    """A slightly generous estimate of the width of a line of text, in points: a trace gives each
    node the width of its widest text over all frames, so that nodes keep their size and the
    picture does not move from one frame to the next."""
    return 1.1 * (1.08 if bold else 1.0) * font_size * sum(_glyph(c) for c in content) + 4
