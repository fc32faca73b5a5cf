"""MkDocs hook: typeset `$...$` and `$$...$$` as MathML when the site is built.

Browsers render MathML themselves (Chromium since version 109, Firefox and Safari for longer),
so the formulas need no JavaScript, no web fonts and no network: the site works offline. The
same `$` syntax is what Jupyter renders in the notebooks made from these pages.

- `$\\delta_2 = \\hat Y - Y$` inside a paragraph is inline math. A `$` must not be followed by a
  space, nor closed by one, so "costs $5 and $6" stays text; write `\\$` for a literal dollar.
- A paragraph that starts with `$$` and ends with `$$` is a displayed formula, centred on its own.
- Code (inline or fenced) is never touched: its `$` stays a dollar.

A formula that LaTeX-to-MathML cannot convert stops the build with the page and the formula.
"""

from __future__ import annotations

import re
import unicodedata
from xml.etree import ElementTree

from latex2mathml.converter import convert
from markdown import Extension, Markdown
from markdown.blockprocessors import BlockProcessor
from markdown.inlinepatterns import InlineProcessor
from mkdocs.config.defaults import MkDocsConfig

# Opening `$` not escaped, not part of `$$`, not followed by a space; closing `$` not preceded
# by a space and not followed by a digit (so "$5 and $6" is not a formula). A formula may run
# over a line break of its paragraph.
INLINE_MATH = r"(?<![\\$])\$(?![\s$])((?:\\.|[^$\\])+?)(?<![\s\\])\$(?![\d$])"


# Browsers implement MathML Core, whose `mathvariant` knows only "normal": a double-struck 1 or a
# bold x must be written with the Unicode character itself (U+1D7D9 𝟙, U+1D431 𝐱).
VARIANTS = {"bold": "BOLD", "double-struck": "DOUBLE-STRUCK", "script": "SCRIPT", "fraktur": "FRAKTUR"}
STYLED = re.compile(r'<(mi|mn|mtext)([^>]*?) mathvariant="(' + "|".join(VARIANTS) + r')"([^>]*)>([^<]*)</\1>')


def _styled_character(char: str, variant: str) -> str:
    """`char` in `variant` as a Unicode mathematical alphanumeric symbol (itself when there is none)."""
    if not char.isascii() or not char.isalnum():
        return char
    kind = "DIGIT" if char.isdigit() else "CAPITAL" if char.isupper() else "SMALL"
    letter = unicodedata.name(char).split()[-1]  # "ONE" for "1", "R" for "R"
    for prefix in ("MATHEMATICAL ", ""):  # a few, like double-struck R, live among the letterlike symbols
        try:
            return unicodedata.lookup(f"{prefix}{VARIANTS[variant]} {kind} {letter}")
        except KeyError:
            continue
    return char


# A function name (\operatorname{relu}, \log, \max) is an upright identifier, as TeX sets it:
# followed by a thin space, as in "log x", except right before an opening parenthesis, as in
# "relu(z)". latex2mathml writes some as operators (<mo>relu</mo>), which browsers space on both
# sides ("relu (z)"), and others as identifiers with no space after them ("logx").
FUNCTION_NAME = re.compile(r"<m[io]>([A-Za-z]{2,})</m[io]>(?!<mo stretchy=\"false\">&#x00028;)")
FUNCTION_NAME_BEFORE_PARENTHESIS = re.compile(r"<mo>([A-Za-z]{2,})</mo>")


def _function_names(mathml: str) -> str:
    mathml = FUNCTION_NAME.sub(r'<mi>\1</mi><mspace width="0.1667em"></mspace>', mathml)
    return FUNCTION_NAME_BEFORE_PARENTHESIS.sub(r"<mi>\1</mi>", mathml)


# A matrix's parentheses must stretch to its height, which a browser can do only with a math font
# (an OpenType MATH table) that many systems lack. Brackets drawn by CSS (`.matrix` in
# stylesheets/extra.css) work with any font, so pmatrix's parentheses become a class.
MATRIX = re.compile(r"<mo>&#x00028;</mo><mtable>(.*?)</mtable><mo>&#x00029;</mo>", re.DOTALL)


def _matrices(mathml: str) -> str:
    return MATRIX.sub(r'<mtable class="matrix">\1</mtable>', mathml)


def _unicode_variants(mathml: str) -> str:
    return STYLED.sub(
        lambda m: f"<{m[1]}{m[2]}{m[4]}>{''.join(_styled_character(c, m[3]) for c in m[5])}</{m[1]}>", mathml
    )


class MathError(ValueError):
    """A formula that could not be converted to MathML."""


def to_mathml(latex: str, display: str) -> str:
    """MathML for one formula, `display` "inline" or "block".

    >>> to_mathml("x^2", "inline")[-70:]
    'display="inline"><mrow><msup><mi>x</mi><mn>2</mn></msup></mrow></math>'
    """
    try:
        result = convert(latex, display=display)
    except Exception as error:  # latex2mathml raises many kinds; each means "bad formula"
        raise MathError(f"cannot typeset the formula ${latex}$: {type(error).__name__}: {error}") from error
    if unknown := re.findall(r"<m[io]>(\\[A-Za-z]+)</m[io]>|<mtext>[^<]*(\\.)", result):
        # latex2mathml passes a command it does not know through as text: a typo, shown raw
        names = ", ".join("".join(match) for match in unknown)
        raise MathError(f"cannot typeset the formula ${latex}$: unknown command {names} (inside \\text, too)")
    return _matrices(_function_names(_unicode_variants(result)))


class _InlineMath(InlineProcessor):
    def handleMatch(self, m: re.Match[str], data: str) -> tuple[str, int, int]:  # type: ignore[override]
        return self.md.htmlStash.store(to_mathml(m.group(1), "inline")), m.start(0), m.end(0)


class _DisplayMath(BlockProcessor):
    """A block (paragraph) `$$ ... $$`, at any depth (inside admonitions and lists too)."""

    def test(self, parent: ElementTree.Element, block: str) -> bool:
        text = block.strip()
        return len(text) > 4 and text.startswith("$$") and text.endswith("$$")

    def run(self, parent: ElementTree.Element, blocks: list[str]) -> None:
        latex = blocks.pop(0).strip()[2:-2].strip()
        div = ElementTree.SubElement(parent, "div", {"class": "math-display"})
        div.text = self.parser.md.htmlStash.store(to_mathml(latex, "block"))


class MathMLExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        if "$" not in md.ESCAPED_CHARS:
            md.ESCAPED_CHARS.append("$")  # `\$` is a literal dollar
        # After code spans (190), before backslash escapes (180), so `\,` etc. reach latex2mathml.
        md.inlinePatterns.register(_InlineMath(INLINE_MATH, md), "mathml_inline", 185)
        md.parser.blockprocessors.register(
            _DisplayMath(md.parser), "mathml_display", 75
        )  # after indented code (80), before paragraphs (10)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config.markdown_extensions.append(MathMLExtension())
    return config
