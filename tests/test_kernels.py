"""Every Numba kernel against its NumPy reference on random cases, both dtypes."""

import inspect

import numpy as np
import pytest

from fastnn.kernels import KERNELS
from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk

# Tolerances per dtype: float32 kernels sum in a different order than the reference.
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
DTYPES = [np.float32, np.float64]


def close(a, b, dtype):
    assert a.dtype == b.dtype == np.dtype(dtype)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, **TOL[dtype])


def conv_cases(seed, count):
    """Random conv geometries: batch, channels, odd sizes, strides and paddings."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        n, c, f = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
        h, w = rng.integers(1, 10, size=2)
        kh, kw = rng.integers(1, 5, size=2)
        stride, padding = rng.integers(1, 4), rng.integers(0, 3)
        if kh <= h + 2 * padding and kw <= w + 2 * padding:
            cases.append(tuple(int(v) for v in (n, c, f, h, w, kh, kw, stride, padding)))
    return cases


CONV_CASES = conv_cases(0, 24) + [(32, 1, 8, 28, 28, 5, 5, 1, 0), (2, 8, 8, 24, 24, 5, 5, 1, 0)]


def test_modules_have_the_same_functions_and_signatures():
    for name in KERNELS:
        assert inspect.signature(getattr(nk, name)) == inspect.signature(getattr(rk, name)), name


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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d(case, dtype):
    n, c, f, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((f, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    y = rk.conv2d_forward(x, wt, b, s, p)
    close(nk.conv2d_forward(x, wt, b, s, p), y, dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    for got, want in zip(nk.conv2d_backward(dy, x, wt, s, p), rk.conv2d_backward(dy, x, wt, s, p)):
        close(got, want, dtype)


def test_conv2d_matches_im2col_times_weights():
    """The documented identity: y[n] = w.reshape(F, -1) @ im2col(x)[n] + b."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), np.ones(4)
    cols = rk.im2col(x, 3, 3, 2, 1)
    want = (w.reshape(4, -1) @ cols + b[:, None]).reshape(2, 4, 4, 3)
    np.testing.assert_allclose(rk.conv2d_forward(x, w, b, 2, 1), want, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,i,o", [(1, 1, 1), (3, 7, 5), (32, 800, 128), (32, 128, 10)])
def test_dense(n, i, o, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, i)).astype(dtype)
    w = rng.standard_normal((o, i)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    y = rk.dense_forward(x, w, b)
    np.testing.assert_allclose(y, x.astype(np.float64) @ w.T + b, **TOL[dtype])
    close(nk.dense_forward(x, w, b), y, dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    for got, want in zip(nk.dense_backward(dy, x, w), rk.dense_backward(dy, x, w)):
        close(got, want, dtype)


POOL_CASES = [(1, 1, 2, 2, 2, 2), (2, 3, 7, 5, 2, 2), (2, 2, 9, 9, 3, 2), (3, 1, 6, 8, 3, 3),
              (1, 2, 5, 5, 2, 1), (2, 8, 20, 20, 2, 2), (32, 8, 20, 20, 2, 2), (1, 1, 4, 4, 4, 1)]


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


def test_maxpool_ties_go_to_the_first_maximum_and_overlaps_add():
    x = np.zeros((1, 1, 3, 3))
    for k in (rk, nk):
        y, arg = k.maxpool2d_forward(x, size=2, stride=1)
        np.testing.assert_array_equal(arg[0, 0], [[0, 1], [3, 4]])
        dx = k.maxpool2d_backward(np.ones_like(y), arg, x.shape)
        np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
        x2 = np.array([[[[0.0, 5.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]])
        y, arg = k.maxpool2d_forward(x2, size=2, stride=1)
        dx = k.maxpool2d_backward(np.ones_like(y), arg, x2.shape)
        assert dx[0, 0, 0, 1] == 2  # the 5 wins two overlapping windows


def test_maxpool_nan_wins_like_numpy_argmax():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    for k in (rk, nk):
        y, arg = k.maxpool2d_forward(x, 2, 2)
        assert np.isnan(y[0, 0, 0, 0]) and arg[0, 0, 0, 0] == 4


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


@pytest.mark.parametrize("k", [rk, nk])
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


def test_adam_first_step_moves_each_weight_by_lr():
    """With bias correction the first step is lr * g / (|g| + eps): about lr in size."""
    for k in (rk, nk):
        p = np.zeros(3)
        k.adam_update(p, np.array([2.0, -3.0, 1e-3]), np.zeros(3), np.zeros(3), 1, lr=0.01)
        np.testing.assert_allclose(p, [-0.01, 0.01, -0.01], rtol=1e-4)


@pytest.mark.parametrize("k", [rk, nk])
def test_kernels_are_deterministic(k):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((8, 3, 12, 12)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((8, 4, 10, 10)).astype(np.float32)
    first = k.conv2d_backward(dy, x, w)
    for _ in range(3):
        for a, b in zip(k.conv2d_backward(dy, x, w), first):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", CONV_CASES[:12])
def test_vectorized_baseline_matches_reference(case):
    from fastnn.kernels import vectorized as vk

    n, c, f, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(13)
    x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f)
    y = rk.conv2d_forward(x, wt, b, s, p)
    close(vk.conv2d_forward(x, wt, b, s, p), y, np.float64)
    dy = rng.standard_normal(y.shape)
    for got, want in zip(vk.conv2d_backward(dy, x, wt, s, p), rk.conv2d_backward(dy, x, wt, s, p)):
        close(got, want, np.float64)


@pytest.mark.parametrize("k", [rk, nk])
def test_conv2d_backward_without_input_grad(k):
    rng = np.random.default_rng(14)
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    dy = rng.standard_normal((2, 4, 5, 5))
    dx, dw, db = k.conv2d_backward(dy, x, w, input_grad=False)
    _, dw2, db2 = k.conv2d_backward(dy, x, w)
    assert dx is None
    np.testing.assert_array_equal(dw, dw2)
    np.testing.assert_array_equal(db, db2)


@pytest.mark.parametrize("k", [rk, nk])
@pytest.mark.parametrize("case", CONV_CASES[:6] + CONV_CASES[-1:])
def test_fused_relu_equals_relu_apart(k, case):
    n, c, f, h, w, kh, kw, s, p = case
    rng = np.random.default_rng(15)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((f, c, kh, kw)).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    np.testing.assert_array_equal(k.conv2d_forward(x, wt, b, s, p, relu=True),
                                  k.relu_forward(k.conv2d_forward(x, wt, b, s, p)))
    y = k.conv2d_forward(x, wt, b, s, p, relu=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for fused, apart in zip(k.conv2d_backward(dy, x, wt, s, p, relu_output=y),
                            k.conv2d_backward(k.relu_backward(dy, y), x, wt, s, p)):
        np.testing.assert_allclose(fused, apart, rtol=1e-6, atol=1e-6)
    x2, w2 = x.reshape(n, -1), rng.standard_normal((5, c * h * w)).astype(np.float32)
    b2 = rng.standard_normal(5).astype(np.float32)
    y2 = k.dense_forward(x2, w2, b2, relu=True)
    np.testing.assert_array_equal(y2, k.relu_forward(k.dense_forward(x2, w2, b2)))
    dy2 = rng.standard_normal(y2.shape).astype(np.float32)
    for fused, apart in zip(k.dense_backward(dy2, x2, w2, relu_output=y2),
                            k.dense_backward(k.relu_backward(dy2, y2), x2, w2)):
        np.testing.assert_array_equal(fused, apart)


POOLED_CONV_CASES = [case + pool for case, pool in zip(CONV_CASES[:12] + CONV_CASES[-2:],
                                                      [(2, 2), (2, 1), (3, 2), (1, 1)] * 4)
                     if (case[3] + 2 * case[8] - case[5]) // case[7] + 1 >= pool[0]
                     and (case[4] + 2 * case[8] - case[6]) // case[7] + 1 >= pool[0]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOLED_CONV_CASES)
def test_conv2d_relu_maxpool(case, dtype):
    """The fused kernel against the reference, and the reference against the three apart."""
    n, c, f, h, w, kh, kw, s, p, size, stride = case
    rng = np.random.default_rng(16)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((f, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    y, arg = rk.conv2d_relu_maxpool_forward(x, wt, b, s, p, size, stride)
    conv = rk.conv2d_forward(x, wt, b, s, p, relu=True)
    y_apart, arg_apart = rk.maxpool2d_forward(conv, size, stride)
    np.testing.assert_array_equal(y, y_apart)
    np.testing.assert_array_equal(arg, arg_apart)
    y2, arg2 = nk.conv2d_relu_maxpool_forward(x, wt, b, s, p, size, stride)
    close(y2, y, dtype)
    np.testing.assert_array_equal(arg2[y > 1e-3], arg[y > 1e-3])  # ties at 0 may differ
    dy = rng.standard_normal(y.shape).astype(dtype)
    want = rk.conv2d_relu_maxpool_backward(dy, y, arg, x, wt, s, p)
    apart = rk.conv2d_backward(rk.maxpool2d_backward(dy, arg, conv.shape), x, wt, s, p,
                               relu_output=conv)
    for got, ref, ref_apart in zip(nk.conv2d_relu_maxpool_backward(dy, y, arg, x, wt, s, p),
                                   want, apart):
        close(got, ref, dtype)
        close(ref, ref_apart, dtype)
    dx, dw, db = nk.conv2d_relu_maxpool_backward(dy, y, arg, x, wt, s, p, input_grad=False)
    assert dx is None
    close(dw, want[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_updates_over_many_arrays_equal_one_at_a_time(dtype):
    rng = np.random.default_rng(17)
    shapes = [(8, 1, 5, 5), (8,), (128, 800), (3,)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    for k in (rk, nk):
        p1, p2 = [p.copy() for p in params], [p.copy() for p in params]
        m1, v1 = [np.zeros_like(p) for p in p1], [np.zeros_like(p) for p in p1]
        m2, v2 = [np.zeros_like(p) for p in p1], [np.zeros_like(p) for p in p1]
        s1, s2 = [np.zeros_like(p) for p in p1], [np.zeros_like(p) for p in p1]
        for t in range(1, 4):
            grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
            k.adam_update_many(p1, grads, m1, v1, t, 1e-2, weight_decay=1e-3)
            k.sgd_update_many(p1, grads, s1, 0.1, 0.9, 1e-3)
            for i in range(len(p2)):
                k.adam_update(p2[i], grads[i], m2[i], v2[i], t, 1e-2, weight_decay=1e-3)
                k.sgd_update(p2[i], grads[i], s2[i], 0.1, 0.9, 1e-3)
        for a, b in zip(p1 + m1 + v1 + s1, p2 + m2 + v2 + s2):
            np.testing.assert_array_equal(a, b) if k is rk else close(a, b, dtype)
        k.adam_update_many([], [], [], [], 1)  # nothing to do
        k.sgd_update_many([], [], None, 0.1)
