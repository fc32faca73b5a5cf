"""Every course page runs as the Jupyter notebook made from it, in a real kernel, and prints what
the page says it prints.

For each page in docs/ (the API reference aside) the notebook that `docs/hooks/pages.py` makes
from it, the same one a learner downloads, is executed with nbclient in one ipykernel session,
from the docs/ folder (pictures go to docs/images/). Then:

- every ```python block ran without error, the exercise solutions included (their `assert`s
  check what the text claims, so running them checks the page as well as the code);
- every ```text block shown after a ```python block matches what that block printed: the same
  text, and numbers equal to one unit in their last printed digit unless the page states another
  tolerance (see `docs/hooks/pages.py`);
- every picture the page shows was written by its code, and is small enough to commit.

A failure names the page and the line of the Markdown file. A page that needs the MNIST files
or Graphviz's `dot` says so in a comment, and is skipped with that reason when they are missing.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="nbclient is missing: pip install -e '.[test]'")
nbformat = pytest.importorskip("nbformat", reason="nbformat is missing: pip install -e '.[test]'")

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
sys.path.insert(0, str(DOCS / "hooks"))
import pages as course  # noqa: E402  (docs/hooks/pages.py: the one reader of the pages)

IMAGE = re.compile(r"!\[[^\]]*\]\((images/[^)\s]+)\)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_IMAGE_BYTES = 200_000  # pictures are committed: keep them small
PAGES = [path.name for path in course.course_pages()]


def shared_data_dir() -> Path | None:
    """The project's shared data folder (`shared/data` beside the repository or above it)."""
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def test_the_course_is_all_here() -> None:
    assert {"index.md", "forward-pass.md", "backprop.md", "gradient-checking.md"} <= set(PAGES)
    for name in PAGES:
        page = course.read_page(DOCS / name)
        assert page.text.count("```python") == len(page.blocks), f"{name}: a ```python block was not parsed"


@pytest.mark.parametrize("name", [name for name in PAGES if name not in ("index.md",)])
def test_every_page_ends_with_exercises_whose_solutions_run(name: str) -> None:
    page = course.read_page(DOCS / name)
    assert "## Exercises" in page.text, f"{name} has no exercises"
    solutions = [block for block in page.blocks if block.solution]
    assert solutions, f"{name}: no exercise has a solution with code for the tests to run"
    exercises = page.text[page.text.index("## Exercises") :]
    assert exercises.count('"Solution"') >= 2, f"{name}: fewer than two exercises with solutions"


def _skip_reason(page: course.Page) -> str | None:
    for need in page.needs:
        if need.kind == "program" and shutil.which(need.what) is None:
            return f"{page.name} needs the program {need.what} {need.why}".rstrip()
        if need.kind == "path" and not (DOCS / need.what).exists():
            return f"{page.name} needs {need.what} {need.why}".rstrip()
        if need.kind == "data":
            data = shared_data_dir()
            if data is None or not (data / need.what).is_dir():
                return f"{page.name} needs the {need.what} files (shared/data/{need.what}) {need.why}".rstrip()
    return None


def _stdout(cell) -> str:
    return "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("name") == "stdout")


def _error(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return ANSI.sub("", "\n".join(out.get("traceback", [])))
    return None


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the kernel inherits: the data folder, one BLAS thread, no windows."""
    data = shared_data_dir()
    if data is not None:
        monkeypatch.setenv("TINYGRAD_EDU_DATA", str(data))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # a quiet kernel start


@pytest.mark.parametrize("name", PAGES)
def test_page_runs_as_a_notebook_and_prints_what_it_shows(name: str, kernel_env: None) -> None:
    page = course.read_page(DOCS / name)
    if reason := _skip_reason(page):
        pytest.skip(reason)
    notebook = nbformat.from_dict(course.notebook(page))
    cells = [
        cell for cell in notebook.cells if cell.cell_type == "code" and "attempt" not in cell.metadata.get("tags", [])
    ]
    assert [cell.source for cell in cells] == [block.code for block in page.blocks], "the notebook is not the page"
    images_before = {image: _mtime(DOCS / image) for image in IMAGE.findall(page.text)}

    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(DOCS)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError:
        pass  # reported below, with the page's line
    for number, (cell, block) in enumerate(zip(cells, page.blocks), start=1):
        if traceback := _error(cell):
            where = re.findall(r"Cell In\[\d+\], line (\d+)", traceback)
            line = block.line + int(where[-1]) - 1 if where else block.line
            code_line = page.text.split("\n")[line - 1].strip()
            pytest.fail(f"docs/{name}:{line}: python block {number} failed at\n    {code_line}\n{traceback}", False)
        if block.output is not None:
            printed = _stdout(cell)
            if problem := course.output_mismatch(block.output, printed):
                pytest.fail(
                    f"docs/{name}:{block.output.line}: block {number} (line {block.line}) printed something else "
                    f"than the page shows: {problem}\n--- printed:\n{printed}--- the page:\n{block.output.text}",
                    False,
                )
    for image, before in images_before.items():
        file = DOCS / image
        assert file.exists(), f"docs/{name} shows {image}, which nothing wrote"
        assert _mtime(file) != before, f"docs/{name} shows {image}, but its code did not write it"
        assert 1_000 < file.stat().st_size <= MAX_IMAGE_BYTES, f"{image}: {file.stat().st_size} bytes"


def test_blocks_that_print_show_their_output() -> None:
    """A block whose output the page shows is compared; this lists the pages' shown outputs so a
    page cannot lose them all silently (a ```text after prose instead of after code)."""
    shown = sum(block.output is not None for name in PAGES for block in course.read_page(DOCS / name).blocks)
    assert shown >= 60, f"only {shown} printed outputs are shown (and checked) in the whole course"


def test_committed_notebooks_are_the_pages(tmp_path: Path) -> None:
    """notebooks/*.ipynb are made from the pages; a page changed without them is caught here."""
    fresh = {path.name: path.read_text(encoding="utf-8") for path in course.write_notebooks(tmp_path)}
    committed = {path.name: path.read_text(encoding="utf-8") for path in (REPO / "notebooks").glob("*.ipynb")}
    assert set(committed) == set(fresh), "notebooks/ does not hold one notebook per page: run make docs"
    stale = sorted(name for name in fresh if committed[name] != fresh[name])
    assert not stale, f"notebooks/ is older than the pages ({', '.join(stale)}): run make docs"
    for text in fresh.values():
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
        hidden = [cell for cell in notebook.cells if "solution" in cell.metadata.get("tags", [])]
        assert all(cell.metadata["jupyter"]["source_hidden"] for cell in hidden)


def _mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None
