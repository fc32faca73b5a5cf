"""The backprop player: one self-contained HTML file that steps through a `BackwardTrace`.

The forward graph comes first, then one frame per step of the backward pass: the picture of
`trace.draw(step)` as inline SVG beside the step's paragraph of `trace.explain()`. Buttons, a
slider, the arrow keys, play/pause and the URL fragment `#step=N` move between frames. There is no
external resource of any kind (no script, style sheet, font or image is fetched), so the file
works offline and can be mailed or attached to a course page. The page itself, its style and its
script are in `player_files/` next to this module.

A whole MNIST training step (a few dozen ops) gives a few dozen frames. A longer pass is played
in at most `max_frames` frames: consecutive steps then share a frame, whose text has all their
paragraphs, and `#step=N` opens the frame holding step N. For networks too big to draw op by op,
pass `collapse_modules=True`.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import graphviz

from tinygrad_edu.viz.drawing import DotNotFoundError
from tinygrad_edu.viz.labels import GRAD_COLOR, STYLES

if TYPE_CHECKING:
    from tinygrad_edu.viz.trace import BackwardTrace

MAX_FRAMES = 100
INTERVAL_MS = 1500  # between frames when playing


def _read(name: str) -> str:
    return resources.files("tinygrad_edu.viz").joinpath("player_files", name).read_text(encoding="utf-8")


def _groups(steps: int, max_frames: int) -> list[range]:
    """The steps shown by each frame after the forward graph: one each, or runs of them."""
    if max_frames < 2:
        raise ValueError(f"to_html: max_frames must be at least 2 (the forward graph and a step), got {max_frames}")
    per_frame = max(1, math.ceil(steps / (max_frames - 1)))
    return [range(start, min(start + per_frame, steps)) for start in range(0, steps, per_frame)]


def render_svgs(sources: list[str]) -> list[str]:
    """Lay out and draw DOT graphs as SVG, one `dot` process each, a few at a time.

    One process per graph: `dot` given several graphs in one input carries state from one to
    the next, and the same graph can come out laid out differently (the frames would jump)."""

    def render(source: str) -> str:
        try:
            out = graphviz.pipe("dot", "svg", source.encode("utf-8"), quiet=True).decode("utf-8")
        except graphviz.ExecutableNotFound:
            raise DotNotFoundError() from None
        return out[out.index("<svg") :]  # without the XML prolog and DOCTYPE, to sit inside the page

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(render, sources))


def _legend() -> str:
    entries = [
        ("parameter", "parameter"),
        ("input", "input / constant"),
        ("intermediate", "intermediate"),
        ("output", "output (L)"),
        ("pending", "op not reached yet"),
        ("done", "op done ✓"),
        ("current", "▶ op running now"),
    ]
    spans = []
    for kind, words in entries:
        style = STYLES[kind]
        border = f"{style.width}px {'dashed' if style.dashed else 'solid'} {style.border}"
        spans.append(
            f'<span><span class="swatch" style="background:{style.fill};border:{border}">&nbsp;</span>'
            f"{html.escape(words)}</span>"
        )
    spans.append(f'<span><span style="color:{GRAD_COLOR}">∂L/∂x</span>: the gradient reached so far</span>')
    return "".join(spans)


def player_html(
    trace: BackwardTrace,
    *,
    max_frames: int = MAX_FRAMES,
    title: str | None = None,
    interval_ms: int = INTERVAL_MS,
    **draw_graph_kwargs: Any,
) -> str:
    """The player's HTML page (see `write_player`)."""
    groups = _groups(len(trace.steps), max_frames)
    # The legend is drawn once, in the page, instead of in every picture.
    drawings = [trace._draw(-1, draw_graph_kwargs, legend=False)]
    drawings += [trace._draw(group[-1], draw_graph_kwargs, legend=False) for group in groups]
    svgs = render_svgs([d.source for d in drawings])

    root = trace.symbol(trace.root)
    ops = len(trace.steps)
    intro = (
        f"The forward pass recorded the graph on the left. backward() starts at {root} with the seed "
        f"∂L/∂{root} = {_seed_text(trace)} and visits the ops in reverse topological order: an op "
        "runs once every op that used its result has run, so the gradient that arrives at it is "
        f"complete. {ops} step{'s' if ops != 1 else ''} follow, one per op.\n\n"
        "Press → (or next) for step 0, or play."
    )
    frames = [{"title": "The forward graph", "text": intro, "first_step": -1, "last_step": -1, "focus": None}]
    for group, drawing in zip(groups, drawings[1:]):
        first, last = group[0], group[-1]
        if first == last:
            heading = f"Step {first}: {trace.steps[first].op}"
        else:
            heading = f"Steps {first}–{last} ({len(group)} steps)"
        text = "\n\n".join(trace.step_text(i) for i in group)
        frames.append({"title": heading, "text": text, "first_step": first, "last_step": last, "focus": drawing.focus})
    data = {"frames": frames, "interval": interval_ms}

    blocks = [
        f'<div class="frame" data-frame="{i}"{"" if i == 0 else " hidden"}>{svg}</div>' for i, svg in enumerate(svgs)
    ]
    page_title = title or f"Watching backprop: {ops} steps from {root}"
    return Template(_read("player.html")).substitute(
        title=html.escape(page_title),
        css=_read("player.css"),
        js=_read("player.js"),
        frames="\n".join(blocks),
        legend=_legend(),
        # JSON inside <script>: "</" must not end the script element early
        data=json.dumps(data, ensure_ascii=False).replace("</", "<\\/"),
    )


def _seed_text(trace: BackwardTrace) -> str:
    seed = trace.seed
    return f"{float(seed.reshape(())):g}" if seed.size == 1 else f"the given gradient of shape {seed.shape}"


def write_player(trace: BackwardTrace, path: Path, **options: Any) -> Path:
    """Write `player_html(trace, **options)` to `path` (atomically: a reader never sees half a file)."""
    page = player_html(trace, **options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(page)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def notebook_html(trace: BackwardTrace, height: int = 640) -> str:
    """The player in a Jupyter cell: inside an iframe, so that its ids, style and script stay apart
    from the notebook's and from other players on the page."""
    page = player_html(trace)
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
        f'style="width: 100%; height: {height}px; border: 1px solid #ddd" '
        'title="backprop player"></iframe>'
    )
