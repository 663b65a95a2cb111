"""The three classic dense networks, image folders, gradient checking, plots and reports."""

import gzip

import numpy as np
import pytest
from PIL import Image

import fastnn as fn
from fastnn.cli import main
from fastnn.datasets import DataError


def write_folder(root, classes, per_class, size, mode, seed=0):
    """Generated images with learnable patterns: class k has its own colour / bar position."""
    rng = np.random.default_rng(seed)
    h, w = size
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            base = rng.random((h, w, 3)) * 0.4
            if len(classes) <= 3:  # colour: the class's channel dominates
                base[..., k] += 0.5
            else:  # position: a bright bar in one of len(classes) columns
                col = (k * w) // len(classes)
                base[:, col : col + max(2, w // len(classes))] += 0.6
            img = Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8))
            (img if mode == "rgb" else img.convert("L")).save(root / name / f"{i}.png")
    return root


# --- image_folder --------------------------------------------------------------------------------


def test_image_folder_splits_every_class_and_sorts_names(tmp_path):
    root = write_folder(tmp_path / "imgs", ["zebra", "apple"], 10, (20, 16), "rgb")
    (xtr, ytr), (xte, yte), names = fn.datasets.image_folder(root, size=(12, 10),
                                                             test_fraction=0.3, seed=1)
    assert names == ["apple", "zebra"]
    assert xtr.shape == (14, 3, 12, 10) and xte.shape == (6, 3, 12, 10)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0 <= xtr.min() and xtr.max() <= 1
    assert np.bincount(yte).tolist() == [3, 3]
    gray = fn.datasets.image_folder(root, size=8, mode="gray")[0][0]
    assert gray.shape[1:] == (1, 8, 8)
    again = fn.datasets.image_folder(root, size=(12, 10), test_fraction=0.3, seed=1)
    np.testing.assert_array_equal(again[0][0], xtr)  # seeded split


def test_unreadable_files_are_skipped_with_one_warning(tmp_path):
    root = write_folder(tmp_path / "imgs", ["a", "b"], 3, (8, 8), "rgb")
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk")
    with pytest.warns(UserWarning, match=r"(?s)skipped 2 file\(s\).*notes.txt\n.*broken.png"):
        (xtr, _), (xte, _), _ = fn.datasets.image_folder(root, size=8)
    assert len(xtr) + len(xte) == 6


def test_folder_errors_name_the_folder(tmp_path):
    root = write_folder(tmp_path / "imgs", ["a"], 2, (8, 8), "rgb")
    (root / "empty").mkdir()
    with pytest.raises(DataError, match=r"no readable images in .*empty"):
        fn.datasets.image_folder(root, size=8)
    with pytest.raises(DataError, match="no class subfolders"):
        fn.datasets.image_folder(root / "a", size=8)
    with pytest.raises(DataError, match="no such folder"):
        fn.datasets.image_folder(tmp_path / "missing", size=8)


# --- the three classics ---------------------------------------------------------------------------


def test_classic_1_deep_binary_classifier_on_rgb_photos(tmp_path):
    root = write_folder(tmp_path / "photos", ["cats", "other"], 30, (128, 128), "rgb")
    (x, y), (xt, yt), names = fn.datasets.image_folder(root, (128, 128), "rgb", 0.2)
    model = fn.Sequential([
        fn.Flatten(), fn.Dense(49152, 20, init="scaled_normal"), fn.ReLU(),
        fn.Dense(20, 7, init="scaled_normal"), fn.ReLU(), fn.Dense(7, 5, init="scaled_normal"),
        fn.ReLU(), fn.Dense(5, 1, init="scaled_normal"),
    ], loss="binary_cross_entropy", class_names=names, seed=1)
    history = model.fit(x, y, optimizer=fn.SGD(0.0075), epochs=300, batch_size=len(x),
                        progress=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert model.evaluate(xt, yt)[1] >= 0.9  # accuracy at threshold 0.5; chance is 0.5


def test_classic_2_sigmoid_network_with_l2_on_15_gray_classes(tmp_path):
    classes = [f"char{k:02d}" for k in range(15)]
    root = write_folder(tmp_path / "chars", classes, 14, (64, 64), "gray")
    (x, y), (xt, yt), names = fn.datasets.image_folder(root, (64, 64), "gray", 0.3)
    uniform = fn.init.uniform(0.12)
    model = fn.Sequential([fn.Flatten(), fn.Dense(4096, 256, init=uniform), fn.Sigmoid(),
                           fn.Dense(256, 15, init=uniform)],
                          loss=fn.BinaryCrossEntropy(l2=0.1), class_names=names)
    model.fit(x, y, optimizer=fn.SGD(0.5), epochs=60, batch_size=16, progress=False)
    pred = model.predict_labels(xt)
    per_class = [np.mean(pred[yt == k] == k) for k in range(15)]
    assert np.mean(pred == yt) > 0.8 and min(per_class) >= 0.5  # chance is 1/15


def test_classic_3_softmax_with_dropout_and_l2(tmp_path):
    root = write_folder(tmp_path / "rgb", ["red", "green", "blue"], 40, (32, 32), "rgb")
    (x, y), (xt, yt), names = fn.datasets.image_folder(root, (32, 32), "rgb", 0.25)
    tn = fn.init.truncated_normal(0.05)
    model = fn.Sequential([fn.Flatten(), fn.Dense(3072, 512, init=tn), fn.ReLU(),
                           fn.Dropout(0.5), fn.Dense(512, 256, init=tn), fn.ReLU(),
                           fn.Dropout(0.5), fn.Dense(256, 3, init=tn)],
                          loss=fn.SoftmaxCrossEntropy(l2=0.01), class_names=names)
    model.fit(x, y, optimizer=fn.SGD(0.05), epochs=15, batch_size=32, progress=False)
    report = fn.metrics.classification_report(yt, model.predict_labels(xt), names)
    assert report["accuracy"] > 0.9
    assert [c["name"] for c in report["classes"]] == ["blue", "green", "red"]
    assert "macro avg" in fn.metrics.format_report(report)


def test_real_mnist_digits_from_png_folders(data_root, tmp_path):
    with gzip.open(data_root / "mnist" / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(data_root / "mnist" / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    for d in range(10):
        (tmp_path / "digits" / str(d)).mkdir(parents=True)
        for i in np.flatnonzero(labels == d)[:100]:
            Image.fromarray(images[i]).save(tmp_path / "digits" / str(d) / f"{i}.png")
    (x, y), (xt, yt), names = fn.datasets.image_folder(tmp_path / "digits", 28, "gray", 0.2)
    assert names == [str(d) for d in range(10)] and len(x) == 800
    np.testing.assert_array_equal(x[0, 0] * 255, np.round(x[0, 0] * 255))  # lossless
    model = fn.Sequential([fn.Flatten(), fn.Dense(784, 64), fn.ReLU(), fn.Dense(64, 10)])
    model.fit(x, y, optimizer=fn.Adam(2e-3), epochs=20, batch_size=32, progress=False)
    assert model.evaluate(xt, yt)[1] > 0.8  # 800 training digits, a small MLP


# --- gradient checking ---------------------------------------------------------------------------


def small_classics():
    rng = np.random.default_rng(0)
    x = rng.random((6, 3, 4, 4))
    yield fn.Sequential([fn.Flatten(), fn.Dense(48, 5, init="scaled_normal"), fn.ReLU(),
                         fn.Dense(5, 3), fn.ReLU(), fn.Dense(3, 1)],
                        loss=fn.BinaryCrossEntropy(l2=0.3)), x, np.array([0, 1, 1, 0, 1, 0])
    yield fn.Sequential([fn.Flatten(), fn.Dense(48, 6, init=fn.init.uniform(0.12)),
                         fn.Sigmoid(), fn.Dense(6, 4, init=fn.init.uniform(0.12))],
                        loss=fn.BinaryCrossEntropy(l2=0.5)), x, np.array([0, 1, 2, 3, 1, 2])
    yield fn.Sequential([fn.Flatten(), fn.Dense(48, 7, init=fn.init.truncated_normal()),
                         fn.ReLU(), fn.Dropout(0.5), fn.Dense(7, 5), fn.Tanh(), fn.Dense(5, 3)],
                        loss=fn.SoftmaxCrossEntropy(l2=0.01)), x, np.array([0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize("case", range(3))
def test_gradcheck_passes_on_each_classic(case):
    model, x, y = list(small_classics())[case]
    assert fn.gradcheck(model, x, y) < 1e-7
    assert fn.gradcheck(model, x, y, samples=10) < 1e-7


class BrokenDense(fn.Dense):
    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["w"] = self.grads["w"] * 1.01  # a 1% bug
        return dx


def test_gradcheck_catches_a_wrong_gradient():
    model, x, y = next(small_classics())
    model.layers[1] = BrokenDense(48, 5)
    assert fn.gradcheck(model, x, y) > 1e-4


# --- command line, plots, report ----------------------------------------------------------------


def test_cli_folder_training_with_plots_report_and_predict(tmp_path, capsys):
    root = write_folder(tmp_path / "pets", ["cat", "dog"], 20, (32, 32), "rgb")
    out, plots = tmp_path / "run", tmp_path / "plots"
    assert main(["train", "folder", str(root), "--model", "mlp", "--hidden", "20,7,5",
                 "--size", "32", "--mode", "rgb", "--epochs", "200", "--lr", "0.02",
                 "--out", str(out), "--plots", str(plots), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "per-class recall: cat:" in text
    model = fn.load(out / "folder_mlp.npz")
    assert model.class_names == ["cat", "dog"] and model.loss.name == "binary_cross_entropy"
    for name, size in (("curves.png", (1000, 400)), ("recall.png", (600, 400)),
                       ("confusion.png", (500, 450))):
        with Image.open(plots / name) as im:
            im.verify()
        with Image.open(plots / name) as im:
            assert im.format == "PNG" and im.size == size
    assert main(["report", str(out / "folder_mlp.npz")]) == 0
    report = capsys.readouterr().out
    assert "precision" in report and "cat" in report and "macro avg" in report
    assert main(["predict", str(out / "folder_mlp.npz"), str(root / "dog" / "0.png")]) == 0
    name, prob = capsys.readouterr().out.strip().split(": ")
    assert name == "dog" and prob.endswith("%") and 50 <= float(prob[:-1]) <= 100


def test_cli_mnist_mlp(data_root, tmp_path, capsys):
    assert main(["train", "mnist", "--model", "mlp", "--hidden", "64", "--data",
                 str(data_root / "mnist"), "--limit", "5000", "--epochs", "2",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert fn.load(tmp_path / "mnist_mlp.npz").evaluate(
        *fn.datasets.mnist(data_root / "mnist")[1])[1] > 0.85
