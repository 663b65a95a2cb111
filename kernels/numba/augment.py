"""Augmentation: an affine warp of each image with bilinear interpolation.

Serial: at batch 32 of 28x28 images the warp takes about 0.4 ms on one core, and with
``parallel=True`` it ran several times slower on the shared 2-core machine."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._augment import affine_warp_args


@njit(cache=True)
def _warp(x, theta, nearest, cval, y):
    n, ch, h, w = x.shape
    lo = 0.0 if nearest else -2.0  # far outside is all cval: keep the integers small
    hi_y = h - 1.0 if nearest else h + 1.0
    hi_x = w - 1.0 if nearest else w + 1.0
    for b in range(n):
        t00, t01, t02 = theta[b, 0, 0], theta[b, 0, 1], theta[b, 0, 2]
        t10, t11, t12 = theta[b, 1, 0], theta[b, 1, 1], theta[b, 1, 2]
        for i in range(h):
            for j in range(w):
                sy = min(max(t00 * i + t01 * j + t02, lo), hi_y)
                sx = min(max(t10 * i + t11 * j + t12, lo), hi_x)
                fy0, fx0 = math.floor(sy), math.floor(sx)
                fy, fx = sy - fy0, sx - fx0
                r0, c0 = int(fy0), int(fx0)
                r1, c1 = r0 + 1, c0 + 1
                w00, w01 = (1 - fy) * (1 - fx), (1 - fy) * fx
                w10, w11 = fy * (1 - fx), fy * fx
                if nearest:  # clamping the position repeats the edge
                    r1, c1 = min(r1, h - 1), min(c1, w - 1)
                    for k in range(ch):
                        p = x[b, k]
                        v = w00 * p[r0, c0]
                        if fx != 0:
                            v += w01 * p[r0, c1]
                        if fy != 0:
                            v += w10 * p[r1, c0]
                            if fx != 0:
                                v += w11 * p[r1, c1]
                        y[b, k, i, j] = v
                else:
                    in_r0, in_r1 = 0 <= r0 < h, 0 <= r1 < h
                    in_c0, in_c1 = 0 <= c0 < w, 0 <= c1 < w
                    for k in range(ch):
                        p = x[b, k]
                        v = w00 * (np.float64(p[r0, c0]) if in_r0 and in_c0 else cval)
                        if fx != 0:
                            v += w01 * (np.float64(p[r0, c1]) if in_r0 and in_c1 else cval)
                        if fy != 0:
                            v += w10 * (np.float64(p[r1, c0]) if in_r1 and in_c0 else cval)
                            if fx != 0:
                                v += w11 * (np.float64(p[r1, c1]) if in_r1 and in_c1 else cval)
                        y[b, k, i, j] = v


def affine_warp(x: np.ndarray, theta: np.ndarray, fill: str = "nearest",
                cval: float = 0.0) -> np.ndarray:
    """Warps each image of x (N, C, H, W): output pixel (i, j) of image n is x[n] sampled at
    ``theta[n] @ (i, j, 1)`` (row, column) with bilinear interpolation, the same for every
    channel. Outside the image, ``fill="nearest"`` repeats the edge pixels (Keras's default)
    and ``"constant"`` reads ``cval``. A weight of 0 never reads its neighbour, so the identity
    matrix returns x exactly. Returns (N, C, H, W) in x's dtype.
    """
    x, theta, mode, cval = affine_warp_args(x, theta, fill, cval)
    y = np.empty_like(x)
    _warp(x, theta, mode == 0, cval, y)
    return y
