"""Whole models on real MNIST, and the command line end to end."""

import ast
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import blobs

import fastnn as fn
from fastnn import callbacks as cb
from fastnn.cli import main
from fastnn.models import mnist_cnn


def test_mnist_cnn_learns_from_a_slice(mnist_data):
    (x, y), (xt, yt) = mnist_data
    model = mnist_cnn(seed=0)
    history = model.fit(x[:6000], y[:6000], optimizer=fn.Adam(2e-3), epochs=1, batch_size=32,
                        validation_data=(xt[:2000], yt[:2000]), progress=False)
    assert history["val_accuracy"][0] > 0.93  # chance is 0.10


def test_cli_train_evaluate_predict(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "mnist", "--data", str(data_root / "mnist"), "--limit", "3000",
                 "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "epoch 1: train loss" in text and "per-digit recall: 0:" in text
    report = json.loads((out / "report.json").read_text())
    assert report["test_accuracy"] > 0.9
    assert len(report["per_class_recall"]) == 10

    model_path = out / "mnist_cnn.npz"
    assert main(["evaluate", str(model_path), "--data", str(data_root / "mnist")]) == 0
    assert f"test accuracy {report['test_accuracy']:.2%}" in capsys.readouterr().out

    _, (xt, yt) = fn.datasets.mnist(data_root / "mnist", download=False)
    model = fn.load(model_path)
    i = int(np.flatnonzero(model.predict_labels(xt[:50]) == yt[:50])[0])  # a digit it gets right
    np.save(tmp_path / "digit.npy", xt[i, 0])
    from PIL import Image  # in the dev extra

    Image.fromarray((xt[i, 0] * 255).round().astype(np.uint8)).save(tmp_path / "digit.png")
    for name in ("digit.npy", "digit.png"):
        assert main(["predict", str(model_path), str(tmp_path / name)]) == 0
        assert capsys.readouterr().out.startswith(f"{yt[i]}: ")


def test_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "broken.npz").write_bytes(b"junk")
    assert main(["evaluate", str(tmp_path / "broken.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastnn: error:") and "broken.npz" in err and "Traceback" not in err


def test_python_dash_m_fastnn():
    result = subprocess.run([sys.executable, "-m", "fastnn", "--help"], capture_output=True,
                            text=True, check=True)
    assert "train" in result.stdout and "predict" in result.stdout


# --- the loop (fastnn.training) -----------------------------------------------------------------


def small(seed=0):
    return fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], seed=seed)


def test_batches_from_an_iterable_train_like_arrays():
    x, y = blobs(64)
    as_list = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    a, b, c = small(), small(), small()
    ha = a.fit(x, y, optimizer=fn.SGD(0.1), epochs=2, batch_size=16, shuffle=False,
               progress=False)
    hb = b.fit(as_list, optimizer=fn.SGD(0.1), epochs=2, validation_data=as_list, progress=False)
    hc = c.fit(lambda: iter(as_list), optimizer=fn.SGD(0.1), epochs=2, progress=False)
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-6)
    np.testing.assert_allclose(ha["loss"], hc["loss"], rtol=1e-6)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    assert len(hb["val_accuracy"]) == 2


def test_one_shot_generators_and_bad_batches_name_the_problem():
    x, y = blobs(32)
    gen = ((x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8))
    with pytest.raises(ValueError, match="one-shot iterator, already used up"):
        small().fit(gen, optimizer=fn.SGD(0.1), epochs=2, progress=False)
    with pytest.raises(ValueError, match="batch 2 is ndarray, not an"):
        small().fit([(x, y), x], optimizer=fn.SGD(0.1), progress=False)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"batch 1 x has 1 non-finite values.*\(3, 1\)"):
        small().fit([(bad, y)], optimizer=fn.SGD(0.1), progress=False)
    with pytest.raises(ValueError, match="gave no batches"):
        small().fit([], optimizer=fn.SGD(0.1), progress=False)
    with pytest.raises(ValueError, match="validation_split needs arrays"):
        small().fit([(x, y)], optimizer=fn.SGD(0.1), validation_split=0.2, progress=False)


@pytest.mark.parametrize("args,match", [
    (dict(x=np.full((8, 4), np.inf, np.float32)), r"x has 32 non-finite .* index \(0, 0\)"),
    (dict(x=np.zeros((8, 4), np.uint8)), "x is uint8: fastnn trains on floats"),
    (dict(x=np.zeros((0, 4), np.float32), y=np.zeros(0, int)), "fit needs at least one sample"),
    (dict(validation_split=0.01), "leaves 0 for validation"),
    (dict(validation_split=1.0), r"validation_split must be a fraction in \[0, 1\)"),
    (dict(epochs=-1), "epochs must be >= 0, got -1"),
    (dict(epochs=2, initial_epoch=3), "initial_epoch 3 is past epochs 2"),
    (dict(batch_size=2.5), "batch_size must be an integer, got 2.5"),
    (dict(validation_data=(np.full((2, 4), np.nan, np.float32), np.zeros(2, int))),
     "validation x has 8 non-finite"),
])
def test_fit_input_errors(args, match):
    full = dict(x=np.zeros((8, 4), np.float32), y=np.zeros(8, int), progress=False) | args
    with pytest.raises(ValueError, match=match):
        small().fit(**full)


def test_numpy_integers_and_validation_split():
    x, y = blobs(100)
    history = small().fit(x, y, epochs=np.int64(2), batch_size=np.int32(10),
                          validation_split=0.2, progress=False)
    assert len(history["val_loss"]) == 2


def test_divergence_keeps_the_last_finite_weights():
    x, y = blobs()
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)])
    with pytest.raises(FloatingPointError, match="at epoch 1, batch .*try a smaller learning"):
        model.fit(x * 1e18, y, optimizer=fn.SGD(1e10), epochs=3, progress=False)
    for layer in model.layers:
        for a in (layer.params | layer.buffers).values():
            assert np.all(np.isfinite(a))


def test_ctrl_c_stops_after_the_batch_with_the_weights_so_far():
    x, y = blobs(96)

    class CtrlC(cb.Callback):
        def on_batch_end(self, batch, logs):
            if self.trainer.epoch == 1 and batch == 2:
                os.kill(os.getpid(), signal.SIGINT)

    model = small()
    with pytest.raises(fn.TrainingInterrupted) as info:
        model.fit(x, y, optimizer=fn.Adam(1e-2), epochs=5, batch_size=16, progress=False,
                  callbacks=[CtrlC()])
    stop = info.value
    assert (stop.epoch, stop.batch, stop.completed_epochs) == (1, 3, 1)
    assert len(stop.history["loss"]) == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_summary_is_a_table_with_flops_and_the_kernel_plan():
    model = fn.models.mnist_cnn()
    text = model.summary((1, 28, 28))
    lines = text.splitlines()
    assert lines[0].split() == ["#", "layer", "output", "shape", "params", "FLOPs", "kernel"]
    assert "(N, 8, 24, 24)" in text and "conv2d_relu_maxpool" in text and "(same call)" in text
    assert "parameters: 105,634" in text and all(len(line) <= 100 for line in lines)
    # conv1: 2*1*25*8*24*24, conv2: 2*8*25*8*20*20, pool, dense 2*800*128 + 2*128*10
    assert "FLOPs per sample, forward: 1.73 M" in text
    assert repr(text) == str(text)
    assert "?" in fn.Sequential([fn.Conv2D(1, 2, 3)]).summary()
    assert "(N, 3)" in small().summary()  # a Dense first layer gives the input shape


# --- the CLI's runs -----------------------------------------------------------------------------


def test_cli_runs_never_clobber_and_resume(data_root, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["train", "mnist", "--data", str(data_root / "mnist"), "--limit", "600",
            "--epochs", "1", "--quiet", "--batch-size", "64", "--schedule", "constant"]
    assert main(args) == 0 and main(args) == 0
    out = capsys.readouterr().out
    assert "run written to runs/mnist/1" in out and "run written to runs/mnist/2" in out
    assert (tmp_path / "runs/mnist/1/mnist_cnn.npz").is_file()
    assert (tmp_path / "runs/mnist/2/checkpoint.npz").is_file()
    rows = (tmp_path / "runs/mnist/1/history.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"

    assert main([*args[:6], "--epochs", "2", "--resume", "runs/mnist/1", "--quiet",
                 "--batch-size", "64", "--save-best"]) == 0
    out = capsys.readouterr().out
    assert "resuming after epoch 1" in out and "run written to runs/mnist/1" in out
    assert len((tmp_path / "runs/mnist/1/history.csv").read_text().splitlines()) == 3
    assert fn.load_checkpoint("runs/mnist/1/checkpoint.npz").epoch == 2
    assert (tmp_path / "runs/mnist/1/best.npz").is_file()

    assert main([*args, "--out", "runs/mnist/2"]) == 1
    assert "already holds a trained model" in capsys.readouterr().err
    assert main([*args, "--resume", "runs/mnist/1"]) == 1  # 2 epochs done, --epochs 1
    assert "--epochs is the total" in capsys.readouterr().err
    assert main([*args[:6], "--resume", "runs/mnist/1", "--optimizer", "sgd", "--epochs",
                 "3"]) == 1
    assert capsys.readouterr().err == (
        "fastnn: error: --resume runs/mnist/1: --optimizer sgd differs from the run's adam; a "
        "resumed run keeps its options (leave --optimizer out, or start a new run)\n")
    (tmp_path / "afile").write_text("x")
    assert main([*args, "--out", "afile"]) == 1
    assert "afile is a file, not a folder" in capsys.readouterr().err


def test_cli_patience_is_checked_when_parsed(capsys):
    with pytest.raises(SystemExit):
        main(["train", "mnist", "--patience", "-1"])
    assert "must be an integer >= 0" in capsys.readouterr().err


def test_cli_ctrl_c_saves_the_model_marked_interrupted(data_root, tmp_path):
    script = (
        "import os, signal, sys\n"
        "from fastnn import callbacks, cli\n"
        "from fastnn.cli import train as cli_train\n"
        "class K(callbacks.Callback):\n"
        "    def on_batch_end(self, batch, logs):\n"
        "        if batch == 3: os.kill(os.getpid(), signal.SIGINT)\n"
        "cli_train.HistoryLogger = lambda path, _H=cli_train.HistoryLogger: [_H(path), K()][1] "
        "if False else _H(path)\n"
        "orig = cli_train.LambdaCallback\n"
        "cli_train.LambdaCallback = lambda **kw: K()\n"
        "sys.exit(cli.main(sys.argv[1:]))\n")
    result = subprocess.run(
        [sys.executable, "-c", script, "train", "mnist", "--data", str(data_root / "mnist"),
         "--limit", "2000", "--epochs", "2", "--out", str(tmp_path / "run"), "--quiet"],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 130, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("fastnn: interrupted in epoch 1 (after batch 4); saved the model")
    assert "Traceback" not in result.stderr
    model = fn.load(tmp_path / "run" / "mnist_cnn.npz")
    assert model.metadata["interrupted"] is True
    # no epoch finished: no checkpoint of half an epoch (tests/robustness/test_resume.py)
    assert not (tmp_path / "run" / "checkpoint.npz").exists()
    assert "no epoch had finished, so there is no checkpoint" in last


# --- the training side's imports ----------------------------------------------------------------

TRAINING_SIDE = ["inputs", "optim", "callback_base", "schedules", "model_file", "callbacks",
                 "training", "model", "serialization"]
"""Bottom to top: each of these fastnn modules imports only those before it."""


def fastnn_imports(name: str) -> set[str]:
    """The modules of fastnn/ that fastnn/{name}.py imports, at the top or inside functions."""
    package = Path(fn.__file__).parent
    found = set()
    for node in ast.walk(ast.parse((package / f"{name}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
            found.update(n for n in names if (package / f"{n}.py").is_file())
    return found


def test_the_training_side_imports_only_what_lies_below():
    for i, name in enumerate(TRAINING_SIDE):
        above = fastnn_imports(name) & set(TRAINING_SIDE[i:])
        assert not above, f"fastnn/{name}.py imports {above}, which lie above it"
        reached, todo = set(), list(fastnn_imports(name))  # no way back through other modules
        while todo:
            module = todo.pop()
            if module not in reached:
                reached.add(module)
                todo.extend(fastnn_imports(module))
        assert name not in reached, f"fastnn/{name}.py is part of an import cycle"
