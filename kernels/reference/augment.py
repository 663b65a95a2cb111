"""Augmentation, plain NumPy: an affine warp of each image with bilinear interpolation."""

from __future__ import annotations

import numpy as np

from .._augment import affine_warp_args


def affine_warp(x: np.ndarray, theta: np.ndarray, fill: str = "nearest",
                cval: float = 0.0) -> np.ndarray:
    """Warps each image of x (N, C, H, W): output pixel (i, j) of image n is x[n] sampled at
    ``theta[n] @ (i, j, 1)`` (row, column) with bilinear interpolation, the same for every
    channel. Outside the image, ``fill="nearest"`` repeats the edge pixels (Keras's default)
    and ``"constant"`` reads ``cval``. A weight of 0 never reads its neighbour, so the identity
    matrix returns x exactly. Returns (N, C, H, W) in x's dtype.
    """
    x, theta, mode, cval = affine_warp_args(x, theta, fill, cval)
    n, ch, h, w = x.shape
    nearest = mode == 0
    ii, jj = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    y = np.empty_like(x)
    for b in range(n):
        t = theta[b]
        sy = t[0, 0] * ii + t[0, 1] * jj + t[0, 2]
        sx = t[1, 0] * ii + t[1, 1] * jj + t[1, 2]
        if nearest:  # clamping the position repeats the edge
            sy, sx = np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)
        else:  # far outside is all cval: keep the integers small
            sy, sx = np.clip(sy, -2, h + 1), np.clip(sx, -2, w + 1)
        fy, fx = sy - np.floor(sy), sx - np.floor(sx)
        r0, c0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
        corners = [(r0, c0, (1 - fy) * (1 - fx), True), (r0, c0 + 1, (1 - fy) * fx, fx != 0),
                   (r0 + 1, c0, fy * (1 - fx), fy != 0), (r0 + 1, c0 + 1, fy * fx,
                                                          (fy != 0) & (fx != 0))]
        for k in range(ch):
            plane = x[b, k]
            v = np.zeros((h, w))
            for rows, cols, weight, used in corners:
                inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
                pixel = plane[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)].astype(np.float64)
                if not nearest:
                    pixel = np.where(inside, pixel, cval)
                v += np.multiply(weight, pixel, out=np.zeros_like(v), where=used)
            y[b, k] = v
    return y
