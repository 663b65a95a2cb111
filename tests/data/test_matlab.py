"""MATLAB .mat files as the classic tutorials keep them: SciPy's formats and v7.3 (HDF5),
samples as rows or columns, images unrolled in C or Fortran order, 1-based labels."""

import warnings

import h5py
import numpy as np
import pytest
import scipy.io
from numerals import tutorial_mat_arrays

import fastnn as fn
from fastnn.data import DataError


def test_from_mat_tutorial_layout(tmp_path):
    images, y, arrays = tutorial_mat_arrays()
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, arrays)
    with pytest.warns(UserWarning, match=r"labels in y, ytest run 1\.\.15 .* now 0\.\.14"):
        (x, yy), (xt, yt) = fn.datasets.from_mat(path, "X", "y", "Xtest", "ytest",
                                                 shape=(64, 64), order="F")
    assert x.shape == (30, 1, 64, 64) and x.dtype == np.float32 and yy.dtype == np.int64
    np.testing.assert_allclose(x[:, 0], images[:30], atol=1e-7)
    np.testing.assert_allclose(xt[:, 0], images[30:], atol=1e-7)
    np.testing.assert_array_equal(yy, y[:30] - 1)
    np.testing.assert_array_equal(yt, y[30:] - 1)
    # without shape: the flat rows as stored; C order gives the transposed image
    x_flat, _ = fn.datasets.from_mat(path, one_based=True)
    np.testing.assert_allclose(x_flat, arrays["X"], atol=1e-7)
    x_c, _ = fn.datasets.from_mat(path, shape=(64, 64), one_based=True)
    np.testing.assert_allclose(x_c[:, 0], images[:30].transpose(0, 2, 1), atol=1e-7)
    # zero-based labels stay as they are, without a warning
    scipy.io.savemat(path, {"X": arrays["X"], "y": arrays["y"] - 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, y0 = fn.datasets.from_mat(path)
    np.testing.assert_array_equal(y0, y[:30] - 1)


def test_from_mat_samples_as_columns(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 7))  # 12 features x 7 samples, as the L-layer tutorial has it
    scipy.io.savemat(tmp_path / "cols.mat", {"train_x": x, "train_y": np.array([[0, 1] * 3 + [1]])})
    xs, ys = fn.datasets.from_mat(tmp_path / "cols.mat", "train_x", "train_y", shape=(3, 4))
    assert xs.shape == (7, 1, 3, 4) and ys.tolist() == [0, 1, 0, 1, 0, 1, 1]
    np.testing.assert_allclose(xs.reshape(7, 12), x.T.astype(np.float32))


def write_v73(path, arrays: dict) -> None:
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte text header, every array
    stored column-major (so h5py sees the dimensions reversed)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, a in arrays.items():
            f.create_dataset(key, data=np.asarray(a).T)
            f[key].attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Nov 23 2026 HDF5 schema"
    with open(path, "r+b") as f:
        f.write(header.ljust(116) + bytes(8) + b"\x00\x02IM")  # version 2 (7.3), little-endian


def test_from_mat_v73_hdf5(tmp_path):
    images, y, arrays = tutorial_mat_arrays(m=20, mt=10)
    path = tmp_path / "data73.mat"
    write_v73(path, arrays)
    with pytest.raises(NotImplementedError):  # SciPy cannot: h5py must
        scipy.io.loadmat(path)
    with pytest.warns(UserWarning, match="1-based"):
        (x, yy), (xt, yt) = fn.datasets.from_mat(path, "X", "y", "Xtest", "ytest",
                                                 shape=(64, 64), order="F")
    np.testing.assert_allclose(x[:, 0], images[:20], atol=1e-7)
    np.testing.assert_allclose(xt[:, 0], images[20:], atol=1e-7)
    np.testing.assert_array_equal(np.concatenate([yy, yt]), y - 1)
    with pytest.raises(DataError, match=r"no variable Xval \(the file holds: X, Xtest, y, ytest"):
        fn.datasets.from_mat(path, "Xval", "y")


def test_from_mat_hostile_inputs(tmp_path):
    _, _, arrays = tutorial_mat_arrays(m=10, mt=5)
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, arrays)
    kw = dict(one_based=True)
    with pytest.raises(DataError, match=r"data.mat: no variable labels \(the file holds: X, "):
        fn.datasets.from_mat(path, "X", "labels", **kw)
    with pytest.raises(DataError, match=r"X has 4096 values per sample, which is not an image "
                                        r"of shape \(32, 32\)"):
        fn.datasets.from_mat(path, shape=(32, 32), **kw)
    with pytest.raises(ValueError, match="shape must be"):
        fn.datasets.from_mat(path, shape=(64,), **kw)
    with pytest.raises(ValueError, match="order must be 'C' or 'F'"):
        fn.datasets.from_mat(path, shape=(64, 64), order="K", **kw)
    with pytest.raises(ValueError, match="give both x_test and y_test"):
        fn.datasets.from_mat(path, "X", "y", "Xtest")
    scipy.io.savemat(path, {"X": arrays["X"], "y": arrays["y"][:7]})
    with pytest.raises(DataError, match=r"X is \(10, 4096\), which does not hold 7 samples"):
        fn.datasets.from_mat(path, **kw)
    for bad, value in ((2.5, "2.5"), (-1, "-1"), (np.nan, "nan")):
        y = arrays["y"].copy()
        y[3] = bad
        scipy.io.savemat(path, {"X": arrays["X"], "y": y})
        with pytest.raises(DataError, match=rf"y\[3\] is {value}: labels must be integers >= 0"):
            fn.datasets.from_mat(path)
    scipy.io.savemat(path, {"X": arrays["X"], "y": arrays["y"] - 1})
    with pytest.raises(DataError, match="one_based=True, but a label is 0"):
        fn.datasets.from_mat(path, one_based=True)
    scipy.io.savemat(path, {"X": arrays["X"], "y": np.array(["a"] * 10)})
    with pytest.raises(DataError, match="y must hold 10 numeric labels"):
        fn.datasets.from_mat(path)
    (tmp_path / "junk.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(DataError, match="junk.mat: not a readable MATLAB file"):
        fn.datasets.from_mat(tmp_path / "junk.mat")
    with pytest.raises(FileNotFoundError, match="no .mat file at"):
        fn.datasets.from_mat(tmp_path / "missing.mat")
