"""MATLAB .mat files: the arrays of a tutorial's data (:func:`from_mat`), read by SciPy's
``loadmat``, or through h5py for v7.3 (HDF5) files.

A .mat file is untrusted input, as a model file is: before any array is read, the sizes its
variables declare (SciPy's ``whosmat``, HDF5's dataset headers) and the bytes its compressed v5
elements inflate to (counted by streaming them through zlib, nothing kept) must stay within
``max_bytes``; an empty, truncated or corrupt file is one ``DataError``; labels must be
integers 0..K-1 or 1..K with K at most :data:`MAX_CLASSES`.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..inputs import integer
from .idx import DataError

MAX_BYTES = 2 << 30
"""Default cap on what a .mat file's variables may take in memory (``from_mat(max_bytes=)``),
as for model files."""
MAX_CLASSES = 10_000
"""The most classes labels may name: a label of 1e9 is an error, not a billion classes."""
_ITEMSIZE = {"double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2,
             "int32": 4, "uint32": 4, "int64": 8, "uint64": 8, "logical": 1, "char": 2}
"""Bytes per element of whosmat's classes (cells, structs: 8, a lower bound)."""
_READ_ERRORS = (ValueError, TypeError, OSError, NotImplementedError, EOFError, IndexError,
                KeyError, struct.error, zlib.error, MemoryError)


def _too_big(path: Path, what: str, size: int, max_bytes: int) -> DataError:
    return DataError(f"{path}: {what} would take {size:,} bytes in memory, more than the limit "
                     f"of {max_bytes:,} (from_mat(..., max_bytes=) raises it)")


def _read_mat(path: Path, keys: list[str], max_bytes: int) -> dict[str, np.ndarray]:
    """The named arrays of a .mat file: v4-v7.2 through SciPy, v7.3 (HDF5) through h5py; their
    declared and inflated sizes checked against ``max_bytes`` first."""
    if not path.is_file():
        raise FileNotFoundError(f"no .mat file at {path}")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes), not a MATLAB file")
    with open(path, "rb") as f:
        head = f.read(520)
    if b"MATLAB 7.3" in head[:128] or head[:8] == b"\x89HDF\r\n\x1a\n" or \
            head[512:520] == b"\x89HDF\r\n\x1a\n":
        return _read_mat_hdf5(path, keys, max_bytes)
    from scipy.io import loadmat, whosmat
    from scipy.io.matlab import MatReadError

    try:
        declared = {name: (shape, kind) for name, shape, kind in whosmat(path)}
        wanted = {k: v for k, v in declared.items() if k in keys}
        size = sum(math.prod(shape) * _ITEMSIZE.get(kind, 8) for shape, kind in wanted.values())
        if size > max_bytes:
            listed = ", ".join(f"{k} {kind} {shape}" for k, (shape, kind) in wanted.items())
            raise _too_big(path, listed, size, max_bytes)
        _check_inflated(path, head, max_bytes)
        data = loadmat(path, variable_names=keys)
    except DataError:
        raise
    except (*_READ_ERRORS, MatReadError) as e:
        problem = "too large to read" if isinstance(e, MemoryError) else str(e)
        raise DataError(f"{path}: not a readable MATLAB file ({type(e).__name__}: {problem})"
                        ) from None
    return {k: data[k] for k in keys if k in data} | {"__names__": list(declared)}


def _check_inflated(path: Path, head: bytes, max_bytes: int) -> None:
    """Streams each compressed element of a v5 file through zlib, keeping nothing, and refuses
    the file once the inflated bytes pass ``max_bytes`` (a zip bomb of a .mat file)."""
    endian = {b"IM": "<", b"MI": ">"}.get(head[126:128])
    if len(head) < 128 or endian is None:
        return  # a v4 file: nothing compressed, its sizes are the file's
    total = 0
    with open(path, "rb") as f:
        f.seek(128)
        while len(tag := f.read(8)) == 8:
            kind, nbytes = struct.unpack(endian + "II", tag)
            end = f.tell() + nbytes
            if kind == 15:  # miCOMPRESSED
                inflate, left = zlib.decompressobj(), nbytes
                while left > 0 and not inflate.eof:
                    pending = f.read(min(left, 1 << 16))
                    if not pending:
                        break
                    left -= len(pending)
                    while pending and not inflate.eof:
                        total += len(inflate.decompress(pending, 1 << 20))
                        pending = inflate.unconsumed_tail
                        if total > max_bytes:
                            raise _too_big(path, "its compressed variables", total, max_bytes)
            f.seek(end)


def _read_mat_hdf5(path: Path, keys: list[str], max_bytes: int) -> dict[str, np.ndarray]:
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{path} is a MATLAB v7.3 (HDF5) file: reading it needs h5py: "
                          "pip install 'fastnn[hdf5]'") from None
    out: dict = {}
    try:
        with h5py.File(path, "r") as f:
            out["__names__"] = [k for k in f.keys() if not k.startswith("#")]
            found = [k for k in keys if k in f]
            for k in found:
                if not isinstance(f[k], h5py.Dataset):
                    raise DataError(f"{path}: {k} is a {type(f[k]).__name__}, not an array")
            size = sum(math.prod(f[k].shape) * f[k].dtype.itemsize for k in found)
            if size > max_bytes:  # the headers' sizes, before reading (or inflating) anything
                listed = ", ".join(f"{k} {f[k].dtype} {f[k].shape[::-1]}" for k in found)
                raise _too_big(path, listed, size, max_bytes)
            for k in found:  # MATLAB writes column-major: h5py sees the dimensions reversed
                out[k] = np.asarray(f[k][()]).T
    except DataError:
        raise
    except (*_READ_ERRORS, RuntimeError) as e:
        problem = "too large to read" if isinstance(e, MemoryError) else str(e)
        raise DataError(f"{path}: not a readable MATLAB v7.3 (HDF5) file "
                        f"({type(e).__name__}: {problem})") from None
    return out


def _mat_labels(y: np.ndarray, path: Path, key: str, n: int) -> np.ndarray:
    if y.dtype.kind not in "iufb" or y.size != n or (y.ndim == 2 and 1 not in y.shape) \
            or y.ndim > 2:
        raise DataError(f"{path}: {key} must hold {n} numeric labels (one per sample), "
                        f"it is {y.dtype} {y.shape}")
    if n == 0:
        raise DataError(f"{path}: {key} holds no labels (no samples)")
    y = y.reshape(-1)
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) if y.dtype.kind == "f" else y < 0
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: {key}[{i}] is {y[i]:g}: labels must be integers >= 0")
    if np.any(too_big := y > MAX_CLASSES):
        i = int(np.flatnonzero(too_big)[0])
        raise DataError(f"{path}: {key}[{i}] is {y[i]:g}: labels must be 0..K-1 or 1..K with "
                        f"at most {MAX_CLASSES:,} classes")
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
    if isinstance(shape, str) or not isinstance(shape, Sequence | np.ndarray) \
            or len(shape) not in (2, 3):
        raise ValueError(f"shape must be (H, W) or (C, H, W) of positive sizes, got {shape!r}")
    shape = tuple(integer("shape", d) for d in shape)
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
             samples: str = "auto", one_based: bool | None = None, scale: float = 1.0,
             max_bytes: int = MAX_BYTES):
    """Arrays from a MATLAB .mat file -> ``(x, y)``, or ``((x, y), (x_test, y_test))`` when
    ``x_test`` and ``y_test`` name the test arrays too.

    ``x`` holds one sample per row (MATLAB's ``X`` is samples x features; ``samples="columns"``
    or "auto" also takes features x samples). With ``shape`` = (H, W) or (C, H, W) each flat
    vector becomes an image (N, 1, H, W) or (N, C, H, W); ``order="F"`` undoes an unrolling in
    Fortran (MATLAB, ``np.ravel(img, order="F")``) order. Images are float32 times ``scale``.
    Labels are int64; labels that run from 1 (no 0 anywhere, MATLAB style 1..K) become 0..K-1
    with a warning that says so (``one_based=True/False`` decides it instead). v7.3 files are
    HDF5 and need h5py (``pip install 'fastnn[hdf5]'``); older ones are read by SciPy.
    The file is untrusted: the variables' declared and inflated sizes must stay within
    ``max_bytes`` (2 GiB) before anything is read, and labels must name at most
    :data:`MAX_CLASSES` classes (0..K-1 or 1..K); anything else is a one-line ``DataError``.
    """
    path = Path(path)
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    pairs = [(x, y)] + ([(x_test, y_test)] if x_test is not None else [])
    keys = [k for pair in pairs for k in pair]
    data = _read_mat(path, keys, integer("max_bytes", max_bytes))
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
    if int(all_labels.max()) - one_based >= MAX_CLASSES:
        raise DataError(f"{path}: labels up to {int(all_labels.max())} name more than "
                        f"{MAX_CLASSES:,} classes (labels must be 0..K-1 or 1..K)")
    results = [tuple(o) for o in out]
    return results[0] if len(results) == 1 else tuple(results)
