"""Random image augmentation per batch, as Keras's ImageDataGenerator does it.

    aug = fn.Augment(rotation=30, shift=0.1, shear=0.2, zoom=0.2, flip=True, seed=0)
    xb = aug(xb, rng)          # (N, C, H, W) -> (N, C, H, W), a new random warp per image

The random parameters are drawn in Python from a NumPy ``Generator`` (the one passed in, else
the object's own, seeded by ``seed``), so a seeded run is reproducible; one 2x3 matrix per image
goes to the ``affine_warp`` kernel, which samples the image with bilinear interpolation. The
settings of the Keras tutorial are the defaults, with these meanings:

- ``rotation``: degrees, uniform in [-rotation, rotation]; positive turns the image counter-
  clockwise, as ``np.rot90`` does.
- ``shift``: a fraction of the height and width (one number, or a (height, width) pair),
  uniform in [-shift, shift]: Keras's ``height_shift_range`` and ``width_shift_range``.
- ``shear``: a shear angle in radians, uniform in [-shear, shear], as in the Keras of the
  tutorial (Keras 2.2 and later read ``shear_range`` in degrees, which makes its 0.2 a barely
  visible 0.2 degrees).
- ``zoom``: the row and column scales are drawn independently, uniform in [1 - zoom,
  1 + zoom]; as in Keras a scale above 1 zooms out (the image is sampled more widely).
- ``flip``: a horizontal mirror with probability 1/2.
- ``fill``: what is seen beyond the edges: ``"nearest"`` repeats the edge pixels (Keras's
  default); ``"constant"`` is ``cval``.

All transforms turn about the image's centre ((H - 1)/2, (W - 1)/2).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import kernels
from .kernels._checks import FILL_MODES


def _fraction(name: str, value: object, upper: float, closed: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            0 <= value <= upper if closed else 0 <= value < upper):
        bound = f"<= {upper:g}" if closed else f"< {upper:g}"
        raise ValueError(f"Augment {name} must be a number >= 0 and {bound}, got {value!r}")
    return float(value)


def transform_matrices(h: int, w: int, rotation=0.0, shift_y=0.0, shift_x=0.0, shear=0.0,
                       zoom_y=1.0, zoom_x=1.0, flip=False) -> np.ndarray:
    """(n, 2, 3) float64 matrices for ``affine_warp`` on H x W images, one per entry of the
    parameters (arrays of n, or numbers): rotation in degrees (counter-clockwise), shifts in
    pixels (positive moves the content down and right), shear in radians, zoom as the
    sampling scale (above 1 zooms out), flip a horizontal mirror. Each maps an output pixel
    (row, column, 1) to the input position it is sampled at; the centre is ((H - 1)/2,
    (W - 1)/2). All parameters neutral give exactly the identity."""
    params = np.broadcast_arrays(*(np.asarray(p, dtype=np.float64) for p in (
        rotation, shift_y, shift_x, shear, zoom_y, zoom_x, flip)))
    angle, ty, tx, shear, zy, zx, mirror = (np.atleast_1d(p) for p in params)
    n = angle.shape[0]
    cos, sin = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    zero, one = np.zeros(n), np.ones(n)
    # output (u, v) about the centre -> mirror -> zoom -> shear -> rotate -> input position
    rotate = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)
    shear_m = np.stack([np.stack([one, -np.sin(shear)], -1),
                        np.stack([zero, np.cos(shear)], -1)], -2)
    scale = np.stack([np.stack([zy, zero], -1),
                      np.stack([zero, np.where(mirror != 0, -zx, zx)], -1)], -2)
    m = rotate @ shear_m @ scale
    cy, cx = (h - 1) / 2, (w - 1) / 2
    theta = np.empty((n, 2, 3))
    theta[:, :, :2] = m
    theta[:, 0, 2] = cy - m[:, 0, 0] * cy - m[:, 0, 1] * cx - ty
    theta[:, 1, 2] = cx - m[:, 1, 0] * cy - m[:, 1, 1] * cx - tx
    return theta


class Augment:
    """Random rotation, shift, shear, zoom and horizontal flip of image batches
    (N, C, H, W); see the module's docstring for each setting. All zero (and ``flip=False``)
    returns the batch unchanged."""

    def __init__(self, rotation: float = 30.0, shift: float | tuple[float, float] = 0.1,
                 shear: float = 0.2, zoom: float = 0.2, flip: bool = True,
                 fill: str = "nearest", cval: float = 0.0, seed: int | None = None) -> None:
        self.rotation = _fraction("rotation", rotation, 180, closed=True)
        pair = shift if isinstance(shift, (tuple, list)) else (shift, shift)
        if len(pair) != 2:
            raise ValueError(f"Augment shift must be a number or a (height, width) pair, "
                             f"got {shift!r}")
        self.shift = (_fraction("shift", pair[0], 1), _fraction("shift", pair[1], 1))
        self.shear = _fraction("shear", shear, math.pi / 2)
        self.zoom = _fraction("zoom", zoom, 1)
        if not isinstance(flip, (bool, np.bool_)):
            raise ValueError(f"Augment flip must be True or False, got {flip!r}")
        self.flip = bool(flip)
        if fill not in FILL_MODES:
            raise ValueError(f"Augment fill must be one of {', '.join(FILL_MODES)}, got {fill!r}")
        self.fill = fill
        if isinstance(cval, bool) or not isinstance(cval, numbers.Real) or not math.isfinite(
                cval):
            raise ValueError(f"Augment cval must be a finite number, got {cval!r}")
        self.cval = float(cval)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"Augment seed must be an integer or None, got {seed!r}")
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def matrices(self, n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 2, 3) float64: for each image, the map from an output pixel (row, column, 1) to
        the input position it is sampled at. Draws 7 uniforms per image from ``rng``, whatever
        the settings, so changing one setting leaves the others' draws alone."""
        u = rng.random((n, 7)) * 2 - 1  # [-1, 1)
        return transform_matrices(
            h, w, rotation=self.rotation * u[:, 0], shift_y=self.shift[0] * h * u[:, 1],
            shift_x=self.shift[1] * w * u[:, 2], shear=self.shear * u[:, 3],
            zoom_y=1 + self.zoom * u[:, 4], zoom_x=1 + self.zoom * u[:, 5],
            flip=(u[:, 6] < 0) & self.flip)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """A randomly warped copy of the batch x (N, C, H, W), in x's dtype; ``rng`` draws
        the parameters (default: this object's generator, seeded by ``seed``)."""
        if not isinstance(x, np.ndarray) or x.ndim != 4:
            raise ValueError(f"Augment needs a batch of images (N, C, H, W), got "
                             f"{getattr(x, 'shape', type(x).__name__)}; flat feature vectors "
                             f"cannot be rotated or shifted")
        if rng is None:
            rng = self.rng
        elif not isinstance(rng, np.random.Generator):
            raise ValueError(f"Augment rng must be a numpy.random.Generator, got "
                             f"{type(rng).__name__}")
        n, _, h, w = x.shape
        return kernels().affine_warp(x, self.matrices(n, h, w, rng), self.fill, self.cval)

    def config(self) -> dict:
        return {"rotation": self.rotation, "shift": list(self.shift), "shear": self.shear,
                "zoom": self.zoom, "flip": self.flip, "fill": self.fill, "cval": self.cval,
                "seed": self.seed}

    def __repr__(self) -> str:
        return "Augment(" + ", ".join(f"{k}={v!r}" for k, v in self.config().items()) + ")"
