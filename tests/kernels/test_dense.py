"""Dense kernels: Numba against the reference, and backward against finite differences."""

import numpy as np
import pytest
from kernel_cases import BACKENDS, DTYPES, TOL, check_gradient, close

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk


@pytest.mark.parametrize("dtype", DTYPES)
# the last three have w of >= 2**20 entries: their backward pass runs as BLAS GEMMs
@pytest.mark.parametrize("n,i,o", [(1, 1, 1), (3, 7, 5), (32, 800, 128), (32, 128, 10),
                                   (32, 8192, 128), (3, 1024, 1025), (1, 2048, 600)])
def test_dense(n, i, o, dtype):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((n, i)) / np.sqrt(i)).astype(dtype)  # outputs of order 1
    w = rng.standard_normal((o, i)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    y = rk.dense_forward(x, w, b)
    np.testing.assert_allclose(y, x.astype(np.float64) @ w.T + b, **TOL[dtype])
    close(nk.dense_forward(x, w, b), y, dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    for got, want in zip(nk.dense_backward(dy, x, w), rk.dense_backward(dy, x, w)):
        close(got, want, dtype)


@pytest.mark.parametrize("n,i,o", [(1, 3, 2), (5, 9, 6), (32, 128, 10)])
def test_fused_relu_equals_relu_apart(n, i, o):
    rng = np.random.default_rng(15)
    x, w = rng.standard_normal((n, i)).astype(np.float32), rng.standard_normal((o, i))
    w, b = w.astype(np.float32), rng.standard_normal(o).astype(np.float32)
    y = nk.dense_forward(x, w, b, relu=True)
    np.testing.assert_array_equal(y, nk.relu_forward(nk.dense_forward(x, w, b)))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for fused, apart in zip(nk.dense_backward(dy, x, w, relu_output=y),
                            nk.dense_backward(nk.relu_backward(dy, y), x, w)):
        np.testing.assert_array_equal(fused, apart)


@pytest.mark.parametrize("k", BACKENDS)
def test_dense_backward_against_finite_differences(k):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    r = rng.standard_normal((3, 5))

    def loss():
        return np.sum(k.dense_forward(x, w, b) * r)

    dx, dw, db = k.dense_backward(r, x, w)
    check_gradient(dx, loss, x)
    check_gradient(dw, loss, w)
    check_gradient(db, loss, b)
