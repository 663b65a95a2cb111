"""MNIST: the real files, found where users keep them, checked, and downloaded from local
mirrors (one serving a corrupted copy) into the cache."""

import gzip
import hashlib
import http.server
import shutil
import threading
from functools import partial

import numpy as np
import pytest

import fastnn as fn
from fastnn.data import MNIST, DataError


def test_real_mnist(mnist_data):
    (x_train, y_train), (x_test, y_test) = mnist_data
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0 and x_train.max() == 1
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(y_train)[:3].tolist() == [5923, 6742, 5958]


def test_found_through_fastnn_data(data_root, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTNN_DATA", str(data_root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # would be empty: must not be used
    (_, _), (x_test, _) = fn.datasets.mnist(download=False)
    assert x_test.shape == (10000, 1, 28, 28)


def test_raw_files_and_standardization(data_root, tmp_path):
    for f in (data_root / "mnist").glob("*.gz"):
        (tmp_path / f.stem).write_bytes(gzip.decompress(f.read_bytes()))
    (x, _), _ = fn.datasets.mnist(tmp_path, download=False, normalize="standardize")
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05


def idx_bytes(a: np.ndarray) -> bytes:
    return bytes([0, 0, 8, a.ndim]) + b"".join(d.to_bytes(4, "big") for d in a.shape) + a.tobytes()


def mnist_copy(data_root, tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(data_root / "mnist", folder)
    return folder


def test_truncated_or_mismatched_files_are_named(data_root, tmp_path):
    folder = mnist_copy(data_root, tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(labels.read_bytes())
    labels.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: truncated"):
        fn.datasets.mnist(folder, download=False)
    fewer = np.frombuffer(raw[8:], np.uint8)[:9000]
    labels.write_bytes(gzip.compress(idx_bytes(fewer)[:2] + b"\x08\x01" + idx_bytes(fewer)[4:]))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz holds 10000 images but .*"
                                        r"t10k-labels-idx1-ubyte.gz holds 9000 labels"):
        fn.datasets.mnist(folder, download=False)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte.*downloads are off"):
        fn.datasets.mnist(tmp_path, download=False)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server:
    """Serves a folder on 127.0.0.1 in a background thread."""

    def __init__(self, folder):
        handler = partial(QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def servers(data_root, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("mirrors")
    good = Server(data_root / "mnist")
    corrupt_dir = tmp_path / "corrupt"
    corrupt_dir.mkdir()
    for f in (data_root / "mnist").glob("*.gz"):
        raw = bytearray(gzip.decompress(f.read_bytes()))
        raw[-1] ^= 0xFF  # one flipped byte: a valid gzip, a wrong checksum
        (corrupt_dir / f.name).write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    corrupt = Server(corrupt_dir)
    empty = Server(tmp_path)  # serves no MNIST files: 404s
    yield good, corrupt, empty
    for s in (good, corrupt, empty):
        s.close()


def test_download_tries_mirrors_in_turn_and_verifies(servers, tmp_path, monkeypatch):
    good, corrupt, empty = servers
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    (x, y), (xt, yt) = fn.datasets.mnist(mirrors=(empty.url, corrupt.url, good.url))
    assert x.shape == (60000, 1, 28, 28) and yt.shape == (10000,)
    cached = sorted(p.name for p in (tmp_path / "cache" / "fastnn" / "mnist").iterdir())
    assert cached == sorted(f"{s.name}.gz" for s in MNIST.files)
    for spec in MNIST.files:  # what landed in the cache is the verified original
        data = gzip.decompress((tmp_path / "cache/fastnn/mnist" / f"{spec.name}.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == spec.sha256


def test_failed_download_leaves_nothing_and_names_file_and_mirrors(servers, tmp_path, monkeypatch):
    _, corrupt, empty = servers
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    with pytest.raises(DataError) as err:
        fn.datasets.mnist(mirrors=(empty.url, corrupt.url))
    msg = str(err.value)
    assert "could not download train-images-idx3-ubyte.gz" in msg
    assert f"{empty.url}train-images-idx3-ubyte.gz: HTTP 404" in msg
    assert f"{corrupt.url}train-images-idx3-ubyte.gz: checksum mismatch" in msg
    assert not (tmp_path / "cache").exists()  # not even an empty cache folder
