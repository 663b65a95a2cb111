"""IDX files, the format of MNIST and its kin: parsing (every length checked), the description
of a data set's four files (:class:`IdxSpec`, :class:`IdxDataset`), and :class:`DataError`, the
error of every data loader. Its public names are importable from :mod:`fastnn.data`.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(ValueError):
    """A data file is missing, truncated, corrupted or does not match its partner."""


@dataclass(frozen=True)
class IdxSpec:
    """A file of an IDX data set and what it must look like."""

    name: str  # without .gz
    shape: tuple[int, ...]
    sha256: str | None = None  # of the decompressed IDX bytes
    md5_gz: str | None = None  # of the gzip file as the public mirrors serve it

    @property
    def idx_size(self) -> int:
        """The exact size in bytes of the (decompressed) uint8 IDX file."""
        return 4 + 4 * len(self.shape) + int(np.prod(self.shape))

    @property
    def max_download(self) -> int:
        """The most bytes a download of this file may take: the IDX size plus what gzip may
        add to incompressible data (5 bytes per 64 KiB block, header and trailer)."""
        return self.idx_size + 5 * (self.idx_size // 16384 + 1) + 1024


@dataclass(frozen=True)
class IdxDataset:
    name: str
    files: tuple[IdxSpec, IdxSpec, IdxSpec, IdxSpec]  # train images, labels, test images, labels
    mirrors: tuple[str, ...]
    classes: tuple[str, ...] = field(default=tuple(str(d) for d in range(10)))


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decodes IDX bytes (magic, dimensions, data), checking every length; errors name source."""
    if len(data) < 4:
        raise DataError(f"{source}: {len(data)} bytes is too short for an IDX header")
    zero, dtype_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or dtype_code not in IDX_TYPES or not 1 <= ndim <= 4:
        raise DataError(f"{source}: not an IDX file (magic number {data[:4].hex()})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated IDX header ({len(data)} bytes)")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[dtype_code])
    want = header + int(np.prod(dims)) * dtype.itemsize
    if len(data) != want:
        what = "truncated" if len(data) < want else "has trailing bytes"
        raise DataError(f"{source}: {what}: {len(data):,} bytes, but its header {dims} "
                        f"needs {want:,}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if it is gzip; errors name the file."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read ({e})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file, gzip-compressed or raw."""
    path = Path(path)
    return parse_idx(read_bytes(path), str(path))
