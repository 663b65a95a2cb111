"""Category 5: unreliable mirrors. A local HTTP server on 127.0.0.1 misbehaves in each way a
real mirror can; the download must fail over to the next mirror, leave nothing half-written,
keep memory bounded and explain where the data was looked for."""

import gzip
import hashlib
import http.server
import os
import re
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import fastnn as fn
from fastnn.datasets import MNIST, DataError, IdxDataset, IdxSpec, download, locate

TIMEOUT, DEADLINE = 0.4, 0.8  # small, so that the suite stays fast
MAX_SECONDS = 10  # no misbehaving handler runs longer than this


def idx_bytes(a: np.ndarray) -> bytes:
    dims = b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return bytes([0, 0, 0x08, a.ndim]) + dims + a.astype(np.uint8).tobytes()


def tiny_dataset():
    """An MNIST-like data set small enough to download many times: its files and their gz."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (40, 6, 6)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, 40),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 6, 6)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, 10)}
    raw = {name: idx_bytes(a) for name, a in arrays.items()}
    specs = tuple(IdxSpec(name, a.shape, hashlib.sha256(raw[name]).hexdigest())
                  for name, a in arrays.items())
    return IdxDataset("tiny", specs, mirrors=()), {f"{n}.gz": gzip.compress(b) for n, b in
                                                   raw.items()}


TINY, TINY_FILES = tiny_dataset()


class Mirror(http.server.BaseHTTPRequestHandler):
    """GET /<behaviour>/<file>: serves the file (from ``files``) well or badly."""

    files: dict[str, bytes] = {}
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        behaviour, _, name = self.path.strip("/").partition("/")
        data = self.files.get(name)
        if data is None or behaviour == "missing":
            self.send_error(404)
            return
        start = time.monotonic()
        try:
            if behaviour == "silent":  # accepts the connection, never answers
                time.sleep(3 * TIMEOUT)
                return
            self.send_response(200)
            if behaviour == "forever":  # no length, endless bytes
                self.send_header("Connection", "close")
                self.end_headers()
                block = os.urandom(1 << 16)
                while time.monotonic() - start < MAX_SECONDS:
                    self.wfile.write(block)
                return
            if behaviour == "liar":  # announces far more than the file can be
                self.send_header("Content-Length", str(10**12))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if behaviour == "half":  # closes halfway: IncompleteRead
                self.wfile.write(data[: len(data) // 2])
            elif behaviour == "stall":  # a byte every 0.2 s: never silent long enough to time out
                for byte in data:
                    if time.monotonic() - start > MAX_SECONDS:
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(TIMEOUT / 2.5)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should
        finally:
            self.close_connection = True


class Server:
    def __init__(self, files):
        handler = type("Handler", (Mirror,), {"files": files})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, behaviour):
        return f"{self.base}/{behaviour}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    s = Server(TINY_FILES)
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.delenv("FASTNN_TINY_MIRRORS", raising=False)
    return tmp_path / "cache" / "fastnn" / "tiny"


def get(server, *behaviours, **kw):
    mirrors = tuple(server.url(b) for b in behaviours)
    return locate(TINY, mirrors=mirrors, timeout=TIMEOUT, deadline=DEADLINE, **kw)


def assert_verified(paths):
    for spec, path in zip(TINY.files, paths):
        assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == spec.sha256


@pytest.mark.parametrize("bad", ["half", "stall", "forever", "liar", "silent", "missing"])
def test_each_bad_mirror_fails_over_to_the_next(server, cache, bad):
    start = time.monotonic()
    paths = get(server, bad, "good")
    elapsed = time.monotonic() - start
    assert_verified(paths)
    assert sorted(p.name for p in cache.iterdir()) == sorted(TINY_FILES)  # no temporaries
    # four files, each abandoned on the bad mirror within its deadline plus one silence
    assert elapsed < 4 * (DEADLINE + TIMEOUT) + 5


def test_every_mirror_bad_names_each_failure_and_leaves_nothing(server, cache):
    with pytest.raises(DataError) as err:
        get(server, "half", "stall", "forever", "liar", "silent", "missing")
    msg = str(err.value)
    name = "train-images-idx3-ubyte.gz"
    assert f"could not download {name}; every mirror failed" in msg
    for reason in ["half/.*connection closed", rf"stall/.*too slow: .* bytes in {DEADLINE:g} s",
                   "forever/.*(sent more than the|more data than the)",
                   "liar/.*announces 1,000,000,000,000 bytes",
                   rf"silent/.*(no data for {TIMEOUT:g} s|timed out)", "missing/.*HTTP 404"]:
        assert len(re.findall(reason, msg)) == 1, (reason, msg)
    # where it looked, and how to point at local files or other mirrors
    assert f"looked for the files in {cache}" in msg
    assert "pass it (or its parent) as root= (fastnn --data DIR)" in msg
    assert "FASTNN_DATA" in msg and "FASTNN_TINY_MIRRORS" in msg
    assert not (cache.parent.parent).exists()  # no empty cache folder left behind


def test_a_failure_after_some_files_keeps_the_verified_ones(server, cache, tmp_path):
    files = dict(TINY_FILES)
    del files["t10k-labels-idx1-ubyte.gz"]
    partial_server = Server(files)
    try:
        with pytest.raises(DataError, match="could not download t10k-labels"):
            locate(TINY, mirrors=(partial_server.url("good"),), timeout=TIMEOUT,
                   deadline=DEADLINE)
    finally:
        partial_server.close()
    assert sorted(p.name for p in cache.iterdir()) == sorted(files)
    assert_verified(get(server, "good"))  # the next run fetches only what is missing


def test_mirrors_from_the_environment(server, cache, monkeypatch):
    monkeypatch.setenv("FASTNN_TINY_MIRRORS", f"{server.url('missing')}, {server.url('good')}")
    assert_verified(locate(TINY, timeout=TIMEOUT, deadline=DEADLINE))
    monkeypatch.setenv("FASTNN_TINY_MIRRORS", server.url("missing"))
    with pytest.raises(DataError, match="missing/train-images-idx3-ubyte.gz: HTTP 404"):
        locate(TINY, root=cache.parent / "elsewhere", timeout=TIMEOUT, deadline=DEADLINE)


def test_real_mnist_streams_with_bounded_memory(data_root, cache, monkeypatch):
    """The 9.7 MB gzip (47 MB decompressed) is hashed as it streams: far less memory than the
    file; and a mirror streaming forever is cut off at the file's known size."""
    files = {p.name: p.read_bytes() for p in (data_root / "mnist").glob("*.gz")}
    real = Server(files)
    spec = MNIST.files[0]
    try:
        tracemalloc.start()
        path = download(spec, cache, (real.url("good"),), timeout=5, deadline=60)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB"
        assert path.read_bytes() == files[path.name]
        path.unlink()
        tracemalloc.start()
        # cut off at the size cap, or as soon as the data exceeds the IDX size: chunking decides
        cut = rf"(sent more than the {spec.max_download:,}|more data than the {spec.idx_size:,})"
        with pytest.raises(DataError, match=cut):
            download(spec, cache, (real.url("forever"),), timeout=5, deadline=60)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB"
        monkeypatch.setenv("FASTNN_MNIST_MIRRORS", real.url("good"))  # mnist() reads it
        (x, y), _ = fn.datasets.mnist()
        assert x.shape == (60000, 1, 28, 28)
    finally:
        real.close()


def test_the_parent_of_the_mnist_folder_works_as_root(data_root):
    (x, _), (xt, _) = fn.datasets.mnist(data_root, download=False)
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)


def test_missing_local_files_explain_where_and_how(tmp_path):
    with pytest.raises(DataError) as err:
        fn.datasets.mnist(tmp_path, download=False)
    msg = str(err.value)
    assert f"in {tmp_path}, {tmp_path / 'mnist'} (downloads are off)" in msg
    assert "train-images-idx3-ubyte[.gz]" in msg and "FASTNN_MNIST_MIRRORS" in msg
    assert list(Path(tmp_path).iterdir()) == []
