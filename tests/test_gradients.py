"""Every backward kernel against central finite differences of its forward, in float64."""

import numpy as np
import pytest

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk

KERNELS = [pytest.param(rk, id="reference"), pytest.param(nk, id="numba")]


def numeric_grad(f, a, eps=1e-6):
    """Central differences of the scalar f() with respect to every element of a (in place)."""
    g = np.zeros_like(a)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f()
        flat[i] = old - eps
        lo = f()
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g


def check(analytic, f, a):
    np.testing.assert_allclose(analytic, numeric_grad(f, a), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("k", KERNELS)
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (3, 2)])
def test_conv2d_backward(k, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    y = k.conv2d_forward(x, w, b, stride, padding)
    r = rng.standard_normal(y.shape)

    def loss():
        return np.sum(k.conv2d_forward(x, w, b, stride, padding) * r)

    dx, dw, db = k.conv2d_backward(r, x, w, stride, padding)
    check(dx, loss, x)
    check(dw, loss, w)
    check(db, loss, b)


@pytest.mark.parametrize("k", KERNELS)
def test_dense_backward(k):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    r = rng.standard_normal((3, 5))

    def loss():
        return np.sum(k.dense_forward(x, w, b) * r)

    dx, dw, db = k.dense_backward(r, x, w)
    check(dx, loss, x)
    check(dw, loss, w)
    check(db, loss, b)


@pytest.mark.parametrize("k", KERNELS)
@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (2, 1)])
def test_maxpool_backward(k, size, stride):
    rng = np.random.default_rng(2)
    x = rng.permutation(196).reshape(2, 2, 7, 7) / 196.0  # no ties, gaps far above eps
    y, arg = k.maxpool2d_forward(x, size, stride)
    r = rng.standard_normal(y.shape)
    check(k.maxpool2d_backward(r, arg, x.shape),
          lambda: np.sum(k.maxpool2d_forward(x, size, stride)[0] * r), x)


@pytest.mark.parametrize("k", KERNELS)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activation_backward(k, name):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink
    fwd, bwd = getattr(k, f"{name}_forward"), getattr(k, f"{name}_backward")
    r = rng.standard_normal(x.shape)
    saved = x if name == "relu" else fwd(x)
    check(bwd(r, saved), lambda: np.sum(fwd(x) * r), x)


@pytest.mark.parametrize("k", KERNELS)
def test_loss_gradients(k):
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((5, 4)) * 3
    labels = rng.integers(0, 4, 5)
    check(k.softmax_cross_entropy(logits, labels)[1],
          lambda: k.softmax_cross_entropy(logits, labels)[0], logits)
    check(k.multiclass_hinge(logits, labels)[1],
          lambda: k.multiclass_hinge(logits, labels)[0], logits)
    z = rng.standard_normal((6, 1)) * 3
    t = rng.random((6, 1))
    check(k.binary_cross_entropy_with_logits(z, t)[1],
          lambda: k.binary_cross_entropy_with_logits(z, t)[0], z)
