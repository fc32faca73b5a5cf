"""Every ```python block of every docs/*.md page runs: in order, page by page, each page in one
fresh namespace, with the docs/ folder as the working directory (pictures go to docs/images/).

The blocks carry `assert`s for what the prose claims, so running them checks the page as well as
the code. A failure names the page and the line of the Markdown file.

A page says what it needs in an HTML comment (invisible on the site); without it, the page is
skipped with that reason:

    <!-- docs-test: needs-path ../../shared/data/mnist (the MNIST IDX files) -->
    <!-- docs-test: needs-program dot (Graphviz renders the pictures; make dot) -->

Paths are relative to docs/.
"""

from __future__ import annotations

import re
import shutil
import traceback
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.grad_mode import switches

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
NEEDS = re.compile(r"<!--\s*docs-test:\s*needs-(path|program)\s+(\S+)\s*(.*?)\s*-->")
IMAGE = re.compile(r"!\[[^\]]*\]\((images/[^)\s]+)\)")

# Pages with a runner of their own, which checks more than the blocks (printed results, the
# namespace); running them here too would only run them twice.
OWN_RUNNER = {
    "computational-graph.md": "tests/test_docs_graph.py",
    "gradient-checking.md": "tests/test_docs_gradcheck.py",
}
MAX_IMAGE_BYTES = 200_000  # pictures are committed: keep them small


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(Markdown line number of the block's first code line, code) for every ```python block."""
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in BLOCK.finditer(text)]


PAGES = sorted(path.name for path in DOCS.glob("*.md"))


def test_every_page_is_run_somewhere() -> None:
    assert "index.md" in PAGES
    for page, runner in OWN_RUNNER.items():
        assert (DOCS.parent / runner).exists(), f"{page} is left to {runner}, which is missing"


@pytest.fixture
def clean_state(monkeypatch: pytest.MonkeyPatch):
    """Each page starts as a fresh interpreter would, and leaves nothing behind."""
    monkeypatch.chdir(DOCS)
    try:
        import matplotlib

        matplotlib.use("Agg")  # pages save their figures; nothing opens a window
    except ImportError:
        pass
    dtype = tg.get_default_dtype()
    state = (switches.grad_enabled, switches.strict_shapes, switches.detect_anomaly)
    yield
    tg.set_default_dtype(dtype)
    switches.grad_enabled, switches.strict_shapes, switches.detect_anomaly = state
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:
        pass


@pytest.mark.parametrize("page", [p for p in PAGES if p not in OWN_RUNNER])
def test_page_runs_top_to_bottom(page: str, clean_state: None, capsys: pytest.CaptureFixture[str]) -> None:
    path = DOCS / page
    text = path.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert text.count("```python") == len(blocks), f"{page}: a ```python block was not parsed (check its fences)"
    for kind, what, reason in NEEDS.findall(text):
        missing = shutil.which(what) is None if kind == "program" else not (DOCS / what).exists()
        if missing:
            pytest.skip(f"{page} needs {kind} {what} {reason}".rstrip())
    images_before = {image: _mtime(DOCS / image) for image in IMAGE.findall(text)}
    namespace: dict = {"__name__": "__main__"}
    np.random.seed(0)  # only for pages that (wrongly) use NumPy's global generator
    for number, (first_line, code) in enumerate(blocks, start=1):
        # Padding with newlines makes a traceback show the Markdown file's own line numbers.
        compiled = compile("\n" * (first_line - 1) + code, str(path), "exec")
        failure = None
        try:
            exec(compiled, namespace)
        except Exception as error:
            line = _markdown_line(error, path) or first_line
            failure = (
                f"docs/{page}:{line}: python block {number} (starting at line {first_line}) failed at\n"
                f"    {text.splitlines()[line - 1].strip()}\n"
                f"{''.join(traceback.format_exception(type(error), error, error.__traceback__)[1:])}"
            )
        if failure is not None:  # outside the except block: no "during handling" chain in the report
            pytest.fail(failure, pytrace=False)
    for image, before in images_before.items():
        file = DOCS / image
        assert file.exists(), f"docs/{page} shows {image}, which nothing wrote"
        assert _mtime(file) != before, f"docs/{page} shows {image}, but its code did not write it"
        assert 1_000 < file.stat().st_size <= MAX_IMAGE_BYTES, f"{image}: {file.stat().st_size} bytes"


def _mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def _markdown_line(error: BaseException, path: Path) -> int | None:
    """The last line of the page in the traceback: where the page's own code went wrong."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(path)]
    return lines[-1] if lines else None
