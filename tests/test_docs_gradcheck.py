"""The code of docs/gradient-checking.md runs: every ```python block, in order, as one script.

The blocks carry `assert`s for what the prose claims (central differences are O(eps²), float32
finite differences raise false alarms, ...), so running them checks the page as well as the code.
A failure points at the line of the Markdown file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg

DOC = Path(__file__).resolve().parent.parent / "docs" / "gradient-checking.md"
BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number of the block's first code line, code) for every ```python block, in order."""
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in BLOCK.finditer(text)]


def test_blocks_are_found_and_check_their_claims() -> None:
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    assert sum("assert" in code for _, code in blocks) >= 10  # the page checks what it says
    assert DOC.read_text(encoding="utf-8").count("```python") == len(blocks), "a ```python block was not parsed"


@pytest.fixture
def restore_default_dtype():
    previous = tg.get_default_dtype()
    yield
    tg.set_default_dtype(previous)


def test_the_page_runs_top_to_bottom(restore_default_dtype: None, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict = {"__name__": "gradient_checking_page"}
    for first_line, code in python_blocks(DOC.read_text(encoding="utf-8")):
        # Padding with newlines makes a traceback show the Markdown file's own line numbers.
        exec(compile("\n" * (first_line - 1) + code, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    # The key results the prose quotes.
    assert "backward() agrees with the hand-derived gradients" in out
    assert "check_module_grads: all 4 match finite differences" in out
    assert "not differentiable" in out and "straddled a kink" in out
    assert isinstance(namespace["report"], tg.gradient_check.GradcheckReport)
    assert np.isclose(namespace["relative_error"], 0, atol=1e-7)
