"""One rule for every argument: sizes are integers wherever they are given (never truncated),
labels read from file names are one class per number and never "", and the command line checks
--test-fraction and --plots before any training."""

import os
import warnings

import numpy as np
import pytest
import scipy.io
from numerals import tutorial_mat_arrays
from PIL import Image

import fastnn as fn
from fastnn.cli import main
from fastnn.data import DataError


@pytest.fixture
def mat_file(tmp_path):
    _, _, arrays = tutorial_mat_arrays(m=30, mt=15, k=3)
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, arrays)
    return path


@pytest.mark.parametrize("shape,bad", [((64.0, 64), "64.0"), ((64, 63.9), "63.9"),
                                       ((np.float32(64), 64), "np.float32\\(64.0\\)|64.0")])
def test_from_mat_shape_takes_integers_only(mat_file, shape, bad):
    with pytest.raises(ValueError, match=f"shape must be an integer, got ({bad})"):
        fn.datasets.from_mat(mat_file, shape=shape, one_based=True)
    with pytest.raises(ValueError, match=f"shape must be an integer, got ({bad})"):
        fn.data.load_mat(mat_file, ["X", "y", "Xtest", "ytest"], shape=shape)
    x, _ = fn.datasets.from_mat(mat_file, shape=(np.int64(64), 64), one_based=True)
    assert x.shape == (30, 1, 64, 64)
    with pytest.raises(ValueError, match="shape must be \\(H, W\\) or \\(C, H, W\\)"):
        fn.datasets.from_mat(mat_file, shape="64,64", one_based=True)


def test_compat_sizes_take_integers_only():
    rng = np.random.default_rng(0)
    t1, t2 = rng.standard_normal((3, 5)), rng.standard_normal((2, 4))
    vector = fn.compat.thetas_to_vector([t1, t2])
    with pytest.raises(ValueError, match="sizes must be an integer, got 3.5"):
        fn.compat.thetas_from_vector(vector, (4, 3.5, 2))
    with pytest.raises(ValueError, match="sizes must be an integer, got 4.0"):
        fn.compat.thetas_from_vector(vector, (4.0, 3, 2))
    back = fn.compat.thetas_from_vector(vector, (np.int32(4), 3, 2))
    np.testing.assert_array_equal(back[0], t1)
    with pytest.raises(ValueError, match="input_shape must be an integer, got 2.0"):
        fn.compat.from_thetas([t1, t2], input_shape=(2.0, 2))
    with pytest.raises(ValueError, match="input_shape must be an integer, got 1.9"):
        fn.compat.from_thetas([t1, t2], input_shape=(2, 1.9), order="F")
    assert fn.compat.from_thetas([t1, t2], input_shape=(2, 2)).predict(
        np.ones((1, 1, 2, 2), np.float32)).shape == (1, 2)


def write_images(root, names):
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.new("RGB", (6, 6), (40 * i % 255, 90, 200)).save(root / name)
    return root


def test_file_name_labels_one_and_zero_one_are_one_class(tmp_path):
    root = write_images(tmp_path / "a", ["a_1.png", "b_01.png", "c_1.png", "d_001.png",
                                         "e_2.png", "f_02.png", "g_2.png", "h_+2.png"])
    train, test, names = fn.datasets.image_files(root, r"_([+\d]+)\.png$", size=6,
                                                 test_fraction=0.25)
    assert names == ["1", "2"]
    assert sorted(np.concatenate([train[1], test[1]]).tolist()) == [0] * 4 + [1] * 4


def test_two_spellings_of_a_number_among_text_labels_are_named(tmp_path):
    root = write_images(tmp_path / "b", ["a_1.png", "b_01.png", "c_cat.png", "d_cat.png"])
    with pytest.raises(DataError, match="labels '01' and '1' are one number written two ways"):
        fn.datasets.image_files(root, r"_(\w+)\.png$", size=6, test_fraction=0)


def test_an_optional_group_never_makes_a_class_named_empty(tmp_path):
    root = write_images(tmp_path / "c", ["a_1.png", "b_1.png", "c_2.png", "d_2.png", "e_.png"])
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\) whose names do not match.*\n.*"
                                         r"e_\.png"):
        _, _, names = fn.datasets.image_files(root, r"_(\d*)\.png$", size=6, test_fraction=0)
    assert names == ["1", "2"]
    with pytest.warns(UserWarning, match="skipped 1 file"):  # a function's "" is no label
        _, _, names = fn.datasets.image_files(root, lambda p: p.stem.split("_")[1], size=6,
                                              test_fraction=0)
    assert names == ["1", "2"]


def run_cli(args, capsys):
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def test_test_fraction_with_a_files_own_test_split_is_an_error(mat_file, tmp_path, capsys,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(["train", "mat", str(mat_file), "--test-fraction", "0.3", "--epochs",
                         "1", "--quiet"], capsys)
    assert code == 1 and len(err.splitlines()) == 1
    assert err == ("fastnn: error: --test-fraction applies to --keys X,y (one array to split); "
                   "with --keys X,y,Xtest,ytest the file's own test split is used")
    assert not (tmp_path / "runs").exists()  # refused before any folder or training
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 1-based labels' warning
        code, err = run_cli(["train", "mat", str(mat_file), "--keys", "X,y", "--test-fraction",
                             "0.3", "--epochs", "1", "--out", str(tmp_path / "r"), "--quiet"],
                            capsys)
    assert code == 0, err


def test_plots_are_checked_before_training(mat_file, tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    for plots, problem in ((tmp_path / "taken", "is a file, not a folder"),
                           (tmp_path / "taken" / "sub", "is a file, not a folder")):
        code, err = run_cli(["train", "mat", str(mat_file), "--epochs", "1", "--out",
                             str(tmp_path / "run"), "--plots", str(plots), "--quiet"], capsys)
        assert code == 1 and err.startswith(f"fastnn: error: --plots {plots}: ")
        assert problem in err and len(err.splitlines()) == 1
        assert not (tmp_path / "run" / "mat_mlp.npz").exists()  # no training happened
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, err = run_cli(["train", "mat", str(mat_file), "--epochs", "1", "--out",
                             str(tmp_path / "run2"), "--plots", str(locked / "p"), "--quiet"],
                            capsys)
        assert code == 1 and "permission denied" in err
