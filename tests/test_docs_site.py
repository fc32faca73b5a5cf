"""The documentation site: it builds with no warning, loads nothing from the network, and shows
its formulas as typeset math and its exercises' solutions folded, in a real browser.

The site is built once per session (`mkdocs build --strict`, as `make docs` does) into a temporary
folder and opened from the disk (file://) in headless Chromium, which has no network here: a
formula that needed a script, a font or a style from a CDN would not render. Screenshots of what
the browser shows are saved in each test's tmp folder (pytest prints where with `-rP`... or look
under the basetemp), so that a person can look at them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
sys.path.insert(0, str(DOCS / "hooks"))
import pages as course  # noqa: E402

pytest.importorskip("mkdocs", reason="the docs tools are missing: pip install -e '.[docs]'")
pytest.importorskip("material", reason="mkdocs-material is missing: pip install -e '.[docs]'")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the built site's folder, the build's log)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out, result.stdout + result.stderr


def test_site_builds_strict_without_a_warning(site: tuple[Path, str]) -> None:
    folder, log = site
    assert "WARNING" not in log, log
    for page in course.course_pages():
        assert (folder / f"{page.stem}.html").exists(), page.name


class _Resources(HTMLParser):
    """Every URL a page would load by itself: scripts, styles, icons, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video", "embed") and values.get("src"):
            self.urls.append(values["src"] or "")
        if tag == "link" and values.get("href") and values.get("rel") not in ("canonical", "alternate"):
            self.urls.append(values["href"] or "")


def test_site_loads_nothing_from_the_network(site: tuple[Path, str]) -> None:
    folder, _ = site
    for html in folder.glob("*.html"):
        parser = _Resources()
        parser.feed(html.read_text(encoding="utf-8"))
        remote = [url for url in parser.urls if "://" in url or url.startswith("//")]
        assert not remote, f"{html.name} loads {remote}"
    for css in folder.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        assert "url(http" not in text.replace(" ", "") and "@import" not in text, css


def test_site_offers_every_page_as_a_notebook(site: tuple[Path, str]) -> None:
    folder, _ = site
    for page in course.course_pages():
        notebook = folder / "notebooks" / f"{page.stem}.ipynb"
        assert notebook.read_text(encoding="utf-8") == course.notebook_json(course.read_page(page))
        assert f'href="notebooks/{page.stem}.ipynb" download' in (folder / f"{page.stem}.html").read_text("utf-8")


def test_formulas_are_typeset_in_the_source(site: tuple[Path, str]) -> None:
    """No formula is left as raw LaTeX on a page: every `$` of the prose became MathML."""
    folder, _ = site
    html = (folder / "backprop.html").read_text(encoding="utf-8")
    assert html.count("<math ") >= 30 and 'display="block"' in html
    for page in course.course_pages():
        text = (folder / f"{page.stem}.html").read_text(encoding="utf-8")
        body = text[text.index('<article class="md-content__inner') :]
        body = body[: body.index("</article>")]
        assert "\\frac" not in body and "\\partial" not in body, f"{page.name}: raw LaTeX on the page"


# ---------------------------------------------------------------------------- in a browser


def _open(browser, url: str) -> None:
    browser.get(url)
    for _ in range(100):  # wait for Material's script to have laid the page out
        if browser.execute_script("return document.readyState") == "complete":
            break
        time.sleep(0.05)


def test_formulas_render_as_math_in_a_browser(site: tuple[Path, str], browser, tmp_path: Path) -> None:
    folder, _ = site
    _open(browser, (folder / "backprop.html").as_uri())
    report = browser.execute_script(
        """
        const maths = [...document.querySelectorAll('article math')];
        const frac = document.querySelector('article .math-display mfrac');
        const [num, den] = frac ? [...frac.children].map(e => e.getBoundingClientRect()) : [null, null];
        return {
          count: maths.length,
          displays: [...new Set(maths.map(m => getComputedStyle(m).display))],
          empty: maths.filter(m => { const r = m.getBoundingClientRect(); return r.width < 1 || r.height < 1; }).length,
          fraction: frac ? {numBottom: num.bottom, denTop: den.top, numCentre: (num.left + num.right) / 2,
                            denCentre: (den.left + den.right) / 2} : null,
          resources: performance.getEntriesByType('resource').map(e => e.name),
        };
        """
    )
    assert report["count"] >= 30
    # Chromium lays out MathML itself (display "inline math"/"block math"): it is read as math, not text.
    assert set(report["displays"]) <= {"inline math", "block math", "math"}, report["displays"]
    assert report["empty"] == 0, f"{report['empty']} formulas have no size"
    fraction = report["fraction"]
    assert fraction is not None, "no displayed fraction on the backprop page"
    assert fraction["numBottom"] <= fraction["denTop"] + 1  # the numerator sits above the denominator
    assert abs(fraction["numCentre"] - fraction["denCentre"]) < 40  # both centred on the bar
    assert all(url.startswith("file:") for url in report["resources"]), report["resources"]

    formula = browser.find_element("css selector", "article .math-display")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", formula)
    time.sleep(0.5)  # let the header's title transition finish
    assert browser.save_screenshot(str(tmp_path / "backprop-formulas.png"))
    formula.screenshot(str(tmp_path / "backprop-one-formula.png"))
    assert (tmp_path / "backprop-formulas.png").stat().st_size > 10_000


def test_a_solution_is_folded_until_clicked(site: tuple[Path, str], browser, tmp_path: Path) -> None:
    folder, _ = site
    _open(browser, (folder / "forward-pass.html").as_uri())
    solution = browser.find_element("css selector", "article details")
    code = solution.find_element("css selector", "pre")
    heading = browser.find_element("id", "exercises")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", heading)
    time.sleep(0.5)
    assert solution.get_attribute("open") is None and not code.is_displayed()
    assert browser.save_screenshot(str(tmp_path / "solution-folded.png"))

    solution.find_element("css selector", "summary").click()
    time.sleep(0.3)  # Material animates the opening
    assert solution.get_attribute("open") is not None and code.is_displayed()
    assert code.size["height"] > 20
    assert browser.save_screenshot(str(tmp_path / "solution-unfolded.png"))


def test_search_works_offline(site: tuple[Path, str], browser) -> None:
    folder, _ = site
    _open(browser, (folder / "index.html").as_uri())
    box = browser.find_element("css selector", "input.md-search__input")
    box.click()
    box.send_keys("gradcheck")
    for _ in range(100):
        results = browser.find_elements("css selector", ".md-search-result__item")
        if results:
            break
        time.sleep(0.05)
    assert results, "the search found nothing (its index did not load from the disk?)"
