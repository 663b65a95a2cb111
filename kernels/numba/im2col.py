"""im2col and col2im, and the convolution built on them for strides other than 1: each sample's
patches are unrolled into a (C*KH*KW, OH*OW) matrix and multiplied by the weights."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _checks as c
from ..geometry import out_hw
from ._common import FASTMATH, add_combination, sum_batch


@njit(cache=True, inline="always")
def _im2col_one(x, kh, kw, stride, padding, oh, ow, cols):
    """One sample: x (C, H, W) -> cols (C*KH*KW, OH*OW)."""
    ch, h, w = x.shape
    for ci in range(ch):
        for ky in range(kh):
            for kx in range(kw):
                row = (ci * kh + ky) * kw + kx
                for oy in range(oh):
                    iy = oy * stride + ky - padding
                    base = oy * ow
                    if iy < 0 or iy >= h:
                        for ox in range(ow):
                            cols[row, base + ox] = 0
                        continue
                    for ox in range(ow):
                        ix = ox * stride + kx - padding
                        cols[row, base + ox] = x[ci, iy, ix] if 0 <= ix < w else 0


@njit(cache=True, inline="always")
def _col2im_one(cols, kh, kw, stride, padding, oh, ow, dx):
    """One sample, the adjoint of _im2col_one: adds cols (C*KH*KW, OH*OW) into dx (C, H, W)."""
    ch, h, w = dx.shape
    dx[:] = 0
    for ci in range(ch):
        for ky in range(kh):
            for kx in range(kw):
                row = (ci * kh + ky) * kw + kx
                for oy in range(oh):
                    iy = oy * stride + ky - padding
                    if iy < 0 or iy >= h:
                        continue
                    base = oy * ow
                    for ox in range(ow):
                        ix = ox * stride + kx - padding
                        if 0 <= ix < w:
                            dx[ci, iy, ix] += cols[row, base + ox]


@njit(cache=True, parallel=True)
def _im2col(x, kh, kw, stride, padding, oh, ow, cols):
    for i in prange(x.shape[0]):
        _im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols[i])


@njit(cache=True, parallel=True)
def _col2im(cols, kh, kw, stride, padding, oh, ow, dx):
    for i in prange(dx.shape[0]):
        _col2im_one(cols[i], kh, kw, stride, padding, oh, ow, dx[i])


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _conv2d_forward(x, w2, b, kh, kw, stride, padding, oh, ow, relu, y):
    """y (N, F, OH*OW) = w2 (F, K) @ im2col(x[n]) (K, OH*OW) + b, one sample per iteration."""
    f, k = w2.shape
    p = oh * ow
    for i in prange(x.shape[0]):
        cols = np.empty((k, p), dtype=x.dtype)
        _im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols)
        out = y[i]
        for fi in range(f):
            out[fi, :] = b[fi]
        for ki in range(k):
            crow = cols[ki]
            for fi in range(f):
                wk = w2[fi, ki]
                orow = out[fi]
                for q in range(p):
                    orow[q] += wk * crow[q]
        if relu:
            for fi in range(f):
                for q in range(p):
                    out[fi, q] = out[fi, q] if out[fi, q] > 0 else 0


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _conv2d_backward(dy, x, w2, kh, kw, stride, padding, oh, ow, need_dx, dx, dw_per):
    """dy (N, F, P); dw_per (N, F, K) gets each sample's weight gradient."""
    n = x.shape[0]
    f, k = w2.shape
    p = oh * ow
    for i in prange(n):
        cols = np.empty((k, p), dtype=x.dtype)
        _im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols)
        g = dy[i]
        for fi in range(f):
            grow = g[fi]
            for ki in range(k):
                crow = cols[ki]
                acc = x.dtype.type(0)
                for q in range(p):
                    acc += grow[q] * crow[q]
                dw_per[i, fi, ki] = acc
        if need_dx:
            # dcols = w2.T @ dy[i], reusing the cols buffer, then folded back onto dx[i]
            for ki in range(k):
                cols[ki] = 0
                add_combination(cols[ki], w2[:, ki], g)
            _col2im_one(cols, kh, kw, stride, padding, oh, ow, dx[i])


@njit(cache=True, fastmath=FASTMATH)
def _bias_grad(dy, db):
    """db[f] = sum of dy (N, F, OH, OW) over all but F, in float64 (vectorized: reassoc)."""
    n, f_count = dy.shape[0], dy.shape[1]
    flat = dy.reshape(n, f_count, -1)
    for fi in range(f_count):
        acc = 0.0
        for i in range(n):
            row = flat[i, fi]
            for q in range(row.size):
                acc += row[q]
        db[fi] = acc


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW): the patch under each output position."""
    x, kh, kw, stride, padding = c.im2col_args(x, kh, kw, stride, padding)
    n, ch, h, w = x.shape
    oh, ow = out_hw(h, w, kh, kw, stride, padding)
    cols = np.empty((n, ch * kh * kw, oh * ow), dtype=x.dtype)
    _im2col(x, kh, kw, stride, padding, oh, ow, cols)
    return cols


def col2im(cols: np.ndarray, x_shape, kh: int, kw: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """The adjoint of :func:`im2col`: cols (N, C*KH*KW, OH*OW) -> dx (N, C, H, W)."""
    cols, x_shape, kh, kw, stride, padding = c.col2im_args(cols, x_shape, kh, kw, stride,
                                                           padding)
    n, ch, h, w = x_shape
    oh, ow = out_hw(h, w, kh, kw, stride, padding)
    dx = np.empty(x_shape, dtype=cols.dtype)
    _col2im(cols, kh, kw, stride, padding, oh, ow, dx)
    return dx


def im2col_conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int,
                        padding: int, relu: bool) -> np.ndarray:
    """conv2d_forward through per-sample im2col (checked arguments): y (N, F, OH, OW)."""
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = out_hw(h, wd, kh, kw, stride, padding)
    y = np.empty((n, f, oh * ow), dtype=x.dtype)
    _conv2d_forward(x, w.reshape(f, -1), b, kh, kw, stride, padding, oh, ow, relu, y)
    return y.reshape(n, f, oh, ow)


def im2col_conv_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int,
                         padding: int, input_grad: bool):
    """conv2d_backward through per-sample im2col (checked arguments): dx or None, dw, db."""
    n, f, oh, ow = dy.shape
    kh, kw = w.shape[2:]
    dw_per = np.empty((n, f, w[0].size), dtype=x.dtype)
    db = np.empty(f, dtype=x.dtype)
    dx = np.empty_like(x) if input_grad else np.empty((n, 0, 0, 0), dtype=x.dtype)
    _conv2d_backward(dy.reshape(n, f, oh * ow), x, w.reshape(f, -1), kh, kw, stride, padding,
                     oh, ow, input_grad, dx, dw_per)
    _bias_grad(dy, db)
    return (dx if input_grad else None), sum_batch(dw_per).reshape(w.shape), db
