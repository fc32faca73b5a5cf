"""Run the code of docs/computational-graph.md: every ```python block, in order, in one
namespace, from the docs/ folder (where its pictures go, into docs/images/)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGE = DOCS / "computational-graph.md"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.S | re.M)


def test_the_page_has_code_to_run():
    blocks = python_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    assert all(block.strip() for block in blocks)


@pytest.mark.skipif(shutil.which("dot") is None, reason="the page renders pictures: needs Graphviz's dot (make dot)")
def test_every_python_block_runs_top_to_bottom(monkeypatch, capsys):
    monkeypatch.chdir(DOCS)
    namespace: dict = {"__name__": "__docs__"}
    for number, block in enumerate(python_blocks(PAGE.read_text(encoding="utf-8")), start=1):
        try:
            exec(compile(block, f"{PAGE.name}, python block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"python block {number} of {PAGE.name} failed: {error!r}\n{block}") from error
    # Every picture the page shows was written by its code.
    for image in re.findall(r"\]\((images/[^)]+)\)", PAGE.read_text(encoding="utf-8")):
        assert (DOCS / image).stat().st_size > 1_000, image
