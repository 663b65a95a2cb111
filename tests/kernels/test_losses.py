"""Softmax and the losses: Numba against the reference, stability, finite differences."""

import numpy as np
import pytest
from kernel_cases import BACKENDS, DTYPES, TOL, check_gradient, close

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,k", [(1, 1), (1, 10), (32, 10), (7, 3)])
def test_softmax_losses(n, k, dtype):
    rng = np.random.default_rng(8)
    logits = (rng.standard_normal((n, k)) * 5).astype(dtype)
    labels = rng.integers(0, k, n)
    for name in ("softmax_cross_entropy", "multiclass_hinge"):
        loss, d = getattr(rk, name)(logits, labels)
        loss2, d2 = getattr(nk, name)(logits, labels)
        assert loss2.dtype == loss.dtype == np.dtype(dtype)
        np.testing.assert_allclose(loss2, loss, **TOL[dtype])
        close(d2, d, dtype)
    close(nk.softmax(logits), rk.softmax(logits), dtype)


@pytest.mark.parametrize("k", BACKENDS)
def test_softmax_cross_entropy_is_stable_for_huge_logits(k):
    logits = np.array([[1e4, 0.0, -1e4], [-3e38, 3e38, 0.0]], dtype=np.float32)
    loss, d = k.softmax_cross_entropy(logits, np.array([1, 1]))
    # row 0: the label's logit is 1e4 below the max -> loss 1e4; row 1: a sure hit -> 0
    np.testing.assert_allclose(loss, 5e3, rtol=1e-6)
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(k.softmax(logits).sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy(dtype):
    rng = np.random.default_rng(9)
    z = (rng.standard_normal((6, 1)) * 4).astype(dtype)
    z[:3, 0] = [1e4, -1e4, 0]
    t = rng.integers(0, 2, z.shape).astype(dtype)
    loss, d = rk.binary_cross_entropy_with_logits(z, t)
    loss2, d2 = nk.binary_cross_entropy_with_logits(z, t)
    np.testing.assert_allclose(loss2, loss, **TOL[dtype])
    close(d2, d, dtype)
    assert np.isfinite(loss)
    # straightforward formula where it is finite
    zz, tt = z[3:].astype(np.float64), t[3:].astype(np.float64)
    s = 1 / (1 + np.exp(-zz))
    naive = -(tt * np.log(s) + (1 - tt) * np.log(1 - s))
    np.testing.assert_allclose(rk.binary_cross_entropy_with_logits(z[3:], t[3:])[0], naive.mean(),
                               **TOL[dtype])


@pytest.mark.parametrize("k", BACKENDS)
def test_loss_gradients_against_finite_differences(k):
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((5, 4)) * 3
    labels = rng.integers(0, 4, 5)
    check_gradient(k.softmax_cross_entropy(logits, labels)[1],
          lambda: k.softmax_cross_entropy(logits, labels)[0], logits)
    check_gradient(k.multiclass_hinge(logits, labels)[1],
          lambda: k.multiclass_hinge(logits, labels)[0], logits)
    z = rng.standard_normal((6, 1)) * 3
    t = rng.random((6, 1))
    check_gradient(k.binary_cross_entropy_with_logits(z, t)[1],
          lambda: k.binary_cross_entropy_with_logits(z, t)[0], z)


def hinge_oracle(logits, labels, margin):
    """The multiclass hinge loss in closed form (vectorized NumPy, float64): per row, the
    margins of the other classes; the gradient is [margin > 0] / n for them and minus their
    count / n for the label."""
    z = logits.astype(np.float64)
    n = z.shape[0]
    rows = np.arange(n)
    m = z - z[rows, labels][:, None] + margin
    m[rows, labels] = 0.0
    violated = m > 0
    d = violated / n
    d[rows, labels] = -violated.sum(axis=1) / n
    return np.where(violated, m, 0.0).sum() / n, d


@pytest.mark.parametrize("k", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [1.0, 0.5, 0.0, 3.0])
def test_multiclass_hinge_against_the_closed_form(k, dtype, margin):
    rng = np.random.default_rng(11)
    logits = (rng.standard_normal((9, 5)) * 2).astype(dtype)
    labels = rng.integers(0, 5, 9)
    logits[0] = [0.0, 1.0, 1.0, -1.0, 2.0]  # margins of exactly 0: no violation, no gradient
    labels[0] = 1
    logits[1] = 0.0  # every class ties with the label
    labels[1] = 3
    want_loss, want_d = hinge_oracle(logits, labels, margin)
    loss, d = k.multiclass_hinge(logits, labels, margin)
    assert loss.dtype == d.dtype == np.dtype(dtype)
    np.testing.assert_allclose(loss, want_loss, **TOL[dtype])
    np.testing.assert_allclose(d, want_d, **TOL[dtype])
