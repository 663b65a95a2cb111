"""Activations: Numba against the reference, backward against finite differences."""

import numpy as np
import pytest
from kernel_cases import BACKENDS, DTYPES, check_gradient, close

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations(name, dtype):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((4, 3, 5)) * 30).astype(dtype)
    x[0, 0, :2] = [0, 1e4]
    y = getattr(rk, f"{name}_forward")(x)
    close(getattr(nk, f"{name}_forward")(x), y, dtype)
    assert np.all(np.isfinite(y))
    dy = rng.standard_normal(x.shape).astype(dtype)
    saved = x if name == "relu" else y
    close(getattr(nk, f"{name}_backward")(dy, saved), getattr(rk, f"{name}_backward")(dy, saved),
          dtype)


@pytest.mark.parametrize("k", BACKENDS)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activation_backward_against_finite_differences(k, name):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink
    fwd, bwd = getattr(k, f"{name}_forward"), getattr(k, f"{name}_backward")
    r = rng.standard_normal(x.shape)
    saved = x if name == "relu" else fwd(x)
    check_gradient(bwd(r, saved), lambda: np.sum(fwd(x) * r), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.9])
def test_dropout(p, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3, 7, 9)).astype(dtype)
    u = rng.random(x.shape, dtype=np.float32)
    u.flat[:3] = [p, np.nextafter(np.float32(p), np.float32(0)), 0]  # the edge: u >= p keeps
    y = rk.dropout_forward(x, u, p)
    np.testing.assert_array_equal(nk.dropout_forward(x, u, p), y)  # the same bits
    kept = u >= np.float32(p)
    np.testing.assert_array_equal(y[~kept], 0)
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)
    assert kept.flat[0] and (p == 0 or not kept.flat[1])
    dy = rng.standard_normal(x.shape).astype(dtype)
    np.testing.assert_array_equal(nk.dropout_backward(dy, u, p), rk.dropout_backward(dy, u, p))
    np.testing.assert_array_equal(rk.dropout_backward(dy, u, p), rk.dropout_forward(dy, u, p))


@pytest.mark.parametrize("k", BACKENDS)
@pytest.mark.parametrize("args,match", [
    ((np.ones(3, np.float32), np.ones(3), 0.5), "u must be float32"),
    ((np.ones(3, np.float32), np.ones(4, np.float32), 0.5), "x shape .3,. does not match u"),
    ((np.ones(3, np.float32), np.ones(3, np.float32), 1.0), r"p must be in \[0, 1\), got 1.0"),
    ((np.ones(3, np.float32), np.ones(3, np.float32), "0.5"), "p must be in"),
    ((np.ones(3, np.int64), np.ones(3, np.float32), 0.5), "x must be float32 or float64")])
def test_dropout_bad_arguments_are_named(k, args, match):
    with pytest.raises(ValueError, match=match):
        k.dropout_forward(*args)
