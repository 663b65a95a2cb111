"""Locating and downloading the files of an IDX data set, as :mod:`fastnn.data` describes: the
search order (``root``, ``$FASTNN_DATA/<name>``, the cache), the mirrors
(``$FASTNN_<NAME>_MIRRORS``), and the streamed download that is verified before it is renamed
into place. Its public names are importable from :mod:`fastnn.data`.
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
from pathlib import Path

from .._io import atomic_open
from .idx import DataError, IdxDataset, IdxSpec

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
        raise DataError(f"{dataset.name} is not here and could not be downloaded: give --data DIR "
                        f"(the folder with its files) or set FASTNN_DATA to the folder that "
                        f"holds {dataset.name}/. Details:\n{e}\n{dataset.name}: looked for the "
                        f"files in "
                        f"{', '.join(str(f) for f in folders)}" + _where_hint(dataset, folders)
                        ) from None


def _where_hint(dataset: IdxDataset, folders: list[Path]) -> str:
    names = ", ".join(f"{spec.name}[.gz]" for spec in dataset.files)
    return (f".\nTo use local copies, put {names} in a folder and pass it (or its parent) as "
            f"root= (fastnn --data DIR), or set FASTNN_DATA to the folder that holds "
            f"{dataset.name}/. To use other mirrors, set {_mirrors_variable(dataset)} to their "
            "URLs.")
