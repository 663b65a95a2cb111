"""im2col and col2im: Numba against the reference, the adjoint identity, the GEMM identity."""

import numpy as np
import pytest
from kernel_cases import CONV_CASES, DTYPES, close

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk
from fastnn.kernels import vectorized as vk


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_col2im(case, dtype):
    n, c, _, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    cols = rk.im2col(x, kh, kw, s, p)
    close(nk.im2col(x, kh, kw, s, p), cols, dtype)
    g = rng.standard_normal(cols.shape).astype(dtype)
    close(nk.col2im(g, x.shape, kh, kw, s, p), rk.col2im(g, x.shape, kh, kw, s, p), dtype)


@pytest.mark.parametrize("case", CONV_CASES[:8])
def test_col2im_is_the_adjoint_of_im2col(case):
    n, c, _, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, c, h, w))
    cols = rk.im2col(x, kh, kw, s, p)
    g = rng.standard_normal(cols.shape)
    # <im2col(x), g> == <x, col2im(g)>
    assert np.isclose(np.vdot(cols, g), np.vdot(x, nk.col2im(g, x.shape, kh, kw, s, p)))


def test_conv2d_is_the_weights_times_im2col():
    """The documented identity: y[n] = w.reshape(F, -1) @ im2col(x)[n] + b."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), np.ones(4)
    cols = rk.im2col(x, 3, 3, 2, 1)
    want = (w.reshape(4, -1) @ cols + b[:, None]).reshape(2, 4, 4, 3)
    np.testing.assert_allclose(rk.conv2d_forward(x, w, b, 2, 1), want, rtol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES[:12])
def test_vectorized_baseline_matches_reference(case):
    n, c, f, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(13)
    x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f)
    y = rk.conv2d_forward(x, wt, b, s, p)
    close(vk.conv2d_forward(x, wt, b, s, p), y, np.float64)
    dy = rng.standard_normal(y.shape)
    for got, want in zip(vk.conv2d_backward(dy, x, wt, s, p), rk.conv2d_backward(dy, x, wt, s, p)):
        close(got, want, np.float64)
