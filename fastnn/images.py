"""Images: one file decoded, converted and resized with Pillow (:func:`read_image`), and a
folder with one subfolder of images per class (:func:`image_folder`). Both are importable from
:mod:`fastnn.datasets`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .idx import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm"}


def _pillow():
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


def _check_size(size) -> tuple[int, int]:
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
    image_mod = _pillow()
    if mode not in ("rgb", "gray"):
        raise ValueError(f"mode must be 'rgb' or 'gray', got {mode!r}")
    if not 0 <= background <= 1:
        raise ValueError(f"background must be a gray level in [0, 1], got {background!r}")
    h, w = _check_size(size)
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


def folder_args(root: str | os.PathLike, size, test_fraction: float):
    """The checked (folder, (h, w)) of a loader that splits a folder's images."""
    root = Path(root)
    size = _check_size(size)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    return root, size


def stratified_split(x: np.ndarray, y: np.ndarray, names: list[str], test_fraction: float,
                     seed: int, where: str | os.PathLike = ""):
    """Splits each class on its own, then shuffles both parts: ``(x_train, y_train), (x_test,
    y_test)``. Every class must keep a training sample (and a test sample when
    ``test_fraction > 0``); ``names`` (one per class index) and ``where`` go in the error."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"xtr": [], "ytr": [], "xte": [], "yte": []}
    for c, name in enumerate(names):
        idx = np.flatnonzero(y == c)
        n, n_test = len(idx), int(round(len(idx) * test_fraction))
        if n - n_test < 1 or (test_fraction > 0 and n_test < 1):
            raise DataError(f"{Path(where) / name if where else name}: {n} image(s) split with "
                            f"test_fraction {test_fraction:g} leave {n - n_test} for training "
                            f"and {n_test} for testing; every class needs at least one of each "
                            "(add images or change the test fraction)")
        idx = idx[rng.permutation(n)]
        parts["xte"].append(x[idx[:n_test]])
        parts["xtr"].append(x[idx[n_test:]])
        parts["yte"].append(y[idx[:n_test]])
        parts["ytr"].append(y[idx[n_test:]])
    out = {key: np.concatenate(v) for key, v in parts.items()}
    for a, b in (("xtr", "ytr"), ("xte", "yte")):
        order = rng.permutation(len(out[a]))
        out[a], out[b] = out[a][order], out[b][order]
    return (out["xtr"], out["ytr"]), (out["xte"], out["yte"])


def read_images(paths: list[Path], size: tuple[int, int] | int, mode: str, what: str,
                progress: bool | None = None) -> tuple[list[np.ndarray], list[int]]:
    """Decodes many files as :func:`read_image` does, with a progress bar (over 500 files,
    unless ``progress`` says); files that are not readable images are skipped with one warning
    that lists them. Returns the images and the indices in ``paths`` they came from."""
    import warnings

    from .progress import Progress

    image_mod = _pillow()
    size = _check_size(size)  # bad arguments are errors, not files to skip
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


def image_folder(root: str | os.PathLike, size: tuple[int, int] | int = (64, 64),
                 mode: str = "rgb", test_fraction: float = 0.2, seed: int = 0,
                 progress: bool | None = None):
    """A folder with one subfolder of images per class -> ``(x_train, y_train), (x_test,
    y_test), class_names``.

    Images are float32 (N, C, h, w) in [0, 1] (C = 3 for ``mode="rgb"``, 1 for ``"gray"``),
    resized to ``size``; labels are int64 indices into ``class_names`` (the subfolder names,
    sorted). Each class is split on its own, so both parts hold every class. Files that are not
    readable images are skipped with one warning that lists them; a class folder without images
    is an error. A progress bar shows when there are more than 500 files. Decoding as in
    :func:`read_image` (16-bit scaled by 1/65535, transparency composited on white).

    It is an error when there are fewer than two classes, or when the split would leave a
    class without training images, or without test images while ``test_fraction > 0``.
    """
    root, size = folder_args(root, size, test_fraction)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class subfolders (expected one folder of images per class)")
    if len(classes) == 1:
        raise DataError(f"{root}: only one class folder ({classes[0]}); a classifier needs at "
                        "least two (one subfolder of images per class)")
    files = {c: sorted(p for p in (root / c).rglob("*") if p.is_file()
                       and not p.name.startswith(".")) for c in classes}
    paths = [(k, path) for k, c in enumerate(classes) for path in files[c]]
    decoded, kept = read_images([path for _, path in paths], size, mode, root.name, progress)
    images: dict[str, list[np.ndarray]] = {c: [] for c in classes}
    for image, i in zip(decoded, kept):
        images[classes[paths[i][0]]].append(image)
    empty = [str(root / c) for c in classes if not images[c]]
    if empty:
        raise DataError(f"no readable images in {', '.join(empty)}")
    x = np.stack([image for c in classes for image in images[c]])
    y = np.concatenate([np.full(len(images[c]), k, np.int64) for k, c in enumerate(classes)])
    train, test = stratified_split(x, y, classes, test_fraction, seed, root)
    return train, test, classes
