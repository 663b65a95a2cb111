"""The training inputs' statistics travel in the model file; predict warns once on inputs far
from them (inverted images, 0-255 pixels) and stays quiet on the test split; `fastnn predict
--invert` inverts on request. Skipped files are one `fastnn: warning:` line in the CLI."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image
from test_classics import write_folder

import fastnn as fn
from fastnn import inputs


@pytest.fixture(scope="module")
def mnist_model(mnist_data):
    (x, y), _ = mnist_data
    model = fn.Sequential([fn.Flatten(), fn.Dense(784, 32), fn.ReLU(), fn.Dense(32, 10)])
    model.fit(x[:6000], y[:6000], optimizer=fn.Adam(2e-3), epochs=1, verbose=0)
    return model


def test_statistics_are_per_channel_and_saved(mnist_model, mnist_data, tmp_path):
    (x, _), _ = mnist_data
    stats = mnist_model.input_stats
    assert stats["min"] == [0.0] and stats["max"] == [1.0]
    assert stats["mean"][0] == pytest.approx(float(x[:6000].mean()), abs=2e-3)
    assert stats["std"][0] == pytest.approx(float(x[:6000].std()), abs=2e-3)
    loaded = fn.load(mnist_model.save(tmp_path / "m.npz"))
    assert loaded.input_stats == stats
    rgb = np.zeros((4, 3, 2, 2), np.float32)
    rgb[:, 1] = 0.5
    rgb[0, 2] = 2.0
    s = inputs.statistics(rgb)
    assert s["mean"] == [0.0, 0.5, 0.5] and s["max"] == [0.0, 0.5, 2.0]
    assert s["std"] == pytest.approx([0.0, 0.0, np.sqrt(0.75)])


def test_predict_is_quiet_on_the_test_split(mnist_model, mnist_data):
    _, (xt, _) = mnist_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mnist_model.predict(xt)


@pytest.mark.parametrize("change, message", [
    (lambda x: 1 - x, r"5 of 5 input\(s\) look inverted .*fastnn predict --invert"),
    (lambda x: x * 255, r"inputs reach 255, but the model was trained on values in \[0, 1\]: "
                        r"pixels scaled 0-255 instead of 0-1\? Divide them by 255"),
])
def test_predict_warns_once_on_inverted_or_255_inputs(mnist_data, change, message):
    (x, y), (xt, _) = mnist_data
    model = fn.Sequential([fn.Flatten(), fn.Dense(784, 10)])
    model.fit(x[:500], y[:500], epochs=1, verbose=0)
    with pytest.warns(fn.InputWarning, match=message):
        model.predict(change(xt[:5]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(change(xt[:5]))  # once per model
        fn.Sequential([fn.Flatten(), fn.Dense(784, 10)]).predict(change(xt[:5]))  # no stats


def test_a_model_file_without_statistics_still_loads():
    from pathlib import Path
    old = fn.load(Path(__file__).parent / "fixtures" / "format1_model.npz")
    assert old.input_stats is None


def fastnn_cli(*args, cwd):
    """The command in a process of its own: warnings print as they do for users (pytest
    records them otherwise)."""
    return subprocess.run([sys.executable, "-m", "fastnn", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_cli_predict_warns_in_one_line_and_inverts_on_request(mnist_model, mnist_data,
                                                              tmp_path):
    _, (xt, yt) = mnist_data
    path = mnist_model.save(tmp_path / "m.npz")
    digits = [i for i in range(200) if mnist_model.predict_labels(xt[i : i + 1])[0] == yt[i]]
    i = digits[0]
    drawn = tmp_path / "black_on_white.png"
    Image.fromarray(np.round((1 - xt[i, 0]) * 255).astype(np.uint8)).save(drawn)
    done = fastnn_cli("predict", path, drawn, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr.startswith("fastnn: warning: 1 of 1 input(s) look inverted")
    assert len(done.stderr.splitlines()) == 1 and ".py" not in done.stderr
    done = fastnn_cli("predict", path, drawn, "--invert", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith(f"{yt[i]}: ")


def test_cli_says_skipped_files_in_one_fastnn_line(tmp_path):
    write_folder(tmp_path / "pets", ["cat", "dog"], 6, (8, 8), "rgb")
    (tmp_path / "pets" / "cat" / "notes.txt").write_text("not an image")
    done = fastnn_cli("train", "folder", tmp_path / "pets", "--size", "8", "--epochs", "1",
                      "--out", tmp_path / "run", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    err = done.stderr.splitlines()
    skipped = [line for line in err if "notes.txt" in line or "skipped" in line]
    assert len(skipped) == 1 and "notes.txt" in skipped[0]
    assert skipped[0].startswith("fastnn: warning: skipped 1 file(s) that are not readable")
    assert not any("UserWarning" in line or ".py:" in line for line in err)
