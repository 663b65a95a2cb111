"""MATLAB .mat files: the arrays of a tutorial's data (:func:`from_mat`), read by SciPy's
``loadmat``, or through h5py for v7.3 (HDF5) files.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .idx import DataError


def _read_mat(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """The named arrays of a .mat file: v4-v7.2 through SciPy, v7.3 (HDF5) through h5py."""
    if not path.is_file():
        raise FileNotFoundError(f"no .mat file at {path}")
    with open(path, "rb") as f:
        head = f.read(520)
    if b"MATLAB 7.3" in head[:128] or head[:8] == b"\x89HDF\r\n\x1a\n" or \
            head[512:520] == b"\x89HDF\r\n\x1a\n":
        return _read_mat_hdf5(path, keys)
    from scipy.io import loadmat

    try:
        data = loadmat(path, variable_names=keys)
    except (ValueError, TypeError, OSError, NotImplementedError) as e:
        raise DataError(f"{path}: not a readable MATLAB file ({e})") from None
    available = _mat_names(path)
    return {k: data[k] for k in keys if k in data} | {"__names__": available}


def _mat_names(path: Path) -> list[str]:
    from scipy.io import whosmat

    try:
        return [name for name, _, _ in whosmat(path)]
    except (ValueError, TypeError, OSError, NotImplementedError):
        return []


def _read_mat_hdf5(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{path} is a MATLAB v7.3 (HDF5) file: reading it needs h5py: "
                          "pip install 'fastnn[hdf5]'") from None
    out: dict = {}
    try:
        with h5py.File(path, "r") as f:
            out["__names__"] = [k for k in f.keys() if not k.startswith("#")]
            for k in keys:
                if k in f:
                    if not isinstance(f[k], h5py.Dataset):
                        raise DataError(f"{path}: {k} is a {type(f[k]).__name__}, not an array")
                    # MATLAB writes column-major: h5py sees the dimensions reversed
                    out[k] = np.asarray(f[k][()]).T
    except OSError as e:
        raise DataError(f"{path}: not a readable MATLAB v7.3 (HDF5) file ({e})") from None
    return out


def _mat_labels(y: np.ndarray, path: Path, key: str, n: int) -> np.ndarray:
    if y.dtype.kind not in "iufb" or y.size != n or (y.ndim == 2 and 1 not in y.shape) \
            or y.ndim > 2:
        raise DataError(f"{path}: {key} must hold {n} numeric labels (one per sample), "
                        f"it is {y.dtype} {y.shape}")
    y = y.reshape(-1)
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) if y.dtype.kind == "f" else y < 0
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: {key}[{i}] is {y[i]:g}: labels must be integers >= 0")
    return y.astype(np.int64)


def _mat_samples(x: np.ndarray, path: Path, key: str, n: int, samples: str) -> np.ndarray:
    if x.dtype.kind not in "iufb" or x.ndim < 2:
        raise DataError(f"{path}: {key} must be a numeric array of samples, it is "
                        f"{x.dtype} {x.shape}")
    if samples == "auto":
        samples = "rows" if x.shape[0] == n else "columns" if x.shape[-1] == n else ""
    elif samples not in ("rows", "columns"):
        raise ValueError(f"samples must be 'auto', 'rows' or 'columns', got {samples!r}")
    if samples == "columns":
        x = np.moveaxis(x, -1, 0)
    if x.shape[0] != n:
        raise DataError(f"{path}: {key} is {x.shape}, which does not hold {n} samples (one per "
                        f"label) as rows or columns")
    return x


def _to_images(x: np.ndarray, shape: Sequence[int] | None, order: str, path: Path,
               key: str) -> np.ndarray:
    """(N, D) -> (N, 1, H, W) or (N, C, H, W), undoing a C- or Fortran-order unrolling."""
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    if shape is None:
        return x
    shape = tuple(int(d) for d in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"shape must be (H, W) or (C, H, W) of positive sizes, got {shape}")
    per_sample = int(np.prod(x.shape[1:]))
    if per_sample != int(np.prod(shape)):
        raise DataError(f"{path}: {key} has {per_sample} values per sample, which is not an "
                        f"image of shape {shape} ({int(np.prod(shape))} values)")
    flat = x.reshape(x.shape[0], -1)
    if order == "F":  # v.reshape(shape, order="F") is v.reshape(reversed shape).T
        axes = (0, *range(len(shape), 0, -1))
        images = flat.reshape(x.shape[0], *shape[::-1]).transpose(axes)
    else:
        images = flat.reshape(x.shape[0], *shape)
    return images[:, None] if len(shape) == 2 else images


def from_mat(path: str | os.PathLike, x: str = "X", y: str = "y", x_test: str | None = None,
             y_test: str | None = None, shape: Sequence[int] | None = None, order: str = "C",
             samples: str = "auto", one_based: bool | None = None, scale: float = 1.0):
    """Arrays from a MATLAB .mat file -> ``(x, y)``, or ``((x, y), (x_test, y_test))`` when
    ``x_test`` and ``y_test`` name the test arrays too.

    ``x`` holds one sample per row (MATLAB's ``X`` is samples x features; ``samples="columns"``
    or "auto" also takes features x samples). With ``shape`` = (H, W) or (C, H, W) each flat
    vector becomes an image (N, 1, H, W) or (N, C, H, W); ``order="F"`` undoes an unrolling in
    Fortran (MATLAB, ``np.ravel(img, order="F")``) order. Images are float32 times ``scale``.
    Labels are int64; labels that run from 1 (no 0 anywhere, MATLAB style 1..K) become 0..K-1
    with a warning that says so (``one_based=True/False`` decides it instead). v7.3 files are
    HDF5 and need h5py (``pip install 'fastnn[hdf5]'``); older ones are read by SciPy.
    """
    path = Path(path)
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    pairs = [(x, y)] + ([(x_test, y_test)] if x_test is not None else [])
    keys = [k for pair in pairs for k in pair]
    data = _read_mat(path, keys)
    missing = [k for k in keys if k not in data]
    if missing:
        found = ", ".join(data["__names__"]) or "none"
        raise DataError(f"{path}: no variable {', '.join(missing)} (the file holds: {found})")
    out = []
    for xk, yk in pairs:
        yv = np.asarray(data[yk])
        n = yv.size
        xv = _mat_samples(np.asarray(data[xk]), path, xk, n, samples)
        labels = _mat_labels(yv, path, yk, n)
        images = _to_images(xv, shape, order, path, xk).astype(np.float32)
        if scale != 1:
            images *= np.float32(scale)
        out.append([images, labels])
    all_labels = np.concatenate([o[1] for o in out])
    if one_based is None:
        one_based = all_labels.size > 0 and int(all_labels.min()) >= 1
        if one_based:
            lo, hi = int(all_labels.min()), int(all_labels.max())
            warnings.warn(f"{path}: labels in {', '.join(yk for _, yk in pairs)} run {lo}..{hi} "
                          f"(1-based, as in MATLAB): they are now {lo - 1}..{hi - 1}", stacklevel=2)
    if one_based:
        if int(all_labels.min()) < 1:
            raise DataError(f"{path}: one_based=True, but a label is {int(all_labels.min())}")
        for o in out:
            o[1] = o[1] - 1
    results = [tuple(o) for o in out]
    return results[0] if len(results) == 1 else tuple(results)
