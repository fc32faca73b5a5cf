"""The course pages as data: their code blocks, the outputs they print, and their notebooks.

One reader for everything that runs a page: the tests (which execute every page as a notebook
and compare what each block prints with the ```text block shown after it), the MkDocs hook
(which offers each page as a notebook) and `python docs/hooks/pages.py` (which writes the
notebooks into notebooks/).

The conventions a page follows, all invisible on the site:

- A ```python block is code that runs, top to bottom, in one namespace per page.
- A ```text block right after a ```python block (blank lines between are fine) is that block's
  printed output, compared with what it really prints: the text must match (runs of spaces
  count as one), and every number must match to one unit in its last printed digit unless the
  page states another tolerance just before the output:
  `<!-- docs-test: output rtol=0.3 -->` (relative) or `<!-- docs-test: output atol=1e-9 -->`.
- `??? success "Solution"` opens a folded solution (an admonition of pymdownx.details); its
  ```python blocks run with the page, after the blocks above them.
- `<!-- docs-test: needs-data mnist (why) -->`, `<!-- docs-test: needs-program dot (why) -->` or
  `<!-- docs-test: needs-path some/file (why) -->`: the page needs a dataset (found through
  `$TINYGRAD_EDU_DATA`), a program, or a file (relative to docs/); without it the test skips and
  says why.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
REPO = DOCS.parent

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<lang>[\w+-]*)\s*$")
SOLUTION = re.compile(r'^(?P<indent> *)\?\?\?\+? +\w+ +"(?P<title>Solution[^"]*)"\s*$')
ADMONITION = re.compile(r'^(?P<indent> *)(?:!!!|\?\?\?\+?) +(?P<kind>\w+)(?: +"(?P<title>[^"]*)")?\s*$')
TOLERANCE = re.compile(r"^ *<!--\s*docs-test:\s*output\s+(?P<settings>.*?)\s*-->\s*$")
NEEDS = re.compile(r"<!--\s*docs-test:\s*needs-(?P<kind>data|program|path)\s+(?P<what>\S+)\s*(?P<why>.*?)\s*-->")
COMMENT = re.compile(r"<!--.*?-->\n?", re.DOTALL)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b")


@dataclass
class Output:
    """A ```text block that shows what the block before it prints."""

    line: int  # line of the page where the text starts (1-based)
    text: str
    rtol: float = 0.0
    atol: float | None = None  # None: one unit in the last printed digit of each number


@dataclass
class Block:
    """A ```python block of a page."""

    line: int  # line of the page of its first code line (1-based)
    code: str  # without the indentation it has inside a solution
    solution: bool = False  # inside a folded `??? success "Solution"`
    output: Output | None = None


@dataclass
class Need:
    kind: str  # "data" (a dataset folder in $TINYGRAD_EDU_DATA), "program" or "path" (relative to docs/)
    what: str
    why: str


@dataclass
class Page:
    path: Path
    text: str
    blocks: list[Block] = field(default_factory=list)
    needs: list[Need] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class _Item:
    """One piece of a page, in order: a line of prose, a fenced block, or a solution's edge."""

    kind: str  # "line", "fence", "solution-start", "solution-end"
    line: int  # 1-based line of the page (for a fence: its first content line)
    raw: list[str]  # the page's lines for it, as written
    indent: int = 0
    lang: str = ""
    body: str = ""  # a fence's content, without its indentation
    solution_indent: int | None = None  # the indentation of the open `??? ... "Solution"`, if any


def _items(text: str, name: str = "page") -> list[_Item]:
    lines = text.split("\n")
    items: list[_Item] = []
    solution_indent: int | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip(" "))
        if solution_indent is not None and line.strip() and indent <= solution_indent:
            items.append(_Item("solution-end", i + 1, []))
            solution_indent = None
        if match := SOLUTION.match(line):
            if solution_indent is not None:
                raise ValueError(f"{name}:{i + 1}: a solution inside a solution")
            items.append(_Item("solution-start", i + 1, [line], indent))
            solution_indent = len(match["indent"])
            i += 1
            continue
        if match := FENCE.match(line):
            fence, start = match["fence"], i
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                i += 1
            if i == len(lines):
                raise ValueError(f"{name}:{start + 1}: a {fence}{match['lang']} block is never closed")
            body = "".join(_dedent(lines[j], indent) + "\n" for j in range(start + 1, i))
            items.append(_Item("fence", start + 2, lines[start : i + 1], indent, match["lang"], body, solution_indent))
        else:
            items.append(_Item("line", i + 1, [line], indent, solution_indent=solution_indent))
        i += 1
    if solution_indent is not None:
        items.append(_Item("solution-end", len(lines), []))
    return items


def read_page(path: Path) -> Page:
    """Parse a page: its ```python blocks (with the output each shows) and what it needs."""
    text = path.read_text(encoding="utf-8")
    page = Page(path=path, text=text, needs=[Need(*m.groups()) for m in NEEDS.finditer(text)])
    waiting: Block | None = None  # a python block whose output may follow
    tolerance: dict[str, float] = {}
    for item in _items(text, path.name):
        if item.kind == "fence" and item.lang == "python":
            if item.indent and item.solution_indent is None:
                raise ValueError(f"{path.name}:{item.line}: an indented ```python block outside a solution")
            waiting = Block(line=item.line, code=item.body, solution=item.solution_indent is not None)
            page.blocks.append(waiting)
            tolerance = {}
        elif item.kind == "fence" and item.lang == "text" and waiting is not None:
            waiting.output = Output(line=item.line, text=item.body, **tolerance)  # type: ignore[arg-type]
            waiting = None
        elif item.kind == "line" and (match := TOLERANCE.match(item.raw[0])):
            for setting in match["settings"].split():
                key, _, value = setting.partition("=")
                if key not in ("rtol", "atol"):
                    raise ValueError(f"{path.name}:{item.line}: unknown output setting {setting!r} (rtol=, atol=)")
                tolerance[key] = float(value)
        elif item.kind != "line" or item.raw[0].strip():
            waiting = None
    return page


def _dedent(line: str, indent: int) -> str:
    return line[indent:] if line[:indent].strip() == "" else line.lstrip()


# ------------------------------------------------------------------------------ outputs


def output_mismatch(expected: Output, actual: str) -> str | None:
    """None when `actual` (what the block printed) matches the page's text, else why not.

    >>> output_mismatch(Output(1, "loss 0.356, step 3\\n"), "loss   0.3562, step 3\\n") is None
    True
    >>> print(output_mismatch(Output(1, "loss 0.356\\n"), "loss 0.366\\n"))
    line 1: 0.366 where the page shows 0.356 (allowed: ±0.001)
    """
    want_lines, got_lines = expected.text.strip("\n").split("\n"), actual.strip("\n").split("\n")
    if len(want_lines) != len(got_lines):
        return f"{len(got_lines)} lines printed where the page shows {len(want_lines)}"
    for number, (want, got) in enumerate(zip(want_lines, got_lines), start=1):
        want_words, got_words = _words(NUMBER.sub(" # ", want)), _words(NUMBER.sub(" # ", got))
        if want_words != got_words:
            return f"line {number}: {got.strip()!r} where the page shows {want.strip()!r}"
        for want_number, got_number in zip(NUMBER.findall(want), NUMBER.findall(got)):
            allowed = _allowed(want_number, expected)
            a, b = float(got_number), float(want_number)
            if not (a == b or abs(a - b) <= allowed or (math.isnan(a) and math.isnan(b))):
                return f"line {number}: {got_number} where the page shows {want_number} (allowed: ±{allowed:.2g})"
    return None


def _words(line: str) -> list[str]:
    return line.split()


def _allowed(printed: str, output: Output) -> float:
    """How far a number may be from `printed`: the stated tolerance, or one unit in its last digit."""
    value = float(printed)
    if output.atol is not None:
        last_digit = output.atol
    else:
        mantissa, _, exponent = printed.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        last_digit = 10.0 ** (int(exponent or 0) - decimals)
    return max(last_digit, output.rtol * abs(value)) * (1 + 1e-9) if math.isfinite(value) else 0.0


# ------------------------------------------------------------------------------ notebooks

NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def notebook(page: Page) -> dict:
    """The page as a Jupyter notebook (nbformat 4): its prose as Markdown cells (which render the
    `$...$` math), its ```python blocks as code cells in order, and each exercise's solution as
    code cells with their source folded (JupyterLab's "source_hidden"), after an empty cell for
    the learner's own attempt. Printed outputs are left out: running the notebook shows them."""
    cells: list[dict] = []
    prose: list[str] = []  # Markdown waiting for a cell (inside a solution: its notes)
    in_solution = False
    note_indent: int | None = None  # inside a `!!! note`: its lines become a block quote
    after_code = False  # a ```text right after a code cell is its output, which running prints

    def flush() -> None:
        text = "\n".join(prose).strip("\n")
        if text.strip():
            if in_solution:
                text = f"<details><summary>Solution notes</summary>\n\n{text}\n\n</details>"
            cells.append(_cell("markdown", _notebook_links(text)))
        prose.clear()

    for item in _items(COMMENT.sub("", page.text), page.name):
        if item.kind == "solution-start":
            flush()
            attempt = _cell("code", "# Your attempt here (the solution is in the folded cell below)\n")
            attempt["metadata"]["tags"] = ["attempt"]
            cells.append(attempt)
            in_solution, after_code = True, False
            continue
        if item.kind == "solution-end":
            flush()
            in_solution, after_code = False, False
            continue
        if item.kind == "fence" and item.lang == "python":
            flush()
            cells.append(_cell("code", item.body, hidden=in_solution))
            after_code = True
            continue
        if item.kind == "fence" and item.lang == "text" and after_code:
            after_code = False
            continue
        if item.kind == "fence" or item.raw[0].strip():
            after_code = False
        for line in item.raw:
            indent = len(line) - len(line.lstrip(" "))
            if note_indent is not None and line.strip() and indent < note_indent + 4:
                note_indent = None
            if note_indent is None and (match := ADMONITION.match(line)):
                note_indent = indent
                prose.append(f"> **{match['title'] or match['kind'].capitalize()}**")
                continue
            if note_indent is not None:
                prose.append(("> " + _dedent(line, note_indent + 4)).rstrip())
            else:
                prose.append(_dedent(line, item.solution_indent + 4) if in_solution else line)
    flush()
    return {"cells": cells, "metadata": NOTEBOOK_METADATA, "nbformat": 4, "nbformat_minor": 5}


def _notebook_links(text: str) -> str:
    """Links between pages point to the notebooks; pictures to the site's copies in docs/images."""
    text = re.sub(r"\]\((?!https?:)([\w-]+)\.md(#[\w-]*)?\)", r"](\1.ipynb\2)", text)
    return re.sub(r"\]\((images/[^)]+)\)", r"](../docs/\1)", text)


def _cell(kind: str, source: str, hidden: bool = False) -> dict:
    cell: dict = {"cell_type": kind, "id": "", "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    if hidden:
        cell["metadata"] = {"jupyter": {"source_hidden": True}, "tags": ["solution"]}
    return cell


def notebook_json(page: Page) -> str:
    """The notebook as the text of an .ipynb file, with stable cell ids (diffs stay small)."""
    nb = notebook(page)
    for number, cell in enumerate(nb["cells"]):
        cell["id"] = f"{page.path.stem}-{number}"
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def course_pages() -> list[Path]:
    """The tutorial pages (everything but the API reference, which is generated from docstrings)."""
    return sorted(path for path in DOCS.glob("*.md") if path.name != "api.md")


def write_notebooks(folder: Path) -> list[Path]:
    """Write one notebook per course page into `folder` (atomically, each file)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in course_pages():
        target = folder / f"{path.stem}.ipynb"
        temporary = target.with_suffix(".ipynb.tmp")
        temporary.write_text(notebook_json(read_page(path)), encoding="utf-8")
        temporary.replace(target)
        written.append(target)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "notebooks"
    for notebook_path in write_notebooks(out):
        print(notebook_path.relative_to(Path.cwd()) if notebook_path.is_relative_to(Path.cwd()) else notebook_path)
