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
