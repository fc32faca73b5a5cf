"""MkDocs hook: show the `>>>` examples of docstrings as code in the API reference.

The package's docstrings carry doctests at their top level (not in an "Examples:" section),
which Markdown would read as nested block quotes, and a `[...]` result line after a `[...]`
input line as a reference link. This turns each run of doctest lines (from a `>>>` line to the
next blank line) into a fenced `pycon` code block, before the fenced-code extension runs.
"""

from __future__ import annotations

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority


class _DoctestBlocks(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        in_fence = in_doctest = False
        for line in lines:
            stripped = line.lstrip()
            if not in_doctest and stripped.startswith(("```", "~~~")):
                in_fence = not in_fence
            if not in_fence and not in_doctest and line.startswith(">>>"):
                out += ["", "```pycon"]
                in_doctest = True
            elif in_doctest and not line.strip():
                out += ["```", ""]
                in_doctest = False
            out.append(line)
        if in_doctest:
            out += ["```", ""]
        return out


class _DoctestExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        md.preprocessors.register(_DoctestBlocks(md), "doctest_blocks", 30)  # before fenced_code (25)


@event_priority(100)  # before mkdocstrings copies the Markdown extensions for docstrings
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config.markdown_extensions.append(_DoctestExtension())
    return config
