"""Numba kernels for the reference's own semantics, where they differ from fastnn's kernels."""

import numpy as np
from numba import njit, prange


@njit(cache=True)
def zero_where_not_positive(d, x):
    """``d[x <= 0] = 0`` in place (the reference's ReLU, and its gradient mask with d the
    gradient): d and x C-contiguous, of one shape. NaN in x is not <= 0: it keeps d."""
    df, xf = d.reshape(-1), x.reshape(-1)
    zero = d.dtype.type(0)
    for i in range(xf.size):
        if xf[i] <= 0:
            df[i] = zero


@njit(cache=True, parallel=True)
def maxpool_backward_assign(dpool, orig, f, s, dout):
    """Batched ``maxpoolBackward``: dpool (N, C, OH, OW), orig and dout (N, C, H, W).

    Each window's gradient is assigned at its ``nanargmax`` (first maximum in row-major order,
    NaNs ignored); windows are visited in row-major order so later ones overwrite. A window of
    NaNs only raises, as NumPy's nanargmax does. Samples run in parallel, each writing its own.
    """
    n, ch, oh, ow = dpool.shape
    nan_windows = np.zeros(n, dtype=np.bool_)
    for i in prange(n):
        for c in range(ch):
            dout[i, c] = 0
            for oy in range(oh):
                for ox in range(ow):
                    y0, x0 = oy * s, ox * s
                    best = -np.inf
                    by = bx = -1
                    for dy in range(f):
                        for dx in range(f):
                            v = orig[i, c, y0 + dy, x0 + dx]
                            if not np.isnan(v) and (by < 0 or v > best):
                                best, by, bx = v, dy, dx
                    if by < 0:
                        nan_windows[i] = True
                    else:
                        dout[i, c, y0 + by, x0 + bx] = dpool[i, c, oy, ox]
    return nan_windows.any()


@njit(cache=True)
def restarting_adam(p, g, batch_size, lr, beta1, beta2):
    """adamGD's update with fresh zero moments: v = (1-b1) g/B, s = (1-b2) (g/B)^2."""
    pf, gf = p.reshape(-1), g.reshape(-1)
    for i in range(pf.size):
        v = (1 - beta1) * gf[i] / batch_size
        s = (1 - beta2) * (gf[i] / batch_size) ** 2
        pf[i] -= lr * v / np.sqrt(s + 1e-7)
