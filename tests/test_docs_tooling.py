"""The tools behind the course: the MathML hook, the page reader, the output comparison and the
notebooks made from a page (docs/hooks/)."""

from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path

import pytest

HOOKS = Path(__file__).resolve().parent.parent / "docs" / "hooks"
sys.path.insert(0, str(HOOKS))
import pages as course  # noqa: E402

markdown = pytest.importorskip("markdown", reason="the docs tools are missing: pip install -e '.[docs]'")
mathml = pytest.importorskip("mathml", reason="latex2mathml is missing: pip install -e '.[docs]'")


def test_docstring_examples_of_the_hooks() -> None:
    for module in (course, mathml):
        failures, tried = doctest.testmod(module)
        assert tried > 0 and failures == 0, module.__name__


def render(text: str) -> str:
    return markdown.markdown(text, extensions=["fenced_code", mathml.MathMLExtension()])


def test_inline_and_displayed_formulas_become_mathml_and_code_stays_code() -> None:
    html = render("Let $\\delta_2 = \\hat Y - Y$ here.\n\n$$\\frac{a}{b}$$\n\n`$x$` costs $5 and $6.\n")
    assert html.count("<math ") == 2
    assert '<div class="math-display"><math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html
    assert "<mfrac>" in html and "<code>$x$</code>" in html and "costs $5 and $6" in html
    fenced = render("```python\nprint('$a$')\n```\n")
    assert "<math" not in fenced and "$a$" in fenced


def test_browser_friendly_mathml() -> None:
    assert "𝟙" in mathml.to_mathml("\\mathbb{1}[z > 0]", "inline")  # no mathvariant a browser ignores
    relu = mathml.to_mathml("\\operatorname{relu}(z)", "inline")
    assert "<mi>relu</mi><mo stretchy" in relu  # a name, no operator spacing before its parenthesis
    assert '<mi>log</mi><mspace width="0.1667em">' in mathml.to_mathml("\\log x", "inline")  # "log x"
    matrix = mathml.to_mathml("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "block")
    assert '<mtable class="matrix">' in matrix and "&#x00028;" not in matrix  # brackets drawn by CSS


def test_a_bad_formula_stops_the_build_with_the_formula() -> None:
    with pytest.raises(mathml.MathError, match=re.escape("$x^$")):
        mathml.to_mathml("x^", "inline")
    with pytest.raises(mathml.MathError, match=re.escape("unknown command \\deltaa")):
        mathml.to_mathml("\\deltaa_2", "inline")  # a typo would otherwise show as raw text


def test_the_reader_pairs_blocks_with_their_outputs_and_tolerances(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# T\n\n```python\nprint(1)\n```\n\n<!-- docs-test: output rtol=0.5 -->\n\n```text\n1\n```\n\n"
        "Prose.\n\n```text\nnot an output\n```\n\n## Exercises\n\n"
        '??? success "Solution"\n\n    ```python\n    print(2)\n    ```\n\n    ```text\n    2\n    ```\n\n'
        "After.\n",
        encoding="utf-8",
    )
    parsed = course.read_page(page)
    first, solution = parsed.blocks
    assert (first.code, first.output.text, first.output.rtol, first.solution) == ("print(1)\n", "1\n", 0.5, False)
    assert (solution.code, solution.output.text, solution.solution) == ("print(2)\n", "2\n", True)
    notebook = course.notebook(parsed)
    kinds = [(cell["cell_type"], cell["metadata"].get("tags")) for cell in notebook["cells"]]
    assert kinds == [
        ("markdown", None),
        ("code", None),
        ("markdown", None),
        ("code", ["attempt"]),
        ("code", ["solution"]),
        ("markdown", None),
    ]
    assert notebook["cells"][4]["metadata"]["jupyter"]["source_hidden"] is True
    assert "not an output" in notebook["cells"][2]["source"] and "<!--" not in str(notebook)


def test_outputs_compare_text_exactly_and_numbers_to_their_printed_digits() -> None:
    shown = course.Output(1, "loss 0.356 after 3 steps\n")
    assert course.output_mismatch(shown, "loss 0.357 after 3 steps\n") is None  # one unit in the last digit
    assert "0.366" in course.output_mismatch(shown, "loss 0.366 after 3 steps\n")
    assert "where the page shows" in course.output_mismatch(shown, "loss 0.356 after 4 steps, oops\n")
    assert "2 lines printed" in course.output_mismatch(shown, "a\nb\n")
    assert course.output_mismatch(course.Output(1, "1.4 kB\n", rtol=0.5), "1.9 kB\n") is None
    assert course.output_mismatch(course.Output(1, "2e-10\n", atol=1e-8), "7e-09\n") is None
    assert course.output_mismatch(course.Output(1, "nan inf\n"), "nan inf\n") is None
