"""The augment family's catalogue, the fill modes, and the check of affine_warp's arguments that
reads it (both backends call it; the kernels take the mode's index)."""

from __future__ import annotations

import numpy as np

from ._validate import floats, number

FILL_MODES = ("nearest", "constant")
"""affine_warp's fills outside the image: the nearest edge pixel, or the constant cval."""


def affine_warp_args(x, theta, fill, cval):
    """x (N, C, H, W) float; theta (N, 2, 3) finite floats, returned as float64; a fill mode of
    FILL_MODES and a finite cval."""
    x = floats("x", x, 4)
    if not isinstance(theta, np.ndarray) or theta.dtype.kind not in "fiu":
        raise ValueError(f"theta must be a NumPy array of numbers, got "
                         f"{getattr(theta, 'dtype', type(theta).__name__)}")
    if theta.shape != (x.shape[0], 2, 3):
        raise ValueError(f"theta must have shape ({x.shape[0]}, 2, 3) (one 2x3 matrix per image "
                         f"of x {x.shape}), got {theta.shape}")
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if not np.all(np.abs(theta) <= 1e12):  # also refuses NaN and infinity
        bad = theta.ravel()[np.argmax(~(np.abs(theta.ravel()) <= 1e12))]
        raise ValueError(f"theta entries must be finite and at most 1e12 in size, got {bad:g}")
    if fill not in FILL_MODES:
        raise ValueError(f"fill must be one of {', '.join(FILL_MODES)}, got {fill!r}")
    return x, theta, FILL_MODES.index(fill), number("cval", cval, -np.inf)
