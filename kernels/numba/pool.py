"""Pooling: max (with argmax for the backward pass), average, and global average."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _checks as c
from .. import _validate as val
from ..geometry import out_hw


@njit(cache=True, inline="always")
def _takes(v, best):
    """Whether v replaces the running maximum best: a larger number, or a NaN over a number
    (NumPy's argmax); ties keep the first."""
    return (v > best) | ((v != v) & (best == best))


@njit(cache=True, parallel=True)
def _maxpool_forward(x, size, stride, oh, ow, y, argmax):
    """Visits each window in row-major order, so ties keep the first maximum; a NaN replaces a
    number and is never replaced (NumPy's argmax). Selects rather than branches: on real data
    the comparisons are unpredictable. The common 2x2 window of stride 2 has its own unrolled
    loop, which LLVM vectorizes on output rows of 32 or more (several times faster on
    SimpleVGGNet's 64x64 planes; narrower rows run scalar, as the general loop does)."""
    w = x.shape[3]
    for i in prange(x.shape[0]):
        for ci in range(x.shape[1]):
            plane = x[i, ci]
            if size == 2 and stride == 2:
                out, arg = y[i, ci], argmax[i, ci]
                for oy in range(oh):
                    r = 2 * oy
                    for ox in range(ow):
                        q = 2 * ox
                        best, where = plane[r, q], r * w + q
                        for v, at in ((plane[r, q + 1], where + 1), (plane[r + 1, q], where + w),
                                      (plane[r + 1, q + 1], where + w + 1)):
                            take = _takes(v, best)
                            best = v if take else best
                            where = at if take else where
                        out[oy, ox], arg[oy, ox] = best, where
                continue
            for oy in range(oh):
                y0 = oy * stride
                for ox in range(ow):
                    x0 = ox * stride
                    best, where = plane[y0, x0], y0 * w + x0
                    for dy_ in range(size):
                        row = plane[y0 + dy_]
                        for dx_ in range(size):
                            v = row[x0 + dx_]
                            take = _takes(v, best)
                            best = v if take else best
                            where = (y0 + dy_) * w + x0 + dx_ if take else where
                    y[i, ci, oy, ox] = best
                    argmax[i, ci, oy, ox] = where


@njit(cache=True, parallel=True)
def _maxpool_backward(dy, argmax, dx):
    n, ch, oh, ow = dy.shape
    for i in prange(n):
        for ci in range(ch):
            plane = dx[i, ci]
            plane[:] = 0
            for oy in range(oh):
                for ox in range(ow):
                    plane[argmax[i, ci, oy, ox]] += dy[i, ci, oy, ox]


def maxpool2d_forward(x: np.ndarray, size: int = 2, stride: int | None = 2):
    """x (N, C, H, W) -> y (N, C, OH, OW) and argmax (N, C, OH, OW) int64.

    argmax holds the winner's flat index ``h * W + w`` within its (H, W) plane; ties go to the
    first maximum in row-major order, and a NaN wins as in NumPy's argmax.
    """
    x, size, stride = c.pool_args(x, size, stride)
    n, ch, h, w = x.shape
    oh, ow = out_hw(h, w, size, size, stride)
    y = np.empty((n, ch, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, ch, oh, ow), dtype=np.int64)
    _maxpool_forward(x, size, stride, oh, ow, y, argmax)
    return y, argmax


def maxpool2d_backward(dy: np.ndarray, argmax: np.ndarray, x_shape) -> np.ndarray:
    """Routes dy (N, C, OH, OW) to each window's winner; overlapping windows accumulate."""
    dy, argmax, x_shape = c.pool_backward_args(dy, argmax, x_shape)
    n, ch, h, w = x_shape
    dx = np.empty((n, ch, h * w), dtype=dy.dtype)
    _maxpool_backward(dy, argmax, dx)
    return dx.reshape(x_shape)


@njit(cache=True, parallel=True)
def _avgpool_forward(x, size, stride, y):
    scale = x.dtype.type(1.0 / (size * size))
    for i in prange(x.shape[0]):
        for ci in range(x.shape[1]):
            plane, out = x[i, ci], y[i, ci]
            for oy in range(out.shape[0]):
                for ox in range(out.shape[1]):
                    acc = x.dtype.type(0)
                    for dy_ in range(size):
                        row = plane[oy * stride + dy_]
                        for dx_ in range(size):
                            acc += row[ox * stride + dx_]
                    out[oy, ox] = acc * scale


@njit(cache=True, parallel=True)
def _avgpool_backward(dy, size, stride, dx):
    scale = dy.dtype.type(1.0 / (size * size))
    for i in prange(dy.shape[0]):
        for ci in range(dy.shape[1]):
            plane, g = dx[i, ci], dy[i, ci]
            plane[:] = 0
            for oy in range(g.shape[0]):
                for ox in range(g.shape[1]):
                    v = g[oy, ox] * scale
                    for dy_ in range(size):
                        row = plane[oy * stride + dy_]
                        for dx_ in range(size):
                            row[ox * stride + dx_] += v


def avgpool2d_forward(x: np.ndarray, size: int = 2, stride: int | None = 2) -> np.ndarray:
    """x (N, C, H, W) -> y (N, C, OH, OW), the mean of each size x size window."""
    x, size, stride = c.pool_args(x, size, stride)
    n, ch, h, w = x.shape
    y = np.empty((n, ch) + out_hw(h, w, size, size, stride), dtype=x.dtype)
    _avgpool_forward(x, size, stride, y)
    return y


def avgpool2d_backward(dy: np.ndarray, x_shape, size: int = 2,
                       stride: int | None = 2) -> np.ndarray:
    """Spreads dy (N, C, OH, OW) evenly over each window; overlapping windows accumulate."""
    dy, x_shape, size, stride = c.avgpool_backward_args(dy, x_shape, size, stride)
    dx = np.empty(x_shape, dtype=dy.dtype)
    _avgpool_backward(dy, size, stride, dx)
    return dx


def global_avgpool2d_forward(x: np.ndarray) -> np.ndarray:
    """x (N, C, H, W) -> y (N, C), the mean of each plane. (NumPy's reduction already runs at
    memory speed in one pass; a Numba loop would only add compile time.)"""
    x = val.floats("x", x, 4)
    return x.reshape(x.shape[0], x.shape[1], -1).mean(axis=2, dtype=np.float64).astype(x.dtype)


def global_avgpool2d_backward(dy: np.ndarray, x_shape) -> np.ndarray:
    """dy (N, C) spread evenly over each (H, W) plane: dx (N, C, H, W)."""
    dy, x_shape = c.global_pool_backward_args(dy, x_shape)
    scale = dy.dtype.type(1.0 / (x_shape[2] * x_shape[3]))
    return np.broadcast_to((dy * scale)[:, :, None, None], x_shape).copy()
