"""The tests find MNIST where users keep it, and say how to get it when it is nowhere."""

import pytest
from conftest import GET_MNIST, find_data_root

import fastnn as fn


def fake_mnist(root):
    (root / "mnist").mkdir(parents=True)
    for spec in fn.datasets.MNIST.files:
        (root / "mnist" / f"{spec.name}.gz").write_bytes(b"")
    return root


def test_fastnn_data_comes_first(tmp_path):
    root = fake_mnist(tmp_path / "mine")
    assert find_data_root({"FASTNN_DATA": str(root)}) == root


def test_fastnn_data_without_mnist_fails_rather_than_skips(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="does not hold the four MNIST"):
        find_data_root({"FASTNN_DATA": str(tmp_path)})


def test_the_download_cache_is_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake_mnist(tmp_path / "cache" / "fastnn")
    monkeypatch.setattr("conftest.ROOT", tmp_path / "checkout" / "fastnn")  # no ../shared/data
    assert find_data_root({}) == tmp_path / "cache" / "fastnn"


def test_nowhere_skips_with_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("conftest.ROOT", tmp_path / "checkout" / "fastnn")
    with pytest.raises(pytest.skip.Exception) as info:
        find_data_root({})
    message = str(info.value)
    assert "MNIST not found in" in message and str(tmp_path / "cache" / "fastnn") in message
    assert GET_MNIST in message and "fastnn.datasets.mnist()" in message
