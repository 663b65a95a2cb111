"""im2col and col2im, loop-style reference.

``im2col`` returns ``cols (N, C*KH*KW, OH*OW)``: one column per output position, rows ordered
(c, ky, kx) like ``w.reshape(F, -1)``, so that ``y[n] = w.reshape(F, -1) @ cols[n] + b[:, None]``.
"""

from __future__ import annotations

import numpy as np

from .. import _checks as c
from ..geometry import out_hw, pad


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW): the patch under each output position."""
    x, kh, kw, stride, padding = c.im2col_args(x, kh, kw, stride, padding)
    n, ch, h, w = x.shape
    oh, ow = out_hw(h, w, kh, kw, stride, padding)
    xp = pad(x, padding)
    cols = np.empty((n, ch * kh * kw, oh * ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            cols[:, :, i * ow + j] = patch.reshape(n, -1)
    return cols


def col2im(cols: np.ndarray, x_shape, kh: int, kw: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """The adjoint of :func:`im2col`: cols (N, C*KH*KW, OH*OW) -> dx (N, C, H, W).

    Where windows overlap, their contributions add up.
    """
    cols, x_shape, kh, kw, stride, padding = c.col2im_args(cols, x_shape, kh, kw, stride,
                                                           padding)
    n, ch, h, w = x_shape
    oh, ow = out_hw(h, w, kh, kw, stride, padding)
    dxp = np.zeros((n, ch, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = cols[:, :, i * ow + j].reshape(n, ch, kh, kw)
            dxp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] += patch
    return dxp[:, :, padding : padding + h, padding : padding + w].copy()
