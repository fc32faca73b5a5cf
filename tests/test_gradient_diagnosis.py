"""The diagnosis of a failed gradient check (`tinygrad_edu.gradient_diagnosis`), piece by piece.

`tests/test_gradcheck.py` checks that the reports of real failing checks say the right thing;
here each piece is fed the situation it must recognise, and the ones it must not.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import autograd, gradient_diagnosis
from tinygrad_edu.errors import DTypeError
from tinygrad_edu.gradient_check import GradcheckWarning
from tinygrad_edu.gradient_diagnosis import (
    float32_rounding,
    kink_at,
    likely_bug,
    low_precision_ops,
    remeasure_at_kink,
    rounding_error,
)
from tinygrad_edu.gradient_setup import Settings

RNG = np.random.default_rng(0)
NUMERICAL = RNG.standard_normal(12)  # a gradient with no two equal values and none near 0


# ---------------------------------------------------------------- likely bugs


@pytest.mark.parametrize(
    ("analytical", "expected"),
    [
        (-NUMERICAL, "backward = -1 x numerical on every element"),
        (NUMERICAL / 2, "backward = 0.5 x numerical"),
        (2 * NUMERICAL, "backward = 2 x numerical"),
        (np.zeros(12), "backward gives 0 everywhere"),
        (np.where(np.arange(12) == 3, np.nan, NUMERICAL), "NaN or Inf"),
        (NUMERICAL.reshape(3, 4)[::-1].ravel(), "right values at the wrong elements"),  # rows swapped
        (np.roll(NUMERICAL, 1), "right values at the wrong elements"),  # indices shifted by one
    ],
)
def test_likely_bug_recognises_the_usual_wrong_backwards(analytical: np.ndarray, expected: str) -> None:
    assert expected in likely_bug(analytical, NUMERICAL)


def test_likely_bug_names_a_transposed_gradient() -> None:
    square = RNG.standard_normal((4, 4))
    assert "transposed" in likely_bug(square.T.ravel(), square.ravel())


def test_likely_bug_does_not_guess_without_a_pattern() -> None:
    wrong = NUMERICAL.copy()
    wrong[[2, 7]] += [0.3, -1.1]  # two elements off by unrelated amounts
    assert likely_bug(wrong, NUMERICAL) is None
    assert likely_bug(RNG.standard_normal(12), NUMERICAL) is None
    # A factor that holds on some elements only is not "a constant factor".
    assert likely_bug(NUMERICAL * np.where(np.arange(12) < 6, 2.0, 1.0), NUMERICAL) is None


# ---------------------------------------------------------------- kinks


def test_kink_at_a_point_with_no_derivative() -> None:
    message = kink_at(lambda h: max(h, 0.0) * 3.0 + 1.0, 1e-6)  # relu with slope 3 on the right
    assert "slope is 0 on the left and 3 on the right" in message and "average 1.5" in message
    assert kink_at(lambda h: np.exp(h), 1e-6) is None
    assert kink_at(lambda h: max(h - 0.1, 0.0), 1e-6) is None  # a kink far away from the point


def test_remeasure_saves_a_smooth_point_next_to_a_kink() -> None:
    x = 3e-7  # relu is smooth at x (slope 1), but eps = 1e-6 straddles its kink at 0

    def measure(step: float) -> float:
        return (max(x + step, 0.0) - max(x - step, 0.0)) / (2 * step)

    first = measure(1e-6)
    assert first == pytest.approx(0.65)
    assert remeasure_at_kink(measure, first, 1e-6, 1e-5, 1e-3) == pytest.approx(1.0)


def test_remeasure_never_excuses_a_wrong_backward() -> None:
    """On a smooth fn the finite difference stands, whatever backward said."""

    def measure(step: float) -> float:
        return (np.sin(1.0 + step) - np.sin(1.0 - step)) / (2 * step)

    assert remeasure_at_kink(measure, measure(1e-6), 1e-6, 1e-5, 1e-3) is None
    # Exactly at a kink all steps straddle it alike: the average stands, and kink_at explains it.
    assert remeasure_at_kink(lambda step: 0.5, 0.5, 1e-6, 1e-5, 1e-3) is None


def test_remeasure_gives_up_when_the_steps_do_not_settle() -> None:
    steps = iter([0.2, 0.9])  # eps/10 and eps/100 disagree with each other
    assert remeasure_at_kink(lambda step: next(steps), 0.5, 1e-6, 1e-5, 1e-3) is None

    def too_small(step: float) -> float:
        raise ValueError("x +- eps rounds back to x")

    assert remeasure_at_kink(too_small, 0.5, 1e-6, 1e-5, 1e-3) is None


# ---------------------------------------------------------------- float32 rounding


def f64(values) -> tg.Tensor:
    return tg.Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_rounding_error_is_the_spacing_of_the_loss_over_twice_the_step() -> None:
    assert rounding_error(np.float32, 1.0, 1e-6) == pytest.approx(np.finfo(np.float32).eps / 2e-6)
    assert rounding_error(np.float32, 1.65, 1e-6) == pytest.approx(np.spacing(np.float32(1.65)) / 2e-6)
    assert rounding_error(np.float32, -3.0, 1e-6) == rounding_error(np.float32, 3.0, 1e-6) == pytest.approx(0.12, 0.01)
    assert rounding_error(np.float64, 1.0, 1e-6) < 1e-9 < 1e-3 < rounding_error(np.float32, 1.0, 1e-6)


def test_low_precision_ops_are_those_between_the_inputs_and_the_outputs() -> None:
    x = f64([0.5, 1.5])
    constant = tg.Tensor(np.array([2.0, 3.0], dtype=np.float32)) * 2  # float32, but not from x
    y = ((x * 2).float() * constant).double().sum()
    assert [label for label, _ in low_precision_ops([y], [x])] == ["op 'cast'", "op 'mul'"]
    z = (x.float() * 2).sum()  # a float32 output counts too
    assert [label for label, _ in low_precision_ops([z], [x])] == ["op 'cast'", "op 'mul'", "op 'sum'", "output 0"]
    assert low_precision_ops([(x * constant.double()).sum()], [x]) == []


def test_the_walk_is_autograd_toposort_and_handles_a_deep_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counting_toposort(roots):
        calls.append(1)
        return autograd.toposort(roots)

    monkeypatch.setattr(gradient_diagnosis, "toposort", counting_toposort)
    x = f64([0.5, 1.5])
    y = x.float()
    for _ in range(20_000):  # far deeper than Python's recursion limit
        y = y * 1.0
    found = low_precision_ops([y.double().sum()], [x])
    assert calls == [1] and len(found) == 20_001 and found[-1] == ("op 'mul'", np.dtype(np.float32))


def test_float32_rounding_refuses_or_notes() -> None:
    x = f64([0.3, -1.2])
    outputs = [x.float().double().sum()]  # a loss near -0.9, a gradient of 1
    refused = r"gradcheck: fn rounds to float32.*op 'cast'.*≈ 0\.03 for a loss near -0\.9.*above the check's tolerance"
    with pytest.raises(DTypeError, match=refused):
        float32_rounding(outputs, [x], -0.9, 1.0, Settings("gradcheck", 1e-6, 1e-5, 1e-3))
    (note,) = float32_rounding(outputs, [x], -0.9, 1.0, Settings("gradcheck", 1e-2, 1e-5, 1e-3))  # a large step
    assert note.startswith("note: gradcheck: fn rounds to float32") and "below the check's tolerance" in note
    assert float32_rounding([(x * x).sum()], [x], 1.5, 1.0, Settings("gradcheck", 1e-6, 1e-5, 1e-3)) == []


def test_the_float32_warnings_give_the_effect_in_one_phrase() -> None:
    """The warning for float32 inputs, the warning of numerical_grad and the refusal all say it
    the same way: an absolute error of about ulp(L)/(2·eps) for a loss near L."""
    phrase = r"an absolute error in the derivative of about ulp\(L\)/\(2·eps\) ≈ 0\.12 for a loss near 3"
    x32 = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)  # loss 3: ulp 2.4e-7
    with pytest.warns(GradcheckWarning, match=phrase):
        tg.gradcheck(lambda x: x.sum(), [x32])
    with pytest.warns(GradcheckWarning, match=phrase):
        tg.numerical_grad(lambda x: x.float().sum(), [f64([1.0, 2.0])])
    with pytest.raises(DTypeError, match=phrase):
        tg.gradcheck(lambda x: x.float().sum(), [f64([1.0, 2.0])])


# ---------------------------------------------------------------- the report


class WrongSign(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, grad):
        return -3 * grad


def test_details_table_names_the_worst_element_with_both_values() -> None:
    x = f64([[0.5, 1.0], [2.0, -1.0]])
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda x: (WrongSign.apply(x) * x).sum(), [x])  # d/dx (3x * x) = 6x; backward says 0
    header, line = info.value.report.details().splitlines()
    assert header.split()[:2] == ["input", "shape"]
    # backward: -3x + 3x = 0 everywhere, numerical 6x: the worst element is the largest |x|, at (1, 0).
    assert line.split() == ["input", "0", "(2,", "2)", "4/4", "(1,", "0)", "0", "12", "12", "1"]


def test_gradient_diagnosis_does_not_import_the_check() -> None:
    """The check calls the diagnosis, never the other way round: no import cycle."""
    code = "import sys, tinygrad_edu.gradient_diagnosis; print('tinygrad_edu.gradient_check' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
