"""Image files: one decoded, converted and resized with Pillow (:func:`read_image`), or many
with a progress bar and one warning for those that are not images (:func:`read_images`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..progress import Progress

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm"}


def pillow():
    """Pillow's Image module, or an ImportError that says how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading image folders needs Pillow: pip install 'fastnn[images]'") \
            from None
    return Image


BACKGROUND = 1.0
"""The gray level (0 black .. 1 white) that transparent pixels are composited on: white, as
image viewers and browsers show them."""

_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def check_size(size) -> tuple[int, int]:
    """``size`` as (height, width) of positive ints; an int n means (n, n)."""
    dims = (size, size) if isinstance(size, (int, np.integer)) else size
    try:
        dims = tuple(dims)
    except TypeError:
        dims = ()
    if (len(dims) != 2 or any(isinstance(d, bool) or not isinstance(d, (int, np.integer))
                              or d < 1 for d in dims)):
        raise ValueError(f"size must be a positive integer or (height, width) of positive "
                         f"integers, got {size!r}")
    return int(dims[0]), int(dims[1])


def _decode(im, image_mod, background: float):
    """A Pillow image as 8-bit "L" or "RGB" (alpha composited, CMYK converted), or as float
    "F" in [0, 1] for 16-bit and float images."""
    if im.mode in _SIXTEEN_BIT or im.mode == "F":
        a = np.asarray(im, dtype=np.float32)
        if im.mode == "F":
            if not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1):
                raise ValueError(f"float image with values outside [0, 1] ({a.min()}..{a.max()})")
        else:  # 16-bit: full scale is 65535
            if a.min() < 0 or a.max() > 65535:
                raise ValueError(f"{im.mode} image with values {a.min():g}..{a.max():g} "
                                 "(only 8- and 16-bit images are read)")
            a /= np.float32(65535)
        return image_mod.fromarray(a)  # mode "F"
    if im.mode == "CMYK":  # R = (1 - C)(1 - K), computed here whatever Pillow's version does
        cmyk = np.asarray(im, dtype=np.uint16)
        rgb = ((255 - cmyk[..., :3]) * (255 - cmyk[..., 3:]) + 127) // 255
        return image_mod.fromarray(rgb.astype(np.uint8))  # mode "RGB"
    if (im.mode in ("P", "La", "RGBa") or "A" in im.getbands()
            or "transparency" in im.info):
        rgba = im.convert("RGBA")  # applies a palette's or a colour key's transparency
        if rgba.getextrema()[3][0] < 255:  # some pixel is (partly) transparent
            level = round(255 * background)
            rgba = image_mod.alpha_composite(
                image_mod.new("RGBA", rgba.size, (level, level, level, 255)), rgba)
        return rgba.convert("RGB")
    return im  # L, RGB, 1, YCbCr...: converted to the wanted mode by the caller


def read_image(path: str | os.PathLike, size: tuple[int, int] | int, mode: str = "rgb",
               background: float = BACKGROUND) -> np.ndarray:
    """One image file as float32 (C, h, w) in [0, 1]: decoded, converted and resized (Pillow).

    8-bit images are scaled by 1/255, 16-bit ones (PNG, TIFF) by 1/65535. Palette, CMYK
    ((1 - C)(1 - K)) and other modes are converted to RGB; gray is ITU-R 601 luma, as in
    Pillow. Transparent pixels (LA, RGBA, P or RGB with a transparent colour) are composited
    on a uniform ``background`` gray level, white (1.0) by default.
    """
    image_mod = pillow()
    if mode not in ("rgb", "gray"):
        raise ValueError(f"mode must be 'rgb' or 'gray', got {mode!r}")
    if not 0 <= background <= 1:
        raise ValueError(f"background must be a gray level in [0, 1], got {background!r}")
    h, w = check_size(size)
    with image_mod.open(path) as im:
        try:
            im = _decode(im, image_mod, background)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        if im.mode == "F":  # 16-bit or float: resized in float, one channel
            if im.size != (w, h):
                im = im.resize((w, h), image_mod.Resampling.BILINEAR)
            a = np.clip(np.asarray(im, dtype=np.float32), 0, 1)[None]
            return np.repeat(a, 3, axis=0) if mode == "rgb" else a
        im = im.convert("RGB" if mode == "rgb" else "L")
        if im.size != (w, h):
            im = im.resize((w, h), image_mod.Resampling.BILINEAR)
        a = np.asarray(im, dtype=np.float32) / np.float32(255)
    return a.transpose(2, 0, 1) if mode == "rgb" else a[None]


def read_images(paths: list[Path], size: tuple[int, int] | int, mode: str, what: str,
                progress: bool | None = None) -> tuple[list[np.ndarray], list[int]]:
    """Decodes many files as :func:`read_image` does, with a progress bar (over 500 files,
    unless ``progress`` says); files that are not readable images are skipped with one warning
    that lists them. Returns the images and the indices in ``paths`` they came from."""
    image_mod = pillow()
    size = check_size(size)  # bad arguments are errors, not files to skip
    if mode not in ("rgb", "gray"):
        raise ValueError(f"mode must be 'rgb' or 'gray', got {mode!r}")
    bar = Progress(len(paths), f"loading {what}", unit="img",
                   enabled=len(paths) > 500 if progress is None else progress)
    images, kept, skipped = [], [], []
    for i, path in enumerate(paths):
        try:
            images.append(read_image(path, size, mode))
            kept.append(i)
        except (OSError, ValueError, image_mod.DecompressionBombError):
            skipped.append(path)
        bar.update()
    bar.close()
    if skipped:
        listed = "\n  ".join(str(p) for p in skipped)
        warnings.warn(f"skipped {len(skipped)} file(s) that are not readable images:\n  {listed}",
                      stacklevel=3)
    return images, kept
