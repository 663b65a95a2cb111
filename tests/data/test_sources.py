"""The data a training run names and a saved model finds again: each ``load_*`` gives splits,
class names and a description, and ``test_split`` loads the same test split from that
description, also after the data has moved; data that changed since is an error."""

import re
import shutil

import numpy as np
import pytest
import scipy.io
from numerals import numeral_folder, tutorial_mat_arrays
from test_classics import write_folder

from fastnn import data
from fastnn.data import DataError


def assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_a_folder_model_finds_its_test_split_again_also_when_moved(tmp_path):
    write_folder(tmp_path / "pets", ["cat", "dog"], 10, (8, 8), "rgb")
    loaded = data.load_folder(tmp_path / "pets", 8, "rgb", 0.3, 5)
    assert loaded.class_names == ["cat", "dog"] and loaded.train[0].shape == (14, 3, 8, 8)
    assert loaded.description == {
        "kind": "folder", "root": str((tmp_path / "pets").resolve()),
        "input": {"size": [8, 8], "mode": "rgb"}, "folders": ["cat", "dog"],
        "test_fraction": 0.3, "seed": 5}
    metadata = {"data": loaded.description}
    assert_same(data.test_split(metadata), loaded.test)
    shutil.move(tmp_path / "pets", tmp_path / "moved")
    assert_same(data.test_split(metadata, tmp_path / "moved"), loaded.test)
    assert data.data_name(metadata) == "pets" and data.data_name({}) == "MNIST"


def test_a_folder_with_other_classes_is_an_error(tmp_path):
    write_folder(tmp_path / "pets", ["cat", "dog"], 6, (8, 8), "rgb")
    metadata = {"data": data.load_folder(tmp_path / "pets", 8, "rgb", 0.3, 0).description}
    write_folder(tmp_path / "pets", ["emu"], 6, (8, 8), "rgb")
    with pytest.raises(DataError, match=r"has classes \['cat', 'dog', 'emu'\], the model was "
                                        r"trained on \['cat', 'dog'\]"):
        data.test_split(metadata)


def test_files_labelled_by_name_keep_pattern_and_names(tmp_path):
    root = numeral_folder(tmp_path / "numerals", per_class=4, k=2)
    loaded = data.load_files(root, r"_(\d+)\.jpg$", 16, "gray", 0.5, 1, "零,一")
    assert loaded.class_names == ["零", "一"] and loaded.train[0].shape == (4, 1, 16, 16)
    assert loaded.description["label_pattern"] == r"_(\d+)\.jpg$"
    metadata = {"data": loaded.description}
    assert_same(data.test_split(metadata, class_names=["零", "一"]), loaded.test)
    with pytest.raises(ValueError, match="3 class names for 2 labels"):
        data.test_split(metadata, class_names=["a", "b", "c"])


def test_a_mat_file_split_by_fraction_is_found_again(tmp_path):
    _, _, arrays = tutorial_mat_arrays(m=30, mt=0, k=3)
    scipy.io.savemat(tmp_path / "d.mat", {"X": arrays["X"], "y": arrays["y"] - 1})
    loaded = data.load_mat(tmp_path / "d.mat", ["X", "y"], [64, 64], "F", 0.2, 3)
    assert loaded.class_names == ["0", "1", "2"] and loaded.test[0].shape[1:] == (1, 64, 64)
    assert loaded.description["input"] == {"size": [64, 64], "mode": "gray"}
    metadata = {"data": loaded.description}
    assert_same(data.test_split(metadata), loaded.test)
    with pytest.raises(DataError, match="3 classes, but the model has 2 class names"):
        data.test_split(metadata, class_names=["a", "b"])
    with pytest.raises(ValueError, match="give X, y or X, y, X_test, y_test"):
        data.load_mat(tmp_path / "d.mat", ["X"])


def test_a_model_without_a_description_was_trained_on_mnist(data_root):
    x, y = data.test_split({}, data_root / "mnist")
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)


def test_fewer_training_samples_and_other_names():
    splits = data.Splits((np.zeros((5, 2)), np.arange(5)), (np.ones((2, 2)), np.arange(2)),
                         ["a", "b"], {"kind": "x"})
    first = splits.first(3)
    assert first.train[1].tolist() == [0, 1, 2] and first.test[0].shape == (2, 2)
    assert splits.renamed(["A", "B"]).class_names == ["A", "B"]
    assert splits.class_names == ["a", "b"]


@pytest.mark.parametrize("spec,message", [
    ({}, "describes no known data (None)"),
    ("x", "describes no known data ('x')"),
    ({"kind": "lake"}, "describes no known data ('lake')"),
    ({"kind": "folder", "root": "r", "seed": 0, "test_fraction": 0.2},
     "describes its folder data without input"),
    ({"kind": "folder", "root": "r", "seed": 0, "test_fraction": 0.2, "input": {"size": [8, 8]}},
     "describes its folder data without input size and mode"),
    ({"kind": "mat", "root": "r"}, "describes its mat data without keys, test_fraction, seed"),
])
def test_an_incomplete_description_is_a_named_error(spec, message):
    with pytest.raises(DataError, match=re.escape(message)):
        data.sources.load_described({"data": spec})


def test_an_mnist_model_records_where_its_data_was_and_looks_there_first(
        data_root, tmp_path, monkeypatch, capsys):
    """`fastnn evaluate` on a model trained with --data DIR reads DIR again (no download); when
    DIR is gone it says so and looks in the usual places; when those fail too, the first line
    of the error says what to do."""
    copy = tmp_path / "elsewhere" / "mnist"
    shutil.copytree(data_root / "mnist", copy)
    loaded = data.load_mnist(tmp_path / "elsewhere")
    assert loaded.description["root"] == str(copy.resolve())
    metadata = {"data": loaded.description}
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "nothing"))  # not there, not downloaded
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FASTNN_MNIST_MIRRORS", "http://127.0.0.1:9/")
    assert_same(data.test_split(metadata), loaded.test)
    assert capsys.readouterr().err == ""
    shutil.rmtree(copy)
    with pytest.raises(DataError) as err:
        data.test_split(metadata)
    first = str(err.value).splitlines()[0]
    assert first == ("mnist is not here and could not be downloaded: give --data DIR (the "
                     "folder with its files) or set FASTNN_DATA to the folder that holds "
                     "mnist/. Details:")
    assert f"trained on MNIST from {copy.resolve()}, which no longer holds it" in \
        capsys.readouterr().err
    monkeypatch.setenv("FASTNN_DATA", str(data_root))
    assert_same(data.test_split(metadata), loaded.test)
    assert not (tmp_path / "cache").exists()


def test_a_model_whose_folder_is_gone_says_so(tmp_path):
    write_folder(tmp_path / "pets", ["cat", "dog"], 6, (8, 8), "rgb")
    metadata = {"data": data.load_folder(tmp_path / "pets", 8, "rgb", 0.3, 0).description}
    shutil.rmtree(tmp_path / "pets")
    with pytest.raises(DataError, match=r"trained on the folder data at .*pets, which is no "
                                        r"longer there; give --data with its new place"):
        data.test_split(metadata)
