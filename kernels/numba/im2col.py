"""im2col and col2im: each sample's patches unrolled into a (C*KH*KW, OH*OW) matrix, and back.
The convolution built on them for strides other than 1 is :mod:`.conv.im2col`."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _checks as c
from ..geometry import out_hw


@njit(cache=True, inline="always")
def im2col_one(x, kh, kw, stride, padding, oh, ow, cols):
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
def col2im_one(cols, kh, kw, stride, padding, oh, ow, dx):
    """One sample, the adjoint of im2col_one: adds cols (C*KH*KW, OH*OW) into dx (C, H, W)."""
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
    """cols[i] = im2col_one(x[i]) for each sample, under prange.

    Arguments (positional):
    x : (N, C, H, W) the input, unpadded
    kh, kw, stride, padding : the window
    oh, ow : the output's height and width
    cols : (N, C*KH*KW, OH*OW) output
    """
    for i in prange(x.shape[0]):
        im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols[i])


@njit(cache=True, parallel=True)
def _col2im(cols, kh, kw, stride, padding, oh, ow, dx):
    """dx[i] = col2im_one(cols[i]) for each sample, under prange.

    Arguments (positional):
    cols : (N, C*KH*KW, OH*OW) the unrolled patches (or their gradient)
    kh, kw, stride, padding : the window
    oh, ow : the output's height and width
    dx : (N, C, H, W) output
    """
    for i in prange(dx.shape[0]):
        col2im_one(cols[i], kh, kw, stride, padding, oh, ow, dx[i])


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
