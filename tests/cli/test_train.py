"""``fastnn train`` on image folders labelled by name and on .mat files, with class names in
any script; its messages; a trained model that cannot be saved in the run folder."""

import json
import warnings

import numpy as np
import pytest
import scipy.io
from numerals import NUMERALS, numeral_folder, tutorial_mat_arrays
from test_classics import write_folder

import fastnn as fn
from fastnn import plots
from fastnn.cli import main


def test_one_epoch_is_singular(tmp_path, capsys):
    root = tmp_path / "pets"
    write_folder(root, ["cat", "dog"], 6, (8, 8), "rgb")
    assert main(["train", "folder", str(root), "--hidden", "4", "--size", "8", "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 epoch, loss" in out and "1 epochs" not in out


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


def test_a_model_that_cannot_be_saved_after_training_goes_to_the_temporary_folder(
        tmp_path, capsys, monkeypatch):
    """The run folder vanishes during training: the trained model is saved elsewhere, and
    the user is told where."""
    from fastnn.cli import train as cli_train
    from fastnn.model import Sequential

    real_save = Sequential.save

    def fail_in_the_run_folder(self, path, metadata=None):
        if str(path).startswith(str(tmp_path / "run")):
            raise PermissionError(13, "Permission denied", str(path))
        return real_save(self, path, metadata)

    monkeypatch.setattr(Sequential, "save", fail_in_the_run_folder)
    model = fn.Sequential([fn.Dense(2, 2)])
    model.predict(np.zeros((1, 2), np.float32))
    path = cli_train._save_trained(model, tmp_path / "run" / "m.npz", {"k": 1})
    err = capsys.readouterr().err
    assert "could not write" in err and str(path) in err and path.is_file()
    assert fn.load(path).metadata == {"k": 1}


@pytest.mark.parametrize("args,message", [
    (["train", "folder"], "fastnn train folder needs the folder: fastnn train folder DIR"),
    (["train", "mat"], "fastnn train mat needs the .mat file: fastnn train mat FILE"),
])
def test_a_missing_folder_or_file_is_a_one_line_error(tmp_path, capsys, monkeypatch, args,
                                                       message):
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--out", str(tmp_path / "run")]) == 1
    assert capsys.readouterr().err == f"fastnn: error: {message}\n"


def test_the_mnist_cnn_on_other_images_is_a_one_line_error(tmp_path, capsys):
    root = write_folder(tmp_path / "pets", ["cats", "dogs"], 6, (20, 20), "rgb")
    assert main(["train", "folder", str(root), "--model", "cnn", "--size", "16", "--mode", "rgb",
                 "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastnn: error: --model cnn is the MNIST CNN for 1x28x28 images; "
                          "these are (3, 16, 16): use --model mlp") and err.count("\n") == 1
