"""Whole models on real MNIST, and the command line end to end."""

import json
import subprocess
import sys

import numpy as np

import fastnn as fn
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


def test_fastnn_bench_quick_writes_json(tmp_path, capsys, monkeypatch):
    from fastnn import benchmarks

    monkeypatch.setattr(benchmarks, "torch_available", lambda: False)  # fastnn alone here
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--networks", "mnist-cnn", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| conv2 backward |" in text and "| mnist-cnn |" in text
    result = json.loads(out.read_text())
    names = [row["case"] for row in result["kernels"]]
    assert len(names) == len(benchmarks.KERNEL_CASES)
    for row in result["kernels"]:  # structure only: speed is for benchmarks, not tests
        assert row["numba"] > 0 and row["reference"] > 0 and 0 < row["numba/reference"]
    (net,) = result["zoo"]
    assert net["network"] == "mnist-cnn" and net["train fastnn"] > 0 and net["infer fastnn"] > 0
    assert net["GFLOP/step"] > 0 and "train pytorch" not in net and result["matmul_peak_gflops"] > 0
