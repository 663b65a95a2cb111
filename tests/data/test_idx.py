"""IDX files, the format of MNIST: every length checked, errors that name the file."""

import numpy as np
import pytest

from fastnn.data import DataError, parse_idx, read_idx


def idx_bytes(a: np.ndarray) -> bytes:
    return bytes([0, 0, 8, a.ndim]) + b"".join(d.to_bytes(4, "big") for d in a.shape) + a.tobytes()


def test_idx_reader_checks_everything(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(a)), a)
    with pytest.raises(DataError, match=r"f.idx: truncated: 39 bytes, but .* \(2, 3, 4\) needs 40"):
        parse_idx(idx_bytes(a)[:-1], "f.idx")
    with pytest.raises(DataError, match="trailing bytes"):
        parse_idx(idx_bytes(a) + b"x", "f.idx")
    with pytest.raises(DataError, match="not an IDX file"):
        parse_idx(b"\x50\x4b\x03\x04" + bytes(20), "f.idx")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(DataError, match="bad.gz: cannot read"):
        read_idx(tmp_path / "bad.gz")
