"""Folders of images, labelled two ways: one subfolder per class (:func:`image_folder`), or
labels in the file names, as the classic tutorials keep them (:func:`image_files`, e.g.
``input_3_17_12.jpg``); and class names given as a list, a comma list or a file
(:func:`read_class_names`).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .idx import DataError
from .images import check_size, read_images
from .split import stratified_split

Label = str | int


def folder_args(root: str | os.PathLike, size, test_fraction: float):
    """The checked (folder, (h, w)) of a loader that splits a folder's images."""
    root = Path(root)
    size = check_size(size)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    return root, size


def _label_function(label: str | re.Pattern | Callable[[Path], Label | None]):
    """A function path -> label string (or None when the file does not match)."""
    if callable(label) and not isinstance(label, re.Pattern):
        def from_function(path: Path) -> str | None:
            value = label(path)
            return None if value is None or str(value) == "" else str(value)
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
        return match.group(1) if match is not None and match.group(1) else None  # never ""
    return from_pattern


def canonical_labels(labels: list[str]) -> list[str]:
    """Integer labels as numbers, so "1" and "01" (or "+1") are one class, "1"; when some labels
    are text, two spellings of one number are an error that names them."""
    numeric = {s: str(int(s)) for s in set(labels) if re.fullmatch(r"[+-]?\d+", s)}
    if len(numeric) == len(set(labels)):
        return [numeric[s] for s in labels]
    spellings: dict[str, list[str]] = {}
    for s, n in sorted(numeric.items()):
        spellings.setdefault(n, []).append(s)
    clash = [names for names in spellings.values() if len(names) > 1]
    if clash:
        raise DataError(f"labels {' and '.join(repr(s) for s in clash[0])} are one number "
                        f"written two ways, and other labels are not numbers: rename the files "
                        f"or give a label pattern that reads one spelling")
    return labels


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
    when all are integers: 1..15 -> 0..14, and "01" is "1"; an empty match is no label).
    ``class_names`` (a list, ``"零,一,二"`` or a text file) names them in that order; by default
    the names are the labels. Images are float32 (N, C, h, w) in [0, 1] as in
    :func:`image_folder`, split per class. Files that do not match, and files that are not
    readable images, are each listed in one warning.
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
    labelled = list(zip((p for p, _ in labelled), canonical_labels([v for _, v in labelled])))
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
