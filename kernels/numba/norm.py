"""Batch normalization over the channels of (N, C) or (N, C, H, W) inputs.

Statistics are per channel over every other axis, summed in float64 in a fixed order; work is
split by channel under ``prange``, so the bits do not depend on the thread count. The backward
pass through the batch statistics is one per-channel affine map of (dy, x):
``dx = k1*dy + k2*x + k3`` (see :func:`batchnorm_backward_coefs`), which the fused
Conv2D + ReLU + BatchNorm2D kernel applies while it widens the gradient.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _checks as c


@njit(cache=True, parallel=True)
def _stats(x, mean, var):
    """x (N, C, L): mean and biased variance per channel, two passes in float64."""
    n, ch, length = x.shape
    count = n * length
    for ci in prange(ch):
        s = 0.0
        for i in range(n):
            for j in range(length):
                s += x[i, ci, j]
        m = s / count
        ss = 0.0
        for i in range(n):
            for j in range(length):
                d = x[i, ci, j] - m
                ss += d * d
        mean[ci] = m
        var[ci] = ss / count


@njit(cache=True, parallel=True)
def _affine(x, a, b, y):
    """y[:, c] = a[c] * x[:, c] + b[c] for x (N, C, L)."""
    for i in prange(x.shape[0]):
        for ci in range(x.shape[1]):
            ac, bc = a[ci], b[ci]
            row, out = x[i, ci], y[i, ci]
            for j in range(row.size):
                out[j] = ac * row[j] + bc


@njit(cache=True, parallel=True)
def _dot_sums(dy, x, sums):
    """sums[c] = (sum of dy, sum of dy * x) over channel c, in float64."""
    n, ch, length = x.shape
    for ci in prange(ch):
        s, sx = 0.0, 0.0
        for i in range(n):
            for j in range(length):
                g = dy[i, ci, j]
                s += g
                sx += g * x[i, ci, j]
        sums[ci, 0] = s
        sums[ci, 1] = sx


def _as3(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], a.shape[1], -1)


def _scale_shift(gamma, beta, mean, var, eps):
    """The per-channel affine map of the normalization: y = a * x + b, in float64."""
    a = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    return a, beta.astype(np.float64) - a * mean.astype(np.float64)


def batchnorm_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance (C,) of x (N, C) or (N, C, H, W)."""
    x = c.norm_input("x", x)
    mean = np.empty(x.shape[1])
    var = np.empty(x.shape[1])
    _stats(_as3(x), mean, var)
    return mean.astype(x.dtype), var.astype(x.dtype)


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
                      var: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta per channel; x (N, C) or (N, C, H, W),
    the others (C,)."""
    x, gamma, beta, mean, var, eps = c.batchnorm_args(x, gamma, beta, mean, var, eps)
    a, b = _scale_shift(gamma, beta, mean, var, eps)
    y = np.empty_like(x)
    _affine(_as3(x), a.astype(x.dtype), b.astype(x.dtype), _as3(y))
    return y


def batchnorm_backward_coefs(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray,
                             mean: np.ndarray, var: np.ndarray, eps: float):
    """(k1, k2, k3), dgamma, dbeta for batch norm's backward through its batch statistics:
    dx = k1*dy + k2*x + k3 per channel (checked arguments)."""
    sums = np.empty((x.shape[1], 2))
    _dot_sums(_as3(dy), _as3(x), sums)
    count = x.size // x.shape[1]
    g, m = gamma.astype(np.float64), mean.astype(np.float64)
    r = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    dbeta = sums[:, 0]
    dgamma = r * (sums[:, 1] - m * dbeta)
    k1 = g * r
    k2 = -g * r * r * dgamma / count
    k3 = -k1 * dbeta / count - k2 * m
    dt = x.dtype
    return (k1.astype(dt), k2.astype(dt), k3.astype(dt)), dgamma.astype(dt), dbeta.astype(dt)


def batchnorm_backward(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, mean: np.ndarray,
                       var: np.ndarray, eps: float = 1e-5):
    """Backward of batchnorm_forward in training, where mean and var are x's batch statistics:
    dy -> dx (x's shape), dgamma (C,), dbeta (C,)."""
    dy, x, gamma, mean, var, eps = c.batchnorm_backward_args(dy, x, gamma, mean, var, eps)
    (k1, k2, k3), dgamma, dbeta = batchnorm_backward_coefs(dy, x, gamma, mean, var, eps)
    dx = np.empty_like(x)
    _affine2(_as3(dy), _as3(x), k1, k2, k3, _as3(dx))
    return dx, dgamma, dbeta


@njit(cache=True, parallel=True)
def _affine2(dy, x, k1, k2, k3, dx):
    """dx[:, c] = k1[c] * dy[:, c] + k2[c] * x[:, c] + k3[c] for (N, C, L) arrays."""
    for i in prange(x.shape[0]):
        for ci in range(x.shape[1]):
            a, b, e = k1[ci], k2[ci], k3[ci]
            g, row, out = dy[i, ci], x[i, ci], dx[i, ci]
            for j in range(row.size):
                out[j] = a * g[j] + b * row[j] + e
