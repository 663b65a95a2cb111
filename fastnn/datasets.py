"""Data sets: MNIST and Fashion-MNIST from IDX files, downloaded and verified when missing.

Files are looked for in ``root``, else ``$FASTNN_DATA/<name>``, else ``~/.cache/fastnn/<name>``
(gzip-compressed or raw); ``root`` may also be the parent of a ``<name>`` folder. A download goes
to the cache: each mirror (``$FASTNN_<NAME>_MIRRORS`` overrides the public ones) is tried in turn,
the file streams to a temporary file while it is checked (SHA-256 of the decompressed IDX bytes,
or the mirrors' MD5 of the gzip file; its size is known) and is only then renamed into place, so
the cache never holds a partial or unverified file. A mirror that stalls, closes early or sends
too much is abandoned for the next one.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._io import atomic_open

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


# --- IDX files ---------------------------------------------------------------------------------


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


# --- locating and downloading ------------------------------------------------------------------

DOWNLOAD_TIMEOUT = 30.0  # seconds a mirror may stay silent (connecting, or between two reads)
DOWNLOAD_DEADLINE = 600.0  # seconds one file may take from one mirror before the next is tried


def cache_dir(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastnn" / name


def mirrors_of(dataset: IdxDataset) -> tuple[str, ...]:
    """The mirrors to try: ``$FASTNN_<NAME>_MIRRORS`` (URLs separated by spaces or commas, e.g.
    FASTNN_MNIST_MIRRORS) if set, else the dataset's public mirrors."""
    urls = os.environ.get(_mirrors_variable(dataset), "").replace(",", " ").split()
    return tuple(urls) or dataset.mirrors


def _mirrors_variable(dataset: IdxDataset) -> str:
    return f"FASTNN_{dataset.name.upper()}_MIRRORS"


def _find(folder: Path, spec: IdxSpec) -> Path | None:
    for candidate in (folder / f"{spec.name}.gz", folder / spec.name):
        if candidate.is_file():
            return candidate
    return None


class _Verifier:
    """Checks a download as it streams in (gzip or raw IDX): the MD5 of the bytes as served and
    the SHA-256 and exact size of the IDX bytes, decompressed chunk by chunk (memory stays
    bounded whatever the mirror sends)."""

    def __init__(self, spec: IdxSpec):
        self.spec = spec
        self.md5, self.sha256 = hashlib.md5(), hashlib.sha256()
        self.head = b""  # the first two bytes decide gzip or raw
        self.inflate = None  # a zlib decompressor once the data is known to be gzip
        self.raw = False
        self.size = 0  # IDX bytes so far

    def update(self, chunk: bytes) -> None:
        self.md5.update(chunk)
        if not self.raw and self.inflate is None:
            self.head += chunk
            if len(self.head) < 2:
                return
            chunk, self.head = self.head, b""
            if chunk[:2] == b"\x1f\x8b":
                self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                self.raw = True
        if self.raw:
            self._idx(chunk)
            return
        try:
            while chunk:
                if self.inflate.eof:  # a further gzip member
                    chunk = self.inflate.unused_data + chunk
                    self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._idx(self.inflate.decompress(chunk, 1 << 20))
                chunk = self.inflate.unconsumed_tail
        except zlib.error as e:
            raise DataError(f"corrupted gzip data ({e})") from None

    def _idx(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.spec.idx_size:
            raise DataError(f"more data than the {self.spec.idx_size:,} bytes of "
                            f"{self.spec.name}")
        self.sha256.update(data)

    def finish(self) -> None:
        if self.head:  # a single byte
            self.raw = True
            self._idx(self.head)
        if self.inflate is not None and not self.inflate.eof:
            raise DataError("corrupted gzip data (truncated)")
        md5_ok = self.spec.md5_gz is not None and self.md5.hexdigest() == self.spec.md5_gz
        sha_ok = self.spec.sha256 is not None and self.sha256.hexdigest() == self.spec.sha256
        if not (md5_ok or sha_ok):
            if self.size != self.spec.idx_size:
                raise DataError(f"truncated: {self.size:,} of {self.spec.idx_size:,} bytes")
            raise DataError("checksum mismatch")


def _verify(data: bytes, spec: IdxSpec) -> bytes:
    """Checks a downloaded (possibly gzip) file; returns its decompressed IDX bytes."""
    check = _Verifier(spec)
    check.update(data)
    check.finish()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _fetch(url: str, spec: IdxSpec, target: Path, timeout: float, deadline: float) -> None:
    """Streams one file from one mirror into ``target``, verified; raises on any failure
    (and then nothing is written)."""
    cap = spec.max_download
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if length is not None and length > cap:
            raise DataError(f"announces {length:,} bytes, more than the {cap:,} that "
                            f"{spec.name} can take")
        read = getattr(response, "read1", response.read)
        check, got = _Verifier(spec), 0
        with atomic_open(target) as f:
            while True:
                if time.monotonic() - start > deadline:
                    raise DataError(f"too slow: {got:,} bytes in {deadline:g} s (the per-file "
                                    "deadline)")
                chunk = read(1 << 16)
                if not chunk:
                    break
                got += len(chunk)
                if got > cap:
                    raise DataError(f"sent more than the {cap:,} bytes {spec.name} can take")
                check.update(chunk)
                f.write(chunk)
            if length is not None and got < length:
                raise DataError(f"connection closed after {got:,} of {length:,} bytes")
            check.finish()


def download(spec: IdxSpec, folder: Path, mirrors: tuple[str, ...],
             timeout: float = DOWNLOAD_TIMEOUT, deadline: float = DOWNLOAD_DEADLINE) -> Path:
    """Fetches ``<spec.name>.gz`` from the first mirror that serves a verified copy.

    Each mirror gets ``deadline`` seconds for the file and may stay silent for at most
    ``timeout`` seconds; it fails over to the next one when it is slower, sends more bytes than
    the file can have, closes early or sends a wrong checksum. The file streams to disk
    (memory stays bounded) and appears only once verified. If every mirror fails, the folders
    this call created are removed again.
    """
    target = folder / f"{spec.name}.gz"
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + f"/{spec.name}.gz"
        try:
            _fetch(url, spec, target, timeout, deadline)
            return target
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code} {e.reason}")
        except urllib.error.URLError as e:
            failures.append(f"{url}: {e.reason}")
        except (OSError, DataError, ValueError, http.client.HTTPException) as e:
            if isinstance(e, http.client.IncompleteRead):
                e = f"connection closed early ({len(e.partial):,} bytes read)"
            elif isinstance(e, TimeoutError):
                e = f"no data for {timeout:g} s (timed out)"
            failures.append(f"{url}: {e}")
    for p in created:  # deepest first; stops at the first folder that is not empty
        try:
            p.rmdir()
        except OSError:
            break
    raise DataError(f"could not download {spec.name}.gz; every mirror failed:\n  "
                    + "\n  ".join(failures))


def locate(dataset: IdxDataset, root: str | os.PathLike | None = None, download_ok: bool = True,
           mirrors: tuple[str, ...] | None = None, timeout: float = DOWNLOAD_TIMEOUT,
           deadline: float = DOWNLOAD_DEADLINE) -> list[Path]:
    """Paths of the four files: from root (or root/<name>, so the parent of an ``mnist``
    folder works too), else $FASTNN_DATA/<name>, else the cache, where missing files are
    downloaded (mirrors: ``mirrors``, else $FASTNN_<NAME>_MIRRORS, else the public ones)."""
    if root is not None:
        folders = [Path(root), Path(root) / dataset.name]
    else:
        folders = [Path(os.environ["FASTNN_DATA"]) / dataset.name] if os.environ.get(
            "FASTNN_DATA") else []
        folders.append(cache_dir(dataset.name))
    for folder in folders:
        found = [_find(folder, spec) for spec in dataset.files]
        if all(found):
            return found
    if root is None:
        folder = folders[-1]
    else:  # root, unless the files found so far are in root/<name>
        folder = max(folders, key=lambda f: sum(_find(f, s) is not None for s in dataset.files))
    found = [_find(folder, spec) for spec in dataset.files]
    missing = [spec.name for spec, p in zip(dataset.files, found) if p is None]
    if not download_ok:
        raise DataError(f"{dataset.name}: missing {', '.join(missing)} in "
                        f"{', '.join(str(f) for f in folders)} (downloads are off)"
                        + _where_hint(dataset, folders))
    try:
        return [p or download(spec, folder, mirrors or mirrors_of(dataset), timeout, deadline)
                for spec, p in zip(dataset.files, found)]
    except DataError as e:
        raise DataError(f"{e}\n{dataset.name}: looked for the files in "
                        f"{', '.join(str(f) for f in folders)}" + _where_hint(dataset, folders)
                        ) from None


def _where_hint(dataset: IdxDataset, folders: list[Path]) -> str:
    names = ", ".join(f"{spec.name}[.gz]" for spec in dataset.files)
    return (f".\nTo use local copies, put {names} in a folder and pass it (or its parent) as "
            f"root= (fastnn --data DIR), or set FASTNN_DATA to the folder that holds "
            f"{dataset.name}/. To use other mirrors, set {_mirrors_variable(dataset)} to their "
            "URLs.")


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


# --- image folders -----------------------------------------------------------------------------

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
    import warnings

    from .progress import Progress

    image_mod = _pillow()
    root = Path(root)
    size = _check_size(size)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class subfolders (expected one folder of images per class)")
    if len(classes) == 1:
        raise DataError(f"{root}: only one class folder ({classes[0]}); a classifier needs at "
                        "least two (one subfolder of images per class)")
    files = {c: sorted(p for p in (root / c).rglob("*") if p.is_file()
                       and not p.name.startswith(".")) for c in classes}
    total = sum(len(v) for v in files.values())
    bar = Progress(total, f"loading {root.name}", unit="img",
                   enabled=total > 500 if progress is None else progress)
    images: dict[str, list[np.ndarray]] = {c: [] for c in classes}
    skipped = []
    for c in classes:
        for path in files[c]:
            try:
                images[c].append(read_image(path, size, mode))
            except (OSError, ValueError, image_mod.DecompressionBombError):
                skipped.append(path)
            bar.update()
    bar.close()
    if skipped:
        listed = "\n  ".join(str(p) for p in skipped)
        warnings.warn(f"skipped {len(skipped)} file(s) that are not readable images:\n  {listed}",
                      stacklevel=2)
    empty = [str(root / c) for c in classes if not images[c]]
    if empty:
        raise DataError(f"no readable images in {', '.join(empty)}")
    for c in classes:
        n = len(images[c])
        n_test = int(round(n * test_fraction))
        if n - n_test < 1 or (test_fraction > 0 and n_test < 1):
            raise DataError(f"{root / c}: {n} image(s) split with test_fraction "
                            f"{test_fraction:g} leave {n - n_test} for training and {n_test} "
                            "for testing; every class needs at least one of each (add images "
                            "or change the test fraction)")
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"xtr": [], "ytr": [], "xte": [], "yte": []}
    for k, c in enumerate(classes):
        x = np.stack(images[c])
        order = rng.permutation(len(x))
        n_test = int(round(len(x) * test_fraction))
        parts["xte"].append(x[order[:n_test]])
        parts["xtr"].append(x[order[n_test:]])
        parts["yte"].append(np.full(n_test, k, np.int64))
        parts["ytr"].append(np.full(len(x) - n_test, k, np.int64))
    out = {k: np.concatenate(v) for k, v in parts.items()}
    for a, b in (("xtr", "ytr"), ("xte", "yte")):  # shuffle classes together
        order = rng.permutation(len(out[a]))
        out[a], out[b] = out[a][order], out[b][order]
    return (out["xtr"], out["ytr"]), (out["xte"], out["yte"]), classes


# --- files labelled by name, MATLAB files (fastnn/datasets_files.py) ---------------------------

from .datasets_files import from_mat, image_files, read_class_names  # noqa: E402, F401
