"""Data and weights kept as the classic tutorials keep them (issue 14): labels in file names,
MATLAB .mat files (SciPy and v7.3 HDF5), Theta matrices and L-layer parameter dicts, and
class names in any script on the plots."""

import json
import math
import re
import warnings

import h5py
import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import fastnn as fn
from fastnn import plots
from fastnn.cli import main
from fastnn.compat import (
    from_parameters,
    from_thetas,
    thetas_from_vector,
    thetas_to_vector,
    to_parameters,
    to_thetas,
)
from fastnn.datasets import DataError

NUMERALS = "零,一,二,三,四,五,六,七,八,九,十,百,千,万,亿"


def numeral_image(label: int, rng) -> np.ndarray:
    """A 64x64 uint8 image for class 1..15: a bright 16x16 block at a place of its own."""
    img = rng.integers(0, 40, (64, 64)).astype(np.uint8)
    r, c = divmod(label - 1, 4)
    img[r * 16 : r * 16 + 16, c * 16 : c * 16 + 16] = 220
    return img


def numeral_folder(root, per_class: int = 6, k: int = 15, seed: int = 0):
    """The tutorial's flat folder: input_<a>_<b>_<label>.jpg, labels 1..k."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for label in range(1, k + 1):
        for i in range(per_class):
            Image.fromarray(numeral_image(label, rng)).save(
                root / f"input_{i + 1}_{label * 7 % 5}_{label}.jpg", quality=95)
    return root


# --- files labelled by name --------------------------------------------------------------------


def test_image_files_labels_from_names_in_numeric_order(tmp_path):
    root = numeral_folder(tmp_path / "data", per_class=3)
    (root / "notes.txt").write_text("not an image")
    (root / "input_1_2_x.jpg").write_bytes(b"no label number")
    (root / "input_9_9_4.jpg").write_bytes(b"matches, but is not a JPEG")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        (x, y), (xt, yt), names = fn.datasets.image_files(
            root, r"_(\d+)\.jpg$", size=64, mode="gray", test_fraction=1 / 3,
            class_names=NUMERALS)
    messages = [str(m.message) for m in w]
    assert len(messages) == 2, messages
    unmatched = next(m for m in messages if "do not match" in m)
    assert "skipped 2 file(s)" in unmatched and "notes.txt" in unmatched
    assert "input_1_2_x.jpg" in unmatched
    unreadable = next(m for m in messages if "not readable images" in m)
    assert "input_9_9_4.jpg" in unreadable
    assert names == NUMERALS.split(",")
    assert x.shape == (30, 1, 64, 64) and xt.shape == (15, 1, 64, 64) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [2] * 15 and np.bincount(yt).tolist() == [1] * 15
    # label 10 is class 9 (numeric order, not "1" < "10" < "2"); its block is at row 2, col 1
    img = xt[yt == 9][0, 0]
    assert img[36:44, 20:28].mean() > 0.8 and img[4:12, 4:12].mean() < 0.3


def test_image_files_label_function_and_names_file(tmp_path):
    root = tmp_path / "pets"
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        for kind in ("dog", "cat"):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(
                root / f"{kind}.{i}.png")
    names_file = tmp_path / "names.txt"
    names_file.write_text("Katze\nHund\n", encoding="utf-8")
    (x, y), (xt, yt), names = fn.datasets.image_files(
        root, lambda p: p.name.split(".")[0], size=(8, 8), test_fraction=0.25,
        class_names=names_file)
    assert names == ["Katze", "Hund"]  # labels cat < dog, named in that order
    assert x.shape == (6, 3, 8, 8) and sorted(yt.tolist()) == [0, 1]


def test_image_files_hostile_inputs(tmp_path):
    root = numeral_folder(tmp_path / "data", per_class=1, k=3)
    with pytest.raises(ValueError, match=r"'_\(\\d\+' is not a valid regular expression"):
        fn.datasets.image_files(root, r"_(\d+")
    with pytest.raises(ValueError, match="exactly one group .* it has 0"):
        fn.datasets.image_files(root, r"_\d+\.jpg")
    with pytest.raises(ValueError, match="exactly one group .* it has 2"):
        fn.datasets.image_files(root, r"_(\d+)_(\d+)\.jpg")
    with pytest.raises(ValueError, match=r"15 class names for 3 labels found in .* \(1, 2, 3\)"):
        fn.datasets.image_files(root, r"_(\d+)\.jpg$", class_names=NUMERALS)
    with pytest.raises(ValueError, match="一 appear more than once"):
        fn.datasets.image_files(root, r"_(\d+)\.jpg$", class_names="零,一,一")
    with pytest.raises(ValueError, match="empty name"):
        fn.datasets.image_files(root, r"_(\d+)\.jpg$", class_names="零,,二")
    with pytest.warns(UserWarning, match="skipped 3 file"), \
            pytest.raises(DataError, match="no file name matches"):
        fn.datasets.image_files(root, r"^label_(\d+)\.png$")
    with pytest.raises(DataError, match="no such folder"):
        fn.datasets.image_files(tmp_path / "nowhere", r"_(\d+)\.jpg$")


def test_cli_trains_the_numeral_network_with_class_names(tmp_path, capsys):
    """4096-256-15, sigmoid, per-class sigmoid cross-entropy with L2, from the CLI."""
    root = numeral_folder(tmp_path / "numerals")
    out, plot_dir = tmp_path / "run", tmp_path / "plots"
    names_file = tmp_path / "numerals.txt"
    names_file.write_text(NUMERALS.replace(",", "\n"), encoding="utf-8")
    args = ["train", "folder", str(root), "--label-pattern", r"_(\d+)\.jpg$",
            "--class-names", str(names_file), "--hidden", "256", "--activation", "sigmoid",
            "--loss", "binary_cross_entropy", "--l2", "1", "--init", "uniform", "--mode",
            "gray", "--size", "64", "--optimizer", "adam", "--lr", "0.01", "--epochs", "40",
            "--test-fraction", "0.34", "--out", str(out), "--plots", str(plot_dir), "--quiet"]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert main(args) == 0
    text = capsys.readouterr().out
    assert "Dense(4096, 256)  (N, 256)" in text and "Sigmoid()" in text  # the summary table
    assert "Dense(256, 15)    (N, 15)" in text and "(l2 1)" in text
    assert "零: " in text and "亿: " in text
    report = json.loads((out / "report.json").read_text())
    assert report["test_accuracy"] >= 0.9
    model = fn.load(out / "folder_mlp.npz")
    assert model.class_names == NUMERALS.split(",")
    assert model.loss.name == "binary_cross_entropy" and model.loss.l2 == 1
    for name in ("curves.png", "recall.png", "confusion.png"):
        assert (plot_dir / name).stat().st_size > 1000
    # the names are drawn with a font that has them, or one warning says what to install
    glyphs = [m for m in w if "missing from font" in str(m.message)]
    font_warnings = [m for m in w if "no installed font can draw" in str(m.message)]
    assert not glyphs
    assert len(font_warnings) == (0 if plots.font_families(NUMERALS.split(",")) else 1)
    # the saved model finds its test images again through the label pattern
    assert main(["evaluate", str(out / "folder_mlp.npz")]) == 0
    assert f"test accuracy {report['test_accuracy']:.2%}" in capsys.readouterr().out


def test_cli_label_pattern_errors_are_one_line(tmp_path, capsys):
    root = numeral_folder(tmp_path / "numerals", per_class=1, k=2)
    assert main(["train", "folder", str(root), "--label-pattern", "(", "--quiet"]) == 1
    assert "not a valid regular expression" in capsys.readouterr().err
    assert main(["train", "folder", str(root), "--label-pattern", r"_(\d+)\.jpg$",
                 "--class-names", "a,b,c", "--quiet"]) == 1
    assert "3 class names for 2 labels" in capsys.readouterr().err


# --- MATLAB files ------------------------------------------------------------------------------


def tutorial_mat_arrays(m: int = 30, mt: int = 15, k: int = 15, seed: int = 0):
    """Images (N, 64, 64) in [0, 1], labels 1..k, rows unrolled in Fortran order."""
    rng = np.random.default_rng(seed)
    y = rng.integers(1, k + 1, m + mt)
    y[:k] = np.arange(1, k + 1)  # every class in the training part
    images = np.stack([numeral_image(int(c), rng) for c in y]) / 255.0
    unrolled = np.stack([np.ravel(img, order="F") for img in images])
    return images, y, {"X": unrolled[:m], "y": y[:m, None].astype(np.float64),
                       "Xtest": unrolled[m:], "ytest": y[m:, None].astype(np.float64)}


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


def test_cli_trains_on_a_mat_file(tmp_path, capsys):
    _, _, arrays = tutorial_mat_arrays(m=60, mt=30)
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, arrays)
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="1-based"):
        assert main(["train", "mat", str(path), "--shape", "64,64", "--order", "F",
                     "--hidden", "32", "--activation", "sigmoid", "--loss",
                     "binary_cross_entropy", "--l2", "1", "--optimizer", "adam", "--lr", "0.01",
                     "--epochs", "30", "--class-names", NUMERALS, "--out", str(out),
                     "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "mat: 60 training, 30 test images of (1, 64, 64), 15 classes" in text
    assert json.loads((out / "report.json").read_text())["test_accuracy"] >= 0.8
    with pytest.warns(UserWarning, match="1-based"):
        assert main(["report", str(out / "mat_mlp.npz")]) == 0
    assert "零" in capsys.readouterr().out
    assert main(["train", "mat", str(path), "--keys", "X,labels", "--quiet"]) == 1
    assert "no variable labels" in capsys.readouterr().err


# --- Theta matrices and parameter dicts --------------------------------------------------------


def loop_sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def loop_theta_forward(thetas, x):
    """The sigmoid BP tutorial's forward pass, one sample and one unit at a time:
    a = sigmoid(Theta @ [1; a]) on every layer, samples as rows of x."""
    out = []
    for sample in x:
        a = list(sample)
        for theta in thetas:
            a = [loop_sigmoid(row[0] + sum(row[j + 1] * a[j] for j in range(len(a))))
                 for row in theta]
        out.append(a)
    return np.array(out)


def loop_lllayer_forward(parameters, x, layers: int):
    """The L-layer tutorial's L_model_forward with X features x samples: ReLU on layers
    1..L-1, sigmoid on layer L, b of shape (n, 1); returns AL (n_L, m)."""
    m = x.shape[1]
    al = np.zeros((parameters[f"w{layers}"].shape[0], m))
    for s in range(m):
        a = [x[i, s] for i in range(x.shape[0])]
        for layer in range(1, layers + 1):
            w, b = parameters[f"w{layer}"], parameters[f"b{layer}"]
            z = [b[i, 0] + sum(w[i, j] * a[j] for j in range(len(a))) for i in range(w.shape[0])]
            a = [loop_sigmoid(v) for v in z] if layer == layers else [max(0.0, v) for v in z]
        al[:, s] = a
    return al


def tutorial_numpy_forward(theta1, theta2, x):
    """The tutorial's own vectorized code (predict.m / nnCostFunction, ported)."""
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    m = x.shape[0]
    a2 = sigmoid(np.hstack([np.ones((m, 1)), x]) @ theta1.T)
    return sigmoid(np.hstack([np.ones((m, 1)), a2]) @ theta2.T)


def test_thetas_predict_like_the_tutorial_loop():
    rng = np.random.default_rng(0)
    thetas = [rng.uniform(-0.5, 0.5, (9, 21)), rng.uniform(-0.5, 0.5, (5, 10)),
              rng.uniform(-0.5, 0.5, (4, 6))]
    x = rng.uniform(0, 1, (12, 20))
    model = from_thetas(thetas, activation="sigmoid")
    assert model.dtype == np.float64
    np.testing.assert_allclose(model.predict(x), loop_theta_forward(thetas, x), rtol=0,
                               atol=1e-12)
    for got, want in zip(to_thetas(model), thetas):
        np.testing.assert_array_equal(got, want)


def test_numeral_thetas_full_size_fortran_images():
    """Theta1 256x4097 and Theta2 15x257, fed images unrolled in Fortran order: the model
    takes the images themselves (N, 1, 64, 64) and predicts what the tutorial's code does."""
    rng = np.random.default_rng(1)
    theta1, theta2 = rng.uniform(-0.12, 0.12, (256, 4097)), rng.uniform(-0.12, 0.12, (15, 257))
    images = rng.uniform(0, 1, (40, 64, 64))
    unrolled = np.stack([np.ravel(img, order="F") for img in images])
    want = tutorial_numpy_forward(theta1, theta2, unrolled)
    flat_model = from_thetas([theta1, theta2])
    np.testing.assert_allclose(flat_model.predict(unrolled), want, rtol=0, atol=1e-12)
    image_model = from_thetas([theta1, theta2], input_shape=(64, 64), order="F",
                              class_names=NUMERALS.split(","))
    np.testing.assert_allclose(image_model.predict(images[:, None]), want, rtol=0, atol=1e-12)
    # the tutorial's prediction: argmax + 1 in 1..15
    np.testing.assert_array_equal(image_model.predict_labels(images[:, None]) + 1,
                                  np.argmax(want, axis=1) + 1)
    back = to_thetas(image_model, input_shape=(64, 64), order="F")
    np.testing.assert_array_equal(back[0], theta1)
    np.testing.assert_array_equal(back[1], theta2)
    # nn_params: both unrolled in Fortran order, one after the other
    nn_params = np.concatenate([theta1.ravel(order="F"), theta2.ravel(order="F")])
    np.testing.assert_array_equal(thetas_to_vector([theta1, theta2]), nn_params)
    t1, t2 = thetas_from_vector(nn_params, (4096, 256, 15))
    np.testing.assert_array_equal(t1, theta1)
    np.testing.assert_array_equal(t2, theta2)


def test_thetas_saved_and_loaded_model_predicts_the_same(tmp_path):
    rng = np.random.default_rng(2)
    thetas = [rng.standard_normal((6, 11)), rng.standard_normal((3, 7))]
    model = from_thetas(thetas)
    model.save(tmp_path / "thetas.npz")
    x = rng.standard_normal((5, 10))
    np.testing.assert_array_equal(fn.load(tmp_path / "thetas.npz").predict(x), model.predict(x))


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
       h=st.integers(1, 4), order=st.sampled_from("CF"), seed=st.integers(0, 2**16))
def test_thetas_round_trip_any_shapes(sizes, h, order, seed):
    rng = np.random.default_rng(seed)
    sizes = [sizes[0] * h] + sizes[1:]
    thetas = [rng.standard_normal((b, a + 1)) for a, b in zip(sizes, sizes[1:])]
    model = from_thetas(thetas, input_shape=(h, sizes[0] // h), order=order)
    for got, want in zip(to_thetas(model, input_shape=(h, sizes[0] // h), order=order), thetas):
        np.testing.assert_array_equal(got, want)
    assert thetas_from_vector(thetas_to_vector(thetas), sizes)[-1].shape == thetas[-1].shape


def test_thetas_hostile_inputs():
    rng = np.random.default_rng(0)
    t1, t2 = rng.standard_normal((256, 4097)), rng.standard_normal((15, 257))
    with pytest.raises(ValueError, match=r"Theta2 is 15x300, but Theta1 has 256 outputs: Theta2 "
                                         r"needs 257 columns"):
        from_thetas([t1, rng.standard_normal((15, 300))])
    with pytest.raises(ValueError, match="Theta2 is 15x256, .* needs 257 columns"):
        from_thetas([t1, t2[:, 1:]])  # bias column left out
    with pytest.raises(ValueError, match=r"Theta1 must be a non-empty 2-D numeric matrix, got "
                                         r"float64 \(4097,\)"):
        from_thetas([t1[0], t2])
    with pytest.raises(ValueError, match="non-empty list"):
        from_thetas([])
    with pytest.raises(ValueError, match="Theta2 holds NaN"):
        from_thetas([t1, np.full((15, 257), np.nan)])
    with pytest.raises(ValueError, match="unknown hidden activation 'softplus'"):
        from_thetas([t1, t2], activation="softplus")
    with pytest.raises(ValueError, match=r"input_shape \(32, 32\) has 1024 values, but the "
                                         r"first layer takes 4096"):
        from_thetas([t1, t2], input_shape=(32, 32))
    with pytest.raises(ValueError, match="order='F' needs input_shape"):
        from_thetas([t1, t2], order="F")
    with pytest.raises(ValueError, match="nn_params has 10 values; layer sizes"):
        thetas_from_vector(np.zeros(10), (4096, 256, 15))
    cnn = fn.models.mnist_cnn()
    with pytest.raises(ValueError, match="to_thetas needs Dense layers .* layer 0 is Conv2D"):
        to_thetas(cnn)
    hinge = fn.Sequential([fn.Dense(3, 2)], loss="hinge")
    with pytest.raises(ValueError, match="sigmoid .* or softmax .* the model's loss is hinge"):
        to_thetas(hinge)


def test_parameters_predict_like_the_tutorial_loop():
    """The L-layer cat classifier: 20-7-5-1 on 12 features, X features x samples."""
    rng = np.random.default_rng(3)
    dims = [12, 7, 5, 1]
    parameters = {}
    for layer in range(1, len(dims)):
        parameters[f"w{layer}"] = rng.standard_normal((dims[layer], dims[layer - 1])) * 0.5
        parameters[f"b{layer}"] = rng.standard_normal((dims[layer], 1)) * 0.1
    x = rng.uniform(0, 1, (12, 9))  # features x samples
    model = from_parameters(parameters, hidden="relu", output="sigmoid")
    al = loop_lllayer_forward(parameters, x, 3)
    np.testing.assert_allclose(model.predict(x.T)[:, 1], al[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.predict_labels(x.T), (al[0] > 0.5).astype(int))
    back = to_parameters(model)
    assert sorted(back) == sorted(parameters)
    for key in parameters:
        assert back[key].shape == parameters[key].shape
        np.testing.assert_array_equal(back[key], parameters[key])
    # Andrew Ng's capitals (W1) and b as (n,) work too; images with input_shape
    caps = {k.upper() if k[0] == "w" else k: v.ravel() if k[0] == "b" else v
            for k, v in parameters.items()}
    img_model = from_parameters(caps, input_shape=(3, 4))
    np.testing.assert_allclose(img_model.predict(x.T.reshape(9, 1, 3, 4))[:, 1], al[0], rtol=0,
                               atol=1e-12)


def test_parameters_hostile_inputs():
    rng = np.random.default_rng(0)
    p = {"w1": rng.standard_normal((7, 12)), "b1": np.zeros((7, 1)),
         "w2": rng.standard_normal((1, 7)), "b2": np.zeros((1, 1))}
    with pytest.raises(ValueError, match="parameters has w2 but no b2"):
        from_parameters({k: v for k, v in p.items() if k != "b2"})
    with pytest.raises(ValueError, match=r"w2 is \(1, 6\), but layer 1 has 7 outputs: w2 needs "
                                         r"7 columns"):
        from_parameters(p | {"w2": np.zeros((1, 6))})
    with pytest.raises(ValueError, match=r"b1 is float64 \(1, 7\); with w1 \(7, 12\) it must "
                                         r"be \(7, 1\)"):
        from_parameters(p | {"b1": np.zeros((1, 7))})
    with pytest.raises(ValueError, match="keys b4, w4 that do not continue w1, b1, ..., w2, b2"):
        from_parameters(p | {"w4": np.zeros((1, 1)), "b4": np.zeros((1, 1))})
    with pytest.raises(ValueError, match=re.escape("parameters has no w1/b1 (keys: W, b)")):
        from_parameters({"W": 1, "b": 2})
    with pytest.raises(ValueError, match="unknown output 'linear'"):
        from_parameters(p, output="linear")
    mixed = fn.Sequential([fn.Dense(4, 3), fn.ReLU(), fn.Dense(3, 3), fn.Tanh(),
                           fn.Dense(3, 1)], loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=r"mix activations \['relu', 'tanh'\]"):
        to_parameters(mixed)


# --- class names in any script on the plots -----------------------------------------------------


def test_plot_names_drawn_with_a_font_that_has_them(tmp_path):
    """U+210A is not in the default font (DejaVu Sans) but in fonts matplotlib ships: the
    plots fall back to such a font and matplotlib draws no empty box (it would warn)."""
    names = ["a", "\u210a"]
    families = plots.font_families(names)
    assert families is not None and families[0] == "DejaVu Sans" and len(families) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.recall_bars([0.5, 1.0], names, tmp_path / "recall.png")
        plots.confusion_matrix(np.eye(2, dtype=int), names, tmp_path / "confusion.png")
    assert plots.font_families(["plain", "ascii"]) is None


def test_plot_names_without_a_font_warn_once_naming_the_package(tmp_path, monkeypatch):
    from matplotlib import font_manager

    no_cjk = [f for f in font_manager.fontManager.ttflist  # as on a machine without CJK fonts
              if "Last Resort" in f.name or ord("零") not in plots._charmap(f.fname)]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", no_cjk)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    monkeypatch.setattr(plots, "_warned", set())
    names = NUMERALS.split(",")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        plots.recall_bars([1.0] * 15, names, tmp_path / "recall.png")
        plots.confusion_matrix(np.eye(15, dtype=int), names, tmp_path / "confusion.png")
    messages = [str(m.message) for m in w]
    assert len(messages) == 1, messages
    assert "no installed font can draw" in messages[0] and "fonts-noto-cjk" in messages[0]
    assert w[0].filename == __file__  # points at the plotting call, not into fastnn
    assert (tmp_path / "confusion.png").stat().st_size > 1000
