"""The backprop player in a real headless Chromium (the `browser` fixture of conftest.py): open the
file, step through it with `#step=N`, the buttons, the slider and the arrow keys, and check what
the page shows: the step's title and paragraph, and the gradients in the visible picture."""

from __future__ import annotations

import shutil
import struct
import time

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.viz import trace_backward
from tinygrad_edu.viz.explain import format_array
from tinygrad_edu.viz.labels import summary

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="the player's pictures need Graphviz's dot")


@pytest.fixture(scope="module")
def player(tmp_path_factory):
    """b = a + a; c = b + b, and a small ReLU network, as players on disk."""
    a = tg.Tensor(1.0, requires_grad=True, name="a")
    b = a + a
    b.name = "b"
    c = b + b
    c.name = "c"
    doubled = trace_backward(c)
    folder = tmp_path_factory.mktemp("players")
    rng = np.random.default_rng(0)
    w = tg.Tensor(rng.standard_normal((4, 3)), requires_grad=True, name="W")
    x = tg.Tensor(rng.standard_normal((5, 3)), name="x")
    net = trace_backward(((x @ w.T).relu() ** 2).mean())
    return {
        "doubled": (doubled, doubled.to_html(folder / "doubled.html")),
        "net": (net, net.to_html(folder / "net.html")),
        "W": w,
    }


def open_page(browser, path, fragment=""):
    browser.get(path.as_uri() + fragment)
    if fragment:  # a fragment on the same file is only a hashchange: load it afresh
        browser.refresh()
    return browser


def state(browser):
    """What the reader sees: the title, the paragraph, the position, and the texts of the visible picture."""
    return browser.execute_script(
        r"""
        const frame = Array.from(document.querySelectorAll('#picture .frame')).find(f => !f.hidden);
        return {
          title: document.getElementById('step-title').textContent,
          text: document.getElementById('step-text').textContent,
          position: document.getElementById('position').textContent,
          slider: document.getElementById('slider').value,
          hash: window.location.hash,
          visible: document.querySelectorAll('#picture .frame:not([hidden])').length,
          texts: Array.from(frame.querySelectorAll('svg text')).map(t => t.textContent.split(/\s+/).join(' ')),
        };
        """
    )


def press(browser, key):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.find_element(By.TAG_NAME, "body").click()
    ActionChains(browser).send_keys(key).perform()


def click(browser, element_id):
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, element_id).click()


def test_step_fragment_opens_that_step_with_its_paragraph_and_gradients(browser, player):
    trace, path = player["doubled"]
    page = state(open_page(browser, path))
    assert page["title"] == "The forward graph" and page["visible"] == 1
    assert "∂L/∂a: not reached yet" in page["texts"] and "∂L/∂c = 1" in page["texts"]
    page = state(open_page(browser, path, "#step=1"))
    assert page["title"] == "Step 1: add"
    assert page["text"] == trace.step_text(1)
    assert "a is used twice by this op, so its gradients are added: ∂L/∂a = 2 + 2 = 4" in page["text"]
    assert "∂L/∂a = 2 + 2 = 4" in page["texts"]  # the accumulation, on a's node in the picture
    assert "▶ step 1: add" in page["texts"] and "step 0: add ✓" in page["texts"]
    assert page["position"] == "frame 3 of 3"


def test_buttons_keys_and_slider_move_through_the_pass(browser, player):
    trace, path = player["net"]
    steps = len(trace.steps)
    browser = open_page(browser, path, "#step=0")
    assert state(browser)["title"] == f"Step 0: {trace.steps[0].op}"
    click(browser, "next")
    page = state(browser)
    assert page["title"] == f"Step 1: {trace.steps[1].op}" and page["hash"] == "#step=1"
    assert page["text"] == trace.step_text(1)
    press(browser, "\ue014")  # →
    assert state(browser)["title"] == f"Step 2: {trace.steps[2].op}"
    press(browser, "\ue012")  # ←
    press(browser, "\ue012")
    assert state(browser)["title"] == f"Step 0: {trace.steps[0].op}"
    click(browser, "previous")
    assert state(browser)["title"] == "The forward graph"
    click(browser, "previous")  # nothing before the forward graph
    assert state(browser)["title"] == "The forward graph"
    click(browser, "last")
    page = state(browser)
    assert page["title"] == f"Step {steps - 1}: {trace.steps[-1].op}" and page["slider"] == str(steps)
    # the slider, as a reader drags it
    browser.execute_script(
        "const s = document.getElementById('slider'); s.value = '3'; s.dispatchEvent(new Event('input'));"
    )
    page = state(browser)
    assert page["title"] == f"Step 2: {trace.steps[2].op}" and page["hash"] == "#step=2"
    # the gradient of W in the last picture is the one backward computed
    click(browser, "last")
    w = player["W"]
    assert " ".join(f"∂L/∂W = {summary(w.grad.numpy())}".split()) in state(browser)["texts"]
    assert w.grad.numpy().size > 8  # so the picture shows min, mean and max
    assert f"∂L/∂W = {format_array(w.grad.numpy())}".split("\n")[0] in state(browser)["text"]


def test_play_advances_by_itself_and_pause_stops(browser, player):
    from selenium.webdriver.support.ui import WebDriverWait

    trace, path = player["net"]
    browser = open_page(browser, path)
    # a quicker clock for the test (the player asks for its interval when play starts)
    browser.execute_script("window.__clock = setInterval; window.setInterval = (f, ms) => window.__clock(f, 150);")
    click(browser, "play")
    WebDriverWait(browser, 10, poll_frequency=0.02).until(lambda b: int(state(b)["slider"]) >= 2)
    click(browser, "play")  # pause
    paused_at = state(browser)["slider"]
    time.sleep(0.5)
    assert state(browser)["slider"] == paused_at
    assert int(paused_at) < len(trace.steps)  # stopped before the end
    press(browser, " ")  # space plays on, to the end, and stops there
    WebDriverWait(browser, 10, poll_frequency=0.05).until(lambda b: state(b)["position"].startswith("frame 7 of"))
    assert browser.find_element("id", "play").text == "▶ play"


def test_the_page_fetches_nothing_and_logs_no_error(browser, player):
    _trace, path = player["net"]
    browser = open_page(browser, path, "#step=3")
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
    assert resources == []
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_a_screenshot_of_a_frame(browser, player, tmp_path):
    _trace, path = player["doubled"]
    browser = open_page(browser, path, "#step=1")
    png = tmp_path / "step1.png"
    assert browser.save_screenshot(str(png))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    viewport = browser.execute_script("return [window.innerWidth, window.innerHeight];")
    assert [width, height] == viewport and width >= 1000 and height >= 600
    assert len(data) > 20_000  # a picture, not a blank page
