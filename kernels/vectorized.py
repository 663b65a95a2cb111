"""Convolution in vectorized NumPy (im2col by stride tricks + one matrix product).

Not a backend: the best plain-NumPy baseline that benchmarks compare the Numba kernels with,
next to the loop-style reference. Same signatures as the reference's convolution functions.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import _checks as c
from .geometry import crop, out_hw, pad


def _windows(xp: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """(N, C, Hp, Wp) -> view (N, C, OH, OW, KH, KW)."""
    return sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW)."""
    x, kh, kw, stride, padding = c.im2col_args(x, kh, kw, stride, padding)
    win = _windows(pad(x, padding), kh, kw, stride)
    n, ch, oh, ow = win.shape[:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, ch * kh * kw, oh * ow)


def col2im(cols: np.ndarray, x_shape, kh: int, kw: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """Adjoint of :func:`im2col`: one strided add per kernel offset."""
    cols, x_shape, kh, kw, stride, padding = c.col2im_args(cols, x_shape, kh, kw, stride,
                                                           padding)
    n, ch, h, w = x_shape
    oh, ow = out_hw(h, w, kh, kw, stride, padding)
    g = cols.reshape(n, ch, kh, kw, oh, ow)
    dxp = np.zeros((n, ch, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for ky in range(kh):
        for kx in range(kw):
            rows = slice(ky, ky + stride * oh, stride)
            cols_ = slice(kx, kx + stride * ow, stride)
            dxp[:, :, rows, cols_] += g[:, :, ky, kx]
    return crop(dxp, padding, h, w)


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                   padding: int = 0, relu: bool = False) -> np.ndarray:
    x, w, b, stride, padding = c.conv2d_args(x, w, b, stride, padding)
    f, _, kh, kw = w.shape
    cols = im2col(x, kh, kw, stride, padding)
    n = x.shape[0]
    oh, ow = out_hw(x.shape[2], x.shape[3], kh, kw, stride, padding)
    y = np.matmul(w.reshape(f, -1), cols) + b[:, None]
    if relu:
        y = np.where(y <= 0, 0, y).astype(y.dtype)  # a NaN passes
    return y.reshape(n, f, oh, ow)


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0, input_grad: bool = True):
    dy, x, w, stride, padding = c.conv2d_backward_args(dy, x, w, stride, padding)
    n = x.shape[0]
    f, _, kh, kw = w.shape
    cols = im2col(x, kh, kw, stride, padding)
    g = dy.reshape(n, f, -1)
    dw = np.einsum("nfp,nkp->fk", g, cols).reshape(w.shape)
    dx = None
    if input_grad:
        dx = col2im(np.matmul(w.reshape(f, -1).T, g), x.shape, kh, kw, stride, padding)
    return dx, dw, g.sum(axis=(0, 2))
