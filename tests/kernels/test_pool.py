"""Pooling kernels: max (with argmax), average and global average, both backends."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_cases import BACKENDS, DTYPES, check_gradient, close

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk

POOL_CASES = [(1, 1, 2, 2, 2, 2), (2, 3, 7, 5, 2, 2), (2, 2, 9, 9, 3, 2), (3, 1, 6, 8, 3, 3),
              (1, 2, 5, 5, 2, 1), (2, 8, 20, 20, 2, 2), (32, 8, 20, 20, 2, 2), (1, 1, 4, 4, 4, 1),
              (2, 3, 65, 69, 2, 2)]  # output rows of 34: the 2x2 loop's vectorized body


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,c,h,w,size,stride", POOL_CASES)
def test_maxpool(n, c, h, w, size, stride, dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    x[..., ::3] = x[..., 1::3][..., : x[..., ::3].shape[-1]]  # plenty of ties
    y, arg = rk.maxpool2d_forward(x, size, stride)
    y2, arg2 = nk.maxpool2d_forward(x, size, stride)
    close(y2, y, dtype)
    np.testing.assert_array_equal(arg2, arg)
    dy = rng.standard_normal(y.shape).astype(dtype)
    close(nk.maxpool2d_backward(dy, arg, x.shape), rk.maxpool2d_backward(dy, arg, x.shape), dtype)


@pytest.mark.parametrize("k", BACKENDS)
def test_maxpool_ties_go_to_the_first_maximum_and_overlaps_add(k):
    x = np.zeros((1, 1, 3, 3))
    y, arg = k.maxpool2d_forward(x, size=2, stride=1)
    np.testing.assert_array_equal(arg[0, 0], [[0, 1], [3, 4]])
    dx = k.maxpool2d_backward(np.ones_like(y), arg, x.shape)
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    x2 = np.array([[[[0.0, 5.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]])
    y, arg = k.maxpool2d_forward(x2, size=2, stride=1)
    dx = k.maxpool2d_backward(np.ones_like(y), arg, x2.shape)
    assert dx[0, 0, 0, 1] == 2  # the 5 wins two overlapping windows


@pytest.mark.parametrize("k", BACKENDS)
def test_maxpool_nan_wins_like_numpy_argmax(k):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    y, arg = k.maxpool2d_forward(x, 2, 2)
    assert np.isnan(y[0, 0, 0, 0]) and arg[0, 0, 0, 0] == 4


@settings(max_examples=60, deadline=None)
@given(h=st.integers(2, 9), w=st.integers(2, 90), seed=st.integers(0, 2**32 - 1))
def test_maxpool_2x2_ties_and_nans_match_the_reference(h, w, seed):
    """The 2x2 stride-2 loop (vectorized on wide rows) on values drawn from a few, with NaNs:
    the first maximum and NaN's precedence hold in every lane."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1.0, 0.0, 2.0, np.nan], np.float32), size=(2, 2, h, w),
                   p=[0.3, 0.3, 0.3, 0.1])
    y, arg = rk.maxpool2d_forward(x, 2, 2)
    y2, arg2 = nk.maxpool2d_forward(x, 2, 2)
    np.testing.assert_array_equal(y2, y)  # NaNs in the same places
    np.testing.assert_array_equal(arg2, arg)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,c,h,w,size,stride", POOL_CASES)
def test_avgpool(n, c, h, w, size, stride, dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    y = rk.avgpool2d_forward(x, size, stride)
    close(nk.avgpool2d_forward(x, size, stride), y, dtype)
    np.testing.assert_allclose(y[0, 0, 0, 0], x[0, 0, :size, :size].mean(), rtol=1e-5)
    dy = rng.standard_normal(y.shape).astype(dtype)
    close(nk.avgpool2d_backward(dy, x.shape, size, stride),
          rk.avgpool2d_backward(dy, x.shape, size, stride), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 4), (32, 128, 8, 8)])
def test_global_avgpool(shape, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape).astype(dtype)
    y = rk.global_avgpool2d_forward(x)
    assert y.shape == shape[:2]
    close(nk.global_avgpool2d_forward(x), y, dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    close(nk.global_avgpool2d_backward(dy, x.shape), rk.global_avgpool2d_backward(dy, x.shape),
          dtype)


@pytest.mark.parametrize("k", BACKENDS)
@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (2, 1)])
def test_pool_backward_against_finite_differences(k, size, stride):
    rng = np.random.default_rng(2)
    x = rng.permutation(196).reshape(2, 2, 7, 7) / 196.0  # no ties, gaps far above eps
    y, arg = k.maxpool2d_forward(x, size, stride)
    r = rng.standard_normal(y.shape)
    check_gradient(k.maxpool2d_backward(r, arg, x.shape),
                   lambda: np.sum(k.maxpool2d_forward(x, size, stride)[0] * r), x)
    r = rng.standard_normal(y.shape)
    check_gradient(k.avgpool2d_backward(r, x.shape, size, stride),
                   lambda: np.sum(k.avgpool2d_forward(x, size, stride) * r), x)
    r = rng.standard_normal(x.shape[:2])
    check_gradient(k.global_avgpool2d_backward(r, x.shape),
                   lambda: np.sum(k.global_avgpool2d_forward(x) * r), x)
