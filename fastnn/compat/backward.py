"""``CNN.backward`` on fastnn's kernels: one image at a time, channel-first, float64."""

import numpy as np

from fastnn.compat._kernels import maxpool_backward_assign as _maxpool_backward_assign
from fastnn.kernels import numba as _k


def convolutionBackward(dconv_prev, conv_in, filt, s):
    """dconv_prev (n_f, out, out), conv_in (n_c, in, in) -> dout (like conv_in),
    dfilt (like filt), dbias (n_f, 1)."""
    dy = np.asarray(dconv_prev, dtype=np.float64)[None]
    x = np.asarray(conv_in, dtype=np.float64)[None]
    w = np.asarray(filt, dtype=np.float64)
    dx, dw, db = _k.conv2d_backward(dy, x, w, int(s))
    return dx[0], dw, db.reshape(-1, 1)


def maxpoolBackward(dpool, orig, f, s):
    """Each window's gradient ASSIGNED at its first non-NaN maximum; later windows overwrite."""
    orig = np.asarray(orig, dtype=np.float64)
    dpool = np.asarray(dpool, dtype=np.float64)
    return _assign(dpool[None], orig[None], int(f), int(s))[0]


def _assign(dpool, orig, f, s):
    """Batched maxpoolBackward: dpool (N, C, OH, OW), orig (N, C, H, W)."""
    dout = np.empty(orig.shape, dtype=np.float64)
    oh, ow = (orig.shape[2] - f) // s + 1, (orig.shape[3] - f) // s + 1
    if dpool.shape[:2] != orig.shape[:2] or dpool.shape[2] < oh or dpool.shape[3] < ow:
        raise ValueError(f"dpool shape {dpool.shape[1:]} does not fit orig {orig.shape[1:]} "
                         f"pooled with f={f}, s={s}")
    if _maxpool_backward_assign(np.ascontiguousarray(dpool[:, :, :oh, :ow]),
                                np.ascontiguousarray(orig), f, s, dout):
        raise ValueError("All-NaN slice encountered")
    return dout
