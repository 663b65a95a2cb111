"""Convolution kernels, plain and fused: Numba against the reference on random geometries,
and the backward passes against finite differences."""

import numpy as np
import pytest
from kernel_cases import BACKENDS, CONV_CASES, DTYPES, check_gradient, close, conv_inputs

import fastnn as fn
from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk
from fastnn.kernels.geometry import out_size


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d(case, dtype):
    s, p = case[7:9]
    x, wt, b = conv_inputs(case, dtype, 3)
    y = rk.conv2d_forward(x, wt, b, s, p)
    close(nk.conv2d_forward(x, wt, b, s, p), y, dtype)
    dy = np.random.default_rng(3).standard_normal(y.shape).astype(dtype)
    for got, want in zip(nk.conv2d_backward(dy, x, wt, s, p), rk.conv2d_backward(dy, x, wt, s, p)):
        close(got, want, dtype)


def test_conv2d_backward_without_input_grad():
    rng = np.random.default_rng(14)
    for stride in (1, 2):
        x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
        dy = rng.standard_normal((2, 4, 5, 5) if stride == 1 else (2, 4, 3, 3))
        dx, dw, db = nk.conv2d_backward(dy, x, w, stride, input_grad=False)
        _, dw2, db2 = nk.conv2d_backward(dy, x, w, stride)
        assert dx is None
        np.testing.assert_array_equal(dw, dw2)
        np.testing.assert_array_equal(db, db2)


@pytest.mark.parametrize("case", CONV_CASES[:6] + CONV_CASES[-1:])
def test_fused_relu_equals_relu_apart(case):
    s, p = case[7:9]
    x, wt, b = conv_inputs(case, np.float32, 15)
    y = nk.conv2d_forward(x, wt, b, s, p, relu=True)
    np.testing.assert_array_equal(y, nk.relu_forward(nk.conv2d_forward(x, wt, b, s, p)))
    dy = np.random.default_rng(15).standard_normal(y.shape).astype(np.float32)
    for fused, apart in zip(nk.conv2d_backward(dy, x, wt, s, p, relu_output=y),
                            nk.conv2d_backward(nk.relu_backward(dy, y), x, wt, s, p)):
        np.testing.assert_allclose(fused, apart, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k", BACKENDS)
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (3, 2)])
def test_conv2d_backward_against_finite_differences(k, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    y = k.conv2d_forward(x, w, b, stride, padding)
    r = rng.standard_normal(y.shape)

    def loss():
        return np.sum(k.conv2d_forward(x, w, b, stride, padding) * r)

    dx, dw, db = k.conv2d_backward(r, x, w, stride, padding)
    check_gradient(dx, loss, x)
    check_gradient(dw, loss, w)
    check_gradient(db, loss, b)


def _pool_fits(case, size):
    n, c, f, h, w, kh, kw, s, p = case
    return min(out_size(h, kh, s, p), out_size(w, kw, s, p)) >= size


POOLED_CONV_CASES = [case + pool for case, pool in zip(CONV_CASES[:12] + CONV_CASES[-2:],
                                                      [(2, 2), (2, 1), (3, 2), (1, 1)] * 4)
                     if _pool_fits(case, pool[0])]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOLED_CONV_CASES)
def test_conv2d_relu_maxpool(case, dtype):
    s, p, size, stride = case[7:]
    x, wt, b = conv_inputs(case, dtype, 16)
    y, arg = rk.conv2d_relu_maxpool_forward(x, wt, b, s, p, size, stride)
    y2, arg2 = nk.conv2d_relu_maxpool_forward(x, wt, b, s, p, size, stride)
    close(y2, y, dtype)
    np.testing.assert_array_equal(arg2[y > 1e-3], arg[y > 1e-3])  # ties at 0 may differ
    dy = np.random.default_rng(16).standard_normal(y.shape).astype(dtype)
    want = rk.conv2d_relu_maxpool_backward(dy, y, arg, x, wt, s, p)
    for got, ref in zip(nk.conv2d_relu_maxpool_backward(dy, y, arg, x, wt, s, p), want):
        close(got, ref, dtype)
    dx, dw, db = nk.conv2d_relu_maxpool_backward(dy, y, arg, x, wt, s, p, input_grad=False)
    assert dx is None
    close(dw, want[1], dtype)


BN_CASES = [case for case in CONV_CASES if case[0] * out_size(case[3], case[5], case[7],
                                                              case[8]) > 1][:14]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", BN_CASES)
def test_conv2d_relu_batchnorm(case, dtype):
    """Training (batch statistics) and inference (given statistics), forward and backward."""
    s, p = case[7:9]
    f = case[2]
    x, wt, b = conv_inputs(case, dtype, 17)
    rng = np.random.default_rng(17)
    gamma, beta = (rng.random(f) + 0.5).astype(dtype), rng.standard_normal(f).astype(dtype)
    out, y, mean, var = rk.conv2d_relu_batchnorm_forward(x, wt, b, gamma, beta, s, p, 1e-3)
    got = nk.conv2d_relu_batchnorm_forward(x, wt, b, gamma, beta, s, p, 1e-3)
    for a, want in zip(got, (out, y, mean, var)):
        close(a, want, dtype, rtol=1e-3 if dtype == np.float32 else 1e-9,
              atol=1e-3 if dtype == np.float32 else 1e-9)
    dout = rng.standard_normal(out.shape).astype(dtype)
    want = rk.conv2d_relu_batchnorm_backward(dout, y, x, wt, gamma, mean, var, s, p, 1e-3)
    got = nk.conv2d_relu_batchnorm_backward(dout, y, x, wt, gamma, mean, var, s, p, 1e-3)
    for a, ref in zip(got, want):
        close(a, ref, dtype, rtol=2e-3 if dtype == np.float32 else 1e-8,
              atol=2e-3 if dtype == np.float32 else 1e-8)
    rm, rv = rng.standard_normal(f).astype(dtype), (rng.random(f) + 0.5).astype(dtype)
    inference = nk.conv2d_relu_batchnorm_forward(x, wt, b, gamma, beta, s, p, 1e-3, rm, rv)
    want = rk.conv2d_relu_batchnorm_forward(x, wt, b, gamma, beta, s, p, 1e-3, rm, rv)
    assert inference[1] is None and want[1] is None
    close(inference[0], want[0], dtype)


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0)])
def test_conv2d_relu_batchnorm_backward_against_finite_differences(stride, padding):
    rng = np.random.default_rng(18)
    x, w = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    b, gamma, beta = rng.standard_normal(3) + 1, rng.random(3) + 0.5, rng.standard_normal(3)
    out, y, mean, var = nk.conv2d_relu_batchnorm_forward(x, w, b, gamma, beta, stride, padding)
    r = rng.standard_normal(out.shape)

    def loss():
        return np.sum(nk.conv2d_relu_batchnorm_forward(x, w, b, gamma, beta, stride,
                                                       padding)[0] * r)

    dx, dw, db, dgamma, dbeta = nk.conv2d_relu_batchnorm_backward(r, y, x, w, gamma, mean, var,
                                                                  stride, padding)
    for grad, arg in ((dx, x), (dw, w), (db, b), (dgamma, gamma), (dbeta, beta)):
        np.testing.assert_allclose(grad, fn.numeric_gradient(loss, arg),
                                   rtol=1e-5, atol=1e-7)
