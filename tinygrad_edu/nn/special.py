"""The error function in NumPy, accurate to float64 rounding: `erf` and `erfc`.

NumPy has no erf, and SciPy is not a dependency of tinygrad_edu, so the exact GELU needs one of
its own. This is W. J. Cody's method ("Rational Chebyshev approximations for the error function",
Math. Comp. 23, 1969): on each of three intervals of |x| a ratio of two polynomials whose
coefficients Cody fitted so that the relative error stays below 1e-18, beyond float64's 1.1e-16.

- |x| <= 0.46875: erf(x) = x · P(x²) / Q(x²), where erf is still far from 1;
- 0.46875 < |x| <= 4: erfc(|x|) = e^(-x²) · P(|x|) / Q(|x|);
- |x| > 4: erfc(|x|) = e^(-x²) / |x| · (1/√π + R(1/x²)) (the asymptotic series, rationalised).

Where erf is near 1 the approximation is made for erfc = 1 - erf (small, and kept to full
relative precision), and erf is taken as 1 - erfc; the odd symmetry erf(-x) = -erf(x) gives the
negative half.

>>> import math
>>> import numpy as np
>>> x = np.array([-3.0, -0.5, 0.0, 0.1, 1.0, 5.0])
>>> float(np.max(np.abs(erf(x) - [math.erf(v) for v in x])))   # within float64 rounding of 1
1.1102230246251565e-16
>>> f"{float(erfc(10.0)):.12e}"   # 1 - erf(10) would be 0.0
'2.088487583763e-45'
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Cody's coefficients (his Table I, II and III, lowest degree last as he lists them).
_SMALL_P = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03)
_SMALL_P_TOP = 1.85777706184603153e-1
_SMALL_Q = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_MID_P = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
)
_MID_P_TOP = 2.15311535474403846e-8
_MID_Q = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
_LARGE_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
)
_LARGE_P_TOP = 1.63153871373020978e-2
_LARGE_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2)
_LARGE_Q_LAST = 2.33520497626869185e-3

_SMALL_END, _MID_END = 0.46875, 4.0
_ERFC_IS_ZERO = 26.7  # erfc(x) is below the smallest float64 (about 4.9e-324) from here on
_ONE_OVER_SQRT_PI = 0.56418958354775628695


def _ratio(z: np.ndarray, p: tuple[float, ...], p_top: float, q: tuple[float, ...], q_last: float) -> np.ndarray:
    """(p_top·z^n + p[0]·z^(n-1) + ... + p[-1]) / (z^n + q[0]·z^(n-1) + ... + q_last), by Horner's rule.

    The numerator has one more coefficient than `q` (`p[-1]`), the denominator is monic with
    `q_last` as its constant term, which is how Cody's tables are laid out."""
    numerator, denominator = p_top * z, z.copy()
    for a, b in zip(p[:-1], q):
        numerator += a
        numerator *= z
        denominator += b
        denominator *= z
    return (numerator + p[-1]) / (denominator + q_last)


def _exp_minus_square(y: np.ndarray) -> np.ndarray:
    """e^(-y²), without the rounding error of y² itself (which e^ would multiply by y²).

    y = h + d with h = y rounded down to a multiple of 1/16, whose square is exact:
    y² = h² + (y - h)(y + h), and e^(-y²) = e^(-h²) · e^(-(y - h)(y + h)), as Cody does."""
    head = np.trunc(y * 16.0) / 16.0
    return np.exp(-head * head) * np.exp(-(y - head) * (y + head))


def _erfc_of_large(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 0.46875 (each y on the interval that holds it)."""
    out = np.empty_like(y)
    mid = y <= _MID_END
    ym = y[mid]
    out[mid] = _exp_minus_square(ym) * _ratio(ym, _MID_P, _MID_P_TOP, _MID_Q[:-1], _MID_Q[-1])
    large = ~mid
    yl = y[large]
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        z = 1.0 / (yl * yl)
        series = z * _ratio(z, _LARGE_P, _LARGE_P_TOP, _LARGE_Q, _LARGE_Q_LAST)
        value = _exp_minus_square(yl) * ((_ONE_OVER_SQRT_PI - series) / yl)
    out[large] = np.where(yl >= _ERFC_IS_ZERO, 0.0, value)
    return out


def _as_float64(x: Any) -> tuple[np.ndarray, np.dtype]:
    array = np.asarray(x)
    dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)
    return array.astype(np.float64, copy=False), dtype


def erf(x: Any) -> np.ndarray:
    """The error function, (2/√π) ∫₀ˣ e^(-t²) dt, elementwise, accurate to float64 rounding.

    Computed in float64 and returned in the input's float dtype (float64 for integers).

    >>> float(erf(0.5))
    0.5204998778130465
    """
    x64, dtype = _as_float64(x)
    y = np.abs(x64)
    out = np.empty_like(x64)
    small = y <= _SMALL_END
    xs = x64[small]
    z = xs * xs
    out[small] = xs * _ratio(z, _SMALL_P, _SMALL_P_TOP, _SMALL_Q[:-1], _SMALL_Q[-1])
    rest = ~small & ~np.isnan(x64)
    out[rest] = np.copysign((0.5 - _erfc_of_large(y[rest])) + 0.5, x64[rest])  # 1 - erfc, rounded once
    out[np.isnan(x64)] = np.nan
    return out.astype(dtype, copy=False)


def erfc(x: Any) -> np.ndarray:
    """1 - erf(x), to full relative precision also where it is tiny (large x).

    >>> float(erfc(0.0)), float(erfc(-30.0))
    (1.0, 2.0)
    """
    x64, dtype = _as_float64(x)
    y = np.abs(x64)
    out = np.empty_like(x64)
    small = y <= _SMALL_END
    xs = x64[small]
    z = xs * xs
    out[small] = 1.0 - xs * _ratio(z, _SMALL_P, _SMALL_P_TOP, _SMALL_Q[:-1], _SMALL_Q[-1])
    rest = ~small & ~np.isnan(x64)
    tail = _erfc_of_large(y[rest])
    out[rest] = np.where(x64[rest] < 0, 2.0 - tail, tail)  # erfc(-y) = 2 - erfc(y)
    out[np.isnan(x64)] = np.nan
    return out.astype(dtype, copy=False)
