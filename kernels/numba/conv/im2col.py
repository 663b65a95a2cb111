"""Convolution at any stride through per-sample im2col: each sample's patches are unrolled into
a (C*KH*KW, OH*OW) matrix (:func:`..im2col.im2col_one`) and multiplied by the weights in Numba
loops. The algorithm for strides other than 1; it has no fused epilogues (the public kernels in
:mod:`.` compose the separate ones)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ...geometry import out_hw
from .._common import FASTMATH, add_combination, sum_batch
from ..im2col import col2im_one, im2col_one


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _conv2d_forward(x, w2, b, kh, kw, stride, padding, oh, ow, relu, y):
    """y = w2 @ im2col(x[i]) + b (or its ReLU), one sample per prange iteration.

    Arguments (positional):
    x : (N, C, H, W) the input, unpadded
    w2 : (F, K) the weights, K = C*KH*KW
    b : (F,) the bias
    kh, kw, stride, padding : the window
    oh, ow : the output's height and width
    relu : bool
    y : (N, F, OH*OW) output
    """
    f, k = w2.shape
    p = oh * ow
    for i in prange(x.shape[0]):
        cols = np.empty((k, p), dtype=x.dtype)
        im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols)
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
                    out[fi, q] = 0 if out[fi, q] <= 0 else out[fi, q]  # NaN passes


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _conv2d_backward(dy, x, w2, kh, kw, stride, padding, oh, ow, need_dx, dx, dw_per):
    """Each sample's weight gradient, and (with need_dx) its input gradient through col2im.

    Arguments (positional):
    dy : (N, F, OH*OW) the output gradient
    x : (N, C, H, W) the input, unpadded
    w2 : (F, K) the weights, K = C*KH*KW
    kh, kw, stride, padding : the window
    oh, ow : the output's height and width
    need_dx : bool
    dx : (N, C, H, W) output, the input gradient; unused ((N, 0, 0, 0)) without need_dx
    dw_per : (N, F, K) output, each sample's weight gradient (the caller sums them in order)
    """
    n = x.shape[0]
    f, k = w2.shape
    p = oh * ow
    for i in prange(n):
        cols = np.empty((k, p), dtype=x.dtype)
        im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols)
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
            col2im_one(cols, kh, kw, stride, padding, oh, ow, dx[i])


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


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int,
            relu: bool) -> np.ndarray:
    """conv2d_forward through per-sample im2col (checked arguments): y (N, F, OH, OW)."""
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = out_hw(h, wd, kh, kw, stride, padding)
    y = np.empty((n, f, oh * ow), dtype=x.dtype)
    _conv2d_forward(x, w.reshape(f, -1), b, kh, kw, stride, padding, oh, ow, relu, y)
    return y.reshape(n, f, oh, ow)


def backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int, padding: int,
             input_grad: bool):
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
