"""The commands around a saved model: evaluate (= report) with its JSON and plots, and
predict on many images, folders and .npy batches."""

import json

import numpy as np
import pytest
from PIL import Image
from test_classics import write_folder

from fastnn.cli import main


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """A trained two-class folder model: (model path, image folder)."""
    tmp = tmp_path_factory.mktemp("pets")
    root = write_folder(tmp / "pets", ["cat", "dog"], 15, (16, 16), "rgb") or tmp / "pets"
    out = tmp / "run"
    assert main(["train", "folder", str(root), "--hidden", "8", "--size", "16", "--epochs", "1",
                 "--out", str(out), "--quiet"]) == 0
    return out / "folder_mlp.npz", root


def test_evaluate_and_report_are_one_command(pets, tmp_path, capsys):
    model, _ = pets
    assert main(["evaluate", str(model)]) == 0
    evaluated = capsys.readouterr().out
    assert main(["report", str(model)]) == 0
    assert capsys.readouterr().out == evaluated
    head, table = evaluated.split("\n\n", 1)
    assert "on 6 test images of pets: test loss" in head and "test accuracy" in head
    lines = table.splitlines()
    f1_end = lines[0].index("f1") + 2
    accuracy = next(line for line in lines if line.startswith("accuracy"))
    macro = next(line for line in lines if line.startswith("macro avg"))
    # the accuracy sits under f1 and its count under support, as in every other row
    assert accuracy[:f1_end].rstrip()[-5:] == accuracy[f1_end - 5 : f1_end]
    assert len(accuracy) == len(macro) == len(lines[1])
    assert accuracy.split()[-1] == macro.split()[-1] == "6"


def test_evaluate_writes_json_and_plots_but_never_over_a_file(pets, tmp_path, capsys):
    model, _ = pets
    out, pics = tmp_path / "eval.json", tmp_path / "plots"
    assert main(["evaluate", str(model), "--json", str(out), "--plots", str(pics)]) == 0
    result = json.loads(out.read_text())
    assert result["data"] == "pets" and {"loss", "accuracy", "classes", "macro",
                                         "confusion_matrix"} <= set(result)
    assert [c["name"] for c in result["classes"]] == ["cat", "dog"]
    for name in ("recall.png", "confusion.png"):
        with Image.open(pics / name) as im:
            assert im.format == "PNG"
    out.write_text("mine")
    assert main(["evaluate", str(model), "--json", str(out)]) == 1
    assert "exists; give another name" in capsys.readouterr().err
    assert out.read_text() == "mine"


def test_predict_many_images_folders_and_top_k(pets, tmp_path, capsys):
    model, root = pets
    assert main(["predict", str(model), str(root / "dog" / "0.png")]) == 0
    name, prob = capsys.readouterr().out.strip().split(": ")  # one image: "dog: 93.1%"
    assert name in ("cat", "dog") and prob.endswith("%")
    assert main(["predict", str(model), str(root / "cat"), str(root / "dog" / "1.png"),
                 "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 16
    assert lines[0].startswith(str(root / "cat" / "0.png")) and lines[1].startswith(
        str(root / "cat" / "1.png"))  # sorted
    assert lines[-1].startswith(str(root / "dog" / "1.png"))
    for line in lines:
        pairs = line.split(None, 1)[1].split(", ")
        assert len(pairs) == 2 and {p.split(": ")[0] for p in pairs} == {"cat", "dog"}
        p1, p2 = (float(p.split(": ")[1][:-1]) for p in pairs)
        assert p1 >= p2 and abs(p1 + p2 - 100) < 0.2
    assert main(["predict", str(model), str(root / "cat" / "0.png"), "--top-k", "0"]) == 1
    assert "--top-k must be at least 1" in capsys.readouterr().err


def test_predict_goes_on_past_a_bad_file_and_reads_npy_batches(pets, tmp_path, capsys):
    model, root = pets
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    batch = tmp_path / "three.npy"
    np.save(batch, np.random.default_rng(0).random((3, 3, 16, 16)).astype(np.float32))
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 5)))
    assert main(["predict", str(model), str(bad), str(batch), str(wrong),
                 str(root / "cat" / "2.png")]) == 1
    captured = capsys.readouterr()
    assert f"{bad}: not a readable image" in captured.err
    assert f"{wrong}: array is 5x5, the model takes 16x16" in captured.err
    lines = captured.out.strip().splitlines()
    assert [line.split()[0] for line in lines] == [f"{batch}[0]", f"{batch}[1]", f"{batch}[2]",
                                                   str(root / "cat" / "2.png")]
    assert main(["predict", str(model), str(tmp_path / "missing")]) == 1
    assert "missing: no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(model), str(tmp_path / "empty")]) == 1
    assert "no images or .npy files in this folder" in capsys.readouterr().err


def test_evaluate_a_folder_model_trained_with_class_names(tmp_path, capsys):
    write_folder(tmp_path / "pets", ["cat", "dog"], 10, (16, 16), "rgb")
    out = tmp_path / "run"
    assert main(["train", "folder", str(tmp_path / "pets"), "--hidden", "8", "--size", "16",
                 "--epochs", "1", "--class-names", "Katze,Hund", "--out", str(out),
                 "--quiet"]) == 0
    assert main(["evaluate", str(out / "folder_mlp.npz")]) == 0
    assert "Katze" in capsys.readouterr().out


def test_predict_refuses_integer_arrays_instead_of_guessing_their_scale(pets, tmp_path, capsys):
    model, _ = pets
    np.save(tmp_path / "img.npy", np.full((3, 16, 16), 200, np.uint8))
    assert main(["predict", str(model), str(tmp_path / "img.npy")]) == 1
    assert "is uint8: fastnn trains on floats" in capsys.readouterr().err
