"""Pooling, loop-style reference: max (with argmax), average and global average."""

from __future__ import annotations

import numpy as np

from .. import _checks as c
from .. import _validate as val
from ..geometry import out_hw


def maxpool2d_forward(x: np.ndarray, size: int = 2, stride: int | None = 2):
    """x (N, C, H, W) -> y (N, C, OH, OW) and argmax (N, C, OH, OW) int64.

    argmax holds the winner's flat index ``h * W + w`` within its (H, W) plane; ties go to the
    first maximum in row-major order (NumPy's argmax, which also lets a NaN win).
    """
    x, size, stride = c.pool_args(x, size, stride)
    n, ch, h, w = x.shape
    oh, ow = out_hw(h, w, size, size, stride)
    y = np.empty((n, ch, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, ch, oh, ow), dtype=np.int64)
    for b in range(n):
        for k in range(ch):
            for i in range(oh):
                for j in range(ow):
                    window = x[b, k, i * stride : i * stride + size, j * stride : j * stride + size]
                    wi, wj = np.unravel_index(np.argmax(window), window.shape)
                    y[b, k, i, j] = window[wi, wj]
                    argmax[b, k, i, j] = (i * stride + wi) * w + (j * stride + wj)
    return y, argmax


def maxpool2d_backward(dy: np.ndarray, argmax: np.ndarray, x_shape) -> np.ndarray:
    """Routes dy (N, C, OH, OW) to each window's winner; overlapping windows accumulate."""
    dy, argmax, x_shape = c.pool_backward_args(dy, argmax, x_shape)
    n, ch, h, w = x_shape
    dx = np.zeros((n, ch, h * w), dtype=dy.dtype)
    for b in range(n):
        for k in range(ch):
            for g, idx in zip(dy[b, k].ravel(), argmax[b, k].ravel()):
                dx[b, k, idx] += g
    return dx.reshape(x_shape)


def avgpool2d_forward(x: np.ndarray, size: int = 2, stride: int | None = 2) -> np.ndarray:
    """x (N, C, H, W) -> y (N, C, OH, OW), the mean of each size x size window."""
    x, size, stride = c.pool_args(x, size, stride)
    n, ch, h, w = x.shape
    oh, ow = out_hw(h, w, size, size, stride)
    y = np.empty((n, ch, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size]
            y[:, :, i, j] = window.mean(axis=(2, 3))
    return y


def avgpool2d_backward(dy: np.ndarray, x_shape, size: int = 2,
                       stride: int | None = 2) -> np.ndarray:
    """Spreads dy (N, C, OH, OW) evenly over each window; overlapping windows accumulate."""
    dy, x_shape, size, stride = c.avgpool_backward_args(dy, x_shape, size, stride)
    dx = np.zeros(x_shape, dtype=dy.dtype)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            share = dy[:, :, i, j] / (size * size)
            dx[:, :, i * stride : i * stride + size, j * stride : j * stride + size] += (
                share[:, :, None, None])
    return dx


def global_avgpool2d_forward(x: np.ndarray) -> np.ndarray:
    """x (N, C, H, W) -> y (N, C), the mean of each plane."""
    x = val.floats("x", x, 4)
    return x.mean(axis=(2, 3), dtype=np.float64).astype(x.dtype)


def global_avgpool2d_backward(dy: np.ndarray, x_shape) -> np.ndarray:
    """dy (N, C) spread evenly over each (H, W) plane: dx (N, C, H, W)."""
    dy, x_shape = c.global_pool_backward_args(dy, x_shape)
    dx = np.empty(x_shape, dtype=dy.dtype)
    for i in range(x_shape[0]):
        for k in range(x_shape[1]):
            dx[i, k] = dy[i, k] / (x_shape[2] * x_shape[3])
    return dx
