""".mat files are untrusted input, as model files are: declared and inflated sizes are checked
before anything is allocated (under a 1 GB memory limit), an empty, truncated or corrupt file is
one DataError, and labels must name a sane number of classes."""

import io
import struct
import subprocess
import sys
import textwrap
import zlib

import h5py
import numpy as np
import pytest
import scipy.io

import fastnn as fn
from fastnn.data import DataError
from fastnn.data.matlab import MAX_CLASSES


def compressed_matrix(name: bytes, rows: int, cols: int, data_bytes: int) -> bytes:
    """A v5 miCOMPRESSED element: a double matrix ``name`` that declares rows x cols and holds
    ``data_bytes`` zero bytes. Built from repeated flushed deflate blocks (and an adler32 worked
    out for zeros), so 3.2 GB of zeros cost milliseconds and 3 MB."""
    inner = (struct.pack("<IIII", 6, 8, 6, 0) + struct.pack("<IIii", 5, 8, rows, cols)
             + struct.pack("<HH", 1, len(name)) + name.ljust(4, b"\0")
             + struct.pack("<II", 9, data_bytes))
    head = struct.pack("<II", 14, len(inner) + data_bytes) + inner
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [b"\x78\xda", c.compress(head), c.flush(zlib.Z_FULL_FLUSH)]
    chunk = 1 << 20
    n, rest = divmod(data_bytes, chunk)
    if n:
        out.append(c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH))
        same = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)  # after a full flush
        out += [same] * (n - 1)
    out += [c.compress(bytes(rest)), c.flush()]
    adler = zlib.adler32(head)  # then data_bytes zeros: a stays, b grows by a per byte
    a, b = adler & 0xFFFF, (adler >> 16) + (adler & 0xFFFF) * data_bytes
    out.append(struct.pack(">I", (b % 65521) << 16 | a))
    body = b"".join(out)
    return struct.pack("<II", 15, len(body)) + body


def v5_with_x(path, rows, cols, data_bytes, n=3):
    """A v5 file with a normal y of n labels and an X made by :func:`compressed_matrix`."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"y": np.arange(n, dtype=np.float64)})
    path.write_bytes(buf.getvalue() + compressed_matrix(b"X", rows, cols, data_bytes))
    return path


def test_the_bomb_helper_writes_a_file_scipy_reads(tmp_path):
    path = v5_with_x(tmp_path / "small.mat", 3, 4, 96)
    x, y = fn.datasets.from_mat(path, one_based=False)
    assert x.shape == (3, 4) and not x.any() and y.tolist() == [0, 1, 2]


def run_limited(script: str) -> str:
    """Runs ``script`` in a fresh Python under a 1 GB address-space limit; its stdout."""
    code = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
    out = subprocess.run([sys.executable, "-c", code + textwrap.dedent(script)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_huge_declared_or_inflated_mat_files_fail_before_allocating(tmp_path):
    """A 3 MB v5 file whose zlib stream inflates to 3.2 GB, a v5 file that declares 3x1 but
    inflates to 64 MB, and a v7.3 file that declares 40000x40000: one-line errors, under 1 GB."""
    v5_with_x(tmp_path / "bomb.mat", 20000, 20000, 20000 * 20000 * 8)
    v5_with_x(tmp_path / "liar.mat", 3, 1, 64 << 20)
    with h5py.File(tmp_path / "huge73.mat", "w", userblock_size=512) as f:
        f.create_dataset("X", shape=(40000, 40000), dtype="f8", chunks=(1000, 1000),
                         compression="gzip")  # nothing written: a few KB
        f.create_dataset("y", data=np.ones((1, 40000)))
    with open(tmp_path / "huge73.mat", "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM")
    assert max((tmp_path / n).stat().st_size for n in ("bomb.mat", "huge73.mat")) < 4 << 20
    out = run_limited(f"""
        import fastnn as fn
        for name, limit in (("bomb.mat", 2 << 30), ("liar.mat", 16 << 20),
                            ("huge73.mat", 2 << 30)):
            try:
                fn.datasets.from_mat({str(tmp_path)!r} + "/" + name, max_bytes=limit)
            except fn.datasets.DataError as e:
                print("refused", e)
    """).splitlines()
    assert len(out) == 3, out
    assert out[0].endswith("bomb.mat: y double (1, 3), X double (20000, 20000) would take "
                           "3,200,000,024 bytes in memory, more than the limit of 2,147,483,648 "
                           "(from_mat(..., max_bytes=) raises it)"), out[0]
    assert "liar.mat: its compressed variables would take" in out[1]
    assert "more than the limit of 16,777,216" in out[1]
    assert "huge73.mat: X float64 (40000, 40000), y float64 (40000, 1) would take " \
           "12,800,320,000 bytes" in out[2]


def test_the_limit_is_an_integer(tmp_path):
    path = v5_with_x(tmp_path / "small.mat", 3, 4, 96)
    with pytest.raises(ValueError, match="max_bytes must be an integer, got 1000000000.0"):
        fn.datasets.from_mat(path, max_bytes=1e9)


def broken_files(tmp_path) -> dict:
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"X": np.ones((3, 4)), "y": np.arange(3.0)}, do_compression=True)
    good = buf.getvalue()
    corrupt = bytearray(good)
    corrupt[150:160] = b"\xff" * 10
    return {"empty.mat": b"", "header.mat": b"MATLAB 5.0 MAT-file", "text.mat": b"hello " * 50,
            "truncated.mat": good[:-20], "corrupt.mat": bytes(corrupt),
            "v73.mat": b"MATLAB 7.3 MAT-file".ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + bytes(9)}


@pytest.mark.parametrize("name", ["empty.mat", "header.mat", "text.mat", "truncated.mat",
                                  "corrupt.mat", "v73.mat"])
def test_empty_or_broken_mat_files_are_one_line_errors(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(broken_files(tmp_path)[name])
    with pytest.raises(DataError) as info:
        fn.datasets.from_mat(path, one_based=False)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert ("empty (0 bytes)" if name == "empty.mat" else "not a readable MATLAB") in message


@pytest.mark.parametrize("bad,shown", [(1e9, r"1e\+09"), (MAX_CLASSES + 1, "10001")])
def test_labels_must_name_a_sane_number_of_classes(tmp_path, bad, shown):
    y = np.arange(1, 11, dtype=np.float64)
    y[4] = bad
    scipy.io.savemat(tmp_path / "d.mat", {"X": np.ones((10, 4)), "y": y})
    with pytest.raises(DataError, match=rf"y\[4\] is {shown}: labels must be 0..K-1 or 1..K "
                                        rf"with at most 10,000 classes"):
        fn.datasets.from_mat(tmp_path / "d.mat")


def test_the_largest_class_count_is_the_limit(tmp_path):
    y = np.array([1, 2, MAX_CLASSES], dtype=np.float64)  # 1..K with K = 10,000: allowed
    scipy.io.savemat(tmp_path / "d.mat", {"X": np.ones((3, 4)), "y": y})
    with pytest.warns(UserWarning, match="1-based"):
        assert fn.datasets.from_mat(tmp_path / "d.mat")[1].max() == MAX_CLASSES - 1
    with pytest.raises(DataError, match="labels up to 10000 name more than 10,000 classes"):
        fn.datasets.from_mat(tmp_path / "d.mat", one_based=False)  # 0..10000: K = 10,001
    scipy.io.savemat(tmp_path / "e.mat", {"X": np.ones((0, 4)), "y": np.zeros((0, 1))})
    with pytest.raises(DataError, match="y holds no labels"):
        fn.datasets.from_mat(tmp_path / "e.mat")
