"""Downloads from unreliable mirrors. A local HTTP server on 127.0.0.1 misbehaves in each way a
real mirror can; the download must fail over to the next mirror, give up on a mirror by itself
(the server sees the client hang up), leave nothing half-written, keep memory bounded and
explain where the data was looked for. The checksums alone must do for data sets that publish
only MD5 sums."""

import gzip
import hashlib
import http.server
import os
import re
import threading
import time
import tracemalloc
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import fastnn as fn
from fastnn.data import FASHION_MNIST, MNIST, DataError, IdxDataset, IdxSpec, download, locate
from fastnn.data.download import _verify

TIMEOUT, DEADLINE = 0.5, 0.8  # small, so that the suite stays fast
STALL = TIMEOUT / 10  # the stalling mirror's pause between bytes: never long enough to time out
SAFETY_SECONDS = 60  # a handler stops by itself only if the client never hangs up (a bug)
FOREVER_BLOCKS = 1024  # the endless mirror's limit (64 MiB), far past any size cap


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


@dataclass
class Request:
    """One GET as the mirror saw it: how many bytes of the body it sent, and how it ended:
    "sent" (all it meant to send), "hung up" (the client closed the connection first) or
    "safety stop" (the client never gave up: the handler stopped by itself)."""

    behaviour: str
    name: str
    sent: int = 0
    ended: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Mirror(http.server.BaseHTTPRequestHandler):
    """GET /<behaviour>/<file>: serves the file (from ``files``) well or badly, and keeps a
    :class:`Request` for each GET in ``requests``."""

    files: dict[str, bytes] = {}
    requests: list[Request] = []
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        behaviour, _, name = self.path.strip("/").partition("/")
        request = Request(behaviour, name)
        self.requests.append(request)
        try:
            request.ended = self._serve(behaviour, self.files.get(name), request)
        except (BrokenPipeError, ConnectionResetError):
            request.ended = "hung up"  # the client gave up, as it should
        finally:
            self.close_connection = True
            request.done.set()

    def _write(self, data: bytes, request: Request) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        request.sent += len(data)

    def _serve(self, behaviour: str, data: bytes | None, request: Request) -> str:
        if data is None or behaviour == "missing":
            self.send_error(404)
            return "sent"
        if behaviour == "silent":  # accepts the connection, never answers
            time.sleep(3 * TIMEOUT)
            return "sent"
        self.send_response(200)
        if behaviour == "forever":  # no length, endless bytes
            self.send_header("Connection", "close")
            self.end_headers()
            block = os.urandom(1 << 16)
            for _ in range(FOREVER_BLOCKS):
                self._write(block, request)
            return "safety stop"
        if behaviour == "liar":  # announces far more than the file can be
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
            self._write(data, request)
            return "sent"
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if behaviour == "half":  # closes halfway: IncompleteRead
            self._write(data[: len(data) // 2], request)
        elif behaviour == "stall":  # a byte at a time, never silent long enough to time out
            start = time.monotonic()
            for byte in data:
                if time.monotonic() - start > SAFETY_SECONDS:
                    return "safety stop"
                self._write(bytes([byte]), request)
                time.sleep(STALL)
        else:
            self._write(data, request)
        return "sent"


class Server:
    def __init__(self, files):
        self.requests: list[Request] = []
        handler = type("Handler", (Mirror,), {"files": files, "requests": self.requests})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, behaviour):
        return f"{self.base}/{behaviour}/"

    def served(self, behaviour) -> list[Request]:
        """The requests for ``behaviour`` so far, once their handlers have finished."""
        requests = [r for r in self.requests if r.behaviour == behaviour]
        for r in requests:  # a hang guard, not a measure of speed: a correct client is done
            assert r.done.wait(2 * SAFETY_SECONDS), f"{r} still running"
        return requests

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def mirrors():
    s = Server(TINY_FILES)
    yield s
    s.close()


@pytest.fixture
def server(mirrors):
    """The module's server, its record of requests emptied for this test."""
    mirrors.requests.clear()
    return mirrors


@pytest.fixture
def timeouts(monkeypatch):
    """The timeout of each urlopen call the downloads make, in order."""
    seen = []
    real = urllib.request.urlopen

    def urlopen(url, *args, timeout=None, **kwargs):
        seen.append(timeout)
        return real(url, *args, timeout=timeout, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return seen


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
def test_each_bad_mirror_fails_over_to_the_next(server, cache, timeouts, bad):
    paths = get(server, bad, "good")
    assert_verified(paths)
    assert sorted(p.name for p in cache.iterdir()) == sorted(TINY_FILES)  # no temporaries
    # each of the four files: one try on the bad mirror, then one on the good one
    assert [r.name for r in server.served(bad)] == [f"{s.name}.gz" for s in TINY.files]
    assert [r.name for r in server.served("good")] == [f"{s.name}.gz" for s in TINY.files]
    # a mirror may stay silent for TIMEOUT at most (the silent one is left that way)...
    assert timeouts == [TIMEOUT] * 8
    # ...and one that keeps sending is left by the client (the per-file deadline, the size
    # cap), never holding it until the mirror itself stops
    if bad in ("stall", "forever"):
        for r in server.served(bad):
            assert r.ended == "hung up", r
            assert bad == "forever" or r.sent < len(TINY_FILES[r.name]), r


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


def test_md5_only_verification_as_for_fashion_mnist():
    """Fashion-MNIST publishes MD5 sums of its gzip files only: those must do on their own."""
    assert all(s.md5_gz and s.sha256 is None for s in FASHION_MNIST.files)
    data = gzip.compress(idx_bytes(np.arange(6, dtype=np.uint8)))
    spec = IdxSpec("x", (6,), md5_gz=hashlib.md5(data).hexdigest())
    assert _verify(data, spec) == gzip.decompress(data)
    with pytest.raises(DataError, match="checksum mismatch"):
        _verify(gzip.compress(idx_bytes(np.arange(1, 7, dtype=np.uint8))), spec)
    with pytest.raises(DataError, match="corrupted gzip"):
        _verify(data[:-1] + bytes([data[-1] ^ 1]), spec)


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
