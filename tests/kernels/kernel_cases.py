"""Shared by the kernel tests: tolerances, random cases, and the finite-difference check."""

import numpy as np
import pytest

from fastnn import numeric_gradient
from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk

# float32 kernels sum in a different order than the reference
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
DTYPES = [np.float32, np.float64]
BACKENDS = [pytest.param(rk, id="reference"), pytest.param(nk, id="numba")]


def close(a, b, dtype, **tol):
    assert a.dtype == b.dtype == np.dtype(dtype)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, **(tol or TOL[dtype]))


def check_gradient(analytic, f, a):
    """A backward kernel's result against central differences of the scalar f() in a."""
    np.testing.assert_allclose(analytic, numeric_gradient(f, a), rtol=1e-6, atol=1e-8)


def conv_cases(seed, count):
    """Random conv geometries: batch, channels, odd sizes, strides and paddings."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        n, c, f = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
        h, w = rng.integers(1, 10, size=2)
        kh, kw = rng.integers(1, 5, size=2)
        stride, padding = rng.integers(1, 4), rng.integers(0, 3)
        if kh <= h + 2 * padding and kw <= w + 2 * padding:
            cases.append(tuple(int(v) for v in (n, c, f, h, w, kh, kw, stride, padding)))
    return cases


CONV_CASES = conv_cases(0, 24) + [(32, 1, 8, 28, 28, 5, 5, 1, 0), (2, 8, 8, 24, 24, 5, 5, 1, 0)]


def conv_inputs(case, dtype, seed):
    """x, w, b for a case of CONV_CASES."""
    n, c, f, h, w, kh, kw, _, _ = case[:9]
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, c, h, w)).astype(dtype),
            rng.standard_normal((f, c, kh, kw)).astype(dtype),
            rng.standard_normal(f).astype(dtype))
