"""MkDocs hook: every course page can be downloaded as a Jupyter notebook made from it.

The notebooks are made when the site is built (by `pages.notebook`, the same function that makes
the ones in notebooks/ and the ones the tests run), so they cannot drift from the pages. Each
page gets a download button at its top right, next to where Material puts its page actions.
"""

from __future__ import annotations

from pathlib import Path

import pages as course  # docs/hooks/pages.py (MkDocs puts a hook's folder on sys.path)
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

DOWNLOAD_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M5 20h14v-2H5m14-9h-4V3H9v6H5l7 7z"/></svg>'
)


def _is_course_page(page: Page) -> bool:
    return Path(page.file.abs_src_path or "") in course.course_pages()


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not _is_course_page(page):
        return markdown
    href = "../" * page.file.src_uri.count("/") + f"notebooks/{Path(page.file.src_uri).stem}.ipynb"
    button = (
        f'<a href="{href}" download class="md-content__button md-icon" '
        f'title="Download this page as a Jupyter notebook">{DOWNLOAD_ICON}</a>'
    )
    return f"{button}\n\n{markdown}"


def on_post_build(config: MkDocsConfig) -> None:
    course.write_notebooks(Path(config.site_dir) / "notebooks")
