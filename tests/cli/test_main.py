"""The ``fastnn`` command line as a whole: --version; every option is checked when parsed,
options that do not apply are errors, and every error is one line, ``fastnn: error: ...``, with
a non-zero exit and no traceback."""

import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import fastnn as fn
from fastnn.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"fastnn {fn.__version__} (numpy {np.__version__}, numba ")


@pytest.mark.parametrize("argv,message", [
    ("train mnist --batch-size abc", "argument --batch-size: must be an integer >= 1, got 'abc'"),
    ("train mnist --batch-size 0", "argument --batch-size: must be an integer >= 1, got 0"),
    ("train mnist --lr 0", r"argument --lr: must be a number in \(0, inf\), got 0"),
    ("train mnist --lr nan", "argument --lr: must be a number"),
    ("train mnist --limit 0", "argument --limit: must be an integer >= 1, got 0"),
    ("train mnist --l2 -1", r"argument --l2: must be a number in \[0, inf\), got -1"),
    ("train mnist --optimizer sgd --momentum 1", r"argument --momentum: .* \[0, 1\), got 1"),
    ("train folder d --test-fraction 0", r"argument --test-fraction: .* \(0, 1\), got 0"),
    ("train folder d --test-fraction 1.5", r"argument --test-fraction: .* \(0, 1\), got 1.5"),
    ("train folder d --size 0", "argument --size: must be an integer >= 1, got 0"),
    ("train folder d --hidden 20,x", "argument --hidden: must be widths like 20,7,5"),
    ("train folder d --dropout 1", r"argument --dropout: must be a number in \[0, 1\)"),
    ("train mnist --epochs 0", "argument --epochs: must be an integer >= 1, got 0"),
    ("train mnist --seed -2", "argument --seed: must be an integer >= 0"),
    ("train mnist --model vgg --hidden 20", "--hidden applies to model mlp, not to model vgg"),
    ("train mnist --hidden 20", "--hidden applies to model mlp, not to model cnn"),
    ("train mnist --size 32", "--size applies to dataset folder, not to dataset mnist"),
    ("train mnist --momentum 0.9", "--momentum applies to optimizer sgd, not to optimizer adam"),
    ("train folder d --keys X,y", "--keys applies to dataset mat, not to dataset folder"),
    ("train mnist somewhere", "fastnn train mnist takes no folder"),
    ("train imagenet", "argument dataset: invalid choice: 'imagenet'"),
])
def test_bad_options_fail_in_one_line_before_loading_data(tmp_path, capsys, argv, message):
    try:  # parse errors exit with 2, errors found while running return 1
        code = main(argv.split() + ["--out", str(tmp_path / "run")])
    except SystemExit as stop:
        code = stop.code
    assert code in (1, 2)
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastnn: error: ") and len(err.splitlines()) == 1, err
    assert re.search(message, err), err


@pytest.mark.parametrize("value", ["0", "-1", "abc", "2.5"])
def test_bad_sizes_name_the_option(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "folder", str(tmp_path), "--size", value])
    assert exit_.value.code == 2
    assert "argument --size: must be an integer >= 1" in capsys.readouterr().err


def test_errors_raised_while_running_are_one_line_too(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "missing.npz")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"fastnn: error: no model file at {tmp_path / 'missing.npz'}"


def test_compat_measure_looks_in_fastnn_data(tmp_path):
    """Without --data it reads the test set from $FASTNN_DATA/mnist (here: an empty folder,
    so the error names that place), not from the working directory."""
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    with open(tmp_path / "params.pkl", "wb") as f:
        pickle.dump([[], 0], f)
    env = {"FASTNN_DATA": str(tmp_path / "data"), "PATH": "/usr/bin:/bin",
           "XDG_CACHE_HOME": str(tmp_path / "cache")}  # no MNIST in the cache either
    out = subprocess.run([sys.executable, "-m", "fastnn", "compat-measure",
                          str(tmp_path / "params.pkl")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert out.stderr.strip().startswith("fastnn: error:")
    assert str(tmp_path / "data" / "mnist") in out.stderr and "Traceback" not in out.stderr
    assert "give --data DIR" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_ctrl_c_outside_training_is_one_line(monkeypatch, capsys):
    from fastnn import cli
    from fastnn.cli import commands

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "load", interrupted)  # Ctrl-C while evaluate loads the model
    assert cli.main(["evaluate", "m.npz"]) == 130
    assert capsys.readouterr().err == "fastnn: interrupted\n"
