"""Folders of images: one subfolder per class (``image_folder``) or labels in the file names
(``image_files``); splits, sizes, class names and the files that do not fit."""

import warnings

import numpy as np
import pytest
from numerals import NUMERALS, numeral_folder
from PIL import Image

import fastnn as fn
from fastnn.data import DataError, read_image


def write_class(root, name, n, colour=(200, 10, 10)):
    (root / name).mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (6, 6), colour).save(root / name / f"{i}.png")


def test_one_class_is_an_error(tmp_path):
    write_class(tmp_path, "cats", 5)
    with pytest.raises(DataError, match=r"only one class folder \(cats\).*at least two"):
        fn.datasets.image_folder(tmp_path, 4)


@pytest.mark.parametrize("n, fraction, train, test", [(1, 0.2, 1, 0), (2, 0.2, 2, 0),
                                                      (3, 0.9, 0, 3), (1, 0.5, 1, 0)])
def test_a_split_that_empties_a_class_is_an_error(tmp_path, n, fraction, train, test):
    write_class(tmp_path, "cats", 10)
    write_class(tmp_path, "dogs", n)
    with pytest.raises(DataError, match=rf"dogs: {n} image\(s\) split with test_fraction "
                       rf"{fraction:g} leave {train} for training and {test} for testing"):
        fn.datasets.image_folder(tmp_path, 4, test_fraction=fraction)


def test_a_class_may_have_one_image_without_a_test_split(tmp_path):
    write_class(tmp_path, "cats", 3)
    write_class(tmp_path, "dogs", 1)
    (x, y), (xt, yt), names = fn.datasets.image_folder(tmp_path, 4, test_fraction=0)
    assert names == ["cats", "dogs"] and np.bincount(y).tolist() == [3, 1] and len(xt) == 0


@pytest.mark.parametrize("size", [0, -3, (0, 4), (4,), (4, 2.5), 2.0, True, "8", None])
def test_bad_sizes_name_the_argument(tmp_path, size):
    write_class(tmp_path, "cats", 2)
    write_class(tmp_path, "dogs", 2)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        fn.datasets.image_folder(tmp_path, size)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        read_image(tmp_path / "cats" / "0.png", size)


def test_numpy_integer_sizes_work(tmp_path):
    write_class(tmp_path, "cats", 2)
    assert read_image(tmp_path / "cats" / "0.png", (np.int64(3), np.int32(5))).shape == (3, 3, 5)


def test_a_folder_of_mixed_modes_trains(tmp_path):
    """16-bit, palette, alpha and CMYK files side by side in one folder."""
    (tmp_path / "dark").mkdir()
    (tmp_path / "light").mkdir()
    for i in range(4):
        Image.fromarray(np.full((5, 5), 3000 + i, np.uint16)).save(tmp_path / "dark" / f"{i}.png")
        Image.new("CMYK", (5, 5), (0, 0, 0, 240)).save(tmp_path / "dark" / f"c{i}.tif")
        Image.new("LA", (5, 5), (250, 255)).save(tmp_path / "light" / f"{i}.png")
        Image.new("RGBA", (5, 5), (0, 0, 0, 0)).save(tmp_path / "light" / f"t{i}.png")
    (x, y), (xt, yt), names = fn.datasets.image_folder(tmp_path, 4, "gray", 0.25)
    dark, light = x[y == 0], x[y == 1]
    assert dark.max() < 0.07 and light.min() > 0.97


@pytest.mark.parametrize("bad, message", [(dict(mode="grey"), "mode must be 'rgb' or 'gray'"),
                                          (dict(size=(0, 8)), "size")])
def test_bad_arguments_are_errors_not_unreadable_files(tmp_path, bad, message):
    write_class(tmp_path, "cats", 2)
    write_class(tmp_path, "dogs", 2)
    for load in (lambda: fn.datasets.image_folder(tmp_path, **({"size": 4} | bad)),
                 lambda: fn.datasets.image_files(tmp_path, lambda p: p.parent.name,
                                                 **({"size": 4} | bad))):
        with pytest.raises(ValueError, match=message) as e:
            load()
        assert not isinstance(e.value, DataError)


def test_labelled_files_split_like_folders(tmp_path):
    """image_files refuses a split that leaves a class without training images, as
    image_folder does (they share one split)."""
    write_class(tmp_path, "cats", 3)
    write_class(tmp_path, "dogs", 3)
    with pytest.raises(DataError, match=r"cats: 3 image\(s\) split with test_fraction 0.9"):
        fn.datasets.image_files(tmp_path, lambda p: p.parent.name, size=4, test_fraction=0.9)


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
