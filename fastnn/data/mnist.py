"""MNIST and Fashion-MNIST: their files and checksums, and the loader that reads, checks and
converts them (:func:`mnist`, :func:`fashion_mnist`, :func:`load_idx_dataset`); the files are
found or downloaded as :mod:`fastnn.data.download` describes.
"""

from __future__ import annotations

import os

import numpy as np

from .download import locate
from .idx import DataError, IdxDataset, IdxSpec, read_idx

MNIST = IdxDataset(
    "mnist",
    (IdxSpec("train-images-idx3-ubyte", (60000, 28, 28),
             "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
             "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
     IdxSpec("train-labels-idx1-ubyte", (60000,),
             "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
             "d53e105ee54ea40749a09fcbcd1e9432"),
     IdxSpec("t10k-images-idx3-ubyte", (10000, 28, 28),
             "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
             "9fb629c4189551a2d022fa330f9573f3"),
     IdxSpec("t10k-labels-idx1-ubyte", (10000,),
             "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
             "ec29112dd5afa0611ce80d1b7f02629c")),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
)

FASHION_MNIST = IdxDataset(
    "fashion_mnist",
    (IdxSpec("train-images-idx3-ubyte", (60000, 28, 28), md5_gz="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
     IdxSpec("train-labels-idx1-ubyte", (60000,), md5_gz="25c81989df183df01b3e8a0aad5dffbe"),
     IdxSpec("t10k-images-idx3-ubyte", (10000, 28, 28), md5_gz="bef4ecab320f06d8554ea6380940ec79"),
     IdxSpec("t10k-labels-idx1-ubyte", (10000,), md5_gz="bb300cfdad3c16e7a12a480ee83cd310")),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
             "Bag", "Ankle boot"),
)


def load_idx_dataset(dataset: IdxDataset, root=None, download: bool = True,
                     normalize: str = "scale", mirrors: tuple[str, ...] | None = None):
    """Reads, checks and converts the four files of an MNIST-like data set."""
    paths = locate(dataset, root, download, mirrors)
    arrays = [read_idx(path) for path in paths]
    for i in (0, 2):  # images and labels must pair up
        if arrays[i].shape[:1] != arrays[i + 1].shape[:1]:
            raise DataError(f"{paths[i]} holds {arrays[i].shape[0]} images but {paths[i + 1]} "
                            f"holds {arrays[i + 1].shape[0]} labels")
    for spec, path, a in zip(dataset.files, paths, arrays):
        if a.shape != spec.shape or a.dtype != np.uint8:
            raise DataError(f"{path}: expected {spec.shape} uint8, found {a.shape} {a.dtype}")
    x_train, y_train, x_test, y_test = arrays
    for labels, path in ((y_train, paths[1]), (y_test, paths[3])):
        if labels.max() >= len(dataset.classes):
            top = len(dataset.classes) - 1
            raise DataError(f"{path}: label {labels.max()} out of range 0..{top}")
    return (_images(x_train, normalize), y_train.astype(np.int64)), (
        _images(x_test, normalize), y_test.astype(np.int64))


def _images(x: np.ndarray, normalize: str) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), scaled to [0, 1] or standardized."""
    x = x.astype(np.float32)[:, None] / np.float32(255)
    if normalize == "standardize":  # MNIST's usual mean and std, as in most tutorials
        x = (x - np.float32(0.1307)) / np.float32(0.3081)
    elif normalize != "scale":
        raise ValueError(f"normalize must be 'scale' or 'standardize', got {normalize!r}")
    return x


def mnist(root: str | os.PathLike | None = None, download: bool = True, normalize: str = "scale",
          mirrors: tuple[str, ...] | None = None):
    """MNIST as ``(x_train, y_train), (x_test, y_test)``.

    Images are float32 (N, 1, 28, 28) scaled to [0, 1] (``normalize="standardize"`` for zero mean,
    unit variance), labels int64 in 0..9. 60,000 training and 10,000 test images.
    """
    return load_idx_dataset(MNIST, root, download, normalize, mirrors)


def fashion_mnist(root: str | os.PathLike | None = None, download: bool = True,
                  normalize: str = "scale", mirrors: tuple[str, ...] | None = None):
    """Fashion-MNIST, in the same form as :func:`mnist`; class names in FASHION_MNIST.classes."""
    return load_idx_dataset(FASHION_MNIST, root, download, normalize, mirrors)
