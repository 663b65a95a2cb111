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


