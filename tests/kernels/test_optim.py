"""Optimizer updates: Numba against the reference, one call for many arrays."""

import numpy as np
import pytest
from kernel_cases import BACKENDS, DTYPES, close

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk


@pytest.mark.parametrize("size", [20, 40000])  # serial and parallel loops
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,wd", [(0.0, 0.0), (0.9, 0.0), (0.9, 1e-2), (0.0, 1e-2)])
def test_sgd_update(momentum, wd, dtype, size):
    rng = np.random.default_rng(10)
    p1 = rng.standard_normal((size // 4, 4)).astype(dtype)
    v1 = rng.standard_normal(p1.shape).astype(dtype) if momentum else None
    p2, v2 = p1.copy(), None if v1 is None else v1.copy()
    for _ in range(3):
        g = rng.standard_normal(p1.shape).astype(dtype)
        rk.sgd_update(p1, g, v1, 0.1, momentum, wd)
        nk.sgd_update(p2, g, v2, 0.1, momentum, wd)
    close(p2, p1, dtype)
    if momentum:
        close(v2, v1, dtype)


@pytest.mark.parametrize("size", [17, 40000])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 1e-2])
def test_adam_update(wd, dtype, size):
    rng = np.random.default_rng(11)
    p1 = rng.standard_normal(size).astype(dtype)
    m1, v1 = np.zeros_like(p1), np.zeros_like(p1)
    p2, m2, v2 = p1.copy(), m1.copy(), v1.copy()
    for t in range(1, 5):
        g = rng.standard_normal(p1.shape).astype(dtype)
        rk.adam_update(p1, g, m1, v1, t, 1e-2, weight_decay=wd)
        nk.adam_update(p2, g, m2, v2, t, 1e-2, weight_decay=wd)
    for a, b in ((p2, p1), (m2, m1), (v2, v1)):
        close(a, b, dtype)


@pytest.mark.parametrize("k", BACKENDS)
def test_adam_first_step_moves_each_weight_by_lr(k):
    """With bias correction the first step is lr * g / (|g| + eps): about lr in size."""
    p = np.zeros(3)
    k.adam_update(p, np.array([2.0, -3.0, 1e-3]), np.zeros(3), np.zeros(3), 1, lr=0.01)
    np.testing.assert_allclose(p, [-0.01, 0.01, -0.01], rtol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_updates_over_many_arrays_equal_one_at_a_time(dtype):
    """The Numba _many kernels against their own one-array kernels (the reference's _many
    functions are that loop)."""
    rng = np.random.default_rng(17)
    shapes = [(8, 1, 5, 5), (8,), (128, 800), (3,)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    p1, p2 = [p.copy() for p in params], [p.copy() for p in params]
    m1, v1 = [np.zeros_like(p) for p in p1], [np.zeros_like(p) for p in p1]
    m2, v2 = [np.zeros_like(p) for p in p1], [np.zeros_like(p) for p in p1]
    s1, s2 = [np.zeros_like(p) for p in p1], [np.zeros_like(p) for p in p1]
    for t in range(1, 4):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        nk.adam_update_many(p1, grads, m1, v1, t, 1e-2, weight_decay=1e-3)
        nk.sgd_update_many(p1, grads, s1, 0.1, 0.9, 1e-3)
        for i in range(len(p2)):
            nk.adam_update(p2[i], grads[i], m2[i], v2[i], t, 1e-2, weight_decay=1e-3)
            nk.sgd_update(p2[i], grads[i], s2[i], 0.1, 0.9, 1e-3)
    for a, b in zip(p1 + m1 + v1 + s1, p2 + m2 + v2 + s2):
        close(a, b, dtype)


@pytest.mark.parametrize("k", BACKENDS)
def test_updates_of_nothing_do_nothing(k):
    k.adam_update_many([], [], [], [], 1)
    k.sgd_update_many([], [], None, 0.1)
