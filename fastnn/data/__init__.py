"""Data: MNIST and Fashion-MNIST from IDX files, downloaded and verified when missing; folders
of images; files labelled by name; MATLAB .mat files; and the data a training run names.

MNIST's files are looked for in ``root``, else ``$FASTNN_DATA/<name>``, else
``~/.cache/fastnn/<name>`` (gzip-compressed or raw); ``root`` may also be the parent of a
``<name>`` folder. A download goes to the cache: each mirror (``$FASTNN_<NAME>_MIRRORS``
overrides the public ones) is tried in turn, the file streams to a temporary file while it is
checked (SHA-256 of the decompressed IDX bytes, or the mirrors' MD5 of the gzip file; its size
is known) and is only then renamed into place, so the cache never holds a partial or unverified
file. A mirror that stalls, closes early or sends too much is abandoned for the next one.

The modules: :mod:`~fastnn.data.idx` (the IDX format, :class:`DataError`),
:mod:`~fastnn.data.download` (locating and downloading), :mod:`~fastnn.data.mnist` (MNIST,
Fashion-MNIST), :mod:`~fastnn.data.images` (``read_image``), :mod:`~fastnn.data.folders`
(``image_folder``, ``image_files``), :mod:`~fastnn.data.matlab` (``from_mat``),
:mod:`~fastnn.data.split` (``stratified_split``) and :mod:`~fastnn.data.sources` (``load_*``,
``test_split``: the data of a training run and of a saved model). This package gathers their
public names; :mod:`fastnn.datasets` is its former name.
"""

from .download import (
    DOWNLOAD_DEADLINE,
    DOWNLOAD_TIMEOUT,
    cache_dir,
    download,
    locate,
    mirrors_of,
)
from .folders import image_files, image_folder, read_class_names
from .idx import IDX_TYPES, DataError, IdxDataset, IdxSpec, parse_idx, read_bytes, read_idx
from .images import BACKGROUND, IMAGE_SUFFIXES, read_image
from .matlab import from_mat
from .mnist import FASHION_MNIST, MNIST, fashion_mnist, load_idx_dataset, mnist
from .sources import (
    Splits,
    data_name,
    description_of,
    load_described,
    load_files,
    load_folder,
    load_mat,
    load_mnist,
    test_split,
)
from .split import stratified_split

__all__ = [
    "BACKGROUND", "DOWNLOAD_DEADLINE", "DOWNLOAD_TIMEOUT", "FASHION_MNIST", "IDX_TYPES",
    "IMAGE_SUFFIXES", "MNIST", "DataError", "IdxDataset", "IdxSpec", "Splits", "cache_dir",
    "data_name", "description_of", "download", "fashion_mnist", "from_mat", "image_files",
    "image_folder", "load_described", "load_files", "load_folder", "load_idx_dataset",
    "load_mat", "load_mnist", "locate", "mirrors_of", "mnist", "parse_idx", "read_bytes",
    "read_class_names", "read_idx", "read_image", "stratified_split", "test_split",
]
