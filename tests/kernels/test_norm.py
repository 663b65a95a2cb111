"""Batch normalization: Numba against the float64 reference, against the textbook formulas,
and backward against finite differences."""

import numpy as np
import pytest
from kernel_cases import BACKENDS, DTYPES, check_gradient, close

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk

SHAPES = [(1, 1, 1, 2), (2, 3, 4, 5), (32, 8, 6, 6), (7, 5), (32, 512), (3, 2, 1, 1)]


def inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    return (x, (rng.random(c) + 0.5).astype(dtype), rng.standard_normal(c).astype(dtype),
            rng.standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_against_the_reference(shape, dtype):
    x, gamma, beta, dy = inputs(shape, dtype)
    mean, var = rk.batchnorm_stats(x)
    axes = (0,) + tuple(range(2, x.ndim))
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=axes), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=axes), rtol=1e-6, atol=1e-6)
    for got, want in zip(nk.batchnorm_stats(x), (mean, var)):
        close(got, want, dtype)
    y = rk.batchnorm_forward(x, gamma, beta, mean, var, 1e-5)
    close(nk.batchnorm_forward(x, gamma, beta, mean, var, 1e-5), y, dtype)
    for got, want in zip(nk.batchnorm_backward(dy, x, gamma, mean, var, 1e-5),
                         rk.batchnorm_backward(dy, x, gamma, mean, var, 1e-5)):
        close(got, want, dtype, **({"rtol": 1e-3, "atol": 1e-3} if dtype == np.float32 else {}))


def test_batchnorm_matches_float64_to_1e6_in_float32():
    """float32 kernels against the float64 reference on the same (float32) numbers."""
    x, gamma, beta, dy = inputs((32, 16, 8, 8), np.float32, seed=1)
    x64 = [a.astype(np.float64) for a in (x, gamma, beta, dy)]
    mean, var = nk.batchnorm_stats(x)
    mean64, var64 = rk.batchnorm_stats(x64[0])
    np.testing.assert_allclose(mean, mean64, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(var, var64, rtol=1e-6)
    y = nk.batchnorm_forward(x, gamma, beta, mean, var, 1e-5)
    y64 = rk.batchnorm_forward(x64[0], x64[1], x64[2], mean64, var64, 1e-5)
    np.testing.assert_allclose(y, y64, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k", BACKENDS)
def test_normalized_batch_has_mean_beta_and_std_gamma(k):
    x, gamma, beta, _ = inputs((16, 4, 5, 5), np.float64)
    y = k.batchnorm_forward(x, gamma, beta, *k.batchnorm_stats(x), 1e-12)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), beta, atol=1e-10)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), gamma, rtol=1e-8)


@pytest.mark.parametrize("k", BACKENDS)
@pytest.mark.parametrize("shape", [(4, 3, 3, 2), (6, 4)])
def test_batchnorm_backward_against_finite_differences(k, shape):
    x, gamma, beta, r = inputs(shape, np.float64, seed=2)

    def loss():
        return np.sum(k.batchnorm_forward(x, gamma, beta, *k.batchnorm_stats(x), 1e-3) * r)

    mean, var = k.batchnorm_stats(x)
    dx, dgamma, dbeta = k.batchnorm_backward(r, x, gamma, mean, var, 1e-3)
    check_gradient(dx, loss, x)
    check_gradient(dgamma, loss, gamma)
    check_gradient(dbeta, loss, beta)
