"""The data a training run names, and finds again: MNIST, a folder with a subfolder per class,
files labelled by name, or a .mat file. Each ``load_*`` function returns :class:`Splits`: the
training and test parts, the class names, and the description a saved model keeps as
``metadata["data"]``; :func:`test_split` reads such a description back and loads the same test
part, as ``fastnn evaluate`` does.

A description is plain JSON: ``{"kind": "mnist" | "folder" | "files" | "mat", "root": ...,
"input": {"size": [h, w], "mode": "gray" | "rgb"}, "test_fraction": ..., "seed": ...}`` and
what the kind needs besides (the class folders, the label pattern, the .mat keys and shape).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..inputs import integer
from .download import locate
from .folders import image_files, image_folder
from .idx import DataError
from .images import check_size
from .matlab import from_mat
from .mnist import MNIST, mnist
from .split import stratified_split


@dataclasses.dataclass(frozen=True)
class Splits:
    """A data set loaded for training: ``train`` and ``test`` are (x, y) pairs, ``class_names``
    one name per label, ``description`` how to find the data again (see :func:`test_split`)."""

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    class_names: list[str]
    description: dict

    def renamed(self, class_names: Sequence[str]) -> Splits:
        """The same data with other class names (one per class, in label order)."""
        return dataclasses.replace(self, class_names=list(class_names))

    def first(self, n: int) -> Splits:
        """The same data with only the first ``n`` training samples."""
        x, y = self.train
        return dataclasses.replace(self, train=(x[:n], y[:n]))


def load_mnist(root: str | os.PathLike | None = None) -> Splits:
    """MNIST's 60,000 training and 10,000 test images (found as :func:`~fastnn.data.mnist`
    finds them, downloaded if need be); classes "0".."9". The description records the folder
    they were read from (``root``), where ``fastnn evaluate`` looks first."""
    train, test = mnist(root)
    folder = locate(MNIST, root, download_ok=False)[0].parent
    return Splits(train, test, [str(d) for d in range(10)],
                  {"kind": "mnist", "root": str(folder.resolve()),
                   "input": {"size": [28, 28], "mode": "gray"}})


def _has_mnist(folder: str) -> bool:
    try:
        locate(MNIST, folder, download_ok=False)
        return True
    except DataError:
        return False


def load_folder(root: str | os.PathLike, size: tuple[int, int] | int, mode: str,
                test_fraction: float, seed: int) -> Splits:
    """A folder with one subfolder of images per class, split as :func:`image_folder` does;
    the class names are the subfolders' names."""
    size = check_size(size)
    train, test, folders = image_folder(root, size, mode, test_fraction, seed)
    return Splits(train, test, folders, {
        "kind": "folder", "root": str(Path(root).resolve()),
        "input": {"size": list(size), "mode": mode}, "folders": folders,
        "test_fraction": test_fraction, "seed": seed})


def load_files(root: str | os.PathLike, label_pattern: str, size: tuple[int, int] | int,
               mode: str, test_fraction: float, seed: int,
               class_names: str | os.PathLike | Sequence[str] | None = None) -> Splits:
    """A folder of images whose file names carry the label (the one group of the regular
    expression ``label_pattern``), read and split as :func:`image_files` does."""
    size = check_size(size)
    train, test, names = image_files(root, label_pattern, size, mode, test_fraction, seed,
                                     class_names)
    return Splits(train, test, names, {
        "kind": "files", "root": str(Path(root).resolve()), "label_pattern": label_pattern,
        "input": {"size": list(size), "mode": mode}, "test_fraction": test_fraction,
        "seed": seed, "class_names": names})


def load_mat(path: str | os.PathLike, keys: Sequence[str], shape: Sequence[int] | None = None,
             order: str = "C", test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """The arrays of a .mat file (:func:`from_mat`): ``keys`` names X, y and, if the file has
    its own test part, X_test, y_test; with two keys each class is split by ``test_fraction``.
    The classes are "0".."K-1" (labels that start at 1 are shifted, see :func:`from_mat`)."""
    keys = list(keys)
    if len(keys) not in (2, 4):
        raise ValueError(f"keys {keys}: give X, y or X, y, X_test, y_test (the variable names)")
    shape = None if shape is None else [integer("shape", d) for d in shape]
    if len(keys) == 4:
        train, test = from_mat(path, *keys, shape=shape, order=order)
    else:
        x, y = from_mat(path, *keys, shape=shape, order=order)
        train, test = stratified_split(x, y, [str(k) for k in range(int(y.max()) + 1)],
                                       test_fraction, seed, path)
    (_, y_train), (_, y_test) = train, test
    k = int(max(y_train.max(), y_test.max() if len(y_test) else 0)) + 1
    description = {"kind": "mat", "root": str(Path(path).resolve()), "keys": keys,
                   "shape": shape, "order": order, "test_fraction": test_fraction, "seed": seed}
    if shape is not None:
        description["input"] = {"size": shape[-2:], "mode": "gray" if len(shape) == 2 or
                                shape[0] == 1 else "rgb"}
    return Splits(train, test, [str(i) for i in range(k)], description)


def description_of(metadata: dict) -> dict:
    """The data description in a saved model's metadata; models saved without one were trained
    on MNIST."""
    return metadata.get("data", {"kind": "mnist"})


DESCRIBED = {"mnist": (), "files": ("root", "label_pattern", "input", "test_fraction", "seed"),
             "mat": ("root", "keys", "test_fraction", "seed"),
             "folder": ("root", "input", "test_fraction", "seed")}
"""What a saved model's description of its data must hold, per kind."""


def _check_description(info: object, data_dir) -> None:
    """A DataError naming what the description lacks (a file's metadata is untrusted)."""
    if not isinstance(info, dict) or info.get("kind") not in DESCRIBED:
        kind = info.get("kind") if isinstance(info, dict) else info
        raise DataError(f"the model's metadata describes no known data ({kind!r}); give the "
                        "data's place with --data, as it was trained")
    lacking = [k for k in DESCRIBED[info["kind"]] if k not in info
               and not (k == "root" and data_dir)]
    entry = info.get("input", {"size": (0, 0), "mode": ""})
    if not isinstance(entry, dict) or not {"size", "mode"} <= set(entry):
        lacking.append("input size and mode")
    if lacking:
        raise DataError(f"the model's metadata describes its {info['kind']} data without "
                        f"{', '.join(lacking)}")


def load_described(metadata: dict, data_dir: str | os.PathLike | None = None,
                   class_names: Sequence[str] | None = None) -> Splits:
    """The data a saved model's metadata describes, loaded and split again the same way (the
    same seed and fraction give the same split). ``data_dir`` replaces the recorded place
    (the MNIST files, the folder or the .mat file) if the data has moved. ``class_names`` are
    the model's: it is an error when the data no longer has as many classes (or, for a folder,
    other class folders)."""
    info = description_of(metadata)
    _check_description(info, data_dir)
    kind = info["kind"]
    recorded = info.get("root")
    if kind == "mnist":
        if data_dir is None and isinstance(recorded, str):
            if _has_mnist(recorded):
                return load_mnist(recorded)
            print(f"fastnn: note: the model was trained on MNIST from {recorded}, which no "
                  f"longer holds it; looking in $FASTNN_DATA/mnist and the download cache "
                  f"(--data DIR names another folder)", file=sys.stderr)
        return load_mnist(data_dir)
    if data_dir is None and not Path(str(recorded)).exists():
        raise DataError(f"the model was trained on the {kind} data at {recorded}, which is no "
                        f"longer there; give --data with its new place")
    root = data_dir or info["root"]
    if kind == "files":
        return load_files(root, info["label_pattern"], tuple(info["input"]["size"]),
                          info["input"]["mode"], info["test_fraction"], info["seed"],
                          class_names)
    if kind == "mat":
        loaded = load_mat(root, info["keys"], info.get("shape"), info.get("order", "C"),
                          info["test_fraction"], info["seed"])
        if class_names and len(class_names) != len(loaded.class_names):
            raise DataError(f"{root}: {len(loaded.class_names)} classes, but the model has "
                            f"{len(class_names)} class names ({', '.join(class_names)})")
        return loaded
    if kind != "folder":
        raise DataError(f"unknown kind of data {kind!r} in the model's metadata")
    loaded = load_folder(root, tuple(info["input"]["size"]), info["input"]["mode"],
                         info["test_fraction"], info["seed"])
    trained_on = info.get("folders", class_names)  # the folders, before any renaming
    if trained_on and loaded.class_names != list(trained_on):
        raise DataError(f"{root} has classes {loaded.class_names}, the model was trained on "
                        f"{list(trained_on)}")
    return loaded


def test_split(metadata: dict, data_dir: str | os.PathLike | None = None,
               class_names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The test part ``(x_test, y_test)`` of the data a saved model's metadata describes: the
    images it was evaluated on when it was trained (see :func:`load_described`)."""
    return load_described(metadata, data_dir, class_names).test


test_split.__test__ = False  # not a test, though pytest would collect it by its name


def data_name(metadata: dict) -> str:
    """The data set's name for titles: MNIST, or the folder or file it came from."""
    info = description_of(metadata)
    if info.get("kind", "mnist") == "mnist":
        return "MNIST"
    return Path(info.get("root", "")).name or info.get("kind", "data")
