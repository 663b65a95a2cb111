"""Data kept the way the classic tutorials keep it: labels in file names, MATLAB .mat files.

``image_files`` reads a flat folder whose file names carry the label (``input_3_17_12.jpg``);
``from_mat`` reads arrays from a MATLAB file (SciPy's ``loadmat``; v7.3 HDF5 files through
h5py). Both are re-exported by :mod:`fastnn.datasets`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .idx import DataError
from .images import folder_args, read_images, stratified_split

Label = str | int


def _label_function(label: str | re.Pattern | Callable[[Path], Label | None]):
    """A function path -> label string (or None when the file does not match)."""
    if callable(label) and not isinstance(label, re.Pattern):
        def from_function(path: Path) -> str | None:
            value = label(path)
            return None if value is None else str(value)
        return from_function
    try:
        pattern = re.compile(label)
    except (re.error, TypeError) as e:
        raise ValueError(f"label pattern '{label}' is not a valid regular expression: {e}") \
            from None
    if pattern.groups != 1:
        raise ValueError(f"label pattern '{pattern.pattern}' must have exactly one group "
                         f"(the label), it has {pattern.groups}: e.g. r'_(\\d+)\\.jpg$'")

    def from_pattern(path: Path) -> str | None:
        match = pattern.search(path.name)
        return None if match is None or match.group(1) is None else match.group(1)
    return from_pattern


def sorted_labels(labels: set[str]) -> list[str]:
    """Labels in class order: numerically when every label is an integer, else as text."""
    if all(re.fullmatch(r"[+-]?\d+", s) for s in labels):
        return sorted(labels, key=lambda s: (int(s), s))
    return sorted(labels)


def read_class_names(spec: str | os.PathLike | Sequence[str]) -> list[str]:
    """Class names from a list, a comma-separated string (``"零,一,二"``) or a UTF-8 text file
    with one name per line (or one comma-separated line)."""
    if not isinstance(spec, (str, os.PathLike)):
        names = [str(n) for n in spec]
    else:
        path = Path(spec)
        if "," not in str(spec) and path.is_file():
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as e:
                raise ValueError(f"{path}: cannot read class names ({e})") from None
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            names = [n.strip() for n in lines[0].split(",")] if len(lines) == 1 else lines
        else:
            names = [n.strip() for n in str(spec).split(",")]
    if not names or any(not n for n in names):
        raise ValueError(f"class names {spec!r}: empty name in the list")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"class names {spec!r}: {', '.join(dupes)} appear more than once")
    return names


def image_files(root: str | os.PathLike,
                label: str | re.Pattern | Callable[[Path], Label | None],
                size: tuple[int, int] | int = (64, 64), mode: str = "rgb",
                test_fraction: float = 0.2, seed: int = 0,
                class_names: str | os.PathLike | Sequence[str] | None = None,
                progress: bool | None = None):
    """A folder of images labelled by their file names -> ``(x_train, y_train), (x_test,
    y_test), class_names``.

    ``label`` is a regular expression with one group, searched in each file name (e.g.
    ``r"_(\\d+)\\.jpg$"`` for ``input_3_17_12.jpg``), or a function of the path that returns the
    label (None to skip the file). Labels become classes 0..K-1 in sorted order (numeric order
    when all are integers: 1..15 -> 0..14). ``class_names`` (a list, ``"零,一,二"`` or a text
    file) names them in that order; by default the names are the labels. Images are float32
    (N, C, h, w) in [0, 1] as in :func:`~fastnn.datasets.image_folder`, split per class. Files
    that do not match, and files that are not readable images, are each listed in one warning.
    """
    root, size = folder_args(root, size, test_fraction)
    get_label = _label_function(label)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    labelled: list[tuple[Path, str]] = []
    unmatched = []
    for path in files:
        value = get_label(path)
        (unmatched.append(path) if value is None else labelled.append((path, value)))
    if unmatched:
        listed = "\n  ".join(str(p) for p in unmatched)
        by_function = callable(label) and not isinstance(label, re.Pattern)
        what = "the label function" if by_function else \
            f"the pattern '{getattr(label, 'pattern', label)}'"
        warnings.warn(f"skipped {len(unmatched)} file(s) whose names do not match {what}:\n  "
                      f"{listed}", stacklevel=2)
    if not labelled:
        raise DataError(f"{root}: no file name matches the label pattern ({len(files)} files)")
    labels = sorted_labels({v for _, v in labelled})
    names = labels if class_names is None else read_class_names(class_names)
    if len(names) != len(labels):
        shown = ", ".join(labels[:20]) + (", ..." if len(labels) > 20 else "")
        raise ValueError(f"{len(names)} class names for {len(labels)} labels found in {root} "
                         f"({shown}): give one name per label, in sorted label order")
    index = {v: i for i, v in enumerate(labels)}

    images, kept = read_images([path for path, _ in labelled], size, mode, root.name, progress)
    ys = [index[labelled[i][1]] for i in kept]
    y = np.array(ys, np.int64)
    missing = [names[i] for i in range(len(labels)) if not np.any(y == i)]
    if missing:
        raise DataError(f"{root}: no readable images for class(es) {', '.join(missing)}")
    train, test = stratified_split(np.stack(images), y, list(names), test_fraction, seed, root)
    return train, test, list(names)


# --- MATLAB files ------------------------------------------------------------------------------


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
