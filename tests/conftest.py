"""Shared test settings: a reproducible hypothesis profile and a float64 switch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygrad_edu as tg

# Derandomized, so a CI run is reproducible; `HYPOTHESIS_PROFILE=thorough` explores more.
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=500, deadline=None)
import os  # noqa: E402

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def float64():
    """Make Python numbers and lists float64 for one test (finite differences need it)."""
    previous = tg.get_default_dtype()
    tg.set_default_dtype(np.float64)
    yield
    tg.set_default_dtype(previous)


# ---------------------------------------------------------------- a real headless browser

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
BROWSER_INSTALL = "sudo apt-get install chromium chromium-driver   (or: make browser, as root)"


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Selenium, or a skip that says how to install it.

    Offline on purpose: no driver download, no background networking, a fresh profile.
    """
    import shutil
    import tempfile

    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is missing: pip install -e '.[test]'")
    from selenium.webdriver.chrome.service import Service

    for program in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is missing; install it with: {BROWSER_INSTALL}")
    profile = tempfile.mkdtemp(prefix="tg-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
